"""Scale generator: N companies x P quarters per statement, straight into SQLite."""

import json
import logging
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import scale_values
from bench.scale_registry import MESSY_KINDS, generate_companies, messy_key, reject_key
from data_sources.statements import STATEMENTS

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CONFIG_TEMPLATE = REPO / "config.json"
GENERATOR_VERSION = 1
MESSY_RATE = 0.02
REJECT_RATE = 0.0005
LAST_YEAR = 2024
QUARTER_END = {1: ("03", "31"), 2: ("06", "30"), 3: ("09", "30"), 4: ("12", "31")}


@dataclass(frozen=True)
class ScaleDataset:
    """Where one generated size lives and how big it is."""

    directory: Path
    n_companies: int
    n_periods: int
    db_paths: dict
    rows: dict
    registry_path: Path
    config_path: Path
    manifest_path: Path


def quarters(n_periods: int) -> list[tuple[int, int]]:
    """Return the last ``n_periods`` calendar quarters ending with Q4 of LAST_YEAR."""
    last = LAST_YEAR * 4 + 3
    return [divmod(index, 4) for index in range(last - n_periods + 1, last + 1)]


def format_period(fmt: str, year: int, quarter0: int) -> str:
    """Return a quarter (0-based) in one of the native period formats."""
    month, day = QUARTER_END[quarter0 + 1]
    if fmt == "iso_date":
        return f"{year}-{month}-{day}"
    if fmt == "us_date":
        return f"{month}/{day}/{year}"
    return f"{year}Q{quarter0 + 1}"


def _keys(records, ids, n_periods, rng, truth):
    """Return the key column (company-major) with ~2% messy keys recorded in truth."""
    keys = [rec["id"] for rec in records for _ in range(n_periods)]
    picks = np.flatnonzero(
        np.random.default_rng(rng.randrange(2**32)).random(len(keys)) < MESSY_RATE
    )
    for index in picks.tolist():
        record = records[index // n_periods]
        kind = MESSY_KINDS[rng.randrange(len(MESSY_KINDS))]
        raw = messy_key(record, kind, rng, ids)
        keys[index] = raw
        truth["messy"][raw] = record["id"]
    return keys


def _add_rejects(columns, spec, periods, records, ids, rng, truth):
    """Append a few rows whose keys must be rejected; copy amounts from other rows."""
    key_col, period_col = spec.key_column, spec.period_column
    n_rows = len(columns[key_col])
    seen = set()
    for number in range(max(2, round(n_rows * REJECT_RATE))):
        raw, period = reject_key(records, number, rng, ids), rng.choice(periods)
        if (raw, period) in seen:
            continue
        seen.add((raw, period))
        donor = rng.randrange(n_rows)
        for name, column in columns.items():
            column.append(column[donor])
        columns[key_col][-1], columns[period_col][-1] = raw, period
        truth["rejects"].append(raw)


def _amounts(rng, revenue):
    """Return per-statement amount arrays that agree where statements overlap."""
    pnl = scale_values.pnl_values(rng, revenue)
    balance = scale_values.balance_values(rng, revenue)
    cash = scale_values.cash_flow_values(
        rng, revenue, pnl["net_income"], balance["cash_and_equivalents"]
    )
    return {"pnl": pnl, "balance_sheet": balance, "cash_flow": cash}


def _statement_columns(slug, amounts, keys, n_periods, rng):
    """Return the native columns of one statement as lists, in insert order."""
    spec = STATEMENTS[slug]
    labels = [format_period(spec.period_format, *q) for q in quarters(n_periods)]
    columns = {
        spec.key_column: keys,
        spec.period_column: labels * (len(keys) // n_periods),
    }
    if slug == "pnl":
        columns["currency"] = ["USD"] * len(keys)
    text, decimals = slug == "cash_flow", 1 if slug == "balance_sheet" else 2
    for name, values in amounts.items():
        values = values / spec.unit_scale
        columns[name] = scale_values.to_column(rng, values, decimals, text=text)
    return columns, labels


def write_table(db_path: Path, slug: str, columns: dict) -> int:
    """Create the native schema in a fresh file and bulk-insert the columns."""
    spec = STATEMENTS[slug]
    db_path.unlink(missing_ok=True)
    conn = sqlite3.connect(db_path)
    try:
        conn.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;"
        )
        conn.executescript(spec.schema_path.read_text())
        names = list(columns)
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            spec.table, ", ".join(names), ", ".join("?" * len(names))
        )
        with conn:
            conn.executemany(sql, zip(*columns.values()))
        return len(columns[spec.key_column])
    finally:
        conn.close()


def generate(out_dir: Path, n_companies: int, n_periods: int, seed: int = 7):
    """Generate registry, three SQLite files, manifest, key map and config."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = generate_companies(n_companies, seed)
    ids = {rec["id"] for rec in records}
    rng, nrng = random.Random(seed + 1), np.random.default_rng(seed + 2)
    amounts = _amounts(nrng, scale_values.base_revenue(nrng, n_companies, n_periods))
    manifest = {"n_companies": n_companies, "n_periods": n_periods, "seed": seed}
    manifest["version"] = GENERATOR_VERSION
    db_paths, rows = {}, {}
    for slug, spec in STATEMENTS.items():
        truth = manifest.setdefault(slug, {"messy": {}, "rejects": []})
        keys = _keys(records, ids, n_periods, rng, truth)
        columns, labels = _statement_columns(slug, amounts[slug], keys, n_periods, nrng)
        _add_rejects(columns, spec, labels, records, ids, rng, truth)
        db_paths[slug] = out_dir / f"{slug}.db"
        rows[slug] = write_table(db_paths[slug], slug, columns)
        log.info("wrote %s rows to %s", rows[slug], db_paths[slug])
    return _write_side_files(out_dir, records, manifest, db_paths, rows)


def _write_side_files(out_dir, records, manifest, db_paths, rows):
    """Write registry, manifest and config beside the databases."""
    manifest["rows"] = rows
    registry_path = out_dir / "companies.json"
    registry_path.write_text(json.dumps(records))
    manifest_path = out_dir / "scale_manifest.json"
    manifest_path.write_text(json.dumps(manifest))
    config_path = out_dir / "config.json"
    config_path.write_text(json.dumps(scale_config(records, registry_path), indent=1))
    (out_dir / "keymap.json").write_text(json.dumps(key_map(records, manifest)))
    return ScaleDataset(
        out_dir,
        manifest["n_companies"],
        manifest["n_periods"],
        db_paths,
        rows,
        registry_path,
        config_path,
        manifest_path,
    )


def key_map(records: list[dict], manifest: dict) -> dict:
    """Return the true id of every resolvable raw key, as two Arrow-ready lists."""
    mapping = {rec["id"]: rec["id"] for rec in records}
    for slug in STATEMENTS:
        mapping.update(manifest[slug]["messy"])
    return {"raw": list(mapping), "company_id": list(mapping.values())}


def scale_config(records: list[dict], registry_path: Path) -> dict:
    """Return the root config.json adapted to a generated registry."""
    config = json.loads(CONFIG_TEMPLATE.read_text())
    config["company_ids"] = [rec["id"] for rec in records]
    config["registry"] = registry_path.name
    for slug, source in config.get("sources", {}).items():
        source["url"] = f"http://127.0.0.1:{STATEMENTS[slug].default_port}"
    return config


def load_or_generate(out_dir: Path, n_companies: int, n_periods: int, seed: int):
    """Reuse a generated size if its manifest matches; otherwise generate it."""
    manifest_path = out_dir / "scale_manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    wanted = {"n_companies": n_companies, "n_periods": n_periods, "seed": seed}
    db_paths = {slug: out_dir / f"{slug}.db" for slug in STATEMENTS}
    fresh = all(manifest.get(key) == value for key, value in wanted.items())
    if not (fresh and manifest.get("version") == GENERATOR_VERSION):
        return generate(out_dir, n_companies, n_periods, seed)
    if not all(path.exists() for path in db_paths.values()):
        return generate(out_dir, n_companies, n_periods, seed)
    log.info("reusing generated data in %s", out_dir)
    return ScaleDataset(
        out_dir,
        n_companies,
        n_periods,
        db_paths,
        manifest["rows"],
        out_dir / "companies.json",
        out_dir / "config.json",
        manifest_path,
    )
