"""py-spy profiles of missed targets: the aggregator child and the services it calls."""

import logging
import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

from bench import bench_env, modes, stack
from bench.report_sections import TARGET_SIZE, find_size

log = logging.getLogger(__name__)

RATE_HZ = 100
PROFILE_SECONDS = 120
TOP = 15
_LINE = re.compile(r" \(([^()]*?):\d+\)$")
PROFILED_MODES = ("avg_pushdown", "avg_rows")


def _frame_name(frame: str) -> str:
    """Drop the line number: ``f (path/x.py:12)`` -> ``f (x.py)``."""
    match = _LINE.search(frame)
    if not match:
        return frame
    return f"{frame[: match.start()]} ({Path(match.group(1)).name})"


def summarise(raw_path: Path, top: int = TOP) -> dict:
    """Return total samples and the top functions by self and inclusive samples."""
    own, inclusive, total = Counter(), Counter(), 0
    for line in raw_path.read_text(errors="replace").splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame_name(f) for f in stack_text.split(";") if f]
        samples = int(count)
        total += samples
        if frames:
            own[frames[-1]] += samples
        for name in set(frames):
            inclusive[name] += samples
    share = (lambda n: round(100 * n / total, 1)) if total else (lambda n: 0.0)
    return {
        "samples": total,
        "self": [(name, share(n)) for name, n in own.most_common(top)],
        "inclusive": [(name, share(n)) for name, n in inclusive.most_common(top)],
    }


def _record(pyspy: Path, pid: int, raw: Path, seconds: int, children: bool):
    """Start py-spy on a running process for at most ``seconds``."""
    cmd = [str(pyspy), "record", "-r", str(RATE_HZ), "-f", "raw", "-o", str(raw)]
    cmd += ["--duration", str(seconds), "--pid", str(pid)]
    if children:
        cmd.append("--subprocesses")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _finish(recorder: subprocess.Popen, raw: Path, wait_s: float) -> dict:
    """Wait for a py-spy recorder (SIGINT if it overruns) and summarise its file."""
    try:
        recorder.wait(wait_s)
    except subprocess.TimeoutExpired:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait(10)
    return summarise(raw) if raw.exists() else {"error": "no profile written"}


def profile_mode(mode, dataset, pyspy: Path, out_dir: Path, options) -> dict:
    """Sample one run of ``mode`` (its first seconds): aggregator and services."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds, logs = PROFILE_SECONDS, out_dir / "logs"
    env = options.service_env
    args = options.gunicorn_args
    with stack.statement_services(dataset.db_paths, logs, None, env, args) as services:
        urls = {slug: service.url for slug, service in services.items()}
        payload = modes.MODES[mode]
        spec = modes.write_spec(
            out_dir / "spec.json", dataset, urls, payload, 1, 0, options.agg_env
        )
        with open(out_dir / "child.log", "ab") as err:
            child = subprocess.Popen(
                modes.child_command(spec), cwd=modes.REPO, stdout=err, stderr=err
            )
        try:
            recorders = {
                "aggregator": _record(
                    pyspy, child.pid, out_dir / "aggregator.txt", seconds, False
                )
            }
            for slug, service in services.items():
                raw = out_dir / f"service-{slug}.txt"
                recorders[slug] = _record(
                    pyspy, service.process.pid, raw, seconds, True
                )
            out = {
                name: _finish(rec, out_dir / _raw_name(name), seconds + 30)
                for name, rec in recorders.items()
            }
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(30)
    return {"mode": mode, "seconds": seconds, **out}


def _raw_name(name: str) -> str:
    return "aggregator.txt" if name == "aggregator" else f"service-{name}.txt"


def profile_misses(results: dict, datasets: list, options, python) -> dict:
    """Profile every FinSync mode whose target was missed (or all, if asked)."""
    pyspy = bench_env.tool("py-spy")
    if pyspy is None:
        return {"skipped": "py-spy is not installed in bench/.venv"}
    missed = {
        mode
        for mode in PROFILED_MODES
        for v in results["targets"]
        if mode in v["target"] and v["verdict"] == "missed"
    }
    if options.profile == "always":
        missed = set(PROFILED_MODES)
    entry_size = TARGET_SIZE if find_size(results, TARGET_SIZE) else None
    dataset = next(
        (d for d in datasets if (d.n_companies, d.n_periods) == entry_size),
        datasets[-1] if datasets else None,
    )
    if not missed or dataset is None:
        return {}
    out_dir = options.out_dir / "profiles"
    return {
        mode: profile_mode(mode, dataset, pyspy, out_dir / mode, options)
        for mode in sorted(missed)
    }
