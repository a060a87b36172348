"""The aggregator app factory: /api/*, /openapi.json, /health and the dashboard."""

import logging

from flask import Flask, jsonify, send_from_directory
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.routing import PathConverter

from aggregator import api
from aggregator.api import EXTENSION, Services, services
from aggregator.companies import CompanyRegistry
from aggregator.config import load_settings
from aggregator.fanout import Fetcher
from aggregator.memory import use_one_allocator
from aggregator.openapi import build_openapi
from aggregator.query import GROUP_BYS, OPERATORS
from data_sources.config import RATE_LIMIT_OFF
from data_sources.errors import register_error_handlers
from data_sources.request_log import init_request_logging

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 256 * 1024


def create_app(settings=None, test_config=None) -> Flask:
    """Build the aggregator app; settings load from config/env when not given."""
    settings = settings or load_settings()
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["frontend"] = FrontendPathConverter
    app.config.update(MAX_CONTENT_LENGTH=DEFAULT_MAX_BODY)
    if settings.secret_key:
        app.config["SECRET_KEY"] = settings.secret_key
    app.json.sort_keys = False  # keep column order as the pipeline made it
    app.config.update(test_config or {})
    app.extensions[EXTENSION] = build_services(settings)
    init_request_logging(app)
    register_error_handlers(app)
    _init_rate_limit(app, settings.rate_limit)
    app.register_blueprint(api.bp)
    _register_root_routes(app)
    app.after_request(_security_headers)
    log.info("aggregator ready: %d sources", len(settings.sources))
    return app


def build_services(settings) -> Services:
    """Return the registry and the fetcher (one pooled client per source)."""
    use_one_allocator()
    if settings.registry_path is not None:
        registry = CompanyRegistry.from_file(settings.registry_path)
    else:
        registry = CompanyRegistry.from_ids(settings.company_ids)
    return Services(settings, registry, Fetcher(settings))


def _init_rate_limit(app: Flask, rate: str) -> Limiter | None:
    if rate.strip().lower() == RATE_LIMIT_OFF:
        log.warning("rate limiting is disabled (rate_limit=%s)", rate)
        return None
    limiter = Limiter(
        get_remote_address,
        app=app,
        default_limits=[rate],
        storage_uri="memory://",
        headers_enabled=True,
    )
    limiter.exempt(health)
    return limiter


def health():
    """Liveness: the process answers; source health lives at /api/sources."""
    return jsonify({"status": "ok"})


def openapi_document():
    """Serve the OpenAPI 3.1 document for this deployment's fields and sources."""
    settings = services().settings
    fields, sources = list(settings.canonical_fields), list(settings.sources)
    return jsonify(build_openapi(fields, sources, list(OPERATORS), list(GROUP_BYS)))


class FrontendPathConverter(PathConverter):
    """A file path under the frontend folder; never /api/..., so 405s stay 405s."""

    regex = r"(?!api/)[^/].*?"


def frontend_file(filename: str = "index.html"):
    """Serve the dashboard: index.html at /, other static files by name."""
    folder = services().settings.frontend_dir
    return send_from_directory(folder, filename)


def _register_root_routes(app: Flask) -> None:
    app.add_url_rule("/health", view_func=health)
    app.add_url_rule("/openapi.json", view_func=openapi_document)
    app.add_url_rule("/", view_func=frontend_file)
    app.add_url_rule("/<frontend:filename>", view_func=frontend_file)


def _security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
