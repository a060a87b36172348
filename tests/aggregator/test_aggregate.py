"""Pure aggregation: exact means from (sum, count) parts, modes, discrepancies."""

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from aggregator import aggregate

from aggregator.aggregate import (
    combine,
    find_discrepancies,
    rows_to_parts,
    rows_to_text_counts,
)

KEYS = ["company_id"]


def test_means_pool_every_row_of_every_source(settings, frame):
    pnl = frame("company_id period_end net_income", ("A", "q1", 10.0), ("A", "q2", 0.0))
    cash_flow = frame(
        "company_id period_end net_income",
        ("A", "q1", 30.0),
        ("A", "q2", np.nan),
        ("B", "q1", -4.0),
    )
    parts = [rows_to_parts(f, ["net_income"], KEYS) for f in (pnl, cash_flow)]
    got = combine(parts, [], ["net_income"], settings, KEYS)
    expected = frame(
        "company_id net_income net_income_count net_income_min net_income_max",
        ("A", 40.0 / 3, 3, 0.0, 30.0),
        ("B", -4.0, 1, -4.0, -4.0),
    )
    assert_frame_equal(got, expected, check_dtype=False)
    assert got["net_income_count"].dtype == "int64"


def test_partials_merge_exactly_like_rows(settings, frame):
    rows = frame(
        "company_id net_income",
        ("A", 1.0),
        ("A", 2.0),
        ("A", 6.0),
        ("B", np.nan),
    )
    partial = frame(
        "company_id rows "
        "net_income__sum net_income__count net_income__min net_income__max",
        ("A", 2, 3.0, 2, 1.0, 2.0),
        ("A", 1, 6.0, 1, 6.0, 6.0),
        ("B", 1, np.nan, 0, np.nan, np.nan),
    )
    from_rows = combine(
        [rows_to_parts(rows, ["net_income"], KEYS)], [], ["net_income"], settings, KEYS
    )
    from_parts = combine([partial], [], ["net_income"], settings, KEYS)
    assert_frame_equal(from_rows, from_parts, check_dtype=False)
    assert from_rows["net_income"].tolist()[0] == 3.0
    assert np.isnan(from_rows["net_income"].tolist()[1])  # missing is not zero


def test_many_parts_per_key_merge_like_a_groupby_of_the_rows(settings):
    # Random rows cut into several parts per key (as messy raw keys and key ranges
    # leave them), against pandas over the rows themselves.
    rng = np.random.default_rng(11)
    rows = pd.DataFrame(
        {
            "company_id": pd.array(
                [f"C{k:03d}" for k in rng.integers(0, 300, 4000)], dtype="str"
            ),
            "net_income": rng.normal(0, 50, 4000),
        }
    )
    rows.loc[rng.random(4000) < 0.2, "net_income"] = np.nan
    rows.loc[rows["company_id"] == "C007", "net_income"] = np.nan  # none at all
    cuts = rng.integers(0, 5, len(rows))
    cut = [rows_to_parts(rows[cuts == c], ["net_income"], KEYS) for c in range(5)]
    one_source = pd.concat(cut, ignore_index=True)  # several parts per key
    got = combine([one_source], [], ["net_income"], settings, KEYS)
    got = got.set_index("company_id")
    grouped = rows.groupby("company_id")["net_income"]
    assert got.index.tolist() == sorted(grouped.groups)
    np.testing.assert_allclose(got["net_income"], grouped.mean(), rtol=1e-12)
    assert got["net_income_count"].tolist() == grouped.count().tolist()
    assert got["net_income_min"].equals(grouped.min().rename("net_income_min"))
    assert got["net_income_max"].equals(grouped.max().rename("net_income_max"))
    assert np.isnan(got.loc["C007", "net_income"])  # missing, never zero


def test_single_source_fields_have_no_min_max(settings, frame):
    rows = frame("company_id revenue", ("A", 1.0))
    got = combine(
        [rows_to_parts(rows, ["revenue"], KEYS)], [], ["revenue"], settings, KEYS
    )
    assert list(got.columns) == ["company_id", "revenue", "revenue_count"]


def test_company_period_groups_align_on_period_end(settings, frame):
    keys = ["company_id", "period_end"]
    a = frame("company_id period_end cash", ("A", "2024-03-31", 10.0))
    b = frame(
        "company_id period_end cash",
        ("A", "2024-03-31", 20.0),
        ("A", "2024-06-30", 5.0),
    )
    parts = [rows_to_parts(f, ["cash"], keys) for f in (a, b)]
    got = combine(parts, [], ["cash"], settings, keys)
    assert got[["company_id", "period_end", "cash", "cash_count"]].values.tolist() == [
        ["A", "2024-03-31", 15.0, 2],
        ["A", "2024-06-30", 5.0, 1],
    ]


def test_text_fields_take_the_most_frequent_value_ties_smallest(settings, frame):
    rows = frame(
        "company_id currency",
        ("A", "USD"),
        ("A", "EUR"),
        ("A", "USD"),
        ("B", "GBP"),
        ("B", "EUR"),
        ("C", None),
    )
    texts = rows_to_text_counts(rows, ["currency"], KEYS)
    got = combine(
        [rows_to_parts(rows, [], KEYS)], [texts], ["currency"], settings, KEYS
    )
    expected = frame(
        "company_id currency currency_count",
        ("A", "USD", 3),
        ("B", "EUR", 2),
        ("C", None, 0),
    )
    assert_frame_equal(got, expected, check_dtype=False)


def test_the_most_frequent_text_counts_every_source(settings, frame):
    one = frame(
        "company_id currency",
        *[("A", "EUR")] * 3,
        *[("A", "USD")] * 2,
    )
    two = frame("company_id currency", ("A", "USD"), ("A", "USD"))
    texts = [rows_to_text_counts(f, ["currency"], KEYS) for f in (one, two)]
    parts = [rows_to_parts(f, [], KEYS) for f in (one, two)]
    got = combine(parts, texts, ["currency"], settings, KEYS)
    # USD: 2 + 2 rows beat EUR's 3, though no one source has more USD than EUR.
    assert got[["currency", "currency_count"]].values.tolist() == [["USD", 7]]


def test_inputs_are_never_mutated(settings, frame):
    rows = frame("company_id period_end cash", ("A", "q1", 1.0), ("A", "q1", 3.0))
    before = rows.copy()
    parts = rows_to_parts(rows, ["cash"], KEYS)
    parts_before = parts.copy()
    combine([parts], [], ["cash"], settings, KEYS)
    find_discrepancies({"x": rows, "y": rows}, ["cash"], 0.005)
    assert_frame_equal(rows, before)
    assert_frame_equal(parts, parts_before)


def test_discrepancies_beyond_the_tolerance_side_by_side(frame):
    pnl = frame(
        "company_id period_end net_income",
        ("A", "2024-03-31", 100.0),
        ("A", "2024-06-30", 100.0),
        ("B", "2024-03-31", 0.0),
    )
    cash_flow = frame(
        "company_id period_end net_income",
        ("A", "2024-03-31", 100.5),
        ("A", "2024-06-30", 100.6),
        ("B", "2024-03-31", np.nan),
    )
    found = find_discrepancies(
        {"pnl": pnl, "cash_flow": cash_flow}, ["net_income"], 0.005
    )
    assert found == [
        {
            "company_id": "A",
            "period_end": "2024-06-30",
            "field": "net_income",
            "values": {"cash_flow": 100.6, "pnl": 100.0},
        }
    ]


def test_no_discrepancy_without_two_sources(frame):
    only = frame("company_id period_end cash", ("A", "2024-03-31", 1.0))
    assert find_discrepancies({"balance_sheet": only}, ["cash"], 0.0) == []


def test_empty_inputs_give_an_empty_frame_with_the_columns(settings):
    got = combine([], [], ["revenue", "cash"], settings, KEYS)
    assert got.empty
    assert list(got.columns) == [
        "company_id",
        "revenue",
        "revenue_count",
        "cash",
        "cash_count",
        "cash_min",
        "cash_max",
    ]
    assert isinstance(got, pd.DataFrame)


@pytest.mark.parametrize("counting", ["dense", "compacted"])
def test_discrepancies_match_a_plain_reference_on_random_data(monkeypatch, counting):
    if counting == "compacted":
        monkeypatch.setattr(aggregate, "dense_limit", lambda rows: 0)
    rng = np.random.default_rng(3)
    observations = {}
    companies = {"pnl": "ABCDEFG", "cash_flow": "ABCXYZ", "balance_sheet": "HIJKB"}
    for source, letters in companies.items():
        n = 400
        observations[source] = pd.DataFrame(
            {
                "company_id": pd.array(rng.choice(list(letters), n), dtype="str"),
                "period_end": pd.array(
                    rng.choice(["q1", "q2", "q3", None], n, p=[0.3, 0.3, 0.3, 0.1]),
                    dtype="str",
                ),
                "cash": np.where(
                    rng.random(n) < 0.1, np.nan, rng.choice([1.0, 1.001, 2.0], n)
                ),
            }
        )
    found = find_discrepancies(observations, ["cash"], 0.005)
    # Reference: plain dicts, one mean per (company, period, source).
    sums = {}
    for source, frame in observations.items():
        for company, period, value in frame.itertuples(index=False):
            if not np.isnan(value) and not pd.isna(period):
                total = sums.setdefault((company, period), {}).setdefault(source, [])
                total.append(value)
    expected = []
    for (company, period), by_source in sorted(sums.items()):
        means = {s: sum(v) / len(v) for s, v in by_source.items()}
        low, high = min(means.values()), max(means.values())
        scale = max(abs(v) for v in means.values())
        if len(means) > 1 and high - low > 0.005 * scale:
            expected.append((company, period, means))
    got = [(d["company_id"], d["period_end"], d["values"]) for d in found]
    assert len(got) == len(expected) > 0
    for (c1, p1, v1), (c2, p2, v2) in zip(got, expected):
        assert (c1, p1) == (c2, p2)
        assert v1.keys() == v2.keys()
        assert all(abs(v1[s] - v2[s]) <= 1e-12 * abs(v2[s]) for s in v1)
