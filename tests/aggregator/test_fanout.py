"""Fetcher fan-out over real services: concurrency, partial failure, health."""

import logging
import sqlite3
import time
from contextlib import closing

import pytest

from aggregator.errors import SourceUnavailableError
from aggregator.planner import SourceQuery

COUNT_SQL = {
    "pnl": "SELECT COUNT(*) AS n FROM income_statement",
    "balance_sheet": "SELECT COUNT(*) AS n FROM balance_sheet",
    "cash_flow": "SELECT COUNT(*) AS n FROM cash_flow_statement",
}


def count_queries(slugs=COUNT_SQL) -> dict:
    """Return one COUNT(*) SourceQuery per source."""
    return {slug: SourceQuery(slug, COUNT_SQL[slug], {}, "rows") for slug in slugs}


def db_count(db_path, table: str) -> int:
    """Count rows straight from the SQLite file."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_fetch_all_answers_every_source(make_settings, make_fetcher, sample_dbs):
    report = make_fetcher(make_settings()).fetch_all(count_queries())
    assert report.complete and not report.failures
    tables = {"pnl": "income_statement", "balance_sheet": "balance_sheet"}
    tables["cash_flow"] = "cash_flow_statement"
    for slug, table in tables.items():
        assert report.results[slug].frame["n"].tolist() == [
            db_count(sample_dbs[slug], table)
        ]
        assert report.status()[slug]["status"] == "ok"


def test_a_stopped_source_is_unavailable_and_the_others_still_answer(
    make_settings, make_fetcher, source_app, serve_wsgi, sample_dbs
):
    url, stop = serve_wsgi(source_app("pnl", sample_dbs["pnl"]))
    fetcher = make_fetcher(make_settings(urls={"pnl": url}))
    assert fetcher.fetch_all(count_queries()).complete
    stop()
    report = fetcher.fetch_all(count_queries())
    assert not report.complete
    assert set(report.results) == {"balance_sheet", "cash_flow"}
    failure = report.failures["pnl"]
    assert (failure.status, failure.reason) == ("unavailable", "connection refused")
    status = report.status()["pnl"]
    assert status["status"] == "unavailable" and status["rows"] == 0


def test_slow_sources_cost_the_slowest_wait_not_the_sum(
    make_settings, make_fetcher, source_app, serve_wsgi, sample_dbs, middleware
):
    slow = {"pnl": 4.0, "balance_sheet": 1.5}
    urls = {
        slug: serve_wsgi(middleware.slow(source_app(slug, sample_dbs[slug]), delay))[0]
        for slug, delay in slow.items()
    }
    timeouts = {"pnl": {"read_timeout": 1.0}, "balance_sheet": {"read_timeout": 10.0}}
    fetcher = make_fetcher(make_settings(urls=urls, sources=timeouts))
    start = time.perf_counter()
    report = fetcher.fetch_all(count_queries())
    wall = time.perf_counter() - start
    failure = report.failures["pnl"]
    assert (failure.status, failure.reason) == ("unavailable", "no answer within 1.0s")
    assert failure.elapsed_ms < slow["pnl"] * 1000  # the time-out, not the delay
    assert set(report.results) == {"balance_sheet", "cash_flow"}
    assert report.results["balance_sheet"].elapsed_ms >= slow["balance_sheet"] * 1000
    waits = failure.elapsed_ms + report.results["balance_sheet"].elapsed_ms
    assert wall * 1000 < waits  # concurrent: about the slowest wait, not their sum


def test_an_unexpected_error_becomes_a_logged_failure(
    make_settings, make_fetcher, caplog
):
    queries = count_queries()
    queries["pnl"] = SourceQuery("pnl", COUNT_SQL["pnl"], {"q": "clash"}, "rows")
    with caplog.at_level(logging.ERROR, logger="aggregator.fanout"):
        report = make_fetcher(make_settings()).fetch_all(queries)
    failure = report.failures["pnl"]
    assert (failure.status, failure.reason) == (
        "error",
        "unexpected error while fetching",
    )
    assert "source pnl failed unexpectedly" in caplog.text
    assert "Traceback" in caplog.text
    assert set(report.results) == {"balance_sheet", "cash_flow"}


def test_fetch_all_refuses_sources_that_are_not_configured(make_settings, make_fetcher):
    query = SourceQuery("ledger", "SELECT 1", {}, "rows")
    with pytest.raises(ValueError, match="ledger"):
        make_fetcher(make_settings()).fetch_all({"ledger": query})


def test_health_all_reports_up_and_down_sources(
    make_settings, make_fetcher, closed_url, live_sources, sample_dbs
):
    fetcher = make_fetcher(make_settings(urls={"cash_flow": closed_url}))
    health = {entry["name"]: entry for entry in fetcher.health_all()}
    assert list(health) == ["pnl", "balance_sheet", "cash_flow"]
    up = health["pnl"]
    rows = db_count(sample_dbs["pnl"], "income_statement")
    assert (up["status"], up["url"], up["rows"]) == ("up", live_sources["pnl"], rows)
    assert up["data_version"] and up["latency_ms"] >= 0 and up["reason"] is None
    down = health["cash_flow"]
    assert (down["status"], down["reason"]) == ("down", "connection refused")
    assert down["rows"] is None and down["data_version"] is None


def test_schemas_returns_each_source_schema(make_settings, make_fetcher, closed_url):
    fetcher = make_fetcher(make_settings(urls={"balance_sheet": closed_url}))
    report = fetcher.schemas()
    assert report.results["pnl"]["key_column"] == "company_id"
    assert report.results["cash_flow"]["period_format"] == "year_quarter"
    assert report.failures["balance_sheet"].status == "unavailable"


def test_distinct_keys_returns_the_raw_keys_as_stored(
    make_settings, make_fetcher, sample_dbs
):
    keys = make_fetcher(make_settings()).distinct_keys("balance_sheet")
    with closing(sqlite3.connect(sample_dbs["balance_sheet"])) as conn:
        rows = conn.execute("SELECT DISTINCT company FROM balance_sheet").fetchall()
    assert keys == sorted(row[0] for row in rows if row[0] is not None)


def test_distinct_keys_raises_when_the_source_is_down(
    make_settings, make_fetcher, closed_url
):
    fetcher = make_fetcher(make_settings(urls={"pnl": closed_url}))
    with pytest.raises(SourceUnavailableError):
        fetcher.distinct_keys("pnl")


def test_fetch_all_runs_several_queries_per_source_at_once(
    make_settings, make_fetcher, source_app, serve_wsgi, sample_dbs, middleware
):
    delay = 1.0
    slow = middleware.slow(source_app("pnl", sample_dbs["pnl"]), delay)
    fetcher = make_fetcher(make_settings(urls={"pnl": serve_wsgi(slow)[0]}))
    keys = "SELECT DISTINCT company_id FROM income_statement ORDER BY company_id"
    queries = {
        **count_queries(),
        "pnl:keys": SourceQuery("pnl", keys, {}, "keys"),
        "pnl:acme": SourceQuery(
            "pnl",
            "SELECT revenue FROM income_statement WHERE company_id = :c",
            {"c": "ACME0001"},
            "rows",
        ),
    }
    start = time.perf_counter()
    report = fetcher.fetch_all(queries)
    wall = time.perf_counter() - start
    assert report.complete and list(report.results) == list(queries)
    with closing(sqlite3.connect(sample_dbs["pnl"])) as conn:
        distinct = [r[0] for r in conn.execute(keys)]
        acme = conn.execute(
            "SELECT COUNT(*) FROM income_statement WHERE company_id = 'ACME0001'"
        ).fetchone()[0]
    assert report.results["pnl:keys"].frame["company_id"].tolist() == distinct
    assert len(report.results["pnl:acme"].frame) == acme > 0
    assert report.results["pnl"].frame["n"].tolist() == [
        db_count(sample_dbs["pnl"], "income_statement")
    ]
    pnl_waits = [report.results[k].elapsed_ms for k in ("pnl", "pnl:keys", "pnl:acme")]
    assert min(pnl_waits) >= delay * 1000
    assert wall * 1000 < sum(pnl_waits)  # one source's queries overlap


def test_a_source_failing_one_of_its_queries_is_failed_once_and_gives_nothing(
    make_settings, make_fetcher
):
    queries = count_queries()
    queries["pnl:refused"] = SourceQuery("pnl", "SELECT * FROM sqlite_master", {}, "x")
    report = make_fetcher(make_settings()).fetch_all(queries)
    assert list(report.failures) == ["pnl"]  # one failure per source, not per query
    failure = report.failures["pnl"]
    assert failure.status == "error"
    assert failure.reason.startswith("HTTP 400 invalid_query: ")
    assert set(report.results) == {"balance_sheet", "cash_flow"}  # pnl's count dropped
    assert report.status()["pnl"]["status"] == "error"


def test_a_failed_source_reports_its_first_failing_query_in_the_order_given(
    make_settings, make_fetcher
):
    queries = {
        "pnl:ok": SourceQuery("pnl", COUNT_SQL["pnl"], {}, "rows"),
        "pnl:refused": SourceQuery("pnl", "SELECT * FROM sqlite_master", {}, "x"),
        "pnl:missing": SourceQuery("pnl", "SELECT nope FROM income_statement", {}, "x"),
    }
    report = make_fetcher(make_settings()).fetch_all(queries)
    assert report.results == {}
    assert report.failures["pnl"].reason.startswith("HTTP 400 invalid_query: ")
    assert "nope" not in report.failures["pnl"].reason


def test_schemas_asks_only_the_requested_sources(
    make_settings, make_fetcher, closed_url
):
    urls = {"balance_sheet": closed_url, "cash_flow": closed_url}
    fetcher = make_fetcher(make_settings(urls=urls))
    report = fetcher.schemas(["pnl"])
    assert report.complete and list(report.results) == ["pnl"]
    assert report.results["pnl"]["table"] == "income_statement"
    assert fetcher.schemas([]).results == {}
    with pytest.raises(ValueError, match="ledger"):
        fetcher.schemas(["ledger"])


def test_a_source_gate_keeps_at_most_its_limit_running_and_runs_everything():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from aggregator.fanout import SourceGate

    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def task(number):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
        return number

    with ThreadPoolExecutor(8) as pool:
        gate = SourceGate(pool, 2)
        futures = [gate.submit(lambda n=n: task(n)) for n in range(7)]
        deadline = time.monotonic() + 5
        while running[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        assert [f.result(timeout=10) for f in futures] == list(range(7))
    assert peak[0] == 2


def test_a_source_gate_fails_waiting_queries_once_the_pool_is_shut_down():
    from concurrent.futures import ThreadPoolExecutor

    from aggregator.fanout import SourceGate

    pool = ThreadPoolExecutor(1)
    gate = SourceGate(pool, 1)
    first = gate.submit(lambda: 1)
    assert first.result(timeout=5) == 1
    pool.shutdown()
    with pytest.raises(RuntimeError):
        gate.submit(lambda: 2).result(timeout=5)
