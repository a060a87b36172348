"""DuckDB floor: per-company averages over the three SQLite files, no network.

Run as ``python -m bench.duckdb_floor SPEC.json`` (stdlib, duckdb and pyarrow only, so
it works from the benchmark's own venv); prints one JSON object with the timings.
DuckDB 2.0.0's ``sqlite`` extension cannot be installed offline, so the files are read
into Arrow by the ADBC SQLite driver (C, no Python objects per row) when it is
installed, else by Python's ``sqlite3`` (much slower; the result says which ran).
"""

import json
import logging
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

log = logging.getLogger(__name__)


def _numeric_expr(column: str, text: bool) -> str:
    """Return SQL turning a source column into a DOUBLE (vendor text parsed)."""
    if not text:
        return f'CAST("{column}" AS DOUBLE)'
    cleaned = f"""replace(replace(replace("{column}", ',', ''), '(', '-'), ')', '')"""
    return f"TRY_CAST({cleaned} AS DOUBLE)"


def source_fields(config: dict, slug: str) -> dict:
    """Return ``{canonical: (source column, kind)}`` for one source's mapped fields."""
    source = config["sources"][slug]
    canonical = config.get("canonical_fields", {})
    fields = {}
    for column, field in config["schema_mapping"][slug].items():
        if column in (source["company_column"], source["period_column"]):
            continue
        declared = source.get("column_types", {}).get(column)
        kind = declared or canonical.get(field, {}).get("type", "numeric")
        fields[field] = (column, kind)
    return fields


def load_arrow(db_path: str, table: str, columns: list[str]) -> pa.Table:
    """Read the named columns of a SQLite table into Arrow (ADBC if available)."""
    sql = "SELECT {} FROM {}".format(", ".join(f'"{c}"' for c in columns), table)
    try:
        import adbc_driver_sqlite.dbapi as adbc
    except ImportError:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            rows = conn.execute(sql).fetchall()
        finally:
            conn.close()
        arrays = list(zip(*rows)) if rows else [[] for _ in columns]
        return pa.table({c: pa.array(list(a)) for c, a in zip(columns, arrays)})
    with adbc.connect(f"file:{db_path}?mode=ro") as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetch_arrow_table()


def loader_name() -> str:
    """Return which loader ``load_arrow`` uses here."""
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return "python-sqlite3"
    return "adbc-sqlite"


def _partial_sql(config: dict, slug: str) -> tuple[str, list[str]]:
    """Return per-company SUM/COUNT (and mode for text) SQL for one source."""
    source = config["sources"][slug]
    scale, text = source.get("unit_scale", 1), bool(source.get("text_amounts"))
    parts, names = [], []
    for field, (column, kind) in source_fields(config, slug).items():
        if kind == "numeric":
            value = f"{_numeric_expr(column, text)} * {scale}"
            parts.append(f'SUM({value}) AS "s_{field}", COUNT({value}) AS "c_{field}"')
        elif kind == "text":
            parts.append(f'mode("{column}") AS "m_{field}"')
        names.append(field)
    sql = (
        f'SELECT k.company_id, {", ".join(parts)} FROM "{slug}" t '
        f'JOIN keymap k ON t."{source["company_column"]}" = k.raw GROUP BY 1'
    )
    return sql, names


def averages_sql(config: dict, slugs: list[str]) -> str:
    """Return the SQL for per-company means merged exactly from per-source parts."""
    kinds, holders = {}, {}
    for slug in slugs:
        for field, (_, kind) in source_fields(config, slug).items():
            kinds[field] = kind
            holders.setdefault(field, []).append(slug)
    ctes = [f'"p_{slug}" AS ({_partial_sql(config, slug)[0]})' for slug in slugs]
    ids = " UNION ".join(f'SELECT company_id FROM "p_{s}"' for s in slugs)
    joins = " ".join(f'LEFT JOIN "p_{s}" USING (company_id)' for s in slugs)
    selects = []
    for field, kind in kinds.items():
        if kind == "numeric":
            total = " + ".join(
                f'coalesce("p_{s}"."s_{field}", 0)' for s in holders[field]
            )
            count = " + ".join(
                f'coalesce("p_{s}"."c_{field}", 0)' for s in holders[field]
            )
            selects.append(f'({total}) / nullif({count}, 0) AS "{field}"')
            selects.append(f'({count}) AS "{field}_count"')
        elif kind == "text":
            selects.append(f'"p_{holders[field][0]}"."m_{field}" AS "{field}"')
    return (
        f'WITH {", ".join(ctes)}, ids AS ({ids}) SELECT company_id, '
        f'{", ".join(selects)} FROM ids {joins} ORDER BY company_id'
    )


def run_once(spec: dict) -> dict:
    """Load, aggregate and write CSV once; return the stage timings in seconds."""
    config = json.loads(Path(spec["config"]).read_text())
    start = time.perf_counter()
    con = duckdb.connect()
    for slug, db_path in spec["db_paths"].items():
        source = config["sources"][slug]
        columns = [source["company_column"]] + [
            column for column, _ in source_fields(config, slug).values()
        ]
        con.register(slug, load_arrow(db_path, source["table"], columns))
    keymap = json.loads(Path(spec["keymap"]).read_text())
    con.register("keymap", pa.table(keymap))
    loaded = time.perf_counter()
    sql = averages_sql(config, list(spec["db_paths"]))
    con.execute(f"COPY ({sql}) TO '{spec['out_csv']}' (HEADER)")
    done = time.perf_counter()
    con.close()
    return {"load_s": loaded - start, "query_s": done - loaded, "total_s": done - start}


def main(spec_path: str) -> None:
    """Run the floor ``1 + runs`` times and write a JSON summary to stdout."""
    spec = json.loads(Path(spec_path).read_text())
    run_once(spec)
    runs = [run_once(spec) for _ in range(spec.get("runs", 3))]
    summary = {
        key: statistics.median(run[key] for run in runs) for key in runs[0].keys()
    }
    summary.update(
        runs=runs,
        loader=loader_name(),
        duckdb=duckdb.__version__,
        companies=duckdb.sql(f"SELECT count(*) FROM '{spec['out_csv']}'").fetchall()[0][
            0
        ],
    )
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main(sys.argv[1])
