"""The deliberate mess on top of simulated facts, each anomaly recorded in a manifest.

``SampleBuilder`` turns the facts into native rows, then adds discrepancies, messy and
unknown keys, missing and malformed values in a fixed order (the order fixes the bytes).
"""

import random
import string

from data_sources.sample_native import iso_period, native_row
from data_sources.sample_registry import build_registry, letter_distance, name_words
from data_sources.sample_simulation import alter, draw_profile, simulate
from data_sources.sample_tables import (
    AMBIGUOUS_WORDS,
    DISCREPANCY_PLAN,
    MALFORMED_PLAN,
    MESSY_PLAN,
    MISSING_PLAN,
    QUARTERS,
    SCHEMA_MAPPING,
    UNKNOWN_PLAN,
)
from data_sources.statements import STATEMENTS


def typo_letters(letters: str, rng: random.Random, others: list[str]) -> str:
    """Return ``letters`` with one letter changed, still closest to the original."""
    for _ in range(200):
        position = rng.randrange(len(letters))
        typo = letters[:position] + rng.choice(string.ascii_uppercase)
        typo += letters[position + 1 :]
        rivals = [other for other in others if other != letters]
        if typo != letters and min(letter_distance(typo, o) for o in rivals) >= 2:
            return typo
    raise ValueError(f"no unambiguous typo for {letters}")


def messy_key(record: dict, kind: str, rng: random.Random, others: list[str]) -> str:
    """Return a messy spelling of ``record``'s key of the given kind."""
    company_id = record["id"]
    letters, digits = company_id[:4], company_id[4:]
    if kind == "whitespace":
        spacings = (f" {company_id}", f"{company_id} ", f"{letters} {digits}")
        return rng.choice(spacings)
    if kind == "typo":
        return typo_letters(letters, rng, others) + digits
    return {
        "lowercase": company_id.lower(),
        "dash": f"{letters}-{digits}",
        "name": record["name"],
        "short_name": record["aliases"][0],
        "alias": record["aliases"][-1],
        "ticker": record["ticker"],
    }[kind]


def garble(text: str, style: str) -> str:
    """Return a malformed version of a cash-flow amount text."""
    if style == "letter_o":
        return text.replace("0", "O", 1) if "0" in text else "O" + text[1:]
    if style == "dots":
        return text.replace(",", ".")[:-1] if "," in text else f"{text[0]}.{text[1:-1]}"
    return {"dashes": "--", "not_available": "N/A"}[style]


class SampleBuilder:
    """Builds the three sources' rows and the anomaly manifest from one seed."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.companies = build_registry()
        self.by_id = {record["id"]: record for record in self.companies}
        self.letters = [record["id"][:4] for record in self.companies]
        facts = {cid: simulate(draw_profile(self.rng), self.rng) for cid in self.by_id}
        self.facts = {
            slug: {cid: [dict(q) for q in quarters] for cid, quarters in facts.items()}
            for slug in STATEMENTS
        }
        self.rows: dict[str, dict] = {}
        self.touched = {slug: set() for slug in STATEMENTS}
        self.reserved: set[tuple[str, int]] = set()
        self.manifest = empty_manifest(seed, self.companies)

    def build(self) -> "SampleBuilder":
        """Apply every step in order and return self."""
        self.add_discrepancies()
        self.rows = {
            slug: {
                (cid, index): native_row(slug, cid, index, quarter)
                for cid, quarters in self.facts[slug].items()
                for index, quarter in enumerate(quarters)
            }
            for slug in STATEMENTS
        }
        self.add_messy_keys()
        self.add_missing_values()
        self.add_malformed_values()
        self.add_unknown_rows()
        return self

    def pick(self, slug: str, eligible=None) -> tuple[str, int]:
        """Pick a random untouched row (company id, quarter index) of ``slug``."""
        candidates = [
            key
            for key in self.rows[slug]
            if key not in self.touched[slug]
            and key not in self.reserved
            and (eligible is None or eligible(key))
        ]
        key = self.rng.choice(candidates)
        self.touched[slug].add(key)
        return key

    def add_discrepancies(self) -> None:
        """Alter net income or cash in one source for a few company-quarters."""
        used = set()
        for field, slug, change in DISCREPANCY_PLAN:
            candidates = [
                (cid, index)
                for cid, quarters in self.facts["pnl"].items()
                for index, facts in enumerate(quarters)
                if cid not in used and facts["net_income"] > 10_000_000
            ]
            cid, index = self.rng.choice(candidates)
            used.add(cid)
            self.reserved.add((cid, index))
            alter(self.facts[slug][cid][index], field, change)
            self.manifest["discrepancies"].append(self.discrepancy(field, cid, index))

    def discrepancy(self, field: str, cid: str, index: int) -> dict:
        """Return the manifest entry of one discrepancy, amounts in units."""
        values = {
            slug: self.facts[slug][cid][index][field] / 100
            for slug, mapping in SCHEMA_MAPPING.items()
            if field in mapping.values()
        }
        return {
            "company_id": cid,
            "period_end": iso_period(index),
            "field": field,
            "values": values,
        }

    def add_messy_keys(self) -> None:
        """Replace the company key of about 5% of rows with a messy spelling."""
        for slug, plan in MESSY_PLAN.items():
            for kind, count in plan.items():
                for _ in range(count):
                    self.mess_one(slug, kind)

    def mess_one(self, slug: str, kind: str) -> None:
        """Give one random row of ``slug`` a messy key of ``kind``."""
        eligible = self.has_former_name if kind == "alias" else None
        cid, index = self.pick(slug, eligible)
        raw = messy_key(self.by_id[cid], kind, self.rng, self.letters)
        self.rows[slug][(cid, index)][STATEMENTS[slug].key_column] = raw
        self.manifest["messy_keys"].append(
            {
                "source": slug,
                "raw": raw,
                "company_id": cid,
                "kind": kind,
                "period": iso_period(index),
            }
        )

    def has_former_name(self, key: tuple[str, int]) -> bool:
        """Whether the company of a row key has a former name among its aliases."""
        return len(self.by_id[key[0]]["aliases"]) > 1

    def add_missing_values(self) -> None:
        """Set a few values to null in every source."""
        for slug, columns in MISSING_PLAN.items():
            for column in columns:
                cid, index = self.pick(slug)
                self.rows[slug][(cid, index)][column] = None
                entry = self.value_entry(slug, cid, index, column)
                self.manifest["missing_values"].append(entry)

    def add_malformed_values(self) -> None:
        """Garble a few cash-flow text amounts."""
        for column, style in MALFORMED_PLAN:
            cid, index = self.pick("cash_flow")
            row = self.rows["cash_flow"][(cid, index)]
            row[column] = garble(row[column], style)
            entry = self.value_entry("cash_flow", cid, index, column)
            self.manifest["malformed_values"].append({**entry, "value": row[column]})

    def value_entry(self, slug: str, cid: str, index: int, column: str) -> dict:
        """Return the manifest entry locating one value."""
        return {
            "source": slug,
            "raw_key": self.rows[slug][(cid, index)][STATEMENTS[slug].key_column],
            "period": iso_period(index),
            "column": column,
            "field": SCHEMA_MAPPING[slug][column],
        }

    def add_unknown_rows(self) -> None:
        """Append rows keyed by companies that are not in the registry."""
        for slug, raw, kind, indexes in UNKNOWN_PLAN:
            if raw in self.by_id:
                raise ValueError(f"unknown key {raw} is a registry id")
            quarters = simulate(draw_profile(self.rng), self.rng)
            for index in indexes:
                row = native_row(slug, raw, index, quarters[index])
                self.rows[slug][(raw, index)] = row
                self.manifest["unknown_keys"].append(
                    {
                        "source": slug,
                        "raw": raw,
                        "kind": kind,
                        "period": iso_period(index),
                    }
                )


def empty_manifest(seed: int, companies: list[dict]) -> dict:
    """Return the manifest skeleton with its lists still empty."""
    ambiguous = [
        {
            "word": word,
            "company_ids": [c["id"] for c in companies if word in name_words(c)],
        }
        for word in sorted(AMBIGUOUS_WORDS)
    ]
    return {
        "seed": seed,
        "companies": len(companies),
        "periods": [iso_period(index) for index in range(len(QUARTERS))],
        "messy_keys": [],
        "unknown_keys": [],
        "missing_values": [],
        "malformed_values": [],
        "discrepancies": [],
        "ambiguous_names": ambiguous,
    }
