"""Every statement is wired through everything; every setting is documented.

A new statement is a registry entry, a schema, sample data, a schema map, a compose
service and a Dockerfile: these tests fail until all of them exist and agree.
"""

import json
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from aggregator import launcher
from data_sources.statements import STATEMENTS

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG = json.loads((REPO_ROOT / "config.json").read_text())
CODE_DIRS = ("aggregator", "data_sources", "bench")
_ENV_LITERAL = re.compile(r"FINSYNC_[A-Z0-9_]*[A-Z0-9]")
_ENV_PER_SOURCE = re.compile(r"FINSYNC_\{[^}]*\}_([A-Z0-9_]+)")
SLUGS = sorted(STATEMENTS)
#: FINSYNC_-looking strings that are not settings (a placeholder in bench's --help).
NOT_SETTINGS = {"FINSYNC_X"}


def schema_columns(slug: str) -> dict:
    """Return column -> declared type of the statement's native table."""
    spec = STATEMENTS[slug]
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(spec.schema_path.read_text())
        rows = connection.execute(f"PRAGMA table_info({spec.table})").fetchall()
    finally:
        connection.close()
    return {row[1]: row[2] for row in rows}


@pytest.mark.parametrize("slug", SLUGS)
def test_statement_has_a_schema_defining_its_key_and_period(slug):
    spec = STATEMENTS[slug]
    columns = schema_columns(slug)
    assert {spec.key_column, spec.period_column} <= set(columns)


@pytest.mark.parametrize("slug", SLUGS)
def test_statement_has_sample_data_in_its_native_schema(slug):
    rows = json.loads(STATEMENTS[slug].sample_path.read_text())
    assert isinstance(rows, list) and rows
    seen = set().union(*(set(row) for row in rows))
    assert seen == set(schema_columns(slug))


@pytest.mark.parametrize("slug", SLUGS)
def test_statement_has_a_schema_map_over_real_columns(slug):
    spec = STATEMENTS[slug]
    mapping = CONFIG["schema_mapping"][slug]
    assert set(mapping) <= set(schema_columns(slug))
    assert mapping[spec.key_column] == "company_id"
    assert mapping[spec.period_column] == "period_end"
    assert set(mapping.values()) <= set(CONFIG["canonical_fields"])


@pytest.mark.parametrize("slug", SLUGS)
def test_statement_source_settings_match_the_registry(slug):
    spec = STATEMENTS[slug]
    source = CONFIG["sources"][slug]
    assert source["url"] == f"http://127.0.0.1:{spec.default_port}"
    assert (source["table"], source["company_column"], source["period_column"]) == (
        spec.table,
        spec.key_column,
        spec.period_column,
    )
    assert source["period_format"] == spec.period_format


def test_every_canonical_field_comes_from_some_statement():
    mapped = set().union(*(set(m.values()) for m in CONFIG["schema_mapping"].values()))
    assert set(CONFIG["canonical_fields"]) == mapped
    assert set(CONFIG["schema_mapping"]) == set(STATEMENTS)


@pytest.mark.parametrize("slug", SLUGS)
def test_statement_has_a_compose_service_a_dockerfile_and_a_launcher_entry(slug):
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert slug in compose["services"]
    assert (STATEMENTS[slug].directory / "Dockerfile").is_file()
    assert launcher.SERVICES[slug].default_port == STATEMENTS[slug].default_port


def env_vars_in_code() -> set:
    """Return every FINSYNC_* variable the code reads, per-source ones expanded."""
    found = set()
    for folder in CODE_DIRS:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found.update(_ENV_LITERAL.findall(text))
            for suffix in _ENV_PER_SOURCE.findall(text):
                found.update(f"FINSYNC_{slug.upper()}_{suffix}" for slug in STATEMENTS)
    found.update(f"FINSYNC_{key}" for key in service_setting_keys())
    found.update(spec.port_env for spec in launcher.SERVICES.values())
    return found - NOT_SETTINGS


def service_setting_keys() -> list:
    """Return the statement services' settings, each read from FINSYNC_<KEY>."""
    from data_sources import config

    return list(config.DEFAULTS)


def documented_env_vars(path: Path) -> set:
    """Return the FINSYNC_* names that ``path`` mentions."""
    return set(_ENV_LITERAL.findall(path.read_text(encoding="utf-8")))


def test_every_environment_variable_is_in_env_example_and_readme():
    used = env_vars_in_code()
    assert not used - documented_env_vars(REPO_ROOT / ".env.example")
    assert not used - documented_env_vars(REPO_ROOT / "README.md")


def test_env_example_changes_nothing_until_edited():
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        assert not line.strip() or line.startswith("#"), line


def canonical_schema_table() -> str:
    """Return the README's canonical schema table, generated from config.json."""
    holders = {}
    for slug, mapping in CONFIG["schema_mapping"].items():
        for field in mapping.values():
            holders.setdefault(field, []).append(slug)
    lines = ["| field | type | statement(s) | description |", "|---|---|---|---|"]
    for field, entry in CONFIG["canonical_fields"].items():
        statements = ", ".join(holders.get(field, []))
        lines.append(
            f"| `{field}` | {entry['type']} | {statements} | {entry['description']} |"
        )
    return "\n".join(lines)


def test_readme_canonical_schema_table_matches_config():
    readme = (REPO_ROOT / "README.md").read_text()
    assert canonical_schema_table() in readme, "regenerate the README table"
