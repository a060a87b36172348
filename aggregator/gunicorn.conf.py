"""Default gunicorn settings for the aggregator (used by the launcher and compose).

`gunicorn -c aggregator/gunicorn.conf.py "aggregator.app:create_app()"` serves on
127.0.0.1:8000 (port from FINSYNC_AGGREGATOR_PORT) unless --bind is given. Worker and
thread counts come from FINSYNC_AGG_WORKERS / FINSYNC_AGG_THREADS.
"""

import os

bind = [f"127.0.0.1:{int(os.environ.get('FINSYNC_AGGREGATOR_PORT') or 8000)}"]
worker_class = "gthread"
workers = int(os.environ.get("FINSYNC_AGG_WORKERS") or 2)
threads = int(os.environ.get("FINSYNC_AGG_THREADS") or 4)
# Each worker builds its own app (fetch pool, sessions, cache) after the fork: never
# preload, or the fan-out threads would be created in the master and lost in workers.
preload_app = False
keepalive = 30
timeout = 120  # one aggregation waits for the slowest source's time-out at most
graceful_timeout = 30
accesslog = None  # data_sources.request_log writes one structured line per request
control_socket_disable = True  # several gunicorns run side by side
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
