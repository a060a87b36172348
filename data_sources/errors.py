"""One error tree for FinSync services, one sanitized JSON body, one set of handlers."""

import logging
import uuid

from flask import g, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class FinSyncError(Exception):
    """Root of all FinSync errors; ``public_message`` is what a client may see."""

    status = 500
    code = "internal_error"
    public_message = "Internal error"

    def __init__(self, message=None, *, details=None):
        super().__init__(message or self.public_message)
        self.message = message or self.public_message
        self.details = details


class BadRequestError(FinSyncError):
    """The client sent something we cannot use (400)."""

    status, code, public_message = 400, "bad_request", "Bad request"


class InvalidQueryError(BadRequestError):
    """SQL refused by the guard or rejected by SQLite (400)."""

    code = "invalid_query"
    public_message = "Invalid query"


class QueryTimeoutError(FinSyncError):
    """A query ran past its time limit (408)."""

    status, code, public_message = 408, "query_timeout", "Query exceeded its time limit"


class NotFoundError(FinSyncError):
    """The resource does not exist (404)."""

    status, code, public_message = 404, "not_found", "Not found"


class ServiceUnavailableError(FinSyncError):
    """A dependency the request needs is not available (503)."""

    status, code, public_message = 503, "unavailable", "Service unavailable"


class ConfigError(FinSyncError):
    """Invalid configuration; raised at start-up only, never sent to a client."""

    code = "config_error"


def request_id() -> str:
    """Return this request's id, taken from ``X-Request-ID`` or made up once."""
    if "request_id" not in g:
        supplied = request.headers.get("X-Request-ID", "")
        ok = 0 < len(supplied) <= 64 and supplied.replace("-", "").isalnum()
        g.request_id = supplied if ok else uuid.uuid4().hex
    return g.request_id


def error_body(code: str, message: str, details=None) -> dict:
    """Return the one JSON error body every endpoint uses."""
    error = {"code": code, "message": message, "request_id": request_id()}
    if details:
        error["details"] = details
    return {"error": error}


def _respond(status: int, code: str, message: str, details=None):
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    return response


def register_error_handlers(app) -> None:
    """Turn every error into the sanitized JSON body, with the request id attached."""

    @app.errorhandler(FinSyncError)
    def _finsync(exc: FinSyncError):
        if exc.status >= 500:
            log.error("request %s failed: %s", request_id(), exc, exc_info=exc)
        else:
            log.info("request %s refused: %s %s", request_id(), exc.code, exc.message)
        return _respond(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = _respond(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 429 and exc.response is not None:
            retry_after = exc.response.headers.get("Retry-After")
            if retry_after:
                response.headers["Retry-After"] = retry_after
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("request %s failed unexpectedly", request_id())
        return _respond(500, "internal_error", "Internal error")

    @app.after_request
    def _tag(response):
        response.headers["X-Request-ID"] = request_id()
        return response
