"""`python -m data_sources.load <statement> <file> [--db PATH]`: all rows or nothing.

Every row is validated before the database is opened, so a rejected file leaves an
existing database byte-identical and creates no new one. Accepted rows are upserted in
one transaction; loading the same file twice leaves the same content.
"""

import argparse
import csv
import json
import logging
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from data_sources.config import default_db_path
from data_sources.errors import ConfigError, FinSyncError
from data_sources.statements import StatementSpec, get_statement
from data_sources.validate import schema_columns, validate_rows

log = logging.getLogger(__name__)
MAX_REPORTED = 50


class LoadError(FinSyncError):
    """A file was rejected; ``details["problems"]`` lists every reason by row."""

    status, code, public_message = 400, "invalid_data", "Invalid data"


@dataclass(frozen=True)
class LoadResult:
    """What a load did: rows in the input and rows inserted or changed."""

    rows: int
    changed: int


def load_file(spec: StatementSpec, path, db_path, replace=False) -> LoadResult:
    """Validate and load a JSON (list of objects) or CSV file into ``db_path``."""
    path = Path(path)
    rows, problems, from_text = _read(path)
    return load_rows(spec, rows, db_path, replace, from_text, problems, path.name)


def load_rows(
    spec, rows, db_path, replace=False, from_text=False, problems=(), origin="rows"
) -> LoadResult:
    """Validate ``rows`` (dicts in the native schema) and upsert them in one go."""
    columns = schema_columns(spec)
    clean, found = validate_rows(spec, columns, list(rows), from_text)
    problems = list(problems) + found
    if not clean and not problems:
        problems = ["no rows to load"]
    if problems:
        raise _rejection(spec, origin, problems)
    changed = _write(spec, [c.name for c in columns], clean, Path(db_path), replace)
    return LoadResult(rows=len(clean), changed=changed)


def _read(path: Path):
    try:
        if path.suffix.lower() == ".csv":
            return _read_csv(path)
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, csv.Error) as exc:
        raise LoadError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(rows, list):
        raise LoadError(f"{path.name}: expected a JSON list of row objects")
    return rows, [], False


def _read_csv(path: Path):
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows, problems = [], []
        for number, fields in enumerate(reader, start=1):
            if len(fields) > len(header):
                problems.append(f"row {number}: more fields than the header")
            rows.append(dict(zip(header, fields)))
    return rows, problems, True


def _rejection(spec, origin: str, problems: list) -> LoadError:
    shown = problems[:MAX_REPORTED]
    more = len(problems) - len(shown)
    lines = shown + ([f"... and {more} more"] if more else [])
    message = f"{spec.slug}: {origin} rejected, nothing loaded:\n" + "\n".join(lines)
    return LoadError(message, details={"problems": problems})


def _write(spec, names: list, rows: list, db_path: Path, replace: bool) -> int:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        # One explicit transaction around the schema, the optional purge and the rows.
        conn.executescript("BEGIN IMMEDIATE;\n" + spec.schema_path.read_text())
        try:
            if replace:
                conn.execute(f'DELETE FROM "{spec.table}"')
            before = conn.total_changes
            conn.executemany(_upsert_sql(spec, names), rows)
            changed = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return changed


def _upsert_sql(spec: StatementSpec, names: list) -> str:
    # Identifiers come from schema.sql, never from the file being loaded.
    quoted = [f'"{name}"' for name in names]
    keys = (spec.key_column, spec.period_column)
    others = [f'"{name}"' for name in names if name not in keys]
    insert = (
        f'INSERT INTO "{spec.table}" ({", ".join(quoted)}) '
        f"VALUES ({', '.join('?' for _ in names)}) "
        f'ON CONFLICT ("{keys[0]}", "{keys[1]}") DO '
    )
    if not others:
        return insert + "NOTHING"
    sets = ", ".join(f"{name} = excluded.{name}" for name in others)
    old = ", ".join(f'"{spec.table}".{name}' for name in others)
    new = ", ".join(f"excluded.{name}" for name in others)
    # Skip identical rows so an idempotent reload writes nothing at all.
    return insert + f"UPDATE SET {sets} WHERE ({old}) IS NOT ({new})"


def main(argv=None) -> int:
    """Command line entry point; exit 0 loaded, 1 rejected, 2 bad usage."""
    parser = argparse.ArgumentParser(prog="python -m data_sources.load")
    parser.add_argument("statement", help="pnl, balance_sheet or cash_flow")
    parser.add_argument("file", type=Path, help="JSON list of objects, or CSV")
    parser.add_argument("--db", type=Path, help="default FINSYNC_DB_PATH or data/")
    parser.add_argument("--replace", action="store_true", help="drop rows not in file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        spec = get_statement(args.statement)
        db_path = args.db or default_db_path(spec.slug)
        result = load_file(spec, args.file, db_path, replace=args.replace)
    except (KeyError, ConfigError) as exc:
        log.error("%s", exc.args[0] if exc.args else exc)
        return 2
    except LoadError as exc:
        log.error("%s", exc.message)
        return 1
    log.info("%s: loaded %d rows (%d changed)", db_path, result.rows, result.changed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
