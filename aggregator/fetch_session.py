"""One run's conversation with the sources: rounds of queries, failures, timings.

A source that fails once (schema, key discovery or any data query) is failed for
the whole run: it is not asked again, so a slow source costs one time-out, and
none of its data is used, so a source contributes all of its rows or none.
"""

import logging
from dataclasses import dataclass, field

from aggregator.schema_map import check_mapping

log = logging.getLogger(__name__)


@dataclass
class FetchSession:
    """Tracks per-source frames, failures and timings across one run's rounds."""

    fetcher: object
    frames: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)
    elapsed: dict = field(default_factory=dict)
    cached: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def fail(self, source: str, status: str, reason: str, elapsed_ms=0.0) -> None:
        """Record that ``source`` failed; keep only its first failure."""
        self._time(source, elapsed_ms)
        if source not in self.failures:
            log.info("source %s %s: %s", source, status, reason)
            self.failures[source] = {"status": status, "reason": reason}
        self.frames.pop(source, None)

    def ok(self, names) -> list:
        """Return the given sources that have not failed."""
        return [name for name in names if name not in self.failures]

    def check_schemas(self, settings, participants) -> None:
        """Fetch every ``/schema``; fail participants that are down or mis-mapped."""
        report = self.fetcher.schemas()
        for name, failure in report.failures.items():
            if name in participants:
                self.fail(name, failure.status, failure.reason, failure.elapsed_ms)
        bodies = {n: b for n, b in report.results.items() if n in participants}
        for problem in check_mapping(settings, bodies):
            self.fail(problem["source"], "error", f"mapping: {problem['message']}")

    def run_round(self, queries: dict) -> dict:
        """Run one round (at most one query per source); return source -> frame."""
        wanted = {name: q for name, q in queries.items() if name not in self.failures}
        if not wanted:
            return {}
        report = self.fetcher.fetch_all(wanted)
        for name, failure in report.failures.items():
            self.fail(name, failure.status, failure.reason, failure.elapsed_ms)
        out = {}
        for name, result in report.results.items():
            self._time(name, result.elapsed_ms)
            self.cached[name] = self.cached.get(name, True) and bool(result.cached)
            self.versions.setdefault(name, result.data_version)
            out[name] = result.frame
        return out

    def run_plan(self, plan) -> dict:
        """Run every round of ``plan``; return source -> {kind: frame}."""
        for round_queries in plan.rounds():
            frames = self.run_round(round_queries)
            for name, frame in frames.items():
                kind = round_queries[name].kind
                self.frames.setdefault(name, {})[kind] = frame
        return {n: f for n, f in self.frames.items() if n not in self.failures}

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

    def _time(self, source: str, elapsed_ms) -> None:
        self.elapsed[source] = self.elapsed.get(source, 0.0) + float(elapsed_ms or 0)
