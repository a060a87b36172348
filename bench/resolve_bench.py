"""Micro-benchmark of company key resolution: CompanyRegistry versus difflib."""

import difflib
import logging
import random
import string
import time
from collections import Counter

from aggregator.companies import CompanyRegistry
from aggregator.company_names import compact_key, name_key

log = logging.getLogger(__name__)

SYLLABLES = (
    "ac me zen tor vi lo quar bel dor fin gra hel ix jun kal lum mor nex "
    "ori pax qui ros sol tal umb var wex yar zor bri cal del eno fal gor "
    "hax ilo jor kep lan mar nor opi pel ral sen tri ulm vor wyn xan yel"
).split()
INDUSTRIES = (
    "Robotics Foods Energy Pharma Capital Systems Logistics Motors Labs Media "
    "Health Mining Textiles Airlines Software Chemicals Retail Biotech Networks "
    "Semiconductors Shipping Insurance Realty Steel Beverages Apparel Devices Games"
).split()
SUFFIXES = ("Inc", "Corp", "Ltd", "PLC", "Holdings", "Group", "Co", "LLC", "AG", "")
MESSY_KINDS = (
    "lower", "spaces", "dashes", "typo", "name", "name_upper", "ticker", "digits",
    "unknown",
)  # fmt: skip
UNKNOWN_KINDS = frozenset({"digits", "unknown"})
MAX_ATTEMPTS_PER_ITEM = 50
DIFFLIB_SAMPLE = 200
DIFFLIB_MAX_SECONDS = 60.0


def generate_registry(n: int, seed: int = 0) -> list[dict]:
    """Return n company records with unique ids, names and tickers."""
    rng = random.Random(seed)
    records, used = [], set()
    for _ in range(n * MAX_ATTEMPTS_PER_ITEM):
        if len(records) == n:
            return records
        record = _record(rng)
        keys = {record["id"], record["ticker"], *map(name_key, record["aliases"])}
        keys.add(name_key(record["name"]))
        if len(keys) == 3 + len(record["aliases"]) and not keys & used:
            used.update(keys)
            records.append(record)
    raise RuntimeError(f"Could not generate {n} unique companies")


def generate_keys(
    registry: list[dict], n_keys: int, messy_share: float = 0.02, seed: int = 0
) -> list[tuple[str, str | None]]:
    """Return n_keys distinct (raw key, expected id or None) pairs, shuffled."""
    rng = random.Random(seed)
    n_messy = round(n_keys * messy_share)
    if n_keys - n_messy > len(registry):
        raise ValueError("n_keys needs more clean ids than the registry holds")
    clean = rng.sample(registry, n_keys - n_messy)
    keys = {rec["id"]: rec["id"] for rec in clean}
    compact_ids = {compact_key(rec["id"]) for rec in registry}
    for index in range(n_messy * MAX_ATTEMPTS_PER_ITEM):
        if len(keys) == n_keys:
            break
        kind = MESSY_KINDS[index % len(MESSY_KINDS)]
        record = rng.choice(registry)
        raw = _messy_key(kind, record, rng)
        expected = None if kind in UNKNOWN_KINDS else record["id"]
        if raw in keys or _clashes(kind, raw, compact_ids):
            continue
        keys[raw] = expected
    pairs = list(keys.items())
    rng.shuffle(pairs)
    return pairs


def measure(registry_size: int = 100_000, n_keys: int = 100_000, seed: int = 0):
    """Return build time, keys/s and accuracy of CompanyRegistry.resolve_many."""
    records = generate_registry(registry_size, seed)
    keys = generate_keys(records, n_keys, seed=seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    registry = CompanyRegistry.from_records(records)
    built, cpu_built = time.perf_counter(), time.process_time()
    resolved = registry.resolve_many(raw for raw, _ in keys)
    elapsed, cpu = time.perf_counter() - built, time.process_time() - cpu_built
    got = {raw: resolution.company_id for raw, resolution in resolved.items()}
    return {
        "registry_size": registry_size,
        "build_seconds": round(built - started, 3),
        "build_cpu_seconds": round(cpu_built - cpu_started, 3),
        "resolve_seconds": round(elapsed, 3),
        "keys_per_second": round(len(keys) / elapsed),
        "keys_per_cpu_second": round(len(keys) / max(cpu, 1e-9)),
        "methods": dict(Counter(res.method for res in resolved.values())),
        **_accuracy(keys, got),
    }


def measure_difflib(
    registry_size: int = 100_000,
    n_keys: int = DIFFLIB_SAMPLE,
    seed: int = 0,
    messy_share: float = 0.02,
    max_seconds: float = DIFFLIB_MAX_SECONDS,
):
    """Return keys/s and accuracy of the original difflib loop on a bounded sample."""
    records = generate_registry(registry_size, seed)
    keys = generate_keys(records, n_keys, messy_share, seed)
    valid_ids = [record["id"] for record in records]
    got, started = {}, time.perf_counter()
    for raw, _ in keys:
        if time.perf_counter() - started > max_seconds:
            break
        match = difflib.get_close_matches(raw, valid_ids, n=1, cutoff=0.6)
        got[raw] = match[0] if match else None
    elapsed = time.perf_counter() - started
    done = [(raw, expected) for raw, expected in keys if raw in got]
    return {
        "registry_size": registry_size,
        "resolve_seconds": round(elapsed, 3),
        "keys_per_second": round(len(done) / elapsed, 2),
        "stopped_early": len(done) < len(keys),
        **_accuracy(done, got),
    }


def _accuracy(keys: list, got: dict) -> dict:
    """Return accuracy counts of resolved ids against the expected ones."""
    messy = [(raw, expected) for raw, expected in keys if raw != expected]
    wrong = sum(got[raw] not in (None, expected) for raw, expected in keys)
    return {
        "keys": len(keys),
        "messy_keys": len(messy),
        "accuracy": _share(sum(got[raw] == exp for raw, exp in keys), len(keys)),
        "messy_accuracy": _share(
            sum(got[raw] == exp for raw, exp in messy), len(messy)
        ),
        "wrongly_corrected": wrong,
        "missed": sum(got[raw] is None and exp is not None for raw, exp in keys),
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


def _record(rng: random.Random) -> dict:
    """Return one random company record (uniqueness is checked by the caller)."""
    first, industry = _word(rng), rng.choice(INDUSTRIES)
    aliases = [f"{_word(rng)} {industry}"] if rng.random() < 0.05 else []
    return {
        "id": compact_key(first)[:4] + f"{rng.randrange(10000):04d}",
        "name": f"{first} {industry} {rng.choice(SUFFIXES)}".strip(),
        "ticker": _ticker(rng),
        "aliases": aliases,
    }


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(SYLLABLES, k=rng.choice((2, 3)))).capitalize()


def _ticker(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase, k=rng.choice((3, 4))))


def _messy_key(kind: str, record: dict, rng: random.Random) -> str:
    """Return one messy spelling of a record's id, name or ticker (or an unknown)."""
    company_id = record["id"]
    letters, digits = company_id[:4], company_id[4:]
    if kind == "lower":
        return company_id.lower()
    if kind == "spaces":
        return f"  {letters} {digits} "
    if kind == "dashes":
        return f"{letters}-{digits}"
    if kind == "typo":
        at = rng.randrange(len(letters))
        swap = rng.choice(string.ascii_uppercase.replace(letters[at], ""))
        return letters[:at] + swap + letters[at + 1 :] + digits
    if kind == "name":
        return record["name"]
    if kind == "name_upper":
        return f"{record['name'].upper()}."
    if kind == "ticker":
        return record["ticker"].lower()
    if kind == "digits":
        return letters + f"{(int(digits) + rng.randrange(1, 9999)) % 10000:04d}"
    return f"{_word(rng)} Widgets {rng.choice(SUFFIXES)}".strip()


def _clashes(kind: str, raw: str, compact_ids: set) -> bool:
    """Return True when a made-up typo or unknown key is in fact a real id."""
    return kind in {"typo", *UNKNOWN_KINDS} and compact_key(raw) in compact_ids


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("CompanyRegistry: %s", measure())
    log.info("difflib baseline: %s", measure_difflib())
    log.info("difflib, messy keys only: %s", measure_difflib(n_keys=50, messy_share=1))
