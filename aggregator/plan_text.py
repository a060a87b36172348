"""Describe a plan for people: per-source SQL, where each filter ran, later steps."""


def describe_plan(plan, semantics: str) -> dict:
    """Return the JSON form of ``plan`` (what ``explain`` and every result show)."""
    query = plan.query
    return {
        "mode": _mode(query),
        "group_by": query.group_by,
        "filter_semantics": semantics,
        "sources": {name: _source(plan, sp) for name, sp in plan.sources.items()},
        "filters": [_filter(plan, flt) for flt in query.filters],
        "at_aggregator": list(plan.at_aggregator),
        "discovery": {
            name: [{"sql": q.sql, "params": dict(q.params)} for q in queries]
            for name, queries in plan.discovery.items()
        },
        "notes": list(plan.notes),
    }


def _mode(query) -> str:
    if query.sql:
        return "raw_sql"
    return "pushdown" if query.pushdown else "row_fetch"


def _source(plan, source_plan) -> dict:
    query = plan.query
    period = bool(query.period_start or query.period_end)
    return {
        "mode": source_plan.mode,
        "fields": list(source_plan.fields),
        "partial_aggregation": source_plan.mode == "partial",
        "queries": [_query(name, plan.queries[name]) for name in source_plan.queries],
        "filters": {
            "in_sql": [f.describe() for f in source_plan.pushed],
            "at_aggregator": [f.describe() for f in source_plan.residual],
            "via_surviving_keys": [f.describe() for f in source_plan.via_keys],
        },
        "period_range": _where(period, source_plan.period_in_sql),
        "companies": _where(bool(query.companies), source_plan.companies_in_sql),
    }


def _query(name: str, query) -> dict:
    return {
        "name": name,
        "kind": query.kind,
        "sql": query.sql,
        "params": dict(query.params),
    }


def _where(asked: bool, in_sql: bool):
    if not asked:
        return None
    return "in_sql" if in_sql else "at_aggregator"


def _filter(plan, flt) -> dict:
    spots = {"in_sql": [], "at_aggregator": [], "via_surviving_keys": []}
    for name, sp in plan.sources.items():
        for key, group in zip(spots, (sp.pushed, sp.residual, sp.via_keys)):
            if flt in group:
                spots[key].append(name)
    return {"filter": flt.describe(), **spots}


def aggregator_steps(query, settings, sources: dict) -> tuple:
    """Return, in order, what the aggregator does after the sources answer."""
    steps = ["resolve raw company keys against the registry"]
    steps.append("rename source columns to canonical fields")
    for name in sources:
        source = settings.sources[name]
        if source.text_amounts:
            steps.append(f"parse text amounts ({name})")
        if source.unit_scale != 1:
            steps.append(f"scale amounts by {source.unit_scale:g} ({name})")
    steps += _chunk_steps(sources)
    steps.append("normalise periods to ISO period-end dates")
    steps += _filter_steps(query, sources)
    partial = [n for n, sp in sources.items() if sp.mode == "partial"]
    if partial:
        steps.append(f"merge per-key partial sums and counts ({', '.join(partial)})")
    steps.append("mean = total sum / total count over all contributing rows")
    if any(settings.canonical_fields[f].type != "numeric" for f in query.fields):
        steps.append("text fields: most frequent non-null value")
    if query.check_discrepancies:
        steps.append("compare multi-source fields per company and period")
    return tuple(steps)


def _filter_steps(query, sources: dict) -> list:
    steps = []
    for name, sp in sources.items():
        if sp.residual:
            described = "; ".join(f.describe() for f in sp.residual)
            steps.append(f"filter {name} rows: {described}")
        if sp.via_keys:
            described = "; ".join(f.describe() for f in sp.via_keys)
            steps.append(f"keep {name} rows whose company-period passed: {described}")
    if query.companies and not all(sp.companies_in_sql for sp in sources.values()):
        steps.append("keep only the requested companies")
    period = query.period_start or query.period_end
    if period and not all(sp.period_in_sql for sp in sources.values()):
        steps.append("keep only periods in the requested range")
    return steps


def _chunk_steps(sources: dict) -> list:
    """Return a step per query kind split over several queries (URL size, rows)."""
    steps = []
    for name, sp in sources.items():
        kinds = [q.split(":")[1] for q in sp.queries if q.count(":") == 2]
        for kind in dict.fromkeys(kinds):
            parts = 1 + kinds.count(kind)
            steps.append(f"stack the {parts} {kind} queries' rows ({name})")
    return steps
