"""One structured log line per request, for any Flask app (services and aggregator)."""

import logging
import time

from flask import g, request

from data_sources.errors import request_id

log = logging.getLogger("finsync.request")


def init_request_logging(app) -> None:
    """Log request_id, method, path, status and duration_ms of every request."""
    app.before_request(_start_clock)
    app.after_request(_log_request)


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _log_request(response):
    if log.isEnabledFor(logging.INFO):
        started = g.get("request_started")
        elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
        fields = {
            "request_id": request_id(),
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(elapsed, 2),
        }
        text = " ".join(f"{key}={value}" for key, value in fields.items())
        log.info("%s", text, extra=fields)
    return response
