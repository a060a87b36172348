"""The SQL guard: what passes, what it extracts, and that verdicts are cached."""

import pytest

from data_sources.errors import InvalidQueryError
from data_sources.sql_guard import SqlGuard, check_select

TABLE = "income_statement"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM income_statement",
        "select company_id, sum(revenue) from INCOME_STATEMENT group by 1 order by 2",
        "SELECT * FROM main.income_statement;",
        "WITH q AS (SELECT * FROM income_statement) SELECT * FROM q",
        "SELECT a.company_id FROM income_statement a JOIN income_statement b USING "
        "(company_id, period_end)",
        "SELECT 1 UNION ALL SELECT 2",
        "SELECT ifnull(revenue, 0), iif(revenue > 0, 1, 0), substr(company_id, 1, 4)"
        " FROM income_statement -- trailing comment",
        "SELECT row_number() OVER (ORDER BY revenue) FROM income_statement",
    ],
)
def test_plain_selects_pass(sql):
    assert check_select(sql, TABLE).sql == sql.strip()


def test_named_parameters_are_listed_once_in_order():
    sql = "SELECT * FROM income_statement WHERE company_id = :b AND x = :a OR y = :b"
    assert check_select(sql, TABLE).params == ("b", "a")


def test_cte_names_are_reported_for_the_authorizer():
    sql = "WITH Recent AS (SELECT 1), other AS (SELECT 2) SELECT * FROM recent, other"
    assert check_select(sql, TABLE).ctes == frozenset({"recent", "other"})


def test_parse_errors_name_the_position():
    with pytest.raises(InvalidQueryError, match=r"could not parse SQL: .*line 1"):
        check_select("SELEC 1", TABLE)


def test_verdicts_are_cached_by_text():
    guard = SqlGuard(TABLE, max_length=1000, cache_size=2)
    sql = "SELECT * FROM income_statement"
    assert guard.check(sql) is guard.check(sql)
    for _ in range(2):
        with pytest.raises(InvalidQueryError, match="only SELECT queries"):
            guard.check("DELETE FROM income_statement")


def test_overlong_queries_are_refused_before_parsing():
    guard = SqlGuard(TABLE, max_length=10, cache_size=2)
    with pytest.raises(InvalidQueryError, match="longer than 10 characters"):
        guard.check("SELECT 12345")
