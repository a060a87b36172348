"""One aggregation run: resolve ids -> plan -> fetch -> map -> aggregate -> result."""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from aggregator import aggregate, assemble, run_report
from aggregator.errors import (
    SourcesUnavailableError,
    UnknownCompanyError,
    UpstreamError,
)
from aggregator.fetch_session import FetchSession
from aggregator.memory import release_free_memory
from aggregator.planner import (
    discovery_bounds,
    participants,
    plan_key_queries,
    plan_queries,
    source_sizes_needed,
)
from aggregator.result import RunResult, iso_utc, new_run_id
from aggregator.schema_map import ResultShapeError
from aggregator.sqlgen import ROWS_ALIAS

log = logging.getLogger(__name__)


def run_aggregation(query, settings, registry, fetcher, now) -> RunResult:
    """Run ``query`` against every source it needs and return the full result."""
    companies, query_fixes = resolve_requested(query, registry)
    session = FetchSession(fetcher)
    scope = assemble.Scope(companies, query.period_start, query.period_end)
    early = _EarlySources(settings, registry, session, scope)
    plan = _fetch(query, settings, registry, session, companies, early=early)
    early.keep_if_planned(plan)
    frames = session.frames_for(plan)
    release_free_memory()  # the pages are parsed: their threads' heaps are free
    source_rows = {**early.rows, **run_report.source_rows(frames, plan)}
    asked = list(plan.sources)
    datas = _normalise(plan, settings, registry, frames, session, scope, early.datas)
    release_free_memory()  # the joined pages are gone too
    _check_answers(query, session, asked)
    rows, discrepancies = _aggregate(plan, settings, datas)
    release_free_memory()
    report = run_report.build(plan, settings, registry, datas, companies, rows)
    return RunResult(
        run_id=new_run_id(),
        created_at=iso_utc(now),
        query=query,
        plan=plan,
        rows=rows,
        rejected=run_report.rejected_frame(datas, query.fields),
        sources=session.status(asked, source_rows),
        corrections=tuple(query_fixes) + report.corrections,
        rejections=report.rejections,
        type_mismatches=report.mismatches,
        discrepancies=tuple(discrepancies),
        warnings=run_report.failure_warnings(session, plan) + report.warnings,
        complete=not session.failures,
    )


def explain_plan(query, settings, registry, fetcher):
    """Return the plan for ``query`` (after key discovery) without running it."""
    companies, _ = resolve_requested(query, registry)
    session = FetchSession(fetcher)
    plan = _fetch(query, settings, registry, session, companies, run_data=False)
    notes = tuple(
        f"{name} {f['status']}: {f['reason']}" for name, f in session.failures.items()
    )
    return replace(plan, notes=plan.notes + notes)


def resolve_requested(query, registry) -> tuple:
    """Return (requested ids, corrections); unknown ids -> 400 with suggestions."""
    ids, fixes, unknown = [], [], []
    for index, raw in enumerate(query.companies):
        found = registry.resolve(raw)
        if found.method == "exact" or (found.company_id and query.auto_correct):
            ids.append(found.company_id)
            if found.method != "exact":
                fixes.append(run_report.correction(raw, found, "query", None))
            continue
        hint = [found.company_id] if found.company_id else list(found.candidates)
        unknown.append(
            {"field": f"companies[{index}]", "company": raw, "suggestions": hint}
        )
    if unknown:
        first = unknown[0]
        message = f"unknown company {first['company']!r}"
        raise UnknownCompanyError(message, details={**first, "unknown": unknown})
    return tuple(dict.fromkeys(ids)), fixes


def _fetch(query, settings, registry, session, companies, run_data=True, early=None):
    """Fetch what ``query`` needs, each source's data as soon as its keys are in.

    Return the plan. A source's queries depend only on its own size and discovered
    keys, so they are planned, and started, per source; the session checks they
    match. With ``early`` (``_EarlySources``) the sources that finish first are
    normalised while the others are still fetching.
    """
    needed = participants(query, settings)
    sized = source_sizes_needed(query, settings)
    planner = _RunPlanner(query, settings, registry, companies, run_data)
    discovery = {
        n: q
        for n, q in plan_key_queries(query, settings, bounds=planner.bounds).items()
        if n in needed and n not in sized
    }
    sizing = (sized, planner.discovery_for)
    on_done = None if early is None else lambda name: early.done(name, planner.plan())
    session.fetch(settings, needed, discovery, planner.queries_for, sizing, on_done)
    return replace(planner.plan(), discovery={**discovery, **planner.discovered})


class _EarlySources:
    """Normalises each source whose answers are all in while others still fetch.

    The run's steps after the fetch ran on one core while the services sat idle;
    a source that finishes first is now normalised while the slowest is still
    answering. Only a partial source no other source's filter narrows qualifies;
    its plan and queries are checked against the final plan.
    """

    def __init__(self, settings, registry, session, scope):
        self.settings, self.registry = settings, registry
        self.session, self.scope = session, scope
        self.datas: dict = {}  # source -> its normalised, scaled SourceData
        self.rows: dict = {}  # source -> rows its main queries covered
        self._used: dict = {}  # source -> (its SourcePlan, its queries)

    def done(self, name: str, plan) -> None:
        """Take ``name``'s results and normalise them, if its plan allows.

        Only partial results (already per key) are: normalising a million rows
        copies some of them, which beside the other sources' page joins raised
        the peak RSS with pushdown off from 996 to 1,076 MiB at 100k x 12.
        """
        source_plan = plan.sources.get(name)
        if source_plan is None or source_plan.via_keys or source_plan.mode != "partial":
            return
        queries = {k: q for k, q in plan.queries.items() if q.source == name}
        kinds = self.session.take(name, queries)
        if kinds is None:
            return
        self.rows.update(run_report.source_rows({name: kinds}, plan))
        self._used[name] = (source_plan, queries)
        kinds = assemble.join_chunks(kinds)
        try:
            self.datas[name] = _final_data(
                plan, self.settings, self.registry, self.scope, name, kinds
            )
        except ResultShapeError as exc:
            self.session.fail(name, "error", str(exc))
            return
        log.debug("%s normalised while other sources were fetching", name)
        release_free_memory()

    def keep_if_planned(self, plan) -> None:
        """Drop what was done with a plan that is not the final one (never seen).

        The session then runs that source's queries again, as for any plan
        query not run ahead.
        """
        for name, (source_plan, queries) in list(self._used.items()):
            final = {k: q for k, q in plan.queries.items() if q.source == name}
            if plan.sources.get(name) != source_plan or final != queries:
                log.warning("%s was normalised with another plan; redoing it", name)
                self.datas.pop(name, None)
                self.rows.pop(name, None)
                self.session.give_back(name)


class _RunPlanner:
    """Plans one run as key discovery answers arrive (re-planning only on news)."""

    def __init__(self, query, settings, registry, companies, run_data: bool):
        self.query, self.settings, self.registry = query, settings, registry
        self.sizes: dict = {}  # source -> row count, where it decides the plan
        self.discovered: dict = {}  # key discovery chosen once a size was known
        self.companies, self.run_data = set(companies), run_data
        self.allowed = {} if companies else None
        self.rejected: dict = {}
        self.key_counts: dict = {}
        self._plan = None
        self._built: dict = {}  # per-source plans, kept until its keys change
        self.bounds = discovery_bounds(settings, registry)

    def queries_for(self, name: str, frame):
        """Take ``name``'s discovered keys (if any); yield its data queries.

        Without a company filter a source's ranged queries need only its key
        counts, so they are yielded (and started) before its keys are resolved;
        the rejected-row queries, which need the resolution, follow.
        """
        sent = set()
        if frame is not None:
            self._add_counts(name, frame)
            if self.allowed is None:
                first = self._source_queries(name)
                sent = set(first)
                yield first
            self._add_keys(name, frame)
        yield {k: q for k, q in self._source_queries(name).items() if k not in sent}

    def discovery_for(self, name: str, rows):
        """Take ``name``'s row count; return its key discovery queries, or None."""
        self.sizes[name] = rows
        self._changed(name)
        queries = plan_key_queries(self.query, self.settings, self.sizes, self.bounds)
        if name in queries:
            self.discovered[name] = queries[name]
        return queries.get(name)

    def plan(self):
        """Return the plan for every key list known so far."""
        if self._plan is None:
            self._plan = plan_queries(
                self.query,
                self.settings,
                self.allowed,
                self.rejected,
                self.key_counts,
                built=self._built,
                sizes=self.sizes,
            )
        return self._plan

    def _source_queries(self, name: str) -> dict:
        if not self.run_data:
            return {}
        return {k: q for k, q in self.plan().queries.items() if q.source == name}

    def _add_counts(self, name: str, frame) -> None:
        """Take ``name``'s discovery frame: raw keys and their row counts, in order."""
        column = frame.iloc[:, 0]
        keys = column.astype("object").where(column.notna(), None).tolist()
        rows = frame[ROWS_ALIAS].astype("int64").tolist()
        self.key_counts[name] = tuple(zip(keys, rows))
        self._changed(name)

    def _add_keys(self, name: str, frame) -> None:
        """Resolve ``name``'s discovered raw keys: rejected ones, requested ones."""
        column = frame.iloc[:, 0]
        raws = list(dict.fromkeys(column.dropna().astype("str").tolist()))
        resolved = self.registry.resolve_many(raws)
        self.rejected[name] = [r for r in raws if resolved[r].company_id is None]
        if self.allowed is not None:
            wanted = self.companies
            self.allowed[name] = [r for r in raws if resolved[r].company_id in wanted]
        self._changed(name)

    def _changed(self, name: str) -> None:
        """Forget the plan and ``name``'s own queries: its key lists changed."""
        self._plan = None
        self._built.pop(name, None)


def _check_answers(query, session, asked: list) -> None:
    failed = {n: session.failures[n] for n in asked if n in session.failures}
    if failed and query.require_all_sources:
        details = {"sources": failed}
        raise SourcesUnavailableError(
            "required sources did not answer", details=details
        )
    if asked and len(failed) == len(asked):
        details = {"sources": failed}
        if all(f["status"] == "unavailable" for f in failed.values()):
            raise SourcesUnavailableError("no data source answered", details=details)
        raise UpstreamError("no data source answered", details=details)


def _normalise(plan, settings, registry, frames, session, scope, done=None) -> dict:
    """Normalise each source's results, taking them out of ``frames`` (freed early).

    ``frames``: source -> kind -> results per query; a source's are joined only
    when its turn comes, and the rows of a source that no other source's filter
    narrows are final at once, so they are reduced per key (``assemble.reduced``)
    before the next source's are joined: at most one source's rows are copied at
    a time. The others wait for the keys that passed the filters held elsewhere.
    ``done``: the sources normalised while fetching (see ``_EarlySources``).
    """
    datas, waiting = dict(done or {}), []
    for name in list(frames):
        kinds = assemble.join_chunks(frames.pop(name))
        try:
            if plan.sources[name].via_keys:
                datas[name] = assemble.normalise_source(
                    plan.sources[name],
                    settings.sources[name],
                    kinds,
                    registry.resolve_many,
                    scope,
                )
                waiting.append(name)
            else:
                datas[name] = _final_data(plan, settings, registry, scope, name, kinds)
        except ResultShapeError as exc:
            session.fail(name, "error", str(exc))
        del kinds
        release_free_memory()  # this source's copies, before the next one's
    keys = assemble.surviving_keys(datas, plan.query.filters)
    for name in waiting:
        data = assemble.apply_via_keys(datas[name], plan.sources[name], keys)
        data = assemble.reduced(data, _reduction(plan, settings, name))
        datas[name] = assemble.scaled(data, settings.sources[name])
    return {  # in plan order, however the sources finished
        name: replace(datas[name], supplies={})
        for name in plan.sources
        if name in datas
    }


def _final_data(plan, settings, registry, scope, name: str, kinds: dict):
    """Return a final source's data: normalised, reduced per output key, scaled.

    Final: no other source's filter narrows its rows.
    """
    source = settings.sources[name]
    data = assemble.normalise_source(
        plan.sources[name],
        source,
        kinds,
        registry.resolve_many,
        scope,
        _reduction(plan, settings, name),
    )
    return assemble.scaled(data, source)


def _reduction(plan, settings, name: str):
    """Return how ``name``'s final rows are reduced per output key."""
    query = plan.query
    observed = assemble.overlap_fields(query, settings)
    return assemble.Reduction(
        plan.sources[name].fields,
        settings,
        aggregate.group_keys(query.group_by),
        tuple(observed) if query.check_discrepancies else (),
    )


def _aggregate(plan, settings, datas: dict) -> tuple:
    """Return (rows, discrepancies); ``datas`` lose their per-row observations.

    The discrepancy check runs on a thread beside the combining of the parts:
    NumPy and pandas let go of the GIL for much of both. At 100k x 12 the step
    took 0.84-0.91 s instead of 0.96-1.01 s, for about 80 MiB more at its peak
    (the check's observations, a million rows per source, live meanwhile).
    """
    query = plan.query
    found = None
    with ThreadPoolExecutor(1, thread_name_prefix="finsync-check") as pool:
        if query.check_discrepancies:
            fields = assemble.overlap_fields(query, settings)
            observations = assemble.observations(datas, fields)
            tolerance = settings.discrepancy_tolerance
            found = pool.submit(
                aggregate.find_discrepancies, observations, fields, tolerance
            )
            del observations
        for name, data in datas.items():
            datas[name] = replace(data, observations=None)
        keys = aggregate.group_keys(query.group_by)
        parts, texts = assemble.parts_and_texts(plan, settings, datas, keys)
        rows = aggregate.combine(parts, texts, query.fields, settings, keys)
        return rows, ([] if found is None else found.result())
