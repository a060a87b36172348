"""Mapping source results to canonical fields: amounts, periods, scales, mismatches."""

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from aggregator.periods import last_quarter_ending_by, normalise_periods
from amount_reference import random_amount_texts, reference_amount
from aggregator.schema_map import (
    ResultShapeError,
    apply_scale,
    check_mapping,
    map_partials,
    map_rows,
    parse_amounts,
)


def test_text_amounts_parse_vectorised(frame):
    cases = frame(
        "text value bad",
        ("1,234.50", 1234.5, False),
        ("(200.00)", -200.0, False),
        ("-5", -5.0, False),
        ("$1,000", 1000.0, False),
        (" 7 ", 7.0, False),
        ("0.00", 0.0, False),
        (None, np.nan, False),
        ("", np.nan, False),
        ("N/A", np.nan, True),
        ("--", np.nan, True),
        ("68.689.700.0", np.nan, True),
        ("3,333,O76.48", np.nan, True),
        ("12,34", np.nan, True),
        ("(-5)", np.nan, True),
        ("(1,234)", -1234.0, False),
        ("€ 12", 12.0, False),
        ("+7", 7.0, False),
        ("١٢٣", np.nan, True),
        ("\u00a01\u00a0000\u00a0", 1000.0, False),
        ("(", np.nan, True),
        ("()", np.nan, True),
        ("(1\n00)", np.nan, True),
    )
    values, bad = parse_amounts(cases["text"])
    assert_series_equal(values, cases["value"].astype("float64"), check_names=False)
    assert bad.tolist() == cases["bad"].tolist()


@pytest.mark.parametrize(
    "fmt, raw, iso",
    [
        ("iso_date", ["2024-09-30", "2024-02-30", None], ["2024-09-30", None, None]),
        (
            "us_date",
            ["09/30/2024", "9/30/2024", "13/01/2024"],
            ["2024-09-30", None, None],
        ),
        (
            "year_quarter",
            ["2024Q3", "2023Q1", "2024q4", "2024Q5"],
            ["2024-09-30", "2023-03-31", None, None],
        ),
    ],
)
def test_periods_normalise_to_iso_period_ends(fmt, raw, iso):
    got = normalise_periods(pd.Series(raw, dtype="str"), fmt)
    assert [None if pd.isna(v) else v for v in got] == iso


def test_last_quarter_ending_by():
    assert last_quarter_ending_by("2024-03-31") == "2024Q1"
    assert last_quarter_ending_by("2024-03-30") == "2023Q4"
    assert last_quarter_ending_by("2024-12-31") == "2024Q4"


@pytest.mark.parametrize("parallel_from", [100_000, 0], ids=["serial", "threads"])
def test_cash_flow_rows_are_renamed_parsed_and_mismatches_reported(
    settings, frame, monkeypatch, parallel_from
):
    monkeypatch.setattr("aggregator.schema_map.PARALLEL_PARSE_ROWS", parallel_from)
    raw = frame(
        "ticker_or_id fiscal_quarter net_income ending_cash",
        ("ACME0001", "2024Q3", "1,000.00", "(50.00)"),
        ("CGC", "2024Q4", "N/A", "0.00"),
        ("ACME0001", "2024Q1", None, "2,500.25"),
    )
    mapped = map_rows(raw, settings.sources["cash_flow"])
    expected = frame(
        "raw_key period_end net_income cash",
        ("ACME0001", "2024-09-30", 1000.0, -50.0),
        ("CGC", "2024-12-31", np.nan, 0.0),
        ("ACME0001", "2024-03-31", np.nan, 2500.25),
    )
    assert_frame_equal(mapped.frame, expected, check_dtype=False)
    assert mapped.mismatches("cash_flow") == (
        {
            "source": "cash_flow",
            "field": "net_income",
            "count": 1,
            "examples": ["N/A"],
            "rows": [{"raw_key": "CGC", "period": "2024-12-31"}],
        },
    )
    assert mapped.mismatches("cash_flow", keep=np.array([True, False, True])) == ()


def test_unit_scale_applies_to_numbers_only_and_never_mutates(settings, frame):
    source = settings.sources["balance_sheet"]
    raw = frame(
        "company as_of cash_and_equivalents", ("ACME0001", "09/30/2024", 13000.8)
    )
    mapped = map_rows(raw, source).frame
    before = mapped.copy()
    scaled = apply_scale(mapped, source)
    assert scaled["cash"].tolist() == [13000.8 * 1000]
    assert scaled["period_end"].tolist() == ["2024-09-30"]
    assert_frame_equal(mapped, before)


def test_missing_values_stay_missing(settings, frame):
    raw = frame(
        "company_id period_end revenue currency",
        ("ACME0001", "2024-09-30", None, None),
        ("ACME0001", "2024-06-30", 0.0, "USD"),
    )
    mapped = map_rows(raw, settings.sources["pnl"]).frame
    assert mapped["revenue"].isna().tolist() == [True, False]
    assert mapped["revenue"].iloc[1] == 0.0
    assert mapped["currency"].isna().tolist() == [True, False]


def test_a_bad_period_is_a_mismatch(settings, frame):
    raw = frame("company_id period_end revenue", ("ACME0001", "30.09.2024", 1.0))
    mismatches = map_rows(raw, settings.sources["pnl"]).mismatches("pnl")
    assert [(m["field"], m["examples"]) for m in mismatches] == [
        ("period_end", ["30.09.2024"])
    ]


def test_partials_are_renamed_to_canonical_parts(settings, frame):
    raw = frame(
        "company_id currency _rows revenue__sum revenue__count",
        ("ACME0001", "USD", 8, 80.0, 8),
    )
    parts = map_partials(raw, settings.sources["pnl"])
    expected = frame(
        "raw_key rows currency revenue__sum revenue__count",
        ("ACME0001", 8, "USD", 80.0, 8.0),
    )
    assert_frame_equal(parts, expected, check_dtype=False)


def test_a_result_without_the_key_column_is_refused(settings, frame):
    with pytest.raises(
        ResultShapeError, match="pnl: result has no 'company_id' column"
    ):
        map_rows(frame("revenue", (1.0,)), settings.sources["pnl"])


def test_check_mapping_finds_columns_the_source_lacks(settings):
    pnl = settings.sources["pnl"]
    columns = [c for c in pnl.mapping if c != "revenue"]
    body = {"columns": [{"name": c, "type": "REAL"} for c in columns]}
    problems = check_mapping(
        settings,
        {"pnl": body, "balance_sheet": list(settings.sources["balance_sheet"].mapping)},
    )
    assert [(p["source"], p["column"], p["field"]) for p in problems] == [
        ("pnl", "revenue", "revenue")
    ]
    assert "/schema has no such column" in problems[0]["message"]


def test_text_amounts_match_a_plain_python_reference_on_random_text():
    texts = random_amount_texts(np.random.default_rng(11))
    values, bad = parse_amounts(pd.Series(texts, dtype="str"))
    expected = [reference_amount(t) for t in texts]
    assert bad.tolist() == [b for _, b in expected]
    want = np.array([v for v, _ in expected])
    assert np.array_equal(values.to_numpy(), want, equal_nan=True)


def test_pages_mapped_one_by_one_join_to_the_whole_mapping(settings, frame):
    from aggregator.schema_map import MappedRows

    raw = frame(
        "ticker_or_id fiscal_quarter net_income ending_cash",
        ("ACME0001", "2024Q3", "1,000.00", "(50.00)"),
        ("CGC", "2024Q4", "N/A", "0.00"),
        ("ACME0001", "2024Q1", None, "2,500.25"),
        ("BETA0002", "2024q1", "7", "oops"),
        ("BETA0002", "2024Q2", "--", "1"),
    )
    source = settings.sources["cash_flow"]
    whole = map_rows(raw, source)
    pages = [raw.iloc[:2], raw.iloc[2:3], raw.iloc[3:]]
    mapped = [map_rows(page, source) for page in pages]
    joined = MappedRows.concat(mapped)
    assert mapped == []  # each page let go once joined
    assert_frame_equal(joined.frame, whole.frame)
    assert joined.mismatches("cash_flow") == whole.mismatches("cash_flow")
    keep = np.array([True, True, False, False, True])
    assert joined.mismatches("cash_flow", keep) == whole.mismatches("cash_flow", keep)


def test_pages_with_other_columns_still_join(settings, frame):
    from aggregator.schema_map import MappedRows

    one = frame("raw_key a", ("k1", 1.0), ("k2", None), a="float64")
    two = frame("raw_key b", ("k3", 2.0), b="float64")
    joined = MappedRows.concat([MappedRows(one, {}), MappedRows(two, {})])
    assert_frame_equal(joined.frame, pd.concat([one, two], ignore_index=True))
