"""Default gunicorn settings for the aggregator (used by the launcher and compose).

`gunicorn -c aggregator/gunicorn.conf.py "aggregator.app:create_app()"` serves on
127.0.0.1:8000 (port from FINSYNC_AGGREGATOR_PORT) unless --bind is given. Worker and
thread counts come from FINSYNC_AGG_WORKERS / FINSYNC_AGG_THREADS. The settings shared
with the statement services live in data_sources/gunicorn_common.py.
"""

from data_sources.gunicorn_common import *  # noqa: F401,F403 (shared settings)
from data_sources.gunicorn_common import env_int

bind = [f"127.0.0.1:{env_int('FINSYNC_AGGREGATOR_PORT', 8000)}"]
workers = env_int("FINSYNC_AGG_WORKERS", 2)
threads = env_int("FINSYNC_AGG_THREADS", 4)
timeout = 120  # one aggregation waits for the slowest source's time-out at most
graceful_timeout = 30
