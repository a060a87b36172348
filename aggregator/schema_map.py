"""Map source results to canonical fields: rename, parse amounts, periods, scale."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aggregator.errors import UpstreamError
from aggregator.packed import (
    SEPARATOR,
    blank_to_null,
    row_owner,
    split_values,
    text_array,
)
from aggregator.periods import normalise_periods
from aggregator.sqlgen import ROWS_ALIAS

PART_SUFFIXES = ("sum", "count", "min", "max")
MAX_EXAMPLES = 3
MAX_MISMATCH_ROWS = 20
#: Results at least this long parse their text-amount columns on two threads.
PARALLEL_PARSE_ROWS = 100_000
# RE2 syntax: its \s is ASCII only, so \p{Z} adds Unicode spaces (no-break...).
_CURRENCY = r"[$€£¥\s\x0b\x1c-\x1f\x85\p{Z}]"
# ASCII digits only: other Unicode digits used to pass the check and then parse to
# NaN, silently dropping the value instead of reporting a type mismatch.
_UNSIGNED = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_AMOUNT = rf"[+-]?{_UNSIGNED}"
#: The shapes nearly every amount has: no symbol, no space, at most parentheses.
_PLAIN = rf"^(?:{_AMOUNT}|\({_UNSIGNED}\))$"
_PLAIN_OR_BLANK = rf"(?:{_AMOUNT}|\({_UNSIGNED}\))?"
#: A key's packed amounts (see packed.py) that are all plain or blank.
_PACKED_PLAIN = rf"^{_PLAIN_OR_BLANK}(?:{SEPARATOR}{_PLAIN_OR_BLANK})*$"


class ResultShapeError(UpstreamError):
    """A source result lacks a column the aggregator needs (e.g. the key)."""


@dataclass(frozen=True)
class MappedRows:
    """Rows in canonical names (source units) plus, per field, what did not parse."""

    frame: pd.DataFrame
    bad: dict

    @classmethod
    def concat(cls, parts: list) -> "MappedRows":
        """Join the mapped pages of one result, in order, into one MappedRows.

        ``parts`` is emptied as it is read: the numbers go into one block made
        for all rows, and each page is let go once they are copied, so a million
        rows are not held twice over while they are joined.
        """
        if len(parts) == 1:
            return parts[0]
        first = parts[0].frame
        # In column order, as map_rows lists them.
        fields = [c for c in first.columns if any(c in part.bad for part in parts)]
        bad, offsets = {}, np.cumsum([0] + [len(part.frame) for part in parts])
        for name in fields:
            masks, values = [], []
            for part, offset in zip(parts, offsets):
                mask, raw = part.bad.get(name, (None, None))
                masks.append(np.zeros(len(part.frame), bool) if mask is None else mask)
                if raw is not None:
                    values.append(raw.set_axis(raw.index + offset))
            bad[name] = (np.concatenate(masks), pd.concat(values))
        return cls(_join_frames(parts, offsets), bad)

    def mismatches(self, source: str, keep=None) -> tuple:
        """Return the type mismatches among the rows ``keep`` selects (default all).

        ``bad`` maps field -> (mask over all rows, the unparsed values of those rows).
        """
        found = []
        for field_name, (mask, raw) in self.bad.items():
            chosen = mask if keep is None else mask & keep
            if chosen.any():
                found.append(_mismatch(source, field_name, raw, chosen, self.frame))
        return tuple(found)


def _join_frames(parts: list, offsets) -> pd.DataFrame:
    """Stack the pages' frames (emptying ``parts``); floats are copied page by page."""
    first = parts[0].frame
    columns = list(first.columns)
    floats = [
        c
        for c in columns
        if all(
            list(p.frame.columns) == columns and p.frame[c].dtype == np.float64
            for p in parts
        )
    ]
    if not floats:
        frame = pd.concat([p.frame for p in parts], ignore_index=True)
        parts.clear()
        return frame
    block = np.empty((len(floats), offsets[-1]))
    others = {c: [] for c in columns if c not in floats}
    for index, offset in enumerate(offsets[:-1]):
        page, parts[index] = parts[index].frame, None
        block[:, offset : offset + len(page)] = page[floats].to_numpy().T
        for name, pieces in others.items():
            pieces.append(page[name])
        del page
    parts.clear()
    # A 2-D float block is taken as it is: no copy.
    frame = pd.DataFrame(block.T, columns=floats, copy=False)
    for name, pieces in others.items():
        frame.insert(columns.index(name), name, pd.concat(pieces, ignore_index=True))
    return frame


#: Result kinds whose rows map with ``map_rows`` (page by page while fetching).
ROW_KINDS = frozenset({"rows", "rejected", "raw"})


class PageJoin:
    """What ``SourceClient.run_query`` needs of a page mapper besides ``map``.

    ``joined`` is the type pages map to: it has ``concat`` and a ``frame``.
    """

    joined: type

    @classmethod
    def join(cls, parts: list):
        """Return the mapped pages joined in order."""
        return cls.joined.concat(parts)

    @staticmethod
    def frame_of(mapped) -> pd.DataFrame:
        """Return the frame of a joined mapping."""
        return mapped.frame


@dataclass(frozen=True)
class PageMapper(PageJoin):
    """Maps each page of a row result as it arrives (``SourceClient.run_query``)."""

    source: object
    joined = MappedRows

    @staticmethod
    def cache_variant() -> tuple:
        """Return what, beside the SQL, tells this mapping's results apart."""
        return ("mapped",)

    def map(self, frame: pd.DataFrame) -> MappedRows:
        """Return one page in canonical names, parsed."""
        return map_rows(frame, self.source)


def as_mapped(result, source) -> MappedRows:
    """Return a row result mapped: as it came if mapped while fetching, else now."""
    return result if isinstance(result, MappedRows) else map_rows(result, source)


def parse_amounts(values: pd.Series) -> tuple:
    """Parse text amounts ("1,234.50", "(200.00)", "-$5") -> (floats, bad mask).

    Runs in Arrow's compute kernels (RE2 regexes, C++ casts): no Python object per
    value. Values of the common shapes ("-1,234.50", "(200.00)") take a short path;
    the rest (symbols, spaces, blanks, malformed) go through the full rules.
    """
    text = _arrow_text(values)
    plain = _matches(text, _PLAIN)
    digits = pc.replace_substring(
        pc.utf8_trim(pc.if_else(plain, text, None), "()"), ",", ""
    )
    floats = _floats(digits)
    negative = _bools(pc.fill_null(pc.starts_with(text, "("), False))
    np.negative(floats, out=floats, where=negative)
    bad = np.zeros(len(floats), dtype=bool)
    others = np.flatnonzero(~_bools(plain))
    if len(others):
        floats[others], bad[others] = _parse_other(pc.take(text, pa.array(others)))
    return pd.Series(floats, index=values.index, dtype="float64"), bad


def parse_packed_amounts(packed, rows: np.ndarray) -> tuple:
    """Parse a packed text-amount column -> (floats per row, bad mask, bad text).

    ``rows`` holds each key's row count (see packed.py); the bad text is a Series
    of the values that did not parse, by row number. A key whose values are all
    plain or blank is parsed as one text: its commas go, then it is split and
    cast (``_quick_amounts``). Other keys' values take the full rules
    of ``parse_amounts``, one by one; so the result is the same, only sooner.
    """
    text = text_array(packed)
    owner = row_owner(rows)
    quick_keys = _bools(_matches(text, _PACKED_PLAIN))
    floats = np.full(len(owner), np.nan)
    bad = np.zeros(len(owner), dtype=bool)
    if quick_keys.any():
        floats[quick_keys[owner]] = _quick_amounts(text, rows, quick_keys)
    if quick_keys.all():
        return floats, bad, pd.Series([], dtype="str")
    rest = ~quick_keys
    raw, wrong = split_values(pc.filter(text, pa.array(rest)), rows[rest])
    at = np.flatnonzero(rest[owner])
    values = pd.Series(pd.arrays.ArrowStringArray(blank_to_null(raw)))
    parsed, failed = parse_amounts(values)
    floats[at], bad[at] = parsed.to_numpy(), failed
    raw = pd.Series(raw.to_pylist(), index=at, dtype="str")
    unsure = wrong[row_owner(rows[rest])]
    if unsure.any():  # a value held the separator: the key's values are unsure
        floats[at[unsure]], bad[at[unsure]] = np.nan, True
        keys = np.flatnonzero(rest)[row_owner(rows[rest])][unsure]
        raw.iloc[np.flatnonzero(unsure)] = pc.take(text, pa.array(keys)).to_pylist()
    return floats, bad, raw[bad[at]]


def _quick_amounts(text, rows: np.ndarray, quick_keys: np.ndarray) -> np.ndarray:
    """Return the floats of the keys in ``quick_keys``, whose values are all plain.

    Commas go from the packed text, which is then split; a value in parentheses
    is negated once cast: one pass of an Arrow kernel per step, two fewer than
    rewriting both parentheses in the packed text (measured on bench cash-flow
    packs: 93 -> 83 ms of CPU per 711,000 values, 12 million per 100k x 12 run).
    A key whose text splits into more values than it has rows (a value held the
    separator) is taken out of ``quick_keys``, in place.
    """
    chosen = text if quick_keys.all() else pc.filter(text, pa.array(quick_keys))
    lists = pc.split_pattern(pc.replace_substring(chosen, ",", ""), SEPARATOR)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    fits = lengths == rows[quick_keys]
    if not fits.all():  # plain pieces, but a value held the separator
        quick_keys[np.flatnonzero(quick_keys)[~fits]] = False
        lists = pc.filter(lists, pa.array(fits))
    values = pc.list_flatten(lists)
    negative = _bools(pc.starts_with(values, "("))
    floats = _floats(blank_to_null(pc.ascii_trim(values, "()")))
    np.negative(floats, out=floats, where=negative)
    return floats


def _parse_other(text) -> tuple:
    """Full rules: trim, "(...)" negates, drop currency symbols and spaces, check."""
    text = pc.utf8_trim_whitespace(text)
    negative = _matches(text, r"^\(.*\)$")
    inner = pc.if_else(negative, pc.utf8_slice_codeunits(text, 1, -1), text)
    inner = pc.replace_substring_regex(inner, _CURRENCY, "")
    valid = pc.and_(
        _matches(inner, f"^{_AMOUNT}$"),
        pc.invert(pc.and_(negative, _matches(inner, "^[+-]"))),
    )
    digits = pc.replace_substring(pc.if_else(valid, inner, None), ",", "")
    floats = _floats(digits)
    np.negative(floats, out=floats, where=_bools(negative))
    blank = pc.fill_null(pc.equal(text, ""), True)
    return floats, _bools(pc.and_(pc.invert(blank), pc.invert(valid)))


def _arrow_text(values: pd.Series) -> pa.Array:
    """Return ``values`` as an Arrow string array (zero-copy for Arrow-backed text)."""
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype("str").where(values.notna())
    return pa.array(values)


def _floats(digits) -> np.ndarray:
    """Return checked number text (or null) as a writable float64 array (NaN: null)."""
    return np.array(pc.cast(digits, pa.float64()).to_numpy(zero_copy_only=False))


def _matches(text, pattern: str):
    """Return a boolean array: ``pattern`` (RE2) found in each value; null -> False."""
    return pc.fill_null(pc.match_substring_regex(text, pattern), False)


def _bools(mask) -> np.ndarray:
    """Return an Arrow boolean array without nulls as a NumPy bool array."""
    return mask.to_numpy(zero_copy_only=False).astype(bool)


def to_numbers(values: pd.Series) -> tuple:
    """Return (floats, bad mask) for a column that should already be numeric."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), pd.Series(False, index=values.index).to_numpy()
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return numbers, (values.notna() & numbers.isna()).to_numpy()


def map_rows(frame: pd.DataFrame, source) -> MappedRows:
    """Rename a row result to canonical fields; parse numbers and periods."""
    _require(frame, source.company_column, source.name)
    out = {"raw_key": frame[source.company_column].astype("str")}
    has_period = source.period_column in frame.columns
    raw_periods = frame[source.period_column] if has_period else None
    periods = (
        normalise_periods(raw_periods, source.period_format)
        if has_period
        else pd.Series(pd.NA, index=frame.index, dtype="str")
    )
    out["period_end"] = periods
    bad = {}
    if has_period:
        bad["period_end"] = (
            (raw_periods.notna() & periods.isna()).to_numpy(),
            raw_periods,
        )
    columns = _field_columns(frame, source)
    converted = _convert_all(frame, source, [column for column, _ in columns])
    for column, canonical in columns:
        out[canonical], mask = converted[column]
        bad[canonical] = (mask, frame[column])
    mapped = pd.DataFrame(out, index=frame.index).reset_index(drop=True)
    # Only the values that did not parse are kept, not whole raw columns.
    bad = {
        k: (m, raw.reset_index(drop=True)[m]) for k, (m, raw) in bad.items() if m.any()
    }
    return MappedRows(mapped, bad)


def map_partials(frame: pd.DataFrame, source) -> pd.DataFrame:
    """Rename a partial-aggregate result (per raw key) to canonical part columns."""
    _require(frame, source.company_column, source.name)
    out = {"raw_key": frame[source.company_column].astype("str")}
    out["rows"] = pd.to_numeric(frame[ROWS_ALIAS]).astype("int64")
    for canonical, column in source.field_columns.items():
        if column in frame.columns:
            out[canonical] = frame[column].astype("str").where(frame[column].notna())
        for suffix in PART_SUFFIXES:
            name = f"{column}__{suffix}"
            if name in frame.columns:
                out[f"{canonical}__{suffix}"] = to_numbers(frame[name])[0]
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def apply_scale(frame: pd.DataFrame, source) -> pd.DataFrame:
    """Return ``frame`` with the source's numeric amounts times its unit scale.

    Only the scaled columns are new; the others are shared (copy-on-write).
    """
    if source.unit_scale == 1:
        return frame
    scaled = {}
    for canonical, column in source.field_columns.items():
        if source.column_types[column] != "numeric":
            continue
        for name in (canonical, *(f"{canonical}__{s}" for s in ("sum", "min", "max"))):
            if name in frame.columns:
                scaled[name] = frame[name] * source.unit_scale
    return frame.assign(**scaled)


def check_mapping(settings, schemas: dict) -> list:
    """Return one problem per mapped column missing from a source's ``/schema``."""
    problems = []
    for name, schema in schemas.items():
        source = settings.sources.get(name)
        if source is None:
            continue
        columns = set(_schema_columns(schema))
        if not columns:
            continue  # nothing to check against; the data query will tell
        problems += [
            {
                "source": name,
                "column": column,
                "field": canonical,
                "message": f"config maps column {column!r} (to {canonical!r}) "
                "but the source's /schema has no such column",
            }
            for column, canonical in source.mapping.items()
            if column not in columns
        ]
    return problems


def _schema_columns(schema) -> list:
    if not isinstance(schema, dict):
        return list(schema)
    columns = schema.get("columns")
    if not isinstance(columns, list):
        return []
    return [c.get("name") if isinstance(c, dict) else c for c in columns]


def _require(frame: pd.DataFrame, column: str, source: str) -> None:
    if column not in frame.columns:
        raise ResultShapeError(f"{source}: result has no {column!r} column")


def _field_columns(frame: pd.DataFrame, source) -> list:
    return [
        (column, canonical)
        for canonical, column in source.field_columns.items()
        if column in frame.columns
    ]


def _convert_all(frame: pd.DataFrame, source, columns: list) -> dict:
    """Return column -> (values, bad mask), by the column's declared type.

    Text amounts of large results are parsed two columns at a time: Arrow's
    kernels release the GIL, so both cores work.
    """
    out, amounts = {}, []
    for column in columns:
        values = frame[column]
        if source.column_types[column] != "numeric":
            text = values.astype("str").where(values.notna())
            out[column] = (text, np.zeros(len(values), dtype=bool))
        elif source.text_amounts:
            amounts.append(column)
        else:
            out[column] = to_numbers(values)
    if len(amounts) > 1 and len(frame) >= PARALLEL_PARSE_ROWS:
        with ThreadPoolExecutor(2, thread_name_prefix="finsync-parse") as pool:
            parsed = pool.map(parse_amounts, (frame[c] for c in amounts))
            out.update(zip(amounts, parsed))
    else:
        out.update((c, parse_amounts(frame[c])) for c in amounts)
    return out


def _mismatch(source: str, canonical: str, raw: pd.Series, bad, frame) -> dict:
    """Describe the ``bad`` rows; ``raw`` holds the unparsed values by row number."""
    keys = frame["raw_key"][bad].iloc[:MAX_MISMATCH_ROWS]
    periods = frame["period_end"][bad].iloc[:MAX_MISMATCH_ROWS]
    rows = [
        {"raw_key": k, "period": None if pd.isna(p) else p}
        for k, p in zip(keys, periods)
    ]
    chosen = raw.loc[np.flatnonzero(bad)].astype("str").tolist()
    examples = list(dict.fromkeys(chosen))[:MAX_EXAMPLES]
    return {
        "source": source,
        "field": canonical,
        "count": int(bad.sum()),
        "examples": examples,
        "rows": rows,
    }
