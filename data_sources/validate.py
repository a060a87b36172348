"""Check rows in a statement's native schema before anything is written. Pure."""

import datetime
import math
import re
import sqlite3

from data_sources.db import Column
from data_sources.statements import PERIOD_FORMATS, StatementSpec

NUMERIC_TYPES = frozenset({"REAL", "INTEGER", "NUMERIC"})
_QUARTER_ENDS = {(3, 31), (6, 30), (9, 30), (12, 31)}
_PERIOD_PATTERNS = {
    "iso_date": (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), ("y", "m", "d")),
    "us_date": (re.compile(r"(\d{2})/(\d{2})/(\d{4})"), ("m", "d", "y")),
    "year_quarter": (re.compile(r"(\d{4})Q([1-4])"), ("y", "q")),
}


def schema_columns(spec: StatementSpec) -> list[Column]:
    """Return the columns and declared types that the statement's schema.sql defines."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(spec.schema_path.read_text())
        info = conn.execute(
            "SELECT name, type FROM pragma_table_info(?)", (spec.table,)
        )
        return [Column(name, declared.upper()) for name, declared in info]
    finally:
        conn.close()


def period_problem(text, period_format: str):
    """Return why ``text`` is not a quarter-end period in ``period_format``, or None."""
    pattern, order = _PERIOD_PATTERNS[period_format]
    match = pattern.fullmatch(text) if isinstance(text, str) else None
    example = PERIOD_FORMATS[period_format]
    if match is None:
        return f"{text!r} is not a {period_format} period like {example}"
    parts = dict(zip(order, map(int, match.groups())))
    if "q" in parts:
        return None
    try:
        datetime.date(parts["y"], parts["m"], parts["d"])
    except ValueError:
        return f"{text!r} is not a real date"
    if (parts["m"], parts["d"]) not in _QUARTER_ENDS:
        return f"{text!r} is not a quarter-end date"
    return None


def validate_rows(spec, columns, rows, from_text=False):
    """Return (clean rows as tuples in column order, problems as 'row N: ...' lines).

    ``from_text`` says every value arrived as text (CSV): empty means NULL and numeric
    columns are parsed. Row numbers count data rows from 1.
    """
    names = [column.name for column in columns]
    clean, problems, seen = [], [], {}
    for number, row in enumerate(rows, start=1):
        values, row_problems = _check_row(spec, columns, names, row, from_text)
        if not row_problems:
            ident = (
                values[names.index(spec.key_column)],
                values[names.index(spec.period_column)],
            )
            if ident in seen:
                row_problems = [f"duplicate of row {seen[ident]} {ident}"]
            seen.setdefault(ident, number)
        problems += [f"row {number}: {text}" for text in row_problems]
        clean.append(values)
    return clean, problems


def _check_row(spec, columns, names, row, from_text):
    if not isinstance(row, dict):
        return None, [f"expected an object, got {type(row).__name__}"]
    problems = _shape_problems(names, row)
    values = []
    for column in columns:
        value, problem = _check_value(spec, column, row.get(column.name), from_text)
        values.append(value)
        if problem and column.name in row:
            problems.append(f"{column.name} {problem}")
    return tuple(values), problems


def _shape_problems(names, row) -> list:
    problems = []
    unknown = [str(key) for key in row if key not in names]
    missing = [name for name in names if name not in row]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    return problems


def _check_value(spec, column, value, from_text):
    if from_text and value == "":
        value = None
    if column.name == spec.key_column:
        ok = isinstance(value, str) and value.strip()
        return value, None if ok else "must be non-empty text"
    if column.name == spec.period_column:
        return value, period_problem(value, spec.period_format)
    if value is None:
        return None, None
    if column.type in NUMERIC_TYPES:
        return _number(value, from_text)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value, None
    return value, f"must be text or null, got {type(value).__name__}"


def _number(value, from_text):
    if from_text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value, f"must be a number or empty, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value, f"must be a number or null, got {value!r}"
    if not math.isfinite(value):
        return value, f"must be a finite number, got {value!r}"
    return value, None
