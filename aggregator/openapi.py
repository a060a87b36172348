"""The OpenAPI 3.1 document describing the aggregator's HTTP API."""

FORMATS = ["csv", "parquet", "json"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _errors(*statuses: int) -> dict:
    text = {
        400: "Invalid input",
        404: "Not found",
        413: "Body too large",
        429: "Rate limited (see Retry-After)",
        503: "Required sources unavailable",
    }
    return {str(s): _json(_ref("Error"), text[s]) for s in statuses}


def _obj(properties: dict, required=(), **extra) -> dict:
    schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def _array(items: dict) -> dict:
    return {"type": "array", "items": items}


STRING, INTEGER, NUMBER, BOOLEAN = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
)
NULLABLE_STRING = {"type": ["string", "null"]}
#: Output kind -> download URL of a run (its files plus the manifest).
DOWNLOADS = {"type": "object", "additionalProperties": STRING}
ANY_VALUE = {"type": ["string", "number", "boolean", "null", "array"]}


def _error_schema() -> dict:
    inner = _obj(
        {
            "code": STRING,
            "message": STRING,
            "request_id": STRING,
            "details": {"type": "object"},
        },
        ["code", "message", "request_id"],
    )
    return _obj({"error": inner}, ["error"])


def _request_schema(
    fields: list, sources: list, operators: list, group_by: list
) -> dict:
    field_name = {"type": "string", "enum": fields}
    condition = _obj(
        {
            "field": field_name,
            "op": {"type": "string", "enum": operators},
            "value": ANY_VALUE,
        },
        ["field", "op", "value"],
    )
    period = _obj(
        {
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date"},
        }
    )
    return _obj(
        {
            "companies": _array(STRING),
            "fields": _array(field_name),
            "filters": _array(condition),
            "period": period,
            "group_by": {"type": "string", "enum": group_by},
            "explain": BOOLEAN,
            "auto_correct": BOOLEAN,
            "require_all_sources": BOOLEAN,
            "pushdown": BOOLEAN,
            "formats": _array({"type": "string", "enum": FORMATS}),
            "sql": _obj(
                {}, propertyNames={"enum": sources}, additionalProperties=STRING
            ),
        },
        additionalProperties=False,
    )


def _source_status() -> dict:
    status = {"type": "string", "enum": ["ok", "unavailable", "error"]}
    props = {"status": status, "reason": NULLABLE_STRING, "elapsed_ms": NUMBER}
    props.update({"rows": INTEGER, "cached": BOOLEAN, "data_version": NULLABLE_STRING})
    return _obj(props, ["status"])


def _result_schema() -> dict:
    listing = _array({"type": "object"})
    props = {"run_id": STRING, "created_at": {"type": "string", "format": "date-time"}}
    props.update({"complete": BOOLEAN, "group_by": STRING, "fields": _array(STRING)})
    props.update({"columns": _array(STRING), "rows": listing, "row_count": INTEGER})
    props["downloads"] = DOWNLOADS
    props["plan"] = {"type": "object"}
    props["sources"] = _obj({}, additionalProperties=_ref("SourceStatus"))
    for key in ("corrections", "rejections", "type_mismatches", "discrepancies"):
        props[key] = listing
    props["warnings"] = _array(STRING)
    return _obj(props, ["run_id", "complete", "columns", "rows", "sources"])


def _components(fields: list, sources: list, operators: list, group_by: list) -> dict:
    summary = {"run_id": STRING, "created_at": STRING, "row_count": INTEGER}
    summary.update({"complete": BOOLEAN, "query": {"type": ["object", "null"]}})
    summary["downloads"] = DOWNLOADS
    health = {
        "name": STRING,
        "url": STRING,
        "status": {"type": "string", "enum": ["up", "down"]},
    }
    health.update({"latency_ms": NUMBER, "rows": {"type": ["integer", "null"]}})
    health.update({"data_version": NULLABLE_STRING, "reason": NULLABLE_STRING})
    field = {
        "name": STRING,
        "type": STRING,
        "statements": _array(STRING),
        "description": STRING,
    }
    return {
        "Error": _error_schema(),
        "AggregateRequest": _request_schema(fields, sources, operators, group_by),
        "SourceStatus": _source_status(),
        "AggregateResult": _result_schema(),
        "Plan": _obj({"plan": {"type": "object"}}, ["plan"]),
        "RunSummary": _obj(summary, ["run_id", "downloads"]),
        "SourceHealth": _obj(health, ["name", "status"]),
        "Company": _obj(
            {"id": STRING, "name": STRING, "ticker": NULLABLE_STRING}, ["id"]
        ),
        "Field": _obj(field, ["name", "type"]),
    }


def _param(name: str, where: str, schema: dict, required=False) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema}


RUN_ID = _param("run_id", "path", {"type": "string", "pattern": "^[0-9a-f]{12}$"}, True)


def _aggregate_path() -> dict:
    body = {
        "required": True,
        "content": {"application/json": {"schema": _ref("AggregateRequest")}},
    }
    result = {"oneOf": [_ref("AggregateResult"), _ref("Plan")]}
    responses = {
        "200": _json(result, "Aggregated rows, or the plan when explain is true")
    }
    responses.update(_errors(400, 413, 429, 503))
    return {
        "post": {
            "summary": "Run one aggregation",
            "operationId": "aggregate",
            "requestBody": body,
            "responses": responses,
        }
    }


def _get(summary: str, op_id: str, ok: dict, params=(), errors=(429,)) -> dict:
    operation = {
        "summary": summary,
        "operationId": op_id,
        "responses": {"200": ok, **_errors(*errors)},
    }
    if params:
        operation["parameters"] = list(params)
    return {"get": operation}


def _paths() -> dict:
    runs = _obj({"runs": _array(_ref("RunSummary"))}, ["runs"])
    sources = _obj({"sources": _array(_ref("SourceHealth"))}, ["sources"])
    companies = _obj({"companies": _array(_ref("Company"))}, ["companies"])
    schema = _obj(
        {
            "fields": _array(_ref("Field")),
            "group_by": _array(STRING),
            "operators": _array(STRING),
        }
    )
    fmt = _param(
        "format",
        "query",
        {"type": "string", "enum": FORMATS + ["rejected", "manifest"]},
    )
    file_types = {
        m: {"schema": {"type": "string", "format": "binary"}}
        for m in ("text/csv", "application/vnd.apache.parquet", "application/json")
    }
    return {
        "/api/aggregate": _aggregate_path(),
        "/api/runs": _get(
            "List past runs, newest first", "listRuns", _json(runs, "Runs")
        ),
        "/api/runs/{run_id}": _get(
            "Read one run's manifest",
            "getRun",
            _json({"type": "object"}, "The manifest"),
            [RUN_ID],
            (404, 429),
        ),
        "/api/runs/{run_id}/download": _get(
            "Download a run's output file",
            "downloadRun",
            {"description": "The file", "content": file_types},
            [RUN_ID, fmt],
            (400, 404, 429),
        ),
        "/api/sources": _get(
            "Health of each source", "listSources", _json(sources, "Sources")
        ),
        "/api/companies": _get(
            "Search the company registry",
            "searchCompanies",
            _json(companies, "Matches"),
            [
                _param("q", "query", STRING),
                _param(
                    "limit", "query", {"type": "integer", "minimum": 1, "maximum": 50}
                ),
            ],
            (400, 429),
        ),
        "/api/schema": _get(
            "Canonical fields, group-by options, operators",
            "getSchema",
            _json(schema, "Schema"),
        ),
        "/openapi.json": _get(
            "This document",
            "openapi",
            _json({"type": "object"}, "OpenAPI 3.1"),
            errors=(),
        ),
        "/health": _get(
            "Liveness", "health", _json(_obj({"status": STRING}), "Alive"), errors=()
        ),
    }


def build_openapi(fields: list, sources: list, operators: list, group_by: list) -> dict:
    """Return the OpenAPI 3.1 document for these fields, sources and operators."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "FinSync aggregator",
            "version": "1.0.0",
            "description": "Federated financial statements, averaged per company.",
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {"schemas": _components(fields, sources, operators, group_by)},
    }
