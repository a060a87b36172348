"""Past runs: list manifests, read one, resolve a download path inside out_dir."""

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from aggregator.export import PREFIX
from data_sources.errors import BadRequestError, NotFoundError

log = logging.getLogger(__name__)

RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")
MANIFEST_NAME = re.compile(
    r"^aggregated_results_(\d{8}_\d{6})_([0-9a-f]{12})_manifest\.json$"
)
#: Downloadable kinds (keys of the manifest's ``files``, plus the manifest) -> mimetype.
DOWNLOADS = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "rejected": "text/csv",
    "manifest": "application/json",
}
SUMMARY_KEYS = ("run_id", "created_at", "row_count", "complete", "query")


@dataclass(frozen=True)
class Download:
    """A file a client may fetch: its path, mimetype and download name."""

    path: Path
    mimetype: str
    name: str


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if it has the exact shape run ids have, else raise 404."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise NotFoundError("No run with that id")
    return run_id


def check_format(fmt: str) -> str:
    """Return ``fmt`` if it is a downloadable kind, else raise 400."""
    if fmt not in DOWNLOADS:
        allowed = ", ".join(DOWNLOADS)
        raise BadRequestError(f"format must be one of: {allowed}")
    return fmt


def manifest_paths(out_dir) -> list:
    """Return every manifest in ``out_dir``, newest first."""
    root = Path(out_dir)
    if not root.is_dir():
        return []
    found = []
    for entry in os.scandir(root):
        match = MANIFEST_NAME.fullmatch(entry.name)
        if not match or not entry.is_file(follow_symlinks=False):
            continue
        stat = entry.stat()
        if stat.st_size:  # empty: a run whose manifest is still being written
            found.append((match.group(1), stat.st_mtime_ns, Path(entry.path)))
    return [path for *_, path in sorted(found, reverse=True)]


def list_manifests(out_dir, limit: int = 100) -> list:
    """Return the newest ``limit`` readable manifests, newest first."""
    manifests = []
    for path in manifest_paths(out_dir):
        if len(manifests) >= limit:
            break
        manifest = _load(path)
        if manifest is not None:
            manifests.append(manifest)
    return manifests


def summarize(manifest: dict) -> dict:
    """Return the summary of a run the runs list shows."""
    return {key: manifest.get(key) for key in SUMMARY_KEYS}


def download_kinds(manifest: dict) -> list:
    """Return the kinds a run offers for download, in ``DOWNLOADS`` order.

    A manifest without a well-formed run id offers none: no URL could reach it.
    """
    run_id = manifest.get("run_id")
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        return []
    files = manifest.get("files")
    written = set(files) if isinstance(files, dict) else set()
    return [kind for kind in DOWNLOADS if kind in written or kind == "manifest"]


def find_manifest(out_dir, run_id: str) -> Path:
    """Return the manifest path of ``run_id`` or raise 404."""
    check_run_id(run_id)
    root = Path(out_dir)
    found = root.glob(f"{PREFIX}*_{run_id}_manifest.json") if root.is_dir() else []
    matches = [path for path in found if path.is_file() and not path.is_symlink()]
    if len(matches) != 1:
        raise NotFoundError("No run with that id")
    return matches[0]


def read_run(out_dir, run_id: str) -> dict:
    """Return the manifest of ``run_id`` or raise 404."""
    manifest = _load(find_manifest(out_dir, run_id))
    if manifest is None:
        raise NotFoundError("No run with that id")
    return manifest


def resolve_download(out_dir, run_id: str, fmt: str) -> Download:
    """Return the file of ``run_id`` in ``fmt``; refuse anything outside ``out_dir``."""
    check_format(fmt)
    if fmt == "manifest":
        name = find_manifest(out_dir, run_id).name
    else:
        name = _file_name(read_run(out_dir, run_id), run_id, fmt)
    path = _inside(out_dir, name)
    return Download(path, DOWNLOADS[fmt], path.name)


def _file_name(manifest: dict, run_id: str, fmt: str) -> str:
    entry = (manifest.get("files") or {}).get(fmt)
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise NotFoundError(f"Run {run_id} has no {fmt} output")
    return entry["name"]


def _inside(out_dir, name: str) -> Path:
    """Return the real path of ``name`` in ``out_dir`` if it stays inside it."""
    root = os.path.realpath(out_dir)
    target = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, target]) != root or target == root:
        raise NotFoundError("No such output file")
    if not os.path.isfile(target) or not os.path.basename(target).startswith(PREFIX):
        raise NotFoundError("No such output file")
    return Path(target)


def _load(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        log.warning("unreadable manifest %s: %s", path.name, exc)
        return None
    return manifest if isinstance(manifest, dict) else None
