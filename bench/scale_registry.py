"""Company registry and messy-key variants for the scale benchmark.

The registry comes from ``bench.resolve_bench.generate_registry`` so the scale data and
the resolution micro-benchmark share one id format (``[A-Z]{4}\\d{4}``, unique ids,
names and tickers, a few aliases).
"""

import random
import string

from bench.resolve_bench import generate_registry

MESSY_KINDS = ("case", "spaces", "dash", "typo", "name", "ticker")
MAX_TRIES = 1000


def generate_companies(n_companies: int, seed: int = 7) -> list[dict]:
    """Return ``n_companies`` registry records ``{id, name, ticker, aliases}``."""
    return generate_registry(n_companies, seed)


def messy_key(record: dict, kind: str, rng: random.Random, ids: set) -> str:
    """Return a messy spelling of ``record``'s id that still means that company."""
    cid = record["id"]
    letters, digits = cid[:4], cid[4:]
    if kind == "case":
        return cid.lower() if rng.random() < 0.5 else letters.capitalize() + digits
    if kind == "spaces":
        return f" {cid}  " if rng.random() < 0.5 else f"{letters} {digits}"
    if kind == "dash":
        return f"{letters}-{digits}"
    if kind == "typo":
        for _ in range(MAX_TRIES):
            pos = rng.randrange(1, 4)
            other = rng.choice(string.ascii_uppercase.replace(letters[pos], ""))
            raw = cid[:pos] + other + cid[pos + 1 :]
            if raw not in ids:
                return raw
        return f"{letters}-{digits}"
    if kind == "name":
        return record["name"]
    return record["ticker"]


def reject_key(records: list[dict], index: int, rng: random.Random, ids: set) -> str:
    """Return a key that must be rejected: unknown, or a real id with other digits."""
    if index % 2:
        return f"UNKNOWN{index:05d}"
    for _ in range(MAX_TRIES):
        raw = rng.choice(records)["id"][:4] + f"{rng.randrange(10_000):04d}"
        if raw not in ids:
            return raw
    return f"UNKNOWN{index:05d}"
