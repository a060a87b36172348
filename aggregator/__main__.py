"""`python -m aggregator run|serve`: one aggregation from the shell, or the dev server.

Logging is configured here and nowhere else. The summary of ``run`` is the command's
product, so it goes to stdout; logs go to stderr.
"""

import argparse
import ipaddress
import logging
import sys
import time
from datetime import datetime, timezone

from aggregator.api import log_run
from aggregator.app import build_services, create_app
from aggregator.config import load_settings
from aggregator.errors import SourcesUnavailableError, UpstreamError
from aggregator.export import write_outputs
from aggregator.pipeline import run_aggregation
from aggregator.query import FORMATS, GROUP_BYS, parse_query, parse_where
from data_sources.errors import BadRequestError, ConfigError

log = logging.getLogger("aggregator")

EXIT_OK, EXIT_NO_SOURCE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for ``run`` and ``serve``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default FINSYNC_CONFIG)")
    common.add_argument("-v", "--verbose", action="store_true", help="log INFO")
    parser = argparse.ArgumentParser(prog="python -m aggregator")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", parents=[common], help="one aggregation to files")
    _add_run(run)
    serve = commands.add_parser("serve", parents=[common], help="the dev server")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address")
    serve.add_argument("--port", type=int, default=8000)
    return parser


def _add_run(run: argparse.ArgumentParser) -> None:
    run.add_argument("--companies", nargs="+", metavar="ID", help="default: all")
    run.add_argument("--fields", nargs="+", metavar="FIELD", help="default: all")
    run.add_argument(
        "--where", action="append", default=[], metavar="COND", help='"revenue>1e6"'
    )
    run.add_argument("--group-by", choices=GROUP_BYS, default="company")
    run.add_argument("--period-start", metavar="YYYY-MM-DD")
    run.add_argument("--period-end", metavar="YYYY-MM-DD")
    run.add_argument("--out", metavar="DIR", help="output folder (FINSYNC_OUTPUT_DIR)")
    run.add_argument("--format", action="append", choices=FORMATS, default=[])
    run.add_argument("--no-pushdown", action="store_true", help="fetch rows, not sums")
    run.add_argument("--auto-correct", action="store_true", help="fix query ids")
    run.add_argument("--require-all-sources", action="store_true")


def payload_from_args(args) -> dict:
    """Return the request body the ``run`` flags describe."""
    payload = {"group_by": args.group_by, "pushdown": not args.no_pushdown}
    payload["formats"] = list(dict.fromkeys(["csv", *args.format]))
    payload["auto_correct"] = args.auto_correct
    payload["require_all_sources"] = args.require_all_sources
    if args.companies:
        payload["companies"] = args.companies
    if args.fields:
        payload["fields"] = args.fields
    if args.where:
        payload["filters"] = [parse_where(text) for text in args.where]
    period = {"start": args.period_start, "end": args.period_end}
    if any(period.values()):
        payload["period"] = {k: v for k, v in period.items() if v}
    return payload


def run_command(args, out=None) -> int:
    """Run one aggregation, write its files and print where and what."""
    overrides = {"output_dir": args.out} if args.out else None
    settings = load_settings(args.config, overrides=overrides)
    query = parse_query(payload_from_args(args), settings)
    shared = build_services(settings)
    start = time.perf_counter()
    try:
        now = datetime.now(timezone.utc)
        result = run_aggregation(query, settings, shared.registry, shared.fetcher, now)
        paths = write_outputs(result, settings.output_dir, now, query.formats)
    finally:
        shared.fetcher.close()
    log_run(result, (time.perf_counter() - start) * 1000)
    (out or sys.stdout).write(summary(result, paths))
    return EXIT_OK


def summary(result, paths: dict) -> str:
    """Return the short report ``run`` prints: files, rows, fixes, missing sources."""
    down = sorted(n for n, s in result.sources.items() if s.get("status") != "ok")
    lines = [f"output: {paths['csv']}"]
    lines += [f"{kind}: {path}" for kind, path in paths.items() if kind != "csv"]
    lines.append(f"run id: {result.run_id}")
    lines.append(f"rows: {result.row_count}")
    lines.append(f"corrections: {len(result.corrections)}")
    lines.append(f"rejections: {len(result.rejections)}")
    lines.append(f"unavailable sources: {', '.join(down) or 'none'}")
    if not result.complete:
        lines.append("result is PARTIAL: some sources did not answer")
    return "\n".join(lines) + "\n"


def serve_command(args) -> int:
    """Run the Flask development server on a loopback address."""
    if not _is_loopback(args.host):
        log.error("--host must be a loopback address such as 127.0.0.1")
        return EXIT_USAGE
    app = create_app(load_settings(args.config))
    app.run(host=args.host, port=args.port, threaded=True)
    return EXIT_OK


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv=None) -> int:
    """Parse the command line, configure logging and run the command."""
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        if args.command == "serve":
            return serve_command(args)
        return run_command(args)
    except (ConfigError, BadRequestError) as exc:
        log.error("%s", exc.message)
        return EXIT_USAGE
    except (SourcesUnavailableError, UpstreamError) as exc:
        log.error("%s: %s", exc.message, _reasons(exc.details))
        return EXIT_NO_SOURCE


def _reasons(details) -> str:
    sources = (details or {}).get("sources") or {}
    return "; ".join(f"{n} {s['status']} ({s['reason']})" for n, s in sources.items())


if __name__ == "__main__":
    sys.exit(main())
