"""Period formats: vectorised normalisation to ISO period-end dates, quarter bounds."""

from datetime import date, timedelta

import numpy as np
import pandas as pd

#: Month-day of each calendar quarter's last day.
QUARTER_ENDS = {"1": "03-31", "2": "06-30", "3": "09-30", "4": "12-31"}
_QUARTER = r"(\d{4})Q([1-4])"
_ISO = r"\d{4}-\d{2}-\d{2}"
_US = r"\d{2}/\d{2}/\d{4}"


def normalise_periods(values: pd.Series, period_format: str) -> pd.Series:
    """Return ISO period-end strings; values not in the exact format become missing.

    Formats are matched exactly (no trimming) so that the planner's SQL range
    comparisons on the raw text select the same rows as this normalisation. Each
    distinct value is parsed once (a source has few periods and many rows).
    """
    codes, uniques = pd.factorize(values)
    parsed = _parse_periods(pd.Series(uniques, dtype="object"), period_format)
    filled = parsed.array.take(codes, allow_fill=True)
    return pd.Series(filled, index=values.index, dtype="str")


def period_categorical(values: pd.Series, period_format: str) -> pd.Categorical:
    """Return ``normalise_periods(values)`` as a Categorical: a small code per row."""
    codes, uniques = pd.factorize(values)
    parsed = _parse_periods(pd.Series(uniques, dtype="object"), period_format)
    slots, periods = pd.factorize(parsed)
    row_codes = np.where(codes >= 0, slots[np.maximum(codes, 0)], -1)
    return pd.Categorical.from_codes(row_codes, pd.Index(periods, dtype="str"))


def _parse_periods(values: pd.Series, period_format: str) -> pd.Series:
    """Return ISO period-end strings for ``values`` (one per distinct period)."""
    text = values.astype("str").where(values.notna())
    if period_format == "year_quarter":
        parts = text.str.fullmatch(_QUARTER).fillna(False)
        found = text.where(parts).str.extract(_QUARTER)
        iso = found[0] + "-" + found[1].map(QUARTER_ENDS)
        return iso.astype("str").where(parts & iso.notna())
    pattern, fmt = (_ISO, "%Y-%m-%d") if period_format == "iso_date" else (_US, None)
    shaped = text.where(text.str.fullmatch(pattern).fillna(False))
    parsed = pd.to_datetime(shaped, format=fmt or "%m/%d/%Y", errors="coerce")
    return parsed.dt.strftime("%Y-%m-%d").astype("str").where(parsed.notna())


def quarter_of(day: str) -> str:
    """Return the calendar quarter holding ISO date ``day``, as ``YYYYQn``."""
    parsed = date.fromisoformat(day)
    return f"{parsed.year}Q{(parsed.month - 1) // 3 + 1}"


def quarter_end(quarter: str) -> str:
    """Return the ISO last day of quarter ``YYYYQn``."""
    return f"{quarter[:4]}-{QUARTER_ENDS[quarter[5]]}"


def last_quarter_ending_by(day: str) -> str:
    """Return the latest quarter whose last day is on or before ISO date ``day``."""
    quarter = quarter_of(day)
    if quarter_end(quarter) <= day:
        return quarter
    start = date(int(quarter[:4]), (int(quarter[5]) - 1) * 3 + 1, 1)
    return quarter_of((start - timedelta(days=1)).isoformat())


def in_range(periods: pd.Series, start: str | None, end: str | None) -> pd.Series:
    """Return a mask: ISO period ``start <= p <= end``; missing periods fail."""
    mask = periods.notna()
    if start:
        mask &= periods.fillna("") >= start
    if end:
        mask &= periods.fillna("") <= end
    return mask
