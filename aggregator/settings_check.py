"""Pure validation of layered aggregator settings; errors name origin, key, problem."""

import re
from urllib.parse import urlsplit

from data_sources.errors import ConfigError
from data_sources.statements import PERIOD_FORMATS

COLUMN_TYPES = ("numeric", "text", "date")
DEFAULT_FIELD_TYPES = {"currency": "text"}
SOURCE_KEYS = frozenset(
    "url table company_column period_column period_format unit_scale column_types"
    " text_amounts connect_timeout read_timeout".split()
)
SECRET_KEY = re.compile(r"secret|passw|token|api[_-]?key|credential", re.IGNORECASE)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
CANONICAL = re.compile(r"[a-z][a-z0-9_]{0,62}")
LAYER_RANKS = {"defaults": 0, "environment": 2, "overrides": 3}


class PathLabels:
    """Remembers which layer (file, env var, overrides) set each settings key."""

    def __init__(self):
        self._labels = {}

    def merge(self, base: dict, layer: dict, label) -> dict:
        """Return ``base`` deep-merged with ``layer``, noting ``label`` per leaf."""
        return self._merge(base, layer, str(label), ())

    def _merge(self, base: dict, layer: dict, label: str, prefix: tuple) -> dict:
        out = dict(base)
        for key, value in layer.items():
            path = prefix + (key,)
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = self._merge(out[key], value, label, path)
            else:
                out[key] = value
                self._note(path, value, label)
        return out

    def _note(self, path: tuple, value, label: str) -> None:
        self._labels.setdefault(path, label)
        if not self._labels[path].startswith("environment variable"):
            self._labels[path] = label
        if isinstance(value, dict):
            for key, inner in value.items():
                self._note(path + (key,), inner, label)

    def name(self, path: tuple, label: str) -> None:
        """Record that ``path`` was set by ``label`` (e.g. an environment variable)."""
        self._labels[path] = label

    def label_of(self, path: tuple) -> str:
        """Return the origin of ``path``, or of its nearest recorded relative."""
        for length in range(len(path), 0, -1):
            if path[:length] in self._labels:
                return self._labels[path[:length]]
        below = [v for k, v in self._labels.items() if k[: len(path)] == path]
        return below[-1] if below else "config"

    def rank(self, path: tuple) -> int:
        """Return the layer rank of ``path``: defaults 0, file 1, env 2, overrides 3."""
        label = self.label_of(path)
        if label.startswith("environment"):
            return LAYER_RANKS["environment"]
        return LAYER_RANKS.get(label, 1)


def fail(labels: PathLabels, path: tuple, problem: str):
    """Raise ConfigError naming where ``path`` came from, the key and the problem."""
    key = ".".join(str(part) for part in path)
    raise ConfigError(f"{labels.label_of(path)}: {key}: {problem}")


def check_settings_dict(data: dict, path, allowed) -> None:
    """Refuse unknown top-level keys and secrets in the config file."""
    for key, value in data.items():
        if SECRET_KEY.search(str(key)):
            raise ConfigError(f"{path}: {key}: secrets belong in the environment")
        if key not in allowed and not str(key).startswith("_"):
            raise ConfigError(f"{path}: {key}: unknown setting")
    for slug, entry in (data.get("sources") or {}).items():
        for key in entry if isinstance(entry, dict) else ():
            if SECRET_KEY.search(str(key)):
                problem = "secrets belong in the environment"
                raise ConfigError(f"{path}: sources.{slug}.{key}: {problem}")


def check_positive(raw: dict, labels, key: str, integer=False, where=()):
    """Return ``raw[key]`` when it is a positive number (integer if asked)."""
    value = raw[key]
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "integer" if integer else "number"
        fail(labels, where + (key,), f"must be a positive {kind}")
    return value


def check_source(slug: str, entry: dict, mapping, labels, declared: dict) -> dict:
    """Validate one source's merged settings; return SourceConfig keyword args."""
    where = ("sources", slug)
    unknown = set(entry) - SOURCE_KEYS
    if unknown:
        fail(labels, where + (sorted(unknown)[0],), "unknown source setting")
    for key in ("url", "table", "company_column", "period_column", "period_format"):
        if key not in entry:
            fail(labels, where + (key,), "missing (source not in statements.py)")
    columns = _check_mapping(slug, mapping, labels)
    key_col = _mapped(columns, "company_id", entry["company_column"], slug, labels)
    period_col = _mapped(columns, "period_end", entry["period_column"], slug, labels)
    return {
        "url": _url(entry["url"], labels, where),
        "table": _identifier(entry["table"], labels, where + ("table",)),
        "company_column": key_col,
        "period_column": period_col,
        "period_format": _period_format(entry["period_format"], labels, where),
        "unit_scale": float(check_positive(entry, labels, "unit_scale", where=where)),
        "mapping": dict(mapping),
        "column_types": _column_types(slug, entry, columns, labels, declared),
        "text_amounts": _flag(entry.get("text_amounts", False), labels, where),
        "connect_timeout": float(
            check_positive(entry, labels, "connect_timeout", where=where)
        ),
        "read_timeout": float(
            check_positive(entry, labels, "read_timeout", where=where)
        ),
    }


def _check_mapping(slug: str, mapping, labels) -> dict:
    where = ("schema_mapping", slug)
    if not isinstance(mapping, dict) or not mapping:
        fail(labels, where, "must be an object of source column -> canonical field")
    seen = {}
    for column, canon in mapping.items():
        _identifier(column, labels, where + (column,))
        if not isinstance(canon, str) or not CANONICAL.fullmatch(canon):
            fail(
                labels, where + (column,), "canonical field must be a snake_case string"
            )
        if canon in seen:
            fail(
                labels,
                where + (column,),
                f"{canon!r} is also mapped from {seen[canon]}",
            )
        seen[canon] = column
    return seen


def _mapped(columns: dict, canon: str, configured: str, slug: str, labels) -> str:
    where = ("schema_mapping", slug)
    if canon not in columns:
        fail(labels, where, f"no column is mapped to {canon!r}")
    if columns[canon] != configured:
        problem = (
            f"maps {columns[canon]!r} to {canon!r} but the source uses {configured!r}"
        )
        fail(labels, where, problem)
    return configured


def _url(value, labels, where: tuple) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        fail(labels, where + ("url",), "must be an http(s) URL with a host")
    if parts.username or parts.password:
        fail(labels, where + ("url",), "credentials belong in the environment")
    return value.rstrip("/")


def _identifier(value, labels, path: tuple) -> str:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        fail(labels, path, "must be a plain SQL identifier")
    return value


def _period_format(value, labels, where: tuple) -> str:
    if value not in PERIOD_FORMATS:
        known = ", ".join(PERIOD_FORMATS)
        fail(labels, where + ("period_format",), f"unknown format; known: {known}")
    return value


def _flag(value, labels, where: tuple) -> bool:
    if not isinstance(value, bool):
        fail(labels, where + ("text_amounts",), "must be true or false")
    return value


def _column_types(slug: str, entry: dict, columns: dict, labels, declared) -> dict:
    where = ("sources", slug, "column_types")
    given = entry.get("column_types") or {}
    if not isinstance(given, dict):
        fail(labels, where, "must be an object of source column -> type")
    fields = {col: canon for canon, col in columns.items()}
    for column, kind in given.items():
        if column not in fields:
            fail(labels, where + (column,), "column is not in schema_mapping")
        if kind not in COLUMN_TYPES:
            fail(labels, where + (column,), f"type must be one of {COLUMN_TYPES}")
    return {
        col: _column_type(col, canon, given, declared, labels, where)
        for col, canon in fields.items()
        if canon not in ("company_id", "period_end")
    }


def _column_type(column, canon, given, declared, labels, where) -> str:
    entry = declared.get(canon) if isinstance(declared, dict) else None
    want = entry.get("type") if isinstance(entry, dict) else None
    if want is not None and want not in COLUMN_TYPES:
        fail(
            labels,
            ("canonical_fields", canon, "type"),
            f"must be one of {COLUMN_TYPES}",
        )
    kind = given.get(column) or want or DEFAULT_FIELD_TYPES.get(canon, "numeric")
    if want is not None and kind != want:
        fail(labels, where + (column,), f"{kind!r} conflicts with {canon!r} ({want})")
    return kind


def check_company_ids(raw: dict, labels) -> tuple:
    """Return the config's company ids, deduplicated, in order."""
    ids = raw["company_ids"]
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        fail(labels, ("company_ids",), "must be a list of non-empty strings")
    return tuple(dict.fromkeys(ids))


def check_non_negative_int(raw: dict, labels, key: str) -> int:
    """Return ``raw[key]`` when it is an integer >= 0."""
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        fail(labels, (key,), "must be a non-negative integer")
    return value


def check_rate_limit(raw: dict, labels) -> str:
    """Return the rate limit when it reads like '120 per minute'."""
    value = raw["rate_limit"]
    if not isinstance(value, str) or not re.fullmatch(r"[\w/ ;,]{1,100}", value):
        fail(labels, ("rate_limit",), "must look like '120 per minute'")
    return value


def check_tolerance(raw: dict, labels) -> float:
    """Return the discrepancy tolerance, a number in [0, 1)."""
    value = raw["discrepancy_tolerance"]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0 <= value < 1:
        fail(labels, ("discrepancy_tolerance",), "must be a number in [0, 1)")
    return float(value)
