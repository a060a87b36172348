"""What `make run` starts and with which settings: services, commands, ports, folders.

The gunicorn commands defined here are the ones the containers run too
(docker-compose.yml and the thin Dockerfiles; tests/test_compose.py holds them equal).
"""

import argparse
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from data_sources.statements import STATEMENTS

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_HEALTH_TIMEOUT = 60.0
DEFAULT_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the system: its gunicorn app, config file and default port."""

    name: str
    app: str
    gunicorn_config: str
    default_port: int
    needs_database: bool

    @property
    def port_env(self) -> str:
        """The environment variable that overrides this service's port."""
        return f"FINSYNC_{self.name.upper()}_PORT"

    @property
    def port_flag(self) -> str:
        """The command-line flag that overrides this service's port."""
        return "--" + self.name.replace("_", "-") + "-port"


AGGREGATOR = ServiceSpec(
    name="aggregator",
    app="aggregator.app:create_app()",
    gunicorn_config="aggregator/gunicorn.conf.py",
    default_port=8000,
    needs_database=False,
)

SERVICES = {
    **{
        spec.slug: ServiceSpec(
            name=spec.slug,
            app=f"data_sources.service:create_app({spec.slug!r})",
            gunicorn_config="data_sources/gunicorn.conf.py",
            default_port=spec.default_port,
            needs_database=True,
        )
        for spec in STATEMENTS.values()
    },
    AGGREGATOR.name: AGGREGATOR,
}


def address(host: str, port: int) -> str:
    """Return ``host:port``, with an IPv6 host in brackets as URLs and gunicorn want."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_command(name: str, host: str, port: int, python: str = "python") -> list:
    """Return the argv that serves ``name`` under gunicorn (containers use the same)."""
    spec = SERVICES[name]
    return [
        python,
        "-m",
        "gunicorn",
        "--config",
        spec.gunicorn_config,
        "--bind",
        address(host, port),
        spec.app,
    ]


def init_db_command(data_dir: str, python: str = "python") -> list:
    """Return the argv that creates the statement databases from the sample data."""
    return [python, "-m", "data_sources.init_db", "--data-dir", data_dir]


@dataclass(frozen=True)
class LaunchConfig:
    """Everything the launcher needs, resolved from flags, then env, then defaults."""

    host: str
    ports: dict
    data_dir: Path
    log_dir: Path
    health_timeout: float
    stop_timeout: float
    services: tuple


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser; every flag has a FINSYNC_* env equivalent."""
    parser = argparse.ArgumentParser(
        prog="python -m aggregator.launcher",
        description="Start the FinSync services and the aggregator; Ctrl-C stops all.",
    )
    parser.add_argument("--host", help="loopback address to bind (FINSYNC_HOST)")
    for spec in SERVICES.values():
        parser.add_argument(
            spec.port_flag,
            type=int,
            dest=f"{spec.name}_port",
            help=f"port of {spec.name} ({spec.port_env}, default {spec.default_port})",
        )
    parser.add_argument("--data-dir", help="database folder (FINSYNC_DATA_DIR)")
    parser.add_argument("--log-dir", help="service logs (FINSYNC_LOG_DIR)")
    parser.add_argument("--health-timeout", type=float, help="seconds to wait")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(SERVICES),
        help="start only this service (repeatable)",
    )
    return parser


def _pick(flag_value, env: dict, env_name: str, default):
    """Return the flag if given, else the env var if set, else the default."""
    if flag_value is not None:
        return flag_value
    return env.get(env_name) or default


def _port(value, source: str) -> int:
    """Return ``value`` as a TCP port or raise ValueError naming where it came from."""
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a port number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{source} must be between 1 and 65535, got {port}")
    return port


def _seconds(value, source: str) -> float:
    """Return ``value`` as a positive number of seconds or raise ValueError."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(
            f"{source} must be a positive number of seconds, got {value!r}"
        )
    return seconds


def _check_host(host: str) -> str:
    """Return ``host`` if it is a loopback address, else raise ValueError."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"FINSYNC_HOST must be a loopback address such as 127.0.0.1, got {host!r}"
            " (to expose FinSync elsewhere, use docker compose)"
        )
    return host


def read_env_file(path: Path) -> dict:
    """Return the ``KEY=value`` lines of a .env file (as docker compose reads it)."""
    values = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def launch_environment(env=None) -> dict:
    """Return the process environment over the repository's .env (the shell wins)."""
    return {**read_env_file(REPO_ROOT / ".env"), **(os.environ if env is None else env)}


def resolve_config(argv=None, env=None) -> LaunchConfig:
    """Return the launch settings from ``argv`` and ``env``; ValueError if invalid."""
    env = launch_environment() if env is None else env
    args = build_parser().parse_args(argv)
    ports = {}
    for spec in SERVICES.values():
        given = getattr(args, f"{spec.name}_port")
        source = spec.port_flag if given is not None else spec.port_env
        ports[spec.name] = _port(
            _pick(given, env, spec.port_env, spec.default_port), source
        )
    data_dir = Path(_pick(args.data_dir, env, "FINSYNC_DATA_DIR", "data")).resolve()
    log_dir = Path(_pick(args.log_dir, env, "FINSYNC_LOG_DIR", data_dir / "logs"))
    timeout = _pick(
        args.health_timeout, env, "FINSYNC_HEALTH_TIMEOUT", DEFAULT_HEALTH_TIMEOUT
    )
    return LaunchConfig(
        host=_check_host(_pick(args.host, env, "FINSYNC_HOST", DEFAULT_HOST)),
        ports=ports,
        data_dir=data_dir,
        log_dir=log_dir.resolve(),
        health_timeout=_seconds(timeout, "FINSYNC_HEALTH_TIMEOUT"),
        stop_timeout=DEFAULT_STOP_TIMEOUT,
        services=tuple(dict.fromkeys(args.only or SERVICES)),
    )
