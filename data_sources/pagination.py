"""Page sizes, opaque cursors and next-page URLs for /data and /query."""

import base64
import binascii
import hashlib
from urllib.parse import urlencode

import orjson
from flask import request

from data_sources.errors import BadRequestError, FinSyncError


class StaleCursorError(FinSyncError):
    """The data changed since the cursor was issued: start over (409)."""

    status, code = 409, "stale_cursor"
    public_message = (
        "the data changed since this cursor was issued; request the first page again"
    )


def parse_limit(raw, default: int, maximum: int) -> int:
    """Return the page size from ``?limit=``, or raise BadRequestError."""
    if raw is None:
        return default
    if raw.isdigit() and 1 <= int(raw) <= maximum:
        return int(raw)
    raise BadRequestError(
        f"limit must be an integer between 1 and {maximum}",
        details={"parameter": "limit"},
    )


def data_cursor(key, period) -> str:
    """Return the /data cursor that resumes after the row (key, period)."""
    return _encode({"k": key, "p": period})


def read_data_cursor(token):
    """Return the (key, period) a /data cursor resumes after, or None without one."""
    if token is None:
        return None
    payload = _decode(token)
    key, period = payload.get("k"), payload.get("p")
    if not (isinstance(key, str) and isinstance(period, str)):
        raise _invalid_cursor()
    return key, period


def query_fingerprint(sql: str, params: dict) -> str:
    """Return a short hash naming one query with its parameter values."""
    blob = orjson.dumps([sql, sorted(params.items())])
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def query_cursor(offset: int, fingerprint: str, version: str) -> str:
    """Return the /query cursor for the page starting at ``offset``."""
    return _encode({"o": offset, "f": fingerprint, "v": version})


def read_query_cursor(token, fingerprint: str, version: str) -> int:
    """Return the offset a /query cursor points at; refuse foreign or stale ones."""
    if token is None:
        return 0
    payload = _decode(token)
    offset = payload.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise _invalid_cursor()
    if payload.get("f") != fingerprint:
        raise BadRequestError(
            "cursor belongs to a different query or parameters",
            details={"parameter": "cursor"},
        )
    if payload.get("v") != version:
        raise StaleCursorError()
    return offset


def next_url(cursor: str) -> str:
    """Return this request's URL with ``cursor`` replaced."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    args.append(("cursor", cursor))
    return f"{request.base_url}?{urlencode(args)}"


def _encode(payload: dict) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()


def _decode(token: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid_cursor() from None
    if not isinstance(payload, dict):
        raise _invalid_cursor()
    return payload


def _invalid_cursor() -> BadRequestError:
    return BadRequestError(
        "cursor is not valid: use the `next` link of the previous page",
        details={"parameter": "cursor"},
    )
