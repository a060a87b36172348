"""Every client mistake gets the one error envelope, with a message that helps."""

import pytest
import requests

LIMIT_MESSAGE = "limit must be an integer between 1 and 50000"
CURSOR_MESSAGE = "cursor is not valid: use the `next` link of the previous page"
SQL = "SELECT * FROM income_statement"


def _get(base, path, **params):
    return requests.get(f"{base}{path}", params=params, timeout=10)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", "50001", ""])
@pytest.mark.parametrize("path", ["/data", "/query"])
def test_bad_limit_is_400(tiny_sources, assert_error, path, limit):
    response = _get(tiny_sources["pnl"], path, q=SQL, limit=limit)
    assert_error(response, 400, "bad_request", LIMIT_MESSAGE, {"parameter": "limit"})


@pytest.mark.parametrize("cursor", ["garbage", "e30", "WzEsMl0", "!!!", "eyJrIjoxfQ"])
@pytest.mark.parametrize("path", ["/data", "/query"])
def test_bad_cursor_is_400(tiny_sources, assert_error, path, cursor):
    response = _get(tiny_sources["pnl"], path, q=SQL, cursor=cursor)
    assert_error(response, 400, "bad_request", CURSOR_MESSAGE, {"parameter": "cursor"})


def test_cursor_of_another_query_is_400(tiny_sources, assert_error):
    base = tiny_sources["pnl"]
    first = _get(base, "/query", q=SQL, limit=2).json()
    cursor = first["next"].split("cursor=")[1]
    response = _get(base, "/query", q=SQL + " WHERE 1", cursor=cursor)
    message = "cursor belongs to a different query or parameters"
    assert_error(response, 400, "bad_request", message, {"parameter": "cursor"})


def test_cursor_with_other_parameter_values_is_400(tiny_sources, assert_error):
    base = tiny_sources["pnl"]
    sql = "SELECT * FROM income_statement WHERE company_id >= :c"
    first = _get(base, "/query", q=sql, c="A", limit=2).json()
    cursor = first["next"].split("cursor=")[1]
    response = _get(base, "/query", q=sql, c="B", cursor=cursor)
    message = "cursor belongs to a different query or parameters"
    assert_error(response, 400, "bad_request", message, {"parameter": "cursor"})


@pytest.mark.parametrize("fmt", ["xml", "JSON", ""])
def test_unknown_format_is_400(tiny_sources, assert_error, fmt):
    response = _get(tiny_sources["pnl"], "/data", format=fmt)
    message = "format must be one of json, csv, arrow"
    assert_error(response, 400, "bad_request", message, {"parameter": "format"})


def test_query_without_q_is_400(tiny_sources, assert_error):
    response = _get(tiny_sources["pnl"], "/query")
    message = "missing q: pass one SELECT statement as ?q=..."
    assert_error(response, 400, "bad_request", message, {"parameter": "q"})


def test_empty_q_is_invalid_query(tiny_sources, assert_error):
    response = _get(tiny_sources["pnl"], "/query", q="  ")
    message = "q is empty: send one SELECT statement"
    assert_error(response, 400, "invalid_query", message)


def test_missing_named_parameter_is_400_naming_it(tiny_sources, assert_error):
    sql = "SELECT * FROM income_statement WHERE company_id = :company AND 1 = :one"
    response = _get(tiny_sources["pnl"], "/query", q=sql, one="1")
    message = "missing value for parameter :company: add &company=... to the URL"
    assert_error(response, 400, "bad_request", message, {"missing": ["company"]})


def test_reserved_parameter_name_is_invalid_query(tiny_sources, assert_error):
    sql = "SELECT * FROM income_statement LIMIT :limit"
    response = _get(tiny_sources["pnl"], "/query", q=sql)
    message = "parameter name :limit is reserved; choose another"
    assert_error(response, 400, "invalid_query", message)


def test_sqlite_message_about_the_callers_sql_passes(tiny_sources, assert_error):
    response = _get(
        tiny_sources["pnl"], "/query", q="SELECT nope FROM income_statement"
    )
    assert_error(response, 400, "invalid_query", "query failed: no such column: nope")


def test_too_long_query_is_refused(tiny_sources, assert_error):
    sql = "SELECT 1" + " " * 20000
    response = _get(tiny_sources["pnl"], "/query", q=sql)
    message = "query is longer than 20000 characters"
    assert_error(response, 400, "invalid_query", message)


def test_unknown_path_is_404_envelope(tiny_sources):
    response = requests.get(f"{tiny_sources['pnl']}/nope", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_is_405_envelope(tiny_sources):
    response = requests.post(f"{tiny_sources['pnl']}/query", timeout=10)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_request_id_from_the_client_is_echoed(tiny_sources):
    headers = {"X-Request-ID": "abc-123"}
    response = requests.get(f"{tiny_sources['pnl']}/nope", headers=headers, timeout=10)
    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.json()["error"]["request_id"] == "abc-123"
