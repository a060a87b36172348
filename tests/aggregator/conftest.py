"""Aggregator fixtures: frames, settings, results, apps, fetchers, WSGI wrappers."""

import threading
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from aggregator.api import EXTENSION as AGGREGATOR
from aggregator.app import create_app as create_aggregator_app
from aggregator.config import load_settings
from aggregator.fanout import Fetcher
from aggregator.planner import plan_queries
from aggregator.query import parse_query
from aggregator.result import RunResult, new_run_id
from data_sources.service import create_app as create_source_app
from data_sources.source import EXTENSION


@pytest.fixture
def frame():
    """Factory: frame("a b", (1, 2), (3, 4)) -> DataFrame with columns a, b."""

    def make(columns: str, *rows, **dtypes) -> pd.DataFrame:
        built = pd.DataFrame.from_records(list(rows), columns=columns.split())
        return built.astype(dtypes) if dtypes else built

    return make


@pytest.fixture(scope="session")
def settings():
    """Settings from the bundled config.json, independent of the environment."""
    return load_settings(env={})


class SlowMiddleware:
    """WSGI middleware: sleep ``delay`` seconds on ``paths``, then call the real app."""

    def __init__(self, app, delay: float, paths=("/query",)):
        self.app, self.delay, self.paths = app, delay, paths

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") in self.paths:
            time.sleep(self.delay)
        return self.app(environ, start_response)


class FailFirstMiddleware:
    """WSGI middleware: fail the first ``count`` requests to ``path``, then delegate."""

    def __init__(self, app, count: int, status: int = 503, path="/query"):
        self.app, self.remaining, self.status, self.path = app, count, status, path
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        with self._lock:
            self.calls += 1
            fail = self.remaining > 0
            self.remaining -= 1 if fail else 0
        if not fail:
            return self.app(environ, start_response)
        start_response(f"{self.status} Failing", [("Content-Type", "text/plain")])
        return [b"Traceback (most recent call last): /srv/secret/path.py"]


class JsonOnlyMiddleware:
    """WSGI middleware: hide the client's Arrow preference, as an older source would."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        environ["HTTP_ACCEPT"] = "application/json"
        return self.app(environ, start_response)


@pytest.fixture
def middleware():
    """The WSGI wrappers tests put around a real source: slow, fail_first, json_only."""
    return SimpleNamespace(
        slow=SlowMiddleware,
        fail_first=FailFirstMiddleware,
        json_only=JsonOnlyMiddleware,
    )


@pytest.fixture
def source_app():
    """Factory: source_app(slug, db_path, **config) -> the real service's Flask app."""
    apps = []

    def build(slug: str, db_path, **config):
        overrides = {key.upper(): value for key, value in config.items()}
        app = create_source_app(slug, {**overrides, "DB_PATH": str(db_path)})
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions[EXTENSION].db.close()


@pytest.fixture
def make_settings(live_sources, tmp_path):
    """Factory: settings on the live sample sources, with per-source overrides."""

    def make(urls=None, sources=None, **overrides):
        urls = {**live_sources, **(urls or {})}
        layer = {slug: {"url": url} for slug, url in urls.items()}
        for slug, extra in (sources or {}).items():
            layer[slug] = {**layer[slug], **extra}
        defaults = {"output_dir": str(tmp_path / "output"), "rate_limit": "1000/minute"}
        return load_settings(
            env={}, overrides={**defaults, **overrides, "sources": layer}
        )

    return make


@pytest.fixture
def make_fetcher():
    """Factory: make_fetcher(settings, **client_options) -> Fetcher, closed after."""
    fetchers = []

    def make(settings, **options):
        fetcher = Fetcher(settings, **options)
        fetchers.append(fetcher)
        return fetcher

    yield make
    for fetcher in fetchers:
        fetcher.close()


@pytest.fixture
def make_result(settings):
    """Factory: make_result(rows=None, run_id=None) -> a small real RunResult."""
    query = parse_query({"fields": ["revenue", "net_income"]}, settings)
    plan = plan_queries(query, settings)
    status = {"status": "ok", "reason": None, "elapsed_ms": 5.0, "rows": 3}
    status.update(cached=False, data_version="v1")
    rejection = {"raw": "ZZQX9999", "source": "pnl", "rows": 1, "candidates": []}

    def make(rows=None, run_id=None, created_at="2024-05-06T07:08:09Z"):
        if rows is None:
            rows = pd.DataFrame({"company_id": ["ACME0001", "NORT0002"]})
            rows["revenue"] = [10.5, float("nan")]
            rows["revenue_count"] = [2, 0]
        rejected = pd.DataFrame({"source": ["pnl"], "raw_key": ["ZZQX9999"]})
        rejected["revenue"] = [3.0]
        return RunResult(
            run_id=run_id or new_run_id(),
            created_at=created_at,
            query=query,
            plan=plan,
            rows=rows,
            rejected=rejected,
            sources={"pnl": status},
            corrections=(),
            rejections=(rejection,),
            type_mismatches=(),
            discrepancies=(),
            warnings=(),
            complete=True,
        )

    return make


@pytest.fixture
def make_agg_app(make_settings):
    """Factory: make_agg_app(urls=None, config=None, **settings) -> aggregator app."""
    apps = []

    def make(urls=None, sources=None, config=None, **overrides):
        settings = make_settings(urls=urls, sources=sources, **overrides)
        app = create_aggregator_app(settings, config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions[AGGREGATOR].fetcher.close()
