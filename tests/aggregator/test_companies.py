"""Company key resolution: exact, normalized, alias, fuzzy, and the rejection rules."""

import dataclasses
import json
import logging
import math
from pathlib import Path

import pytest

from aggregator.companies import (
    MIN_SCORE,
    TYPO_SCAN_MAX,
    CompanyRegistry,
    Resolution,
)
from data_sources.errors import ConfigError

DATA_SOURCES = Path(__file__).resolve().parents[2] / "data_sources"
RECORDS = [
    {
        "id": "ACME0001",
        "name": "Acme Robotics Inc",
        "ticker": "ACR",
        "aliases": ["Acme Automation Inc"],
    },
    {"id": "NORT0002", "name": "Northwind Logistics Corp", "ticker": "NWL"},
    {"id": "INIT0003", "name": "Initech Software Inc", "ticker": "INTK"},
    {"id": "WAYN0006", "name": "Wayne Industrial Holdings", "ticker": "WIH"},
    {"id": "SUEN0049", "name": "Summit Energy Corp", "ticker": "SME"},
    {"id": "SUHE0050", "name": "Summit Health Group", "ticker": "SMH"},
]
CASES = [
    ("ACME0001", "ACME0001", "exact"),
    ("acme0001", "ACME0001", "normalized"),
    ("  ACME0001 ", "ACME0001", "normalized"),
    ("ACME 0001", "ACME0001", "normalized"),
    ("ACME-0001", "ACME0001", "normalized"),
    ("acme\u20130001", "ACME0001", "normalized"),
    ("ACME_0001.", "ACME0001", "normalized"),
    ("\uff21\uff23\uff2d\uff25\uff10\uff10\uff10\uff11", "ACME0001", "normalized"),
    ("ACNE0001", "ACME0001", "fuzzy"),
    ("ACEM0001", "ACME0001", "fuzzy"),
    ("ACM0001", "ACME0001", "fuzzy"),
    ("nrot-0002", "NORT0002", "fuzzy"),
    ("Acme Robotics", "ACME0001", "alias"),
    ("ACME ROBOTICS INC.", "ACME0001", "alias"),
    ("Acme Robotics, Incorporated", "ACME0001", "alias"),
    ("Acm\u00e9 Robotics", "ACME0001", "alias"),
    ("ACR", "ACME0001", "alias"),
    ("nwl", "NORT0002", "alias"),
    ("Acme Automation", "ACME0001", "alias"),
    ("Summit Health", "SUHE0050", "alias"),
    ("Acme Robotcs Inc", "ACME0001", "fuzzy"),
    ("Northwind Logistic", "NORT0002", "fuzzy"),
    ("ACME0099", None, "rejected"),
    ("INIT0300", None, "rejected"),
    ("ZZQX9999", None, "rejected"),
    ("Tessier Ashpool SA", None, "rejected"),
    ("Acme", None, "rejected"),
    ("Summit", None, "rejected"),
    ("Summit Inc", None, "rejected"),
    ("Holdings Group Inc", None, "rejected"),
    ("The Company", None, "rejected"),
    ("ACNE", None, "rejected"),
    ("", None, "rejected"),
    ("   ", None, "rejected"),
    ("--", None, "rejected"),
    (None, None, "rejected"),
    (math.nan, None, "rejected"),
    (123, None, "rejected"),
    (1.5, None, "rejected"),
]


@pytest.fixture(scope="module")
def registry():
    return CompanyRegistry.from_records(RECORDS)


@pytest.mark.parametrize(("raw", "company_id", "method"), CASES, ids=repr)
def test_resolve_messy_and_unknown_keys(registry, raw, company_id, method):
    resolution = registry.resolve(raw)
    assert (resolution.company_id, resolution.method) == (company_id, method)
    assert 0.0 <= resolution.score <= 100.0


def test_exact_match_scores_100_and_has_no_candidates(registry):
    assert registry.resolve("NORT0002") == Resolution("NORT0002", "exact", 100.0, ())


def test_digits_only_difference_is_rejected_with_neighbour_as_candidate(registry):
    resolution = registry.resolve("ACME0099")
    assert resolution.company_id is None
    assert resolution.candidates[0] == "ACME0001"


def test_digits_rule_holds_when_score_passes_cutoff(registry):
    resolution = registry.resolve("INIT0300")
    assert resolution.score >= MIN_SCORE
    assert (resolution.company_id, resolution.candidates) == (None, ("INIT0003",))


def test_digit_neighbour_blocks_letter_typo_correction():
    registry = CompanyRegistry.from_ids(["ACME0001", "ACNE0002"])
    resolution = registry.resolve("ACNE0001")
    assert resolution.company_id is None
    assert set(resolution.candidates) == {"ACME0001", "ACNE0002"}


def test_partial_name_is_rejected_with_the_company_as_candidate(registry):
    assert registry.resolve("Acme Inc").candidates == ("ACME0001",)


def test_ambiguous_name_rejected_with_both_candidates(registry):
    resolution = registry.resolve("Summit Inc")
    assert resolution.company_id is None
    assert set(resolution.candidates) == {"SUEN0049", "SUHE0050"}


def test_ambiguous_id_typo_rejected_with_both_candidates():
    registry = CompanyRegistry.from_ids(["ACME0001", "ACMA0001"])
    resolution = registry.resolve("ACMX0001")
    assert (resolution.company_id, resolution.method) == (None, "rejected")
    assert set(resolution.candidates) == {"ACME0001", "ACMA0001"}


def test_generic_word_only_match_rejected(registry):
    assert registry.resolve("Wayne Industrial Group Inc").company_id == "WAYN0006"
    resolution = registry.resolve("Holdings Group Inc")
    assert (resolution.company_id, resolution.candidates) == (None, ())


def test_id_typos_resolve_alike_when_many_ids_share_their_digits():
    ids = ["ACME0001", "ACMA0001", "NORT0002"]
    crowd = [f"Q{a}{b}{c}0001" for a in "QRSTUV" for b in "WXYZ" for c in "QRSTUV"]
    assert len(crowd) > TYPO_SCAN_MAX  # the 0001 group gets a deletion index
    small = CompanyRegistry.from_ids(ids)
    crowded = CompanyRegistry.from_ids(ids + crowd)
    for key in ["ACNE0001", "ACEM0001", "ACM0001", "ACMEE0001", "ACMX0001", "ACME0002"]:
        assert crowded.resolve(key) == small.resolve(key), key
    assert crowded.resolve("acem-0001").company_id == "ACME0001"
    assert set(crowded.resolve("ACMX0001").candidates) == {"ACME0001", "ACMA0001"}


def test_alias_shared_by_two_companies_is_rejected_and_logged(caplog):
    records = [
        {"id": "ACME0001", "name": "Acme Robotics Inc", "aliases": ["Acme"]},
        {"id": "ACMF0002", "name": "Acme Foods Corp", "aliases": ["Acme"]},
    ]
    with caplog.at_level(logging.WARNING, logger="aggregator.companies"):
        registry = CompanyRegistry.from_records(records)
    assert "match several companies" in caplog.text
    resolution = registry.resolve("ACME")
    assert (resolution.company_id, resolution.method) == (None, "rejected")
    assert resolution.candidates == ("ACME0001", "ACMF0002")
    assert registry.resolve("Acme Foods").company_id == "ACMF0002"


def test_alias_equal_to_another_id_loses_to_the_id(caplog):
    records = [{"id": "ACME0001"}, {"id": "NORT0002", "aliases": ["acme-0001"]}]
    with caplog.at_level(logging.WARNING, logger="aggregator.companies"):
        registry = CompanyRegistry.from_records(records)
    assert "equal another company's id" in caplog.text
    assert registry.resolve("acme 0001").company_id == "ACME0001"


def test_ids_equal_after_normalization_are_rejected_unless_exact():
    registry = CompanyRegistry.from_ids(["AB-12", "AB12"])
    assert registry.resolve("AB-12").method == "exact"
    assert registry.resolve("ab 12").candidates == ("AB-12", "AB12")


def test_from_ids_registry_works_without_names():
    registry = CompanyRegistry.from_ids(["ACME0001", "NORT0002"])
    assert registry.resolve("acme-0001").company_id == "ACME0001"
    assert registry.resolve("NORX0002").company_id == "NORT0002"
    assert registry.resolve("Acme Robotics").company_id is None
    assert registry.record("ACME0001") == {
        "id": "ACME0001",
        "name": None,
        "ticker": None,
        "aliases": [],
    }


def test_duplicate_identical_ids_are_kept_once():
    registry = CompanyRegistry.from_ids(["ACME0001", "ACME0001", " NORT0002 "])
    assert registry.ids == ("ACME0001", "NORT0002")


def test_conflicting_duplicate_ids_raise_config_error():
    records = [{"id": "ACME0001", "name": "Acme"}, {"id": "ACME0001", "name": "Other"}]
    with pytest.raises(ConfigError, match="ACME0001"):
        CompanyRegistry.from_records(records)


@pytest.mark.parametrize(
    "record",
    [{"name": "No id"}, {"id": ""}, {"id": 7}, {"id": "A1", "aliases": "A"}, "A1"],
    ids=repr,
)
def test_malformed_records_raise_config_error(record):
    with pytest.raises(ConfigError):
        CompanyRegistry.from_records([record])


def test_resolve_many_dedupes_and_memoises(registry):
    raws = ["acme0001", "acme0001", "NORT0002", None, math.nan, ["unhashable"]]
    resolved = registry.resolve_many(raws)
    assert len(resolved) == 4
    assert resolved["acme0001"] is registry.resolve("acme0001")
    assert resolved[None].method == "rejected"


def test_resolution_is_frozen(registry):
    with pytest.raises(dataclasses.FrozenInstanceError):
        registry.resolve("ACME0001").company_id = "NORT0002"


def test_registry_container_protocol(registry):
    assert len(registry) == len(RECORDS)
    assert "ACME0001" in registry and "acme0001" not in registry
    assert ["unhashable"] not in registry
    assert registry.ids[0] == "ACME0001"
    copy = registry.record("ACME0001")
    assert list(copy) == ["id", "name", "ticker", "aliases"]
    copy["aliases"].append("changed")
    assert registry.record("ACME0001")["aliases"] == ["Acme Automation Inc"]
    with pytest.raises(KeyError):
        registry.record("ZZZZ0000")


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("ACME0001", "ACME0001"),
        ("nwl", "NORT0002"),
        ("no", "NORT0002"),
        ("init", "INIT0003"),
        ("robot", "ACME0001"),
        ("logistics", "NORT0002"),
        ("automation", "ACME0001"),
    ],
)
def test_search_ranks_id_ticker_and_name_matches_first(registry, query, first):
    assert registry.search(query)[0]["id"] == first


def test_search_orders_prefix_before_substring_and_honours_limit(registry):
    ids = [hit["id"] for hit in registry.search("su")]
    assert ids[:2] == ["SUEN0049", "SUHE0050"]
    assert [hit["id"] for hit in registry.search("summit", limit=1)] == ["SUEN0049"]
    assert registry.search("summit")[1] == {
        "id": "SUHE0050",
        "name": "Summit Health Group",
        "ticker": "SMH",
    }


def test_search_empty_and_unmatched_queries(registry):
    assert len(registry.search("", limit=3)) == 3
    assert registry.search("zzzz") == []
    assert registry.search("!!") == []


def test_from_file_reads_a_json_list(tmp_path):
    path = tmp_path / "companies.json"
    path.write_text(json.dumps(RECORDS), encoding="utf-8")
    registry = CompanyRegistry.from_file(path)
    assert registry.resolve("Summit Energy").company_id == "SUEN0049"


@pytest.mark.parametrize("content", ["{not json", '{"id": "A1"}', "\udcff"])
def test_from_file_rejects_bad_files(tmp_path, content):
    path = tmp_path / "companies.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(ConfigError, match="companies.json"):
        CompanyRegistry.from_file(path)


def test_from_file_missing_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read"):
        CompanyRegistry.from_file(tmp_path / "missing.json")


def test_bundled_sample_keys_resolve_as_the_manifest_says():
    registry = CompanyRegistry.from_file(DATA_SOURCES / "companies.json")
    manifest = json.loads((DATA_SOURCES / "sample_manifest.json").read_text())
    for entry in manifest["messy_keys"]:
        assert registry.resolve(entry["raw"]).company_id == entry["company_id"], entry
    for entry in manifest["unknown_keys"]:
        assert registry.resolve(entry["raw"]).company_id is None, entry
