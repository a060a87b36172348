"""Seed-style baseline: how the original FinSync worked, re-implemented for comparison.

Sequential ``requests.get`` of every row as JSON from each service's ``/data``, then a
per-row Python loop that calls ``difflib.get_close_matches`` against every valid id (the
original's quadratic id correction), mapping, unit scaling, text parsing and per-company
averages in plain dicts, and a CSV written with the csv module.
"""

import csv
import difflib
import logging
import random
import time
from pathlib import Path
from urllib.parse import urljoin

import requests

log = logging.getLogger(__name__)

PAGE_LIMIT = 50_000
CUTOFF = 0.8
PROBE_CALLS = 20


def fetch_rows(base_url: str) -> list[dict]:
    """GET every row of one source as JSON objects, page after page, sequentially."""
    rows, url = [], f"{base_url}/data?limit={PAGE_LIMIT}"
    while url:
        body = requests.get(url, timeout=120).json()
        columns = body["columns"]
        rows.extend(dict(zip(columns, row)) for row in body["rows"])
        url = urljoin(base_url + "/", body["next"]) if body.get("next") else None
    return rows


def _number(value, text: bool):
    """Parse one amount the slow way; None when missing or malformed."""
    if value is None:
        return None
    if not text:
        return float(value)
    cleaned = str(value).replace(",", "").replace("(", "-").replace(")", "")
    try:
        return float(cleaned)
    except ValueError:
        return None


def _accumulate(rows, source, mapping, valid_ids, sums, counts):
    """Correct each row's key with difflib, then add its mapped amounts."""
    key_col, text = source["company_column"], bool(source.get("text_amounts"))
    scale = source.get("unit_scale", 1)
    numeric = {
        col: canon
        for col, canon in mapping.items()
        if col not in (key_col, source["period_column"])
        and source.get("column_types", {}).get(col, "numeric") == "numeric"
    }
    for row in rows:
        match = difflib.get_close_matches(str(row[key_col]), valid_ids, 1, CUTOFF)
        if not match:
            continue
        for col, canon in numeric.items():
            value = _number(row.get(col), text)
            if value is not None:
                key = (match[0], canon)
                sums[key] = sums.get(key, 0.0) + value * scale
                counts[key] = counts.get(key, 0) + 1


def _write_csv(path: Path, sums: dict, counts: dict) -> int:
    """Write per-company means, one row per company; return the row count."""
    fields = sorted({canon for _, canon in sums})
    companies = sorted({cid for cid, _ in sums})
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["company_id", *fields])
        for cid in companies:
            means = [
                sums[(cid, f)] / counts[(cid, f)] if (cid, f) in sums else ""
                for f in fields
            ]
            writer.writerow([cid, *means])
    return len(companies)


def run(urls: dict, config: dict, valid_ids: list, out_csv: Path) -> dict:
    """Run the seed-style pipeline once; return its wall time and output size."""
    started = time.perf_counter()
    sums, counts = {}, {}
    for slug, url in urls.items():
        rows = fetch_rows(url)
        source = config["sources"][slug]
        _accumulate(
            rows, source, config["schema_mapping"][slug], valid_ids, sums, counts
        )
    companies = _write_csv(out_csv, sums, counts)
    return {"wall_s": time.perf_counter() - started, "companies": companies}


def estimate_seconds(valid_ids: list, total_rows: int, seed: int = 1) -> float:
    """Estimate the difflib loop's time from a few calls, only to decide to run it."""
    rng = random.Random(seed)
    keys = [rng.choice(valid_ids) for _ in range(PROBE_CALLS)]
    started = time.perf_counter()
    for key in keys:
        difflib.get_close_matches(key, valid_ids, 1, CUTOFF)
    return (time.perf_counter() - started) / PROBE_CALLS * total_rows
