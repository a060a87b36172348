"""Resolve raw company keys against a registry: exact, normalized, alias, then fuzzy."""

import json
import logging
import threading
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import starmap
from pathlib import Path

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from aggregator.company_names import (
    CompanyRecord,
    compact_key,
    compact_name_key,
    digit_part,
    distinctive_words,
    letter_deletions,
    letter_part,
    name_key,
    name_words,
    search_rank,
    search_row,
    sorted_words,
    unique_records,
)
from data_sources.errors import ConfigError

log = logging.getLogger(__name__)

METHODS = ("exact", "normalized", "alias", "fuzzy", "rejected")
# rapidfuzz 3.0 changed processor defaults, so every call pins scorer, processor and
# cutoff. Keys are normalized by company_names before scoring, hence no processor.
ID_SCORER = fuzz.ratio
NAME_SCORER = fuzz.ratio  # on name keys with sorted words: token_sort_ratio, faster
PROCESSOR = None
MIN_SCORE = 85.0  # one wrong letter in an 8-character id scores 87.5 with fuzz.ratio
MIN_MARGIN = 5.0  # the winner must beat the runner-up by this much, or nobody wins
CANDIDATE_MIN_SCORE = 40.0  # weakest score still listed as a candidate of a rejection
DECISION_MIN_SCORE = MIN_SCORE - MIN_MARGIN  # weakest score that can block a winner
SUGGEST_MAX_BLOCK = 200  # words shared by more companies yield no weak suggestions
COMMON_WORD_BLOCK = 5_000  # words shared by more companies count as generic (cost cap)
MAX_CANDIDATES = 5
MAX_ID_EDITS = 1  # OSA edits (substitution, insertion, deletion, swap) in the letters
TYPO_SCAN_MAX = 64  # larger groups of ids with the same digits get a deletion index
MAX_FUZZY_KEY_LENGTH = 64
NAME_EXTRACT_LIMIT = 4 * MAX_CANDIDATES
MEMO_SIZE = 200_000
SEARCH_MAX_LIMIT = 100
_EMPTY: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolution:
    """How one raw key resolved: the company id (None if rejected) and why."""

    company_id: str | None
    method: str
    score: float
    candidates: tuple[str, ...] = ()

    @property
    def resolved(self) -> bool:
        """Return True when the key resolved to a company."""
        return self.company_id is not None


REJECTED_INPUT = Resolution(None, "rejected", 0.0, ())


class CompanyRegistry:
    """An immutable company registry that resolves messy keys without guessing.

    Memory at 100,000 companies (RSS after ``from_file``, bench 100000x12): about
    82 MiB, against 178 MiB with dict records and a per-id letter-deletion index.
    Records are plain tuples, the indexes share the records' strings, id typos
    come from scanning digit groups and ``from_file`` frees the parsed JSON as it
    goes. The search index adds about 26 MiB on the first search.
    """

    def __init__(self, records: Iterable[Mapping]):
        started = time.perf_counter()
        self._records = unique_records(records)
        # key -> one id (a bare str) or several (a list): far fewer objects at 100k
        self._by_compact: dict = {}
        self._by_letters: dict = {}  # letter part -> compact ids
        self._by_digits: dict = {}  # digit part -> compact ids (see _typo_candidates)
        self._by_deletion: dict = {}  # id minus a letter -> crowded digit groups' ids
        self._by_alias: dict = {}
        self._word_ids: dict = {}  # distinctive word -> ids, parallel to _word_keys
        self._word_keys: dict = {}  # distinctive word -> name keys (words sorted)
        self._memo: dict[str, Resolution] = {}
        for company_id, record in self._records.items():
            self._index(company_id, record)
        self._index_crowded_digits()
        self._search_index: list | None = None  # see _search_rows
        self._search_lock = threading.Lock()
        self._bounds: dict = {}  # ids per range -> key_bounds
        _warn_ambiguous(self._by_compact, self._by_alias)
        log.info(
            "Company registry: %d companies indexed in %.2fs",
            len(self._records),
            time.perf_counter() - started,
        )

    @classmethod
    def from_records(cls, records: Iterable[Mapping]) -> "CompanyRegistry":
        """Build from dicts with an ``id`` and optional name, ticker and aliases."""
        return cls(records)

    @classmethod
    def from_ids(cls, ids: Iterable[str]) -> "CompanyRegistry":
        """Build from bare company ids (no names, tickers or aliases)."""
        return cls({"id": company_id} for company_id in ids)

    @classmethod
    def from_file(cls, path) -> "CompanyRegistry":
        """Build from a JSON file holding a list of company records."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"Cannot read company registry {path}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"Company registry {path} is not valid JSON") from exc
        if not isinstance(data, list):
            raise ConfigError(f"Company registry {path} must be a JSON list")
        # Each parsed record is freed once validated, so the index reuses its
        # memory: freed only at the end, the 45 MB of parsed JSON (100,000
        # companies) was left fragmented, keeping RSS 26 MB higher.
        return cls(_drain(data))

    @property
    def ids(self) -> tuple[str, ...]:
        """Return every company id, in registry order."""
        return tuple(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def key_bounds(self, per_range: int) -> tuple[str, ...]:
        """Return ids cutting the sorted ids into ranges of ``per_range`` ids each.

        A source's raw keys are mostly these ids, so the same bounds cut its
        keys into ranges of about that size (empty: the registry is one range).
        """
        step = max(1, int(per_range))
        bounds = self._bounds.get(step)
        if bounds is None:
            bounds = tuple(sorted(self._records)[step::step])
            self._bounds[step] = bounds
        return bounds

    def __contains__(self, company_id) -> bool:
        return isinstance(company_id, str) and company_id in self._records

    def record(self, company_id: str) -> dict:
        """Return a copy of one company's record; KeyError if the id is unknown."""
        name, ticker, aliases = self._records[company_id]
        return {
            "id": company_id,
            "name": name,
            "ticker": ticker,
            "aliases": list(aliases),
        }

    def resolve(self, raw) -> Resolution:
        """Resolve one raw key; anything not a usable string is rejected."""
        if not isinstance(raw, str):
            return REJECTED_INPUT
        resolution = self._memo.get(raw)
        return self._resolve_new(raw) if resolution is None else resolution

    def _resolve_new(self, raw) -> Resolution:
        """Resolve a key the memo does not hold, and remember it."""
        if not isinstance(raw, str):
            return REJECTED_INPUT
        resolution = self._resolve_uncached(raw)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[raw] = resolution
        return resolution

    def forget_resolutions(self) -> None:
        """Drop the memo of past resolutions (the benchmark times from scratch)."""
        self._memo.clear()

    def resolve_many(self, raws: Iterable[str]) -> dict[str, Resolution]:
        """Resolve each distinct raw key once; unhashable values are skipped."""
        resolved: dict = {}
        memo, resolve = self._memo, self._resolve_new
        for raw in raws:
            # Keys seen before (most, at scale) skip the call: one dict lookup. A
            # key listed twice is resolved once: ``_resolve_new`` remembers it.
            try:
                known = memo.get(raw)
            except TypeError:
                log.warning("Skipped an unhashable company key of type %s", type(raw))
                continue
            resolved[raw] = known if known is not None else resolve(raw)
        return resolved

    def search(self, query: str, limit: int = 10) -> list[dict]:
        """Return companies whose id, ticker or name matches the query, best first."""
        limit = max(1, min(int(limit), SEARCH_MAX_LIMIT))
        if not isinstance(query, str) or not query.strip():
            return [self._summary(row[0]) for row in self._search_rows()[:limit]]
        compact, words = compact_key(query), " ".join(name_words(query))
        if not compact:
            return []
        ranked = sorted(
            (rank, row[0])
            for row in self._search_rows()
            if compact in row[4] and (rank := search_rank(row, compact, words))
        )
        return [self._summary(company_id) for _, company_id in ranked[:limit]]

    def _search_rows(self) -> list:
        """Return the search rows (see ``search_row``), built on the first search.

        Built when first needed: at 100,000 companies they hold about 25 MB that
        an aggregation never reads (about 0.5 s to build).
        """
        rows = self._search_index
        if rows is None:
            with self._search_lock:
                rows = self._search_index
                if rows is None:
                    rows = sorted(starmap(search_row, self._records.items()))
                    self._search_index = rows
        return rows

    def _summary(self, company_id: str) -> dict:
        name, ticker, _ = self._records[company_id]
        return {"id": company_id, "name": name, "ticker": ticker}

    def _index(self, company_id: str, record: CompanyRecord) -> None:
        compact = compact_key(company_id)
        if compact not in self._by_compact:
            _add(self._by_letters, letter_part(compact), compact)
            _add(self._by_digits, digit_part(compact), compact)
        _add(self._by_compact, compact, company_id)
        name, ticker, aliases = record
        names = [text for text in (name, *aliases) if text]
        keys = {name_key(text) for text in names} - {""}
        lookups = {compact_key(text) for text in (*names, ticker or "")}
        lookups.update(compact_name_key(key) for key in keys)
        lookups.discard("")
        for key in lookups:
            _add(self._by_alias, key, company_id)
        for key in {sorted_words(key) for key in keys}:
            for word in set(key.split()):
                _add(self._word_ids, word, company_id)
                _add(self._word_keys, word, key)

    def _index_crowded_digits(self) -> None:
        """Index the letter deletions of ids in digit groups too big to scan."""
        for group in self._by_digits.values():
            if isinstance(group, list) and len(group) > TYPO_SCAN_MAX:
                for compact in group:
                    for deletion in letter_deletions(compact):
                        _add(self._by_deletion, deletion, compact)

    def _resolve_uncached(self, raw: str) -> Resolution:
        if raw in self._records:
            return Resolution(raw, "exact", 100.0)
        compact = compact_key(raw)
        if not compact:
            return REJECTED_INPUT
        ids = _ids(self._by_compact, compact)
        if ids:
            return _lookup_result(ids, "normalized")
        ids = _ids(self._by_alias, compact) or _ids(
            self._by_alias, compact_name_key(name_key(raw))
        )
        if ids:
            return _lookup_result(ids, "alias")
        if len(compact) > MAX_FUZZY_KEY_LENGTH:
            return REJECTED_INPUT
        return self._resolve_fuzzy(raw, compact)

    def _resolve_fuzzy(self, raw: str, compact: str) -> Resolution:
        neighbours = self._digit_neighbours(compact)
        matches = self._id_typos(compact)
        for company_id, score in self._name_matches(raw).items():
            matches[company_id] = max(score, matches.get(company_id, 0.0))
        ranked = sorted(matches.items(), key=lambda item: (-item[1], item[0]))
        if not neighbours and _is_clear_winner(ranked):
            return Resolution(ranked[0][0], "fuzzy", ranked[0][1])
        candidates = [*neighbours, *(cid for cid, _ in ranked if cid not in neighbours)]
        best = max([score for _, score in ranked] + list(neighbours.values()) + [0.0])
        return Resolution(None, "rejected", best, tuple(candidates[:MAX_CANDIDATES]))

    def _digit_neighbours(self, compact: str) -> dict[str, float]:
        """Return ids with the key's letters but other digits: other companies."""
        if compact.isalpha():
            return {}
        group = _ids(self._by_letters, letter_part(compact))
        return self._score_ids(compact, group, 0.0, MAX_CANDIDATES)

    def _id_typos(self, compact: str) -> dict[str, float]:
        """Return ids one letter edit away from the key, with the same digits."""
        found = {
            key
            for key in self._typo_candidates(compact)
            if _letter_edits(compact, key) <= MAX_ID_EDITS
        }
        return self._score_ids(compact, found, DECISION_MIN_SCORE, None)

    def _typo_candidates(self, compact: str) -> Collection[str]:
        """Return compact ids with the key's digits: a superset of its letter typos.

        A typo shares a letter deletion with the key (or is one), so it keeps the
        key's digits in order, and any id of that digit group within one OSA edit
        is a typo. Scanning the group (about 10 ids at 100,000 four-digit ids)
        replaces a deletion index of 386,000 keys (36 MB); groups too big to scan
        keep one (see _index_crowded_digits).
        """
        group = _ids(self._by_digits, digit_part(compact))
        if len(group) <= TYPO_SCAN_MAX:
            return group
        found = set(_ids(self._by_deletion, compact))
        for deletion in letter_deletions(compact):
            found.update(_ids(self._by_deletion, deletion))
            if deletion in self._by_compact:
                found.add(deletion)
        return found

    def _score_ids(self, compact: str, choices, cutoff: float, limit) -> dict:
        """Return {id: score} for the compact ids among choices scoring >= cutoff."""
        if not choices:
            return {}
        hits = process.extract(
            compact,
            list(choices),
            scorer=ID_SCORER,
            processor=PROCESSOR,
            score_cutoff=cutoff,
            limit=limit,
        )
        return {
            company_id: score
            for choice, score, _ in hits
            for company_id in _ids(self._by_compact, choice)
        }

    def _name_matches(self, raw: str) -> dict[str, float]:
        """Return companies sharing a distinctive word with the key, with scores."""
        words = distinctive_words(raw)
        query, scores = sorted_words(" ".join(words)), {}
        for word in set(words):
            ids = _ids(self._word_ids, word)
            if len(ids) > COMMON_WORD_BLOCK:
                continue
            small = len(ids) <= SUGGEST_MAX_BLOCK
            hits = process.extract(
                query,
                _ids(self._word_keys, word),
                scorer=NAME_SCORER,
                processor=PROCESSOR,
                score_cutoff=CANDIDATE_MIN_SCORE if small else DECISION_MIN_SCORE,
                limit=NAME_EXTRACT_LIMIT,
            )
            for _, score, index in hits:
                scores[ids[index]] = max(score, scores.get(ids[index], 0.0))
        return scores


def _drain(items: list) -> Iterable:
    """Yield a list's items, dropping each from the list as it is consumed."""
    items.reverse()
    while items:
        yield items.pop()


def _add(index: dict, key: str, company_id: str) -> None:
    """Add an id under a key: the first as a bare str, more as a list."""
    ids = index.get(key)
    if ids is None:
        index[key] = company_id
    elif isinstance(ids, str):
        index[key] = [ids, company_id]
    else:
        ids.append(company_id)


def _ids(index: dict, key: str) -> tuple[str, ...] | list[str]:
    """Return the ids stored under a key (empty if none)."""
    ids = index.get(key, _EMPTY)
    return (ids,) if isinstance(ids, str) else ids


def _letter_edits(key: str, company_compact: str) -> int:
    """Return the OSA edit count between two compact keys (capped past the max)."""
    return OSA.distance(
        key, company_compact, processor=PROCESSOR, score_cutoff=MAX_ID_EDITS
    )


def _is_clear_winner(ranked: list[tuple[str, float]]) -> bool:
    """Return True when the best score passes the minimum and beats the runner-up."""
    if not ranked or ranked[0][1] < MIN_SCORE:
        return False
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    return ranked[0][1] - runner_up >= MIN_MARGIN


def _lookup_result(ids: list[str], method: str) -> Resolution:
    """Return the match of a dictionary lookup, or a rejection if it is ambiguous."""
    if len(ids) == 1:
        return Resolution(ids[0], method, 100.0)
    return Resolution(None, "rejected", 100.0, tuple(sorted(ids))[:MAX_CANDIDATES])


def _warn_ambiguous(by_compact: Mapping, by_alias: Mapping) -> None:
    """Log the ids and aliases that stand for more than one company."""
    clashes = [(key, ids) for key, ids in by_compact.items() if isinstance(ids, list)]
    clashes += [(key, ids) for key, ids in by_alias.items() if isinstance(ids, list)]
    shadowed = [
        key
        for key in by_alias
        if key in by_compact and set(_ids(by_alias, key)) != set(_ids(by_compact, key))
    ]
    if clashes:
        log.warning(
            "%d company keys match several companies and will be rejected, e.g. %s",
            len(clashes),
            "; ".join(f"{key} -> {', '.join(ids)}" for key, ids in clashes[:5]),
        )
    if shadowed:
        log.warning(
            "%d aliases equal another company's id; the id wins, e.g. %s",
            len(shadowed),
            ", ".join(shadowed[:5]),
        )
