"""Vendor representations: periods, amounts and native-schema rows from facts."""

import functools
import sqlite3

from data_sources.sample_simulation import HUNDRED
from data_sources.sample_tables import QUARTER_END, QUARTERS, SCHEMA_MAPPING
from data_sources.statements import STATEMENTS


def format_amount(cents: int) -> str:
    """Format cents as the cash-flow vendor does: "1,234.50", "(200.00)"."""
    whole, frac = divmod(abs(cents), 100)
    text = f"{whole:,}.{frac:02d}"
    return f"({text})" if cents < 0 else text


def format_period(period_format: str, year: int, quarter: int) -> str:
    """Return the quarter's period in one of the vendors' period formats."""
    month, day = QUARTER_END[quarter]
    return {
        "iso_date": f"{year}-{month}-{day}",
        "us_date": f"{month}/{day}/{year}",
        "year_quarter": f"{year}Q{quarter}",
    }[period_format]


def schema_columns(slug: str) -> list[str]:
    """Return the native columns of ``slug`` in declared order, read from schema.sql."""
    spec = STATEMENTS[slug]
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(spec.schema_path.read_text())
        return [row[1] for row in conn.execute(f"PRAGMA table_info({spec.table})")]
    finally:
        conn.close()


def iso_period(index: int) -> str:
    """Return the canonical period_end (ISO quarter-end date) of quarter ``index``."""
    return format_period("iso_date", *QUARTERS[index])


@functools.cache
def ordered_columns(slug: str) -> tuple[str, ...]:
    """Return the schema's columns, checking each one is mapped in SCHEMA_MAPPING."""
    columns = tuple(schema_columns(slug))
    if set(columns) != set(SCHEMA_MAPPING[slug]):
        raise ValueError(f"{slug}: schema columns and SCHEMA_MAPPING differ")
    return columns


def native_value(slug: str, cents: int):
    """Convert cents to the vendor's representation of an amount."""
    if slug == "balance_sheet":
        return cents // HUNDRED / 10
    if slug == "cash_flow":
        return format_amount(cents)
    return cents / 100


def native_row(slug: str, raw_key: str, index: int, facts: dict) -> dict:
    """Return one row in the native schema of ``slug`` from canonical facts."""
    mapping = SCHEMA_MAPPING[slug]
    special = {
        "company_id": raw_key,
        "period_end": format_period(STATEMENTS[slug].period_format, *QUARTERS[index]),
        "currency": "USD",
    }
    row = {}
    for column in ordered_columns(slug):
        field = mapping[column]
        row[column] = special.get(field) or native_value(slug, facts[field])
    return row
