"""Start and stop the statement services (gunicorn) and Datasette on loopback."""

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
GUNICORN_CONF = REPO / "data_sources" / "gunicorn.conf.py"
READY_TIMEOUT_S = 60.0


@dataclass
class Service:
    """A server process we started, with its base URL and log file."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _spawn(name: str, cmd: list, env: dict, log_dir: Path, port: int) -> Service:
    """Start ``cmd`` with output to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as handle:
        process = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, **env}, stdout=handle, stderr=handle
        )
    return Service(name, f"http://{HOST}:{port}", process, log_path)


def wait_ready(service: Service, path: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll ``path`` until it answers 200; raise if the process dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            tail = service.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{service.name} exited early:\n{tail}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(service.url + path, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} not ready within {timeout:.0f}s")


def start_gunicorn(
    slug, db_path, log_dir, app=None, name=None, env=None, extra_args=()
) -> Service:
    """Start one statement service under gunicorn with the default settings file."""
    port = free_port()
    target = app or f"data_sources.service:create_app('{slug}')"
    cmd = [sys.executable, "-m", "gunicorn", *extra_args, "--bind", f"{HOST}:{port}"]
    if GUNICORN_CONF.exists():
        cmd[3:3] = ["--config", str(GUNICORN_CONF)]
    variables = {"FINSYNC_STATEMENT": slug, "FINSYNC_DB_PATH": str(db_path)}
    service = _spawn(
        name or slug, cmd + [target], {**variables, **(env or {})}, log_dir, port
    )
    wait_ready(service, "/health")
    return service


def start_datasette(python: Path, db_path: Path, log_dir: Path) -> Service:
    """Serve ``db_path`` read-only with Datasette from the benchmark venv."""
    port = free_port()
    cmd = [str(python), "-m", "datasette", "serve", "--immutable", str(db_path)]
    cmd += ["-p", str(port), "-h", HOST]
    service = _spawn(f"datasette-{db_path.stem}", cmd, {}, log_dir, port)
    wait_ready(service, "/-/versions.json")
    return service


def stop(service: Service, timeout: float = 15.0) -> None:
    """Terminate a server we started, killing it if it does not stop in time."""
    if service.process.poll() is None:
        service.process.terminate()
        try:
            service.process.wait(timeout)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait(timeout)


@contextlib.contextmanager
def statement_services(db_paths, log_dir: Path, overrides=None, env=None, args=()):
    """Run the three services on ``db_paths``; yield slug -> Service; stop them."""
    started = {}
    try:
        for slug, db_path in db_paths.items():
            kwargs = {"env": env, "extra_args": args, **(overrides or {}).get(slug, {})}
            started[slug] = start_gunicorn(slug, db_path, log_dir, **kwargs)
        yield started
    finally:
        for service in started.values():
            stop(service)
