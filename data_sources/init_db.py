"""`python -m data_sources.init_db [--data-dir DIR] [--force]`: the three sample DBs."""

import argparse
import logging
import sys
from pathlib import Path

from data_sources.config import data_dir
from data_sources.load import LoadError, load_file
from data_sources.statements import STATEMENTS

log = logging.getLogger(__name__)


def init_databases(directory: Path, force: bool = False) -> dict:
    """Create ``<slug>.db`` in ``directory`` from each bundled sample; return the paths.

    Existing databases are kept unless ``force``, which replaces their rows in place
    (one transaction, same file) so running services see the new data.
    """
    paths = {}
    for slug, spec in STATEMENTS.items():
        path = Path(directory) / f"{slug}.db"
        paths[slug] = path
        if path.exists() and not force:
            log.info("%s exists, kept (use --force to reload)", path)
            continue
        if not spec.sample_path.is_file():
            raise LoadError(
                f"{spec.sample_path.name} for {slug} is missing: "
                "run `python -m data_sources.sample_data` first"
            )
        result = load_file(spec, spec.sample_path, path, replace=True)
        log.info("%s: loaded %d rows", path, result.rows)
    return paths


def main(argv=None) -> int:
    """Command line entry point; exit 0 on success, 1 if a sample was rejected."""
    parser = argparse.ArgumentParser(prog="python -m data_sources.init_db")
    parser.add_argument(
        "--data-dir", type=Path, help="default FINSYNC_DATA_DIR or data/"
    )
    parser.add_argument("--force", action="store_true", help="reload existing DBs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        init_databases(args.data_dir or data_dir(), force=args.force)
    except LoadError as exc:
        log.error("%s", exc.message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
