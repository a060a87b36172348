"""The statement service app factory; `python -m data_sources.service <statement>`."""

import argparse
import logging
import sys

from flask import Flask

from data_sources import api, output_formats
from data_sources.source import EXTENSION, Source
from data_sources.config import load_settings
from data_sources.errors import ConfigError, register_error_handlers
from data_sources.rate_limit import init_rate_limit
from data_sources.request_log import init_request_logging

log = logging.getLogger(__name__)


def create_app(statement=None, test_config=None) -> Flask:
    """Build the service for ``statement`` (or FINSYNC_STATEMENT); fail fast."""
    settings = load_settings(statement, overrides=test_config)
    app = Flask(__name__)
    app.config.from_mapping(settings)
    init_request_logging(app)
    register_error_handlers(app)
    app.extensions[EXTENSION] = Source.from_settings(settings)
    init_rate_limit(app, settings["RATE_LIMIT"])
    app.register_blueprint(api.bp)
    output_formats.warm_up()  # else each worker's first Arrow page pays the imports
    app.extensions[EXTENSION].warm_up()
    return app


def main(argv=None) -> int:
    """Serve one statement with the Flask development server."""
    parser = argparse.ArgumentParser(prog="python -m data_sources.service")
    parser.add_argument("statement", nargs="?", help="pnl, balance_sheet or cash_flow")
    parser.add_argument("--host", help="default FINSYNC_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, help="default the statement's port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    overrides = {k.upper(): v for k, v in vars(args).items() if k != "statement" and v}
    try:
        app = create_app(args.statement, overrides)
    except ConfigError as exc:
        log.error("cannot start: %s", exc)
        return 2
    app.run(host=app.config["HOST"], port=app.config["PORT"], threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
