"""Machine and library details for RESULTS.md."""

import json
import os
import platform
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path

MAIN_LIBS = (
    "flask",
    "werkzeug",
    "gunicorn",
    "requests",
    "pandas",
    "numpy",
    "pyarrow",
    "rapidfuzz",
    "sqlglot",
    "duckdb",
)
BENCH_LIBS = ("datasette", "duckdb", "adbc-driver-sqlite", "pyarrow", "py-spy")
_VERSIONS_SNIPPET = (
    "import json, sys\nfrom importlib import metadata\nout = {}\n"
    "for name in sys.argv[1:]:\n    try:\n        out[name] = metadata.version(name)\n"
    "    except metadata.PackageNotFoundError:\n        out[name] = None\n"
    "print(json.dumps(out))"
)


def _cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    """Return total memory in GiB from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def versions(python: Path | None, names) -> dict:
    """Return installed versions of ``names`` in the interpreter ``python``."""
    if python is None or not Path(python).exists():
        return {}
    cmd = [str(python), "-c", _VERSIONS_SNIPPET, *names]
    done = subprocess.run(cmd, capture_output=True, timeout=60, check=True)
    return json.loads(done.stdout)


def git_state() -> str:
    """Return the checked-out commit and how many files differ from it."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'} ({len(changed)} tracked files modified)"


def describe(bench_python: Path | None) -> dict:
    """Return nproc, memory, CPU model, OS, Python and library versions."""
    main = {}
    for name in MAIN_LIBS:
        try:
            main[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            main[name] = None
    return {
        "nproc": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "cpu": _cpu_model(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "commit": git_state(),
        "main_libs": main,
        "bench_libs": versions(bench_python, BENCH_LIBS),
    }
