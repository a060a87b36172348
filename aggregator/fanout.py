"""Fetcher: concurrent fan-out of source queries over pooled clients, with a cache."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

from aggregator import sqlgen
from aggregator.cache import ResponseCache, cache_key
from aggregator.client import SourceClient, SourceFailure, SourceResult, elapsed_ms
from aggregator.errors import UpstreamError

log = logging.getLogger(__name__)

__all__ = ["FetchReport", "Fetcher", "SourceFailure", "SourceResult"]


@dataclass(frozen=True)
class FetchReport:
    """Per source: the rows that came back, or why none did. Nothing is dropped."""

    results: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every source asked answered."""
        return not self.failures

    def status(self) -> dict:
        """Return per-source status dicts as the API reports them."""
        status = {name: _ok_status(result) for name, result in self.results.items()}
        for name, failure in self.failures.items():
            status[name] = {**_empty_status(), **failure.to_dict()}
        return dict(sorted(status.items()))


def _empty_status() -> dict:
    return {"rows": 0, "cached": False, "data_version": None}


def _ok_status(result: SourceResult) -> dict:
    return {
        "status": "ok",
        "reason": None,
        "elapsed_ms": result.elapsed_ms,
        "rows": int(len(result.frame)),
        "cached": result.cached,
        "data_version": result.data_version,
        "pages": result.pages,
    }


class Fetcher:
    """Holds one SourceClient per source, a thread pool and the response cache."""

    def __init__(self, settings, *, cache=None, **client_options):
        self.settings = settings
        workers = max(1, int(settings.max_workers))
        self.clients = {
            name: SourceClient(
                source, settings.page_size, pool_size=workers, **client_options
            )
            for name, source in settings.sources.items()
        }
        self.cache = cache or ResponseCache(settings.cache_size, settings.cache_ttl)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="finsync-fanout")

    def fetch_all(self, queries: dict) -> FetchReport:
        """Run each source's query concurrently; return rows and failures per source."""
        self._check_sources(queries)
        tasks = {
            key: partial(self._fetch_one, q.source, q) for key, q in queries.items()
        }
        return self._gather(tasks)

    def distinct_keys(self, source: str) -> list:
        """Return the distinct raw company keys ``source`` holds (cached by version)."""
        sql = sqlgen.select_distinct_keys(self.settings.sources[source])
        query = _DistinctKeys(source, sql)
        result = self._fetch_one(source, query)
        values = result.frame.iloc[:, 0].dropna().astype(str)
        return sorted(set(values))

    def schemas(self) -> FetchReport:
        """Fetch every source's ``/schema`` concurrently; results hold the bodies."""
        tasks = {name: client.schema for name, client in self.clients.items()}
        return self._gather(tasks)

    def health_all(self) -> list:
        """Return each source's health: status up/down, latency, rows, data version."""
        tasks = {name: partial(self._health, name) for name in self.clients}
        report = self._gather(tasks)
        down = {
            name: _down(self.clients[name], f) for name, f in report.failures.items()
        }
        return [{**report.results, **down}[name] for name in self.clients]

    def close(self) -> None:
        """Stop the pool and close every client's connections."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for client in self.clients.values():
            client.close()

    def _check_sources(self, queries: dict) -> None:
        unknown = {query.source for query in queries.values()} - set(self.clients)
        if unknown:
            raise ValueError(f"not configured sources: {sorted(unknown)}")

    def _gather(self, tasks: dict) -> FetchReport:
        futures = {
            name: self._pool.submit(_collect, name, t) for name, t in tasks.items()
        }
        results, failures = {}, {}
        for name, future in futures.items():
            value, failure = future.result()
            if failure is None:
                results[name] = value
            else:
                failures[name] = failure
        return FetchReport(results, failures)

    def _fetch_one(self, name: str, query) -> SourceResult:
        start = time.perf_counter()
        client = self.clients[name]
        version = (
            client.health().get("data_version") if self.cache.max_entries else None
        )
        key = cache_key(name, query.sql, query.params, version)
        hit = self.cache.get(key) if version is not None else None
        if hit is not None:
            return replace(hit, elapsed_ms=elapsed_ms(start))
        result = client.run_query(query.sql, query.params)
        if result.data_version is None:
            result = replace(result, data_version=version)
        if result.data_version is not None:
            self.cache.put(
                cache_key(name, query.sql, query.params, result.data_version), result
            )
        return replace(result, elapsed_ms=elapsed_ms(start))

    def _health(self, name: str) -> dict:
        start = time.perf_counter()
        client = self.clients[name]
        body = client.health()
        return {
            "name": name,
            "url": client.base_url,
            "status": "up" if body.get("status") == "ok" else "down",
            "latency_ms": elapsed_ms(start),
            "rows": body.get("rows"),
            "data_version": body.get("data_version"),
            "reason": None if body.get("status") == "ok" else "source reports not ok",
        }


@dataclass(frozen=True)
class _DistinctKeys:
    source: str
    sql: str
    params: dict = field(default_factory=dict)


def _down(client: SourceClient, failure: SourceFailure) -> dict:
    return {
        "name": client.name,
        "url": client.base_url,
        "status": "down",
        "latency_ms": failure.elapsed_ms,
        "rows": None,
        "data_version": None,
        "reason": failure.reason,
    }


def _collect(name: str, task) -> tuple:
    """Run one source's task; any failure becomes a SourceFailure, never a silence."""
    start = time.perf_counter()
    try:
        return task(), None
    except UpstreamError as exc:
        log.warning("source %s %s: %s", name, exc.source_status, exc.message)
        return None, SourceFailure(exc.source_status, exc.message, elapsed_ms(start))
    except Exception:  # the collector is the one place a broad catch belongs
        log.exception("source %s failed unexpectedly", name)
        reason = "unexpected error while fetching"
        return None, SourceFailure("error", reason, elapsed_ms(start))
