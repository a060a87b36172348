"""Map source results to canonical fields: rename, parse amounts, periods, scale."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aggregator.periods import normalise_periods
from aggregator.sqlgen import ROWS_ALIAS

PART_SUFFIXES = ("sum", "count", "min", "max")
MAX_EXAMPLES = 3
MAX_MISMATCH_ROWS = 20
_CURRENCY = r"[$€£¥]|\s"
# ASCII digits only: other Unicode digits used to pass the check and then parse to
# NaN, silently dropping the value instead of reporting a type mismatch.
_AMOUNT = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"


class ResultShapeError(ValueError):
    """A source result lacks a column the aggregator needs (e.g. the key)."""


@dataclass(frozen=True)
class MappedRows:
    """Rows in canonical names (source units) plus, per field, what did not parse."""

    frame: pd.DataFrame
    bad: dict

    def mismatches(self, source: str, keep=None) -> tuple:
        """Return the type mismatches among the rows ``keep`` selects (default all)."""
        found = []
        for field_name, (mask, raw) in self.bad.items():
            chosen = mask if keep is None else mask & keep
            if chosen.any():
                found.append(_mismatch(source, field_name, raw, chosen, self.frame))
        return tuple(found)


def parse_amounts(values: pd.Series) -> tuple:
    """Parse text amounts ("1,234.50", "(200.00)", "-$5") -> (floats, bad mask)."""
    text = values.astype("str").where(values.notna()).str.strip()
    negative = text.str.fullmatch(r"\(.*\)").fillna(False)
    inner = _only_where(text, negative, lambda part: part.str.slice(1, -1))
    # Most values hold no currency symbol or space: strip only those that do.
    odd = inner.str.contains(_CURRENCY, regex=True).fillna(False)
    cleaned = _only_where(
        inner, odd, lambda part: part.str.replace(_CURRENCY, "", regex=True)
    )
    valid = cleaned.str.fullmatch(_AMOUNT).fillna(False)
    valid &= ~(negative & cleaned.str.match(r"[+-]").fillna(False))
    digits = cleaned.where(valid).str.replace(",", "", regex=False)
    numbers = _to_float(digits)
    numbers = numbers.where(~negative, -numbers)
    blank = text.isna() | (text == "")
    return numbers, (~blank & ~valid).to_numpy()


def _only_where(text: pd.Series, mask: pd.Series, change) -> pd.Series:
    """Return ``text`` with ``change`` applied to the rows ``mask`` selects only."""
    if not mask.any():
        return text
    out = text.copy()
    out[mask] = change(text[mask])
    return out


def _to_float(digits: pd.Series) -> pd.Series:
    """Return validated ASCII number text (or null) as float64, parsed by Arrow."""
    parsed = pc.cast(pa.array(digits.array, type=pa.string()), pa.float64())
    return pd.Series(
        parsed.to_numpy(zero_copy_only=False), index=digits.index, dtype="float64"
    )


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
    bad = {k: (m, raw.reset_index(drop=True)) for k, (m, raw) in bad.items() if m.any()}
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
    """Return a copy with the source's numeric amounts multiplied by its unit scale."""
    if source.unit_scale == 1:
        return frame
    out = frame.copy()
    for canonical, column in source.field_columns.items():
        if source.column_types[column] != "numeric":
            continue
        for name in (canonical, *(f"{canonical}__{s}" for s in ("sum", "min", "max"))):
            if name in out.columns:
                out[name] = out[name] * source.unit_scale
    return out


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
    """Return column -> (values, bad mask); text amounts are parsed in one pass."""
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
    if amounts:
        stacked = pd.concat([frame[c] for c in amounts], ignore_index=True)
        numbers, bad = parse_amounts(stacked)
        for i, column in enumerate(amounts):
            part = slice(i * len(frame), (i + 1) * len(frame))
            values = numbers.iloc[part].set_axis(frame.index)
            out[column] = (values, bad[part])
    return out


def _mismatch(source: str, canonical: str, raw: pd.Series, bad, frame) -> dict:
    keys = frame["raw_key"][bad].iloc[:MAX_MISMATCH_ROWS]
    periods = frame["period_end"][bad].iloc[:MAX_MISMATCH_ROWS]
    rows = [
        {"raw_key": k, "period": None if pd.isna(p) else p}
        for k, p in zip(keys, periods)
    ]
    examples = list(dict.fromkeys(raw[bad].astype("str")))[:MAX_EXAMPLES]
    return {
        "source": source,
        "field": canonical,
        "count": int(bad.sum()),
        "examples": examples,
        "rows": rows,
    }
