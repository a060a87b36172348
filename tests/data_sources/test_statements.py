"""The statement registry agrees with the schema files it points at."""

import sqlite3

import pytest

from data_sources.statements import PERIOD_FORMATS, STATEMENTS, get_statement


@pytest.mark.parametrize("slug", sorted(STATEMENTS))
def test_schema_creates_table_with_key_and_period_columns(slug):
    spec = STATEMENTS[slug]
    conn = sqlite3.connect(":memory:")
    conn.executescript(spec.schema_path.read_text())
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({spec.table})")}
    assert {spec.key_column, spec.period_column} <= columns
    assert spec.period_format in PERIOD_FORMATS


def test_statements_differ_in_key_period_and_port():
    specs = list(STATEMENTS.values())
    for attr in (
        "key_column",
        "period_column",
        "period_format",
        "default_port",
        "table",
    ):
        assert len({getattr(spec, attr) for spec in specs}) == len(specs), attr


def test_get_statement_names_known_slugs_when_unknown():
    with pytest.raises(KeyError, match="balance_sheet, cash_flow, pnl"):
        get_statement("income")
