"""The benchmark's own virtualenv (bench/.venv) for Datasette, DuckDB and py-spy."""

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

BENCH_DIR = Path(__file__).resolve().parent
VENV_DIR = BENCH_DIR / ".venv"
REQUIREMENTS = BENCH_DIR / "requirements.txt"
STAMP_NAME = ".requirements-sha256"
INSTALL_TIMEOUT_S = 900


def _digest() -> str:
    """Return the hash of bench/requirements.txt, to know when to reinstall."""
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _base_python() -> str:
    """Return the interpreter the main venv was made from."""
    return getattr(sys, "_base_executable", None) or sys.executable


def python_path(venv: Path = VENV_DIR) -> Path:
    """Return the venv's interpreter path."""
    return venv / "bin" / "python"


def is_ready(venv: Path = VENV_DIR) -> bool:
    """True when the venv exists and matches bench/requirements.txt."""
    stamp = venv / STAMP_NAME
    return (
        python_path(venv).exists() and stamp.exists() and stamp.read_text() == _digest()
    )


def ensure(venv: Path = VENV_DIR) -> Path:
    """Create or update the benchmark venv; return its interpreter."""
    if is_ready(venv):
        return python_path(venv)
    log.info("setting up %s from %s", venv, REQUIREMENTS)
    if not python_path(venv).exists():
        subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True)
    pip = [str(python_path(venv)), "-m", "pip", "install", "-q"]
    pip += ["--disable-pip-version-check", "-r", str(REQUIREMENTS)]
    subprocess.run(pip, check=True, timeout=INSTALL_TIMEOUT_S)
    (venv / STAMP_NAME).write_text(_digest())
    return python_path(venv)


def tool(name: str, venv: Path = VENV_DIR) -> Path | None:
    """Return the path of a console script in the venv, or None if missing."""
    path = venv / "bin" / name
    return path if path.exists() else None
