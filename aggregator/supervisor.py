"""Process supervision for the launcher: start, health-wait, watch and stop children.

Each child runs in its own session and process group, so the terminal's Ctrl-C reaches
only the launcher, which then stops every group itself: SIGTERM, a bounded wait, then
SIGKILL. On Linux a child is also told to die with the launcher (PR_SET_PDEATHSIG).
"""

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger("finsync.launcher")

POLL_INTERVAL = 0.25
HEALTH_REQUEST_TIMEOUT = 2.0
LOG_TAIL_LINES = 20
_PR_SET_PDEATHSIG = 1


@dataclass
class Running:
    """A started child: its name, process, base URL and log file."""

    name: str
    process: subprocess.Popen
    url: str
    log_path: Path


class StartupError(RuntimeError):
    """A child did not become healthy; ``failed`` holds the children at fault."""

    def __init__(self, message: str, failed: list):
        super().__init__(message)
        self.failed = failed


class StopRequest:
    """A flag set by the signal handler (threading.Event could deadlock there)."""

    def __init__(self):
        self.signal_name = None

    def set(self, signal_name: str = "stop") -> None:
        """Ask the launcher to stop."""
        self.signal_name = signal_name

    def is_set(self) -> bool:
        """Return True once a stop was asked for."""
        return self.signal_name is not None

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, less if a stop is asked; return is_set()."""
        deadline = time.monotonic() + timeout
        while not self.is_set() and time.monotonic() < deadline:
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
        return self.is_set()


def install_signal_handlers(stop: StopRequest) -> None:
    """Turn SIGINT and SIGTERM into a stop request, logged outside the handler."""

    def handler(signum, _frame):
        stop.set(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the launcher dies (no orphans)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def spawn(name: str, argv: list, cwd: Path, env: dict, url: str, log_path: Path):
    """Start ``argv`` in a new process group with output to ``log_path``; a Running."""
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    LOG.info("started %s (pid %d), log: %s", name, process.pid, log_path)
    return Running(name, process, url, log_path)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of the log at ``path``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip() or "(empty log)"
    except OSError:
        return "(no log)"


def is_healthy(url: str) -> bool:
    """Return True when ``url``/health answers 200 (directly: no HTTP proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=HEALTH_REQUEST_TIMEOUT) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(group: list, timeout: float, stop: StopRequest) -> None:
    """Wait until every child in ``group`` is healthy, or raise StartupError."""
    deadline = time.monotonic() + timeout
    pending = list(group)
    while pending and not stop.is_set():
        for item in list(pending):
            if item.process.poll() is not None:
                code = item.process.returncode
                raise StartupError(
                    f"{item.name} exited during start-up ({code})", [item]
                )
            if is_healthy(item.url):
                LOG.info("%s is healthy at %s", item.name, item.url)
                pending.remove(item)
        if pending and time.monotonic() > deadline:
            names = ", ".join(item.name for item in pending)
            message = f"no answer from /health within {timeout:g}s: {names}"
            raise StartupError(message, pending)
        if pending:
            stop.wait(POLL_INTERVAL)


def report_startup_error(error: StartupError) -> None:
    """Log why start-up failed, with the tail of each failing child's log."""
    LOG.error("start-up failed: %s", error)
    for item in error.failed:
        LOG.error("last lines of %s:\n%s", item.log_path, log_tail(item.log_path))


def _report_exit(item: Running) -> None:
    """Log that ``item`` exited on its own, with the tail of its log."""
    LOG.error(
        "%s exited unexpectedly (code %s); last lines of %s:\n%s",
        item.name,
        item.process.returncode,
        item.log_path,
        log_tail(item.log_path),
    )


def supervise(running: list, stop: StopRequest, critical=()) -> bool:
    """Wait for a stop request; False once a ``critical`` child (or every child) dies.

    A non-critical child that dies is reported and the others keep running, so a
    statement service going down shows up as a partial result, not a dead system.
    """
    watched = list(running)
    while not stop.wait(POLL_INTERVAL * 2):
        for item in [item for item in watched if item.process.poll() is not None]:
            _report_exit(item)
            if item.name in critical:
                return False
            watched.remove(item)
            LOG.warning("the other services keep running; Ctrl-C stops them")
        if not watched:
            return False
    return True


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the process group ``process`` leads, if it still exists."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(running: list, timeout: float) -> None:
    """SIGTERM each child's group, wait up to ``timeout``, then SIGKILL the rest."""
    for item in reversed(running):
        if item.process.poll() is None:
            LOG.info("stopping %s (pid %d)", item.name, item.process.pid)
        _signal_group(item.process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for item in reversed(running):
        try:
            item.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            LOG.warning("%s did not stop within %gs; killing it", item.name, timeout)
        # Workers outliving their master share its group: this reaches them too.
        _signal_group(item.process, signal.SIGKILL)
        item.process.wait()
    if running:
        LOG.info("all services stopped")
