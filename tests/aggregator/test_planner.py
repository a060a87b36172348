"""Planner: per-source SQL for each filter kind, period format, key filter, explain."""

import sqlite3
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from aggregator.key_chunks import MAX_REQUEST_BYTES, request_size, split_key_ranges
from aggregator.companies import CompanyRegistry
from aggregator.planner import (
    discovery_bounds,
    FILTER_SEMANTICS,
    plan_key_queries,
    plan_queries,
    source_sizes_needed,
)
from aggregator.query import parse_query
from data_sources.statements import STATEMENTS


def plan(settings, body, **keys):
    return plan_queries(parse_query(body, settings), settings, **keys)


def where(sql: str) -> str:
    """Return the WHERE clause of ``sql`` (up to GROUP/ORDER BY)."""
    clause = sql.split(" WHERE ", 1)[1]
    for stop in (" GROUP BY ", " ORDER BY "):
        clause = clause.split(stop, 1)[0]
    return clause


OPERATORS = [
    ("=", 5, '"revenue" = CAST(:p0 AS REAL)', {"p0": 5.0}),
    ("!=", 5, '"revenue" <> CAST(:p0 AS REAL)', {"p0": 5.0}),
    ("<", 5, '"revenue" < CAST(:p0 AS REAL)', {"p0": 5.0}),
    ("<=", 5, '"revenue" <= CAST(:p0 AS REAL)', {"p0": 5.0}),
    (">", 5, '"revenue" > CAST(:p0 AS REAL)', {"p0": 5.0}),
    (">=", 5, '"revenue" >= CAST(:p0 AS REAL)', {"p0": 5.0}),
    (
        "between",
        [1, 9],
        '"revenue" BETWEEN CAST(:p0 AS REAL) AND CAST(:p1 AS REAL)',
        {"p0": 1.0, "p1": 9.0},
    ),
    (
        "in",
        [1, 2, 3],
        '"revenue" IN (CAST(:p0 AS REAL), CAST(:p1 AS REAL), CAST(:p2 AS REAL))',
        {"p0": 1.0, "p1": 2.0, "p2": 3.0},
    ),
]


@pytest.mark.parametrize(
    "op, value, clause, params", OPERATORS, ids=[o[0] for o in OPERATORS]
)
def test_each_operator_is_pushed_with_bound_parameters(
    settings, op, value, clause, params
):
    body = {
        "fields": ["revenue"],
        "filters": [{"field": "revenue", "op": op, "value": value}],
    }
    result = plan(settings, body)
    query = result.queries["pnl"]
    assert (query.kind, where(query.sql), query.params) == ("partial", clause, params)
    assert result.sources["pnl"].pushed == result.query.filters


def test_partial_aggregation_sql_for_group_by_company(settings):
    result = plan(settings, {"fields": ["revenue", "net_income", "currency"]})
    assert result.queries["pnl"].sql == (
        'SELECT "company_id", COUNT(*) AS "_rows", '
        'SUM("revenue") AS "revenue__sum", COUNT("revenue") AS "revenue__count", '
        'SUM("net_income") AS "net_income__sum", '
        'COUNT("net_income") AS "net_income__count", '
        'MIN("net_income") AS "net_income__min", '
        'MAX("net_income") AS "net_income__max", '
        "GROUP_CONCAT(COALESCE(\"period_end\", ''), '\x1f') AS \"_periods\", "
        'GROUP_CONCAT(QUOTE("net_income"), \'\x1f\') AS "net_income__packed", '
        'MIN("currency") AS "currency__text_value", '
        'COUNT("currency") AS "currency__text_count", '
        'CASE WHEN MIN("currency") IS MAX("currency") THEN NULL '
        "ELSE GROUP_CONCAT(COALESCE(\"currency\", ''), '\x1f') END "
        'AS "currency__texts" '
        'FROM "income_statement" GROUP BY "company_id" ORDER BY "company_id"'
    )
    # net_income is also in cash_flow: its per-period values come packed, for
    # the discrepancy check, in the same query (no second scan of the table).
    assert result.queries["pnl"].observed == ("net_income",)
    assert [q.kind for q in result.queries.values()] == ["partial"] * 2
    # SQL cannot sum text amounts: they come packed, parsed and summed per key.
    cash_flow = result.queries["cash_flow"]
    assert result.sources["cash_flow"].mode == "partial"
    assert 'AS "net_income__packed"' in cash_flow.sql
    assert "SUM(" not in cash_flow.sql and cash_flow.extremes == ("net_income",)


def test_thresholds_are_scaled_on_a_thousands_source(settings):
    body = {"fields": ["cash"], "filters": [{"field": "cash", "op": ">", "value": 1e6}]}
    result = plan(settings, body)
    query = result.queries["balance_sheet"]
    assert where(query.sql) == '"cash_and_equivalents" > CAST(:p0 AS REAL)'
    assert query.params == {"p0": 1000.0}


def test_a_text_amount_filter_runs_at_the_aggregator(settings):
    flt = {"field": "operating_cash_flow", "op": ">", "value": 0}
    result = plan(settings, {"fields": ["operating_cash_flow"], "filters": [flt]})
    source = result.sources["cash_flow"]
    assert (source.mode, source.pushed) == ("rows", ())
    assert source.residual == result.query.filters
    assert " WHERE " not in result.queries["cash_flow"].sql
    assert '"cash_from_operations"' in result.queries["cash_flow"].sql
    placement = result.to_dict()["filters"][0]
    assert placement["at_aggregator"] == ["cash_flow"] and placement["in_sql"] == []


PERIODS = [
    (
        "pnl",
        "revenue",
        '"period_end" BETWEEN :period_start AND :period_end',
        {"period_start": "2023-02-15", "period_end": "2024-05-31"},
    ),
    (
        "balance_sheet",
        "total_assets",
        "(SUBSTRING(\"as_of\", 7, 4) || '-' || SUBSTRING(\"as_of\", 1, 2) || '-' || "
        'SUBSTRING("as_of", 4, 2)) BETWEEN :period_start AND :period_end',
        {"period_start": "2023-02-15", "period_end": "2024-05-31"},
    ),
    (
        "cash_flow",
        "beginning_cash",
        '"fiscal_quarter" BETWEEN :period_start AND :period_end',
        {"period_start": "2023Q1", "period_end": "2024Q1"},
    ),
]


@pytest.mark.parametrize(
    "source, field, clause, params", PERIODS, ids=[p[0] for p in PERIODS]
)
def test_period_range_in_each_source_format(settings, source, field, clause, params):
    body = {"fields": [field], "period": {"start": "2023-02-15", "end": "2024-05-31"}}
    query = plan(settings, body).queries[source]
    assert (where(query.sql), query.params) == (clause, params)


def test_open_ended_period_ranges(settings):
    body = {"fields": ["beginning_cash"], "period": {"end": "2024-06-30"}}
    query = plan(settings, body).queries["cash_flow"]
    assert (where(query.sql), query.params) == (
        '"fiscal_quarter" <= :period_end',
        {"period_end": "2024Q2"},
    )


def test_key_filter_and_rejected_keys(settings):
    body = {"fields": ["revenue", "cash"], "companies": ["ACME0001"]}
    keys = {"pnl": ["ACME0001", "acme-0001"], "balance_sheet": ["ACME0001"]}
    rejected = {"pnl": ["ZZQX9999"], "balance_sheet": ["NORT0077"]}
    result = plan(settings, body, key_filter=keys, rejected_keys=rejected)
    pnl = result.queries["pnl"]
    assert where(pnl.sql) == '"company_id" IN (:k0, :k1)'
    assert pnl.params == {"k0": "ACME0001", "k1": "acme-0001"}
    assert result.queries["pnl:rejected"].params == {"r0": "ZZQX9999"}
    assert where(result.queries["pnl:rejected"].sql) == '"company_id" IN (:r0)'
    assert result.sources["pnl"].companies_in_sql


def test_a_long_rejected_key_list_is_split_into_bounded_queries(settings):
    raws = [f"Unknown Co #{i} & Sons/{'x' * (i % 7)}" for i in range(5518)]
    body = {
        "fields": ["revenue"],
        "filters": [{"field": "revenue", "op": ">", "value": 10}],
        "period": {"start": "2023-01-01", "end": "2024-12-31"},
    }
    result = plan(settings, body, rejected_keys={"pnl": raws})
    names = [n for n in result.queries if n.startswith("pnl:rejected")]
    assert len(names) > 10
    assert names == ["pnl:rejected"] + [
        f"pnl:rejected:{i}" for i in range(1, len(names))
    ]
    listed = []
    for name in names:
        query = result.queries[name]
        assert query.kind == "rejected" and query.source == "pnl"
        assert request_size(query) <= MAX_REQUEST_BYTES
        line = urlencode({"q": query.sql, "limit": 1000, **query.params})
        assert len(line) < 3500 and len(query.sql) < 20000
        assert {"p0": 10.0, "period_start": "2023-01-01"}.items() <= (
            query.params.items()
        )
        assert ":p0" in query.sql and ":period_start" in query.sql
        keys = [v for k, v in query.params.items() if k.startswith("r")]
        assert where(query.sql).count(":r") == len(keys)
        listed += keys
    assert listed == raws
    assert set(names) <= set(result.sources["pnl"].queries)
    shown = [q["name"] for q in result.to_dict()["sources"]["pnl"]["queries"]]
    assert [n for n in shown if n.startswith("pnl:rejected")] == names
    assert f"stack the {len(names)} rejected queries' rows (pnl)" in (
        result.at_aggregator
    )


def test_a_short_rejected_key_list_stays_one_query(settings):
    result = plan(settings, {}, rejected_keys={"pnl": ["ZZQX9999", "NOPE0001"]})
    assert [n for n in result.queries if "rejected" in n] == ["pnl:rejected"]


def test_rows_mode_fetches_rejected_keys_with_the_requested_ones(settings):
    body = {"fields": ["cash"], "companies": ["ACME0001"], "group_by": "company_period"}
    keys, rejected = {"balance_sheet": ["ACME0001"]}, {"balance_sheet": ["NORT0077"]}
    query = plan(settings, body, key_filter=keys, rejected_keys=rejected).queries[
        "balance_sheet"
    ]
    assert query.params == {"k0": "ACME0001", "k1": "NORT0077"}


def test_no_matching_key_selects_nothing(settings):
    body = {"fields": ["revenue"], "companies": ["ACME0001"]}
    query = plan(settings, body, key_filter={"pnl": []}).queries["pnl"]
    assert where(query.sql) == "FALSE"


def test_long_key_lists_fall_back_to_the_aggregator(settings):
    keys = {"pnl": [f"Company With A Long Name {i}" for i in range(60)]}
    result = plan(
        settings, {"fields": ["revenue"], "companies": ["ACME0001"]}, key_filter=keys
    )
    assert " WHERE " not in result.queries["pnl"].sql
    assert not result.sources["pnl"].companies_in_sql
    assert "keep only the requested companies" in result.at_aggregator


def test_a_filter_held_elsewhere_applies_via_surviving_keys(settings):
    body = {
        "fields": ["cash"],
        "filters": [{"field": "revenue", "op": ">", "value": 1}],
    }
    result = plan(settings, body)
    assert list(result.sources) == ["pnl", "balance_sheet", "cash_flow"]
    pnl = result.sources["pnl"]
    assert (pnl.mode, pnl.fields, list(pnl.columns)) == ("rows", (), [])
    assert result.queries["pnl"].sql.startswith(
        'SELECT "company_id", "period_end" FROM'
    )
    for name in ("balance_sheet", "cash_flow"):
        assert result.sources[name].via_keys == result.query.filters
        assert result.sources[name].mode == "rows"


def test_a_key_supplier_judges_each_of_its_filters_alone(settings):
    filters = [
        {"field": "revenue", "op": ">", "value": 1},
        {"field": "currency", "op": "=", "value": "USD"},
    ]
    result = plan(settings, {"fields": ["cash"], "filters": filters})
    pnl = result.sources["pnl"]
    assert pnl.pushed == () and pnl.residual == result.query.filters


def test_values_never_reach_the_sql_text(settings):
    hostile = "USD' OR 1=1; DROP TABLE income_statement; --"
    body = {
        "fields": ["currency"],
        "filters": [{"field": "currency", "op": "=", "value": hostile}],
    }
    query = plan(settings, body).queries["pnl"]
    assert hostile not in query.sql and "DROP" not in query.sql
    assert query.params == {"p0": hostile}


def test_row_fetch_mode_pushes_nothing(settings):
    body = {
        "fields": ["revenue"],
        "filters": [{"field": "revenue", "op": ">", "value": 1}],
        "period": {"start": "2024-01-01"},
        "pushdown": False,
    }
    result = plan(settings, body)
    assert " WHERE " not in result.queries["pnl"].sql
    assert result.sources["pnl"].residual == result.query.filters
    assert result.to_dict()["sources"]["pnl"]["period_range"] == "at_aggregator"


def test_raw_sql_plan_runs_the_given_sql(settings):
    sql = "SELECT * FROM income_statement WHERE revenue > 0"
    result = plan(settings, {"sql": {"pnl": sql}})
    assert result.queries["pnl"].sql == sql and result.queries["pnl"].kind == "raw"
    assert list(result.sources) == ["pnl"]


def test_rounds_hold_at_most_one_query_per_source(settings):
    result = plan(settings, {}, rejected_keys={"pnl": ["X"], "balance_sheet": ["Y"]})
    rounds = result.rounds()
    assert [sorted(r) for r in rounds] == [
        ["balance_sheet", "cash_flow", "pnl"],
        ["balance_sheet", "pnl"],
    ]
    assert sum(len(r) for r in rounds) == len(result.queries)


def test_key_discovery_only_where_needed(settings):
    def keys(body):
        return sorted(plan_key_queries(parse_query(body, settings), settings))

    assert keys({}) == ["balance_sheet", "cash_flow", "pnl"]
    assert keys({"group_by": "company_period"}) == ["balance_sheet", "cash_flow", "pnl"]
    assert keys({"companies": ["ACME0001"]}) == ["balance_sheet", "cash_flow", "pnl"]
    assert keys({"pushdown": False}) == []
    (discovery,) = plan_key_queries(parse_query({}, settings), settings)["pnl"]
    assert (discovery.kind, discovery.params) == ("keys", {})
    assert discovery.sql == (
        'SELECT "company_id", COUNT(*) AS "_rows" FROM "income_statement" '
        'GROUP BY "company_id" ORDER BY "company_id"'
    )


def test_key_discovery_is_cut_into_ranges_at_registry_ids(settings, tmp_path):
    """Every key falls in exactly one range; each range's counts are one page."""
    ids = [f"{prefix}{n:04d}" for prefix in ("ACME", "BETA", "CORP") for n in range(9)]
    registry = CompanyRegistry.from_ids(ids)
    small = replace(settings, page_size=10)
    bounds = discovery_bounds(small, registry)
    assert bounds == tuple(sorted(ids)[7::7])  # 70% of a page: room for messy keys
    query = parse_query({"fields": ["revenue"]}, small)
    ranges = plan_key_queries(query, small, bounds=bounds)["pnl"]
    assert len(ranges) == len(bounds) + 1
    db = _keyed_db({key: 1 for key in [*ids, "acme 0001", " ACME0002"]})
    _insert(db, {None: 3})
    answers = [_answer(db, q) for q in ranges]
    everything = _answer(db, plan_key_queries(query, small)["pnl"][0])
    assert [pair for part in answers for pair in part] == everything  # in key order
    assert max(len(part) for part in answers) <= small.page_size
    # Ids whose order a case-blind key column would not keep: one range.
    mixed = CompanyRegistry.from_ids([*ids, "acme9999", "Beta0001"])
    assert discovery_bounds(replace(settings, page_size=3), mixed) == ()


SPLITS = {
    "row_bound": ([("a", 5), ("b", 5), ("c", 5)], 10, 100, ["c"]),
    "exactly_full": ([("a", 5), ("b", 5), ("c", 10)], 10, 100, ["c"]),
    "oversized_key_alone": ([("a", 1), ("b", 50), ("c", 1)], 10, 100, ["b", "c"]),
    "oversized_first_key": ([("a", 50), ("b", 1), ("c", 1)], 10, 100, ["b"]),
    "key_bound": ([(k, 1) for k in "abcde"], 100, 2, ["c", "e"]),
    "nulls_count_in_the_first": ([(None, 9), ("a", 2), ("b", 1)], 10, 100, ["a"]),
    "nulls_count_as_a_key": ([(None, 1), ("a", 1), ("b", 1)], 10, 2, ["b"]),
    "one_range": ([("a", 3), ("b", 3)], 10, 100, []),
    "nothing": ([], 10, 100, []),
}


@pytest.mark.parametrize("case", sorted(SPLITS))
def test_split_key_ranges_bounds_rows_and_keys(case):
    counts, max_rows, max_keys, starts = SPLITS[case]
    assert split_key_ranges(counts, max_rows, max_keys) == starts


# Raw keys as a vendor writes them; None stands for a row without a key.
RANGE_ROWS = {
    None: 3,
    "ACME0001": 8,
    "ACME-0001": 2,
    "Acme Robotics": 30,
    "BETA0002": 5,
    "acme0001": 4,
    "beta 0002": 1,
    "ZETA0026": 1,
    "GAMM0003": 6,
    "GAMM0004": 6,
}


def _keyed_db(rows: dict) -> sqlite3.Connection:
    """Return the native P&L table (NULL keys allowed) with ``rows[key]`` rows."""
    schema = STATEMENTS["pnl"].schema_path.read_text().replace(" NOT NULL", "")
    db = sqlite3.connect(":memory:")
    db.executescript(schema)
    _insert(db, rows)
    return db


def _insert(db: sqlite3.Connection, rows: dict) -> None:
    insert = "INSERT INTO income_statement (company_id, period_end, revenue) "
    values = [
        (k, f"{2000 + i}-03-31", float(i)) for k, n in rows.items() for i in range(n)
    ]
    db.executemany(insert + "VALUES (?, ?, ?)", values)


def _answer(db: sqlite3.Connection, query) -> list:
    return db.execute(query.sql, query.params).fetchall()


def test_a_partial_aggregate_is_split_into_bounded_key_ranges(settings):
    db = _keyed_db(RANGE_ROWS)
    body = {
        "fields": ["revenue"],
        "filters": [{"field": "revenue", "op": ">=", "value": 0}],
    }
    (discovery,) = plan_key_queries(parse_query(body, settings), settings)["pnl"]
    counts = _answer(db, discovery)
    small = replace(settings, partial_rows_per_query=12, page_size=3)
    result = plan(small, body, key_counts={"pnl": counts})
    names = [n for n, q in result.queries.items() if q.kind == "partial"]
    assert names == ["pnl"] + [f"pnl:partial:{i}" for i in range(1, len(names))]
    assert names == list(result.sources["pnl"].queries)
    _insert(db, {"0000 NEW": 2, "MIDDLE NEW": 1, "zzzz new": 4})  # after discovery
    seen = []
    for name in names:
        query = result.queries[name]
        assert query.source == "pnl" and query.params["p0"] == 0.0
        assert not any(key and key in query.sql for key in RANGE_ROWS)
        assert where(query.sql).count(":lo0") == ("lo0" in query.params)
        answer = _answer(db, query)
        planned = [row for row in answer if row[0] in RANGE_ROWS]
        assert len(planned) <= 3
        assert len(planned) == 1 or sum(row[1] for row in planned) <= 12
        seen += answer
    assert [row[0] for row in seen] == [row[0] for row in _answer(db, discovery)]
    whole = plan(settings, body, key_counts={"pnl": counts}).queries["pnl"]
    assert seen == _answer(db, whole)
    assert len(names) == 6


def test_key_ranges_are_bound_parameters_and_noted_in_the_plan(settings):
    counts = [(None, 1), ("A 'x'", 20), ("B; DROP", 20), ("C", 20)]
    small = replace(settings, partial_rows_per_query=25)
    result = plan(small, {"fields": ["revenue"]}, key_counts={"pnl": counts})
    body = result.to_dict()
    shown = body["sources"]["pnl"]["queries"]
    assert [(q["name"], q["kind"]) for q in shown] == [
        ("pnl", "partial"),
        ("pnl:partial:1", "partial"),
        ("pnl:partial:2", "partial"),
    ]
    assert [where(q["sql"]) for q in shown] == [
        '"company_id" < :hi0 OR "company_id" IS NULL',
        '"company_id" >= :lo0 AND "company_id" < :hi0',
        '"company_id" >= :lo0',
    ]
    assert [q["params"] for q in shown] == [
        {"hi0": "B; DROP"},
        {"lo0": "B; DROP", "hi0": "C"},
        {"lo0": "C"},
    ]
    assert "pnl: partial query split into 3 key ranges" in body["notes"]
    assert "stack the 3 partial queries' rows (pnl)" in body["at_aggregator"]


def test_one_key_range_keeps_the_partial_sql_unchanged(settings):
    body = {"fields": ["revenue", "cash"]}
    counts = {"pnl": [("A", 60), ("B", 40)], "balance_sheet": [("A", 8)]}
    small = replace(settings, partial_rows_per_query=100)
    split, whole = plan(small, body, key_counts=counts), plan(settings, body)
    assert split.queries == whole.queries and split.notes == whole.notes == ()


def test_explicit_key_lists_are_not_split(settings):
    small = replace(settings, partial_rows_per_query=1)
    counts = {"pnl": [("ACME0001", 8), ("acme-0001", 2), ("BETA0002", 8)]}
    body = {"fields": ["revenue"], "companies": ["ACME0001"]}
    keys = {"pnl": ["ACME0001", "acme-0001"]}
    result = plan(small, body, key_filter=keys, key_counts=counts)
    assert [n for n, q in result.queries.items() if q.kind == "partial"] == ["pnl"]
    assert where(result.queries["pnl"].sql) == '"company_id" IN (:k0, :k1)'


def test_row_queries_are_split_into_ranges_of_one_page(settings):
    small = replace(settings, page_size=10)
    counts = {"pnl": [("ACME0001", 8), ("acme-0001", 2), ("BETA0002", 8)]}
    body = {"fields": ["revenue"], "group_by": "company_period"}
    rows = plan(small, body, key_counts=counts)
    assert list(rows.queries) == ["pnl", "pnl:rows:1"]
    assert {q.kind for q in rows.queries.values()} == {"rows"}
    assert [q.params for q in rows.queries.values()] == [
        {"hi0": "BETA0002"},
        {"lo0": "BETA0002"},
    ]
    assert "pnl: rows query split into 2 key ranges" in rows.notes


def test_explain_dict_says_where_everything_runs(settings):
    body = {
        "fields": ["revenue", "cash"],
        "filters": [{"field": "cash", "op": ">", "value": 1}],
    }
    explained = plan(settings, body).to_dict()
    assert explained["mode"] == "pushdown"
    assert explained["filter_semantics"] == FILTER_SEMANTICS
    assert explained["filters"] == [
        {
            "filter": "cash > 1.0",
            "in_sql": ["balance_sheet"],
            "at_aggregator": ["cash_flow"],
            "via_surviving_keys": ["pnl"],
        }
    ]
    assert "parse text amounts (cash_flow)" in explained["at_aggregator"]
    assert explained["sources"]["pnl"]["partial_aggregation"] is False


def _native_db(slug: str) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.executescript(STATEMENTS[slug].schema_path.read_text())
    return connection


def test_generated_sql_runs_on_the_native_schema(settings):
    db = _native_db("balance_sheet")
    rows = [
        ("ACME0001", "03/31/2024", 900.0),
        ("ACME0001", "06/30/2024", 1500.0),
        ("acme-0001", "09/30/2024", 2500.0),
        ("ZZZZ0001", "12/31/2024", 4000.0),
    ]
    insert = "INSERT INTO balance_sheet (company, as_of, cash_and_equivalents) "
    db.executemany(insert + "VALUES (?, ?, ?)", rows)
    body = {
        "fields": ["cash"],
        "filters": [{"field": "cash", "op": ">=", "value": 1e6}],
        "period": {"start": "2024-04-01", "end": "2024-12-31"},
    }
    result = plan(
        settings, body, key_filter={"balance_sheet": ["ACME0001", "acme-0001"]}
    )
    query = result.queries["balance_sheet"]
    answer = db.execute(
        query.sql, {k: str(v) for k, v in query.params.items()}
    ).fetchall()
    assert answer == [
        ("ACME0001", 1, 1500.0, 1, 1500.0, 1500.0, "06/30/2024", "1500.0"),
        ("acme-0001", 1, 2500.0, 1, 2500.0, 2500.0, "09/30/2024", "2500.0"),
    ]


def test_a_text_amount_source_is_packed_only_when_it_needs_key_ranges(settings):
    query = parse_query({}, settings)
    fits = {"cash_flow": settings.page_size}
    large = {"cash_flow": settings.page_size + 1}

    def mode(sizes):
        return plan_queries(query, settings, sizes=sizes).sources["cash_flow"].mode

    assert (mode(fits), mode(large), mode(None)) == ("rows", "partial", "partial")
    assert "cash_flow" not in plan_key_queries(query, settings, fits)
    assert "cash_flow" in plan_key_queries(query, settings, large)
    assert source_sizes_needed(query, settings) == ["cash_flow"]
    filtered = parse_query({"companies": ["ACME0001"]}, settings)
    assert source_sizes_needed(filtered, settings) == []  # discovery decides then
