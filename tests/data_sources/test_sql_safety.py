"""Hostile SQL is refused (400) or cut off (408); the database file never changes."""

import hashlib
import sqlite3
from pathlib import Path

import pytest
import requests

from data_sources.db import Database

LONG_JOIN = ", ".join(f"income_statement t{i}" for i in range(8))
ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
SHADOWED = "SELECT * FROM (WITH secret AS (SELECT 1 AS a) SELECT a FROM secret), secret"
REFUSED = [
    "DELETE FROM income_statement",
    "UPDATE income_statement SET revenue = 0",
    "INSERT INTO income_statement (company_id, period_end) VALUES ('X', '2024-03-31')",
    "REPLACE INTO income_statement (company_id, period_end) VALUES ('X', '2024-03-31')",
    "DROP TABLE income_statement",
    "CREATE TABLE evil (a)",
    "ALTER TABLE income_statement RENAME TO gone",
    "CREATE TRIGGER t AFTER INSERT ON income_statement BEGIN SELECT 1; END",
    "VACUUM",
    "VACUUM INTO 'copy.db'",
    "REINDEX",
    "ANALYZE",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA writable_schema = ON",
    "PRAGMA table_info(income_statement)",
    "ATTACH DATABASE 'other.db' AS other",
    "DETACH DATABASE main",
    "BEGIN; DELETE FROM income_statement; COMMIT",
    "SELECT 1; DELETE FROM income_statement",
    "SELECT 1 /* ; */; DROP TABLE income_statement",
    "SELECT 1 -- a comment\n; DROP TABLE income_statement",
    "/* leading comment */ DELETE FROM income_statement",
    "SELECT * FROM income_statement; PRAGMA query_only = 0",
    "WITH x AS (SELECT 1) DELETE FROM income_statement",
    "SELECT load_extension('/tmp/evil.so')",
    "select LOAD_EXTENSION('evil')",
    "SELECT * FROM sqlite_master",
    "SELECT sql FROM sqlite_schema",
    "SELECT * FROM sqlite_temp_master",
    "SELECT * FROM main.sqlite_master",
    "SELECT 'x' || (SELECT sql FROM sqlite_master LIMIT 1)",
    "SELECT * FROM pragma_table_info('income_statement')",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM secret",
    'SELECT * FROM "secret"',
    "SELECT * FROM income_statement JOIN secret ON 1 = 1",
    "SELECT (SELECT count(*) FROM secret)",
    SHADOWED,
    "SELECT * FROM temp.income_statement",
    "SELECT readfile('/etc/passwd')",
    "SELECT writefile('/tmp/x', 'y')",
    "SELECT zeroblob(2000000000)",
    "SELECT printf('%.*c', 2000000000, 'x')",
    "SELECT hex(randomblob(1000))",
    "SELECT json('{}')",
    "SELECT revenue -> '$' FROM income_statement",
    "SELECT sqlite_version()",
    "SELECT * FROM json_each('[1, 2]')",
    "SELECT * FROM generate_series(1, 10)",
    "SELECT * FROM income_statement WHERE company_id = ?",
    "SELECT * FROM income_statement WHERE company_id = @x",
    "SELECT * FROM income_statement WHERE company_id = $x",
]
CUT_OFF = [
    ENDLESS + "SELECT count(*) FROM r",
    ENDLESS + "SELECT n FROM r ORDER BY n DESC",
    f"SELECT count(*) FROM {LONG_JOIN}",
    f"SELECT max(t0.revenue + t7.revenue) FROM {LONG_JOIN}",
]


def _fingerprint(db_path: Path) -> dict:
    files = [db_path, Path(f"{db_path}-wal")]
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.exists()
    }


@pytest.fixture(scope="module")
def target(tmp_path_factory, start_source):
    """A pnl service with a second table it must never reveal and a 300 ms limit."""
    from data_sources.load import load_file
    from data_sources.statements import STATEMENTS

    db_path = tmp_path_factory.mktemp("hostile") / "pnl.db"
    load_file(
        STATEMENTS["pnl"], Path(__file__).parents[1] / "data" / "pnl.json", db_path
    )
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE secret (a TEXT)")
        conn.execute("INSERT INTO secret VALUES ('do not leak')")
    conn.close()
    return db_path, start_source("pnl", db_path, query_time_limit_ms=300)


def test_corpus_is_large_enough():
    assert len(REFUSED) + len(CUT_OFF) >= 30


def test_hostile_queries_are_refused_or_cut_off_and_leave_the_file_alone(target):
    db_path, url = target
    before = _fingerprint(db_path)
    outcomes = {}
    for sql in REFUSED + CUT_OFF:
        response = requests.get(f"{url}/query", params={"q": sql}, timeout=30)
        outcomes[sql] = (response.status_code, response.json()["error"]["code"])
        assert "do not leak" not in response.text
        assert "Traceback" not in response.text and str(db_path) not in response.text
    assert {sql: outcomes[sql] for sql in REFUSED} == {
        sql: (400, "invalid_query") for sql in REFUSED
    }
    assert {sql: outcomes[sql] for sql in CUT_OFF} == {
        sql: (408, "query_timeout") for sql in CUT_OFF
    }
    assert _fingerprint(db_path) == before
    health = requests.get(f"{url}/health", timeout=10).json()
    assert health["rows"] == 12


def test_timeout_has_the_envelope(target, assert_error):
    _, url = target
    response = requests.get(f"{url}/query", params={"q": CUT_OFF[0]}, timeout=30)
    assert_error(response, 408, "query_timeout", "query exceeded the 300 ms time limit")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT * FROM secret",
            "only table income_statement can be queried, not secret",
        ),
        ("SELECT * FROM sqlite_master", "system tables are not available"),
        ("SELECT 1; SELECT 2", "send exactly one SELECT statement"),
        ("DELETE FROM income_statement", "only SELECT queries are allowed"),
        ("SELECT load_extension('x')", "function load_extension is not allowed"),
        ("SELECT json('{}')", "function json is not allowed"),
        (SHADOWED, "only table income_statement can be queried"),
    ],
)
def test_refusals_say_why(target, assert_error, sql, message):
    _, url = target
    response = requests.get(f"{url}/query", params={"q": sql}, timeout=30)
    assert_error(response, 400, "invalid_query", message)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM income_statement",
        "INSERT INTO income_statement (company_id, period_end) VALUES ('X', 'Y')",
        "PRAGMA query_only = 0",
        "ATTACH DATABASE ':memory:' AS other",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM secret",
        "SELECT load_extension('x')",
        "SELECT * FROM pragma_table_info('income_statement')",
        "CREATE TEMP TABLE t (a)",
    ],
)
def test_connection_refuses_without_the_guard(target, sql):
    """The read-only connection and authorizer hold even if the guard let SQL past."""
    db_path, _ = target
    before = _fingerprint(db_path)
    db = Database(str(db_path), "income_statement", time_limit_ms=300, pool_size=1)
    try:
        with pytest.raises(Exception) as caught:
            db.run(sql, {}, 0, 10, db.version())
        assert getattr(caught.value, "code", None) == "invalid_query"
    finally:
        db.close()
    assert _fingerprint(db_path) == before
