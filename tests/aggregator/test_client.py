"""SourceClient against real statement services: pages, transports, failures."""

import math
import socket
import threading
import sqlite3
import time
from contextlib import closing

import pandas as pd
import pytest

from aggregator.client import SourceClient
from aggregator.errors import SourceUnavailableError, UpstreamError
from data_sources.load import load_rows
from data_sources.statements import STATEMENTS

ROWS_SQL = (
    "SELECT company_id, period_end, revenue, currency FROM income_statement"
    " ORDER BY company_id, period_end"
)


def reference(db_path, sql: str, params=()) -> pd.DataFrame:
    """Read ``sql`` straight from the SQLite file, read-only."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        return pd.read_sql_query(sql, conn, params=params)


def assert_same_rows(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Compare values and column order, ignoring dtype flavours (str vs object)."""
    pd.testing.assert_frame_equal(
        frame.reset_index(drop=True), expected, check_dtype=False
    )


@pytest.fixture
def client_for(make_settings):
    """Factory: client_for(url=None, page_size=..., source={...}) -> a pnl client."""
    clients = []

    def make(url=None, page_size=1000, source=None, slug="pnl", **options):
        urls = {slug: url} if url else None
        settings = make_settings(urls=urls, sources={slug: source or {}})
        client = SourceClient(settings.sources[slug], page_size, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.mark.parametrize("prefer_arrow", [True, False], ids=["arrow", "json"])
def test_run_query_collects_every_row_across_pages(
    client_for, sample_dbs, prefer_arrow
):
    expected = reference(sample_dbs["pnl"], ROWS_SQL)
    client = client_for(page_size=37, prefer_arrow=prefer_arrow)
    result = client.run_query(ROWS_SQL)
    assert result.pages == math.ceil(len(expected) / 37) > 1
    assert_same_rows(result.frame, expected)
    assert result.data_version == client.health()["data_version"]
    assert result.cached is False


def test_run_query_falls_back_to_json_when_the_source_ignores_arrow(
    client_for, source_app, serve_wsgi, sample_dbs, middleware
):

    app = middleware.json_only(source_app("pnl", sample_dbs["pnl"]))
    url, _ = serve_wsgi(app)
    result = client_for(url, page_size=100).run_query(ROWS_SQL)
    assert_same_rows(result.frame, reference(sample_dbs["pnl"], ROWS_SQL))


def test_run_query_binds_named_parameters(client_for, sample_dbs):
    sql = "SELECT company_id, revenue FROM income_statement WHERE company_id = :company"
    result = client_for().run_query(sql, {"company": "ACME0001"})
    expected = reference(sample_dbs["pnl"], sql.replace(":company", "?"), ("ACME0001",))
    assert len(result.frame) == len(expected) > 0
    assert set(result.frame["company_id"]) == {"ACME0001"}


def test_run_query_refuses_parameter_names_the_service_reserves(client_for):
    with pytest.raises(ValueError, match="reserved"):
        client_for().run_query("SELECT 1 FROM income_statement", {"cursor": "x"})


def test_health_and_schema_return_the_service_bodies(client_for):
    client = client_for()
    assert client.health()["statement"] == "pnl"
    schema = client.schema()
    assert schema["table"] == "income_statement"
    assert {"name": "revenue", "type": "REAL"} in schema["columns"]


def test_unreachable_source_is_unavailable(client_for, closed_url):
    with pytest.raises(SourceUnavailableError) as caught:
        client_for(closed_url).run_query(ROWS_SQL)
    assert caught.value.source_status == "unavailable"
    assert caught.value.message == "connection refused"


def test_refused_sql_is_an_error_with_the_service_code(client_for):
    with pytest.raises(UpstreamError) as caught:
        client_for().run_query("SELECT * FROM sqlite_master")
    assert caught.value.source_status == "error"
    assert caught.value.message.startswith("HTTP 400 invalid_query: ")


def test_unexpected_error_bodies_are_not_passed_on(
    client_for, source_app, serve_wsgi, sample_dbs, middleware
):

    failing = middleware.fail_first(source_app("pnl", sample_dbs["pnl"]), 99, 500)
    url, _ = serve_wsgi(failing)
    with pytest.raises(UpstreamError) as caught:
        client_for(url, retries=2, backoff=0.01).run_query(ROWS_SQL)
    assert caught.value.message == "HTTP 500"
    assert failing.calls == 3  # the first try and two bounded retries


def test_5xx_is_retried_with_backoff_then_succeeds(
    client_for, source_app, serve_wsgi, sample_dbs, middleware
):

    failing = middleware.fail_first(source_app("pnl", sample_dbs["pnl"]), 2, 503)
    url, _ = serve_wsgi(failing)
    result = client_for(url, retries=2, backoff=0.01).run_query(ROWS_SQL)
    assert_same_rows(result.frame, reference(sample_dbs["pnl"], ROWS_SQL))
    assert failing.calls == 3


def test_read_timeout_is_honoured(
    client_for, source_app, serve_wsgi, sample_dbs, middleware
):

    delay = 3.0
    url, _ = serve_wsgi(middleware.slow(source_app("pnl", sample_dbs["pnl"]), delay))
    client = client_for(url, source={"read_timeout": 0.3})
    start = time.perf_counter()
    with pytest.raises(SourceUnavailableError) as caught:
        client.run_query(ROWS_SQL)
    assert caught.value.message == "no answer within 0.3s"
    assert time.perf_counter() - start < delay  # gave up before the source answered


def test_page_cap_stops_a_runaway_result(client_for):
    with pytest.raises(UpstreamError) as caught:
        client_for(page_size=10, max_pages=2).run_query(ROWS_SQL)
    assert caught.value.message == "result exceeded 2 pages"


class ChangeAfterFirstPage:
    """WSGI middleware: after the first /query page, load one more row into the DB."""

    def __init__(self, app, db_path, row):
        self.app, self.db_path, self.row, self.done = app, db_path, row, False

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        if environ["PATH_INFO"] == "/query" and not self.done:
            self.done = True
            load_rows(STATEMENTS["pnl"], [self.row], self.db_path)
        return body


def test_pagination_starts_over_when_the_data_changes(
    client_for, source_app, serve_wsgi, fresh_db, caplog
):
    db = fresh_db("pnl")
    before = reference(db, ROWS_SQL)
    row = {**reference(db, "SELECT * FROM income_statement").iloc[0].to_dict()}
    row["company_id"] = "ZZZZ9999"
    url, _ = serve_wsgi(ChangeAfterFirstPage(source_app("pnl", db), db, row))
    with caplog.at_level("INFO", logger="aggregator.client"):
        result = client_for(url, page_size=2).run_query(ROWS_SQL)
    assert "data changed while paging; starting over" in caplog.text
    assert len(result.frame) == len(before) + 1
    assert_same_rows(result.frame, reference(db, ROWS_SQL))


@pytest.mark.parametrize(
    "stall, error, message",
    [
        (0.0, UpstreamError, "source broke off while sending a page"),
        (1.0, SourceUnavailableError, "no answer within 0.3s"),
    ],
    ids=["closed", "stalled"],
)
def test_a_page_cut_short_is_an_error_not_fewer_rows(client_for, stall, error, message):
    """The body stops short of its Content-Length: the connection closes, or the
    source stops sending past the read timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_short():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apache.arrow"
                b".stream\r\nContent-Length: 1000\r\n\r\n" + b"\xff" * 100
            )
            time.sleep(stall)

    server = threading.Thread(target=answer_short, daemon=True)
    server.start()
    client = client_for(f"http://127.0.0.1:{port}", source={"read_timeout": 0.3})
    with pytest.raises(error) as caught:
        client.run_query(ROWS_SQL)
    assert caught.value.message == message
    server.join(timeout=5)
    listener.close()
