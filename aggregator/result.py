"""RunResult: one aggregation's rows, rejected rows, plan and report, JSON-ready."""

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced; frames for export, ``to_dict`` for the API."""

    run_id: str
    created_at: str
    query: object
    plan: object
    rows: pd.DataFrame
    rejected: pd.DataFrame
    sources: dict
    corrections: tuple
    rejections: tuple
    type_mismatches: tuple
    discrepancies: tuple
    warnings: tuple
    complete: bool

    @property
    def group_by(self) -> str:
        """The grouping of ``rows``: company or company_period."""
        return self.query.group_by

    @property
    def fields(self) -> list:
        """The canonical fields asked for, in order."""
        return list(self.query.fields)

    @property
    def columns(self) -> list:
        """The columns of ``rows``, in order."""
        return list(self.rows.columns)

    @property
    def row_count(self) -> int:
        """The number of aggregated rows."""
        return int(len(self.rows))

    def to_dict(self) -> dict:
        """Return the API response body (without download URLs); NaN -> null."""
        body = self.report_dict()
        body["rows"] = frame_records(self.rows)
        return body

    def report_dict(self) -> dict:
        """Return ``to_dict()`` without the rows: what the run manifest records."""
        return json_safe(self.report())

    def report(self) -> dict:
        """Return ``report_dict()`` with its values as they are (NumPy, NaN).

        For writers that turn those into JSON themselves (orjson): walking the
        report to make each value plain costs more than writing it (100,000s of
        corrections at scale).
        """
        return {
            "run_id": self.run_id,
            "created_at": self.created_at,
            "complete": self.complete,
            "group_by": self.group_by,
            "fields": self.fields,
            "columns": self.columns,
            "row_count": self.row_count,
            "rejected_row_count": int(len(self.rejected)),
            "query": self.query.to_dict(),
            "plan": self.plan.to_dict(),
            "sources": self.sources,
            "corrections": list(self.corrections),
            "rejections": list(self.rejections),
            "type_mismatches": list(self.type_mismatches),
            "discrepancies": list(self.discrepancies),
            "warnings": list(self.warnings),
        }


def new_run_id() -> str:
    """Return a fresh 12-hex-digit run id."""
    return uuid.uuid4().hex[:12]


def iso_utc(now: datetime) -> str:
    """Return ``now`` as an ISO 8601 UTC timestamp ending in Z."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    stamp = now.astimezone(timezone.utc).isoformat(timespec="seconds")
    return stamp.replace("+00:00", "Z")


def frame_records(frame: pd.DataFrame) -> list:
    """Return the rows of ``frame`` as dicts of plain Python values, NaN -> None."""
    # Arrow turns NaN into null and builds the Python values in C++.
    return pa.Table.from_pandas(frame, preserve_index=False).to_pylist()


_PLAIN = frozenset({str, int, bool, type(None)})


def json_safe(value):
    """Return ``value`` with NaN/inf floats as None and numpy scalars as Python."""
    kind = type(value)
    if kind in _PLAIN:
        return value  # the common case first: manifests hold 100,000s of these
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
