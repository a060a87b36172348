"""`python -m aggregator.launcher`: run the whole FinSync system locally (`make run`).

Starts the three statement services and the aggregator under gunicorn, with the same
commands the containers run, waits for every `/health`, logs the dashboard URL and
stops everything cleanly on Ctrl-C or SIGTERM.
"""

import logging
import socket
import subprocess
import sys
from pathlib import Path

from aggregator.config import load_settings
from aggregator.launch_settings import (
    AGGREGATOR,
    REPO_ROOT,
    SERVICES,
    LaunchConfig,
    address,
    gunicorn_command,
    init_db_command,
    launch_environment,
    resolve_config,
)
from aggregator.supervisor import (
    LOG_TAIL_LINES,
    Running,
    StartupError,
    StopRequest,
    install_signal_handlers,
    report_startup_error,
    spawn,
    stop_all,
    supervise,
    wait_healthy,
)
from data_sources.errors import ConfigError
from data_sources.statements import STATEMENTS

LOG = logging.getLogger("finsync.launcher")

INIT_DB_TIMEOUT = 300.0
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def port_in_use(host: str, port: int) -> bool:
    """Return True when nothing can listen on ``host:port`` (as gunicorn would)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # gunicorn sets SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def port_problems(config: LaunchConfig) -> list:
    """Return one plain message per port that is taken or configured twice."""
    problems, seen = [], {}
    for name in config.services:
        port, spec = config.ports[name], SERVICES[name]
        hint = f"set {spec.port_env}=<free port> or pass {spec.port_flag} <free port>"
        if port in seen:
            problems.append(
                f"port {port} is configured for both {seen[port]} and {name}; {hint}"
            )
        elif port_in_use(config.host, port):
            problems.append(
                f"port {port} ({name}) on {config.host} is already in use; stop what"
                f" is listening there (e.g. `ss -ltnp 'sport = :{port}'`) or {hint}"
            )
        seen.setdefault(port, name)
    return problems


def missing_databases(data_dir: Path) -> list:
    """Return the statement slugs whose database file is missing from ``data_dir``."""
    return [slug for slug in STATEMENTS if not (data_dir / f"{slug}.db").is_file()]


def ensure_databases(data_dir: Path) -> None:
    """Create the statement databases from the sample data if any is missing."""
    missing = missing_databases(data_dir)
    if not missing:
        LOG.info("databases found in %s", data_dir)
        return
    LOG.info("creating databases in %s (missing: %s)", data_dir, ", ".join(missing))
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        init_db_command(str(data_dir), sys.executable),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=INIT_DB_TIMEOUT,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-LOG_TAIL_LINES:])
        raise RuntimeError(f"database initialisation failed:\n{tail}")


def child_env(config: LaunchConfig, name: str, env=None) -> dict:
    """Return the environment for service ``name``: data dir and the sources' URLs."""
    child = launch_environment() if env is None else dict(env)
    child.pop("FINSYNC_DB_PATH", None)  # one path cannot serve three statements
    child["FINSYNC_DATA_DIR"] = str(config.data_dir)
    child["PYTHONUNBUFFERED"] = "1"
    if name in STATEMENTS:
        child["FINSYNC_STATEMENT"] = name
    else:
        for slug in STATEMENTS:
            url = f"http://{address(config.host, config.ports[slug])}"
            child[f"FINSYNC_{slug.upper()}_URL"] = url
    return child


def start_service(config: LaunchConfig, name: str) -> Running:
    """Start ``name`` under gunicorn in its own process group, output to its log."""
    port = config.ports[name]
    return spawn(
        name,
        gunicorn_command(name, config.host, port, sys.executable),
        cwd=REPO_ROOT,
        env=child_env(config, name),
        url=f"http://{address(config.host, port)}",
        log_path=config.log_dir / f"{name}.log",
    )


def start_groups(config: LaunchConfig) -> list:
    """Return the services to start in order: statement services, then aggregator."""
    first = [name for name in config.services if name in STATEMENTS]
    second = [name for name in config.services if name not in STATEMENTS]
    return [group for group in (first, second) if group]


def start_and_wait(config: LaunchConfig, running: list, stop: StopRequest) -> None:
    """Start each group of services and wait for its health before the next."""
    for names in start_groups(config):
        group = [start_service(config, name) for name in names]
        running.extend(group)
        wait_healthy(group, config.health_timeout, stop)
        if stop.is_set():
            return


def announce(config: LaunchConfig) -> None:
    """Log where FinSync answers: the dashboard URL, or each service's URL."""
    for name in config.services:
        LOG.info("%s: http://%s", name, address(config.host, config.ports[name]))
    if AGGREGATOR.name in config.services:
        port = config.ports[AGGREGATOR.name]
        url = f"http://{address(config.host, port)}/"
        LOG.info("FinSync is up: dashboard at %s", url)
    LOG.info("press Ctrl-C to stop")


def preflight_problems(config: LaunchConfig) -> list:
    """Return what would stop the system from starting: taken ports, a bad config."""
    problems = port_problems(config)
    if AGGREGATOR.name in config.services:
        try:
            load_settings(env=child_env(config, AGGREGATOR.name))
        except ConfigError as error:
            problems.append(f"invalid aggregator configuration: {error}")
    return problems


def run(config: LaunchConfig, stop: StopRequest) -> int:
    """Start everything, supervise until stopped, always stop what was started."""
    problems = preflight_problems(config)
    if problems:
        for problem in problems:
            LOG.error("%s", problem)
        LOG.error("nothing was started")
        return EXIT_USAGE
    if any(SERVICES[name].needs_database for name in config.services):
        ensure_databases(config.data_dir)
    config.log_dir.mkdir(parents=True, exist_ok=True)
    running = []
    try:
        start_and_wait(config, running, stop)
        if stop.is_set():
            return EXIT_OK
        announce(config)
        healthy = supervise(running, stop, critical={AGGREGATOR.name})
        return EXIT_OK if healthy else EXIT_FAILED
    except StartupError as error:
        report_startup_error(error)
        return EXIT_FAILED
    finally:
        if stop.is_set():
            LOG.info("received %s, shutting down", stop.signal_name)
        stop_all(running, config.stop_timeout)


def main(argv=None) -> int:
    """Entry point of `make run`; returns the process exit code."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = resolve_config(argv)
    except ValueError as error:
        LOG.error("%s", error)
        return EXIT_USAGE
    stop = StopRequest()
    install_signal_handlers(stop)
    try:
        return run(config, stop)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        LOG.error("%s", error)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
