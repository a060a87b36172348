"""/query paging pushed into SQL: every row exactly once, the user's SQL intact."""

import sqlite3
from collections import Counter
from contextlib import closing

import pytest
import requests

from data_sources.db import page_sql

# About 4,000 rows from the ~400-row sample table; only (a.rowid, b.rowid) pairs.
PAIRS = (
    "SELECT a.rowid AS r1, b.rowid AS r2, a.revenue FROM income_statement a "
    "CROSS JOIN income_statement b WHERE b.rowid <= 10"
)

# Ordered by the primary key: SQLite needs no sort, so LIMIT/OFFSET go into the SQL.
INDEXED = (
    "SELECT a.company_id, a.period_end, b.rowid FROM income_statement a "
    "CROSS JOIN income_statement b WHERE b.rowid <= 10 "
    "ORDER BY a.company_id, a.period_end"
)


def _direct(path, sql):
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def _pages(url, params, max_pages=500):
    """Return every page's JSON body, following `next` links (bounded)."""
    pages = [requests.get(f"{url}/query", params=params, timeout=30).json()]
    while pages[-1]["next"] and len(pages) < max_pages:
        pages.append(requests.get(pages[-1]["next"], timeout=30).json())
    assert not pages[-1]["next"], "too many pages"
    return pages


def _rows(pages):
    return [tuple(row) for page in pages for row in page["rows"]]


@pytest.mark.parametrize(
    ("sql", "ordered"),
    [
        (f"{PAIRS} ORDER BY r2 DESC, r1", True),
        (f"{PAIRS} ORDER BY r2", False),  # ties: still no row repeated or dropped
        (f"{PAIRS} ORDER BY r1, r2 LIMIT 2500", True),
        (f"{PAIRS} ORDER BY r1 DESC, r2 LIMIT 2500 OFFSET 7", True),
        (f"SELECT * FROM ({PAIRS} ORDER BY r1 LIMIT 3000) ORDER BY r2, r1 DESC", True),
        (f"{PAIRS} UNION ALL SELECT rowid, 0, revenue FROM income_statement", False),
        (INDEXED, False),  # ordered by the index, no sort: ties in scan order
    ],
)
def test_large_query_pages_hold_every_row_exactly_once(
    live_sources, sample_dbs, sql, ordered
):
    expected = _direct(sample_dbs["pnl"], sql)
    pages = _pages(live_sources["pnl"], {"q": sql, "limit": "97"})
    rows = _rows(pages)
    assert len(expected) >= 2500
    assert all(len(page["rows"]) == 97 for page in pages[:-1])
    assert Counter(rows) == Counter(expected)
    if ordered:
        assert rows == expected


def test_indexed_order_comes_back_in_order(live_sources, sample_dbs):
    pages = _pages(live_sources["pnl"], {"q": INDEXED, "limit": "89"})
    keys = [row[:2] for row in _rows(pages)]
    assert keys == sorted(keys) and len(keys) >= 2500


def test_user_limit_below_the_page_size_is_honoured(live_sources):
    sql = f"{PAIRS} ORDER BY r1 DESC, r2 LIMIT 5"
    body = requests.get(
        f"{live_sources['pnl']}/query", params={"q": sql, "limit": "50"}, timeout=30
    ).json()
    assert len(body["rows"]) == 5 and body["next"] is None


def test_compound_select_with_its_own_order_and_limit(live_sources, sample_dbs):
    sql = (
        "SELECT company_id FROM income_statement UNION "
        "SELECT upper(company_id) FROM income_statement ORDER BY 1 DESC LIMIT 30"
    )
    pages = _pages(live_sources["pnl"], {"q": sql, "limit": "7"})
    assert _rows(pages) == _direct(sample_dbs["pnl"], sql)
    assert len(pages) == 5


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT company_id FROM income_statement ORDER BY 1 LIMIT 3;",
        "SELECT company_id FROM income_statement ORDER BY 1 LIMIT 3 ;\n ",
        "SELECT company_id FROM income_statement ORDER BY 1 LIMIT 3 -- limit (",
        "SELECT company_id FROM income_statement /* ) limit */ ORDER BY 1 LIMIT 3",
    ],
)
def test_trailing_semicolons_and_comments_are_fine(live_sources, sql):
    body = requests.get(
        f"{live_sources['pnl']}/query", params={"q": sql, "limit": "2"}, timeout=30
    ).json()
    assert len(body["rows"]) == 2 and body["next"]
    rest = requests.get(body["next"], timeout=30).json()
    assert len(rest["rows"]) == 1 and rest["next"] is None


def test_repeated_column_names_survive_a_user_limit(live_sources):
    sql = "SELECT company_id, company_id, 1 AS x FROM income_statement LIMIT 2"
    body = requests.get(
        f"{live_sources['pnl']}/query", params={"q": sql}, timeout=30
    ).json()
    assert body["columns"] == ["company_id", "company_id", "x"]


def test_wrapper_parameter_names_are_reserved(live_sources, assert_error):
    sql = "SELECT * FROM income_statement WHERE company_id = :__finsync_limit"
    response = requests.get(
        f"{live_sources['pnl']}/query",
        params={"q": sql, "__finsync_limit": "x"},
        timeout=30,
    )
    message = "parameter names starting with __finsync_ are reserved"
    assert_error(response, 400, "invalid_query", message)


@pytest.mark.parametrize(
    ("sql", "wrapped"),
    [
        ("SELECT 1", False),
        ("SELECT 'limit' AS \"limit\", [limit] FROM t", False),
        ("WITH c AS (SELECT 1 LIMIT 1) SELECT * FROM c", False),
        ("SELECT 1 UNION SELECT 2 ORDER BY 1 LIMIT 1", True),
        ("select 1 limit 1;;  -- x", True),
    ],
)
def test_page_sql_wraps_only_queries_with_a_top_level_limit(sql, wrapped):
    paged, is_wrapped = page_sql(sql)
    assert is_wrapped is wrapped
    assert paged.endswith("LIMIT :__finsync_limit OFFSET :__finsync_offset")
    assert "--" not in paged and not paged.rstrip().endswith(";")
