"""Service throughput probe: N keep-alive clients for a bounded time, loopback only."""

import http.client
import logging
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

log = logging.getLogger(__name__)

CLIENTS = 8
DURATION_S = 10.0
MAX_REQUESTS_PER_CLIENT = 200_000
LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOOKUP_SQL = "SELECT * FROM {table} WHERE {key} = :company"


@dataclass(frozen=True)
class ProbeResult:
    """Requests per second and latency percentiles of one probe."""

    target: str
    clients: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def finsync_paths(table: str, key: str, companies: list[str]) -> list[str]:
    """Return /query URLs for an indexed single-company lookup (named parameter)."""
    sql = LOOKUP_SQL.format(table=table, key=key)
    return [f"/query?{urlencode({'q': sql, 'company': c})}" for c in companies]


def datasette_paths(db: str, table: str, key: str, companies: list[str]) -> list[str]:
    """Return Datasette 0.65 /<db>.json?sql= URLs for the same lookup and parameter."""
    sql = LOOKUP_SQL.format(table=table, key=key)
    return [
        f"/{db}.json?{urlencode({'sql': sql, 'company': c, '_shape': 'arrays'})}"
        for c in companies
    ]


def _client(host, port, paths, offset, stop_at, latencies, errors, lock):
    """One keep-alive client: request paths round-robin until time or count runs out."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    local, failed = [], 0
    try:
        for number in range(MAX_REQUESTS_PER_CLIENT):
            if time.perf_counter() >= stop_at:
                break
            started = time.perf_counter()
            try:
                conn.request("GET", paths[(offset + number) % len(paths)])
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                ok = False
            local.append(time.perf_counter() - started)
            failed += not ok
    finally:
        conn.close()
    with lock:
        latencies.extend(local)
        errors.append(failed)


def probe(base_url, paths, target, clients=CLIENTS, duration=DURATION_S):
    """Run ``clients`` threads against ``base_url`` for ``duration`` seconds."""
    parts = urlsplit(base_url)
    if parts.hostname not in LOOPBACK:
        raise ValueError("the throughput probe only targets loopback addresses")
    latencies, errors, lock = [], [], threading.Lock()
    started = time.perf_counter()
    stop_at = started + duration
    threads = [
        threading.Thread(
            target=_client,
            args=(parts.hostname, parts.port, paths, i * 7919, stop_at)
            + (latencies, errors, lock),
            daemon=True,
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 30)
    return _summarise(target, clients, time.perf_counter() - started, latencies, errors)


def _summarise(target, clients, elapsed, latencies, errors) -> ProbeResult:
    """Turn raw latencies into rps and p50/p99 in milliseconds."""
    count = len(latencies)
    cuts = statistics.quantiles(latencies, n=100) if count > 1 else [0.0] * 99
    return ProbeResult(
        target=target,
        clients=clients,
        seconds=round(elapsed, 2),
        requests=count,
        errors=sum(errors),
        rps=count / elapsed if elapsed else 0.0,
        p50_ms=cuts[49] * 1000,
        p99_ms=cuts[98] * 1000,
    )


def warm(base_url: str, paths: list[str], count: int = 50) -> None:
    """Send a few sequential requests so caches and workers are warm."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        for path in paths[:count]:
            conn.request("GET", path)
            conn.getresponse().read()
    finally:
        conn.close()
