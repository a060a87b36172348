"""Query validation: each bad input is a 400 naming the field; the CLI's parse_where."""

import pytest

from aggregator.query import AggregateQuery, Filter, parse_query, parse_where
from data_sources.errors import BadRequestError


def test_empty_body_means_all_fields_grouped_by_company(settings):
    query = parse_query({}, settings)
    assert query.fields == tuple(settings.canonical_fields)
    assert (query.companies, query.filters, query.group_by) == ((), (), "company")
    assert (query.pushdown, query.check_discrepancies, query.explain) == (
        True,
        True,
        False,
    )
    assert query.formats == ("csv",)


def test_a_full_body_is_typed_and_deduplicated(settings):
    body = {
        "companies": ["ACME0001", "ACME0001", "KRUS0029"],
        "fields": ["revenue", "currency"],
        "filters": [
            {"field": "revenue", "op": "between", "value": [1, 2.5]},
            {"field": "currency", "op": "in", "value": ["USD", "EUR"]},
        ],
        "period": {"start": "2023-01-01", "end": "2023-12-31"},
        "group_by": "company_period",
        "formats": ["parquet", "json"],
        "auto_correct": True,
        "sql": {"pnl": "SELECT * FROM income_statement"},
    }
    query = parse_query(body, settings)
    assert query.companies == ("ACME0001", "KRUS0029")
    assert query.filters == (
        Filter("revenue", "between", (1.0, 2.5)),
        Filter("currency", "in", ("USD", "EUR")),
    )
    assert (query.period_start, query.period_end) == ("2023-01-01", "2023-12-31")
    assert query.to_dict()["filters"][0] == {
        "field": "revenue",
        "op": "between",
        "value": [1.0, 2.5],
    }


def test_raw_sql_defaults_the_fields_to_its_sources(settings):
    query = parse_query(
        {"sql": {"balance_sheet": "SELECT * FROM balance_sheet"}}, settings
    )
    assert set(query.fields) == {
        f
        for f, spec in settings.canonical_fields.items()
        if "balance_sheet" in spec.sources
    }


BAD_BODIES = [
    ([], "body", "body: must be a JSON object"),
    ({"colour": 1}, "colour", "colour: unknown key"),
    ({"companies": "ACME0001"}, "companies", "companies: must be a list of strings"),
    ({"companies": [""]}, "companies[0]", "companies[0]: must be a non-empty string"),
    (
        {"companies": ["A" * 101]},
        "companies[0]",
        "companies[0]: at most 100 characters",
    ),
    ({"companies": ["X"] * 501}, "companies", "companies: at most 500 items"),
    (
        {"fields": ["revenue", "ebitda"]},
        "fields[1]",
        "fields[1]: unknown field 'ebitda'",
    ),
    (
        {"filters": {}},
        "filters",
        "filters: must be a list of {field, op, value} objects",
    ),
    ({"filters": [{}] * 21}, "filters", "filters: at most 20 filters"),
    (
        {"filters": [{"field": "ebitda", "op": "=", "value": 1}]},
        "filters[0].field",
        "filters[0].field: unknown field 'ebitda'",
    ),
    (
        {"filters": [{"field": "revenue", "op": "~", "value": 1}]},
        "filters[0].op",
        "filters[0].op: must be one of =, !=, <, <=, >, >=, between, in",
    ),
    (
        {"filters": [{"field": "currency", "op": ">", "value": "USD"}]},
        "filters[0].op",
        "filters[0].op: must be one of =, !=, in",
    ),
    (
        {"filters": [{"field": "revenue", "op": ">", "value": "1e6"}]},
        "filters[0].value",
        "filters[0].value: must be a finite number",
    ),
    (
        {"filters": [{"field": "revenue", "op": ">", "value": True}]},
        "filters[0].value",
        "filters[0].value: must be a finite number",
    ),
    (
        {"filters": [{"field": "revenue", "op": "between", "value": [3]}]},
        "filters[0].value",
        "filters[0].value: between needs [low, high]",
    ),
    (
        {"filters": [{"field": "revenue", "op": "between", "value": [3, 1]}]},
        "filters[0].value",
        "filters[0].value: low must not exceed high",
    ),
    (
        {"filters": [{"field": "revenue", "op": "in", "value": []}]},
        "filters[0].value",
        "filters[0].value: in needs a list of 1 to 200 values",
    ),
    (
        {"filters": [{"field": "revenue", "op": "in", "value": [1, "x"]}]},
        "filters[0].value[1]",
        "filters[0].value[1]: must be a finite number",
    ),
    (
        {"filters": [{"field": "revenue", "op": "="}]},
        "filters[0].value",
        "filters[0].value: is required",
    ),
    (
        {"period": {"start": "2023-13-01"}},
        "period.start",
        "period.start: is not a valid calendar date",
    ),
    (
        {"period": {"end": "31/12/2023"}},
        "period.end",
        "period.end: must be a date as YYYY-MM-DD",
    ),
    (
        {"period": {"start": "2024-01-01", "end": "2023-01-01"}},
        "period",
        "period: start must not be after end",
    ),
    (
        {"period": {"from": "2024-01-01"}},
        "period",
        "period: must be an object with optional start and end",
    ),
    (
        {"group_by": "year"},
        "group_by",
        "group_by: must be one of company, company_period",
    ),
    ({"pushdown": "yes"}, "pushdown", "pushdown: must be true or false"),
    (
        {"formats": ["xlsx"]},
        "formats[0]",
        "formats[0]: must be one of csv, parquet, json",
    ),
    ({"sql": {"ledger": "SELECT 1"}}, "sql.ledger", "sql.ledger: unknown source"),
    (
        {"sql": {"pnl": " "}},
        "sql.pnl",
        "sql.pnl: must be SQL text of at most 10000 characters",
    ),
]


@pytest.mark.parametrize(
    "body, field, message", BAD_BODIES, ids=[b[1] for b in BAD_BODIES]
)
def test_bad_bodies_are_400_naming_the_field(settings, body, field, message):
    with pytest.raises(BadRequestError) as caught:
        parse_query(body, settings)
    assert (caught.value.status, caught.value.code) == (400, "bad_request")
    assert caught.value.message == message
    assert caught.value.details == {"field": field}


def test_thresholds_convert_to_source_units():
    assert Filter("cash", ">", 1e6).in_units(1000) == Filter("cash", ">", 1000.0)
    assert Filter("cash", "between", (2e3, 4e3)).in_units(1000).value == (2.0, 4.0)
    assert Filter("currency", "=", "USD").in_units(1000).value == "USD"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("revenue>1e6", {"field": "revenue", "op": ">", "value": 1e6}),
        ("net_income <= -5", {"field": "net_income", "op": "<=", "value": -5.0}),
        ("currency == 'USD'", {"field": "currency", "op": "=", "value": "USD"}),
        (
            "cash between 1 and 2e3",
            {"field": "cash", "op": "between", "value": [1.0, 2e3]},
        ),
        (
            "currency in (USD, EUR)",
            {"field": "currency", "op": "in", "value": ["USD", "EUR"]},
        ),
    ],
)
def test_parse_where_reads_cli_conditions(settings, text, expected):
    assert parse_where(text) == expected
    assert parse_query({"filters": [expected]}, settings).filters


def test_parse_where_refuses_what_it_cannot_read():
    with pytest.raises(BadRequestError, match="where: expected FIELD OP VALUE"):
        parse_where("revenue is big")


def test_query_is_frozen():
    with pytest.raises(AttributeError):
        AggregateQuery().group_by = "x"
