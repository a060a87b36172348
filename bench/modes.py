"""FinSync modes, each in its own child process (bench.agg_run) for timing and RSS."""

import contextlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 900
RSS_SAMPLE_S = 0.2
MODES = {
    "avg_pushdown": {"group_by": "company", "pushdown": True},
    "avg_rows": {"group_by": "company", "pushdown": False},
    "company_period": {"group_by": "company_period"},
}
LABELS = {
    "avg_pushdown": "FinSync per-company averages, pushdown",
    "avg_rows": "FinSync per-company averages, pushdown off (every row fetched)",
    "company_period": "FinSync per company and period (discrepancy checks on)",
}


def write_spec(path: Path, dataset, urls, payload, runs, warmup, env=None):
    """Write the JSON spec a child run reads (``env``: extra FINSYNC_* settings)."""
    spec = {
        "config": str(dataset.config_path),
        "urls": urls,
        "env": dict(env or {}),
        "out_dir": str(path.parent / "output"),
        "payload": {**payload, "formats": ["csv"]},
        "runs": runs,
        "warmup": warmup,
    }
    path.write_text(json.dumps(spec))
    return path


def child_command(spec_path: Path) -> list:
    """Return the argv that runs one mode in a child process."""
    return [sys.executable, "-m", "bench.agg_run", str(spec_path)]


def run_child(cmd: list, log_path: Path, timeout: float = CHILD_TIMEOUT_S) -> dict:
    """Run a child that prints one JSON line and return it; stderr goes to a log.

    The child's RSS is also sampled from outside, so a child killed at the time-out
    still reports how much memory it had reached (``peak_rss_sampled_mib``).
    """
    with open(log_path, "ab") as err:
        child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err)
        peak = _watch(child, timeout)
        out = child.stdout.read().decode()
        child.stdout.close()
    if child.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{cmd[-2]} failed ({child.returncode}):\n{tail}")
    return {**json.loads(out.strip().splitlines()[-1]), "peak_rss_sampled_mib": peak}


def _watch(child: subprocess.Popen, timeout: float) -> float:
    """Wait for ``child`` (kill it after ``timeout``); return its sampled peak RSS."""
    deadline, peak = time.monotonic() + timeout, 0
    proc = psutil.Process(child.pid)
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, proc.memory_info().rss)
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            raise ChildTimeout(timeout, peak / 2**20)
        time.sleep(RSS_SAMPLE_S)
    return peak / 2**20


class ChildTimeout(Exception):
    """A benchmark child ran past its time limit and was killed."""

    def __init__(self, timeout: float, peak_mib: float):
        super().__init__(f"did not finish within {timeout:.0f} s")
        self.peak_mib = peak_mib


def run_mode(mode, dataset, urls, work_dir, runs=3, warmup=1, timeout=None, env=None):
    """Run one FinSync mode; return the child's timings, peak RSS and result summary."""
    mode_dir = work_dir / mode
    mode_dir.mkdir(parents=True, exist_ok=True)
    spec = write_spec(
        mode_dir / "spec.json", dataset, urls, MODES[mode], runs, warmup, env
    )
    log.info("FinSync mode %s on %s", mode, dataset.directory.name)
    try:
        result = run_child(
            child_command(spec), mode_dir / "child.log", timeout or CHILD_TIMEOUT_S
        )
    except ChildTimeout as exc:
        result = {"error": str(exc), "peak_rss_sampled_mib": exc.peak_mib}
    return {"mode": mode, "label": LABELS[mode], **result}
