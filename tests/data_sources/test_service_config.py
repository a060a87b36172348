"""Service settings: defaults -> file -> env -> overrides, checked at start-up."""

import json

import pytest

from data_sources.config import (
    DEFAULT_RATE_LIMIT,
    default_db_path,
    load_settings,
    server_address,
)
from data_sources.errors import ConfigError


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / "pnl.db"
    path.write_bytes(b"")
    return path


def test_defaults_apply_when_nothing_is_set(tmp_path, db_file):
    settings = load_settings("pnl", env={"FINSYNC_DATA_DIR": str(tmp_path)})
    assert settings["DB_PATH"] == str(db_file.resolve())
    assert settings["PORT"] == 5001
    assert settings["HOST"] == "127.0.0.1"
    assert settings["QUERY_TIME_LIMIT_MS"] == 2000
    assert settings["PAGE_SIZE"] == 1000
    assert settings["MAX_PAGE_SIZE"] == 50000
    assert settings["RATE_LIMIT"] == DEFAULT_RATE_LIMIT


def test_file_then_env_then_overrides_win_in_that_order(tmp_path, db_file):
    config = tmp_path / "service.json"
    config.write_text(json.dumps({"page_size": 10, "max_page_size": 20, "port": 7000}))
    env = {
        "FINSYNC_SERVICE_CONFIG": str(config),
        "FINSYNC_STATEMENT": "pnl",
        "FINSYNC_DB_PATH": str(db_file),
        "FINSYNC_PAGE_SIZE": "15",
        "FINSYNC_RATE_LIMIT": "5 per second",
    }
    settings = load_settings(env=env, overrides={"page_size": 12})
    assert settings["PAGE_SIZE"] == 12
    assert settings["MAX_PAGE_SIZE"] == 20
    assert settings["PORT"] == 7000
    assert settings["RATE_LIMIT"] == "5 per second"


def test_statement_argument_beats_the_environment(tmp_path):
    (tmp_path / "cash_flow.db").write_bytes(b"")
    env = {"FINSYNC_STATEMENT": "pnl", "FINSYNC_DATA_DIR": str(tmp_path)}
    settings = load_settings("cash_flow", env=env)
    assert (settings["STATEMENT"], settings["PORT"]) == ("cash_flow", 5003)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FINSYNC_STATEMENT": "income"}, "unknown statement 'income'"),
        ({"FINSYNC_PAGE_SIZE": "ten"}, "FINSYNC_PAGE_SIZE: expected an integer"),
        ({"FINSYNC_PAGE_SIZE": "0"}, "FINSYNC_PAGE_SIZE must be positive"),
        ({"FINSYNC_PAGE_SIZE": "60000"}, "must not exceed FINSYNC_MAX_PAGE_SIZE"),
        ({"FINSYNC_RATE_LIMIT": "lots"}, "is not a rate like"),
        ({"FINSYNC_RATE_LIMIT": ""}, "is not a rate like"),
        ({"FINSYNC_PORT": "70000"}, "FINSYNC_PORT must be between 1 and 65535"),
        ({"FINSYNC_SERVICE_CONFIG": "/nonexistent.json"}, "cannot read"),
    ],
)
def test_bad_settings_fail_fast_naming_the_variable(db_file, env, message):
    env = {"FINSYNC_STATEMENT": "pnl", "FINSYNC_DB_PATH": str(db_file), **env}
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_missing_database_is_a_clear_config_error(tmp_path):
    env = {"FINSYNC_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="database for 'pnl' not found at .*init_db"):
        load_settings("pnl", env=env)


def test_unknown_keys_in_file_or_overrides_are_refused(tmp_path, db_file):
    config = tmp_path / "service.json"
    config.write_text(json.dumps({"PAGE_SIZ": 10}))
    env = {"FINSYNC_SERVICE_CONFIG": str(config), "FINSYNC_DB_PATH": str(db_file)}
    with pytest.raises(ConfigError, match="unknown setting 'PAGE_SIZ'"):
        load_settings("pnl", env=env)
    with pytest.raises(ConfigError, match="unknown setting 'limit'"):
        load_settings(
            "pnl", env={"FINSYNC_DB_PATH": str(db_file)}, overrides={"limit": 1}
        )


def test_secrets_in_the_file_are_refused(tmp_path, db_file):
    config = tmp_path / "service.json"
    config.write_text(json.dumps({"SECRET_KEY": "hunter2"}))
    env = {"FINSYNC_SERVICE_CONFIG": str(config), "FINSYNC_DB_PATH": str(db_file)}
    with pytest.raises(ConfigError, match="must come from the environment") as caught:
        load_settings("pnl", env=env)
    assert "hunter2" not in str(caught.value)


def test_rate_limit_can_be_switched_off_explicitly(db_file):
    env = {"FINSYNC_DB_PATH": str(db_file), "FINSYNC_RATE_LIMIT": "off"}
    assert load_settings("pnl", env=env)["RATE_LIMIT"] == "off"


def test_server_address_uses_statement_port_unless_set():
    assert server_address("balance_sheet", env={}) == ("127.0.0.1", 5002)
    env = {"FINSYNC_HOST": "0.0.0.0", "FINSYNC_PORT": "9000"}
    assert server_address("pnl", env=env) == ("0.0.0.0", 9000)
    assert server_address(env={}) is None


def test_default_db_path_prefers_explicit_path(tmp_path):
    assert default_db_path("pnl", env={}).as_posix() == "data/pnl.db"
    env = {"FINSYNC_DATA_DIR": str(tmp_path)}
    assert default_db_path("pnl", env=env) == tmp_path / "pnl.db"
    env["FINSYNC_DB_PATH"] = "/x/y.db"
    assert default_db_path("pnl", env=env).as_posix() == "/x/y.db"
