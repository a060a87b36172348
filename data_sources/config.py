"""Service settings: typed defaults -> JSON file -> FINSYNC_* env -> overrides."""

import json
import os
from pathlib import Path

from flask import Flask
from limits import parse_many

from data_sources.errors import ConfigError
from data_sources.statements import STATEMENTS

ENV_PREFIX = "FINSYNC_"
FILE_ENV = "FINSYNC_SERVICE_CONFIG"
RATE_LIMIT_OFF = "off"

#: A ceiling against runaway clients, per client address and per worker process
#: (memory storage). Well above what one host's benchmark sustains against a worker
#: (a few thousand requests a second), so local load tests never see a 429.
DEFAULT_RATE_LIMIT = "300000 per minute"

#: Every setting with its typed default; the type of the default is the setting's type.
DEFAULTS = {
    "STATEMENT": "",
    "DB_PATH": "",
    "DATA_DIR": "data",
    "QUERY_TIME_LIMIT_MS": 2000,
    "PAGE_SIZE": 1000,
    "MAX_PAGE_SIZE": 50000,
    "MAX_SQL_LENGTH": 20000,
    "SQL_CACHE_SIZE": 512,
    "POOL_SIZE": 16,
    "RATE_LIMIT": DEFAULT_RATE_LIMIT,
    "HOST": "127.0.0.1",
    "PORT": 0,
}
_POSITIVE = (
    "QUERY_TIME_LIMIT_MS",
    "PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_SQL_LENGTH",
    "SQL_CACHE_SIZE",
    "POOL_SIZE",
)
_FLASK_KEYS = frozenset(Flask.default_config)
_SECRET_KEYS = frozenset({"SECRET_KEY"})


def load_settings(statement=None, overrides=None, env=None) -> dict:
    """Return validated settings for one statement service; raise ConfigError early."""
    env = os.environ if env is None else env
    settings = dict(DEFAULTS)
    settings.update(_from_file(env.get(FILE_ENV)))
    settings.update(_from_env(env))
    settings.update(_normalise(overrides or {}, "test_config", allow_flask=True))
    if statement:
        settings["STATEMENT"] = statement
    return _validate(settings)


def server_address(statement=None, env=None):
    """Return (host, port) from FINSYNC_HOST/PORT/STATEMENT; None if no port known."""
    env = os.environ if env is None else env
    slug = statement or env.get(ENV_PREFIX + "STATEMENT", "")
    settings = {"HOST": DEFAULTS["HOST"], "PORT": 0, "STATEMENT": slug}
    settings.update({k: v for k, v in _from_env(env).items() if k in ("HOST", "PORT")})
    if settings["PORT"] == 0 and slug not in STATEMENTS:
        return None
    return settings["HOST"], _resolve_port(settings)


def data_dir(env=None) -> Path:
    """Return the folder holding ``<slug>.db`` files (FINSYNC_DATA_DIR, else data/)."""
    env = os.environ if env is None else env
    return Path(env.get(ENV_PREFIX + "DATA_DIR") or DEFAULTS["DATA_DIR"])


def default_db_path(slug: str, env=None) -> Path:
    """Return FINSYNC_DB_PATH if set, else ``<data dir>/<slug>.db``; need not exist."""
    env = os.environ if env is None else env
    explicit = env.get(ENV_PREFIX + "DB_PATH")
    return Path(explicit) if explicit else data_dir(env) / f"{slug}.db"


def _from_file(path) -> dict:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {FILE_ENV} file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{FILE_ENV} file {path}: expected a JSON object")
    secrets = _SECRET_KEYS & {str(key).upper() for key in data}
    if secrets:
        raise ConfigError(
            f"{path}: {', '.join(secrets)} must come from the environment"
        )
    return _normalise(data, f"{FILE_ENV} file {path}")


def _from_env(env) -> dict:
    found = {}
    for key, default in DEFAULTS.items():
        raw = env.get(ENV_PREFIX + key)
        if raw is not None:
            found[key] = _coerce(raw, type(default), ENV_PREFIX + key)
    return found


def _normalise(mapping, origin, allow_flask=False) -> dict:
    result = {}
    for key, value in mapping.items():
        name = str(key).upper()
        if name in DEFAULTS:
            result[name] = _coerce(value, type(DEFAULTS[name]), f"{origin}: {name}")
        elif allow_flask and name in _FLASK_KEYS:
            result[name] = value
        else:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
    return result


def _coerce(value, kind, where):
    if kind is int and not isinstance(value, bool):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if kind is str and isinstance(value, (str, os.PathLike)):
        return str(value)
    raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")


def _validate(settings: dict) -> dict:
    slug = settings["STATEMENT"]
    if not slug:
        raise ConfigError(
            "no statement given: pass pnl, balance_sheet or cash_flow "
            "(or set FINSYNC_STATEMENT)"
        )
    if slug not in STATEMENTS:
        known = ", ".join(sorted(STATEMENTS))
        raise ConfigError(
            f"unknown statement {slug!r} (FINSYNC_STATEMENT); known: {known}"
        )
    for key in _POSITIVE:
        if settings[key] <= 0:
            raise ConfigError(
                f"{ENV_PREFIX}{key} must be positive, got {settings[key]}"
            )
    if settings["PAGE_SIZE"] > settings["MAX_PAGE_SIZE"]:
        raise ConfigError("FINSYNC_PAGE_SIZE must not exceed FINSYNC_MAX_PAGE_SIZE")
    _check_rate_limit(settings["RATE_LIMIT"])
    settings["PORT"] = _resolve_port(settings)
    settings["DB_PATH"] = str(_resolve_db_path(settings))
    return settings


def _check_rate_limit(value: str) -> None:
    if value.strip().lower() == RATE_LIMIT_OFF:
        return
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"FINSYNC_RATE_LIMIT {value!r} is not a rate like '6000 per minute' "
            f"(or '{RATE_LIMIT_OFF}' to disable)"
        ) from None


def _resolve_port(settings: dict) -> int:
    port = settings["PORT"]
    if port == 0 and settings["STATEMENT"] in STATEMENTS:
        port = STATEMENTS[settings["STATEMENT"]].default_port
    if not 0 < port < 65536:
        raise ConfigError(f"FINSYNC_PORT must be between 1 and 65535, got {port}")
    return port


def _resolve_db_path(settings: dict) -> Path:
    slug = settings["STATEMENT"]
    path = Path(settings["DB_PATH"] or Path(settings["DATA_DIR"]) / f"{slug}.db")
    if not path.is_file():
        raise ConfigError(
            f"database for {slug!r} not found at {path}: run "
            "`python -m data_sources.init_db` or set FINSYNC_DB_PATH / FINSYNC_DATA_DIR"
        )
    return path.resolve()
