"""Blueprint "api": GET /health, /schema, /data and /query for one statement."""

import logging
from contextlib import contextmanager

from flask import Blueprint, current_app, request

from data_sources.errors import (
    BadRequestError,
    InvalidQueryError,
    QueryTimeoutError,
    request_id,
)
from data_sources.output_formats import choose_format, json_response, page_response
from data_sources.pagination import (
    data_cursor,
    next_url,
    parse_limit,
    query_cursor,
    query_fingerprint,
    read_data_cursor,
    read_query_cursor,
)
from data_sources.source import EXTENSION, Source

_LOGGED_SQL = 2000
log = logging.getLogger(__name__)
bp = Blueprint("api", __name__)


def _source() -> Source:
    return current_app.extensions[EXTENSION]


@bp.get("/health")
def health():
    """Report the statement, its row count and the current data version."""
    source = _source()
    version = source.db.version()
    body = {
        "status": "ok",
        "statement": source.spec.slug,
        "rows": source.db.count_rows(version),
        "data_version": version.token,
    }
    return json_response(body)


@bp.get("/schema")
def schema():
    """Describe the table: key and period columns, period format, column types."""
    return json_response(_source().schema)


@bp.get("/data")
def data():
    """Return the whole table page by page, ordered by (key, period)."""
    source, args = _source(), request.args
    fmt = choose_format(args.get("format"), request.headers.get("Accept", ""))
    limit = parse_limit(args.get("limit"), source.page_size, source.max_page_size)
    after = read_data_cursor(args.get("cursor"))
    params = {"limit": limit + 1}
    sql = source.first_page_sql
    if after is not None:
        params.update(key=after[0], period=after[1])
        sql = source.next_page_sql
    version = source.db.version()
    page = source.db.run(sql, params, 0, limit, version)
    cursor = None
    if page.more:
        last = dict(zip(page.columns, page.rows[-1]))
        cursor = data_cursor(
            last[source.spec.key_column], last[source.spec.period_column]
        )
    return page_response(fmt, _envelope(source, page, cursor, version), source.types)


@bp.get("/query")
def query():
    """Run one read-only SELECT with named parameters; paginate by cursor."""
    source, args = _source(), request.args
    fmt = choose_format(args.get("format"), request.headers.get("Accept", ""))
    limit = parse_limit(args.get("limit"), source.page_size, source.max_page_size)
    sql = _required_sql(args)
    with _logged_on_refusal(sql):
        checked = source.guard.check(sql)
        params = _bind(checked.params, args)
        version = source.db.version()
        fingerprint = query_fingerprint(checked.sql, params)
        offset = read_query_cursor(args.get("cursor"), fingerprint, version.token)
        page = source.db.run(checked.sql, params, offset, limit, version, checked.ctes)
    cursor = None
    if page.more:
        cursor = query_cursor(offset + limit, fingerprint, version.token)
    return page_response(fmt, _envelope(source, page, cursor, version))


@contextmanager
def _logged_on_refusal(sql: str):
    # The client gets a short reason; the log keeps the SQL under the request id.
    try:
        yield
    except (InvalidQueryError, QueryTimeoutError) as exc:
        log.info("request %s %s: %r", request_id(), exc.code, sql[:_LOGGED_SQL])
        raise


def _required_sql(args) -> str:
    sql = args.get("q")
    if sql is None:
        raise BadRequestError(
            "missing q: pass one SELECT statement as ?q=...",
            details={"parameter": "q"},
        )
    return sql


def _bind(names: tuple, args) -> dict:
    missing = [name for name in names if name not in args]
    if missing:
        listed = ", ".join(f":{name}" for name in missing)
        raise BadRequestError(
            f"missing value for parameter {listed}: add &{missing[0]}=... to the URL",
            details={"missing": missing},
        )
    return {name: args[name] for name in names}


def _envelope(source: Source, page, cursor, version) -> dict:
    return {
        "statement": source.spec.slug,
        "columns": page.columns,
        "rows": page.rows,
        "next": next_url(cursor) if cursor else None,
        "truncated": False,
        "data_version": version.token,
    }
