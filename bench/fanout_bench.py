"""Fan-out: one source slowed by a delaying WSGI wrapper; run time vs that source's own.

Child process: ``python -m bench.fanout_bench SPEC.json`` measures, with the response
cache off, (a) the slow source's own time: its planned query fetched alone, and (b) the
full aggregation (plan -> fan-out -> resolve -> map -> average -> CSV), ``runs`` times
each.
"""

import json
import logging
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from aggregator import pipeline, planner
from aggregator.companies import CompanyRegistry
from aggregator.export import write_outputs
from aggregator.fanout import Fetcher
from aggregator.query import parse_query
from bench.agg_run import bench_settings, close_fetcher

log = logging.getLogger(__name__)

PAYLOAD = {"group_by": "company", "pushdown": True, "formats": ["csv"]}


def slow_source_alone(spec: dict, settings) -> float:
    """Return the wall time of fetching only the slow source's planned query."""
    query = parse_query(PAYLOAD, settings)
    plan = planner.plan_queries(query, settings)
    fetcher = Fetcher(settings)
    started = time.perf_counter()
    report = fetcher.fetch_all({spec["slow"]: plan.queries[spec["slow"]]})
    elapsed = time.perf_counter() - started
    close_fetcher(fetcher)
    if report.failures:
        raise RuntimeError(f"slow source failed: {report.failures}")
    return elapsed


def full_run(spec: dict, settings) -> float:
    """Return the wall time of one whole aggregation with the slow source in it."""
    registry = CompanyRegistry.from_file(settings.registry_path)
    fetcher = Fetcher(settings)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    result = pipeline.run_aggregation(
        parse_query(PAYLOAD, settings), settings, registry, fetcher, now
    )
    write_outputs(result, Path(spec["out_dir"]), now, ["csv"])
    elapsed = time.perf_counter() - started
    close_fetcher(fetcher)
    if not result.to_dict().get("complete"):
        raise RuntimeError("fan-out run was not complete")
    return elapsed


def _request_lines(log_path: str | None) -> list[str]:
    """Return the slow service's request log lines (one per HTTP request)."""
    if not log_path or not Path(log_path).exists():
        return []
    text = Path(log_path).read_text(errors="replace")
    return [line for line in text.splitlines() if " path=/" in line]


def requests_per_run(spec: dict, settings) -> dict:
    """Run once more and count the slow source's requests by path during the run."""
    before = len(_request_lines(spec.get("slow_log")))
    full_run(spec, settings)
    counts = {}
    for line in _request_lines(spec.get("slow_log"))[before:]:
        path = line.split(" path=", 1)[1].split()[0]
        counts[path] = counts.get(path, 0) + 1
    return counts


def main(spec_path: str) -> None:
    """Measure both times ``runs`` times after a warm-up; print JSON."""
    spec = json.loads(Path(spec_path).read_text())
    settings = bench_settings(spec)
    full_run(spec, settings)
    alone = [slow_source_alone(spec, settings) for _ in range(spec["runs"])]
    whole = [full_run(spec, settings) for _ in range(spec["runs"])]
    slow_requests = requests_per_run(spec, settings)
    out = {
        "slow": spec["slow"],
        "delay_s": spec["delay_s"],
        "alone_s": statistics.median(alone),
        "full_s": statistics.median(whole),
        "alone_runs": alone,
        "full_runs": whole,
        "slow_source_requests_per_run": slow_requests,
    }
    out["ratio"] = out["full_s"] / out["alone_s"]
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    main(sys.argv[1])
