"""One run's conversation with the sources: schemas, key discovery and data, overlapped.

Each source's requests start as soon as what they depend on is known: its
``/schema``, its size (when its plan depends on it), its key discovery and its data
queries that need no discovered keys all start at once, and its other data queries
start when its own size or keys arrive, whatever the other sources are doing. With
the response cache on, one ``/health`` per source per run gives the data version all
of that source's cache lookups use; the same ``/health`` gives a sized source's rows.

A source that fails anything (its schema, its mapping check, its size, key discovery
or any data query) is failed for the whole run: no request for it starts after that,
none of its data is used (a source contributes all of its rows or none, even when
some of its queries answered), and it is reported once, with its first failure in
the order schema, mapping, size, keys, data (plan order), not in the order answers
happened to come.

A source whose every request has answered can be handed over (``on_done``,
``take``) while the others are still fetching, so its results are used early;
``frames_for`` then leaves it out.
"""

import logging
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field, replace

import pandas as pd

from aggregator.partial_pages import PartialMapper
from aggregator.schema_map import ROW_KINDS, PageMapper, check_mapping

log = logging.getLogger(__name__)

_SCHEMA, _MAPPING, _SIZE, _KEYS, _DATA = range(5)


@dataclass(frozen=True)
class _Task:
    stage: int
    source: str
    key: str = ""
    query: object = None
    order: int = 0


@dataclass
class FetchSession:
    """Runs one run's requests and tracks per-source results, failures and timings."""

    fetcher: object
    failures: dict = field(default_factory=dict)
    elapsed: dict = field(default_factory=dict)
    cached: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def __post_init__(self):
        self._settings = getattr(self.fetcher, "settings", None)
        self._data_versions = self.fetcher.data_versions()
        self._started = time.perf_counter()
        self._problems: dict = {}
        self._keys: dict = {}
        self._key_parts: dict = {}  # source -> its key ranges' answers so far
        self._data: dict = {}
        self._taken: dict = {}  # source -> queries whose results ``take`` gave

    def fail(self, source: str, status: str, reason: str, elapsed_ms=0.0) -> None:
        """Record that ``source`` failed; keep only its first failure."""
        self._time(source, elapsed_ms)
        if source not in self.failures:
            log.info("source %s %s: %s", source, status, reason)
            self.failures[source] = {"status": status, "reason": reason}

    def fetch(
        self, settings, needed, discovery: dict, queries_for, sizing=None, on_done=None
    ):
        """Fetch schemas, keys and data; return source -> keys frame of live sources.

        ``discovery`` maps a source to its key discovery queries (key ranges in
        key order; their answers are joined). ``queries_for(source, keys_frame)``
        yields the data queries of ``source`` in batches, each started before
        the next is asked for (``keys_frame`` is None for sources without key
        discovery). ``sizing`` is (sources, how): those sources' row counts are
        asked first (``/health``), and ``how(source, rows)`` returns the key
        discovery queries to run, or None.
        ``on_done(source)`` is called for each source whose every request has
        answered without a problem, while others are still fetching, once every
        source's data queries have started (so it delays none of them); it may
        ``take`` that source's results.
        """
        self._settings = settings
        sized, discovery_for = sizing or ((), None)
        tasks = {}
        for name in needed:
            future = self.fetcher.submit_schema(name, self._data_versions)
            tasks[future] = _Task(_SCHEMA, name)
        for name in sized:
            future = self.fetcher.submit_row_count(name, self._data_versions)
            tasks[future] = _Task(_SIZE, name)
        for name, queries in discovery.items():
            tasks.update(self._submit_keys(name, queries))
        for name in needed:
            if name not in discovery and name not in sized:
                for batch in queries_for(name, None):
                    tasks.update(self._submit_data(batch))
        pending, ready, handed, later = set(tasks), [], set(), []
        while pending or later:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task, more = tasks[future], {}
                if task.stage == _SIZE:
                    more = self._sized(task, future.result(), discovery_for)
                    if more == {}:  # no key discovery: the data queries go now
                        for batch in queries_for(task.source, None):
                            more.update(self._submit_data(batch))
                else:
                    keys = self._receive(settings, task, future.result())
                    if keys is not None:
                        batches = queries_for(task.source, keys)
                        more = self._submit_data(next(batches, {}))
                        later.append(batches)
                more = more or {}
                tasks.update(more)
                pending |= set(more)
            if later and not any(tasks[f].stage < _DATA for f in pending):
                more = self._rest(later)
                tasks.update(more)
                pending |= set(more)
            if on_done is not None and not later:
                ready += self._finished(needed, tasks, pending, [*ready, *handed])
                if ready and pending and all(tasks[f].stage == _DATA for f in pending):
                    for name in ready:
                        on_done(name)
                    handed.update(ready)
                    ready = []
        self._settle(needed)
        return {n: r.frame for n, r in self._keys.items() if n not in self.failures}

    def _rest(self, later: list) -> dict:
        """Submit the batches after each source's first; empty ``later``.

        A source's first batch goes as soon as its keys are in; the rest may
        first resolve those keys, which would hold up the next source's first
        batch, so they wait until every source's keys are in.
        """
        more = {}
        while later:
            for batch in later.pop(0):
                more.update(self._submit_data(batch))
        return more

    def frames_for(self, plan) -> dict:
        """Return source -> {kind: [result per query, in plan order]}, live sources.

        Sources ``take`` handed over already are left out.

        A result is a frame (key discovery), the ``MappedRows`` of a row kind
        (``ROW_KINDS``) or the ``PartialPage`` of a partial query: what its pages
        were mapped to while they arrived (or now, if they came unmapped).

        The frames are handed over: the session keeps no reference to them, so the
        caller can free each source's rows as soon as it has used them.
        """
        wanted = {
            k: q
            for k, q in plan.queries.items()
            if q.source not in self.failures and q.source not in self._taken
        }
        missing = {
            key: query
            for key, query in wanted.items()
            if key not in self._data or self._data[key][0] != query
        }
        if missing:  # the plan differs from the per-source plans run ahead
            log.warning("running plan queries not run ahead: %s", sorted(missing))
            self._run_missing(missing)
        return self._hand_over(
            {k: q for k, q in wanted.items() if q.source not in self.failures}
        )

    def _hand_over(self, queries: dict) -> dict:
        """Pop ``queries``' results: source -> {kind: [mapped result, in order]}."""
        frames = {}
        for key, query in queries.items():
            result = self._data.pop(key)[1]
            self._note(query.source, result)
            kinds = frames.setdefault(query.source, {})
            mapped = result.mapped
            if mapped is None:  # fetched without a mapper: map it now
                mapper = self._mappers({key: query}).get(key)
                mapped = result.frame if mapper is None else mapper.map(result.frame)
            kinds.setdefault(query.kind, []).append(mapped)
        return frames

    def take(self, source: str, queries: dict):
        """Hand over ``source``'s results if they answer exactly ``queries``.

        Return {kind: [result per query, in order]} as ``frames_for`` does, or
        None (nothing taken) when any of ``queries`` is missing or different.
        ``frames_for`` then leaves the source out.
        """
        if any(self._data.get(k, (None,))[0] != q for k, q in queries.items()):
            return None
        kinds = self._hand_over(queries)
        self._taken[source] = dict(queries)
        return kinds.get(source, {})

    def give_back(self, source: str) -> None:
        """Forget that ``source``'s results were taken: ``frames_for`` reruns them."""
        self._taken.pop(source, None)

    def _finished(self, needed, tasks: dict, pending: set, seen: list) -> list:
        """Return the sources, not in ``seen``, with no request pending or failed."""
        busy = {tasks[f].source for f in pending}
        return [
            name
            for name in needed
            if name not in busy and name not in seen and name not in self._problems
        ]

    def status(self, participants, rows: dict) -> dict:
        """Return the API's per-source status for every participating source."""
        out = {}
        for name in participants:
            failure = self.failures.get(name)
            out[name] = {
                "status": failure["status"] if failure else "ok",
                "reason": failure["reason"] if failure else None,
                "elapsed_ms": round(self.elapsed.get(name, 0.0), 1),
                "rows": 0 if failure else int(rows.get(name, 0)),
                "cached": bool(not failure and self.cached.get(name, False)),
                "data_version": None if failure else self.versions.get(name),
            }
        return out

    def _submit_keys(self, name: str, queries: tuple) -> dict:
        """Start ``name``'s key discovery: one query per key range, in key order."""
        keyed = {f"{name}:keys:{n}": query for n, query in enumerate(queries)}
        self._key_parts[name] = [None] * len(keyed)
        futures = self._submit(keyed)
        return {
            futures[key]: _Task(_KEYS, name, key, query, order)
            for order, (key, query) in enumerate(keyed.items())
        }

    def _sized(self, task: _Task, outcome: tuple, discovery_for):
        """Take a row count: return the discovery task it calls for, {} for none.

        None when the source failed (nothing more is asked of it).
        """
        rows, failure = outcome
        self._time(task.source, (time.perf_counter() - self._started) * 1000)
        if failure is not None:
            self._problem(task, _SIZE, failure.status, failure.reason)
            return None
        queries = discovery_for(task.source, rows)
        return {} if queries is None else self._submit_keys(task.source, queries)

    def _submit(self, queries: dict) -> dict:
        return self.fetcher.submit_queries(
            queries, self._data_versions, self._mappers(queries)
        )

    def _mappers(self, queries: dict) -> dict:
        """Row and partial results are mapped page by page as they arrive.

        See PageMapper and PartialMapper.
        """
        if self._settings is None:
            return {}
        sources, mappers = self._settings.sources, {}
        for key, query in queries.items():
            source = sources[query.source]
            if query.kind in ROW_KINDS:
                mappers[key] = PageMapper(source)
            elif query.kind == "partial":
                mappers[key] = PartialMapper(source, query.observed, query.extremes)
        return mappers

    def _submit_data(self, queries: dict) -> dict:
        if not queries or any(q.source in self._problems for q in queries.values()):
            return {}
        futures = self._submit(queries)
        return {
            futures[key]: _Task(_DATA, query.source, key, query, order)
            for order, (key, query) in enumerate(queries.items())
        }

    def _receive(self, settings, task: _Task, outcome: tuple):
        """Record one answer; return the keys frame when it is a discovery answer."""
        value, failure = outcome
        self._time(task.source, (time.perf_counter() - self._started) * 1000)
        if failure is not None:
            self._problem(task, task.stage, failure.status, failure.reason)
            return None
        if task.stage == _SCHEMA:
            for problem in check_mapping(settings, {task.source: value}):
                reason = f"mapping: {problem['message']}"
                self._problem(task, _MAPPING, "error", reason)
            return None
        if task.stage == _KEYS:
            return self._keys_answered(task, value)
        self._data[task.key] = (task.query, value)
        return None

    def _keys_answered(self, task: _Task, value):
        """Keep one key range's counts; return all the source's once all are in."""
        parts = self._key_parts[task.source]
        parts[task.order] = value
        if any(part is None for part in parts):
            return None
        if len(parts) > 1:
            frame = pd.concat([part.frame for part in parts], ignore_index=True)
            cached = all(part.cached for part in parts)
            value = replace(parts[0], frame=frame, cached=cached)
        self._keys[task.source] = value
        return value.frame

    def _problem(self, task: _Task, rank: int, status: str, reason: str) -> None:
        found = ((rank, task.order), status, reason)
        known = self._problems.get(task.source)
        if known is None or found[0] < known[0]:
            self._problems[task.source] = found

    def _settle(self, needed) -> None:
        for name in sorted(self._problems, key=list(needed).index):
            _, status, reason = self._problems[name]
            self.fail(name, status, reason)
        for name, result in self._keys.items():
            if name not in self.failures:
                self._note(name, result)

    def _run_missing(self, queries: dict) -> None:
        mappers = self._mappers(queries)
        report = self.fetcher.fetch_all(queries, self._data_versions, mappers)
        for name, failure in report.failures.items():
            self.fail(name, failure.status, failure.reason, failure.elapsed_ms)
        for key, result in report.results.items():
            self._data[key] = (queries[key], result)

    def _note(self, source: str, result) -> None:
        self.cached[source] = self.cached.get(source, True) and bool(result.cached)
        self.versions.setdefault(source, result.data_version)

    def _time(self, source: str, elapsed_ms) -> None:
        self.elapsed[source] = max(
            self.elapsed.get(source, 0.0), float(elapsed_ms or 0)
        )
