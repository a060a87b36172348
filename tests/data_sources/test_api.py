"""The statement services' HTTP API on real servers: endpoints, formats, pagination."""

import csv
import io
import sqlite3
from contextlib import closing

import pyarrow as pa
import pytest
import requests

from data_sources.statements import STATEMENTS
from data_sources.validate import schema_columns

ARROW = {"Accept": "application/vnd.apache.arrow.stream"}
SLUGS = sorted(STATEMENTS)


def _db_rows(path, table):
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


def _follow(url, params=None, max_pages=2000):
    """Return every page's JSON body, following `next` links (bounded)."""
    pages = [requests.get(url, params=params, timeout=10).json()]
    while pages[-1]["next"] and len(pages) < max_pages:
        pages.append(requests.get(pages[-1]["next"], timeout=10).json())
    assert not pages[-1]["next"], "too many pages"
    return pages


def _all_rows(pages):
    return [tuple(row) for page in pages for row in page["rows"]]


@pytest.mark.parametrize("slug", SLUGS)
def test_health_reports_statement_rows_and_data_version(tiny_sources, slug):
    response = requests.get(f"{tiny_sources[slug]}/health", timeout=10)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"status", "statement", "rows", "data_version"}
    assert (body["status"], body["statement"], body["rows"]) == ("ok", slug, 12)
    assert isinstance(body["data_version"], str) and body["data_version"]
    assert response.headers["X-Request-ID"]


@pytest.mark.parametrize("slug", SLUGS)
def test_schema_describes_table_and_declared_types(tiny_sources, slug):
    spec = STATEMENTS[slug]
    body = requests.get(f"{tiny_sources[slug]}/schema", timeout=10).json()
    assert body["statement"] == slug
    assert body["table"] == spec.table
    assert body["key_column"] == spec.key_column
    assert body["period_column"] == spec.period_column
    assert body["period_format"] == spec.period_format
    expected = [{"name": c.name, "type": c.type} for c in schema_columns(spec)]
    assert body["columns"] == expected


@pytest.mark.parametrize("limit", [1, 5, 12, 1000])
@pytest.mark.parametrize("slug", SLUGS)
def test_data_pages_hold_every_row_exactly_once(tiny_sources, tiny_dbs, slug, limit):
    pages = _follow(f"{tiny_sources[slug]}/data", {"limit": limit})
    rows = _all_rows(pages)
    expected = _db_rows(tiny_dbs[slug], STATEMENTS[slug].table)
    assert sorted(rows, key=repr) == sorted(expected, key=repr)
    assert len(pages) == max(1, -(-12 // limit))
    assert all(len(page["rows"]) <= limit for page in pages)
    assert len({page["data_version"] for page in pages}) == 1


@pytest.mark.parametrize("limit", [7, 100, 1000])
def test_data_pages_cover_the_sample_data(live_sources, sample_dbs, limit):
    pages = _follow(f"{live_sources['pnl']}/data", {"limit": limit})
    rows = _all_rows(pages)
    assert (
        len(rows)
        == len(set(rows))
        == len(_db_rows(sample_dbs["pnl"], "income_statement"))
    )


@pytest.mark.parametrize("limit", [1, 4, 11, 12, 50])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM income_statement",
        "SELECT company_id, period_end, revenue FROM income_statement ORDER BY revenue",
    ],
)
def test_query_pages_hold_every_row_exactly_once(tiny_sources, tiny_dbs, sql, limit):
    pages = _follow(f"{tiny_sources['pnl']}/query", {"q": sql, "limit": limit})
    rows = _all_rows(pages)
    with closing(sqlite3.connect(tiny_dbs["pnl"])) as conn:
        expected = conn.execute(sql).fetchall()
    assert rows == expected


def test_query_binds_named_parameters(tiny_sources):
    sql = (
        "SELECT company_id, period_end FROM income_statement "
        "WHERE company_id = :company AND period_end >= :start ORDER BY period_end"
    )
    params = {"q": sql, "company": "ACME0001", "start": "2024-06-30"}
    body = requests.get(
        f"{tiny_sources['pnl']}/query", params=params, timeout=10
    ).json()
    assert body["columns"] == ["company_id", "period_end"]
    assert body["rows"] == [["ACME0001", "2024-06-30"], ["ACME0001", "2024-09-30"]]
    assert body["next"] is None and body["truncated"] is False
    assert body["statement"] == "pnl"


def test_query_ignores_query_string_args_it_does_not_use(tiny_sources):
    params = {"q": "SELECT count(*) AS n FROM income_statement", "unused": "x"}
    body = requests.get(
        f"{tiny_sources['pnl']}/query", params=params, timeout=10
    ).json()
    assert body["rows"] == [[12]]


def test_query_keeps_messy_keys_and_nulls_verbatim(tiny_sources):
    sql = "SELECT ticker_or_id, ending_cash FROM cash_flow_statement ORDER BY 1, 2"
    body = requests.get(
        f"{tiny_sources['cash_flow']}/query", params={"q": sql}, timeout=10
    ).json()
    keys = {row[0] for row in body["rows"]}
    assert {" BOLT0002 ", "CRUX-0003", "acme0001"} <= keys
    assert None in {row[1] for row in body["rows"]}


def _csv_rows(text):
    return list(csv.reader(io.StringIO(text)))


def _as_text(value):
    return "" if value is None else str(value)


@pytest.mark.parametrize("path", ["/data", "/query"])
def test_csv_and_arrow_carry_the_same_page_as_json(tiny_sources, path):
    base = f"{tiny_sources['pnl']}{path}"
    params = {"limit": 5}
    if path == "/query":
        params["q"] = "SELECT * FROM income_statement ORDER BY company_id, period_end"
    page = requests.get(base, params=params, timeout=10).json()
    as_csv = requests.get(base, params={**params, "format": "csv"}, timeout=10)
    as_arrow = requests.get(base, params=params, headers=ARROW, timeout=10)

    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    table = _csv_rows(as_csv.text)
    assert table[0] == page["columns"]
    assert table[1:] == [[_as_text(v) for v in row] for row in page["rows"]]

    assert as_arrow.headers["Content-Type"] == ARROW["Accept"]
    frame = pa.ipc.open_stream(as_arrow.content).read_all()
    assert frame.column_names == page["columns"]
    assert [list(r.values()) for r in frame.to_pylist()] == page["rows"]
    for response in (as_csv, as_arrow):
        assert response.headers["X-Data-Version"] == page["data_version"]
        assert response.headers["X-Next-Page"].split("cursor=")[1] == (
            page["next"].split("cursor=")[1]
        )


def test_arrow_uses_declared_types_on_data(tiny_sources):
    response = requests.get(f"{tiny_sources['pnl']}/data?format=arrow", timeout=10)
    schema = pa.ipc.open_stream(response.content).schema
    assert schema.field("revenue").type == pa.float64()
    assert schema.field("company_id").type == pa.string()
    assert "X-Next-Page" not in response.headers


def test_arrow_falls_back_to_text_for_mixed_columns(tiny_sources):
    sql = "SELECT 1 AS v UNION ALL SELECT 'x' UNION ALL SELECT NULL"
    response = requests.get(
        f"{tiny_sources['pnl']}/query", params={"q": sql}, headers=ARROW, timeout=10
    )
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.column("v").to_pylist() == ["1", "x", None]


def test_blob_values_are_sent_as_hex(tiny_sources):
    params = {"q": "SELECT x'00ff' AS b", "format": "csv"}
    response = requests.get(f"{tiny_sources['pnl']}/query", params=params, timeout=10)
    assert _csv_rows(response.text) == [["b"], ["00ff"]]
    body = requests.get(
        f"{tiny_sources['pnl']}/query", params={"q": "SELECT x'00ff' AS b"}, timeout=10
    ).json()
    assert body["rows"] == [["00ff"]]


def test_endless_recursive_cte_streams_one_capped_page(tiny_sources):
    sql = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT i FROM n"
    )
    params = {"q": sql, "limit": 3}
    body = requests.get(
        f"{tiny_sources['pnl']}/query", params=params, timeout=10
    ).json()
    assert body["rows"] == [[1], [2], [3]]
    second = requests.get(body["next"], timeout=10).json()
    assert second["rows"] == [[4], [5], [6]]
