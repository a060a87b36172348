"""A statement service slowed by a fixed delay per request, for the fan-out benchmark.

Served by gunicorn like the real one: ``bench.slow_app:create_app('pnl', 1.0)``.
"""

import time

from data_sources.service import create_app as create_service


class DelayMiddleware:
    """WSGI middleware that sleeps before every request except ``/health``."""

    def __init__(self, app, delay_s: float):
        self.app, self.delay_s = app, delay_s

    def __call__(self, environ, start_response):
        """Delay, then hand the request to the wrapped app."""
        if environ.get("PATH_INFO") != "/health":
            time.sleep(self.delay_s)
        return self.app(environ, start_response)


def create_app(statement: str, delay_s: float):
    """Return the statement service with every data request delayed by ``delay_s``."""
    app = create_service(statement)
    app.wsgi_app = DelayMiddleware(app.wsgi_app, float(delay_s))
    return app
