"""Pure pandas: merge exact (sum, count) parts into means, modes and discrepancies.

Nothing here mutates its inputs or loops over rows in Python: every step is a
groupby, a concat or a vectorised comparison.
"""

import numpy as np
import pandas as pd

SUFFIXES = ("sum", "count", "min", "max")


def group_keys(group_by: str) -> list:
    """Return the output key columns for ``group_by``."""
    return ["company_id"] + (["period_end"] if group_by == "company_period" else [])


def rows_to_parts(rows: pd.DataFrame, fields, keys: list) -> pd.DataFrame:
    """Return per key the (sum, count, min, max) of each field over ``rows``.

    Rows are reduced here, source by source, so a million-row source leaves a
    part per company (or company and period) rather than four copies of itself.
    """
    present = [name for name in fields if name in rows.columns]
    rows = rows.dropna(subset=keys)
    if not present:
        return rows[keys].drop_duplicates(ignore_index=True)
    grouped = rows[[*keys, *present]].groupby(keys, sort=False, observed=True)
    reduced = grouped.agg(["sum", "count", "min", "max"])
    reduced.columns = [f"{name}__{how}" for name, how in reduced.columns]
    return reduced.reset_index()


def rows_to_text_counts(rows: pd.DataFrame, fields, keys: list) -> pd.DataFrame:
    """Return (keys, field, value, count) for the non-null text values of ``rows``."""
    return _text_counts(rows, fields, keys, None)


def partials_to_text_counts(parts: pd.DataFrame, fields, keys: list) -> pd.DataFrame:
    """Return text value counts from per-key partials grouped by the text columns."""
    return _text_counts(parts, fields, keys, "rows")


def _text_counts(frame: pd.DataFrame, fields, keys: list, weight) -> pd.DataFrame:
    """Count each (keys, value) of each text field, rows weighted by ``weight``."""
    counted = []
    for name in (f for f in fields if f in frame.columns):
        chosen = frame.dropna(subset=[*keys, name])
        groups = chosen.groupby([*keys, name], sort=False, observed=True)
        counts = groups.size() if weight is None else groups[weight].sum()
        long = counts.rename("count").reset_index()
        counted.append(long.rename(columns={name: "value"}).assign(field=name))
    columns = [*keys, "field", "value", "count"]
    if not counted:
        return pd.DataFrame(columns=columns)
    joined = pd.concat(counted, ignore_index=True)[columns]
    return joined.sort_values(columns[:-1], ignore_index=True)


def combine(parts: list, text_counts: list, fields, settings, keys: list):
    """Return one row per key: mean, count (and min/max for multi-source fields)."""
    numeric = [f for f in fields if settings.canonical_fields[f].type == "numeric"]
    stacked, texts = _stack(parts, keys), _stack(text_counts, keys)
    index = _key_index(stacked, texts, keys)
    sums = _reduce(stacked, keys, [f"{f}__sum" for f in numeric], "sum", index)
    counts = _reduce(stacked, keys, [f"{f}__count" for f in numeric], "sum", index)
    counts = counts.fillna(0).astype("int64")
    lows = _reduce(stacked, keys, [f"{f}__min" for f in numeric], "min", index)
    highs = _reduce(stacked, keys, [f"{f}__max" for f in numeric], "max", index)
    modes = most_frequent(texts, keys)
    columns = {}
    for name in fields:
        if name not in numeric:
            columns[name] = _mode_column(modes, name, index)
            columns[f"{name}_count"] = _text_count(texts, name, keys, index)
            continue
        count = counts[f"{name}__count"]
        columns[name] = (sums[f"{name}__sum"] / count).where(count > 0)
        columns[f"{name}_count"] = count
        if len(settings.field_sources(name)) > 1:
            columns[f"{name}_min"] = lows[f"{name}__min"]
            columns[f"{name}_max"] = highs[f"{name}__max"]
    return pd.DataFrame(columns, index=index).reset_index()


def _stack(frames: list, keys: list) -> pd.DataFrame:
    present = [f for f in frames if len(f)]
    if not present:
        return pd.DataFrame(columns=keys)
    return pd.concat(present, ignore_index=True).dropna(subset=keys)


def _key_index(stacked: pd.DataFrame, texts: pd.DataFrame, keys: list):
    pairs = pd.concat([stacked[keys], texts[keys]], ignore_index=True)
    pairs = pairs.drop_duplicates().astype("str").sort_values(keys)
    if len(keys) == 1:
        return pd.Index(pairs[keys[0]], name=keys[0])
    return pd.MultiIndex.from_frame(pairs)


def _reduce(stacked: pd.DataFrame, keys: list, columns: list, how: str, index):
    """Return ``columns`` reduced per key in one groupby; absent columns are NaN."""
    present = [c for c in columns if c in stacked.columns]
    out = pd.DataFrame(np.nan, index=index, columns=columns, dtype="float64")
    if not present or stacked.empty:
        return out
    values = stacked[keys].join(stacked[present].astype("float64"))
    grouped = values.groupby(keys, sort=True)[present]
    reduced = grouped.sum(min_count=1) if how == "sum" else getattr(grouped, how)()
    out[present] = reduced.reindex(index)
    return out


def most_frequent(texts: pd.DataFrame, keys: list) -> pd.DataFrame:
    """Return per key the most frequent value of each field; ties -> smallest value."""
    if texts.empty:
        return pd.DataFrame()
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


def find_discrepancies(observations: dict, fields, tolerance: float) -> list:
    """Return per company-period values of ``fields`` that disagree between sources.

    ``observations`` maps source -> rows with company_id, period_end and fields in
    canonical units; values a, b disagree when |a - b| > tolerance * max(|a|, |b|).
    Several rows of one source for the same company-period count as their mean.
    """
    found = []
    for name in fields:
        found += _disagreements(observations, name, tolerance)
    return sorted(found, key=lambda d: (d["company_id"], d["period_end"], d["field"]))


def _disagreements(observations: dict, name: str, tolerance: float) -> list:
    """Return the discrepancy records of one field.

    Company and period are factorized into one integer per company-period, and
    each source's mean per company-period is a pair of bincounts: NumPy, no
    group-by over millions of strings.
    """
    frames = {
        source: frame.dropna(subset=["company_id", "period_end", name])
        for source, frame in observations.items()
        if name in frame.columns and len(frame)
    }
    if len(frames) < 2:
        return []
    long = pd.concat(
        [f[["company_id", "period_end", name]] for f in frames.values()],
        ignore_index=True,
    )
    company, companies = pd.factorize(long["company_id"])
    period, periods = pd.factorize(long["period_end"])
    width = max(len(periods), 1)
    pairs, slot = np.unique(
        company.astype("int64") * width + period, return_inverse=True
    )
    values = long[name].to_numpy(dtype="float64")
    sums = np.zeros((len(frames), len(pairs)))
    counts = np.zeros((len(frames), len(pairs)))
    start = 0
    for row, frame in enumerate(frames.values()):
        part = slice(start, start + len(frame))
        sums[row] = np.bincount(slot[part], values[part], minlength=len(pairs))
        counts[row] = np.bincount(slot[part], minlength=len(pairs))
        start += len(frame)
    shared = np.flatnonzero((counts > 0).sum(axis=0) > 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums[:, shared] / counts[:, shared]
    high, low = np.nanmax(means, axis=0), np.nanmin(means, axis=0)
    hits = np.flatnonzero(high - low > tolerance * np.nanmax(np.abs(means), axis=0))
    names = list(frames)
    return [
        {
            "company_id": companies[pairs[shared[i]] // width],
            "period_end": periods[pairs[shared[i]] % width],
            "field": name,
            "values": {
                names[row]: float(means[row, i])
                for row in range(len(names))
                if counts[row, shared[i]] > 0
            },
        }
        for i in hits
    ]
