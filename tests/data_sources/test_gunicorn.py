"""Smoke tests: a statement service under gunicorn (as launcher and compose run it)
and under the Flask development server."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(url: str, process, deadline_s: float = 60) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited early"
        try:
            return requests.get(f"{url}/health", timeout=2).json()
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not become healthy in time")


@pytest.mark.slow
def test_gunicorn_serves_a_statement(tiny_dbs):
    port = _free_port()
    env = {
        **os.environ,
        "FINSYNC_DB_PATH": str(tiny_dbs["cash_flow"]),
        "FINSYNC_PORT": str(port),
        "FINSYNC_WORKERS": "1",
        "FINSYNC_THREADS": "2",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "data_sources/gunicorn.conf.py",
        "data_sources.service:create_app('cash_flow')",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        health = _wait_for_health(url, process)
        assert (health["status"], health["statement"], health["rows"]) == (
            "ok",
            "cash_flow",
            12,
        )
        sql = "SELECT ticker_or_id FROM cash_flow_statement WHERE ticker_or_id = :t"
        with requests.Session() as session:
            bodies = [
                session.get(
                    f"{url}/query", params={"q": sql, "t": "ACME0001"}, timeout=10
                ).json()
                for _ in range(5)
            ]
        assert all(body["rows"] == [["ACME0001"]] * 3 for body in bodies)
        assert process.poll() is None
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert b"finsync.request" in stderr


@pytest.mark.slow
def test_dev_server_serves_a_statement(tiny_dbs):
    port = _free_port()
    env = {**os.environ, "FINSYNC_DB_PATH": str(tiny_dbs["pnl"])}
    command = [sys.executable, "-m", "data_sources.service", "pnl", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}", process)
        assert (health["statement"], health["rows"]) == ("pnl", 12)
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_dev_server_refuses_to_start_without_a_statement(monkeypatch, caplog):
    from data_sources.service import main

    monkeypatch.delenv("FINSYNC_STATEMENT", raising=False)
    assert main([]) == 2
    assert "no statement given" in caplog.text
