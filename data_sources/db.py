"""Read-only SQLite access: pooled connections, authorizer, time limit and row cap."""

import functools
import itertools
import logging
import re
import sqlite3
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import quote

from data_sources.data_version import DataVersion, read_data_version
from data_sources.errors import (
    ConfigError,
    FinSyncError,
    InvalidQueryError,
    QueryTimeoutError,
    ServiceUnavailableError,
)

log = logging.getLogger(__name__)

#: SQL functions a query may call (SQLite's own names, as the authorizer sees them).
ALLOWED_FUNCTIONS = frozenset(
    "abs avg ceil ceiling char coalesce count cume_dist date datetime dense_rank exp "
    "first_value floor glob group_concat hex ifnull iif instr julianday lag last_value "
    "lead length like ln log log10 lower ltrim max min mod nth_value ntile nullif "
    "percent_rank pow power quote rank replace round row_number rtrim sign sqrt "
    "strftime "
    "string_agg substr substring sum time total trim trunc typeof unicode unixepoch "
    "upper".split()
)
_ALWAYS_ALLOWED = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE})
_PROGRESS_STEPS = 4000
_MAX_VALUE_BYTES = 1_000_000
# OperationalError messages that describe the server, not the caller's SQL.
_SERVER_FAULTS = ("locked", "busy", "disk i/o", "unable to open", "malformed", "memory")
#: Prefix of the parameters the page wrapper binds; queries may not use it.
RESERVED_PARAM_PREFIX = "__finsync_"
_LIMIT_PARAM = f"{RESERVED_PARAM_PREFIX}limit"
_OFFSET_PARAM = f"{RESERVED_PARAM_PREFIX}offset"
_PAGE_CLAUSE = f"LIMIT :{_LIMIT_PARAM} OFFSET :{_OFFSET_PARAM}"
# SQLite's lexical classes that can hide ";", "(", ")" or LIMIT: blanks, comments,
# quoted strings and identifiers; then words, parentheses and anything else.
_TOKEN = re.compile(
    r"""(?P<blank>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<quoted>'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)
    |(?P<word>[\w$]+)|(?P<open>\()|(?P<close>\))|(?P<semi>;)|(?P<other>.)""",
    re.S | re.X,
)
_DEDUPED_NAME = re.compile(r"(.*):\d+", re.S)


@dataclass(frozen=True)
class Column:
    """A column of the statement's table with its declared SQLite type."""

    name: str
    type: str


@dataclass(frozen=True)
class Page:
    """One page of a result: column names, up to ``limit`` rows, more pages or not."""

    columns: list
    rows: list
    more: bool


class _Connection:
    """A read-only connection plus the state its authorizer and progress handler use."""

    def __init__(self, path: str, table: str, inode: int):
        self.table, self.inode = table.lower(), inode
        self.deadline, self.timed_out, self.denied = 0.0, False, None
        self.ctes = frozenset()
        uri = f"file:{quote(path)}?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=2)
        self.conn.execute("PRAGMA query_only = 1")
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _MAX_VALUE_BYTES)
        self.conn.set_authorizer(self._authorize)
        self.conn.set_progress_handler(self._progress, _PROGRESS_STEPS)

    def start(self, time_limit_s: float, ctes: frozenset) -> None:
        self.deadline = time.monotonic() + time_limit_s
        self.timed_out, self.denied, self.ctes = False, None, ctes

    def _progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0

    def _authorize(self, action, arg1, arg2, db_name, _trigger) -> int:
        if action in _ALWAYS_ALLOWED:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ and self._may_read(arg1 or "", arg2, db_name):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and arg2.lower() in ALLOWED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        self.denied = _denial_reason(action, arg1, arg2, self.table)
        return sqlite3.SQLITE_DENY

    def _may_read(self, table: str, column: str, db_name) -> bool:
        if table.lower() == self.table:
            return db_name in ("main", None)
        # count(*) over a CTE reads it with an empty column name and no schema.
        return column == "" and db_name is None and table.lower() in self.ctes


def _denial_reason(action, arg1, arg2, table) -> str:
    if action == sqlite3.SQLITE_FUNCTION:
        return f"function {arg2} is not allowed"
    if action == sqlite3.SQLITE_READ:
        return f"only table {table} can be queried"
    return "only read-only SELECT queries are allowed"


class Database:
    """Runs read-only, time-limited queries on one statement's SQLite file."""

    def __init__(self, path: str, table: str, time_limit_ms: int, pool_size: int):
        self.path, self.table = path, table
        self.time_limit_s = time_limit_ms / 1000
        self._pool_size = pool_size
        self._idle = deque()
        self._count = (None, 0)
        # Open one connection and read once so the WAL index exists before the first
        # data version is taken, and keep it pooled so the index stays.
        try:
            self.count_rows(self.version())
        except FinSyncError as exc:
            raise ConfigError(f"cannot read {table} in {path}: {exc.message}") from exc

    def version(self) -> DataVersion:
        """Return the current data version (see data_version.py)."""
        try:
            return read_data_version(self.path)
        except OSError as exc:
            raise ServiceUnavailableError("database is not available") from exc

    def run(self, sql, params, offset, limit, version, ctes=frozenset()) -> Page:
        """Run one SELECT; return rows ``offset .. offset+limit``, more or not.

        LIMIT/OFFSET are bound into the SQL (one row more, to see if more follow) so
        SQLite skips the earlier rows, unless its plan sorts (see _sorts_on_top).
        ``ctes`` names the query's common table expressions, which it may also read.
        """
        if any(name.startswith(RESERVED_PARAM_PREFIX) for name in params):
            raise InvalidQueryError(
                f"parameter names starting with {RESERVED_PARAM_PREFIX} are reserved"
            )
        paged, wrapped = page_sql(sql)
        bound = {**params, _LIMIT_PARAM: limit + 1, _OFFSET_PARAM: offset}
        handle = self._acquire(version.inode)
        handle.start(self.time_limit_s, ctes)
        cursor = None
        try:
            if wrapped or not _sorts_on_top(handle.conn, paged, bound):
                cursor = handle.conn.execute(paged, bound)
                rows = cursor.fetchmany(limit + 1)  # the cap holds whatever SQL says
            else:
                wrapped, cursor = False, handle.conn.execute(sql, params)
                rows = list(itertools.islice(cursor, offset, offset + limit + 1))
            columns = [item[0] for item in cursor.description or ()]
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise _translate(exc, handle, self.time_limit_s) from exc
        finally:
            if cursor is not None:
                cursor.close()
            self._release(handle)
        if wrapped:
            columns = _undo_renames(columns)
        return Page(columns, rows[:limit], len(rows) > limit)

    def count_rows(self, version: DataVersion) -> int:
        """Return the table's row count, cached per data version."""
        cached_token, count = self._count
        if cached_token != version.token:
            sql = f'SELECT count(*) FROM "{self.table}"'
            count = self.run(sql, {}, 0, 1, version).rows[0][0]
            self._count = (version.token, count)
        return count

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().conn.close()

    def _acquire(self, inode: int) -> _Connection:
        while True:
            try:
                handle = self._idle.pop()
            except IndexError:
                return self._open(inode)
            if handle.inode == inode:
                return handle
            handle.conn.close()  # the file was replaced: read the new one

    def _release(self, handle: _Connection) -> None:
        if len(self._idle) < self._pool_size:
            self._idle.append(handle)
        else:
            handle.conn.close()

    def _open(self, inode: int) -> _Connection:
        try:
            return _Connection(self.path, self.table, inode)
        except sqlite3.Error as exc:
            raise ServiceUnavailableError("database is not available") from exc


@functools.lru_cache(maxsize=512)
def page_sql(sql: str) -> tuple:
    """Return (``sql`` with bound LIMIT/OFFSET parameters, wrapped as subquery or not).

    ``sql`` already passed the guard; the authorizer still checks what it reads. A
    query with its own top-level LIMIT becomes a subquery (its LIMIT still applies,
    computed the same way for every page); any other gets the clause appended,
    which keeps its column names and ORDER BY.
    """
    body, has_limit = _statement_body(sql)
    if has_limit:
        return f"SELECT * FROM (\n{body}\n) {_PAGE_CLAUSE}", True
    return f"{body}\n{_PAGE_CLAUSE}", False


def _sorts_on_top(conn, paged: str, params: dict) -> bool:
    # SQLite sorts ORDER BY ... LIMIT n OFFSET m by keeping n+m rows in a B-tree:
    # quick for early pages, several times slower than one full sort for deep ones
    # (and it may order ties differently). Such queries skip rows as before.
    plan = conn.execute(f"EXPLAIN QUERY PLAN {paged}", params).fetchall()
    return any("TEMP B-TREE" in row[3] and "ORDER BY" in row[3] for row in plan)


def _statement_body(sql: str) -> tuple:
    # Cut trailing semicolons and comments; note a LIMIT outside any parentheses.
    depth, end, has_limit = 0, 0, False
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        if kind in ("blank", "semi"):
            continue
        end = match.end()
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
        elif kind == "word" and depth == 0 and match.group().lower() == "limit":
            has_limit = True
    return sql[:end], has_limit


def _undo_renames(columns: list) -> list:
    # SELECT * over a subquery renames a repeated column "a" to "a:1", "a:2", ...
    seen, names = set(), []
    for name in columns:
        match = _DEDUPED_NAME.fullmatch(name)
        if match and match.group(1).lower() in seen:
            name = match.group(1)
        seen.add(name.lower())
        names.append(name)
    return names


def _translate(exc, handle: _Connection, time_limit_s: float) -> Exception:
    message = str(exc)
    if handle.timed_out:
        limit_ms = round(time_limit_s * 1000)
        return QueryTimeoutError(f"query exceeded the {limit_ms} ms time limit")
    if handle.denied:
        return InvalidQueryError(handle.denied)
    if "one statement at a time" in message:
        return InvalidQueryError("send exactly one SELECT statement")
    caller_fault = isinstance(exc, (sqlite3.DataError, sqlite3.ProgrammingError))
    if caller_fault or (
        isinstance(exc, sqlite3.OperationalError)
        and not any(fault in message.lower() for fault in _SERVER_FAULTS)
    ):
        return InvalidQueryError(f"query failed: {message}")
    log.error("database error: %s", message)
    return ServiceUnavailableError("database is not available")


def inspect_table(path: str, table: str) -> list[Column]:
    """Return the table's columns; raise ConfigError if file or table is unusable."""
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
        try:
            info = conn.execute("SELECT name, type FROM pragma_table_info(?)", (table,))
            columns = [Column(name, declared.upper()) for name, declared in info]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read database {path}: {exc}") from exc
    if not columns:
        raise ConfigError(f"database {path} has no table {table!r}: load it first")
    return columns
