"""Aggregator settings: defaults -> config.json -> FINSYNC_* env -> overrides."""

import json
import os
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from aggregator.settings_check import (
    PathLabels,
    check_company_ids,
    check_non_negative_int,
    check_positive,
    check_rate_limit,
    check_settings_dict,
    check_source,
    check_tolerance,
    fail,
)
from data_sources.errors import ConfigError
from data_sources.statements import STATEMENTS

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_DIR / "config.json"
DEFAULTS = {
    "company_ids": [],
    "schema_mapping": {},
    "sources": {},
    "registry": None,
    "canonical_fields": {},
    "discrepancy_tolerance": 0.005,
    "output_dir": "output",
    "frontend_dir": str(REPO_DIR / "frontend"),
    "max_workers": 8,
    "source_concurrency": 2,
    "cache_size": 128,
    "cache_ttl": 300.0,
    "rate_limit": "120 per minute",
    "page_size": 50000,
    "partial_rows_per_query": 100000,
    "connect_timeout": 2.0,
    "read_timeout": 10.0,
}
#: Environment variable -> (settings key, parser). Source URLs are added per source.
ENV_KEYS = {
    "FINSYNC_OUTPUT_DIR": ("output_dir", str),
    "FINSYNC_FRONTEND_DIR": ("frontend_dir", str),
    "FINSYNC_REGISTRY": ("registry", str),
    "FINSYNC_AGG_RATE_LIMIT": ("rate_limit", str),
    "FINSYNC_MAX_WORKERS": ("max_workers", int),
    "FINSYNC_SOURCE_CONCURRENCY": ("source_concurrency", int),
    "FINSYNC_SOURCE_TIMEOUT": ("read_timeout", float),
    "FINSYNC_CONNECT_TIMEOUT": ("connect_timeout", float),
    "FINSYNC_AGG_CACHE_SIZE": ("cache_size", int),
    "FINSYNC_AGG_CACHE_TTL": ("cache_ttl", float),
    "FINSYNC_AGG_PAGE_SIZE": ("page_size", int),
    "FINSYNC_PARTIAL_ROWS_PER_QUERY": ("partial_rows_per_query", int),
    "FINSYNC_DISCREPANCY_TOLERANCE": ("discrepancy_tolerance", float),
}
_NUMERIC_DECLARED = re.compile(r"INT|REAL|FLOA|DOUB|NUM|DEC", re.IGNORECASE)


@dataclass(frozen=True)
class FieldSpec:
    """A canonical field: its type, description and the sources that map it."""

    name: str
    type: str
    description: str
    sources: tuple


@dataclass(frozen=True)
class SourceConfig:
    """One statement source as the aggregator sees it (columns named by config)."""

    name: str
    url: str
    table: str
    company_column: str
    period_column: str
    period_format: str
    unit_scale: float
    mapping: dict
    column_types: dict
    text_amounts: bool
    connect_timeout: float
    read_timeout: float
    token: str | None = field(default=None, repr=False)

    @property
    def field_columns(self) -> dict:
        """Return canonical field -> source column, key and period excluded."""
        skip = {self.company_column, self.period_column}
        return {canon: col for col, canon in self.mapping.items() if col not in skip}

    def is_sql_numeric(self, column: str) -> bool:
        """True when ``column`` holds numbers SQL can compare and sum."""
        return self.column_types[column] == "numeric" and not self.text_amounts


@dataclass(frozen=True)
class AggregatorSettings:
    """Everything the aggregator needs, validated once at start-up."""

    sources: dict
    company_ids: tuple
    registry_path: Path | None
    canonical_fields: dict
    output_dir: Path
    frontend_dir: Path
    max_workers: int
    source_concurrency: int
    cache_size: int
    cache_ttl: float
    rate_limit: str
    page_size: int
    partial_rows_per_query: int
    discrepancy_tolerance: float
    config_path: Path | None
    secret_key: str | None = field(default=None, repr=False)

    def field_sources(self, name: str) -> tuple:
        """Return the sources that map canonical field ``name``."""
        return self.canonical_fields[name].sources


def load_settings(path=None, env=None, overrides=None) -> AggregatorSettings:
    """Load, layer and validate the settings; raise ConfigError naming the problem."""
    env = dict(os.environ if env is None else env)
    config_path = Path(path or env.get("FINSYNC_CONFIG") or DEFAULT_CONFIG_PATH)
    labels = PathLabels()
    raw = labels.merge({}, DEFAULTS, "defaults")
    file_data = _read_config(config_path)
    raw = labels.merge(raw, _resolve_paths(file_data, config_path.parent), config_path)
    raw = labels.merge(raw, _env_layer(env, raw, labels), "environment")
    raw = labels.merge(raw, dict(overrides or {}), "overrides")
    return _build(raw, labels, config_path, env)


def _read_config(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a JSON object")
    check_settings_dict(data, path, DEFAULTS)
    return data


def _resolve_paths(data: dict, base: Path) -> dict:
    """Make the file's relative paths relative to the config file's folder."""
    out = dict(data)
    for key in ("registry", "output_dir", "frontend_dir"):
        if isinstance(out.get(key), str):
            out[key] = str(base / out[key])
    return out


def _env_layer(env: dict, raw: dict, labels: PathLabels) -> dict:
    layer = {}
    for var, (key, parse) in ENV_KEYS.items():
        if env.get(var):
            layer[key] = _parse_env(var, env[var], parse)
            labels.name((key,), f"environment variable {var}")
    for slug in raw.get("schema_mapping") or {}:
        var = f"FINSYNC_{str(slug).upper()}_URL"
        if env.get(var):
            layer.setdefault("sources", {}).setdefault(slug, {})["url"] = env[var]
            labels.name(("sources", slug, "url"), f"environment variable {var}")
    return layer


def _parse_env(var: str, value: str, parse):
    try:
        return parse(value)
    except ValueError:
        raise ConfigError(f"environment variable {var}: {value!r} is not valid")


def _build(raw: dict, labels, config_path: Path, env: dict) -> AggregatorSettings:
    mapping = raw["schema_mapping"]
    if not isinstance(mapping, dict) or not mapping:
        fail(labels, ("schema_mapping",), "must map at least one source")
    extra = set(raw["sources"]) - set(mapping)
    if extra:
        fail(labels, ("sources", sorted(extra)[0]), "source has no schema_mapping")
    declared = raw["canonical_fields"]
    sources = {
        slug: _build_source(slug, raw, labels, declared, env) for slug in mapping
    }
    return AggregatorSettings(
        sources=sources,
        company_ids=check_company_ids(raw, labels),
        registry_path=_registry_path(raw, labels),
        canonical_fields=_canonical_fields(sources, declared, labels),
        output_dir=Path(raw["output_dir"]),
        frontend_dir=Path(raw["frontend_dir"]),
        max_workers=int(check_positive(raw, labels, "max_workers", integer=True)),
        source_concurrency=int(
            check_positive(raw, labels, "source_concurrency", integer=True)
        ),
        cache_size=check_non_negative_int(raw, labels, "cache_size"),
        cache_ttl=float(check_positive(raw, labels, "cache_ttl")),
        rate_limit=check_rate_limit(raw, labels),
        page_size=int(check_positive(raw, labels, "page_size", integer=True)),
        partial_rows_per_query=int(
            check_positive(raw, labels, "partial_rows_per_query", integer=True)
        ),
        discrepancy_tolerance=check_tolerance(raw, labels),
        config_path=config_path,
        secret_key=env.get("FINSYNC_SECRET_KEY") or None,
    )


def _build_source(slug, raw, labels, declared, env) -> SourceConfig:
    spec = STATEMENTS.get(slug)
    given = raw["sources"].get(slug) or {}
    if not isinstance(given, dict):
        fail(labels, ("sources", slug), "must be an object")
    if spec is None and not given:
        problem = "unknown source: not in statements.py and no sources entry"
        fail(labels, ("schema_mapping", slug), problem)
    merged = {**(spec.source_settings() if spec else {}), **given}
    for key in ("connect_timeout", "read_timeout"):
        if key not in given or labels.rank((key,)) > labels.rank(
            ("sources", slug, key)
        ):
            merged[key] = raw[key]
    parts = check_source(slug, merged, raw["schema_mapping"][slug], labels, declared)
    if "text_amounts" not in given and spec is not None:
        parts["text_amounts"] = _declared_text_amounts(spec, parts)
    token = env.get(f"FINSYNC_{slug.upper()}_TOKEN") or None
    return SourceConfig(name=slug, token=token, **parts)


def _declared_text_amounts(spec, parts: dict) -> bool:
    """True when the native schema stores a numeric mapped column as TEXT."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(spec.schema_path.read_text(encoding="utf-8"))
        info = connection.execute(f"PRAGMA table_info({spec.table})").fetchall()
    finally:
        connection.close()
    declared = {row[1]: row[2] for row in info}
    numeric = [c for c, kind in parts["column_types"].items() if kind == "numeric"]
    return any(
        c in declared and not _NUMERIC_DECLARED.search(declared[c]) for c in numeric
    )


def _registry_path(raw: dict, labels) -> Path | None:
    value = raw["registry"]
    if value is None:
        return None
    if not isinstance(value, str) or not Path(value).is_file():
        fail(labels, ("registry",), "names no readable registry file")
    return Path(value)


def _canonical_fields(sources: dict, declared: dict, labels) -> dict:
    holders = {}
    for slug, source in sources.items():
        for canon, column in source.field_columns.items():
            holders.setdefault(canon, []).append((slug, source.column_types[column]))
    unmapped = set(declared) - set(holders) - {"company_id", "period_end"}
    if unmapped:
        key = ("canonical_fields", sorted(unmapped)[0])
        fail(labels, key, "field is not mapped by any source")
    return {name: _field_spec(name, pairs, declared) for name, pairs in holders.items()}


def _field_spec(name: str, pairs: list, declared: dict) -> FieldSpec:
    entry = declared.get(name) or {}
    kind = entry.get("type") or pairs[0][1]
    slugs = tuple(slug for slug, _ in pairs)
    return FieldSpec(name, kind, str(entry.get("description") or ""), slugs)
