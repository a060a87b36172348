"""Render a page of rows as JSON (default), CSV or an Arrow IPC stream."""

import csv
import io

import orjson
import pyarrow as pa
from flask import Response

from data_sources.errors import BadRequestError

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"
ARROW_TYPE = "application/vnd.apache.arrow.stream"
FORMATS = ("json", "csv", "arrow")
_ARROW_TYPES = {"REAL": pa.float64(), "INTEGER": pa.int64(), "TEXT": pa.string()}
_ARROW_FAILURES = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError)


def choose_format(fmt, accept: str) -> str:
    """Return json, csv or arrow from ``?format=`` or else the Accept header."""
    if fmt is None:
        return "arrow" if ARROW_TYPE in accept else "json"
    if fmt in FORMATS:
        return fmt
    raise BadRequestError(
        f"format must be one of {', '.join(FORMATS)}", details={"parameter": "format"}
    )


def json_response(body: dict, status: int = 200) -> Response:
    """Return ``body`` as a JSON response, serialized with orjson."""
    return Response(orjson.dumps(body, default=_plain), status, mimetype=JSON_TYPE)


def page_response(fmt: str, envelope: dict, types=None) -> Response:
    """Return one page; ``envelope`` is the JSON body (statement, columns, rows...)."""
    if fmt == "json":
        response = json_response(envelope)
    elif fmt == "csv":
        response = Response(_csv_body(envelope), content_type=CSV_TYPE)
    else:
        body = _arrow_body(envelope["columns"], envelope["rows"], types or {})
        response = Response(body, content_type=ARROW_TYPE)
    response.headers["X-Data-Version"] = envelope["data_version"]
    if envelope["next"]:
        response.headers["X-Next-Page"] = envelope["next"]
    return response


def warm_up() -> None:
    """Encode a tiny Arrow page now, so pyarrow's lazy imports (pandas) run at start."""
    _arrow_body(["real", "text"], [(1.0, "a")], {"real": "REAL", "text": "TEXT"})


def _plain(value):
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _csv_body(envelope: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(envelope["columns"])
    for row in envelope["rows"]:
        writer.writerow(_plain(v) if isinstance(v, bytes) else v for v in row)
    return out.getvalue()


def _arrow_body(columns: list, rows: list, types: dict) -> bytes:
    values = list(zip(*rows)) if rows else [()] * len(columns)
    arrays = [_arrow_array(col, types.get(name)) for name, col in zip(columns, values)]
    table = pa.Table.from_arrays(arrays, names=_unique(columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _arrow_array(values, declared) -> pa.Array:
    for kind in (_ARROW_TYPES.get(declared), None):
        try:
            return pa.array(values, type=kind)
        except _ARROW_FAILURES:
            continue  # SQLite columns may mix types: infer, else fall back to text
    text = [_text(v) for v in values]
    return pa.array(text, type=pa.string())


def _text(value):
    if value is None or isinstance(value, str):
        return value
    return _plain(value) if isinstance(value, bytes) else str(value)


def _unique(names: list) -> list:
    # Arrow allows duplicate names, but readers that build data frames do not.
    seen, result = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return result
