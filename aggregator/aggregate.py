"""Pure pandas: merge exact (sum, count) parts into means, modes and discrepancies.

Nothing here mutates its inputs or loops over rows in Python: every step is a
groupby, a concat or a vectorised comparison.
"""

import functools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SUFFIXES = ("sum", "count", "min", "max")


def group_keys(group_by: str) -> list:
    """Return the output key columns for ``group_by``."""
    return ["company_id"] + (["period_end"] if group_by == "company_period" else [])


def rows_to_parts(rows: pd.DataFrame, fields, keys: list, extremes=None):
    """Return per key the (sum, count[, min, max]) of each field over ``rows``.

    Rows are reduced here, source by source, so a million-row source leaves a
    part per company (or company and period) rather than copies of itself. Min
    and max are kept for the fields in ``extremes`` only (default: all), the
    fields several sources feed.
    """
    present = [name for name in fields if name in rows.columns]
    if not present:
        return rows[keys].dropna().drop_duplicates(ignore_index=True)
    wanted = present if extremes is None else [f for f in present if f in extremes]
    # Rows with a missing key drop out of the groups: no filtered copy of the rows.
    grouped = rows.groupby(keys, sort=False, observed=True)
    reduced = [
        grouped[present].sum().add_suffix("__sum"),
        grouped[present].count().add_suffix("__count"),
    ]
    if wanted:
        reduced.append(grouped[wanted].min().add_suffix("__min"))
        reduced.append(grouped[wanted].max().add_suffix("__max"))
    return pd.concat(reduced, axis=1).reset_index()


def rows_to_text_counts(rows: pd.DataFrame, fields, keys: list) -> pd.DataFrame:
    """Return (keys, field, value, count) for the non-null text values of ``rows``.

    (Partial results count their text values per key while they are fetched:
    see ``partial_pages.count_texts``.)
    """
    counted = []
    for name in (f for f in fields if f in rows.columns):
        chosen = rows[[*keys, name]].dropna(subset=[*keys, name])
        counts = chosen.groupby([*keys, name], sort=False, observed=True).size()
        long = counts.rename("count").reset_index()
        counted.append(long.rename(columns={name: "value"}).assign(field=name))
    columns = [*keys, "field", "value", "count"]
    if not counted:
        return pd.DataFrame(columns=columns)
    joined = pd.concat(counted, ignore_index=True)[columns]
    return joined.sort_values(columns[:-1], ignore_index=True)


#: The single integer key combine() works on (see KeyCoder).
CODE = "_key"


def combine(parts: list, text_counts: list, fields, settings, keys: list):
    """Return one row per key: mean, count (and min/max for multi-source fields).

    Each source's parts are reduced per key on their own first, then the sources
    are lined up on the keys: no frame ever holds every source's columns for
    every source's rows. Keys are worked on as one integer each (KeyCoder).
    """
    numeric = [f for f in fields if settings.canonical_fields[f].type == "numeric"]
    parts = [p.dropna(subset=keys) for p in parts if len(p)]
    texts = _stack(text_counts, keys)
    coder = KeyCoder([*parts, texts], keys)
    texts = coder.recode(texts)
    reduced = [_reduce_part(coder.recode(part)) for part in parts]
    index = pd.Index(
        np.unique(np.concatenate([r.index for r in reduced] + [texts[CODE]])),
        name=CODE,
    )
    reduced = [r.reindex(index) for r in reduced]
    modes = most_frequent(texts, [CODE])
    columns = coder.decode(index.to_numpy())
    for name in fields:
        if name not in numeric:
            columns[name] = _mode_column(modes, name, index)
            columns[f"{name}_count"] = _text_count(texts, name, [CODE], index)
            continue
        sums, counts, lows, highs = (
            _across(reduced, f"{name}__{how}", len(index)) for how in SUFFIXES
        )
        count = _fold(np.add, [np.nan_to_num(c) for c in counts]).astype("int64")
        total = _fold(np.add, [np.nan_to_num(s) for s in sums])
        with np.errstate(invalid="ignore", divide="ignore"):
            columns[name] = np.where(count > 0, total / count, np.nan)
        columns[f"{name}_count"] = count
        if len(settings.field_sources(name)) > 1:
            # fmin/fmax skip NaN; a key no source has a value for stays NaN.
            columns[f"{name}_min"] = _fold(np.fmin, lows)
            columns[f"{name}_max"] = _fold(np.fmax, highs)
    plain = {
        k: v.to_numpy() if isinstance(v, pd.Series) else v for k, v in columns.items()
    }
    # The arrays are this call's own: no copy into one block (at 100,000 x 12
    # that copy, 50 MB of fresh pages, took 0.1 s at the end of every run).
    return pd.DataFrame(plain, copy=False)


class KeyCoder:
    """Turns key columns (company, period) into one sortable int64 and back.

    Each key's distinct values are sorted and numbered, so the integer order is
    the order of the key tuples: group-bys, reindexing and sorting then run on
    integers instead of millions of strings. Values are found and looked up by
    Arrow's hash kernels, a categorical column through its categories (at
    100,000 x 12: combine 417 -> 168 ms, the discrepancy check 429 -> 147 ms).
    """

    def __init__(self, frames: list, keys: list):
        self.keys = keys
        self._sorted = [_distinct([f[key] for f in frames if len(f)]) for key in keys]
        self.values = [pd.Index(pd.arrays.ArrowStringArray(v)) for v in self._sorted]

    @property
    def size(self) -> int:
        """Return how many integer keys there can be (the product of the widths)."""
        return int(np.prod([max(len(values), 1) for values in self.values]))

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the integer key of every row of ``frame`` (int32 while they fit)."""
        kind = "int32" if self.size < 2**31 else "int64"
        code = np.zeros(len(frame), dtype=kind)
        for key, values in zip(self.keys, self._sorted):
            code *= len(values)
            code += _positions(frame[key], values).astype(kind)
        return code

    def recode(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return ``frame`` with its key columns replaced by the integer key."""
        return frame.drop(columns=self.keys).assign(**{CODE: self.encode(frame)})

    def decode(self, codes: np.ndarray) -> dict:
        """Return key -> values for integer keys ``codes``."""
        out, rest = {}, codes
        for key, values in reversed(list(zip(self.keys, self.values))):
            width = max(len(values), 1)
            out[key] = values.to_numpy()[rest % width] if len(values) else rest
            rest = rest // width
        return {key: pd.array(out[key], dtype="str") for key in self.keys}


def _reduce_part(part: pd.DataFrame) -> pd.DataFrame:
    """Return one source's parts merged per key: sums and counts add, min, max.

    In NumPy, column by column over the keys' positions (``bincount``,
    ``fmin.at``): four pandas groupbys did the same with a fixed cost per call
    (combine at 1,000 x 8: 20 -> 12 ms; at 100,000 x 12 a source's merge took
    19-35 -> 14-22 ms).
    """
    kinds = {column: column.rpartition("__")[2] for column in part.columns}
    columns = [column for column, kind in kinds.items() if kind in SUFFIXES]
    keys, slots = np.unique(part[CODE].to_numpy(), return_inverse=True)
    merged = {
        column: _reduce_slots(
            part[column].to_numpy(dtype="float64"), slots, len(keys), kinds[column]
        )
        for column in columns
    }
    return pd.DataFrame(merged, index=pd.Index(keys, name=CODE))


def _reduce_slots(values: np.ndarray, slots: np.ndarray, size: int, kind: str):
    """Return ``values`` reduced per slot (``slots`` gives each value's).

    Missing values are skipped, as SQL's aggregates skip NULLs: a slot with no
    value keeps a missing sum, min and max (a count of 0 stays 0).
    """
    if kind in ("min", "max"):
        reduced = np.full(size, np.nan)
        (np.fmin if kind == "min" else np.fmax).at(reduced, slots, values)
        return reduced
    present = ~np.isnan(values)
    totals = np.bincount(slots, np.where(present, values, 0.0), size)
    if kind == "sum":
        totals[np.bincount(slots, present, size) == 0] = np.nan
    return totals


def dense_limit(rows: int) -> int:
    """Return up to how many integer keys ``rows`` observations count densely."""
    return max(DENSE_PAIRS, 4 * rows)


def _slots(codes: list, size: int) -> tuple:
    """Return (the distinct integer keys, each source's rows as indexes into them).

    Counted densely the keys are the slots themselves: (None, codes).
    """
    if size <= dense_limit(sum(len(c) for c in codes)):
        return None, codes
    pairs, inverse = np.unique(np.concatenate(codes), return_inverse=True)
    return pairs, np.split(inverse, np.cumsum([len(c) for c in codes])[:-1])


def _distinct(columns: list) -> pa.Array:
    """Return the sorted distinct non-null values of several string columns.

    In Arrow's hash and sort kernels: a categorical column gives its
    categories (all of them, used or not), any other its values.
    """
    texts = [_candidates(column) for column in columns]
    distinct = pc.unique(pa.chunked_array(texts, pa.string())).drop_null()
    return distinct.take(pc.array_sort_indices(distinct))


def _candidates(column: pd.Series) -> pa.Array:
    """Return the texts ``column`` may hold: its categories, else its values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.cat.categories.to_series()
    return pa.array(column, pa.string(), from_pandas=True)


def _positions(column: pd.Series, values: pa.Array) -> np.ndarray:
    """Return each value's position in the sorted ``values``, which hold them all.

    A categorical column looks up its categories once and takes their
    positions by code: 100,000 lookups instead of a million. (Callers drop
    rows with a missing key first.)
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        found = _positions(column.cat.categories.to_series(), values)
        return found[column.cat.codes.to_numpy()]
    text = pa.array(column, pa.string(), from_pandas=True)
    found = pc.index_in(text, value_set=values)
    return found.to_numpy(zero_copy_only=False)


def _across(reduced: list, column: str, length: int) -> list:
    """Return ``column`` of every source that has it, one array each (NaN if none)."""
    present = [r[column].to_numpy(dtype="float64") for r in reduced if column in r]
    return present or [np.full(length, np.nan)]


def _fold(ufunc, rows: list) -> np.ndarray:
    """Return ``ufunc`` applied across equal-length arrays, element by element.

    Pairwise over 1-D arrays: about ten times faster than ``ufunc.reduce`` along
    the first axis of a stacked array of a few rows.
    """
    return functools.reduce(ufunc, rows[1:], rows[0])


def _stack(frames: list, keys: list) -> pd.DataFrame:
    """Stack text counts of several sources, each (keys, field, value) counted once."""
    present = [f for f in frames if len(f)]
    if not present:
        return pd.DataFrame(columns=keys)
    stacked = pd.concat(present, ignore_index=True).dropna(subset=keys)
    if len(present) == 1:
        return stacked
    groups = stacked.groupby([*keys, "field", "value"], sort=False, observed=True)
    return groups["count"].sum().reset_index()


def most_frequent(texts: pd.DataFrame, keys: list) -> pd.DataFrame:
    """Return per key the most frequent value of each field; ties -> smallest value."""
    if texts.empty:
        return pd.DataFrame()
    if not texts.duplicated([*keys, "field"]).any():
        best = texts  # one value per key and field: nothing to rank
    else:
        order = [True] * (len(keys) + 1) + [False, True]
        ranked = texts.sort_values([*keys, "field", "count", "value"], ascending=order)
        best = ranked.drop_duplicates([*keys, "field"])
    return best.pivot(index=keys, columns="field", values="value")


def _mode_column(modes: pd.DataFrame, name: str, index) -> pd.Series:
    if name not in modes.columns:
        return pd.Series(pd.NA, index=index, dtype="str")
    return modes[name].reindex(index).astype("str")


def _text_count(texts: pd.DataFrame, name: str, keys: list, index) -> pd.Series:
    chosen = texts[texts["field"] == name] if len(texts) else texts
    if chosen.empty:
        return pd.Series(0, index=index, dtype="int64")
    totals = chosen.groupby(keys)["count"].sum()
    return totals.reindex(index).fillna(0).astype("int64")


#: Company-period codes are counted in a dense array while it stays this small
#: (or within a few times the observations); beyond it they are compacted first.
DENSE_PAIRS = 1 << 22


def find_discrepancies(observations: dict, fields, tolerance: float) -> list:
    """Return per company-period values of ``fields`` that disagree between sources.

    ``observations`` maps source -> rows with company_id, period_end and fields in
    canonical units; values a, b disagree when |a - b| > tolerance * max(|a|, |b|).
    Several rows of one source for the same company-period count as their mean.
    Company and period become one integer per row (KeyCoder), once for all fields.
    """
    keys = ["company_id", "period_end"]
    frames = {s: f for s, f in observations.items() if len(f)}
    if len(frames) < 2:
        return []
    coder = KeyCoder(list(frames.values()), keys)
    coded = {}
    for source, frame in frames.items():
        known = frame[keys].notna().all(axis=1).to_numpy()
        coded[source] = (known, coder.encode(frame.loc[known, keys]))
    found = []
    for name in fields:
        found += _disagreements(frames, coded, coder, name, tolerance)
    return sorted(found, key=lambda d: (d["company_id"], d["period_end"], d["field"]))


def _disagreements(frames: dict, coded: dict, coder, name: str, tolerance) -> list:
    """Return the discrepancy records of one field.

    Each source's mean per company-period is a pair of bincounts over the
    integer keys: NumPy, no group-by over strings. Only the pairs two sources
    hold are kept past the counting, and the comparison reuses its buffers: at
    100k x 12 the check peaked 158 MB above its inputs, a million-long array
    per step and source (measured with tracemalloc).
    """
    names, codes, values = [], [], []
    for source, frame in frames.items():
        if name not in frame.columns:
            continue
        known, code = coded[source]
        value = frame[name].to_numpy(dtype="float64")[known]
        present = ~np.isnan(value)
        if present.any():
            names.append(source)
            codes.append(code[present])
            values.append(value[present])
    if len(codes) < 2:
        return []
    pairs, slots = _slots(codes, coder.size)
    del codes
    width = coder.size if pairs is None else len(pairs)
    counts = [np.bincount(s, minlength=width) for s in slots]
    holders = _fold(np.add, [(c > 0).view("int8") for c in counts])
    shared = np.flatnonzero(holders > 1)
    del holders
    means, held = [], []
    for slot, value, count in zip(slots, values, counts):
        taken = count[shared]
        held.append(taken > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(np.bincount(slot, value, width)[shared] / taken)
    del slots, values, counts
    hits = _differing(means, tolerance)
    keys = coder.decode(shared[hits] if pairs is None else pairs[shared[hits]])
    return [
        {
            "company_id": keys["company_id"][n],
            "period_end": keys["period_end"][n],
            "field": name,
            "values": {
                names[row]: float(means[row][i])
                for row in range(len(names))
                if held[row][i]
            },
        }
        for n, i in enumerate(hits)
    ]


def _differing(means: list, tolerance: float) -> np.ndarray:
    """Return where the sources' means differ by more than ``tolerance`` (relative).

    Values a, b differ when |a - b| > tolerance * max(|a|, |b|); NaN (a source
    without the pair) is skipped by fmax/fmin (nanmax would copy first).
    """
    high = _fold(np.fmax, means)
    low = _fold(np.fmin, means)
    np.subtract(high, low, out=high)  # the spread
    np.fmax(np.abs(means[0]), np.abs(means[-1]), out=low)
    for other in means[1:-1]:
        np.fmax(low, np.abs(other), out=low)
    np.multiply(low, tolerance, out=low)  # the allowed spread
    return np.flatnonzero(high > low)
