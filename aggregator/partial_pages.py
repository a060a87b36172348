"""Partial-aggregate pages: finish their packed columns as each page arrives.

A partial query answers one row per key. Besides SQL's sums it may hold packed
per-row values (packed.py): a text-amount source's amounts, which SQL cannot sum,
and the per-period values the discrepancy check compares. Each page is finished on
the fetch thread that read it: packed amounts are parsed and reduced to the same
``<column>__sum/__count[/__min/__max]`` columns SQL gives, the observed columns are
kept one row per source row, and values that did not parse are kept aside for the
type-mismatch report. Nothing per row outlives the page except those two.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from aggregator import packed
from aggregator.periods import period_categorical
from aggregator.schema_map import MappedRows, PageJoin, parse_packed_amounts
from aggregator.sqlgen import ROWS_ALIAS

#: Observation column: the row of ``PartialPage.frame`` (the key) a value is of.
PART_ROW = "part_row"


@dataclass(frozen=True)
class PartialPage:
    """One partial result: per-key parts, per-row observations, unparsed values.

    ``observations`` has one row per source row: ``part_row`` (its key's row in
    ``frame``), ``period_end`` (a Categorical of ISO dates) and the observed
    fields in source units.
    """

    frame: pd.DataFrame
    observations: pd.DataFrame | None = None
    bad: MappedRows | None = None
    texts: pd.DataFrame | None = None  # part_row, column, value, count; see map

    @classmethod
    def concat(cls, pages: list) -> "PartialPage":
        """Join the pages of one or more partial results, in order."""
        if len(pages) == 1:
            return pages[0]
        frame = pd.concat([p.frame for p in pages], ignore_index=True)
        offsets = np.cumsum([0] + [len(p.frame) for p in pages])
        seen = [
            (p.observations, offset)
            for p, offset in zip(pages, offsets)
            if p.observations is not None
        ]
        bad = [p.bad for p in pages if p.bad is not None]
        texts = [
            p.texts.assign(**{PART_ROW: p.texts[PART_ROW] + offset})
            for p, offset in zip(pages, offsets)
            if p.texts is not None
        ]
        return cls(
            frame,
            _concat_observations(seen) if seen else None,
            MappedRows.concat(bad) if bad else None,
            pd.concat(texts, ignore_index=True) if texts else None,
        )


def _concat_observations(pages: list) -> pd.DataFrame:
    """Stack observation frames, shifting ``part_row`` and merging categories."""
    first = pages[0][0]
    columns = {PART_ROW: np.concatenate([o[PART_ROW] + at for o, at in pages])}
    columns["period_end"] = union_categoricals(
        [o["period_end"].array for o, _ in pages]
    )
    for name in first.columns.drop([PART_ROW, "period_end"]):
        columns[name] = np.concatenate([o[name].to_numpy() for o, _ in pages])
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class PartialMapper(PageJoin):
    """Finishes each page of a partial query (``SourceClient.run_query``'s on_page).

    ``observed``: source columns whose per-row values are kept; ``extremes``:
    packed amount columns that also need a per-key min and max.
    """

    source: object
    observed: tuple = ()
    extremes: tuple = ()
    joined = PartialPage

    def cache_variant(self) -> tuple:
        """Return what, beside the SQL, tells this mapping's results apart."""
        return ("partial", self.observed, self.extremes)

    def map(self, frame: pd.DataFrame) -> PartialPage:
        """Return one page with its packed columns finished.

        Text columns' values are counted per key (``PartialPage.texts``).
        """
        texts = packed.text_columns(frame.columns)
        columns = packed.packed_columns(frame.columns)
        if not (columns or texts):
            return PartialPage(frame)
        rows = pd.to_numeric(frame[ROWS_ALIAS]).to_numpy(dtype="int64")
        counted = count_texts(frame, texts, rows) if texts else None
        frame = frame.drop(
            columns=[alias for t in texts for alias in packed.text_aliases(t)]
        )
        if not columns:
            return PartialPage(frame, texts=counted)
        values, bad, raw = self._values(frame, columns, rows)
        parts = frame.drop(columns=[packed.PERIODS, *columns.values()])
        for column in columns:
            if self.source.text_amounts:  # else SQL summed them; packed to observe
                reduced = packed.per_key(values[column], rows, column in self.extremes)
                for how, numbers in reduced.items():
                    parts[f"{column}__{how}"] = numbers
        per_row = self._per_row(frame, rows, values, bad, raw)
        return PartialPage(parts, *per_row, texts=counted)

    def _values(self, frame, columns: dict, rows) -> tuple:
        """Return column -> floats per row, and the unparsed values' masks and text."""
        values, bad, raw = {}, {}, {}
        for column, alias in columns.items():
            if self.source.text_amounts:
                values[column], bad[column], raw[column] = parse_packed_amounts(
                    frame[alias], rows
                )
            else:
                flat, _ = packed.split_values(frame[alias], rows)
                values[column] = packed.decode_quoted(flat)
        return values, bad, raw

    def _per_row(self, frame, rows, values: dict, bad: dict, raw: dict) -> tuple:
        """Return (observations, unparsed values) with their keys and periods."""
        wanted = [c for c in self.observed if c in values]
        failing = [c for c in bad if bad[c].any()]
        owner = packed.row_owner(rows)
        raw_periods, unsure = self._periods(frame[packed.PERIODS], rows, owner)
        periods = period_categorical(
            raw_periods.where(raw_periods != ""), self.source.period_format
        )
        bad_period = ((raw_periods != "") & (periods.codes < 0)).to_numpy() | unsure
        names = self.source.mapping
        observations = None
        if wanted:
            observations = pd.DataFrame(
                {
                    PART_ROW: owner,
                    "period_end": periods,
                    **{names[c]: values[c] for c in wanted},
                }
            )
        chosen = bad_period.copy()
        for column in failing:
            chosen |= bad[column]
        if not chosen.any():
            return observations, None
        unparsed = {}  # in map_rows' order: the period, then the fields
        if bad_period.any():
            unparsed[self.source.period_column] = (bad_period, raw_periods)
        unparsed.update((c, (bad[c], raw[c])) for c in failing)
        at = np.flatnonzero(chosen)
        return observations, self._unparsed(frame, owner, periods, at, values, unparsed)

    @staticmethod
    def _periods(column, rows, owner) -> tuple:
        """Return (raw period per row, rows whose key's periods split wrongly).

        A period holding the separator leaves its key's periods unsure: they
        are not used, and are reported with the key's packed text.
        """
        text = packed.text_array(column)
        flat, wrong = packed.split_values(text, rows)
        unsure = wrong[owner]
        if unsure.any():
            flat = pc.if_else(pa.array(unsure), pc.take(text, owner), flat)
        return pd.Series(pd.arrays.ArrowStringArray(flat)), unsure

    def _unparsed(self, frame, owner, periods, at, values, unparsed) -> MappedRows:
        """Return the source rows ``at`` that hold a value that did not parse (few).

        ``unparsed`` maps a source column to (its bad mask over all rows, its raw
        text by row number: at least the bad rows').
        """
        keys = frame[self.source.company_column].astype("str").to_numpy()
        names = {**self.source.mapping, self.source.period_column: "period_end"}
        rows_out = {
            "raw_key": pd.array(keys[owner[at]], dtype="str"),
            "period_end": pd.array(np.asarray(periods)[at], dtype="str"),
        }
        for column, numbers in values.items():
            rows_out[names[column]] = numbers[at]
        masks = {}
        for column, (mask, text) in unparsed.items():
            chosen = mask[at]
            taken = text.loc[at[chosen]].to_numpy()
            # MappedRows keeps each unparsed value under its row number.
            masks[names[column]] = (
                chosen,
                pd.Series(taken, index=np.flatnonzero(chosen), dtype="str"),
            )
        return MappedRows(pd.DataFrame(rows_out), masks)


def count_texts(frame: pd.DataFrame, columns: list, rows: np.ndarray) -> pd.DataFrame:
    """Return (part_row, column, value, count) of text ``columns``, values per key.

    A key with one distinct value has it and its count from SQL; a key with
    several has every row's value packed, with missing values and blanks both
    empty: the key's missing values (rows less count) are taken off its blanks.
    A key whose values held the separator gets value None, count -1: they could
    not be counted (``assemble._partial_texts`` reports them).
    """
    counted = []
    for column in columns:
        single, count, many = packed.text_aliases(column)
        counts = pd.to_numeric(frame[count]).to_numpy(dtype="int64")
        several = frame[many].notna().to_numpy()
        one = np.flatnonzero(~several & (counts > 0))
        counted.append(
            pd.DataFrame(
                {
                    PART_ROW: one,
                    "value": frame[single].astype("str").to_numpy()[one],
                    "count": counts[one],
                }
            ).assign(column=column)
        )
        if several.any():
            counted.append(_several(frame[many], rows, counts, several, column))
    columns_out = [PART_ROW, "column", "value", "count"]
    return pd.concat(counted, ignore_index=True)[columns_out]


def _several(texts, rows: np.ndarray, counts: np.ndarray, several, column):
    """Count the values of the keys holding several (see ``count_texts``)."""
    keys = np.flatnonzero(several)
    flat, wrong = packed.split_values(texts.iloc[keys], rows[keys])
    values = pd.DataFrame(
        {PART_ROW: keys[packed.row_owner(rows[keys])], "value": flat.to_pylist()}
    )
    found = values.groupby([PART_ROW, "value"], sort=True).size()
    found = found.rename("count").reset_index()
    missing = rows - counts  # per key: rows without a value, packed as blanks
    blank = found["value"] == ""
    found.loc[blank, "count"] -= missing[found.loc[blank, PART_ROW]]
    found = found[found["count"] > 0]
    unsure = keys[wrong]
    found = found[~found[PART_ROW].isin(unsure)]
    lost = pd.DataFrame({PART_ROW: unsure, "value": None, "count": -1})
    return pd.concat([found, lost], ignore_index=True).assign(column=column)
