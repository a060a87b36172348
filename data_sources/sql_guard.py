"""Friendly first line of SQL defence: one read-only SELECT over this service's table.

The hard limits live in db.py (read-only connection, authorizer, time limit); this
module turns what it can into clear 400 messages before SQLite sees the query.
"""

import functools
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from data_sources.db import ALLOWED_FUNCTIONS
from data_sources.errors import InvalidQueryError

#: Query-string arguments with a meaning of their own; SQL parameters may not use them.
RESERVED_ARGS = frozenset({"q", "limit", "cursor", "format"})
SYSTEM_TABLES = frozenset({"sqlite_master", "sqlite_schema", "sqlite_temp_master"})
_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Merge,
    exp.Into,
)


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed the guard, the named parameters it needs and its CTEs."""

    sql: str
    params: tuple
    ctes: frozenset = frozenset()


class SqlGuard:
    """Checks queries for one table, remembering the last ``cache_size`` verdicts."""

    def __init__(self, table: str, max_length: int, cache_size: int):
        self._table = table.lower()
        self._max_length = max_length
        self._verdict = functools.lru_cache(maxsize=cache_size)(self._judge)

    def check(self, sql: str) -> CheckedQuery:
        """Return the checked query or raise InvalidQueryError saying what is wrong."""
        if len(sql) > self._max_length:
            raise InvalidQueryError(
                f"query is longer than {self._max_length} characters"
            )
        verdict = self._verdict(sql)
        if isinstance(verdict, str):
            raise InvalidQueryError(verdict)
        return verdict

    def _judge(self, sql: str):
        try:
            return check_select(sql, self._table)
        except InvalidQueryError as exc:
            return exc.message


def check_select(sql: str, table: str) -> CheckedQuery:
    """Return ``sql`` checked as one SELECT reading only ``table``; else raise."""
    sql = sql.strip()
    if not sql:
        raise InvalidQueryError("q is empty: send one SELECT statement")
    root = _parse_one(sql)
    if not isinstance(root, (exp.Select, exp.SetOperation, exp.Subquery)):
        raise InvalidQueryError("only SELECT queries are allowed")
    ctes = frozenset(_cte_names(root))
    params = []
    for node in root.walk():
        _check_node(node, table, {table.lower()} | ctes, params)
    return CheckedQuery(sql, tuple(dict.fromkeys(params)), ctes)


def _parse_one(sql: str):
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if s is not None]
    except ParseError as exc:
        raise InvalidQueryError(f"could not parse SQL: {_describe(exc)}") from None
    except TokenError:
        raise InvalidQueryError("could not parse SQL: unterminated token") from None
    if len(statements) != 1:
        raise InvalidQueryError("send exactly one SELECT statement")
    return statements[0]


def _describe(exc: ParseError) -> str:
    first = exc.errors[0] if exc.errors else {}
    where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
    return f"{first.get('description', 'syntax error')}{where}"


def _cte_names(root) -> set:
    return {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}


def _check_node(node, table: str, allowed_tables: set, params: list) -> None:
    if isinstance(node, _WRITES):
        raise InvalidQueryError("only read-only SELECT queries are allowed")
    if isinstance(node, exp.Table):
        _check_table(node, table, allowed_tables)
    elif isinstance(node, exp.Anonymous):
        if node.name.lower() not in ALLOWED_FUNCTIONS:
            raise InvalidQueryError(f"function {node.name} is not allowed")
    elif isinstance(node, exp.Placeholder):
        params.append(_param_name(node))
    elif isinstance(node, exp.Parameter) or _is_dollar_parameter(node):
        raise InvalidQueryError("use named parameters like :company")


def _check_table(node, table: str, allowed_tables: set) -> None:
    if not isinstance(node.this, exp.Identifier):
        raise InvalidQueryError("table-valued functions are not allowed")
    name = node.name.lower()
    if name in SYSTEM_TABLES:
        raise InvalidQueryError("system tables are not available")
    if node.args.get("catalog") or node.db.lower() not in ("", "main"):
        raise InvalidQueryError(f"only table {table} can be queried")
    if name not in allowed_tables:
        raise InvalidQueryError(f"only table {table} can be queried, not {node.name}")


def _is_dollar_parameter(node) -> bool:
    # SQLite reads an unquoted $name as a parameter; sqlglot reads it as a column.
    return (
        isinstance(node, exp.Identifier)
        and not node.quoted
        and node.name.startswith("$")
    )


def _param_name(node) -> str:
    name = node.name
    if not name or name == "?":
        raise InvalidQueryError("use named parameters like :company, not ?")
    if name in RESERVED_ARGS:
        raise InvalidQueryError(f"parameter name :{name} is reserved; choose another")
    return name
