"""Parse and validate an aggregate query (the POST body) into an AggregateQuery."""

import math
import re
from dataclasses import asdict, dataclass
from datetime import date

from data_sources.errors import BadRequestError

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "between", "in")
TEXT_OPERATORS = ("=", "!=", "in")
GROUP_BYS = ("company", "company_period")
FORMATS = ("csv", "parquet", "json")
FLAGS = ("explain", "auto_correct", "require_all_sources", "pushdown")
PAYLOAD_KEYS = frozenset(
    FLAGS
    + ("check_discrepancies", "companies", "fields", "filters", "period", "group_by")
    + ("formats", "sql")
)
MAX_COMPANIES = 500
MAX_FIELDS = 200
MAX_FILTERS = 20
MAX_IN_VALUES = 200
MAX_TEXT = 100
MAX_SQL = 10_000
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WHERE = re.compile(r"\s*([A-Za-z_]\w*)\s*(>=|<=|!=|==|=|<|>)\s*(.+?)\s*")
_WHERE_WORD = re.compile(r"\s*([A-Za-z_]\w*)\s+(between|in)\s+(.+?)\s*", re.I)


@dataclass(frozen=True)
class Filter:
    """One condition on a canonical field; ``value`` is a scalar or a tuple."""

    field: str
    op: str
    value: object

    def describe(self) -> str:
        """Return the filter as short readable text, e.g. ``revenue > 1000000.0``."""
        if self.op == "between":
            return f"{self.field} between {self.value[0]!r} and {self.value[1]!r}"
        return f"{self.field} {self.op} {self.value!r}"

    def in_units(self, scale: float) -> "Filter":
        """Return this filter with numeric thresholds divided by a source's scale."""
        if scale == 1 or not isinstance(self.value, (float, tuple)):
            return self
        if isinstance(self.value, tuple):
            if not all(isinstance(v, float) for v in self.value):
                return self
            return Filter(self.field, self.op, tuple(v / scale for v in self.value))
        return Filter(self.field, self.op, self.value / scale)

    def to_dict(self) -> dict:
        """Return the filter as it appears in a request body."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True)
class AggregateQuery:
    """A validated query in canonical terms; empty ``companies`` means all."""

    companies: tuple = ()
    fields: tuple = ()
    filters: tuple = ()
    period_start: str | None = None
    period_end: str | None = None
    group_by: str = "company"
    explain: bool = False
    auto_correct: bool = False
    require_all_sources: bool = False
    pushdown: bool = True
    check_discrepancies: bool = True
    formats: tuple = ("csv",)
    sql: dict | None = None

    def to_dict(self) -> dict:
        """Return the query as a JSON-ready dict (for manifests and plans)."""
        out = asdict(self)
        out.update(companies=list(self.companies), fields=list(self.fields))
        out["filters"] = [f.to_dict() for f in self.filters]
        out["formats"] = list(self.formats)
        return out


def bad(field: str, message: str):
    """Raise the 400 every validation problem becomes, naming the field."""
    raise BadRequestError(f"{field}: {message}", details={"field": field})


def parse_query(payload, settings) -> AggregateQuery:
    """Validate a request body against ``settings``; raise BadRequestError if bad."""
    if not isinstance(payload, dict):
        bad("body", "must be a JSON object")
    unknown = sorted(set(payload) - PAYLOAD_KEYS)
    if unknown:
        bad(unknown[0], "unknown key")
    fields = settings.canonical_fields
    sql = _sql(payload.get("sql"), settings)
    start, end = _period(payload.get("period"))
    return AggregateQuery(
        companies=_companies(payload.get("companies")),
        fields=_fields(payload.get("fields"), fields, _default_fields(settings, sql)),
        filters=_filters(payload.get("filters"), fields),
        period_start=start,
        period_end=end,
        group_by=_choice(payload.get("group_by", "company"), GROUP_BYS, "group_by"),
        formats=_formats(payload.get("formats")),
        sql=sql,
        check_discrepancies=_flag(payload, "check_discrepancies", True),
        **{name: _flag(payload, name, name == "pushdown") for name in FLAGS},
    )


def _default_fields(settings, sql) -> tuple:
    fields = settings.canonical_fields
    if not sql:
        return tuple(fields)
    return tuple(f for f, spec in fields.items() if set(spec.sources) & set(sql))


def _flag(payload: dict, name: str, default: bool) -> bool:
    value = payload.get(name, default)
    if not isinstance(value, bool):
        bad(name, "must be true or false")
    return value


def _choice(value, allowed: tuple, name: str) -> str:
    if value not in allowed:
        bad(name, f"must be one of {', '.join(allowed)}")
    return value


def _string_list(value, name: str, limit: int) -> list:
    if not isinstance(value, list):
        bad(name, "must be a list of strings")
    if len(value) > limit:
        bad(name, f"at most {limit} items")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            bad(f"{name}[{index}]", "must be a non-empty string")
        if len(item) > MAX_TEXT:
            bad(f"{name}[{index}]", f"at most {MAX_TEXT} characters")
    return list(dict.fromkeys(value))


def _companies(value) -> tuple:
    return (
        () if value is None else tuple(_string_list(value, "companies", MAX_COMPANIES))
    )


def _fields(value, known: dict, default: tuple) -> tuple:
    if value is None or value == []:
        return default
    items = _string_list(value, "fields", MAX_FIELDS)
    for index, name in enumerate(items):
        if name not in known:
            bad(f"fields[{index}]", f"unknown field {name!r}")
    return tuple(items)


def _filters(value, known: dict) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list):
        bad("filters", "must be a list of {field, op, value} objects")
    if len(value) > MAX_FILTERS:
        bad("filters", f"at most {MAX_FILTERS} filters")
    parsed = (_filter(item, f"filters[{i}]", known) for i, item in enumerate(value))
    return tuple(dict.fromkeys(parsed))


def _filter(item, where: str, known: dict) -> Filter:
    if not isinstance(item, dict) or set(item) - {"field", "op", "value"}:
        bad(where, "must be an object with field, op and value")
    name = item.get("field")
    if not isinstance(name, str) or name not in known:
        bad(f"{where}.field", f"unknown field {str(name)[:MAX_TEXT]!r}")
    kind = known[name].type
    ops = OPERATORS if kind != "text" else TEXT_OPERATORS
    op = _choice(item.get("op"), ops, f"{where}.op")
    if "value" not in item:
        bad(f"{where}.value", "is required")
    return Filter(name, op, _filter_value(item["value"], op, kind, f"{where}.value"))


def _filter_value(value, op: str, kind: str, where: str):
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            bad(where, "between needs [low, high]")
        low, high = (_scalar(v, kind, f"{where}[{i}]") for i, v in enumerate(value))
        if low > high:
            bad(where, "low must not exceed high")
        return (low, high)
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            bad(where, f"in needs a list of 1 to {MAX_IN_VALUES} values")
        items = (_scalar(v, kind, f"{where}[{i}]") for i, v in enumerate(value))
        return tuple(dict.fromkeys(items))
    return _scalar(value, kind, where)


def _scalar(value, kind: str, where: str):
    if kind == "numeric":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value):
            bad(where, "must be a finite number")
        return float(value)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        bad(where, f"must be a string of 1 to {MAX_TEXT} characters")
    if kind == "date":
        _iso_date(value, where)
    return value


def _iso_date(value, where: str) -> str:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        bad(where, "must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        bad(where, "is not a valid calendar date")


def _period(value) -> tuple:
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) - {"start", "end"}:
        bad("period", "must be an object with optional start and end")
    start, end = value.get("start"), value.get("end")
    start = None if start is None else _iso_date(start, "period.start")
    end = None if end is None else _iso_date(end, "period.end")
    if start and end and start > end:
        bad("period", "start must not be after end")
    return start, end


def _formats(value) -> tuple:
    if value is None:
        return ("csv",)
    items = _string_list(value, "formats", len(FORMATS))
    for index, name in enumerate(items):
        _choice(name, FORMATS, f"formats[{index}]")
    return tuple(items) or ("csv",)


def _sql(value, settings) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        bad("sql", "must be an object of source -> SQL")
    for source, text in value.items():
        if source not in settings.sources:
            bad(f"sql.{str(source)[:MAX_TEXT]}", "unknown source")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_SQL:
            bad(f"sql.{source}", f"must be SQL text of at most {MAX_SQL} characters")
    return dict(value)


def parse_where(text: str) -> dict:
    """Parse a CLI condition like ``revenue>1e6`` into a request-body filter."""
    word = _WHERE_WORD.fullmatch(text or "")
    if word:
        field, op, rest = word.group(1), word.group(2).lower(), word.group(3)
        parts = re.split(r"\s+and\s+", rest, flags=re.I) if op == "between" else None
        items = parts or rest.strip("()").split(",")
        return {"field": field, "op": op, "value": [_where_value(v) for v in items]}
    match = _WHERE.fullmatch(text or "")
    if not match:
        bad("where", "expected FIELD OP VALUE, e.g. revenue>1e6")
    op = "=" if match.group(2) == "==" else match.group(2)
    return {"field": match.group(1), "op": op, "value": _where_value(match.group(3))}


def _where_value(text: str):
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text.strip("'\"")
    return number if math.isfinite(number) else text
