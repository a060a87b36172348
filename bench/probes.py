"""Once-per-run measurements: id resolution, /query throughput, fan-out."""

import json
import logging
import os
import random
import runpy
import sys
from dataclasses import asdict

from bench import modes, stack, throughput
from data_sources.statements import STATEMENTS

log = logging.getLogger(__name__)

RESOLVE_REGISTRY = 100_000
SMOKE_REGISTRY = 2_000
LOOKUP_COMPANIES = 2_000
THROUGHPUT_ROUNDS = 3
FANOUT_SLOW = "cash_flow"
FANOUT_DELAY_S = 1.0
GUNICORN_KEYS = ("workers", "threads", "worker_class", "keepalive", "backlog")


def run_resolve(options) -> dict:
    """Resolve distinct keys against a 100,000-company registry; then difflib."""
    from bench import resolve_bench

    size = SMOKE_REGISTRY if options.smoke else RESOLVE_REGISTRY
    ours = resolve_bench.measure(registry_size=size, n_keys=size, seed=options.seed)
    extra = {"n_keys": 20, "max_seconds": 5.0} if options.smoke else {}
    theirs = resolve_bench.measure_difflib(
        registry_size=size, seed=options.seed, **extra
    )
    return {"registry_size": size, "finsync": ours, "difflib": theirs}


def gunicorn_defaults() -> dict:
    """Return the worker settings that data_sources/gunicorn.conf.py gives."""
    if not stack.GUNICORN_CONF.exists():
        return {"note": "no data_sources/gunicorn.conf.py: gunicorn's own defaults"}
    values = runpy.run_path(str(stack.GUNICORN_CONF))
    return {key: values[key] for key in GUNICORN_KEYS if key in values}


def _lookup_ids(dataset, seed: int) -> list[str]:
    """Return a fixed random sample of registry ids to look up."""
    ids = [rec["id"] for rec in json.loads(dataset.registry_path.read_text())]
    return random.Random(seed).sample(ids, min(LOOKUP_COMPANIES, len(ids)))


def _best_round(rounds: list) -> dict:
    """Return the round with the median requests per second."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    return {**ordered[len(ordered) // 2], "rounds_rps": [r["rps"] for r in rounds]}


def _start_targets(dataset, logs, python) -> dict:
    """Start FinSync's pnl service and (if available) Datasette on the same file."""
    db_path = dataset.db_paths["pnl"]
    targets = {"finsync": stack.start_gunicorn("pnl", db_path, logs)}
    if python is not None:
        try:
            targets["datasette"] = stack.start_datasette(python, db_path, logs)
        except RuntimeError:
            stack.stop(targets["finsync"])
            raise
    return targets


def run_throughput(dataset, options, python) -> dict:
    """Probe FinSync's /query and Datasette on the same pnl.db in alternating rounds."""
    spec, ids = STATEMENTS["pnl"], _lookup_ids(dataset, options.seed)
    paths = {
        "finsync": throughput.finsync_paths(spec.table, spec.key_column, ids),
        "datasette": throughput.datasette_paths(
            dataset.db_paths["pnl"].stem, spec.table, spec.key_column, ids
        ),
    }
    logs = options.out_dir / "runs" / "throughput"
    targets = _start_targets(dataset, logs, python)
    rounds = {name: [] for name in targets}
    try:
        for name, service in targets.items():
            throughput.warm(service.url, paths[name])
        for _ in range(1 if options.smoke else THROUGHPUT_ROUNDS):
            for name, service in targets.items():
                result = throughput.probe(
                    service.url, paths[name], name, duration=options.throughput_seconds
                )
                rounds[name].append({**asdict(result), "load_avg": os.getloadavg()})
    finally:
        for service in targets.values():
            stack.stop(service)
    out = {"dataset": dataset.directory.name, "gunicorn": gunicorn_defaults()}
    out.update({name: _best_round(found) for name, found in rounds.items()})
    out.setdefault("datasette", {"skipped": "no bench venv (run without --no-venv)"})
    return out


def run_fanout(dataset, options) -> dict:
    """Slow one source down and compare the whole run with that source alone."""
    delay = 0.2 if options.smoke else FANOUT_DELAY_S
    work = options.out_dir / "runs" / "fanout"
    work.mkdir(parents=True, exist_ok=True)
    slow_app = f"bench.slow_app:create_app('{FANOUT_SLOW}', {delay})"
    overrides = {FANOUT_SLOW: {"app": slow_app, "name": f"{FANOUT_SLOW}-slow"}}
    logs, env = work / "logs", options.service_env
    args = options.gunicorn_args
    with stack.statement_services(dataset.db_paths, logs, overrides, env, args) as svc:
        spec = {
            "config": str(dataset.config_path),
            "env": options.agg_env,
            "urls": {slug: service.url for slug, service in svc.items()},
            "out_dir": str(work / "output"),
            "slow": FANOUT_SLOW,
            "slow_log": str(svc[FANOUT_SLOW].log_path),
            "delay_s": delay,
            "runs": options.runs,
        }
        spec_path = work / "spec.json"
        spec_path.write_text(json.dumps(spec))
        cmd = [sys.executable, "-m", "bench.fanout_bench", str(spec_path)]
        result = modes.run_child(cmd, work / "child.log")
    return {"dataset": dataset.directory.name, **result}
