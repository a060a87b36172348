"""The app factory: start-up checks, rate limits, request log, data versions."""

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from data_sources.errors import ConfigError
from data_sources.load import load_rows
from data_sources.service import create_app
from data_sources.source import EXTENSION
from data_sources.statements import STATEMENTS

TEST_DATA = Path(__file__).parents[1] / "data"


def _version(url):
    return requests.get(f"{url}/health", timeout=10).json()["data_version"]


def test_create_app_fails_fast_without_database(tmp_path):
    with pytest.raises(ConfigError, match="database for 'pnl' not found"):
        create_app("pnl", {"DB_PATH": str(tmp_path / "missing.db")})


def test_create_app_fails_fast_without_the_table(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(ConfigError, match="has no table 'income_statement'"):
        create_app("pnl", {"DB_PATH": str(path)})


def test_a_new_app_has_checked_a_query_and_opened_a_connection(tiny_dbs):
    app = create_app("pnl", {"DB_PATH": str(tiny_dbs["pnl"])})
    source = app.extensions[EXTENSION]
    assert source.guard._verdict.cache_info().currsize == 1  # sqlglot ran
    assert len(source.db._idle) == 1  # a connection waits in the pool
    rows = sqlite3.connect(tiny_dbs["pnl"]).execute(
        "SELECT COUNT(*) FROM income_statement"
    )
    body = app.test_client().get("/health").get_json()
    assert body["rows"] == rows.fetchone()[0]


def test_statement_comes_from_the_environment(monkeypatch, tiny_dbs):
    monkeypatch.setenv("FINSYNC_STATEMENT", "balance_sheet")
    monkeypatch.setenv("FINSYNC_DB_PATH", str(tiny_dbs["balance_sheet"]))
    client = create_app().test_client()
    assert client.get("/health").get_json()["statement"] == "balance_sheet"


def test_rate_limit_answers_429_with_retry_after(tiny_dbs, start_source, assert_error):
    url = start_source("pnl", tiny_dbs["pnl"], rate_limit="2 per minute")
    statuses = [requests.get(f"{url}/health", timeout=10).status_code for _ in range(2)]
    response = requests.get(f"{url}/schema", timeout=10)
    assert statuses == [200, 200]
    assert_error(response, 429, "too_many_requests", "2 per 1 minute")
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_rate_limit_can_be_switched_off(tiny_dbs, start_source):
    url = start_source("pnl", tiny_dbs["pnl"], rate_limit="off")
    statuses = {
        requests.get(f"{url}/health", timeout=10).status_code for _ in range(20)
    }
    assert statuses == {200}


def test_each_request_is_logged_once_with_its_fields(tiny_dbs, caplog):
    client = create_app("pnl", {"DB_PATH": str(tiny_dbs["pnl"])}).test_client()
    with caplog.at_level(logging.INFO, logger="finsync.request"):
        response = client.get("/data?limit=x", headers={"X-Request-ID": "req-1"})
    records = [r for r in caplog.records if r.name == "finsync.request"]
    assert len(records) == 1
    record = records[0]
    assert (record.request_id, record.method, record.path) == ("req-1", "GET", "/data")
    assert record.status == response.status_code == 400
    assert record.duration_ms >= 0
    assert "request_id=req-1 method=GET path=/data status=400" in record.getMessage()


def test_data_version_is_stable_without_writes(tiny_sources):
    url = tiny_sources["pnl"]
    assert len({_version(url) for _ in range(5)}) == 1


def test_data_version_changes_after_a_load(fresh_db, start_source):
    path = fresh_db("pnl")
    url = start_source("pnl", path)
    before = _version(url)
    row = {c: None for c in _columns("pnl")}
    row.update(company_id="NEWC0009", period_end="2024-03-31", revenue=1.0)
    load_rows(STATEMENTS["pnl"], [row], path)
    after = _version(url)
    assert after != before
    assert requests.get(f"{url}/health", timeout=10).json()["rows"] == 13


def test_data_version_unchanged_by_an_idempotent_reload(fresh_db, start_source):
    from data_sources.load import load_file

    path = fresh_db("pnl")
    url = start_source("pnl", path)
    before = _version(url)
    assert load_file(STATEMENTS["pnl"], TEST_DATA / "pnl.json", path).changed == 0
    assert _version(url) == before


def test_data_version_changes_after_a_write_by_another_process(fresh_db, start_source):
    path = fresh_db("pnl")
    url = start_source("pnl", path)
    before = _version(url)
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        'c.execute("UPDATE income_statement SET revenue = 7 WHERE rowid = 1");'
        "c.commit(); c.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    assert _version(url) != before


def test_stale_cursor_is_409_after_the_data_changed(
    fresh_db, start_source, assert_error
):
    path = fresh_db("pnl")
    url = start_source("pnl", path)
    params = {"q": "SELECT * FROM income_statement", "limit": 5}
    first = requests.get(f"{url}/query", params=params, timeout=10).json()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM income_statement WHERE rowid = 1")
    conn.close()
    response = requests.get(first["next"], timeout=10)
    message = (
        "the data changed since this cursor was issued; request the first page again"
    )
    assert_error(response, 409, "stale_cursor", message)


def test_replaced_database_file_is_reopened(fresh_db, tmp_path, start_source):
    path = fresh_db("pnl")
    url = start_source("pnl", path)
    assert requests.get(f"{url}/health", timeout=10).json()["rows"] == 12
    other = tmp_path / "other" / "pnl.db"
    row = {c: None for c in _columns("pnl")}
    row.update(company_id="ONLY0001", period_end="2024-03-31")
    load_rows(STATEMENTS["pnl"], [row], other)
    os.replace(other, path)
    body = requests.get(f"{url}/data", timeout=10).json()
    assert [r[0] for r in body["rows"]] == ["ONLY0001"]


def _columns(slug):
    from data_sources.validate import schema_columns

    return [c.name for c in schema_columns(STATEMENTS[slug])]
