"""One benchmark run: sizes, modes, baselines, resolve, throughput, fan-out."""

import json
import logging
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import baselines, bench_env, machine, modes, report, scale_data, stack
from bench.probes import run_fanout, run_resolve, run_throughput
from bench.profiles import profile_misses

log = logging.getLogger(__name__)

SECTIONS = ("modes", "baselines", "resolve", "throughput", "fanout")
FAILURES = (RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError)


@dataclass(frozen=True)
class BenchOptions:
    """What to run and where to write it."""

    sizes: list
    sections: tuple
    runs: int
    warmup: int
    seed: int
    out_dir: Path
    results_path: Path | None
    use_venv: bool
    profile: str
    throughput_seconds: float
    mode_timeout: float
    service_env: dict
    agg_env: dict
    gunicorn_args: tuple
    label: str
    smoke: bool
    command: str


def guarded(name: str, func, *args, **kwargs) -> dict:
    """Run one measurement; a failure is recorded in the results, not raised."""
    try:
        return func(*args, **kwargs)
    except FAILURES as exc:
        log.exception("%s failed", name)
        return {"error": f"{type(exc).__name__}: {str(exc)[-1500:]}"}


def bench_python(options: BenchOptions) -> Path | None:
    """Return the bench venv interpreter, creating it unless told not to."""
    if options.use_venv:
        return bench_env.ensure()
    return bench_env.python_path() if bench_env.is_ready() else None


def run_size(dataset, options: BenchOptions, python: Path | None) -> dict:
    """Run the FinSync modes and the baselines on one generated size."""
    work = options.out_dir / "runs" / dataset.directory.name
    work.mkdir(parents=True, exist_ok=True)
    entry = {
        "n": dataset.n_companies,
        "p": dataset.n_periods,
        "rows": dataset.rows,
        "modes": {},
        "baselines": {},
    }
    logs, env, args = work / "logs", options.service_env, options.gunicorn_args
    with stack.statement_services(dataset.db_paths, logs, None, env, args) as services:
        urls = {slug: service.url for slug, service in services.items()}
        if "modes" in options.sections:
            for mode in modes.MODES:
                entry["modes"][mode] = guarded(
                    mode,
                    modes.run_mode,
                    mode,
                    dataset,
                    urls,
                    work,
                    runs=options.runs,
                    warmup=options.warmup,
                    timeout=options.mode_timeout,
                    env=options.agg_env,
                )
        if "baselines" in options.sections:
            _run_baselines(entry, dataset, urls, work, options, python)
    return entry


def _run_baselines(entry, dataset, urls, work, options, python) -> None:
    """Add the DuckDB floor, the agreement check and seed-style to ``entry``."""
    keymap = guarded("keymap", baselines.finsync_keymap, dataset, work)
    if "error" in keymap:
        entry["baselines"]["duckdb"] = keymap
        return
    keymap_path, entry["resolution_accuracy"] = keymap
    duck = guarded(
        "duckdb",
        baselines.run_duckdb,
        dataset,
        keymap_path,
        baselines.floor_python(python),
        work,
        options.runs,
    )
    entry["baselines"]["duckdb"] = duck
    entry["agreement"] = {}
    for mode in ("avg_pushdown", "avg_rows"):
        csv = entry["modes"].get(mode, {}).get("csv")
        if csv and "csv" in duck:
            entry["agreement"][mode] = guarded(
                "agreement", baselines.compare_averages, csv, duck["csv"]
            )
    entry["baselines"]["seed_style"] = guarded(
        "seed-style", baselines.run_seed_style, dataset, urls, work, options.runs
    )


def run_all(options: BenchOptions) -> str:
    """Run everything asked for, write results.json (+ RESULTS.md); return the table."""
    options.out_dir.mkdir(parents=True, exist_ok=True)
    python = bench_python(options)
    results = {
        "command": options.command,
        "machine": machine.describe(python),
        "options": {**asdict(options), "out_dir": str(options.out_dir)},
        "sizes": [],
    }
    results["options"]["results_path"] = str(options.results_path)
    datasets = []
    for n_companies, n_periods in options.sizes:
        dataset = scale_data.load_or_generate(
            options.out_dir / "data" / f"{n_companies}x{n_periods}",
            n_companies,
            n_periods,
            options.seed,
        )
        datasets.append(dataset)
        if {"modes", "baselines"} & set(options.sections):
            results["sizes"].append(run_size(dataset, options, python))
            _save_json(results, options)
    _run_singles(results, datasets, options, python)
    results["targets"] = report.verdicts(results)
    if options.profile != "never":
        results["profiles"] = guarded(
            "profiles", profile_misses, results, datasets, options, python
        )
    _save(results, options)
    return report.render_table(results)


def _run_singles(results, datasets, options, python) -> None:
    """Run the measurements that happen once per run, not per size."""
    if "resolve" in options.sections:
        results["resolve"] = guarded("resolve", run_resolve, options)
    if "throughput" in options.sections and datasets:
        results["throughput"] = guarded(
            "throughput", run_throughput, datasets[-1], options, python
        )
    if "fanout" in options.sections and datasets:
        results["fanout"] = guarded("fanout", run_fanout, datasets[0], options)


def _save_json(results: dict, options: BenchOptions) -> Path:
    """Write (or rewrite) results.json in the output folder."""
    path = options.out_dir / "results.json"
    path.write_text(json.dumps(results, indent=1, default=str))
    return path


def _save(results: dict, options: BenchOptions) -> None:
    """Write results.json and, when asked, the generated part of RESULTS.md."""
    log.info("results in %s", _save_json(results, options))
    if options.results_path:
        report.write_results(options.results_path, results, options.label)
        log.info("updated %s", options.results_path)
