"""Reducing a rows source per key as soon as its rows are final."""

import gc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aggregator import aggregate, assemble
from aggregator.companies import Resolution
from aggregator.memory import release_free_memory
from aggregator.planner import SourcePlan
from aggregator.query import Filter

FIELDS = ("revenue", "net_income", "currency")


def _rows(count: int, per_company: int = 4, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    companies = np.array([f"C{n:05d}" for n in range(count // per_company + 1)])
    company = companies[rng.integers(0, len(companies), count)]
    revenue = rng.normal(100, 30, count)
    revenue[rng.random(count) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "raw_key": pd.array([c.lower() for c in company], dtype="str"),
            "period_end": pd.array(
                rng.choice(["2024-03-31", "2024-06-30"], count), dtype="str"
            ),
            "currency": pd.array(rng.choice(["USD", "EUR", None], count), dtype="str"),
            "revenue": revenue,
            "net_income": rng.normal(5, 2, count),
            "company_id": pd.array(company, dtype="str"),
        }
    )


def _data(rows: pd.DataFrame) -> assemble.SourceData:
    return assemble.SourceData("pnl", "rows", rows, _rows(0))


@pytest.mark.parametrize("group_by", ["company", "company_period"])
def test_reduced_rows_give_the_parts_and_counts_of_the_rows(settings, group_by):
    rows = _rows(2_000)
    keys = aggregate.group_keys(group_by)
    reduction = assemble.Reduction(FIELDS, settings, keys, ("net_income",))
    done = assemble.reduced(_data(rows), reduction)
    reference = aggregate.rows_to_parts(
        rows, ["revenue", "net_income"], keys, ["net_income"]
    )
    sort = keys
    pd.testing.assert_frame_equal(
        done.parts.sort_values(sort, ignore_index=True),
        reference.sort_values(sort, ignore_index=True),
    )
    texts = aggregate.rows_to_text_counts(rows, ["currency"], keys)
    pd.testing.assert_frame_equal(done.text_counts, texts)
    assert done.key_rows.to_dict() == rows["raw_key"].value_counts().to_dict()
    assert len(done.accepted) == 0
    assert list(done.accepted.columns) == list(rows.columns)
    observed = done.observations
    assert isinstance(observed["company_id"].dtype, pd.CategoricalDtype)
    assert observed["company_id"].astype("str").tolist() == rows["company_id"].tolist()
    assert observed["net_income"].tolist() == rows["net_income"].tolist()


def test_parts_and_texts_take_the_reduced_parts(settings):
    rows = _rows(500)
    keys = aggregate.group_keys("company")
    done = assemble.reduced(_data(rows), assemble.Reduction(FIELDS, settings, keys))
    assert done.observations is None
    plan = type("Plan", (), {"sources": {"pnl": type("SP", (), {"fields": FIELDS})}})
    parts, texts = assemble.parts_and_texts(plan, settings, {"pnl": done}, keys)
    assert parts[0] is done.parts and texts[0] is done.text_counts


def test_partial_data_is_left_as_it_is(settings):
    data = assemble.SourceData("pnl", "partial", _rows(10), _rows(0))
    reduction = assemble.Reduction(FIELDS, settings, ["company_id"])
    assert assemble.reduced(data, reduction) is data


def test_the_reduced_data_keeps_no_row_buffer_alive(settings):
    release_free_memory()
    gc.collect()
    before = pa.total_allocated_bytes()
    rows = _rows(200_000, per_company=40)
    data = _data(rows)
    held = pa.total_allocated_bytes() - before
    keys = aggregate.group_keys("company")
    done = assemble.reduced(data, assemble.Reduction(FIELDS, settings, keys))
    del rows, data
    gc.collect()
    left = pa.total_allocated_bytes() - before
    # The text columns' buffers (several MB) go; per-key parts stay far smaller.
    assert held > 4_000_000
    assert left < held / 4, (held, left)
    assert len(done.parts) > 0


def test_rows_normalised_with_a_reduction_equal_those_reduced_after(settings):
    """The rows a filter drops are left out of the parts without a copy."""
    source = settings.sources["pnl"]
    columns = {source.company_column: "raw_key", source.period_column: "period_end"}
    rows = _rows(3_000, per_company=6).drop(columns=["company_id"])
    native = rows.rename(columns={v: k for k, v in columns.items()})
    native = native.rename(columns={v: k for k, v in source.mapping.items()})
    unknown = native[source.company_column].str.startswith("c0001")
    native.loc[unknown, source.company_column] = "nobody"

    def resolver(raws):
        return {
            raw: (
                Resolution(None, "rejected", 0.0)
                if raw == "nobody"
                else Resolution(raw.upper(), "normalized", 100.0)
            )
            for raw in raws
        }

    plan = SourcePlan(
        "pnl", "rows", FIELDS, {}, residual=(Filter("revenue", ">", 90.0),)
    )
    scope = assemble.Scope(start="2024-04-01")
    keys = aggregate.group_keys("company")
    reduction = assemble.Reduction(FIELDS, settings, keys, ("net_income",))
    at_once = assemble.normalise_source(
        plan, source, {"rows": native}, resolver, scope, reduction
    )
    later = assemble.normalise_source(plan, source, {"rows": native}, resolver, scope)
    assert len(later.accepted) < len(native)  # some rows were dropped
    assert len(later.rejected) > 0 and "revenue__sum" in at_once.parts
    assert at_once.text_counts["count"].sum() > 0
    after = assemble.reduced(later, reduction)
    pd.testing.assert_frame_equal(at_once.parts, after.parts)
    pd.testing.assert_frame_equal(at_once.text_counts, after.text_counts)
    pd.testing.assert_series_equal(at_once.key_rows, after.key_rows)
    pd.testing.assert_frame_equal(
        at_once.observations.reset_index(drop=True),
        after.observations.reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(at_once.rejected, later.rejected)
    assert at_once.key_rows.sum() == len(later.accepted)


def test_partial_text_counts_take_their_key_company_and_report_the_lost(settings):
    parts = pd.DataFrame({"company_id": pd.array(["ACME", None, "BETA"], dtype="str")})
    counted = pd.DataFrame(
        {
            "part_row": [0, 0, 1, 2],
            "column": ["currency"] * 4,
            "value": ["USD", "EUR", "USD", None],
            "count": [3, 1, 5, -1],
        }
    )
    keep = parts["company_id"].notna().to_numpy()
    source = settings.sources["pnl"]
    texts, warnings = assemble._partial_texts(counted, parts, keep, source)
    assert texts.values.tolist() == [
        ["ACME", "currency", "USD", 3],
        ["ACME", "currency", "EUR", 1],
    ]  # row 1's key was not kept; row 2's values could not be counted
    assert warnings == (
        "pnl: the currency values of 1 keys held the packing separator and were "
        "not counted",
    )
