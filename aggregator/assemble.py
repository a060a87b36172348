"""Turn fetched source frames into filtered, id-corrected, scaled parts. Pure pandas.

Per source: map to canonical names, resolve raw keys, apply the filters left to
the aggregator (own filters in source units, then the period and company scope),
set rejected rows aside, then keep rows whose (company, period) passed the
filters held by other sources, and finally apply unit scales.
"""

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from aggregator import row_filter
from aggregator.aggregate import rows_to_parts, rows_to_text_counts
from aggregator.partial_pages import PART_ROW, PartialPage
from aggregator.periods import in_range
from aggregator.schema_map import MappedRows, apply_scale, as_mapped, map_partials


@dataclass(frozen=True)
class Scope:
    """The requested companies (empty: all) and period range, applied to rows."""

    companies: tuple = ()
    start: str | None = None
    end: str | None = None

    def company_mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Return rows of the requested companies (all rows when none requested)."""
        if not self.companies:
            return np.ones(len(frame), dtype=bool)
        return frame["company_id"].isin(list(self.companies)).to_numpy()

    def period_mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Return rows whose ISO period end is in range (all rows when no range)."""
        if not (self.start or self.end):
            return np.ones(len(frame), dtype=bool)
        return in_range(frame["period_end"], self.start, self.end).to_numpy()


@dataclass(frozen=True)
class SourceData:
    """One source's data after mapping and filtering, before aggregation."""

    name: str
    mode: str
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    supplies: dict = field(default_factory=dict)
    observations: pd.DataFrame | None = None
    mismatches: tuple = ()
    resolutions: dict = field(default_factory=dict)
    warnings: tuple = ()
    parts: pd.DataFrame | None = None
    text_counts: pd.DataFrame | None = None
    key_rows: pd.Series | None = None


def join_chunks(kinds: dict) -> dict:
    """Return one source's {kind: result}, each kind's query results joined in order.

    The lists are emptied as they are joined, so each query's own result is
    freed as soon as the joined one holds its rows.
    """
    joined = {}
    for kind, parts in kinds.items():
        joined[kind] = _stack(parts)
        parts.clear()
    return joined


def _stack(parts: list):
    if len(parts) == 1:
        return parts[0]
    if any(isinstance(part, (MappedRows, PartialPage)) for part in parts):
        return type(parts[0]).concat(parts)
    # Empty chunks are left out: their column dtypes may differ from the others'.
    filled = [p for p in parts if not p.empty] or parts[:1]
    if len(filled) == 1:
        return filled[0]
    return pd.concat(filled, ignore_index=True)


@dataclass(frozen=True)
class Reduction:
    """How final rows become per-key parts: the fields, the output keys (company,
    or company and period) and the fields the discrepancy check observes per row.
    """

    fields: tuple
    settings: object
    keys: list
    observed: tuple = ()


def normalise_source(
    source_plan, source, frames: dict, resolver, scope, reduction=None
) -> SourceData:
    """Map, resolve and filter one source's frames (``frames`` keyed by kind).

    With a ``reduction`` the rows are final (no other source's filter narrows
    them): they are reduced per key at once (see ``reduced``), without a copy
    of the accepted rows.
    """
    if source_plan.mode == "partial":
        return _normalise_partial(source_plan, source, frames, resolver, scope)
    return _normalise_rows(source_plan, source, frames, resolver, scope, reduction)


def _kept(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """Return the rows ``mask`` selects; the frame itself (no copy) when it is all."""
    return frame if mask.all() else frame[mask]


def _resolve(frame: pd.DataFrame, resolver) -> tuple:
    """Add ``company_id``: each distinct raw key resolved once, then spread back."""
    codes, uniques = pd.factorize(frame["raw_key"])
    keys = uniques.tolist()  # one C++ call; iterating an Arrow array is slow
    resolutions = resolver(keys) if keys else {}
    if list(resolutions) == keys:  # in the keys' order, as resolve_many keeps it
        found = [resolution.company_id for resolution in resolutions.values()]
    else:
        found = [resolutions[raw].company_id for raw in keys]
    ids = pd.array(found, dtype="str")
    company = pd.Series(ids.take(codes, allow_fill=True), index=frame.index)
    return frame.assign(company_id=company), resolutions


def _normalise_rows(source_plan, source, frames, resolver, scope, reduction):
    mapped = as_mapped(frames[source_plan.mode], source)
    rows, resolutions = _resolve(mapped.frame, resolver)
    masks = row_filter.own_masks(rows, source_plan.residual, source.unit_scale)
    own = row_filter.all_of(masks.values(), len(rows))
    period_ok = scope.period_mask(rows)
    known = rows["company_id"].notna().to_numpy()
    in_scope = known & period_ok & scope.company_mask(rows)
    everything = np.ones(len(rows), dtype=bool)
    supplies = {
        flt: _kept(rows, in_scope & masks.get(flt, everything))
        for flt in (*source_plan.pushed, *source_plan.residual)
    }
    data = SourceData(
        name=source.name,
        mode=source_plan.mode,
        accepted=rows,
        rejected=rows[~known & period_ok & own],
        supplies=supplies,
        mismatches=mapped.mismatches(source.name, in_scope | (~known & period_ok)),
        resolutions=resolutions,
    )
    if reduction is not None:
        return _reduce(data, in_scope & own, reduction)
    return replace(data, accepted=_kept(rows, in_scope & own))


def _normalise_partial(source_plan, source, frames, resolver, scope) -> SourceData:
    page = frames["partial"]  # a PartialPage, finished while fetching
    parts, resolutions = _resolve(map_partials(page.frame, source), resolver)
    keep = parts["company_id"].notna().to_numpy() & scope.company_mask(parts)
    rejected, mismatches = _partial_rejected(frames.get("rejected"), source)
    observations = None
    if page.observations is not None:
        observations = _observed(page.observations, parts, keep)
    if page.bad is not None:
        # Rows of rejected keys are reported from their own (rejected) query.
        bad, _ = _resolve(page.bad.frame, resolver)
        in_scope = bad["company_id"].notna().to_numpy() & scope.company_mask(bad)
        mismatches = page.bad.mismatches(source.name, in_scope) + mismatches
    texts, lost = _partial_texts(page.texts, parts, keep, source)
    return SourceData(
        name=source.name,
        mode="partial",
        accepted=_kept(parts, keep),
        rejected=rejected,
        observations=observations,
        mismatches=mismatches,
        resolutions=resolutions,
        warnings=_drift_warning(parts, rejected, source.name) + lost,
        text_counts=texts,
    )


def _partial_texts(counted, parts: pd.DataFrame, keep, source) -> tuple:
    """Return (company_id, field, value, count) of kept keys, and warnings.

    ``counted`` is ``PartialPage.texts``; a key whose values could not be
    counted (count -1: a value held the packing separator) is reported.
    """
    columns = ["company_id", "field", "value", "count"]
    if counted is None or counted.empty:
        return pd.DataFrame(columns=columns), ()
    row = counted[PART_ROW].to_numpy()
    chosen = counted[keep[row]]
    lost = chosen["count"] < 0
    warnings = tuple(
        f"{source.name}: the {column} values of {int(n)} keys held the packing "
        "separator and were not counted"
        for column, n in chosen.loc[lost, "column"].value_counts().items()
    )
    chosen = chosen[~lost]
    company = parts["company_id"].to_numpy()[chosen[PART_ROW].to_numpy()]
    names = {column: field for field, column in source.field_columns.items()}
    texts = pd.DataFrame(
        {
            "company_id": pd.array(company, dtype="str"),
            "field": chosen["column"].map(names).to_numpy(),
            "value": pd.array(chosen["value"].to_numpy(), dtype="str"),
            "count": chosen["count"].to_numpy(dtype="int64"),
        }
    )
    return texts, warnings


def _observed(observations: pd.DataFrame, parts: pd.DataFrame, keep) -> pd.DataFrame:
    """Return the per-row observations with their company ids (kept keys only).

    Each observation names its key's row in ``parts``, which is resolved already:
    its company id is that row's (a Categorical, no string per row). Rows of keys
    not kept get no company, which the discrepancy check skips, rather than a
    filtered copy of a million rows.
    """
    codes, ids = pd.factorize(parts["company_id"])
    kept_codes = np.where(keep, codes, -1)
    row = observations[PART_ROW].to_numpy()
    company = pd.Categorical.from_codes(kept_codes[row], pd.Index(ids, dtype="str"))
    return observations.drop(columns=PART_ROW).assign(company_id=company)


def _partial_rejected(frame, source) -> tuple:
    if frame is None:
        empty = pd.DataFrame(columns=["raw_key", "period_end", "company_id"])
        return empty, ()
    mapped = as_mapped(frame, source)
    return mapped.frame.assign(company_id=pd.NA), mapped.mismatches(source.name)


def _drift_warning(parts: pd.DataFrame, rejected: pd.DataFrame, name: str) -> tuple:
    listed = row_filter.text_in(parts["raw_key"], rejected["raw_key"])
    unlisted = parts[parts["company_id"].isna() & ~listed]
    if unlisted.empty:
        return ()
    rows = int(unlisted["rows"].sum())
    return (
        f"{name}: {rows} rows of keys that appeared after key discovery were "
        "rejected but could not be listed",
    )


def apply_via_keys(data: SourceData, source_plan, keys: dict) -> SourceData:
    """Keep rows whose (company, period) passed every filter held elsewhere."""
    if not source_plan.via_keys or data.mode == "partial":
        return data
    mask = row_filter.all_of(
        (row_filter.in_keys(data.accepted, keys[f]) for f in source_plan.via_keys),
        len(data.accepted),
    )
    return replace(data, accepted=data.accepted[mask])


def surviving_keys(datas: dict, filters) -> dict:
    """Return filter -> the (company, period) pairs some holder row satisfied."""
    return {
        flt: row_filter.passing_keys(
            [d.supplies[flt] for d in datas.values() if flt in d.supplies]
        )
        for flt in filters
    }


def scaled(data: SourceData, source) -> SourceData:
    """Return ``data`` with the source's unit scale applied to every frame."""
    obs = data.observations
    return replace(
        data,
        accepted=apply_scale(data.accepted, source),
        rejected=apply_scale(data.rejected, source),
        observations=None if obs is None else apply_scale(obs, source),
        parts=None if data.parts is None else apply_scale(data.parts, source),
    )


def reduced(data: SourceData, reduction: Reduction) -> SourceData:
    """Return a rows source's final data with its accepted rows reduced per key.

    What later steps need of the rows is kept, so the rows themselves (a million
    per source at scale) can go: the parts and text counts per output key, the
    rows per raw key (corrections) and, per row, the observed fields with their
    company and period (the discrepancy check; both Categorical). Partial data,
    already per key, and data reduced before are returned as they are.
    """
    if data.mode == "partial" or data.parts is not None:
        return data
    return _reduce(data, None, reduction)


def _reduce(data: SourceData, keep, reduction: Reduction) -> SourceData:
    """Reduce ``data.accepted``, or only its rows ``keep`` selects (no copy)."""
    rows = data.accepted
    grouped = rows  # the rows not kept lose their company, so no group has them
    if keep is not None and not keep.all():
        grouped = rows.assign(company_id=rows["company_id"].where(keep))
    else:
        keep = slice(None)
    parts, texts = _rows_parts(grouped, reduction)
    present = [f for f in reduction.observed if f in rows.columns]
    observations = None
    if present:
        observations = rows.loc[keep, ["company_id", "period_end", *present]]
        observations = observations.astype(
            {"company_id": "category", "period_end": "category"}
        )
    raw_keys = rows.loc[keep, "raw_key"]
    return replace(
        data,
        accepted=_empty_like(rows),
        parts=parts,
        text_counts=texts,
        key_rows=raw_keys.groupby(raw_keys).size(),
        observations=observations,
    )


def _rows_parts(rows: pd.DataFrame, reduction: Reduction) -> tuple:
    """Return the (sum, count, min, max) parts and text counts of rows."""
    settings, keys = reduction.settings, reduction.keys
    fields = reduction.fields
    numeric = [f for f in fields if settings.canonical_fields[f].type == "numeric"]
    text = [f for f in fields if f not in numeric]
    shared = [f for f in numeric if len(settings.field_sources(f)) > 1]
    return (
        rows_to_parts(rows, numeric, keys, shared),
        rows_to_text_counts(rows, text, keys),
    )


def _empty_like(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a frame with ``frame``'s columns and dtypes and no rows.

    Built anew: an empty slice would share, and keep alive, every buffer of the
    rows (Arrow text slices do even when copied).
    """
    return pd.DataFrame(
        {name: pd.Series([], dtype=dtype) for name, dtype in frame.dtypes.items()}
    )


def _source_parts(data: SourceData, fields, settings, keys: list) -> tuple:
    """Return one source's (sum, count, min, max) parts and text counts.

    Rows are reduced per key first (the pipeline has done so already).
    """
    if data.mode != "partial":
        data = reduced(data, Reduction(tuple(fields), settings, keys))
        return data.parts, data.text_counts
    return data.accepted, data.text_counts


def parts_and_texts(plan, settings, datas: dict, keys: list) -> tuple:
    """Return the (sum, count, min, max) parts and text counts of every source."""
    parts, texts = [], []
    for name, data in datas.items():
        fields = plan.sources[name].fields
        if fields:
            part, text = _source_parts(data, fields, settings, keys)
            parts.append(part)
            texts.append(text)
    return parts, texts


def overlap_fields(query, settings) -> list:
    """Return the requested numeric fields that more than one source holds."""
    return [
        f
        for f in query.fields
        if settings.canonical_fields[f].type == "numeric"
        and len(settings.field_sources(f)) > 1
    ]


def observations(datas: dict, fields: list) -> dict:
    """Return source -> per-period rows of ``fields`` for the discrepancy check.

    Each source's are its ``observations``: rows data keeps them when it is
    reduced (``reduced``), partial pages while they are fetched.
    """
    out = {}
    for name, data in datas.items():
        frame = data.observations
        if frame is None:
            continue
        present = [f for f in fields if f in frame.columns]
        if present:
            out[name] = frame[["company_id", "period_end", *present]]
    return out
