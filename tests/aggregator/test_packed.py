"""Packed per-key values: split, decode, parse and reduce, against plain references."""

import sqlite3

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aggregator import packed, sqlgen
from aggregator.partial_pages import PART_ROW, PartialMapper, PartialPage
from aggregator.schema_map import map_rows, parse_packed_amounts
from amount_reference import random_amount_texts, reference_amount
from data_sources.statements import STATEMENTS

SEP = packed.SEPARATOR


def _pack(texts: list, sizes: list) -> tuple:
    """Pack ``texts`` as SQLite would: IFNULL(value, '') joined per key."""
    out, at = [], 0
    for size in sizes:
        out.append(SEP.join("" if t is None else t for t in texts[at : at + size]))
        at += size
    return out, np.array(sizes)


def _sizes(rng, total: int) -> list:
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(min(rng.integers(1, 13), total - sum(sizes))))
    return sizes


def test_packed_amounts_match_the_plain_python_reference():
    rng = np.random.default_rng(5)
    texts = random_amount_texts(rng)
    order = rng.permutation(len(texts))
    texts = [texts[i] for i in order]  # keys mixing plain and messy values
    texts += ["1,234.50", "(200.00)", None, "7"] * 50  # keys wholly plain
    column, rows = _pack(texts, _sizes(rng, len(texts)))
    values, bad, raw = parse_packed_amounts(pd.Series(column, dtype="str"), rows)
    expected = [reference_amount(t) for t in texts]
    assert bad.tolist() == [b for _, b in expected]
    want = np.array([v for v, _ in expected])
    assert np.array_equal(values, want, equal_nan=True)
    bad_texts = [t for t, (_, b) in zip(texts, expected) if b]
    assert raw.index.tolist() == np.flatnonzero(bad).tolist()
    assert raw.tolist() == bad_texts


def test_a_value_holding_the_separator_makes_its_key_unparseable():
    column = ["1.00" + SEP + "2.00", "3" + SEP + "4", "5.00"]
    rows = np.array([2, 1, 1])  # the second key's one value held the separator
    values, bad, raw = parse_packed_amounts(pd.Series(column, dtype="str"), rows)
    assert values[:2].tolist() == [1.0, 2.0] and values[3] == 5.0
    assert np.isnan(values[2]) and bad.tolist() == [False, False, True, False]
    assert raw.to_dict() == {2: "3" + SEP + "4"}  # reported as it came
    flat, wrong = packed.split_values(pd.Series(column, dtype="str"), rows)
    assert wrong.tolist() == [False, True, False] and len(flat) == rows.sum()


def test_quoted_numbers_round_trip_exactly():
    numbers = [0.1 + 0.2, 1e20, -0.0, 123456789.123456789, 5e-324, 3.0]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (k TEXT, v REAL)")
    rows = [("a", v) for v in numbers] + [("a", None), ("a", "n/a"), ("b", 7)]
    db.executemany("INSERT INTO t VALUES (?, ?)", rows)
    sql = "SELECT k, COUNT(*), GROUP_CONCAT(QUOTE(v), '\x1f') FROM t GROUP BY k"
    keys = db.execute(sql).fetchall()
    column = pd.Series([k[2] for k in keys], dtype="str")
    flat, wrong = packed.split_values(column, np.array([k[1] for k in keys]))
    decoded = packed.decode_quoted(flat)
    assert not wrong.any()
    assert decoded[: len(numbers)].tolist() == numbers  # bit for bit
    assert np.isnan(decoded[len(numbers) : len(numbers) + 2]).all()  # NULL, text
    assert decoded[-1] == 7.0
    assert np.isnan(packed.decode_quoted(pa.array([""])))[0]  # a wrong split


def test_per_key_reductions_match_pandas():
    rng = np.random.default_rng(3)
    rows = np.array(_sizes(rng, 3000))
    values = rng.normal(0, 100, rows.sum())
    values[rng.random(len(values)) < 0.3] = np.nan
    values[np.repeat(np.arange(len(rows)), rows) == 0] = np.nan  # a key with none
    got = packed.per_key(values, rows, extremes=True)
    groups = pd.Series(values).groupby(np.repeat(np.arange(len(rows)), rows))
    want = {
        "sum": groups.sum(min_count=1),
        "count": groups.count(),
        "min": groups.min(),
        "max": groups.max(),
    }
    for how, expected in want.items():
        np.testing.assert_allclose(got[how], expected.to_numpy(), rtol=1e-12)


CASH_FLOW = [
    ("ACME0001", "2024Q1", "1,000.00", "(50.00)"),
    ("ACME0001", "2024Q2", None, "2,500.25"),
    ("ACME0001", "2024q3", "7", "oops"),
    ("BETA0002", "2024Q1", "--", "1"),
    ("BETA0002", "2024Q2", "$ 12", ""),
    ("CGC", "2024Q4", "N/A", "0.00"),
]


@pytest.fixture
def cash_flow_db():
    db = sqlite3.connect(":memory:")
    db.executescript(STATEMENTS["cash_flow"].schema_path.read_text())
    insert = (
        "INSERT INTO cash_flow_statement "
        "(ticker_or_id, fiscal_quarter, net_income, ending_cash) VALUES (?, ?, ?, ?)"
    )
    db.executemany(insert, CASH_FLOW)
    return db


def _query(db, sql: str) -> pd.DataFrame:
    cursor = db.execute(sql)
    return pd.DataFrame(cursor.fetchall(), columns=[d[0] for d in cursor.description])


def test_partial_pages_agree_with_mapping_every_row(settings, cash_flow_db):
    source = settings.sources["cash_flow"]
    columns = ["net_income", "ending_cash"]
    sql = sqlgen.select_partial(source, [], [], (), [], tuple(columns))
    mapper = PartialMapper(source, observed=("net_income",), extremes=("net_income",))
    page = mapper.map(_query(cash_flow_db, sql))
    order = 'SELECT * FROM cash_flow_statement ORDER BY "ticker_or_id", rowid'
    rows = map_rows(_query(cash_flow_db, order), source)

    per_key = rows.frame.groupby("raw_key", sort=True)
    reference = pd.DataFrame(
        {
            "net_income__sum": per_key["net_income"].sum(min_count=1),
            "net_income__count": per_key["net_income"].count(),
            "net_income__min": per_key["net_income"].min(),
            "net_income__max": per_key["net_income"].max(),
            "ending_cash__sum": per_key["cash"].sum(min_count=1),
            "ending_cash__count": per_key["cash"].count(),
        }
    )
    got = page.frame.set_index("ticker_or_id")[reference.columns]
    pd.testing.assert_frame_equal(got, reference, check_names=False, check_dtype=False)
    assert "ending_cash__min" not in page.frame.columns  # cash_flow alone has it
    observed = page.observations
    assert observed[PART_ROW].tolist() == [0, 0, 0, 1, 1, 2]
    assert (
        observed["period_end"].astype("str").tolist()
        == rows.frame["period_end"].astype("str").tolist()
    )
    assert np.array_equal(
        observed["net_income"], rows.frame["net_income"], equal_nan=True
    )
    assert page.bad.mismatches("cash_flow") == rows.mismatches("cash_flow")


def test_pages_join_with_shifted_key_rows(settings, cash_flow_db):
    source = settings.sources["cash_flow"]
    sql = sqlgen.select_partial(source, [], [], (), [], ("net_income",))
    whole = _query(cash_flow_db, sql)
    mapper = PartialMapper(source, observed=("net_income",))
    joined = PartialPage.concat([mapper.map(whole.iloc[:1]), mapper.map(whole[1:])])
    alone = mapper.map(whole)
    pd.testing.assert_frame_equal(joined.frame, alone.frame)
    pd.testing.assert_frame_equal(joined.observations, alone.observations)
    assert joined.bad.mismatches("cash_flow") == alone.bad.mismatches("cash_flow")


def test_a_period_holding_the_separator_is_reported_not_used(settings):
    source = settings.sources["cash_flow"]
    frame = pd.DataFrame(
        {
            "ticker_or_id": ["ACME0001", "BETA0002"],
            "_rows": [2, 1],
            "_periods": ["2024Q1" + SEP + "2024Q2", "2024" + SEP + "Q3"],
            "net_income__packed": ["1.00" + SEP + "2.00", "3.00"],
        }
    )
    page = PartialMapper(source, observed=("net_income",)).map(frame)
    periods = page.observations["period_end"].astype("str").tolist()
    assert periods[:2] == ["2024-03-31", "2024-06-30"] and pd.isna(periods[2])
    (found,) = page.bad.mismatches("cash_flow")
    assert (found["field"], found["count"]) == ("period_end", 1)
    assert found["examples"] == ["2024" + SEP + "Q3"]
    assert page.frame["net_income__sum"].tolist() == [3.0, 3.0]


def test_text_values_are_counted_per_key_like_rows(settings):
    """One value, several, blanks beside NULLs, all NULL: as counting each row."""
    source = settings.sources["pnl"]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE income_statement (company_id TEXT, currency TEXT)")
    rows = [
        *[("A", "USD")] * 3,
        *[("B", "USD"), ("B", "EUR"), ("B", "EUR"), ("B", ""), ("B", None)],
        *[("C", None)] * 2,
        *[("D", ""), ("D", None)],
        *[("E", "GBP"), ("E", None), ("E", "GBP")],
        *[("F", f"U{SEP}SD"), ("F", "EUR")],  # a value holding the separator
    ]
    db.executemany("INSERT INTO income_statement VALUES (?, ?)", rows)
    sql = sqlgen.select_partial(source, ["currency"], [], (), [])
    cursor = db.execute(sql)
    frame = pd.DataFrame(cursor.fetchall(), columns=[d[0] for d in cursor.description])
    page = PartialMapper(source).map(frame)
    assert list(page.frame.columns) == ["company_id", "_rows"]  # texts moved out
    keys = page.frame["company_id"].to_numpy()
    got = {
        (keys[r.part_row], r.value): r.count
        for r in page.texts.itertuples()
        if r.count > 0
    }
    expected = pd.Series(
        [v for k, v in rows if v is not None and k != "F"],
        index=[k for k, v in rows if v is not None and k != "F"],
    )
    counted = expected.groupby([expected.index, expected.to_numpy()]).size()
    assert got == counted.to_dict()
    lost = page.texts[page.texts["count"] < 0]
    assert keys[lost[PART_ROW]].tolist() == ["F"] and lost["value"].isna().all()
