"""Smoke tests: a statement service under gunicorn (as launcher and compose run it)
and under the Flask development server; what the gunicorn config files set."""

import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from aggregator.launcher import gunicorn_command

REPO = Path(__file__).parents[2]
CONFIGS = ("data_sources/gunicorn.conf.py", "aggregator/gunicorn.conf.py")


def _wait_for_health(url: str, process, deadline_s: float = 60) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited early"
        try:
            return requests.get(f"{url}/health", timeout=2).json()
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not become healthy in time")


def _load_config(relative: str, monkeypatch, **env) -> dict:
    """Return the settings a gunicorn config file defines under ``env``."""
    for name in ("FINSYNC_STATEMENT", "FINSYNC_PORT", "FINSYNC_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # gunicorn reads the file in a fresh process: import the shared module afresh too
    monkeypatch.delitem(sys.modules, "data_sources.gunicorn_common", raising=False)
    return runpy.run_path(str(REPO / relative))


@pytest.mark.parametrize("relative", CONFIGS)
def test_both_configs_share_the_common_settings(relative, monkeypatch):
    config = _load_config(relative, monkeypatch, FINSYNC_LOG_LEVEL="WARNING")
    assert (config["worker_class"], config["preload_app"]) == ("gthread", False)
    assert config["accesslog"] is None and config["control_socket_disable"] is True
    assert config["logconfig_dict"]["root"]["level"] == "WARNING"


def test_statement_config_binds_and_sizes_from_the_environment(monkeypatch):
    env = {"FINSYNC_STATEMENT": "pnl", "FINSYNC_WORKERS": "3", "FINSYNC_THREADS": ""}
    config = _load_config(CONFIGS[0], monkeypatch, **env)
    assert config["bind"] == ["127.0.0.1:5001"]
    assert (config["workers"], config["threads"], config["timeout"]) == (3, 4, 30)


def test_aggregator_config_binds_and_sizes_from_the_environment(monkeypatch):
    env = {"FINSYNC_AGGREGATOR_PORT": "9123", "FINSYNC_AGG_THREADS": "6"}
    config = _load_config(CONFIGS[1], monkeypatch, **env)
    assert config["bind"] == ["127.0.0.1:9123"]
    assert (config["workers"], config["threads"], config["timeout"]) == (2, 6, 120)


@pytest.mark.slow
def test_gunicorn_serves_a_statement(tiny_dbs, free_port):
    env = {
        **os.environ,
        "FINSYNC_DB_PATH": str(tiny_dbs["cash_flow"]),
        "FINSYNC_WORKERS": "1",
        "FINSYNC_THREADS": "2",
    }
    command = gunicorn_command("cash_flow", "127.0.0.1", free_port, sys.executable)
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{free_port}"
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
def test_dev_server_serves_a_statement(tiny_dbs, free_port):
    env = {**os.environ, "FINSYNC_DB_PATH": str(tiny_dbs["pnl"])}
    port = str(free_port)
    command = [sys.executable, "-m", "data_sources.service", "pnl", "--port", port]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        health = _wait_for_health(f"http://127.0.0.1:{free_port}", process)
        assert (health["statement"], health["rows"]) == ("pnl", 12)
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_dev_server_refuses_to_start_without_a_statement(monkeypatch, caplog):
    from data_sources.service import main

    monkeypatch.delenv("FINSYNC_STATEMENT", raising=False)
    assert main([]) == 2
    assert "no statement given" in caplog.text
