"""Normalize company records, keys and names: compact keys, distinctive words."""

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping

from data_sources.errors import ConfigError

log = logging.getLogger(__name__)

# Legal suffixes and generic words: ignored when names are compared, and never enough
# on their own to accept a fuzzy name match. Kept as data; extend here, not in code.
LEGAL_SUFFIXES = frozenset(
    "ag bv co corp corporation gmbh inc incorporated limited llc llp lp ltd nv plc"
    " pte pty sa se spa".split()
)
GENERIC_WORDS = LEGAL_SUFFIXES | frozenset(
    "and companies company global group holding holdings industries industry"
    " international intl of technologies technology the".split()
)

_NOT_ALNUM = re.compile(r"[\W_]+")
_APOSTROPHES = re.compile(r"['\u2019`]")
_DIGITS = re.compile(r"\d+")


# A company's (name, ticker, aliases), keyed by id in the registry. A plain tuple:
# 64 bytes against a dict's 184, and unlike a NamedTuple the collector untracks it,
# so full collections do not walk 100,000 of them.
CompanyRecord = tuple[str | None, str | None, tuple[str, ...]]


def fold_text(text: str) -> str:
    """Return text with compatibility forms unified and accents dropped."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def compact_key(text: str) -> str:
    """Return text upper-cased with everything but letters and digits removed."""
    key = _NOT_ALNUM.sub("", fold_text(text).upper())
    # Text already compact comes back as the same object: the registry's indexes
    # then share its ids' and tickers' strings (12 MB of copies at 100,000).
    return text if key == text and type(text) is str else key


def name_words(text: str) -> tuple[str, ...]:
    """Return the lower-case words of a name, punctuation and apostrophes removed."""
    folded = _APOSTROPHES.sub("", fold_text(text).casefold())
    return tuple(_NOT_ALNUM.sub(" ", folded).split())


def distinctive_words(text: str) -> tuple[str, ...]:
    """Return the words of a name that are not legal suffixes or generic words."""
    return tuple(word for word in name_words(text) if word not in GENERIC_WORDS)


def name_key(text: str) -> str:
    """Return the distinctive words of a name joined by spaces ('' if none)."""
    return " ".join(distinctive_words(text))


def sorted_words(key: str) -> str:
    """Return a name key with its words sorted (token_sort_ratio's form)."""
    return " ".join(sorted(key.split()))


def compact_name_key(key: str) -> str:
    """Return a name key (see name_key) as a compact lookup key."""
    return key.replace(" ", "").upper()


def letter_part(compact: str) -> str:
    """Return a compact key without its digits (the letter part of an id)."""
    return _DIGITS.sub("", compact)


def digit_part(compact: str) -> str:
    """Return the characters of a compact key that letter_deletions never drops."""
    return "".join(filter(str.isdigit, compact))


def letter_deletions(compact: str) -> set[str]:
    """Return every string made by deleting one non-digit character of a key."""
    return {
        compact[:i] + compact[i + 1 :]
        for i, char in enumerate(compact)
        if not char.isdigit()
    }


def search_row(company_id: str, record: CompanyRecord) -> tuple:
    """Return (id, compact id, ticker, name words, haystack) for registry search."""
    name, ticker, aliases = record
    names = [text for text in (name, *aliases) if text]
    words = " ".join(name_words(name or ""))
    compact_id, ticker = compact_key(company_id), compact_key(ticker or "")
    haystack = "|".join([compact_id, ticker, *(compact_key(text) for text in names)])
    return company_id, compact_id, ticker, words, haystack


def search_rank(row: tuple, compact: str, words: str) -> int:
    """Return 1 (exact id or ticker) down to 6 (substring only) for a search hit."""
    _, compact_id, ticker, name, _ = row
    checks = (
        compact in (compact_id, ticker),
        compact_id.startswith(compact),
        ticker.startswith(compact),
        bool(words) and name.startswith(words),
        bool(words) and f" {words}" in f" {name}",
    )
    return next((rank for rank, hit in enumerate(checks, 1) if hit), len(checks) + 1)


def unique_records(records: Iterable[Mapping]) -> dict[str, CompanyRecord]:
    """Return validated records by id; conflicting duplicate ids raise ConfigError."""
    unique: dict[str, CompanyRecord] = {}
    for index, raw in enumerate(records):
        company_id, record = clean_record(raw, index)
        seen = unique.setdefault(company_id, record)
        if seen is not record and seen != record:
            raise ConfigError(f"Company id {company_id!r} has two different records")
        if seen is not record:
            log.warning("Company id %r is listed twice; using it once", company_id)
    return unique


def clean_record(raw, index: int) -> tuple[str, CompanyRecord]:
    """Return one record as (id, record); ConfigError if malformed."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"Company record {index} must be an object")
    company_id = raw.get("id")
    if not isinstance(company_id, str) or not compact_key(company_id):
        raise ConfigError(f"Company record {index} needs a non-empty string id")
    name, ticker, aliases = raw.get("name"), raw.get("ticker"), raw.get("aliases")
    aliases = aliases or []
    if not (
        isinstance(aliases, (list, tuple))
        and all(isinstance(alias, str) for alias in aliases)
        and all(text is None or isinstance(text, str) for text in (name, ticker))
    ):
        raise ConfigError(f"Company record {index}: name, ticker, aliases must be text")
    return company_id.strip(), (
        (name or "").strip() or None,
        (ticker or "").strip() or None,
        tuple(alias.strip() for alias in aliases if alias.strip()),
    )
