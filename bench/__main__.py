"""``python -m bench``: FinSync at scale beside DuckDB, seed-style and Datasette."""

import argparse
import logging
import signal
import sys
from pathlib import Path

from bench.runner import SECTIONS, BenchOptions, run_all

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_SIZES = "1000x8,10000x8,100000x12"
SMOKE_SIZE = "60x4"


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """Parse ``1000x8,10000x8`` into ``[(1000, 8), (10000, 8)]``."""
    sizes = []
    for item in text.split(","):
        companies, _, periods = item.strip().lower().partition("x")
        sizes.append((int(companies), int(periods)))
    return sizes


def _pairs(items: list[str]) -> dict:
    """Parse ``KEY=VALUE`` items; only FINSYNC_* settings are accepted."""
    pairs = dict(item.split("=", 1) for item in items)
    bad = [key for key in pairs if not key.startswith("FINSYNC_")]
    if bad:
        raise SystemExit(f"not a FINSYNC_* setting: {', '.join(bad)}")
    return pairs


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="NxP,NxP,...")
    parser.add_argument("--smoke", action="store_true", help=f"tiny run ({SMOKE_SIZE})")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--results", type=Path, help="RESULTS.md to update")
    parser.add_argument("--label", default="main", help="RESULTS.md block name")
    parser.add_argument("--no-venv", action="store_true", help="no bench/.venv setup")
    parser.add_argument("--profile", choices=("auto", "always", "never"))
    parser.add_argument("--throughput-seconds", type=float, default=10.0)
    parser.add_argument("--mode-timeout", type=float, default=900.0, help="seconds")
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="FINSYNC_X=V",
        help="setting for the statement services in the scale runs (repeatable)",
    )
    parser.add_argument(
        "--gunicorn-arg",
        action="append",
        default=[],
        metavar="--OPTION=V",
        help="extra gunicorn option for the statement services in the scale runs",
    )
    parser.add_argument(
        "--agg-env",
        action="append",
        default=[],
        metavar="FINSYNC_X=V",
        help="setting for the aggregator in the scale runs (repeatable)",
    )
    return parser


def options_from(args: argparse.Namespace, argv: list[str]) -> BenchOptions:
    """Turn parsed arguments into BenchOptions (smoke overrides sizes and timings)."""
    smoke = args.smoke
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
    return BenchOptions(
        sizes=parse_sizes(SMOKE_SIZE if smoke else args.sizes),
        sections=sections,
        runs=1 if smoke else max(3, args.runs),
        warmup=0 if smoke else 1,
        seed=args.seed,
        out_dir=args.out / "smoke" if smoke else args.out,
        results_path=args.results or (None if smoke else BENCH_DIR / "RESULTS.md"),
        use_venv=not args.no_venv,
        profile=args.profile or ("never" if smoke else "auto"),
        throughput_seconds=1.0 if smoke else args.throughput_seconds,
        mode_timeout=240.0 if smoke else args.mode_timeout,
        service_env=_pairs(args.service_env),
        agg_env=_pairs(args.agg_env),
        gunicorn_args=tuple(args.gunicorn_arg),
        label=args.label,
        smoke=smoke,
        command="python -m bench " + " ".join(argv),
    )


def _exit_on_term(signum, _frame) -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop the servers."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the results table goes to stdout."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    options = options_from(build_parser().parse_args(argv), argv)
    # A background job ignores SIGINT; SIGTERM must still stop our servers cleanly.
    signal.signal(signal.SIGTERM, _exit_on_term)
    sys.stdout.write(run_all(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
