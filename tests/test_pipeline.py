"""End to end: three live sources on the sample data -> pipeline -> checked results.

The reference computation reads the sample JSON files straight, maps keys with the
ids the manifest documents, parses text amounts with its own simple parser and
computes the means with plain pandas: it shares no code with the aggregator.
"""

import json
import re
import socket
import threading
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs

import pandas as pd
import pytest

from aggregator.companies import CompanyRegistry
from aggregator.config import REPO_DIR, load_settings
from aggregator.errors import SourcesUnavailableError, UnknownCompanyError
from aggregator.fanout import Fetcher
from aggregator.pipeline import explain_plan, run_aggregation
from aggregator.query import parse_query
from aggregator.sqlgen import select_key_counts
from data_sources.load import load_file, load_rows
from data_sources.service import create_app as create_source_app
from data_sources.source import EXTENSION as SOURCE_EXTENSION
from data_sources.statements import STATEMENTS

NOW = datetime(2024, 11, 5, 12, 30, tzinfo=timezone.utc)
MANIFEST = json.loads((REPO_DIR / "data_sources/sample_manifest.json").read_text())
CONFIG = json.loads((REPO_DIR / "config.json").read_text())
QUARTER_END = {"1": "03-31", "2": "06-30", "3": "09-30", "4": "12-31"}
RTOL = 1e-9


# --- the independent reference -------------------------------------------------


def _amount(text):
    """Parse "1,234.50" / "(200.00)"; None for anything else (test-only parser)."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    negative = text.startswith("(") and text.endswith(")")
    body = text[1:-1] if negative else text
    if not re.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d+)?", body):
        return None
    value = float(body.replace(",", ""))
    return -value if negative else value


def _period(raw: str, slug: str) -> str:
    if slug == "balance_sheet":
        month, day, year = raw.split("/")
        return f"{year}-{month}-{day}"
    if slug == "cash_flow":
        return f"{raw[:4]}-{QUARTER_END[raw[5]]}"
    return raw


def _reference_long() -> pd.DataFrame:
    """Return (source, company_id, period_end, field, value) for every sample value."""
    messy = {(m["source"], m["raw"]): m["company_id"] for m in MANIFEST["messy_keys"]}
    unknown = {(u["source"], u["raw"]) for u in MANIFEST["unknown_keys"]}
    records = []
    for slug, spec in STATEMENTS.items():
        mapping = CONFIG["schema_mapping"][slug]
        scale = CONFIG["sources"][slug]["unit_scale"]
        for row in json.loads(spec.sample_path.read_text()):
            raw = row[spec.key_column]
            if (slug, raw) in unknown:
                continue
            company = messy.get((slug, raw), raw)
            period = _period(row[spec.period_column], slug)
            for column, field in mapping.items():
                if field in ("company_id", "period_end"):
                    continue
                value = row[column]
                if field != "currency":
                    value = _amount(value)
                    value = None if value is None else value * scale
                records.append((slug, company, period, field, value))
    columns = ["source", "company_id", "period_end", "field", "value"]
    return pd.DataFrame.from_records(records, columns=columns)


REFERENCE = _reference_long()


def _reference_means(long: pd.DataFrame, keys: list) -> pd.DataFrame:
    numeric = long[long["field"] != "currency"].dropna(subset=["value"])
    numeric = numeric.assign(value=numeric["value"].astype(float))
    stats = numeric.groupby([*keys, "field"])["value"].agg(["mean", "count"])
    return stats.reset_index()


# --- fixtures -------------------------------------------------------------------


@pytest.fixture
def silent_server():
    """A real TCP listener that accepts connections and never answers: a hung source."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop, held = threading.Event(), []

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def run(live_sources, tmp_path):
    """run(payload, urls=None, **overrides) -> RunResult against the live sources."""

    def execute(payload, urls=None, explain=False, timeout=5, **overrides):
        urls = {**live_sources, **(urls or {})}
        sources = {
            slug: {"url": url, "read_timeout": timeout} for slug, url in urls.items()
        }
        settings = load_settings(
            env={},
            overrides={"sources": sources, "output_dir": str(tmp_path), **overrides},
        )
        registry = CompanyRegistry.from_file(settings.registry_path)
        fetcher = Fetcher(settings)
        try:
            query = parse_query(payload, settings)
            if explain:
                return explain_plan(query, settings, registry, fetcher), fetcher
            return run_aggregation(query, settings, registry, fetcher, NOW)
        finally:
            fetcher.close()

    return execute


def _long_result(rows: pd.DataFrame, keys: list, fields) -> pd.DataFrame:
    frames = [
        rows[[*keys, f, f"{f}_count"]]
        .rename(columns={f: "mean", f"{f}_count": "count"})
        .assign(field=f)
        for f in fields
    ]
    long = pd.concat(frames, ignore_index=True)
    long = long[long["count"] > 0]
    return long[[*keys, "field", "mean", "count"]].sort_values([*keys, "field"])


def _assert_matches_reference(result, reference, keys) -> None:
    fields = [f for f in result.fields if f != "currency"]
    got = _long_result(result.rows, keys, fields).reset_index(drop=True)
    want = reference[reference["field"].isin(fields)]
    want = want.sort_values([*keys, "field"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got, want, check_dtype=False, rtol=RTOL, check_exact=False
    )


# --- tests ----------------------------------------------------------------------


# Few rows per partial query: each partial source is asked in many key ranges.
# Small enough for key ranges everywhere: partial aggregates and key discovery
# (the 50 registry ids in ranges of 14, see planner.discovery_bounds).
KEY_RANGES = {"partial_rows_per_query": 25, "page_size": 20}
MODES = {
    "pushdown": ({"pushdown": True}, {}),
    "row_fetch": ({"pushdown": False}, {}),
    "pushdown_key_ranges": ({"pushdown": True}, KEY_RANGES),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_company_means_equal_the_reference(run, mode):
    payload, settings = MODES[mode]
    result = run(payload, **settings)
    assert result.complete
    _assert_matches_reference(
        result, _reference_means(REFERENCE, ["company_id"]), ["company_id"]
    )


def test_company_period_means_equal_the_reference(run):
    result = run({"group_by": "company_period"})
    keys = ["company_id", "period_end"]
    _assert_matches_reference(result, _reference_means(REFERENCE, keys), keys)


def _kept_by_filter(long, holders, passes) -> pd.DataFrame:
    """Apply the documented semantics to ``long`` for one filter."""
    held = long["source"].isin(holders)
    own = long[held & passes].groupby(["source", "company_id", "period_end"]).size()
    own_rows = own.reset_index()[["source", "company_id", "period_end"]]
    passed = own_rows[["company_id", "period_end"]].drop_duplicates()
    holder_rows = long[held].merge(own_rows, on=list(own_rows.columns))
    others = long[~held].merge(passed, on=["company_id", "period_end"])
    return pd.concat([holder_rows, others], ignore_index=True)


def _rows_passing(long, field, test) -> pd.Series:
    """Return, per long row, whether its source row's value of ``field`` passes."""
    values = long[long["field"] == field][
        ["source", "company_id", "period_end", "value"]
    ]
    joined = long.merge(values, on=["source", "company_id", "period_end"], how="left")
    return (
        joined["value_y"].map(lambda v: v is not None and v == v and test(v)).to_numpy()
    )


FILTER_CASES = {
    "pushed_numeric": (
        {"field": "revenue", "op": ">", "value": 4e7},
        ["pnl"],
        lambda v: v > 4e7,
    ),
    "thousands_and_text_amounts": (
        {"field": "cash", "op": "between", "value": [2e7, 6e7]},
        ["balance_sheet", "cash_flow"],
        lambda v: 2e7 <= v <= 6e7,
    ),
    "text_equality_missing_fails": (
        {"field": "currency", "op": "=", "value": "USD"},
        ["pnl"],
        lambda v: v == "USD",
    ),
}


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
@pytest.mark.parametrize("pushdown", [True, False])
def test_filters_follow_the_documented_semantics(run, case, pushdown):
    flt, holders, test = FILTER_CASES[case]
    period = {"start": "2023-04-01", "end": "2024-06-30"}
    keys = ["company_id", "period_end"]
    result = run(
        {
            "filters": [flt],
            "period": period,
            "group_by": "company_period",
            "pushdown": pushdown,
        }
    )
    long = REFERENCE[REFERENCE["period_end"].between(period["start"], period["end"])]
    long = long.reset_index(drop=True)
    kept = _kept_by_filter(long, holders, _rows_passing(long, flt["field"], test))
    _assert_matches_reference(result, _reference_means(kept, keys), keys)


def test_pushdown_and_row_fetch_give_identical_results(run):
    payload = {
        "companies": ["ACME0001", "KRUS0029", "COGS0035", "HOOL0009"],
        "filters": [{"field": "net_income", "op": ">=", "value": 0}],
        "period": {"start": "2023-06-30"},
    }
    pushed = run(payload)
    fetched = run({**payload, "pushdown": False})
    assert pushed.plan.to_dict()["mode"] == "pushdown"
    assert fetched.plan.to_dict()["mode"] == "row_fetch"
    pd.testing.assert_frame_equal(pushed.rows, fetched.rows, rtol=RTOL)
    pd.testing.assert_frame_equal(pushed.rejected, fetched.rejected)
    for name in ("corrections", "rejections", "discrepancies", "type_mismatches"):
        assert getattr(pushed, name) == getattr(fetched, name), name


def _partial_queries(result) -> dict:
    """Return source -> how many partial-aggregate queries the run's plan holds."""
    kinds = [q.source for q in result.plan.queries.values() if q.kind == "partial"]
    return {name: kinds.count(name) for name in dict.fromkeys(kinds)}


def _assert_same_findings(one, other, exact=False) -> None:
    rtol = 0 if exact else RTOL
    pd.testing.assert_frame_equal(one.rows, other.rows, rtol=rtol, atol=0)
    pd.testing.assert_frame_equal(one.rejected, other.rejected)
    for name in ("corrections", "rejections", "discrepancies", "type_mismatches"):
        assert getattr(one, name) == getattr(other, name), name
    assert one.warnings == other.warnings


@pytest.mark.parametrize("ranges", [False, True], ids=["one_query", "key_ranges"])
def test_partial_aggregation_pushdown_equals_row_fetch(run, ranges):
    pushed = run({}, **(KEY_RANGES if ranges else {}))
    fetched = run({"pushdown": False})
    partial = [s for s, p in pushed.plan.sources.items() if p.mode == "partial"]
    # cash_flow's text amounts are packed and summed at the aggregator when the
    # source needs key ranges; a source that fits one query is asked for rows.
    packed = ["cash_flow"] if ranges else []
    assert partial == ["pnl", "balance_sheet", *packed]
    counts = _partial_queries(pushed)
    if ranges:
        assert min(counts.values()) > 10
        assert all(pushed.sources[s]["status"] == "ok" for s in partial)
        notes = pushed.plan.to_dict()["notes"]
        assert f"pnl: partial query split into {counts['pnl']} key ranges" in notes
        discovery = pushed.plan.to_dict()["discovery"]
        assert {len(discovery[s]) for s in partial} == {4}
        _assert_same_findings(pushed, run({}))
    else:
        assert counts == {"pnl": 1, "balance_sheet": 1}
    _assert_same_findings(pushed, fetched)


class AddRowsAfterDiscovery:
    """WSGI middleware: call ``add`` once, after answering every key range's
    discovery query (``ranges`` of them, SQL starting with ``discovery_sql``)."""

    def __init__(self, app, discovery_sql: str, ranges: int, add):
        self.app, self.discovery_sql, self.add = app, discovery_sql, add
        self.left, self.lock = ranges, threading.Lock()
        self.added = threading.Event()

    def __call__(self, environ, start_response):
        sql = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0]
        answer = self.app(environ, start_response)
        try:
            body = list(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        if sql.startswith(self.discovery_sql):
            with self.lock:
                self.left -= 1
                if self.left == 0:  # before the answer leaves: data queries follow
                    self.add()
                    self.added.set()
        return body


def test_keys_added_after_discovery_fall_in_a_key_range(run, serve_wsgi, tmp_path):
    spec = STATEMENTS["pnl"]
    sample = json.loads(spec.sample_path.read_text())
    late = ["0000 Late Arrival", "Nobody Trading 0001 & Co", "ZZZZ9999"]
    extra = [{**sample[i], spec.key_column: raw} for i, raw in enumerate(late * 2)]
    db_path = tmp_path / "pnl.db"
    load_file(spec, spec.sample_path, db_path)
    app = create_source_app("pnl", {"DB_PATH": str(db_path)})
    key_counts = select_key_counts(load_settings(env={}).sources["pnl"])
    discovery = key_counts.split(" GROUP BY")[0]  # with or without a key range
    added = AddRowsAfterDiscovery(
        app, discovery, 4, lambda: load_rows(spec, extra, db_path)
    )
    try:
        url, _ = serve_wsgi(added)
        payload = {"fields": ["revenue", "net_income"]}
        result = run(payload, urls={"pnl": url}, **KEY_RANGES)
    finally:
        app.extensions[SOURCE_EXTENSION].db.close()
    assert added.added.is_set() and result.complete
    assert len(result.plan.to_dict()["discovery"]["pnl"]) == 4
    assert _partial_queries(result)["pnl"] > 10
    assert result.sources["pnl"]["rows"] == len(sample) + len(extra)
    assert f"pnl: {len(extra)} rows of keys that appeared after key discovery" in (
        " ".join(result.warnings)
    )
    pd.testing.assert_frame_equal(result.rows, run(payload).rows)


class DelayQueries:
    """WSGI middleware: answer ``/query`` only after ``delay`` seconds."""

    def __init__(self, app, delay: float):
        self.app, self.delay = app, delay

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/query":
            time.sleep(self.delay)
        return self.app(environ, start_response)


@pytest.mark.parametrize("pushdown", [True, False], ids=["pushdown", "row_fetch"])
def test_sources_done_first_are_normalised_while_another_fetches(
    run, serve_wsgi, tmp_path, caplog, pushdown
):
    spec = STATEMENTS["cash_flow"]
    db_path = tmp_path / "cash_flow.db"
    load_file(spec, spec.sample_path, db_path)
    app = create_source_app("cash_flow", {"DB_PATH": str(db_path)})
    payload = {"pushdown": pushdown}
    try:
        url, _ = serve_wsgi(DelayQueries(app, 0.5))
        with caplog.at_level("DEBUG", logger="aggregator.pipeline"):
            slow = run(payload, urls={"cash_flow": url})
    finally:
        app.extensions[SOURCE_EXTENSION].db.close()
    early = {r.args[0] for r in caplog.records if "while other sources" in r.msg}
    # Row results wait: normalising them beside page joins raised the peak RSS.
    assert early == ({"pnl", "balance_sheet"} if pushdown else set())
    plain = run(payload)
    assert slow.complete and plain.complete
    pd.testing.assert_frame_equal(slow.rows, plain.rows)
    for part in ("corrections", "rejections", "type_mismatches", "discrepancies"):
        assert getattr(slow, part) == getattr(plain, part), part
    assert slow.rejected.equals(plain.rejected)
    assert [s["rows"] for s in slow.sources.values()] == [
        s["rows"] for s in plain.sources.values()
    ]


def test_rejected_keys_are_the_manifest_unknown_keys(run):
    result = run({})
    want = pd.DataFrame(MANIFEST["unknown_keys"]).groupby(["source", "raw"]).size()
    got = {(r["source"], r["raw"]): r["rows"] for r in result.rejections}
    assert got == want.to_dict()
    rejected = result.rejected
    assert sorted(
        zip(rejected["source"], rejected["raw_key"], rejected["period_end"])
    ) == (
        sorted((u["source"], u["raw"], u["period"]) for u in MANIFEST["unknown_keys"])
    )
    digit_twins = {
        u["raw"] for u in MANIFEST["unknown_keys"] if u["kind"] == "digits_differ"
    }
    assert digit_twins <= {r["raw"] for r in result.rejections}


def test_many_rejected_keys_are_all_listed_in_a_complete_run(
    run, start_source, tmp_path
):
    spec = STATEMENTS["pnl"]
    sample = json.loads(spec.sample_path.read_text())
    unknown = [f"Nobody Trading {i:04d} & Co" for i in range(600)]
    extra = [
        {**sample[i % len(sample)], spec.key_column: raw}
        for i, raw in enumerate(unknown)
    ]
    db_path = tmp_path / "pnl.db"
    load_file(spec, spec.sample_path, db_path)
    load_rows(spec, extra, db_path)
    # The services' SQL length limit, lowered so one IN list of 600 keys is refused.
    url = start_source("pnl", db_path, max_sql_length=3000)
    result = run({"fields": ["revenue", "net_income"]}, urls={"pnl": url})
    assert result.complete and result.sources["pnl"]["status"] == "ok"
    queries = [q for q in result.plan.queries.values() if q.kind == "rejected"]
    assert len([q for q in queries if q.source == "pnl"]) > 1
    got = {r["raw"]: r["rows"] for r in result.rejections if r["source"] == "pnl"}
    want = {u["raw"] for u in MANIFEST["unknown_keys"] if u["source"] == "pnl"}
    assert set(got) == want | set(unknown)
    assert all(got[raw] == 1 for raw in unknown)
    rejected = result.rejected[result.rejected["source"] == "pnl"]
    assert set(unknown) <= set(rejected["raw_key"])
    assert len(rejected) == len(extra) + sum(
        u["source"] == "pnl" for u in MANIFEST["unknown_keys"]
    )


def test_corrections_cover_the_manifest_messy_keys(run):
    result = run({})
    messy = pd.DataFrame(MANIFEST["messy_keys"])
    want = messy.groupby(["source", "raw", "company_id"]).size().to_dict()
    got = {
        (c["source"], c["raw"], c["company_id"]): c["rows"] for c in result.corrections
    }
    assert got == want


def test_discrepancies_are_the_manifest_ones(run):
    result = run({})
    got = [(d["company_id"], d["period_end"], d["field"]) for d in result.discrepancies]
    want = sorted(
        (d["company_id"], d["period_end"], d["field"])
        for d in MANIFEST["discrepancies"]
    )
    assert got == want
    by_key = {
        (d["company_id"], d["period_end"], d["field"]): d for d in result.discrepancies
    }
    for item in MANIFEST["discrepancies"]:
        values = by_key[(item["company_id"], item["period_end"], item["field"])][
            "values"
        ]
        assert values == pytest.approx(item["values"], rel=RTOL)


def test_type_mismatches_are_the_manifest_malformed_values(run):
    result = run({})
    got = {
        (m["source"], m["field"]): (m["count"], m["examples"], m["rows"])
        for m in result.type_mismatches
    }
    want = {
        (m["source"], m["field"]): (
            1,
            [m["value"]],
            [{"raw_key": m["raw_key"], "period": m["period"]}],
        )
        for m in MANIFEST["malformed_values"]
    }
    assert got == want


def test_a_stopped_source_gives_a_partial_result(run, closed_url):
    result = run({}, urls={"balance_sheet": closed_url})
    assert not result.complete
    status = result.sources["balance_sheet"]
    assert (status["status"], status["rows"]) == ("unavailable", 0)
    assert {result.sources[s]["status"] for s in ("pnl", "cash_flow")} == {"ok"}
    assert any("balance_sheet" in w for w in result.warnings)
    alive = REFERENCE[REFERENCE["source"] != "balance_sheet"]
    _assert_matches_reference(
        result, _reference_means(alive, ["company_id"]), ["company_id"]
    )


def test_require_all_sources_turns_a_stopped_source_into_503(run, closed_url):
    with pytest.raises(SourcesUnavailableError) as caught:
        run({"require_all_sources": True}, urls={"cash_flow": closed_url})
    assert caught.value.status == 503
    assert caught.value.details["sources"]["cash_flow"]["status"] == "unavailable"


def test_no_source_answering_is_an_error(run, closed_url):
    urls = {slug: closed_url for slug in STATEMENTS}
    with pytest.raises(SourcesUnavailableError):
        run({}, urls=urls)


def test_unknown_company_is_refused_with_suggestions(run):
    with pytest.raises(UnknownCompanyError) as caught:
        run({"companies": ["ACME0001", "acme-0001"]})
    error = caught.value
    assert (error.status, error.code) == (400, "unknown_company")
    assert error.details["suggestions"] == ["ACME0001"]
    assert error.details["field"] == "companies[1]"


def test_auto_correct_resolves_the_query_companies(run):
    result = run({"companies": ["acme-0001"], "auto_correct": True})
    assert list(result.rows["company_id"]) == ["ACME0001"]
    assert result.corrections[0]["source"] == "query"


def test_raw_sql_is_mapped_and_aggregated_the_same_way(run):
    sql = {slug: f"SELECT * FROM {spec.table}" for slug, spec in STATEMENTS.items()}
    raw, planned = run({"sql": sql}), run({})
    assert raw.plan.to_dict()["mode"] == "raw_sql"
    pd.testing.assert_frame_equal(raw.rows, planned.rows, rtol=RTOL)
    assert raw.rejections == planned.rejections


def test_explain_plans_without_running_the_data_queries(run):
    plan, fetcher = run(
        {"companies": ["ACME0001"], "fields": ["revenue"]}, explain=True
    )
    body = plan.to_dict()
    assert list(body["sources"]) == ["pnl"]
    query = body["sources"]["pnl"]["queries"][0]
    assert ":k0" in query["sql"] and query["params"]["k0"] == "ACME0001"
    assert list(body["discovery"]) == ["pnl"]
    assert len(fetcher.cache) == 1  # only the key discovery ran


def test_a_mapping_error_fails_that_source_clearly(run):
    mapping = {"schema_mapping": {"pnl": {"no_such_column": "bogus_amount"}}}
    result = run({}, **mapping)
    status = result.sources["pnl"]
    assert status["status"] == "error"
    assert "no_such_column" in status["reason"] and "/schema" in status["reason"]
    assert result.sources["cash_flow"]["status"] == "ok"


def test_the_result_body_is_strict_json(run):
    body = run({"group_by": "company_period"}).to_dict()
    text = json.dumps(body, allow_nan=False)
    assert json.loads(text)["row_count"] == 400
    assert body["run_id"] and len(body["run_id"]) == 12
    assert body["created_at"] == "2024-11-05T12:30:00Z"
    assert body["columns"][:2] == ["company_id", "period_end"]


def test_text_fields_take_the_most_frequent_value(run):
    result = run({"fields": ["currency"]})
    currency = REFERENCE[(REFERENCE["field"] == "currency")].dropna(subset=["value"])
    counts = currency.groupby("company_id").size()
    rows = result.rows.set_index("company_id")
    assert set(rows["currency"]) == {"USD"}
    assert rows["currency_count"].to_dict() == counts.to_dict()
    assert rows.loc["STER0020", "currency_count"] == 7  # one missing currency


def test_an_empty_selection_keeps_the_columns(run):
    flt = {"field": "revenue", "op": ">", "value": 1e15}
    result = run({"filters": [flt], "fields": ["revenue", "cash"]})
    assert result.row_count == 0 and result.complete
    assert result.columns == [
        "company_id",
        "revenue",
        "revenue_count",
        "cash",
        "cash_count",
        "cash_min",
        "cash_max",
    ]


def test_a_filter_whose_sources_all_failed_is_flagged(run, closed_url):
    flt = {"field": "revenue", "op": ">", "value": 0}
    result = run({"filters": [flt], "fields": ["cash"]}, urls={"pnl": closed_url})
    assert result.row_count == 0 and not result.complete
    assert any("every source holding revenue failed" in w for w in result.warnings)


def test_hung_sources_cost_one_time_out_not_the_sum(run, silent_server):
    urls = {"balance_sheet": silent_server, "cash_flow": silent_server}
    start = time.perf_counter()
    result = run({}, urls=urls, timeout=1.5)
    elapsed = time.perf_counter() - start
    assert {result.sources[s]["status"] for s in urls} == {"unavailable"}
    assert result.sources["pnl"]["status"] == "ok"
    assert "no answer within 1.5s" in result.sources["cash_flow"]["reason"]
    assert elapsed < 2.7  # each hung source is asked once; the sum would be >= 3 s
