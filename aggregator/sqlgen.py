"""Build per-source SQL with sqlglot: identifiers from config, values as :params."""

from dataclasses import dataclass, field

from sqlglot import exp

from aggregator import packed
from aggregator.periods import last_quarter_ending_by, quarter_of

DIALECT = "sqlite"
ROWS_ALIAS = "_rows"
AGGREGATES = {"sum": exp.Sum, "count": exp.Count, "min": exp.Min, "max": exp.Max}
_COMPARISONS = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}


@dataclass
class Params:
    """Allocates named placeholders and collects their values."""

    values: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def add(self, prefix: str, value, numeric: bool = False) -> exp.Expression:
        """Return a ``:name`` placeholder bound to ``value``, cast if numeric."""
        index = self.counts.get(prefix, 0)
        self.counts[prefix] = index + 1
        name = prefix if prefix.startswith("period") else f"{prefix}{index}"
        self.values[name] = value
        holder = exp.Placeholder(this=name)
        return exp.cast(holder, "REAL") if numeric else holder


def column(name: str) -> exp.Column:
    """Return a quoted column reference (names come from config only)."""
    return exp.column(exp.to_identifier(name, quoted=True))


def alias(name: str, suffix: str) -> str:
    """Return the result alias of an aggregate, e.g. ``revenue__sum``."""
    return f"{name}__{suffix}"


def predicate(name: str, flt, numeric: bool, params: Params) -> exp.Expression:
    """Return the SQL condition for filter ``flt`` on column ``name``."""
    target = column(name)
    if flt.op == "between":
        low, high = (params.add("p", v, numeric) for v in flt.value)
        return exp.Between(this=target, low=low, high=high)
    if flt.op == "in":
        return target.isin(*(params.add("p", v, numeric) for v in flt.value))
    return _COMPARISONS[flt.op](
        this=target, expression=params.add("p", flt.value, numeric)
    )


def period_value(source) -> exp.Expression:
    """Return an expression giving the source's period as comparable text."""
    period = column(source.period_column)
    if source.period_format != "us_date":
        return period
    pieces = [(7, 4), "-", (1, 2), "-", (4, 2)]  # MM/DD/YYYY -> YYYY-MM-DD
    parts = [
        exp.Literal.string(p) if isinstance(p, str) else _substr(period, *p)
        for p in pieces
    ]
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part, safe=True)
    return exp.paren(joined, copy=False)


def _substr(target, start: int, length: int) -> exp.Expression:
    return exp.Substring(
        this=target.copy(),
        start=exp.Literal.number(start),
        length=exp.Literal.number(length),
    )


def period_bounds(source, start, end) -> tuple:
    """Return (low, high) in the source's own period text, either may be None."""
    if source.period_format != "year_quarter":
        return start, end
    low = quarter_of(start) if start else None
    return low, (last_quarter_ending_by(end) if end else None)


def period_predicates(source, start, end, params: Params) -> list:
    """Return the SQL conditions selecting periods ending in [start, end]."""
    low, high = period_bounds(source, start, end)
    value, out = period_value(source), []
    if low is not None and high is not None:
        low, high = params.add("period_start", low), params.add("period_end", high)
        return [exp.Between(this=value, low=low, high=high)]
    if low is not None:
        out.append(
            exp.GTE(this=value.copy(), expression=params.add("period_start", low))
        )
    if high is not None:
        out.append(
            exp.LTE(this=value.copy(), expression=params.add("period_end", high))
        )
    return out


def key_predicate(source, keys, params: Params, prefix: str) -> exp.Expression:
    """Return ``key IN (:k0, ...)``, or FALSE when no key qualifies."""
    if not keys:
        return exp.false()
    holders = (params.add(prefix, key) for key in keys)
    return column(source.company_column).isin(*holders)


def select_rows(source, columns, conditions) -> str:
    """Return SELECT key, period, columns ... WHERE ... ORDER BY key, period."""
    names = [source.company_column, source.period_column, *columns]
    query = exp.select(*(column(n) for n in dict.fromkeys(names)))
    query = _where(query.from_(_table(source), copy=False), conditions)
    order = (column(source.company_column), column(source.period_column))
    return query.order_by(*order, copy=False).sql(dialect=DIALECT)


def select_partial(source, texts, sums, extremes, conditions, packs=()) -> str:
    """Return per-key partial aggregates: COUNT(*), SUM/COUNT, MIN/MAX per column.

    Columns in ``packs`` also come packed (packed.py): every row's value, with the
    rows' periods, as one text per key; list a column in ``sums`` as well to have
    SQL sum it too. Text columns in ``texts`` come as a value count per key
    (``_text_values``): grouping by them instead sorted every row (a temporary
    B-tree), a sixth of P&L's query time at 100k x 12.
    """
    keys = [column(source.company_column)]
    parts = [exp.alias_(exp.Count(this=exp.Star()), ROWS_ALIAS, quoted=True)]
    for name in sums:
        wanted = (
            ("sum", "count", "min", "max") if name in extremes else ("sum", "count")
        )
        parts += [_aggregate(name, kind) for kind in wanted]
    if packs:
        parts.append(_packed(column(source.period_column), packed.PERIODS, False))
        quoted = not source.text_amounts
        parts += [_packed(column(n), packed.packed_name(n), quoted) for n in packs]
    for name in texts:
        parts += _text_values(column(name))
    query = exp.select(*keys, *parts).from_(_table(source), copy=False)
    query = _where(query, conditions).group_by(*(k.copy() for k in keys), copy=False)
    order = (k.copy() for k in keys)
    return query.order_by(*order, copy=False).sql(dialect=DIALECT)


def key_range(source, low, high, params: Params) -> list:
    """Return the conditions selecting keys in [low, high); a None bound is open.

    The range without a lower bound also holds NULL keys, so consecutive ranges
    cover every key the table may hold, even keys added after they were planned.
    """
    key = column(source.company_column)
    out = []
    if low is not None:
        out.append(exp.GTE(this=key.copy(), expression=params.add("lo", low)))
    if high is not None:
        below = exp.LT(this=key.copy(), expression=params.add("hi", high))
        out.append(below if low is not None else exp.or_(below, key.is_(exp.null())))
    return out


def select_key_counts(source, conditions=()) -> str:
    """Return each key's row count (``_rows``), in key order, where ``conditions``."""
    key = column(source.company_column)
    rows = exp.alias_(exp.Count(this=exp.Star()), ROWS_ALIAS, quoted=True)
    query = exp.select(key, rows).from_(_table(source), copy=False)
    query = _where(query, list(conditions)).group_by(key.copy(), copy=False)
    return query.order_by(key.copy(), copy=False).sql(dialect=DIALECT)


def select_distinct_keys(source) -> str:
    """Return SELECT DISTINCT key FROM table ORDER BY key."""
    key = column(source.company_column)
    query = exp.select(key).distinct(copy=False).from_(_table(source), copy=False)
    return query.order_by(key.copy(), copy=False).sql(dialect=DIALECT)


def _packed(value: exp.Expression, name: str, quoted: bool) -> exp.Expression:
    """Return ``_joined(value, quoted)`` under the alias ``name``."""
    return exp.alias_(_joined(value, quoted), name, quoted=True)


def _joined(value: exp.Expression, quoted: bool) -> exp.Expression:
    """Return GROUP_CONCAT of QUOTE(value), or of IFNULL(value, ''), by the separator.

    The separator is a literal: as ``CHAR(31)`` it was a function call per row
    and column, a quarter of a ten-column text-amount query's time at 100k x 12.
    """
    if quoted:
        text = exp.Anonymous(this="QUOTE", expressions=[value])
    else:
        text = exp.func("IFNULL", value, exp.Literal.string(""))
    return exp.GroupConcat(this=text, separator=exp.Literal.string(packed.SEPARATOR))


def _text_values(value: exp.Column) -> list:
    """Return a text column's value count per key: MIN, COUNT, and when the key
    holds several values, all of them packed (``packed.text_aliases``)."""
    single, count, many = packed.text_aliases(value.name)
    lowest, highest = exp.Min(this=value.copy()), exp.Max(this=value.copy())
    several = exp.Case(
        ifs=[exp.If(this=exp.Is(this=lowest, expression=highest), true=exp.null())],
        default=_joined(value.copy(), False),
    )
    return [
        exp.alias_(lowest.copy(), single, quoted=True),
        exp.alias_(exp.Count(this=value.copy()), count, quoted=True),
        exp.alias_(several, many, quoted=True),
    ]


def _aggregate(name: str, kind: str) -> exp.Expression:
    return exp.alias_(
        AGGREGATES[kind](this=column(name)), alias(name, kind), quoted=True
    )


def _table(source) -> exp.Table:
    return exp.Table(this=exp.to_identifier(source.table, quoted=True))


def _where(query: exp.Select, conditions: list) -> exp.Select:
    if not conditions:
        return query
    return query.where(exp.and_(*conditions), copy=False)
