"""Deterministic sample data for the statement services, plus registry and config.

``python -m data_sources.sample_data [--out-dir DIR] [--seed N]`` writes, under DIR
(the repository root by default), ``data_sources/<slug>/sample.json`` per statement,
``data_sources/companies.json`` (the registry), ``data_sources/sample_manifest.json``
(every deliberate anomaly) and the root ``config.json``. All randomness comes from one
``random.Random(seed)``, so a seed always gives byte-identical files. The generator is
split by job: ``sample_tables`` (the data), ``sample_registry`` (registry and config),
``sample_simulation`` (consistent statements in cents), ``sample_native`` (vendor
formats) and ``sample_mess`` (the anomalies); this module renders and writes the files.
SAMPLE_DATA.md describes the data and its deliberate mess.
"""

import argparse
import json
import logging
from pathlib import Path

from data_sources.sample_mess import SampleBuilder
from data_sources.sample_registry import build_config
from data_sources.statements import STATEMENTS

LOG = logging.getLogger(__name__)

SEED = 20240930
REPO_ROOT = Path(__file__).resolve().parent.parent


def dump_rows(rows: list[dict]) -> str:
    """Serialize a list of objects as JSON, one object per line."""
    return "[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n"


def dump_manifest(manifest: dict) -> str:
    """Serialize the manifest as JSON with one list entry per line."""
    parts = []
    for key, value in manifest.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            entries = ",\n    ".join(json.dumps(entry) for entry in value)
            parts.append(f"  {json.dumps(key)}: [\n    {entries}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def sample_file(slug: str) -> str:
    """Return the path of ``slug``'s sample.json relative to the repository root."""
    return STATEMENTS[slug].sample_path.relative_to(REPO_ROOT).as_posix()


def render(builder: SampleBuilder) -> dict[str, str]:
    """Return every output file's text keyed by its path relative to the root."""
    rows = builder.rows
    files = {sample_file(slug): dump_rows(list(rows[slug].values())) for slug in rows}
    counts = {slug: len(slug_rows) for slug, slug_rows in rows.items()}
    files["data_sources/companies.json"] = dump_rows(builder.companies)
    manifest = {**builder.manifest, "row_counts": counts}
    files["data_sources/sample_manifest.json"] = dump_manifest(manifest)
    config = build_config(list(builder.by_id))
    files["config.json"] = json.dumps(config, indent=2) + "\n"
    return files


def generate(seed: int = SEED) -> dict[str, str]:
    """Return every output file's text, keyed by path relative to the repository."""
    return render(SampleBuilder(seed).build())


def write_files(files: dict[str, str], out_dir: Path) -> None:
    """Write the generated files under ``out_dir``."""
    for relative, text in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        LOG.info("wrote %s", path)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: generate the sample files into --out-dir."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    write_files(generate(args.seed), args.out_dir)


if __name__ == "__main__":
    main()
