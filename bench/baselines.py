"""Baselines on the same files: the DuckDB floor and the seed-style original."""

import json
import logging
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bench import seed_style
from bench.modes import REPO
from data_sources.statements import STATEMENTS

log = logging.getLogger(__name__)

SEED_BUDGET_S = 240.0
SEED_SLOW_RUN_S = 60.0
DUCKDB_TIMEOUT_S = 1800


def distinct_keys(dataset) -> set:
    """Return every distinct raw company key in the three generated databases."""
    keys = set()
    for slug, db_path in dataset.db_paths.items():
        spec = STATEMENTS[slug]
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            sql = f'SELECT DISTINCT "{spec.key_column}" FROM "{spec.table}"'
            keys.update(row[0] for row in conn.execute(sql))
        finally:
            conn.close()
    return keys


def finsync_keymap(dataset, work_dir: Path) -> tuple[Path, dict]:
    """Resolve every raw key with FinSync's registry; write the map; score accuracy."""
    from aggregator.companies import CompanyRegistry

    registry = CompanyRegistry.from_file(dataset.registry_path)
    resolved = registry.resolve_many(sorted(distinct_keys(dataset)))
    mapping = {raw: res.company_id for raw, res in resolved.items() if res.company_id}
    path = work_dir / "keymap_finsync.json"
    path.write_text(
        json.dumps({"raw": list(mapping), "company_id": list(mapping.values())})
    )
    return path, resolution_accuracy(dataset, mapping, resolved)


def resolution_accuracy(dataset, mapping: dict, resolved: dict) -> dict:
    """Compare FinSync's outcome with the generator's truth, key by key."""
    manifest = json.loads(dataset.manifest_path.read_text())
    truth, rejects = {}, set()
    for slug in STATEMENTS:
        truth.update(manifest[slug]["messy"])
        rejects.update(manifest[slug]["rejects"])
    wrong = sum(1 for raw, cid in truth.items() if mapping.get(raw) not in (None, cid))
    accepted_rejects = sum(1 for raw in rejects if raw in mapping)
    return {
        "distinct_keys": len(resolved),
        "messy_keys": len(truth),
        "messy_resolved": sum(
            1 for raw, cid in truth.items() if mapping.get(raw) == cid
        ),
        "messy_rejected": sum(1 for raw in truth if raw not in mapping),
        "wrong_company": wrong,
        "reject_keys": len(rejects),
        "rejects_accepted": accepted_rejects,
    }


def run_duckdb(dataset, keymap: Path, python: Path, work_dir: Path, runs: int) -> dict:
    """Run the DuckDB floor in ``python`` (the bench venv when present)."""
    spec = {
        "config": str(dataset.config_path),
        "keymap": str(keymap),
        "db_paths": {slug: str(path) for slug, path in dataset.db_paths.items()},
        "out_csv": str(work_dir / "duckdb_averages.csv"),
        "runs": runs,
    }
    spec_path = work_dir / "duckdb_spec.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run(
        [str(python), "-m", "bench.duckdb_floor", str(spec_path)],
        cwd=REPO,
        capture_output=True,
        timeout=DUCKDB_TIMEOUT_S,
        check=True,
    )
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return {**result, "csv": spec["out_csv"]}


def compare_averages(finsync_csv: str, duckdb_csv: str) -> dict:
    """Return how far FinSync's per-company means are from DuckDB's (relative)."""
    ours = pd.read_csv(finsync_csv).set_index("company_id")
    ref = pd.read_csv(duckdb_csv).set_index("company_id")
    fields = [c for c in ref.columns if c in ours.columns and c != "currency"]
    fields = [c for c in fields if pd.api.types.is_numeric_dtype(ref[c])]
    common = ours.index.intersection(ref.index)
    a = ours.loc[common, fields].astype(float)
    b = ref.loc[common, fields].astype(float)
    rel = ((a - b).abs() / b.abs().clip(lower=1e-9)).max().max()
    return {
        "companies_finsync": int(len(ours)),
        "companies_duckdb": int(len(ref)),
        "companies_common": int(len(common)),
        "fields_compared": len(fields),
        "max_rel_diff": float(rel) if fields else None,
    }


def run_seed_style(dataset, urls: dict, work_dir: Path, runs: int) -> dict:
    """Run the seed-style pipeline if its difflib loop fits the budget; else skip."""
    config = json.loads(dataset.config_path.read_text())
    ids = [rec["id"] for rec in json.loads(dataset.registry_path.read_text())]
    estimate = seed_style.estimate_seconds(ids, sum(dataset.rows.values()))
    if estimate > SEED_BUDGET_S:
        return {"skipped": f"difflib loop alone would take ~{estimate:.0f}s per run"}
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        out = seed_style.run(urls, config, ids, work_dir / "seed_style.csv")
        walls.append(time.perf_counter() - started)
        log.info("seed-style run: %.1fs", walls[-1])
        if walls[-1] > SEED_SLOW_RUN_S:
            break
    return {"walls": walls, "median_s": statistics.median(walls), **out}


def floor_python(bench_python: Path | None) -> Path:
    """Return the interpreter for the DuckDB floor: bench venv, else this one."""
    return (
        bench_python if bench_python and bench_python.exists() else Path(sys.executable)
    )
