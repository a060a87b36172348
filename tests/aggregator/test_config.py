"""Settings: defaults -> config file -> env -> overrides, and clear ConfigErrors."""

import json
from pathlib import Path

import pytest

from aggregator.config import DEFAULT_CONFIG_PATH, load_settings
from data_sources.errors import ConfigError

BUNDLED = json.loads(DEFAULT_CONFIG_PATH.read_text())
ORIGINAL_FORMAT = {
    "company_ids": BUNDLED["company_ids"],
    "schema_mapping": BUNDLED["schema_mapping"],
}


def write(tmp_path: Path, data, name="config.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_bundled_config_loads_the_three_sources(settings):
    assert list(settings.sources) == ["pnl", "balance_sheet", "cash_flow"]
    assert settings.sources["balance_sheet"].unit_scale == 1000
    assert settings.sources["cash_flow"].text_amounts
    assert settings.registry_path.is_file()
    assert settings.field_sources("net_income") == ("pnl", "cash_flow")
    assert settings.field_sources("cash") == ("balance_sheet", "cash_flow")
    assert settings.canonical_fields["currency"].type == "text"
    assert settings.config_path == DEFAULT_CONFIG_PATH


def test_original_format_alone_infers_sources_from_statements(tmp_path):
    settings = load_settings(write(tmp_path, ORIGINAL_FORMAT), env={})
    urls = [source.url for source in settings.sources.values()]
    assert urls == [f"http://127.0.0.1:{port}" for port in (5001, 5002, 5003)]
    cash_flow, pnl = settings.sources["cash_flow"], settings.sources["pnl"]
    assert (cash_flow.period_format, cash_flow.company_column) == (
        "year_quarter",
        "ticker_or_id",
    )
    assert cash_flow.text_amounts and not pnl.text_amounts  # from schema.sql TEXT
    assert pnl.column_types["currency"] == "text"
    assert pnl.column_types["revenue"] == "numeric"
    assert settings.registry_path is None
    assert settings.company_ids == tuple(BUNDLED["company_ids"])


def test_environment_overrides_the_file_and_overrides_win(tmp_path):
    env = {
        "FINSYNC_CONFIG": str(write(tmp_path, ORIGINAL_FORMAT)),
        "FINSYNC_PNL_URL": "http://127.0.0.1:9001",
        "FINSYNC_CASH_FLOW_URL": "http://127.0.0.1:9003",
        "FINSYNC_OUTPUT_DIR": str(tmp_path / "out"),
        "FINSYNC_MAX_WORKERS": "3",
        "FINSYNC_SOURCE_TIMEOUT": "4.5",
    }
    overrides = {"sources": {"cash_flow": {"url": "http://127.0.0.1:7003"}}}
    settings = load_settings(env=env, overrides=overrides)
    assert settings.sources["pnl"].url == "http://127.0.0.1:9001"
    assert settings.sources["cash_flow"].url == "http://127.0.0.1:7003"
    assert settings.output_dir == tmp_path / "out"
    assert settings.max_workers == 3
    assert {s.read_timeout for s in settings.sources.values()} == {4.5}


def test_partial_rows_per_query_from_defaults_file_and_environment(tmp_path):
    path = write(tmp_path, {**ORIGINAL_FORMAT, "partial_rows_per_query": 500})
    assert load_settings(path, env={}).partial_rows_per_query == 500
    env = {"FINSYNC_PARTIAL_ROWS_PER_QUERY": "2500"}
    assert load_settings(path, env=env).partial_rows_per_query == 2500
    default = load_settings(write(tmp_path, ORIGINAL_FORMAT, "plain.json"), env={})
    assert default.partial_rows_per_query == 100000


def test_per_source_timeout_in_the_file_beats_the_global_default(tmp_path):
    data = {**ORIGINAL_FORMAT, "sources": {"pnl": {"read_timeout": 1.5}}}
    settings = load_settings(write(tmp_path, data), env={})
    assert settings.sources["pnl"].read_timeout == 1.5
    assert settings.sources["balance_sheet"].read_timeout == 10.0


def test_file_paths_are_relative_to_the_config_folder(tmp_path):
    (tmp_path / "reg.json").write_text("[]")
    data = {**ORIGINAL_FORMAT, "registry": "reg.json", "output_dir": "runs"}
    settings = load_settings(write(tmp_path, data), env={})
    assert settings.registry_path == tmp_path / "reg.json"
    assert settings.output_dir == tmp_path / "runs"


def test_secrets_come_from_the_environment_and_stay_out_of_repr(tmp_path):
    env = {"FINSYNC_SECRET_KEY": "s3cret", "FINSYNC_PNL_TOKEN": "tok3n"}
    settings = load_settings(write(tmp_path, ORIGINAL_FORMAT), env=env)
    assert settings.secret_key == "s3cret"
    assert settings.sources["pnl"].token == "tok3n"
    assert "s3cret" not in repr(settings) and "tok3n" not in repr(settings)


def _mapping(**changes) -> dict:
    mapping = json.loads(json.dumps(BUNDLED["schema_mapping"]))
    for source, change in changes.items():
        mapping[source] = change(mapping[source])
    return {**BUNDLED, "registry": None, "schema_mapping": mapping}


def _source(slug, **values) -> dict:
    data = json.loads(json.dumps(BUNDLED))
    data["registry"] = None
    data["sources"][slug].update(values)
    return data


BAD_CONFIGS = {
    "unknown_source": (
        {**ORIGINAL_FORMAT, "schema_mapping": {"ledger": {"a": "company_id"}}},
        "schema_mapping.ledger: unknown source",
    ),
    "mapping_value_not_a_string": (
        _mapping(pnl=lambda m: {**m, "revenue": 5}),
        "schema_mapping.pnl.revenue: canonical field must be a snake_case string",
    ),
    "url_not_http": (
        _source("pnl", url="ftp://127.0.0.1:5001"),
        "sources.pnl.url: must be an http(s) URL with a host",
    ),
    "missing_company_mapping": (
        _mapping(pnl=lambda m: {k: v for k, v in m.items() if v != "company_id"}),
        "schema_mapping.pnl: no column is mapped to 'company_id'",
    ),
    "missing_period_mapping": (
        _mapping(cash_flow=lambda m: {k: v for k, v in m.items() if v != "period_end"}),
        "schema_mapping.cash_flow: no column is mapped to 'period_end'",
    ),
    "unknown_period_format": (
        _source("balance_sheet", period_format="dd.mm.yyyy"),
        "sources.balance_sheet.period_format: unknown format",
    ),
    "non_positive_unit_scale": (
        _source("balance_sheet", unit_scale=0),
        "sources.balance_sheet.unit_scale: must be a positive number",
    ),
    "unknown_column_type": (
        _source("pnl", column_types={"currency": "blob"}),
        "sources.pnl.column_types.currency: type must be one of",
    ),
    "secret_in_file": (
        {**ORIGINAL_FORMAT, "api_token": "abc"},
        "api_token: secrets belong in the environment",
    ),
    "secret_in_source": (
        _source("pnl", password="abc"),
        "sources.pnl.password: secrets belong in the environment",
    ),
    "unknown_setting": (
        {**ORIGINAL_FORMAT, "max_wrokers": 3},
        "max_wrokers: unknown setting",
    ),
    "registry_missing": (
        {**ORIGINAL_FORMAT, "registry": "nowhere.json"},
        "registry: names no readable registry file",
    ),
    "canonical_field_unmapped": (
        {**ORIGINAL_FORMAT, "canonical_fields": {"ebitda": {"type": "numeric"}}},
        "canonical_fields.ebitda: field is not mapped by any source",
    ),
    "tolerance_out_of_range": (
        {**ORIGINAL_FORMAT, "discrepancy_tolerance": 2},
        "discrepancy_tolerance: must be a number in [0, 1)",
    ),
    "partial_rows_not_positive": (
        {**ORIGINAL_FORMAT, "partial_rows_per_query": 0},
        "partial_rows_per_query: must be a positive integer",
    ),
    "partial_rows_not_integer": (
        {**ORIGINAL_FORMAT, "partial_rows_per_query": 2.5},
        "partial_rows_per_query: must be a positive integer",
    ),
    "not_json": ("{not json", "not valid JSON"),
    "not_an_object": ("[1, 2]", "the top level must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_invalid_config_names_file_key_and_problem(tmp_path, case):
    data, problem = BAD_CONFIGS[case]
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_missing_config_file_is_named(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ConfigError, match="absent.json: cannot read config file"):
        load_settings(path, env={})


@pytest.mark.parametrize(
    "env, problem",
    [
        ({"FINSYNC_MAX_WORKERS": "many"}, "environment variable FINSYNC_MAX_WORKERS"),
        (
            {"FINSYNC_PNL_URL": "file:///etc/passwd"},
            "environment variable FINSYNC_PNL_URL: sources.pnl.url: must be an http(s)",
        ),
        (
            {"FINSYNC_MAX_WORKERS": "0"},
            "environment variable FINSYNC_MAX_WORKERS: max_workers: must be a positive",
        ),
        (
            {"FINSYNC_PARTIAL_ROWS_PER_QUERY": "-5"},
            "environment variable FINSYNC_PARTIAL_ROWS_PER_QUERY: "
            "partial_rows_per_query: must be a positive integer",
        ),
    ],
)
def test_invalid_environment_names_the_variable(tmp_path, env, problem):
    with pytest.raises(
        ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")
    ):
        load_settings(write(tmp_path, ORIGINAL_FORMAT), env=env)
