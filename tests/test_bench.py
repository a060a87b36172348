"""Benchmark tooling: generator, DuckDB floor, report and a smoke run (no timing)."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench import duckdb_floor, report, scale_data, throughput
from bench.__main__ import parse_sizes
from bench.profiles import summarise
from data_sources.statements import STATEMENTS

REPO = Path(__file__).resolve().parent.parent


def _rows(db_path: Path, slug: str) -> list:
    table = STATEMENTS[slug].table
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    finally:
        conn.close()


def test_generator_is_deterministic_by_seed(tmp_path):
    first = scale_data.generate(tmp_path / "a", 40, 3, seed=11)
    second = scale_data.generate(tmp_path / "b", 40, 3, seed=11)
    for slug in STATEMENTS:
        assert _rows(first.db_paths[slug], slug) == _rows(second.db_paths[slug], slug)
    assert first.registry_path.read_text() == second.registry_path.read_text()


def test_generator_writes_native_schemas_with_mess(tmp_path):
    data = scale_data.generate(tmp_path, 300, 4, seed=3)
    manifest = json.loads(data.manifest_path.read_text())
    ids = {rec["id"] for rec in json.loads(data.registry_path.read_text())}
    for slug, spec in STATEMENTS.items():
        rows = _rows(data.db_paths[slug], slug)
        assert len(rows) == data.rows[slug] >= 300 * 4
        keys = {row[0] for row in rows}
        assert manifest[slug]["rejects"] and not set(manifest[slug]["rejects"]) & ids
        assert set(manifest[slug]["messy"]) <= keys
        assert keys - ids == set(manifest[slug]["messy"]) | set(
            manifest[slug]["rejects"]
        )
    amounts = {row[2] for row in _rows(data.db_paths["cash_flow"], "cash_flow")}
    assert any(str(value).startswith("(") for value in amounts)
    config = json.loads(data.config_path.read_text())
    assert config["registry"] == "companies.json"
    assert len(config["company_ids"]) == 300


def _reference_means(data, keymap: dict) -> dict:
    """Per-company revenue and net income means computed in plain Python."""
    sums = {}
    for slug, column in (("pnl", 12), ("cash_flow", 2)):
        for row in _rows(data.db_paths[slug], slug):
            company, value = keymap.get(row[0]), row[column]
            if company is None or value is None:
                continue
            if isinstance(value, str):
                text = value.replace(",", "").replace("(", "-").replace(")", "")
                try:
                    value = float(text)
                except ValueError:
                    continue
            total, count = sums.get(company, (0.0, 0))
            sums[company] = (total + value, count + 1)
    return {company: total / count for company, (total, count) in sums.items()}


def test_duckdb_floor_matches_a_python_reference(tmp_path):
    data = scale_data.generate(tmp_path, 50, 4, seed=5)
    keymap_path = tmp_path / "keymap.json"
    truth = json.loads(keymap_path.read_text())
    spec = {
        "config": str(data.config_path),
        "keymap": str(keymap_path),
        "db_paths": {slug: str(path) for slug, path in data.db_paths.items()},
        "out_csv": str(tmp_path / "duck.csv"),
    }
    duckdb_floor.run_once(spec)
    import pandas as pd

    got = pd.read_csv(spec["out_csv"]).set_index("company_id")["net_income"]
    want = _reference_means(data, dict(zip(truth["raw"], truth["company_id"])))
    assert set(got.index) == set(want)
    for company, mean in want.items():
        assert got[company] == pytest.approx(mean, rel=1e-9)


def test_parse_sizes():
    assert parse_sizes("1000x8, 100000X12") == [(1000, 8), (100000, 12)]


def test_throughput_probe_refuses_other_hosts():
    with pytest.raises(ValueError):
        throughput.probe("http://192.0.2.1:80", ["/"], "x", clients=1, duration=0.1)


def test_profile_summary_counts_self_and_inclusive(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("main (a.py:1);work (b.py:2) 3\nmain (a.py:1);idle (c.py:9) 1\n")
    summary = summarise(raw)
    assert summary["samples"] == 4
    assert summary["self"][0] == ("work (b.py)", 75.0)
    assert ("main (a.py)", 100.0) in summary["inclusive"]


def test_results_block_keeps_hand_written_text(tmp_path):
    path = tmp_path / "RESULTS.md"
    begin, end = report.BEGIN.format(label="x"), report.END.format(label="x")
    path.write_text(f"# Title\n\nintro\n\n{begin}\nold\n{end}\n\nnotes\n")
    results = {
        "command": "python -m bench",
        "machine": {
            "nproc": 2,
            "cpu": "cpu",
            "memory_gib": 1,
            "os": "os",
            "python": "3",
            "sqlite": "3",
            "main_libs": {},
            "bench_libs": {},
        },
        "options": {"runs": 3, "warmup": 1},
        "sizes": [],
        "targets": [],
    }
    report.write_results(path, results, "x")
    text = path.read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith("notes\n")
    assert "old" not in text and "## Machine and command" in text


@pytest.mark.slow
def test_smoke_run_completes_without_errors(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "--smoke",
        "--no-venv",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "smoke" / "results.json").read_text())
    (size,) = results["sizes"]
    for mode, outcome in size["modes"].items():
        assert "error" not in outcome, (mode, outcome)
        assert outcome["row_count"] > 0
    assert "error" not in size["baselines"]["duckdb"]
    assert "error" not in size["baselines"]["seed_style"]
    for key in ("resolve", "throughput", "fanout"):
        assert "error" not in results[key], (key, results[key])
    assert "| N | P |" in done.stdout
