"""The registry (companies.json) and the root config.json, built from the tables."""

from data_sources.sample_tables import (
    AMBIGUOUS_WORDS,
    CANONICAL_FIELDS,
    COLUMN_TYPES,
    COMPANIES,
    DISCREPANCY_TOLERANCE,
    SCHEMA_MAPPING,
    SUFFIXES,
    TEXT_AMOUNT_SOURCES,
)
from data_sources.statements import STATEMENTS


def short_name(name: str) -> str:
    """Return a company name without its legal suffix ("Acme Robotics")."""
    words = name.split()
    return " ".join(words[:-1]) if words[-1] in SUFFIXES else name


def build_registry() -> list[dict]:
    """Return the registry records: id, name, ticker, aliases (short and former)."""
    records = [
        {
            "id": f"{letters}{index:04d}",
            "name": name,
            "ticker": ticker,
            "aliases": [short_name(name), *former],
        }
        for index, (letters, name, ticker, former) in enumerate(COMPANIES, start=1)
    ]
    check_registry(records)
    return records


def letter_distance(left: str, right: str) -> int:
    """Return how many of the four id letters differ."""
    return sum(a != b for a, b in zip(left[:4], right[:4]))


def name_words(record: dict) -> set[str]:
    """Return the distinctive (non-suffix) lower-case words of a name and aliases."""
    words = set()
    for text in (record["name"], *record["aliases"]):
        words |= {word.lower() for word in text.split() if word not in SUFFIXES}
    return words


def check_registry(records: list[dict]) -> None:
    """Raise ValueError if ids, tickers or name words would make keys ambiguous."""
    ids = [record["id"] for record in records]
    for position, left in enumerate(ids):
        close = [
            right for right in ids[position + 1 :] if letter_distance(left, right) < 2
        ]
        if close:
            raise ValueError(f"id letters too close: {left} {close}")
    if len({record["ticker"] for record in records}) != len(records):
        raise ValueError("tickers are not unique")
    seen: dict[str, str] = {}
    for record in records:
        for word in name_words(record) - AMBIGUOUS_WORDS:
            if seen.setdefault(word, record["id"]) != record["id"]:
                raise ValueError(f"name word {word!r} is shared")


def build_config(company_ids: list[str]) -> dict:
    """Return the root config.json: original keys plus the extended ones."""
    return {
        "company_ids": company_ids,
        "schema_mapping": SCHEMA_MAPPING,
        "sources": {slug: source_settings(slug) for slug in STATEMENTS},
        "registry": "data_sources/companies.json",
        "canonical_fields": {
            name: {"type": kind, "description": description}
            for name, (kind, description) in CANONICAL_FIELDS.items()
        },
        "discrepancy_tolerance": DISCREPANCY_TOLERANCE,
    }


def source_settings(slug: str) -> dict:
    """Return one source's extended config entry from the statement registry."""
    spec = STATEMENTS[slug]
    settings = spec.source_settings()
    settings["column_types"] = dict(COLUMN_TYPES.get(slug, {}))
    if slug in TEXT_AMOUNT_SOURCES:
        settings["text_amounts"] = True
    return settings
