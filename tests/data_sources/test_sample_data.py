"""The bundled sample data is current, deterministic and consistent but as recorded."""

import itertools
import json
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from data_sources import sample_data
from data_sources.statements import STATEMENTS

ROOT = Path(__file__).resolve().parents[2]
GENERATED = (
    "config.json",
    "data_sources/companies.json",
    "data_sources/sample_manifest.json",
    "data_sources/pnl/sample.json",
    "data_sources/balance_sheet/sample.json",
    "data_sources/cash_flow/sample.json",
)
AMOUNT = re.compile(r"^(\()?(\d{1,3}(?:,\d{3})*\.\d{2})(?(1)\))$")
COMPANY_ID = re.compile(r"^[A-Z]{4}\d{4}$")
QUARTER_ENDS = {"1": "03-31", "2": "06-30", "3": "09-30", "4": "12-31"}
SUFFIXES = {"Inc", "Corp", "Co", "LLC", "Ltd", "PLC", "Group", "Holdings"}
TOLERANCE = 0.01  # one cent, for sums of amounts rounded to cents


def load(relative):
    return json.loads((ROOT / relative).read_text(encoding="utf-8"))


def to_iso(period_format, text):
    if period_format == "us_date":
        month, day, year = text.split("/")
        return f"{year}-{month}-{day}"
    if period_format == "year_quarter":
        return f"{text[:4]}-{QUARTER_ENDS[text[5]]}"
    return text


def parse_amount(text):
    """Parse a cash-flow amount strictly; None when it is not well formed."""
    match = AMOUNT.match(text)
    if not match:
        return None
    value = Decimal(match.group(2).replace(",", ""))
    return float(-value if match.group(1) else value)


@pytest.fixture(scope="module")
def config():
    return load("config.json")


@pytest.fixture(scope="module")
def manifest():
    return load("data_sources/sample_manifest.json")


@pytest.fixture(scope="module")
def registry():
    return load("data_sources/companies.json")


@pytest.fixture(scope="module")
def samples():
    return {
        slug: json.loads(spec.sample_path.read_text())
        for slug, spec in STATEMENTS.items()
    }


@pytest.fixture(scope="module")
def canonical(config, manifest, registry, samples):
    """Source -> {(company_id, period_end): {canonical field: value in units}}."""
    resolved = {
        (entry["source"], entry["raw"], entry["period"]): entry["company_id"]
        for entry in manifest["messy_keys"]
    }
    ids = {record["id"] for record in registry}
    tables = {}
    for slug, rows in samples.items():
        source = config["sources"][slug]
        mapping = config["schema_mapping"][slug]
        table = tables.setdefault(slug, {})
        for row in rows:
            period = to_iso(source["period_format"], row[source["period_column"]])
            raw = row[source["company_column"]]
            company_id = resolved.get((slug, raw, period), raw)
            if company_id not in ids:
                continue  # unknown keys: checked elsewhere
            table[(company_id, period)] = canonical_row(row, mapping, source)
    return tables


def canonical_row(row, mapping, source):
    """Map a native row to canonical fields, amounts parsed and scaled to units."""
    values = {}
    for column, field in mapping.items():
        value = row[column]
        if field in ("company_id", "period_end", "currency") or value is None:
            values[field] = value
        elif source.get("text_amounts"):
            values[field] = parse_amount(value)
        else:
            values[field] = value * source["unit_scale"]
    return values


def test_regenerating_gives_identical_files(tmp_path):
    sample_data.main(["--out-dir", str(tmp_path)])
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")}
    assert written == set(GENERATED)
    for relative in GENERATED:
        assert (tmp_path / relative).read_bytes() == (ROOT / relative).read_bytes()


def test_registry_ids_and_tickers_are_unambiguous(registry):
    ids = [record["id"] for record in registry]
    assert 45 <= len(ids) <= 55 and len(set(ids)) == len(ids)
    assert all(COMPANY_ID.match(company_id) for company_id in ids)
    for left, right in itertools.combinations(ids, 2):
        assert sum(a != b for a, b in zip(left[:4], right[:4])) >= 2, (left, right)
    tickers = [record["ticker"] for record in registry]
    assert len(set(tickers)) == len(tickers)
    assert all(re.match(r"^[A-Z]{2,4}$", ticker) for ticker in tickers)


def test_names_share_words_only_in_the_recorded_ambiguous_pair(registry, manifest):
    owners = {}
    for record in registry:
        for text in (record["name"], *record["aliases"]):
            for word in set(text.split()) - SUFFIXES:
                owners.setdefault(word.lower(), set()).add(record["id"])
    shared = {word: ids for word, ids in owners.items() if len(ids) > 1}
    recorded = {
        entry["word"]: set(entry["company_ids"])
        for entry in manifest["ambiguous_names"]
    }
    assert shared == recorded and len(recorded) == 1


def test_config_company_ids_are_the_registry_ids(config, registry):
    assert config["company_ids"] == [record["id"] for record in registry]
    assert (ROOT / config["registry"]).is_file()


@pytest.mark.parametrize("slug", sorted(STATEMENTS))
def test_every_schema_column_is_mapped(config, slug):
    spec = STATEMENTS[slug]
    conn = sqlite3.connect(":memory:")
    conn.executescript(spec.schema_path.read_text())
    columns = {row[1] for row in conn.execute(f"PRAGMA table_info({spec.table})")}
    conn.close()
    assert set(config["schema_mapping"][slug]) == columns
    source = config["sources"][slug]
    assert source["table"] == spec.table
    assert source["company_column"] == spec.key_column
    assert source["period_column"] == spec.period_column
    assert source["unit_scale"] == spec.unit_scale


def test_every_canonical_field_has_a_type_and_description(config):
    fields = config["canonical_fields"]
    mapped = {
        f for mapping in config["schema_mapping"].values() for f in mapping.values()
    }
    assert mapped == set(fields)
    for name, spec in fields.items():
        assert spec["type"] in {"numeric", "text", "date"}, name
        assert spec["description"].strip(), name
    assert fields["company_id"]["type"] == "text"
    assert fields["period_end"]["type"] == "date"
    assert 0 < config["discrepancy_tolerance"] < 0.05


def rows_by_key(config, samples, slug):
    source = config["sources"][slug]
    return {
        (
            row[source["company_column"]],
            to_iso(source["period_format"], row[source["period_column"]]),
        ): row
        for row in samples[slug]
    }


def test_rows_are_unique_per_key_and_period(config, samples):
    for slug, rows in samples.items():
        assert len(rows_by_key(config, samples, slug)) == len(rows), slug


def test_manifest_entries_appear_in_the_data(config, manifest, samples):
    rows = {slug: rows_by_key(config, samples, slug) for slug in samples}
    for entry in manifest["messy_keys"] + manifest["unknown_keys"]:
        assert (entry["raw"], entry["period"]) in rows[entry["source"]], entry
    for entry in manifest["missing_values"]:
        row = rows[entry["source"]][(entry["raw_key"], entry["period"])]
        assert row[entry["column"]] is None, entry
    for entry in manifest["malformed_values"]:
        assert entry["source"] == "cash_flow"
        row = rows["cash_flow"][(entry["raw_key"], entry["period"])]
        assert row[entry["column"]] == entry["value"]
        assert parse_amount(entry["value"]) is None, entry


def test_keys_outside_the_manifest_are_registry_ids(
    config, manifest, registry, samples
):
    ids = {record["id"] for record in registry}
    listed = {
        (entry["source"], entry["raw"], entry["period"])
        for entry in manifest["messy_keys"] + manifest["unknown_keys"]
    }
    for slug in samples:
        for raw, period in rows_by_key(config, samples, slug):
            assert (slug, raw, period) in listed or raw in ids, (slug, raw)
    assert not {entry["raw"] for entry in manifest["unknown_keys"]} & ids
    for entry in manifest["unknown_keys"]:
        if entry["kind"] == "digits_differ":
            assert any(entry["raw"][:4] == i[:4] for i in ids), entry


def test_messy_key_share_is_three_to_seven_percent(manifest, samples):
    total = sum(len(rows) for rows in samples.values())
    assert 0.03 <= len(manifest["messy_keys"]) / total <= 0.07
    kinds = {entry["kind"] for entry in manifest["messy_keys"]}
    assert {"lowercase", "whitespace", "dash", "typo", "name", "ticker"} <= kinds


def test_only_manifest_values_are_missing_or_malformed(config, manifest, samples):
    flagged = {
        (e["source"], e["raw_key"], e["period"], e["column"])
        for e in manifest["missing_values"] + manifest["malformed_values"]
    }
    for slug in samples:
        text_amounts = config["sources"][slug].get("text_amounts", False)
        for (raw, period), row in rows_by_key(config, samples, slug).items():
            for column, value in list(row.items())[2:]:
                bad = value is None or (text_amounts and parse_amount(value) is None)
                flag = (slug, raw, period, column)
                assert bad == (flag in flagged), flag
                if not text_amounts and value is not None and column != "currency":
                    assert isinstance(value, (int, float)), (slug, raw, column)


def close(left, right, tolerance=TOLERANCE):
    return None in (left, right) or abs(left - right) <= tolerance


IDENTITIES = {
    "pnl": (
        ("gross_profit", "revenue - cost_of_goods_sold"),
        (
            "operating_income",
            "gross_profit - operating_expenses - depreciation - amortization",
        ),
        ("net_income", "operating_income - interest_expense - income_tax"),
    ),
    "balance_sheet": (("total_assets", "total_liabilities + shareholders_equity"),),
    "cash_flow": (
        (
            "operating_cash_flow",
            "net_income + depreciation_and_amortization + change_in_working_capital",
        ),
        (
            "cash",
            "beginning_cash + operating_cash_flow + investing_cash_flow"
            " + financing_cash_flow",
        ),
    ),
}


def combine(values, expression):
    """Evaluate "a + b - c" over canonical values; None if any term is missing."""
    tokens = ["+", *expression.split()]
    terms = [(sign, values[name]) for sign, name in zip(tokens[::2], tokens[1::2])]
    if any(value is None for _, value in terms):
        return None
    return sum(value if sign == "+" else -value for sign, value in terms)


@pytest.mark.parametrize("slug", sorted(IDENTITIES))
def test_each_source_is_internally_consistent(canonical, slug):
    assert len(canonical[slug]) == 400
    checked = 0
    for key, values in canonical[slug].items():
        for total, terms in IDENTITIES[slug]:
            expected = combine(values, terms)
            assert close(values[total], expected, 0.2), (key, total)
            checked += None not in (values[total], expected)
    assert checked >= 390 * len(IDENTITIES[slug])


def test_balance_sheet_current_assets_cover_cash_receivables_inventory(canonical):
    for key, values in canonical["balance_sheet"].items():
        parts = combine(values, "cash + accounts_receivable + inventory")
        if parts is not None and values["current_assets"] is not None:
            assert values["current_assets"] >= parts - 0.2, key


def test_beginning_cash_is_previous_ending_cash(canonical):
    rows = canonical["cash_flow"]
    for (company_id, period), values in rows.items():
        previous = [p for (c, p) in rows if c == company_id and p < period]
        if previous:
            ending = rows[(company_id, max(previous))]["cash"]
            assert close(values["beginning_cash"], ending), (company_id, period)


def cross_source_differences(canonical):
    pnl, bs, cf = canonical["pnl"], canonical["balance_sheet"], canonical["cash_flow"]
    found = {}
    for key in pnl:
        pairs = {
            "net_income": ("pnl", pnl[key]["net_income"], cf[key]["net_income"]),
            "cash": ("balance_sheet", bs[key]["cash"], cf[key]["cash"]),
        }
        for field, (other, left, right) in pairs.items():
            if not close(left, right, 0.05):
                found[(key[0], key[1], field)] = {other: left, "cash_flow": right}
        d_and_a = combine(pnl[key], "depreciation + amortization")
        assert close(d_and_a, cf[key]["depreciation_and_amortization"]), key
    return found


def test_cross_source_differences_are_exactly_the_manifest_discrepancies(
    canonical, manifest
):
    found = cross_source_differences(canonical)
    compared = [
        (canonical["pnl"][key]["net_income"], canonical["cash_flow"][key]["cash"])
        for key in canonical["pnl"]
    ]
    assert sum(None not in pair for pair in compared) >= 390
    recorded = {
        (e["company_id"], e["period_end"], e["field"]): e["values"]
        for e in manifest["discrepancies"]
    }
    assert 3 <= len(recorded) <= 5
    assert set(found) == set(recorded)
    for key, values in recorded.items():
        assert values == pytest.approx(found[key])
        low, high = sorted(abs(v) for v in values.values())
        assert (high - low) / high > 0.005, key


def test_sample_data_doc_lists_every_deliberate_anomaly(manifest):
    text = (ROOT / "data_sources" / "SAMPLE_DATA.md").read_text(encoding="utf-8")
    for entry in manifest["discrepancies"]:
        assert entry["company_id"] in text and entry["period_end"] in text
    for entry in manifest["unknown_keys"] + manifest["malformed_values"]:
        assert entry.get("raw", entry.get("value")) in text
