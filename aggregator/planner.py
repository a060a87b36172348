"""Plan per-source SQL for a canonical query: projection, predicates, partial sums.

Filters select (company, period) observations.
A filter on field F is evaluated on each row of every source that holds F, against
that row's own value; a missing value fails, as in SQL. It runs in the source's SQL
when the declared type allows (numeric thresholds divided by the source's
unit_scale), else at the aggregator after normalisation. Rows of a source that does
not hold F are kept only for the (company, period) pairs where some holder row
satisfied F's filter (judged alone, whatever the row's other filters say). Several
filters must all hold. Rows whose key is rejected have no company,
so only their own source's filters apply to them.
"""

from dataclasses import dataclass, field, replace
from aggregator import sqlgen
from aggregator.key_chunks import MAX_REQUEST_BYTES, split_key_ranges, split_keys
from aggregator.plan_text import aggregator_steps, describe_plan

# The second paragraph of this docstring is sent with every plan, word for word.
FILTER_SEMANTICS = " ".join(__doc__.split("\n\n")[1].split())
# An IN list longer than this would push the GET URL past common request-line limits
# (gunicorn: 4094 bytes), so the company filter then runs at the aggregator instead.
MAX_PUSHED_KEY_CHARS = 1200
KINDS = ("partial", "rows", "rejected", "keys", "raw")
#: Share of a page one key discovery range is cut for (registry ids per range);
#: the rest is room for a source's messy keys, which no registry id matches.
DISCOVERY_PAGE_FILL = 0.7


@dataclass(frozen=True)
class SourceQuery:
    """One SQL query for one source, with its named parameter values.

    A partial query's ``observed`` columns come back one value per source row
    (for the discrepancy check); its packed amount columns in ``extremes`` also
    need a per-key min and max (see partial_pages.py).
    """

    source: str
    sql: str
    params: dict
    kind: str
    observed: tuple = ()
    extremes: tuple = ()


@dataclass(frozen=True)
class SourcePlan:
    """What one source is asked for, and what the aggregator still does with it."""

    source: str
    mode: str
    fields: tuple
    columns: dict
    pushed: tuple = ()
    residual: tuple = ()
    via_keys: tuple = ()
    texts: tuple = ()  # text fields of a partial plan: their values are counted
    extremes: tuple = ()
    period_in_sql: bool = False
    companies_in_sql: bool = False
    queries: tuple = ()


@dataclass(frozen=True)
class Plan:
    """Every source's queries plus the steps left to the aggregator."""

    query: object
    sources: dict
    queries: dict
    notes: tuple = ()
    at_aggregator: tuple = ()
    discovery: dict = field(default_factory=dict)

    def rounds(self) -> list:
        """Return the queries as fetch rounds holding at most one query per source."""
        rounds = []
        for query in self.queries.values():
            target = next((r for r in rounds if query.source not in r), None)
            if target is None:
                target = {}
                rounds.append(target)
            target[query.source] = query
        return rounds

    def to_dict(self) -> dict:
        """Return the plan as JSON: SQL and params per source, where filters ran."""
        return describe_plan(self, FILTER_SEMANTICS)


def plan_queries(
    query,
    settings,
    key_filter=None,
    rejected_keys=None,
    key_counts=None,
    built=None,
    sizes=None,
) -> Plan:
    """Return the plan for ``query``.

    :param key_filter: source -> the raw keys of the requested companies.
    :param rejected_keys: source -> the raw keys the registry cannot resolve.
    :param key_counts: source -> (raw key, rows) pairs from key discovery, in the
        source's key order; a partial aggregate over more rows is split by key range.
    :param built: a dict kept by the caller between calls for the same query:
        source -> its plan, queries and notes. A source's queries depend only on
        its own key lists, so a caller that drops a source's entry whenever those
        change gets the others back without building their SQL again.
    :param sizes: source -> its row count where known (see ``source_sizes_needed``).
    """
    if query.sql:
        return _raw_plan(query, settings)
    contributors = _contributors(query, settings)
    needs_keys = _filters_needing_keys(query, settings, contributors)
    sources, queries, notes = {}, {}, []
    built = {} if built is None else built
    for name in _participants(query, settings, contributors):
        if name not in built:
            lists = (key_filter, rejected_keys, key_counts, sizes)
            built[name] = _plan_source(query, settings, name, needs_keys, lists)
        sources[name], source_queries, source_notes = built[name]
        queries.update(source_queries)
        notes += source_notes
    steps = aggregator_steps(query, settings, sources)
    return Plan(query, sources, queries, tuple(notes), steps)


def _plan_source(query, settings, name: str, needs_keys, lists: tuple) -> tuple:
    """Return (source plan, its queries, notes) for one source."""
    key_filter, rejected_keys, key_counts, sizes = lists
    source, notes = settings.sources[name], []
    contributors = _contributors(query, settings)
    plan = _source_plan(query, settings, source, contributors, needs_keys, sizes)
    keys = _keys_for(plan, (key_filter or {}).get(name), rejected_keys, notes)
    bounds = _range_bounds(settings, plan, keys, (key_counts or {}).get(name))
    built = _build_queries(query, source, plan, keys, rejected_keys or {}, bounds)
    if bounds:
        ranges = len(bounds) + 1
        notes.append(f"{name}: {plan.mode} query split into {ranges} key ranges")
    in_sql = keys is not None
    source_plan = replace(plan, queries=tuple(built), companies_in_sql=in_sql)
    return source_plan, built, notes


def source_sizes_needed(query, settings) -> list:
    """Return the sources whose row count decides how they are asked (see below).

    A text-amount source that fits one query is asked for its rows, in one round
    trip; a larger one packs its amounts into ranged partial queries, which need
    key discovery first. The count comes from the source's ``/health``.
    """
    if query.sql or not query.pushdown or query.companies:
        return []
    names = participants(query, settings)
    return [name for name in names if settings.sources[name].text_amounts]


def plan_key_queries(query, settings, sizes=None, bounds=()) -> dict:
    """Return source -> its key discovery queries: per-key row counts, in key order.

    ``bounds`` (raw keys, sorted) cut each source's keys into ranges asked side
    by side, one query per range (see ``discovery_bounds``).
    """
    if query.sql or not query.pushdown:
        return {}
    contributors = _contributors(query, settings)
    needs_keys = _filters_needing_keys(query, settings, contributors)
    out = {}
    for name in _participants(query, settings, contributors):
        source = settings.sources[name]
        plan = _source_plan(query, settings, source, contributors, needs_keys, sizes)
        ranged_rows = plan.mode == "rows" and not _fits(settings, sizes, name, "rows")
        if query.companies or plan.mode == "partial" or ranged_rows:
            out[name] = _key_count_queries(source, bounds)
    return out


def discovery_bounds(settings, registry) -> tuple:
    """Return the keys cutting key discovery into ranges that each fit a page.

    One discovery query listing every key of a large source took several pages,
    and each page ran the whole GROUP BY again to skip the earlier ones (at 100k
    x 12: three pages, 2.5 scans of the table, one after the other). Cut at
    registry ids, with room for the messy keys, each range is one page.
    """
    bounds = registry.key_bounds(settings.page_size * DISCOVERY_PAGE_FILL)
    return bounds if _ordered_in_every_collation(bounds) else ()


def _ordered_in_every_collation(bounds) -> bool:
    """True when ``bounds`` increase in SQLite's BINARY, NOCASE and RTRIM orders.

    The ranges then part a source's keys, and their answers joined stay in the
    key column's own order, whichever of those it declares.
    """
    folds = (str.encode, lambda key: key.encode().lower(), lambda key: key.rstrip(" "))
    for fold in folds:
        keys = [fold(key) for key in bounds]
        if any(low >= high for low, high in zip(keys, keys[1:])):
            return False
    return True


def _key_count_queries(source, bounds) -> tuple:
    """Return one key count query per key range cut at ``bounds``."""
    edges = [None, *bounds, None]
    queries = []
    for low, high in zip(edges, edges[1:]):
        params = sqlgen.Params()
        conditions = sqlgen.key_range(source, low, high, params)
        sql = sqlgen.select_key_counts(source, conditions)
        queries.append(SourceQuery(source.name, sql, dict(params.values), "keys"))
    return tuple(queries)


def participants(query, settings) -> list:
    """Return the sources ``query`` needs: holders of its fields or its filters."""
    if query.sql:
        return [name for name in settings.sources if name in query.sql]
    return _participants(query, settings, _contributors(query, settings))


def _contributors(query, settings) -> dict:
    out = {}
    for name in settings.sources:
        held = [f for f in query.fields if name in settings.field_sources(f)]
        if held:
            out[name] = tuple(held)
    return out


def _participants(query, settings, contributors: dict) -> list:
    holders = {s for f in query.filters for s in settings.field_sources(f.field)}
    return [s for s in settings.sources if s in contributors or s in holders]


def _filters_needing_keys(query, settings, contributors: dict) -> set:
    """Return the filters whose surviving (company, period) keys others need."""
    return {
        flt
        for flt in query.filters
        if set(contributors) - set(settings.field_sources(flt.field))
    }


def _pushable(query, source, column: str) -> bool:
    kind = source.column_types[column]
    return query.pushdown and (kind == "text" or source.is_sql_numeric(column))


def _fits(settings, sizes, name: str, mode: str) -> bool:
    """True when ``name`` is known to fit one ``mode`` query (no key ranges)."""
    rows = (sizes or {}).get(name)
    return rows is not None and rows <= _rows_per_query(settings, mode)


def _rows_per_query(settings, mode: str) -> int:
    """Return the most rows one query of ``mode`` covers (more: key ranges).

    A partial aggregate's range covers at most ``partial_rows_per_query`` rows; a
    row query's at most one page, so each range is one request and several
    ranges of one source are read at once.
    """
    limit = settings.partial_rows_per_query
    return min(limit, settings.page_size) if mode == "rows" else limit


def _source_plan(
    query, settings, source, contributors, needs_keys, sizes=None
) -> SourcePlan:
    fields = contributors.get(source.name, ())
    columns = source.field_columns
    own = [f for f in query.filters if source.name in settings.field_sources(f.field)]
    # A source whose rows prove some filter's (company, period) keys for others needs
    # each filter judged alone; AND-ed in SQL, one failing filter would hide the rest.
    alone = len(own) > 1 and needs_keys.intersection(own)
    pushed = tuple(
        f for f in own if not alone and _pushable(query, source, columns[f.field])
    )
    residual = tuple(f for f in own if f not in pushed)
    via_keys = () if not fields else tuple(f for f in query.filters if f not in own)
    numeric = [f for f in fields if source.column_types[columns[f]] == "numeric"]
    # Text amounts are summed at the aggregator from packed values, which pays
    # off for large sources only; a small one is asked for its rows at once.
    small_text = (
        source.text_amounts and numeric and _fits(settings, sizes, source.name, "rows")
    )
    partial = (
        query.pushdown
        and query.group_by == "company"
        and fields
        and not (residual or via_keys or needs_keys.intersection(own))
        and not small_text
    )
    return SourcePlan(
        source=source.name,
        mode="partial" if partial else "rows",
        fields=fields,
        columns={f: columns[f] for f in (*fields, *(x.field for x in residual))},
        pushed=pushed,
        residual=residual,
        via_keys=via_keys,
        texts=tuple(f for f in fields if f not in numeric) if partial else (),
        extremes=tuple(f for f in numeric if len(settings.field_sources(f)) > 1),
        period_in_sql=query.pushdown and bool(query.period_start or query.period_end),
    )


def _keys_for(plan: SourcePlan, allowed, rejected_keys, notes: list):
    if allowed is None:
        return None
    rejected = (rejected_keys or {}).get(plan.source, [])
    keys = list(allowed) + (list(rejected) if plan.mode == "rows" else [])
    if sum(len(k) + 12 for k in keys) > MAX_PUSHED_KEY_CHARS:
        notes.append(f"{plan.source}: company filter applied at the aggregator")
        return None
    return keys


def _conditions(query, source, plan, params) -> list:
    conditions = [
        sqlgen.predicate(
            plan_column(source, f.field),
            f.in_units(source.unit_scale),
            source.column_types[plan_column(source, f.field)] == "numeric",
            params,
        )
        for f in plan.pushed
    ]
    if plan.period_in_sql:
        conditions += sqlgen.period_predicates(
            source, query.period_start, query.period_end, params
        )
    return conditions


def plan_column(source, canonical: str) -> str:
    """Return the source column holding canonical field ``canonical``."""
    return source.field_columns[canonical]


def _range_bounds(settings, plan: SourcePlan, keys, counts) -> list:
    """Return where ``plan``'s queries are split by key range: [] to keep one."""
    if keys is not None or not counts:
        return []
    limit = _rows_per_query(settings, plan.mode)
    return split_key_ranges(counts, limit, settings.page_size)


def _build_queries(query, source, plan, keys, rejected_keys: dict, bounds=()) -> dict:
    params = sqlgen.Params()
    conditions = _conditions(query, source, plan, params)
    base = sqlgen.Params(dict(params.values), dict(params.counts))
    scoped = conditions + (
        [sqlgen.key_predicate(source, keys, params, "k")] if keys is not None else []
    )
    name, columns = source.name, list(plan.columns.values())
    if plan.mode == "rows":
        return _ranged(source, scoped, params, bounds, "rows", _rows_query(columns))
    observed = _overlap_columns(query, plan)
    build = _partial_query(plan, observed)
    out = _ranged(source, scoped, params, bounds, "partial", build)
    rejected = rejected_keys.get(name)
    if rejected:
        out.update(_rejected_queries(source, columns, conditions, base, rejected))
    return out


def _rejected_queries(source, columns, conditions, base, keys) -> dict:
    """Return the rejected-rows queries, split so each stays in the size budget."""
    texts = {}  # the SQL depends only on how many keys a chunk has

    def build(chunk) -> SourceQuery:
        params = sqlgen.Params(dict(base.values), dict(base.counts))
        where = conditions + [sqlgen.key_predicate(source, chunk, params, "r")]
        if len(chunk) not in texts:
            texts[len(chunk)] = sqlgen.select_rows(source, columns, where)
        sql = texts[len(chunk)]
        return SourceQuery(source.name, sql, dict(params.values), "rejected")

    built = split_keys(build, list(keys), MAX_REQUEST_BYTES)
    names = [f"{source.name}:rejected"]
    names += [f"{source.name}:rejected:{i}" for i in range(1, len(built))]
    return dict(zip(names, built))


def _ranged(source, conditions, params, bounds, kind: str, build) -> dict:
    """Return ``build``'s query, one per key range between ``bounds`` (if any).

    Ranges differ only in their parameter values, except the open first and
    last: each shape's SQL is generated once.
    """
    edges = [None, *bounds, None]
    out, shapes = {}, {}
    for index, (low, high) in enumerate(zip(edges, edges[1:])):
        chunk = sqlgen.Params(dict(params.values), dict(params.counts))
        where = conditions + sqlgen.key_range(source, low, high, chunk)
        name = f"{source.name}:{kind}:{index}" if index else source.name
        shape = (low is None, high is None)
        if shape not in shapes:
            shapes[shape] = build(source, where, chunk)
        out[name] = replace(shapes[shape], params=dict(chunk.values))
    return out


def _rows_query(columns: list):
    """Return a builder of the row query for ``columns``."""

    def build(source, conditions, params) -> SourceQuery:
        sql = sqlgen.select_rows(source, columns, conditions)
        return SourceQuery(source.name, sql, dict(params.values), "rows")

    return build


def _partial_query(plan, observed: tuple):
    """Return a builder of ``plan``'s partial aggregate.

    Amounts SQL cannot sum (text) come packed, as do the ``observed`` columns.
    """

    def build(source, conditions, params) -> SourceQuery:
        texts = [plan.columns[f] for f in plan.texts]
        amounts = [plan.columns[f] for f in plan.fields if f not in plan.texts]
        extremes = tuple(plan.columns[f] for f in plan.extremes)
        if source.text_amounts:
            sums, packs = [], amounts
        else:
            sums, packs = amounts, list(observed)
        sql = sqlgen.select_partial(
            source, texts, sums, extremes, conditions, tuple(packs)
        )
        return SourceQuery(
            source.name,
            sql,
            dict(params.values),
            "partial",
            observed=observed,
            extremes=extremes if source.text_amounts else (),
        )

    return build


def _overlap_columns(query, plan) -> tuple:
    """Return the columns needed to compare multi-source fields period by period."""
    if not query.check_discrepancies:
        return ()
    return tuple(plan.columns[f] for f in plan.extremes)


def _raw_plan(query, settings) -> Plan:
    sources, queries, notes = {}, {}, []
    for name, sql in query.sql.items():
        source = settings.sources[name]
        held = set(source.field_columns)
        fields = tuple(f for f in query.fields if f in held)
        sources[name] = SourcePlan(
            source=name,
            mode="raw",
            fields=fields,
            columns={f: source.field_columns[f] for f in fields},
            residual=tuple(f for f in query.filters if f.field in held),
            via_keys=tuple(f for f in query.filters if f.field not in held),
            queries=(name,),
        )
        queries[name] = SourceQuery(name, sql, {}, "raw")
    for flt in query.filters:
        if not set(settings.field_sources(flt.field)) & set(query.sql):
            notes.append(f"no queried source holds {flt.field}: no row can pass")
    steps = aggregator_steps(query, settings, sources)
    return Plan(query, sources, queries, tuple(notes), steps)
