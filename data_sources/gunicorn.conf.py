"""Default gunicorn settings for a statement service (used by the launcher and compose).

`gunicorn -c data_sources/gunicorn.conf.py "data_sources.service:create_app('pnl')"`
Worker and thread counts come from FINSYNC_WORKERS / FINSYNC_THREADS; the bind address
from FINSYNC_HOST / FINSYNC_PORT (default 127.0.0.1 and the statement's port), unless
--bind is given on the command line. The settings shared with the aggregator live in
data_sources/gunicorn_common.py.
"""

from data_sources.config import server_address
from data_sources.gunicorn_common import *  # noqa: F401,F403 (shared settings)
from data_sources.gunicorn_common import env_int

_address = server_address()
if _address is not None:
    bind = [f"{_address[0]}:{_address[1]}"]
workers = env_int("FINSYNC_WORKERS", 2)
threads = env_int("FINSYNC_THREADS", 4)
timeout = 30
graceful_timeout = 10
