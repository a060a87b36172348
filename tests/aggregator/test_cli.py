"""`python -m aggregator run|serve` and the gunicorn entry point, on live sources."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from aggregator.__main__ import build_parser, main, payload_from_args

REPO = Path(__file__).resolve().parents[2]
URL_VARS = {
    "pnl": "FINSYNC_PNL_URL",
    "balance_sheet": "FINSYNC_BALANCE_SHEET_URL",
    "cash_flow": "FINSYNC_CASH_FLOW_URL",
}


@pytest.fixture
def source_env(monkeypatch, live_sources):
    """Point the aggregator at the live sources through its environment variables."""
    for name in list(os.environ):
        if name.startswith("FINSYNC_"):
            monkeypatch.delenv(name)
    for slug, var in URL_VARS.items():
        monkeypatch.setenv(var, live_sources[slug])
    return {var: live_sources[slug] for slug, var in URL_VARS.items()}


def summary_lines(text: str) -> dict:
    """Return the ``key: value`` lines of the run summary as a dict."""
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_run_writes_the_csv_and_prints_a_summary(source_env, tmp_path, capsys):
    argv = ["run", "--companies", "ACME0001", "NORT0002", "--fields", "revenue"]
    code = main([*argv, "--out", str(tmp_path), "--format", "parquet"])
    assert code == 0
    lines = summary_lines(capsys.readouterr().out)
    csv = Path(lines["output"])
    assert csv.parent == tmp_path and csv.name.startswith("aggregated_results_")
    assert pd.read_csv(csv)["company_id"].tolist() == ["ACME0001", "NORT0002"]
    assert Path(lines["parquet"]).is_file() and Path(lines["manifest"]).is_file()
    assert lines["rows"] == "2" and lines["unavailable sources"] == "none"
    assert int(lines["rejections"]) >= 0 and int(lines["corrections"]) >= 0


def test_run_reports_a_partial_result(
    source_env, monkeypatch, closed_url, tmp_path, capsys
):
    monkeypatch.setenv("FINSYNC_CASH_FLOW_URL", closed_url)
    code = main(["run", "--fields", "net_income", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert summary_lines(out)["unavailable sources"] == "cash_flow"
    assert "result is PARTIAL" in out


def test_run_exits_1_when_no_source_answers(
    source_env, monkeypatch, closed_url, tmp_path, capsys, caplog
):
    for var in URL_VARS.values():
        monkeypatch.setenv(var, closed_url)
    assert main(["run", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().out == ""
    assert "no data source answered" in caplog.text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["run", "--fields", "ebitda"], "fields[0]: unknown field 'ebitda'"),
        (["run", "--where", "revenue ~ 5"], "where: expected FIELD OP VALUE"),
        (["run", "--companies", "ACME0009"], "unknown company 'ACME0009'"),
        (["run", "--period-start", "2024-13-01"], "period"),
        (["run", "--config", "/nonexistent/config.json"], "cannot read config"),
        (["serve", "--host", "0.0.0.0"], "--host must be a loopback address"),
    ],
)
def test_bad_arguments_exit_2(source_env, tmp_path, caplog, argv, problem):
    assert main([*argv, "--out", str(tmp_path)] if argv[0] == "run" else argv) == 2
    assert problem in caplog.text


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["run", "--group-by", "year"])
    assert caught.value.code == 2
    assert "invalid choice: 'year'" in capsys.readouterr().err


def test_flags_become_the_request_body():
    args = build_parser().parse_args(
        ["run", "--companies", "ACME0001", "--where", "revenue>1e6"]
        + ["--where", "net_income between 1 and 5", "--group-by", "company_period"]
        + ["--period-start", "2024-01-01", "--no-pushdown", "--format", "json"]
    )
    assert payload_from_args(args) == {
        "group_by": "company_period",
        "pushdown": False,
        "formats": ["csv", "json"],
        "auto_correct": False,
        "require_all_sources": False,
        "companies": ["ACME0001"],
        "filters": [
            {"field": "revenue", "op": ">", "value": 1e6},
            {"field": "net_income", "op": "between", "value": [1.0, 5.0]},
        ],
        "period": {"start": "2024-01-01"},
    }


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process, seconds: float = 60) -> requests.Response:
    """Poll ``url`` until it answers, the process dies, or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            return requests.get(url, timeout=10)
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def run_module(argv: list, env: dict, **kwargs):
    """Start ``python -m ...`` from the repo root with ``env`` added."""
    return subprocess.Popen(
        [sys.executable, "-m", *argv],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.slow
def test_the_cli_runs_as_a_process(source_env, tmp_path):
    argv = ["aggregator", "run", "--fields", "revenue", "--out", str(tmp_path)]
    process = run_module(argv, {"FINSYNC_OUTPUT_DIR": str(tmp_path / "unused")})
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert Path(summary_lines(out)["output"]).is_file()


@pytest.mark.slow
def test_gunicorn_serves_the_aggregator(source_env, tmp_path):
    port = free_port()
    argv = ["gunicorn", "-c", "aggregator/gunicorn.conf.py", "--workers", "1"]
    argv += ["--bind", f"127.0.0.1:{port}", "aggregator.app:create_app()"]
    process = run_module(argv, {"FINSYNC_OUTPUT_DIR": str(tmp_path)})
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/health", process).json() == {"status": "ok"}
        sources = requests.get(f"{base}/api/sources", timeout=30).json()["sources"]
        assert {s["status"] for s in sources} == {"up"}
        body = {"companies": ["ACME0001"], "fields": ["revenue"]}
        result = requests.post(f"{base}/api/aggregate", json=body, timeout=60).json()
        assert result["row_count"] == 1 and result["complete"] is True
        assert process.poll() is None
    finally:
        process.terminate()
        process.communicate(timeout=30)
