"""Per-client rate limit on every endpoint: flask-limiter, in-process memory."""

import logging
import time

from flask import Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage

from data_sources.config import RATE_LIMIT_OFF

log = logging.getLogger(__name__)
STORAGE_URI = "finsync-memory://"
_SWEEP_EVERY_S = 10.0


class SweepingMemoryStorage(MemoryStorage):
    """limits' ``memory://`` storage without a new timer thread every 10 ms.

    ``MemoryStorage.incr`` starts a ``threading.Timer`` whenever the last one has
    finished, so a busy worker spawns ~100 threads a second and the request that
    spawns one waits for the new thread to get the GIL (a p99 cost). Counters expire
    lazily on read anyway; here the sweep of stale keys runs inline every 10 s.
    """

    STORAGE_SCHEME = ["finsync-memory"]
    _next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the timer start
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY_S
            self._MemoryStorage__expire_events()


def init_rate_limit(app: Flask, rate: str):
    """Limit all endpoints together per client address; return the Limiter or None."""
    if rate.strip().lower() == RATE_LIMIT_OFF:
        log.warning("rate limiting is disabled (FINSYNC_RATE_LIMIT=%s)", rate)
        return None
    return Limiter(
        get_remote_address,
        app=app,
        application_limits=[rate],
        storage_uri=STORAGE_URI,
        strategy="fixed-window",
        on_breach=_retry_after,
    )


def _retry_after(limit) -> Response:
    # errors.py renders the 429 body and copies Retry-After from this response.
    seconds = max(1, int(limit.reset_at - time.time()))
    return Response(status=429, headers={"Retry-After": str(seconds)})
