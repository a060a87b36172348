"""Fetcher: concurrent fan-out of source queries over pooled clients, with caches.

``fetch_all`` takes queries under any keys, several per source if need be, and runs
them all at once on one pool (so no source has more requests in flight than the
pool has workers). Results are judged per source: if any query of a source fails,
that source is failed for the call, reported once (its first failing query in the
order given) and none of its results are returned: a source gives all or nothing.

With the response cache on, the data version every cache lookup of a source uses
comes from one ``/health`` per source per ``DataVersions`` (one per call, or one
per run when the caller passes its own); results are stored under the version the
source sent with them, so a data change is never served from the cache. Schemas are
cached per source and data version the same way. With the cache off (size 0) no
``/health`` is asked and every schema and query goes to the source.
"""

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

from aggregator import sqlgen
from aggregator.cache import ResponseCache, SchemaCache, cache_key
from aggregator.client import SourceClient, SourceFailure, SourceResult, elapsed_ms
from aggregator.errors import UpstreamError

log = logging.getLogger(__name__)

__all__ = ["DataVersions", "FetchReport", "Fetcher", "SourceFailure", "SourceResult"]


@dataclass(frozen=True)
class FetchReport:
    """Per query key: the rows that came back; per source: why none did."""

    results: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every source asked answered."""
        return not self.failures

    def status(self) -> dict:
        """Return per-key status dicts as the API reports them."""
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


class DataVersions:
    """Each source's data version and row count from one ``/health``, asked once."""

    def __init__(self, clients: dict, enabled: bool = True):
        self._clients = clients
        self._enabled = enabled
        self._known: dict = {}
        self._locks = {name: threading.Lock() for name in clients}

    def get(self, source: str) -> str | None:
        """Return ``source``'s data version (None when caching is off or unknown).

        A ``/health`` that failed (asked for the version or the row count) fails
        every later request of the source at once, without sending it.
        """
        if not self._enabled and self._known.get(source, (None,) * 3)[2] is None:
            return None
        version, _, error = self._health(source)
        if error is not None:
            raise type(error)(error.message)  # a fresh exception per waiting task
        return version

    def rows(self, source: str) -> int | None:
        """Return ``source``'s row count (None if it does not say), caching or not."""
        _, rows, error = self._health(source)
        if error is not None:
            raise type(error)(error.message)
        return rows

    def _health(self, source: str) -> tuple:
        # Other tasks of the same source wait here for the one asking, never queued
        # behind it, so sharing the fan-out pool cannot deadlock.
        with self._locks[source]:
            if source not in self._known:
                self._known[source] = self._ask(source)
            return self._known[source]

    def _ask(self, source: str) -> tuple:
        try:
            body = self._clients[source].health()
        except UpstreamError as exc:
            return None, None, exc
        version, rows = body.get("data_version"), body.get("rows")
        rows = rows if isinstance(rows, int) and not isinstance(rows, bool) else None
        return (None if version is None else str(version)), rows, None


class Fetcher:
    """Holds one SourceClient per source, a thread pool and the caches."""

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
        self.schema_cache = SchemaCache()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="finsync-fanout")
        limit = max(1, int(getattr(settings, "source_concurrency", workers)))
        self._gates = {name: SourceGate(self._pool, limit) for name in self.clients}

    def data_versions(self) -> DataVersions:
        """Return a new memo of data versions (asks nothing until used)."""
        return DataVersions(self.clients, enabled=self.cache.max_entries > 0)

    def fetch_all(self, queries: dict, versions=None, mappers=None) -> FetchReport:
        """Run every query concurrently; a source with any failed query is failed."""
        versions = versions or self.data_versions()
        futures = self.submit_queries(queries, versions, mappers)
        return judge(queries, {key: f.result() for key, f in futures.items()})

    def submit_queries(self, queries: dict, versions, mappers=None) -> dict:
        """Start every query on the pool; return key -> future of (result, failure).

        ``mappers`` maps query keys to a page mapper (see ``SourceClient.run_query``).
        """
        self._check_sources({query.source for query in queries.values()})
        futures = {}
        for key in _interleaved(queries):
            source, on_page = queries[key].source, (mappers or {}).get(key)
            task = partial(self._fetch_one, queries[key], versions, on_page)
            futures[key] = self._gates[source].submit(partial(_collect, source, task))
        return {key: futures[key] for key in queries}

    def schemas(self, sources=None, versions=None) -> FetchReport:
        """Return the ``/schema`` bodies of ``sources`` (default: all), concurrently."""
        names = list(self.clients) if sources is None else list(sources)
        versions = versions or self.data_versions()
        futures = {name: self.submit_schema(name, versions) for name in names}
        return _report({name: future.result() for name, future in futures.items()})

    def submit_schema(self, source: str, versions: DataVersions) -> Future:
        """Start fetching ``source``'s schema (cached per data version) on the pool."""
        self._check_sources({source})
        task = partial(self._schema_one, source, versions)
        return self._pool.submit(_collect, source, task)

    def submit_row_count(self, source: str, versions: DataVersions) -> Future:
        """Start asking ``source``'s row count (its ``/health``) on the pool."""
        self._check_sources({source})
        return self._pool.submit(_collect, source, partial(versions.rows, source))

    def distinct_keys(self, source: str) -> list:
        """Return the distinct raw company keys ``source`` holds (cached by version)."""
        sql = sqlgen.select_distinct_keys(self.settings.sources[source])
        query = _DistinctKeys(source, sql)
        result = self._fetch_one(query, self.data_versions())
        values = result.frame.iloc[:, 0].dropna().astype(str)
        return sorted(set(values))

    def health_all(self) -> list:
        """Return each source's health: status up/down, latency, rows, data version."""
        futures = {
            name: self._pool.submit(_collect, name, partial(self._health, name))
            for name in self.clients
        }
        report = _report({name: future.result() for name, future in futures.items()})
        down = {
            name: _down(self.clients[name], f) for name, f in report.failures.items()
        }
        return [{**report.results, **down}[name] for name in self.clients]

    def close(self) -> None:
        """Stop the pool and close every client's connections."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for client in self.clients.values():
            client.close()

    def _check_sources(self, names: set) -> None:
        unknown = set(names) - set(self.clients)
        if unknown:
            raise ValueError(f"not configured sources: {sorted(unknown)}")

    def _fetch_one(self, query, versions, on_page=None) -> SourceResult:
        start = time.perf_counter()
        name = query.source
        version = versions.get(name)
        # A mapped result is stored apart from the raw one of the same query.
        variant = () if on_page is None else on_page.cache_variant()
        if version is not None:
            key = cache_key(name, query.sql, query.params, version) + variant
            hit = self.cache.get(key)
            if hit is not None:
                return replace(hit, elapsed_ms=elapsed_ms(start))
        result = self.clients[name].run_query(query.sql, query.params, on_page)
        if result.data_version is None:
            result = replace(result, data_version=version)
        if result.data_version is not None:
            # stored under the version the rows came with, not the one looked up
            key = cache_key(name, query.sql, query.params, result.data_version)
            self.cache.put(key + variant, result)
        return replace(result, elapsed_ms=elapsed_ms(start))

    def _schema_one(self, name: str, versions: DataVersions) -> dict:
        version = versions.get(name)
        body = self.schema_cache.get(name, version)
        if body is None:
            body = self.clients[name].schema()
            self.schema_cache.put(name, version, body)
        return body

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


def judge(queries: dict, outcomes: dict) -> FetchReport:
    """Judge (result, failure) outcomes per source: all its results or one failure."""
    failures = {}
    for key, query in queries.items():
        failure = outcomes[key][1]
        if failure is not None and query.source not in failures:
            failures[query.source] = failure
    results = {
        key: outcomes[key][0]
        for key, query in queries.items()
        if query.source not in failures
    }
    dropped = [k for k, q in queries.items() if q.source in failures]
    if len(dropped) > len(failures):
        log.info("dropped every query of the failed sources: %s", dropped)
    return FetchReport(results, failures)


def _report(outcomes: dict) -> FetchReport:
    results = {n: value for n, (value, fail) in outcomes.items() if fail is None}
    failures = {n: fail for n, (_, fail) in outcomes.items() if fail is not None}
    return FetchReport(results, failures)


def _interleaved(queries: dict) -> list:
    """Return the keys so each source's n-th query starts before any (n+1)-th."""
    seen: dict = {}
    ranked = []
    for position, (key, query) in enumerate(queries.items()):
        seen[query.source] = seen.get(query.source, -1) + 1
        ranked.append((seen[query.source], position, key))
    return [key for _, _, key in sorted(ranked)]


class SourceGate:
    """Keeps at most ``limit`` of one source's queries on the shared pool at once.

    Queries past the limit wait here, not on a pool thread, so one source's many
    key ranges neither crowd its service (each query has a time limit there) nor
    hold threads the other sources need.
    """

    def __init__(self, pool: ThreadPoolExecutor, limit: int):
        self._pool, self._limit = pool, limit
        self._lock = threading.Lock()
        self._running = 0
        self._waiting: deque = deque()

    def submit(self, task) -> Future:
        """Run ``task`` on the pool when a slot is free; return its future."""
        outer: Future = Future()
        with self._lock:
            if self._running >= self._limit:
                self._waiting.append((task, outer))
                return outer
            self._running += 1
        self._start(task, outer)
        return outer

    def _start(self, task, outer: Future) -> None:
        try:
            inner = self._pool.submit(task)
        except RuntimeError as exc:  # the pool is shut down
            outer.set_exception(exc)
            self._finished()
            return
        inner.add_done_callback(partial(self._done, outer))

    def _done(self, outer: Future, inner: Future) -> None:
        if inner.cancelled():
            outer.cancel()
        elif inner.exception() is not None:
            outer.set_exception(inner.exception())
        else:
            outer.set_result(inner.result())
        self._finished()

    def _finished(self) -> None:
        with self._lock:
            if not self._waiting:
                self._running -= 1
                return
            task, outer = self._waiting.popleft()
        self._start(task, outer)


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
