"""Child process: run one FinSync mode end to end (warm-up + N runs), print JSON.

``python -m bench.agg_run SPEC.json``. The process loads the registry once, as the
aggregator does; each run makes it forget its resolutions (the memo would otherwise
make later runs cheaper) and uses a fresh Fetcher with the response cache off, so
every run plans, fetches over HTTP, resolves ids, maps, averages and writes the
CSV. Only that part is timed. Peak RSS is this process's own (``RUSAGE_SELF``).
"""

import json
import logging
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from aggregator import pipeline
from aggregator.companies import CompanyRegistry
from aggregator.config import load_settings
from aggregator.export import write_outputs
from aggregator.fanout import Fetcher
from aggregator.memory import release_free_memory, use_one_allocator
from aggregator.query import parse_query
from data_sources.errors import FinSyncError
from data_sources.gunicorn_common import tune_collector

log = logging.getLogger(__name__)


def bench_settings(spec: dict):
    """Load the generated config with the live service URLs and the cache off."""
    env = {f"FINSYNC_{slug.upper()}_URL": url for slug, url in spec["urls"].items()}
    env["FINSYNC_OUTPUT_DIR"] = spec["out_dir"]
    env.update(spec.get("env", {}))
    return load_settings(spec["config"], env=env, overrides={"cache_size": 0})


def close_fetcher(fetcher) -> None:
    """Release the fetcher's sessions and threads if it offers a way to."""
    closer = getattr(fetcher, "close", None)
    if callable(closer):
        closer()


def run_once(spec: dict, settings, registry) -> tuple[float, dict]:
    """Run the aggregation once; return (wall seconds, summary of the result).

    The registry forgets its past resolutions first, so every run resolves
    every key from scratch, and what the last run freed is given back to the OS,
    as the aggregator's API does once a response is sent.
    """
    registry.forget_resolutions()
    release_free_memory()
    fetcher = Fetcher(settings)
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    query = parse_query(spec["payload"], settings)
    result = pipeline.run_aggregation(query, settings, registry, fetcher, now)
    paths = write_outputs(result, Path(spec["out_dir"]), now, ["csv"])
    wall = time.perf_counter() - started
    close_fetcher(fetcher)
    # report_dict: the counts without turning every result row into a dict
    return wall, _summary(result.report_dict(), paths)


def _summary(body: dict, paths: dict) -> dict:
    """Keep what the report needs from the API-shaped result."""
    return {
        "row_count": body.get("row_count"),
        "complete": body.get("complete"),
        "corrections": len(body.get("corrections", [])),
        "rejections": len(body.get("rejections", [])),
        "type_mismatches": sum(t.get("count", 0) for t in body["type_mismatches"]),
        "discrepancies": len(body.get("discrepancies", [])),
        "sources": body.get("sources", {}),
        "csv": str(paths.get("csv", "")),
    }


def main(spec_path: str) -> None:
    """Warm up once, time ``runs`` runs, write one JSON object to stdout."""
    spec = json.loads(Path(spec_path).read_text())
    settings = bench_settings(spec)
    # One registry for the process, as the aggregator keeps one; the allocator and
    # then the collector are set up as in the aggregator's gunicorn worker.
    use_one_allocator()
    registry = CompanyRegistry.from_file(settings.registry_path)
    tune_collector()
    walls, summary = [], {}
    try:
        for number in range(spec.get("warmup", 1) + spec.get("runs", 3)):
            wall, summary = run_once(spec, settings, registry)
            log.info("run %d: %.3fs", number, wall)
            if number >= spec.get("warmup", 1):
                walls.append(wall)
    except FinSyncError as exc:
        log.exception("run failed")
        summary = {"error": f"{type(exc).__name__}: {exc} {exc.details or ''}"}
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "walls": walls,
        "median_s": statistics.median(walls) if walls else None,
        "peak_rss_mib": peak_kib / 1024,
        **summary,
    }
    sys.stdout.write(json.dumps(out, default=str) + "\n")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    main(sys.argv[1])
