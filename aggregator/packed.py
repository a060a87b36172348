"""Per-key packed values: every row's value of a column, shipped as one text per key.

A partial-aggregate query may carry, beside its sums, each key's periods and the
values of a few columns as ``GROUP_CONCAT(..., SEPARATOR)`` texts (``sqlgen``). SQLite
builds them in C, so a source answers one row per key instead of one per row; here
they are split back into one value per row, vectorised in Arrow. All GROUP_CONCATs of
one query step through the same rows in the same order, so the n-th value of every
packed column of a key belongs to the same source row.

Encodings: text columns (periods, text amounts) pack ``IFNULL(value, '')``, so an
empty value is missing, as a blank amount or period is anyway; numeric columns pack
``QUOTE(value)``, SQLite's exact literal (``NULL``, ``12.5``, ``'text'``). A value
holding the separator itself would split into too many pieces: the key's values of
that column are then all treated as not parseable (reported, never guessed).
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Joins a key's values in a packed column (ASCII unit separator).
SEPARATOR = "\x1f"
#: Result column holding each key's packed periods.
PERIODS = "_periods"
_SUFFIX = "packed"
_TEXT_PARTS = ("text_value", "text_count", "texts")


def packed_name(column: str) -> str:
    """Return the alias of ``column``'s packed values, e.g. ``revenue__packed``."""
    return f"{column}__{_SUFFIX}"


def text_aliases(column: str) -> tuple:
    """Return the aliases of a text column's per-key value count (``sqlgen``).

    (its smallest value, how many rows hold a value, every row's value packed
    when the key holds more than one distinct value, else NULL).
    """
    return tuple(f"{column}__{part}" for part in _TEXT_PARTS)


def text_columns(names) -> list:
    """Return the text columns whose value counts are among result ``names``."""
    tail = f"__{_TEXT_PARTS[-1]}"
    return [n[: -len(tail)] for n in names if n.endswith(tail)]


def packed_columns(names) -> dict:
    """Return source column -> its packed alias, for the packed columns in ``names``."""
    tail = f"__{_SUFFIX}"
    return {n[: -len(tail)]: n for n in names if n.endswith(tail)}


def split_values(packed, rows: np.ndarray) -> tuple:
    """Return (one text per row, key-major; keys whose text split wrongly).

    ``rows`` holds each key's row count. A key whose text does not split into
    exactly that many values (a value held the separator) gets that many empty
    values instead, and is flagged in the returned boolean array.
    """
    text = text_array(packed)
    lists = pc.split_pattern(text, SEPARATOR)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    wrong = lengths != rows
    if wrong.any():
        fillers = pa.array([SEPARATOR * (n - 1) for n in rows[wrong]], pa.string())
        text = pc.replace_with_mask(text, pa.array(wrong), fillers)
        lists = pc.split_pattern(text, SEPARATOR)
    return pc.list_flatten(lists), wrong


def row_owner(rows: np.ndarray) -> np.ndarray:
    """Return, for each row of a key-major flattening, the index of its key."""
    return np.repeat(np.arange(len(rows)), rows)


def blank_to_null(values) -> pa.Array:
    """Return text values with empty strings as nulls (how packing spells NULL)."""
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def decode_quoted(values) -> np.ndarray:
    """Return floats for ``QUOTE()`` literals: numbers parse, the rest are NaN.

    ``NULL`` is missing; a quoted text or blob in a numeric column is no number,
    nor is the empty filler of a key whose values split wrongly.
    """
    numeric = pc.invert(
        pc.or_(
            pc.or_(pc.equal(values, "NULL"), pc.equal(values, "")),
            pc.or_(pc.starts_with(values, "'"), pc.starts_with(values, "X'")),
        )
    )
    chosen = pc.if_else(numeric, values, pa.scalar(None, pa.string()))
    cast = pc.cast(chosen, pa.float64())
    return np.array(cast.to_numpy(zero_copy_only=False), dtype="float64")


def per_key(values: np.ndarray, rows: np.ndarray, extremes: bool) -> dict:
    """Return per key the sum, count (and min, max) of key-major ``values``.

    NaN values are missing: a key with none has count 0 and NaN sum and
    extremes, as SQL's SUM/COUNT/MIN/MAX give (NULL, 0, NULL, NULL).
    """
    owner = row_owner(rows)
    present = ~np.isnan(values)
    out = {
        "sum": np.bincount(owner, np.where(present, values, 0.0), len(rows)),
        "count": np.bincount(owner[present], minlength=len(rows)),
    }
    out["sum"][out["count"] == 0] = np.nan
    if extremes and len(values):
        starts = np.concatenate([[0], np.cumsum(rows)[:-1]])
        out["min"] = np.fmin.reduceat(values, starts)
        out["max"] = np.fmax.reduceat(values, starts)
    elif extremes:
        out["min"] = out["max"] = np.full(len(rows), np.nan)
    return out


def text_array(values) -> pa.Array:
    """Return a packed column as one Arrow string array (nulls as empty text)."""
    if isinstance(values, pd.Series):
        values = pa.array(values.astype("str").where(values.notna(), ""))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.fill_null(values.cast(pa.string()), "")
