"""The aggregator HTTP API over real HTTP, against the three live sample sources."""

import http.client
import io
import json
import logging
import re
from urllib.parse import urlsplit

import pandas as pd
import pytest
import requests
from openapi_spec_validator import validate

RUN_ID = re.compile(r"^[0-9a-f]{12}$")
QUERY = {"companies": ["ACME0001", "NORT0002"], "fields": ["revenue", "net_income"]}
RESULT_KEYS = {
    "run_id", "created_at", "complete", "group_by", "fields", "columns", "rows",
    "row_count", "downloads", "plan", "sources", "corrections", "rejections",
    "type_mismatches", "discrepancies", "warnings",
}  # fmt: skip


@pytest.fixture
def agg_url(make_agg_app, serve_wsgi):
    """Base URL of an aggregator on the live sample sources."""
    return serve_wsgi(make_agg_app())[0]


def post(url: str, body=None, **kwargs) -> requests.Response:
    """POST ``body`` as JSON to the aggregate endpoint."""
    return requests.post(f"{url}/api/aggregate", json=body, timeout=60, **kwargs)


def raw_get(url: str, path: str):
    """GET ``path`` exactly as written (no client-side dot-segment clean-up)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_aggregate_returns_rows_report_and_downloads(agg_url, make_settings):
    response = post(agg_url, QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert RESULT_KEYS <= set(body) and RUN_ID.match(body["run_id"])
    assert body["complete"] is True and body["row_count"] == 2
    assert [row["company_id"] for row in body["rows"]] == ["ACME0001", "NORT0002"]
    assert {s["status"] for s in body["sources"].values()} == {"ok"}
    run = f"/api/runs/{body['run_id']}/download"
    assert body["downloads"] == {
        "csv": f"{run}?format=csv",
        "rejected": f"{run}?format=rejected",
        "manifest": f"{run}?format=manifest",
    }
    csv = requests.get(agg_url + body["downloads"]["csv"], timeout=30)
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert csv.headers["Content-Disposition"] == (
        f"attachment; filename=aggregated_results_"
        f"{body['created_at'][:10].replace('-', '')}_"
        f"{body['created_at'][11:19].replace(':', '')}_{body['run_id']}.csv"
    )
    frame = pd.read_csv(io.StringIO(csv.text))
    assert frame.columns.tolist() == body["columns"]
    manifest = requests.get(agg_url + body["downloads"]["manifest"], timeout=30)
    assert manifest.json()["run_id"] == body["run_id"]
    rejected = requests.get(agg_url + body["downloads"]["rejected"], timeout=30)
    assert len(pd.read_csv(io.StringIO(rejected.text))) == body["rejected_row_count"]


def test_aggregate_writes_parquet_and_json_on_request(agg_url):
    body = post(agg_url, {**QUERY, "formats": ["parquet", "json"]}).json()
    parquet = requests.get(agg_url + body["downloads"]["parquet"], timeout=30)
    assert parquet.headers["Content-Type"] == "application/vnd.apache.parquet"
    frame = pd.read_parquet(io.BytesIO(parquet.content))
    assert frame["company_id"].tolist() == ["ACME0001", "NORT0002"]
    exported = requests.get(agg_url + body["downloads"]["json"], timeout=30).json()
    assert exported["rows"] == body["rows"]


def test_explain_returns_the_plan_without_running(agg_url, make_settings):
    response = post(agg_url, {**QUERY, "explain": True})
    assert response.status_code == 200
    assert set(response.json()) == {"plan"}
    assert requests.get(f"{agg_url}/api/runs", timeout=30).json() == {"runs": []}


def test_a_down_source_gives_a_partial_result(make_agg_app, serve_wsgi, closed_url):
    url, _ = serve_wsgi(make_agg_app(urls={"cash_flow": closed_url}))
    body = post(url, QUERY).json()
    assert body["complete"] is False
    assert body["sources"]["cash_flow"]["status"] == "unavailable"
    assert body["sources"]["cash_flow"]["reason"] == "connection refused"
    assert body["sources"]["pnl"]["status"] == "ok"
    assert body["rows"][0]["revenue"] is not None


def test_require_all_sources_turns_a_down_source_into_503(
    make_agg_app, serve_wsgi, closed_url, assert_error
):
    url, _ = serve_wsgi(make_agg_app(urls={"cash_flow": closed_url}))
    response = post(url, {**QUERY, "require_all_sources": True})
    error = assert_error(
        response,
        503,
        "sources_unavailable",
        "required sources did not answer",
        {
            "sources": {
                "cash_flow": {"status": "unavailable", "reason": "connection refused"}
            }
        },
    )
    assert error["request_id"]


def test_no_source_answering_is_503(make_agg_app, serve_wsgi, closed_url, assert_error):
    down = {slug: closed_url for slug in ("pnl", "balance_sheet", "cash_flow")}
    url, _ = serve_wsgi(make_agg_app(urls=down))
    response = post(url, QUERY)
    reason = {"status": "unavailable", "reason": "connection refused"}
    details = {"sources": {"pnl": reason, "cash_flow": reason}}
    assert_error(
        response, 503, "sources_unavailable", "no data source answered", details
    )


@pytest.mark.parametrize(
    "body, field, problem",
    [
        ({"nonsense": 1}, "nonsense", "unknown key"),
        ({"fields": ["ebitda"]}, "fields[0]", "unknown field 'ebitda'"),
        ({"group_by": "year"}, "group_by", "must be one of company, company_period"),
        ([1, 2], "body", "must be a JSON object"),
    ],
)
def test_invalid_queries_are_400(agg_url, assert_error, body, field, problem):
    message = f"{field}: {problem}"
    assert_error(post(agg_url, body), 400, "bad_request", message, {"field": field})


def test_an_unknown_company_is_400_with_suggestions(agg_url, assert_error):
    response = post(agg_url, {"companies": ["ACME0009"]})
    error = assert_error(
        response,
        400,
        "unknown_company",
        "unknown company 'ACME0009'",
        response.json()["error"].get("details"),
    )
    assert error["details"]["company"] == "ACME0009"
    assert isinstance(error["details"]["suggestions"], list)


def test_a_body_that_is_not_json_is_400(agg_url, assert_error):
    response = requests.post(
        f"{agg_url}/api/aggregate", data="companies=ACME0001", timeout=30
    )
    message = "body: send JSON with Content-Type: application/json"
    assert_error(response, 400, "bad_request", message, {"field": "body"})
    bad_json = requests.post(
        f"{agg_url}/api/aggregate",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert_error(
        bad_json, 400, "bad_request", "body: not valid JSON", {"field": "body"}
    )


def test_a_body_too_large_is_413(make_agg_app, serve_wsgi, assert_error):
    url, _ = serve_wsgi(make_agg_app(config={"MAX_CONTENT_LENGTH": 1000}))
    response = post(url, {"companies": ["ACME0001"] * 200})
    assert_error(response, 413, "payload_too_large", "body: at most 1000 bytes")


def test_runs_are_listed_and_read_back(agg_url):
    first = post(agg_url, QUERY).json()
    second = post(agg_url, {**QUERY, "group_by": "company_period"}).json()
    listed = requests.get(f"{agg_url}/api/runs", timeout=30).json()["runs"]
    assert {run["run_id"] for run in listed} == {first["run_id"], second["run_id"]}
    summary_keys = {"run_id", "created_at", "row_count", "complete", "query"}
    assert set(listed[0]) == summary_keys | {"downloads"}
    by_id = {run["run_id"]: run for run in listed}
    assert by_id[first["run_id"]]["downloads"] == first["downloads"]
    assert by_id[second["run_id"]]["downloads"] == second["downloads"]
    manifest = requests.get(f"{agg_url}/api/runs/{first['run_id']}", timeout=30).json()
    assert manifest["run_id"] == first["run_id"]
    assert manifest["downloads"] == first["downloads"]
    assert set(manifest["files"]) == {"csv", "rejected"}
    assert manifest["sources"] == first["sources"]


def test_runs_list_offers_exactly_the_files_each_run_wrote(agg_url):
    body = post(agg_url, {**QUERY, "formats": ["parquet", "json"]}).json()
    (listed,) = requests.get(f"{agg_url}/api/runs", timeout=30).json()["runs"]
    run = f"/api/runs/{body['run_id']}/download"
    kinds = ["csv", "parquet", "json", "rejected", "manifest"]
    assert listed["downloads"] == {kind: f"{run}?format={kind}" for kind in kinds}
    assert list(listed["downloads"]) == kinds
    for kind, url in listed["downloads"].items():
        assert requests.get(f"{agg_url}{url}", timeout=30).status_code == 200, kind


def test_runs_limit_is_validated(agg_url, assert_error):
    response = requests.get(f"{agg_url}/api/runs?limit=0", timeout=30)
    message = "limit: must be an integer from 1 to 500"
    assert_error(response, 400, "bad_request", message, {"field": "limit"})


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/../download?format=csv",
        "/api/runs/%2e%2e/download?format=csv",
        "/api/runs/%2E%2E%2F%2E%2E%2Fconfig/download?format=csv",
        "/api/runs/..%2f..%2fetc%2fpasswd/download",
        "/api/runs/0123456789ab/download?format=csv",
        "/api/runs/ABCDEF123456",
    ],
)
def test_download_path_traversal_is_refused(agg_url, path):
    status, headers, raw = raw_get(agg_url, path)
    body = json.loads(raw)
    assert status == 404
    assert set(body) == {"error"} and body["error"]["code"] == "not_found"
    assert body["error"]["request_id"] == headers["X-Request-ID"]
    assert b"root:" not in raw and b"schema_mapping" not in raw


@pytest.mark.parametrize("fmt", ["../../config.json", "/etc/passwd", "xlsx"])
def test_download_formats_outside_the_allow_list_are_400(agg_url, assert_error, fmt):
    run_id = post(agg_url, QUERY).json()["run_id"]
    response = requests.get(
        f"{agg_url}/api/runs/{run_id}/download", params={"format": fmt}, timeout=30
    )
    message = "format must be one of: csv, parquet, json, rejected, manifest"
    assert_error(response, 400, "bad_request", message)


def test_sources_reports_each_source(agg_url, live_sources):
    sources = requests.get(f"{agg_url}/api/sources", timeout=30).json()["sources"]
    assert [s["name"] for s in sources] == list(live_sources)
    for entry in sources:
        assert entry["status"] == "up" and entry["url"] == live_sources[entry["name"]]
        assert entry["rows"] > 0 and entry["data_version"]
        assert entry["latency_ms"] >= 0


def test_companies_search_and_its_validation(agg_url, assert_error):
    found = requests.get(f"{agg_url}/api/companies?q=acme", timeout=30).json()
    assert found["companies"][0] == {
        "id": "ACME0001",
        "name": "Acme Robotics Inc",
        "ticker": "ACR",
    }
    limited = requests.get(f"{agg_url}/api/companies?limit=3", timeout=30).json()
    assert len(limited["companies"]) == 3
    bad = requests.get(f"{agg_url}/api/companies?limit=x", timeout=30)
    message = "limit: must be an integer from 1 to 50"
    assert_error(bad, 400, "bad_request", message, {"field": "limit"})
    long = requests.get(f"{agg_url}/api/companies", params={"q": "a" * 101}, timeout=30)
    assert_error(long, 400, "bad_request", "q: at most 100 characters", {"field": "q"})


def test_schema_lists_fields_grouping_and_operators(agg_url):
    body = requests.get(f"{agg_url}/api/schema", timeout=30).json()
    fields = {field["name"]: field for field in body["fields"]}
    assert fields["net_income"]["statements"] == ["pnl", "cash_flow"]
    assert fields["revenue"]["type"] == "numeric"
    assert fields["revenue"]["description"]
    assert fields["currency"]["type"] == "text"
    assert body["group_by"] == ["company", "company_period"]
    assert body["operators"] == ["=", "!=", "<", "<=", ">", ">=", "between", "in"]


def test_openapi_is_a_valid_document_covering_every_endpoint(agg_url):
    document = requests.get(f"{agg_url}/openapi.json", timeout=30).json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/aggregate", "/api/runs", "/api/runs/{run_id}",
        "/api/runs/{run_id}/download", "/api/sources", "/api/companies",
        "/api/schema", "/openapi.json", "/health",
    }  # fmt: skip
    request = document["components"]["schemas"]["AggregateRequest"]
    assert "revenue" in request["properties"]["fields"]["items"]["enum"]
    summary = document["components"]["schemas"]["RunSummary"]
    assert summary["required"] == ["run_id", "downloads"]
    assert summary["properties"]["downloads"]["additionalProperties"] == {
        "type": "string"
    }


def test_health_and_the_dashboard(agg_url):
    assert requests.get(f"{agg_url}/health", timeout=30).json() == {"status": "ok"}
    index = requests.get(f"{agg_url}/", timeout=30)
    assert index.status_code == 200 and "<html" in index.text.lower()
    css = requests.get(f"{agg_url}/styles.css", timeout=30)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


@pytest.mark.parametrize(
    "path", ["/../config.json", "/%2e%2e/config.json", "/..%2fconfig.json", "/nope"]
)
def test_static_files_cannot_escape_the_frontend_folder(agg_url, path):
    status, headers, raw = raw_get(agg_url, path)
    assert status == 404
    assert json.loads(raw)["error"]["code"] == "not_found"
    assert b"schema_mapping" not in raw


def test_unknown_routes_and_methods_get_the_json_envelope(agg_url):
    missing = requests.get(f"{agg_url}/api/nope", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = requests.get(f"{agg_url}/api/aggregate", timeout=30)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_rate_limit_answers_429_with_retry_after(
    make_agg_app, serve_wsgi, assert_error
):
    url, _ = serve_wsgi(make_agg_app(rate_limit="2 per minute"))
    for _ in range(2):
        assert requests.get(f"{url}/api/schema", timeout=30).status_code == 200
    response = requests.get(f"{url}/api/schema", timeout=30)
    assert_error(response, 429, "too_many_requests", "2 per 1 minute")
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert requests.get(f"{url}/health", timeout=30).status_code == 200


def test_each_request_and_each_run_is_logged(agg_url, caplog):
    with caplog.at_level(logging.INFO):
        body = post(agg_url, QUERY).json()
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        "method=POST path=/api/aggregate status=200" in line for line in lines
    ), lines
    run = f"run {body['run_id']} "
    summary = [line for line in lines if line.startswith(run)]
    assert len(summary) == 1
    assert summary[0].startswith(
        f"{run}rows=2 sources_ok={len(body['sources'])} sources_failed=0 "
        f"corrections={len(body['corrections'])} "
        f"rejections={len(body['rejections'])} elapsed_ms="
    )


def test_rate_limiting_can_be_switched_off(make_agg_app, serve_wsgi, caplog):
    limited = make_agg_app(rate_limit="1 per minute")
    assert "limiter" in limited.extensions
    with caplog.at_level(logging.WARNING, logger="aggregator.app"):
        app = make_agg_app(rate_limit="off")
    assert "limiter" not in app.extensions
    assert "rate limiting is disabled" in caplog.text
    url, _ = serve_wsgi(app)
    for _ in range(3):
        assert requests.get(f"{url}/api/schema", timeout=30).status_code == 200
