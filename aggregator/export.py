"""Write a run's outputs atomically under unique names, with a manifest of hashes."""

import csv
import functools
import hashlib
import io
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv

from aggregator.result import frame_records

log = logging.getLogger(__name__)

PREFIX = "aggregated_results_"
#: Output kind -> file name suffix after ``aggregated_results_<stamp>_<run_id>``.
SUFFIXES = {
    "csv": ".csv",
    "rejected": "_rejected.csv",
    "parquet": ".parquet",
    "json": ".json",
    "manifest": "_manifest.json",
}
OPTIONAL = ("parquet", "json")
ALWAYS = ("csv", "rejected")
#: Rows per CSV slice written on its own thread (see csv_bytes).
CSV_SLICE_ROWS = 50_000


def output_stem(now: datetime, run_id: str) -> str:
    """Return ``aggregated_results_YYYYMMDD_HHMMSS_<run_id>`` for a UTC ``now``."""
    return f"{PREFIX}{_utc(now):%Y%m%d_%H%M%S}_{run_id}"


def write_outputs(result, out_dir, now: datetime, formats=("csv",)) -> dict:
    """Write CSV, rejected CSV, requested extras, then the manifest; return paths."""
    kinds = _kinds(formats)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    stem = output_stem(now, result.run_id)
    paths = {kind: root / f"{stem}{SUFFIXES[kind]}" for kind in (*kinds, "manifest")}
    _reserve(paths.values())
    try:
        # Each file is written (and hashed, and synced) on its own thread while
        # the next is rendered: the GIL is free while the bytes go to disk.
        with ThreadPoolExecutor(len(kinds), thread_name_prefix="finsync-out") as pool:
            written = {
                kind: pool.submit(_write, paths[kind], _render(kind, result))
                for kind in kinds
            }
            report = result.report()
            files = {kind: future.result() for kind, future in written.items()}
        _write(paths["manifest"], [_json_bytes(_manifest(result, report, files))])
    except BaseException:
        _release(paths.values())
        raise
    log.info(
        "run %s: wrote %s", result.run_id, ", ".join(p.name for p in paths.values())
    )
    return paths


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


def _kinds(formats) -> tuple:
    unknown = set(formats) - {"csv", *OPTIONAL}
    if unknown:
        raise ValueError(f"unknown output formats: {sorted(unknown)}")
    return ALWAYS + tuple(kind for kind in OPTIONAL if kind in formats)


def _reserve(paths) -> None:
    """Claim every name with O_EXCL so no run ever overwrites another's file."""
    claimed = []
    try:
        for path in paths:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            claimed.append(path)
    except FileExistsError:
        _release(claimed)
        raise


def _release(paths) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _write(path: Path, chunks: list) -> dict:
    """Write ``chunks`` to a temp file beside ``path``, fsync, then rename over it."""
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _release([Path(tmp)])
        raise
    return {"name": path.name, "bytes": size, "sha256": digest.hexdigest()}


def file_sha256(path) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def csv_bytes(frame) -> bytes:
    """Return ``frame`` as UTF-8 CSV with a header row (see ``csv_chunks``)."""
    return b"".join(csv_chunks(frame))


def csv_chunks(frame) -> list:
    """Return ``frame`` as UTF-8 CSV in chunks, header first; NaN, missing: empty.

    Arrow's C++ writer (about ten times faster than ``DataFrame.to_csv``), on
    slices of ``CSV_SLICE_ROWS`` rows written side by side (it lets go of the
    GIL: 100,000 rows x 65 columns take 0.46 s in one slice, 0.22 s in two on
    two cores). No value is quoted unless one must be, and then (Arrow's
    "needed" style) every text value is. The ``csv`` module writes the header
    (Arrow would quote every name).
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(table.column_names)
    slices = [
        table.slice(start, CSV_SLICE_ROWS)
        for start in range(0, len(table), CSV_SLICE_ROWS)
    ] or [table]
    try:  # "none" refuses values holding a comma, a quote or a newline
        bodies = _csv_bodies("none", slices)
    except pa.ArrowInvalid:  # then every slice alike, so the file is uniform
        bodies = _csv_bodies("needed", slices)
    return [header.getvalue().encode("utf-8"), *bodies]


def _csv_bodies(quoting: str, slices: list) -> list:
    """Return each slice's CSV rows, side by side when there are several."""
    if len(slices) == 1:
        return [_csv_body(quoting, slices[0])]
    write = functools.partial(_csv_body, quoting)
    with ThreadPoolExecutor(min(len(slices), os.cpu_count() or 1)) as pool:
        return list(pool.map(write, slices))


def _csv_body(quoting: str, table) -> bytes:
    """Return the CSV rows of ``table`` (no header) in Arrow's ``quoting`` style."""
    body = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=False, quoting_style=quoting)
    pa_csv.write_csv(table, body, options)
    return body.getvalue()


def _render(kind: str, result) -> list:
    """Return the bytes of output ``kind``, in chunks."""
    if kind == "csv":
        return csv_chunks(result.rows)
    if kind == "rejected":
        return csv_chunks(result.rejected)
    if kind == "parquet":
        buffer = io.BytesIO()
        result.rows.to_parquet(buffer, index=False)
        return [buffer.getvalue()]
    body = {"run_id": result.run_id, "created_at": result.created_at}
    body.update(columns=list(result.rows.columns), rows=frame_records(result.rows))
    return [_json_bytes(body)]


def _manifest(result, report: dict, files: dict) -> dict:
    """Return ``report`` (``result.report()``) with the files and row counts.

    orjson writes its NaN as null and its NumPy numbers as numbers.
    """
    report["files"] = files
    report["row_counts"] = {
        "rows": int(len(result.rows)),
        "rejected": int(len(result.rejected)),
    }
    return report


def _json_bytes(body: dict) -> bytes:
    # orjson writes NaN/inf as null and NumPy scalars as numbers itself, in C.
    options = (
        orjson.OPT_INDENT_2
        | orjson.OPT_APPEND_NEWLINE
        | orjson.OPT_SERIALIZE_NUMPY
        | orjson.OPT_NON_STR_KEYS
    )
    return orjson.dumps(body, default=str, option=options)
