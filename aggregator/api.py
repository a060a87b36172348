"""Blueprint "api": thin views over the pipeline, the runs folder and the registry."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request, send_file, url_for

from aggregator import runs
from aggregator.errors import PayloadTooLargeError
from aggregator.export import write_outputs
from aggregator.memory import release_free_memory
from aggregator.pipeline import explain_plan, run_aggregation
from aggregator.query import GROUP_BYS, OPERATORS, TEXT_OPERATORS, parse_query
from data_sources.errors import BadRequestError

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")

MAX_SEARCH_TEXT = 100
MAX_COMPANY_RESULTS = 50
MAX_RUNS_LISTED = 500
EXTENSION = "finsync_aggregator"


@dataclass(frozen=True)
class Services:
    """What the views share, built once at start-up."""

    settings: object
    registry: object
    fetcher: object


def services() -> Services:
    """Return the current app's shared services (the app factory stores them)."""
    return current_app.extensions[EXTENSION]


@bp.post("/aggregate")
def aggregate():
    """Run one aggregation (or explain it) and return rows, report and downloads."""
    shared = services()
    query = parse_query(_json_body(), shared.settings)
    if query.explain:
        plan = explain_plan(query, shared.settings, shared.registry, shared.fetcher)
        return jsonify({"plan": plan.to_dict()})
    start, now = time.perf_counter(), datetime.now(timezone.utc)
    result = run_aggregation(
        query, shared.settings, shared.registry, shared.fetcher, now
    )
    paths = write_outputs(result, shared.settings.output_dir, now, query.formats)
    log_run(result, (time.perf_counter() - start) * 1000)
    body = result.to_dict()
    body["downloads"] = downloads(result.run_id, paths)
    response = jsonify(body)
    # Once the body is sent, what the run freed goes back to the OS rather than
    # staying with the threads that allocated it (aggregator/memory.py).
    response.call_on_close(release_free_memory)
    return response


@bp.get("/runs")
def list_runs():
    """List past runs from their manifests, newest first, with download URLs."""
    limit = int_arg("limit", 100, 1, MAX_RUNS_LISTED)
    manifests = runs.list_manifests(services().settings.output_dir, limit)
    return jsonify({"runs": [run_summary(manifest) for manifest in manifests]})


@bp.get("/runs/<run_id>")
def get_run(run_id: str):
    """Return one run's manifest with its download URLs."""
    manifest = runs.read_run(services().settings.output_dir, run_id)
    manifest["downloads"] = downloads(run_id, runs.download_kinds(manifest))
    return jsonify(manifest)


@bp.get("/runs/<run_id>/download")
def download(run_id: str):
    """Send one output file of a run; the path never leaves the output folder."""
    fmt = request.args.get("format", "csv")
    found = runs.resolve_download(services().settings.output_dir, run_id, fmt)
    return send_file(
        found.path,
        mimetype=found.mimetype,
        as_attachment=True,
        download_name=found.name,
    )


@bp.get("/sources")
def sources():
    """Report each source's health, latency, rows and data version."""
    return jsonify({"sources": services().fetcher.health_all()})


@bp.get("/companies")
def companies():
    """Search the registry by id, ticker or name (for autocomplete)."""
    text = request.args.get("q", "")
    if len(text) > MAX_SEARCH_TEXT:
        raise BadRequestError(
            f"q: at most {MAX_SEARCH_TEXT} characters", details={"field": "q"}
        )
    limit = int_arg("limit", 10, 1, MAX_COMPANY_RESULTS)
    return jsonify({"companies": services().registry.search(text, limit)})


@bp.get("/schema")
def schema():
    """Describe the canonical fields, group-by options and filter operators."""
    settings = services().settings
    fields = [
        {
            "name": spec.name,
            "type": spec.type,
            "statements": list(spec.sources),
            "description": spec.description,
        }
        for spec in settings.canonical_fields.values()
    ]
    return jsonify(
        {
            "fields": fields,
            "group_by": list(GROUP_BYS),
            "operators": list(OPERATORS),
            "text_operators": list(TEXT_OPERATORS),
            "sources": list(settings.sources),
        }
    )


def _json_body() -> dict:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        raise PayloadTooLargeError(f"body: at most {limit} bytes")
    if not request.is_json:
        raise BadRequestError(
            "body: send JSON with Content-Type: application/json",
            details={"field": "body"},
        )
    payload = request.get_json(silent=True)
    if payload is None:
        raise BadRequestError("body: not valid JSON", details={"field": "body"})
    return payload


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Return query-string integer ``name`` in [low, high], or raise 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequestError(
            f"{name}: must be an integer from {low} to {high}", details={"field": name}
        )
    return int(raw)


def downloads(run_id: str, kinds) -> dict:
    """Return kind -> download URL for each downloadable kind in ``kinds``."""
    return {
        kind: url_for("api.download", run_id=run_id, format=kind)
        for kind in runs.DOWNLOADS
        if kind in kinds
    }


def run_summary(manifest: dict) -> dict:
    """Return a run's entry in the runs list: its summary and download URLs."""
    summary = runs.summarize(manifest)
    kinds = runs.download_kinds(manifest)  # empty unless run_id is well formed
    summary["downloads"] = downloads(manifest.get("run_id"), kinds)
    return summary


def log_run(result, elapsed_ms: float) -> None:
    """Log the one summary line each aggregation run gets."""
    statuses = [s.get("status") for s in result.sources.values()]
    log.info(
        "run %s rows=%d sources_ok=%d sources_failed=%d corrections=%d "
        "rejections=%d elapsed_ms=%.1f",
        result.run_id,
        result.row_count,
        statuses.count("ok"),
        len(statuses) - statuses.count("ok"),
        len(result.corrections),
        len(result.rejections),
        elapsed_ms,
    )
