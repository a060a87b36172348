"""One run's requests over real services: counts, overlap, all-or-nothing sources."""

import logging
import sqlite3
import threading
import time
from contextlib import closing
from datetime import datetime, timezone
from urllib.parse import parse_qs

import pandas as pd
import pytest

from aggregator.companies import CompanyRegistry
from aggregator.fetch_session import FetchSession
from aggregator.pipeline import run_aggregation
from aggregator.planner import SourceQuery, plan_queries
from aggregator.query import parse_query
from aggregator.sqlgen import select_key_counts
from data_sources.load import load_rows
from data_sources.statements import STATEMENTS

NOW = datetime(2024, 11, 5, 12, 30, tzinfo=timezone.utc)
SLUGS = tuple(STATEMENTS)


class RequestLog:
    """WSGI middleware: log every request as [path, SQL, start, end, status]."""

    def __init__(self, app, refuse_sql=None):
        self.app, self.refuse_sql = app, refuse_sql
        self.requests = []
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        sql = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0]
        entry = [path, sql, time.perf_counter(), None, None]  # logged on arrival
        with self._lock:
            self.requests.append(entry)

        def record(status, headers, exc_info=None):
            entry[4] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        if self.refuse_sql and self.refuse_sql in sql:
            body = [b"refused by the test"]
            record("400 Bad Request", [("Content-Type", "text/plain")])
        else:
            body = self.app(environ, record)
        entry[3] = time.perf_counter()
        return body

    def count(self, path: str) -> int:
        """Return how many requests went to ``path``."""
        return sum(1 for entry in self.requests if entry[0] == path)

    def queries(self, marker: str = "") -> list:
        """Return the /query requests whose SQL contains ``marker``."""
        return [e for e in self.requests if e[0] == "/query" and marker in e[1]]

    def clear(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.requests.clear()


@pytest.fixture
def logged(make_settings, make_fetcher, source_app, serve_wsgi, sample_dbs, middleware):
    """Factory: logged(dbs=, delays=, refuse=, urls=, **settings) -> (run, logs)."""

    def make(dbs=None, delays=None, refuse=None, urls=None, **overrides):
        logs, served = {}, dict(urls or {})
        for slug in SLUGS:
            if slug in served:
                continue
            app = source_app(slug, (dbs or {}).get(slug, sample_dbs[slug]))
            delay = (delays or {}).get(slug)
            if delay:  # seconds on /query, or (seconds, paths)
                app = middleware.slow(
                    app, *(delay if isinstance(delay, tuple) else [delay])
                )
            logs[slug] = RequestLog(app, (refuse or {}).get(slug))
            served[slug] = serve_wsgi(logs[slug])[0]
        settings = make_settings(urls=served, **overrides)
        fetcher = make_fetcher(settings)
        registry = CompanyRegistry.from_file(settings.registry_path)

        def run(payload):
            query = parse_query(payload, settings)
            return run_aggregation(query, settings, registry, fetcher, NOW)

        run.fetcher, run.settings = fetcher, settings
        return run, logs

    return make


def test_a_run_asks_each_source_for_its_health_once(logged):
    run, logs = logged()
    first = run({})
    assert first.complete
    for slug in SLUGS:
        assert (logs[slug].count("/health"), logs[slug].count("/schema")) == (1, 1)
        assert logs[slug].count("/query") >= 1
        logs[slug].clear()
    second = run({})
    for slug in SLUGS:  # schemas and rows come from the caches at the same version
        assert logs[slug].count("/health") == 1
        assert logs[slug].count("/schema") == logs[slug].count("/query") == 0
        assert second.sources[slug]["cached"] is True
    pd.testing.assert_frame_equal(second.rows, first.rows)


def test_with_the_cache_off_a_run_asks_health_only_to_size_text_amounts(logged):
    run, logs = logged(cache_size=0)
    assert run({}).complete
    for slug in SLUGS:  # cash_flow's size decides between rows and packed partials
        assert logs[slug].count("/health") == (slug == "cash_flow")
        assert logs[slug].count("/schema") == 1
    assert run({"companies": ["ACME0001"]}).complete  # key discovery decides then
    assert logs["cash_flow"].count("/health") == 1


def test_new_rows_between_runs_are_fetched_not_served_from_cache(logged, fresh_db):
    db = fresh_db("pnl")
    run, logs = logged(dbs={"pnl": db})
    payload = {"fields": ["revenue"]}
    before = run(payload)
    assert run(payload).sources["pnl"]["cached"] is True
    logs["pnl"].clear()
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        row = pd.read_sql_query("SELECT * FROM income_statement LIMIT 1", conn)
    record = {k: (None if pd.isna(v) else v) for k, v in row.iloc[0].items()}
    load_rows(STATEMENTS["pnl"], [{**record, "company_id": "ZZZZ9999"}], db)
    after = run(payload)
    status = after.sources["pnl"]
    assert status["cached"] is False
    assert status["data_version"] != before.sources["pnl"]["data_version"]
    assert logs["pnl"].count("/health") == 1 and logs["pnl"].count("/schema") == 1
    assert {"raw": "ZZZZ9999", "source": "pnl", "rows": 1} in [
        {k: r[k] for k in ("raw", "source", "rows")} for r in after.rejections
    ]


def test_a_source_whose_later_query_fails_gives_nothing_to_the_run(logged):
    run, logs = logged(refuse={"pnl": '" IN (:r'})  # its rejected-rows query
    result = run({})
    status = result.sources["pnl"]
    assert (status["status"], status["reason"], status["rows"]) == (
        "error",
        "HTTP 400",
        0,
    )
    answered = [e for e in logs["pnl"].queries() if e[4] == 200]
    discovery = select_key_counts(run.settings.sources["pnl"])
    assert any(e[1] == discovery for e in answered)  # its key discovery succeeded,
    # and so did its partial aggregate, yet none is used
    assert any("SUM(" in e[1] for e in answered)
    assert not result.complete
    assert {r["source"] for r in result.rejections} == {"balance_sheet", "cash_flow"}
    assert all(c["source"] != "pnl" for c in result.corrections)
    assert all("pnl" not in d["values"] for d in result.discrepancies)
    assert result.rows["revenue_count"].eq(0).all()
    assert result.sources["cash_flow"]["status"] == "ok"


def test_sources_the_query_does_not_need_are_never_asked(logged, closed_url):
    run, logs = logged(urls={"balance_sheet": closed_url})
    result = run({"fields": ["revenue"]})
    assert result.complete and list(result.sources) == ["pnl"]
    assert logs["cash_flow"].requests == []


def test_a_sources_data_starts_as_soon_as_its_own_keys_arrive(logged):
    delay = 1.5
    run, logs = logged(delays={"pnl": delay, "cash_flow": delay})
    result = run({"companies": ["ACME0001"], "fields": ["revenue", "cash"]})
    assert result.complete
    discovery = {slug: select_key_counts(run.settings.sources[slug]) for slug in SLUGS}
    (pnl_keys,) = logs["pnl"].queries(discovery["pnl"])
    (flow_keys,) = logs["cash_flow"].queries(discovery["cash_flow"])
    assert pnl_keys[3] - pnl_keys[2] >= delay  # each discovery was held back,
    assert pnl_keys[2] < flow_keys[3] and flow_keys[2] < pnl_keys[3]  # both at once
    sheet_data = [
        e for e in logs["balance_sheet"].queries() if e[1] != discovery["balance_sheet"]
    ]
    assert sheet_data and sheet_data[0][2] < min(pnl_keys[3], flow_keys[3])


@pytest.mark.parametrize("cache_size", [128, 0], ids=["cache", "no_cache"])
def test_a_hung_source_costs_one_time_out_and_is_not_asked_again(logged, cache_size):
    hang = 3.0
    run, logs = logged(
        delays={"cash_flow": (hang, ("/health", "/schema", "/query"))},
        sources={"cash_flow": {"read_timeout": 0.5}},
        cache_size=cache_size,
    )
    result = run({})
    status = result.sources["cash_flow"]
    assert (status["status"], status["reason"]) == (
        "unavailable",
        "no answer within 0.5s",
    )
    assert status["elapsed_ms"] < hang * 1000  # the time-out, not the hang
    asked = logs["cash_flow"].requests
    if cache_size:  # the one /health failed: nothing else was sent
        assert [e[0] for e in asked] == ["/health"]
    else:  # its schema and its size (/health) went out together; both timed out
        assert sorted(e[0] for e in asked) == ["/health", "/schema"]
    assert {result.sources[s]["status"] for s in ("pnl", "balance_sheet")} == {"ok"}


def test_fetch_all_asks_each_source_for_its_health_once(logged):
    run, logs = logged()
    fetcher = run.fetcher
    sql = "SELECT company_id FROM income_statement WHERE company_id = :c"
    queries = {f"pnl:{c}": SourceQuery("pnl", sql, {"c": c}, "rows") for c in "ABC"}
    assert fetcher.fetch_all(queries).complete
    assert (logs["pnl"].count("/health"), logs["pnl"].count("/query")) == (1, 3)
    versions = fetcher.data_versions()
    for _ in range(2):
        assert fetcher.fetch_all(queries, versions).complete
    assert (logs["pnl"].count("/health"), logs["pnl"].count("/query")) == (2, 3)


def test_plan_queries_not_run_ahead_are_fetched_before_use(logged, caplog):
    run, logs = logged()
    query = parse_query({"pushdown": False}, run.settings)
    plan = plan_queries(query, run.settings)
    session = FetchSession(run.fetcher)
    session.fetch(run.settings, list(plan.sources), {}, lambda name, keys: {})
    assert all(logs[slug].count("/query") == 0 for slug in SLUGS)
    with caplog.at_level(logging.WARNING, logger="aggregator.fetch_session"):
        frames = session.frames_for(plan)
    assert "not run ahead" in caplog.text
    assert sorted(frames) == sorted(plan.sources) and not session.failures
    for slug in SLUGS:
        assert (
            logs[slug].count("/query") == 1 and len(frames[slug]["rows"][0].frame) > 0
        )


def test_taken_results_are_left_out_until_given_back(logged):
    run, logs = logged()
    query = parse_query({"pushdown": False}, run.settings)
    plan = plan_queries(query, run.settings)
    session = FetchSession(run.fetcher)
    done = []

    def queries_for(name, keys):
        yield {k: q for k, q in plan.queries.items() if q.source == name}

    session.fetch(run.settings, list(plan.sources), {}, queries_for, None, done.append)
    # Handed over only while another source was still answering: not the last.
    assert len(done) < len(plan.sources)
    name = done[0] if done else "pnl"
    own = {k: q for k, q in plan.queries.items() if q.source == name}
    kinds = session.take(name, own)
    assert len(kinds["rows"][0].frame) > 0
    assert name not in session.frames_for(plan)  # taken: not handed over twice
    assert logs[name].count("/query") == 1
    session.give_back(name)
    again = session.frames_for(plan)  # given back: run again, as not run ahead
    assert len(again[name]["rows"][0].frame) == len(kinds["rows"][0].frame)
    assert session.take(name, {**own, "other": object()}) is None  # not all there


def test_every_source_starts_its_first_batch_before_any_resolves_keys(logged):
    """A source's later batches (they resolve its keys first) wait for every
    source's keys, so a slow resolution never holds up another's first queries."""
    run, _ = logged(delays={"cash_flow": 0.4}, cache_size=0)
    events = []

    def queries_for(name, keys):
        events.append(("first", name))
        yield {}
        events.append(("rest", name))
        yield {}

    sources = run.settings.sources
    discovery = {
        slug: (SourceQuery(slug, select_key_counts(sources[slug]), {}, "keys"),)
        for slug in SLUGS
    }
    session = FetchSession(run.fetcher)
    session.fetch(run.settings, list(SLUGS), discovery, queries_for)
    assert not session.failures
    assert sorted(events[:3]) == [("first", slug) for slug in sorted(SLUGS)]
    assert sorted(events[3:]) == [("rest", slug) for slug in sorted(SLUGS)]
    # cash_flow's keys came last, after the others had been waiting for them
    assert events[2] == ("first", "cash_flow")
