"""Default gunicorn settings for a statement service (used by the launcher and compose).

`gunicorn -c data_sources/gunicorn.conf.py "data_sources.service:create_app('pnl')"`
Worker and thread counts come from FINSYNC_WORKERS / FINSYNC_THREADS; the bind address
from FINSYNC_HOST / FINSYNC_PORT (default 127.0.0.1 and the statement's port), unless
--bind is given on the command line.
"""

import os

from data_sources.config import server_address

_address = server_address()
if _address is not None:
    bind = [f"{_address[0]}:{_address[1]}"]
worker_class = "gthread"
workers = int(os.environ.get("FINSYNC_WORKERS", "2"))
threads = int(os.environ.get("FINSYNC_THREADS", "4"))
# Each worker opens its own SQLite connections and rate-limit storage after the fork.
preload_app = False
keepalive = 30
timeout = 30
graceful_timeout = 10
accesslog = None  # data_sources.request_log writes one structured line per request
# Three services (and the aggregator) run side by side: one shared default control
# socket path would make them fight over it.
control_socket_disable = True
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {
        "level": os.environ.get("FINSYNC_LOG_LEVEL", "INFO"),
        "handlers": ["stderr"],
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}
