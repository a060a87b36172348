"""Caches safe across threads: a bounded, time-limited LRU of source responses, and
each source's ``/schema`` for its current data version."""

import copy
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from aggregator.client import SourceResult

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class _Entry:
    result: SourceResult
    size: int
    stored_at: float


def cache_key(source: str, sql: str, params: dict | None, data_version) -> tuple:
    """Return the key a response is stored under: source, SQL, params, data version."""
    items = tuple(sorted((str(k), repr(v)) for k, v in (params or {}).items()))
    return (source, sql, items, str(data_version))


def frame_bytes(result: SourceResult) -> int:
    """Return the in-memory size of a result's frame in bytes."""
    return int(result.frame.memory_usage(index=True, deep=True).sum())


class ResponseCache:
    """LRU of ``SourceResult`` bounded by entries, bytes and age (seconds)."""

    def __init__(
        self, max_entries=128, ttl=300.0, max_bytes=DEFAULT_MAX_BYTES, clock=None
    ):
        self.max_entries = max(0, int(max_entries))
        self.ttl = float(ttl)
        self.max_bytes = int(max_bytes)
        self._clock = clock or time.monotonic
        self._entries: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> SourceResult | None:
        """Return a fresh copy of the cached result marked ``cached``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() - entry.stored_at > self.ttl:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
        # a shallow copy under copy-on-write: callers cannot change the cached frame
        return replace(
            entry.result, frame=entry.result.frame.copy(deep=False), cached=True
        )

    def put(self, key: tuple, result: SourceResult) -> bool:
        """Store ``result``; return False when it alone is over the byte bound."""
        if self.max_entries == 0:
            return False  # measuring a big frame's deep size is not free
        size = frame_bytes(result)
        if size > self.max_bytes:
            return False
        entry = _Entry(replace(result, cached=False), size, self._clock())
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += size
            self._evict()
        return True

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> dict:
        """Return the number of entries and bytes held."""
        with self._lock:
            return {"entries": len(self._entries), "bytes": self._bytes}

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple) -> None:
        self._bytes -= self._entries.pop(key).size


class SchemaCache:
    """Each source's latest ``/schema`` body, valid for one data version."""

    def __init__(self):
        self._bodies: dict = {}
        self._lock = threading.Lock()

    def get(self, source: str, data_version) -> dict | None:
        """Return the body stored for ``source`` at ``data_version``, or None."""
        if data_version is None:
            return None
        with self._lock:
            version, body = self._bodies.get(source, (None, None))
        return copy.deepcopy(body) if version == str(data_version) else None

    def put(self, source: str, data_version, body: dict) -> None:
        """Keep ``body`` as ``source``'s schema at ``data_version`` (None: no-op)."""
        if data_version is not None:
            with self._lock:
                self._bodies[source] = (str(data_version), body)
