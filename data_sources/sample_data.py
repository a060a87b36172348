"""Deterministic sample data for the statement services, plus registry and config.

``python -m data_sources.sample_data [--out-dir DIR] [--seed N]`` writes, under DIR
(the repository root by default), ``data_sources/<slug>/sample.json`` per statement,
``data_sources/companies.json`` (the registry), ``data_sources/sample_manifest.json``
(every deliberate anomaly) and the root ``config.json``. All randomness comes from one
``random.Random(seed)``, so a seed always gives byte-identical files. Amounts are
simulated in integer cents, so the accounting identities hold exactly before each
vendor's formatting (P&L units, balance sheet thousands with one decimal, cash flow
text) is applied. SAMPLE_DATA.md describes the data and its deliberate mess.
"""

import argparse
import functools
import json
import logging
import random
import sqlite3
import string
from dataclasses import dataclass
from pathlib import Path

from data_sources.statements import STATEMENTS

LOG = logging.getLogger(__name__)

SEED = 20240930
REPO_ROOT = Path(__file__).resolve().parent.parent
QUARTERS = tuple((year, quarter) for year in (2023, 2024) for quarter in range(1, 5))
QUARTER_END = {1: ("03", "31"), 2: ("06", "30"), 3: ("09", "30"), 4: ("12", "31")}
HUNDRED = 10_000  # cents in 100 units: the balance sheet's 0.1-thousand precision
SUFFIXES = frozenset({"Inc", "Corp", "Co", "LLC", "Ltd", "PLC", "Group", "Holdings"})
AMBIGUOUS_WORDS = frozenset({"summit"})
DISCREPANCY_TOLERANCE = 0.005
COLUMN_TYPES = {"pnl": {"currency": "text"}}
TEXT_AMOUNT_SOURCES = frozenset({"cash_flow"})

#: (id letters, name, ticker, former names). Ids get digits 0001.. in this order.
COMPANIES = (
    ("ACME", "Acme Robotics Inc", "ACR", ("Acme Automation Inc",)),
    ("NORT", "Northwind Logistics Corp", "NWL", ()),
    ("INIT", "Initech Software Inc", "INTK", ("Initrode Inc",)),
    ("UMBR", "Umbrella Pharmaceuticals PLC", "UMB", ()),
    ("STRK", "Stark Aerospace Corp", "STK", ()),
    ("WAYN", "Wayne Industrial Holdings", "WIH", ()),
    ("CYBE", "Cyberdyne Systems Inc", "CYD", ()),
    ("SOYL", "Soylent Foods Co", "SOY", ()),
    ("HOOL", "Hooli Search Inc", "HOOL", ("Hooli XYZ Inc",)),
    ("VAND", "Vandelay Imports LLC", "VDL", ("Vandelay Industries LLC",)),
    ("PIED", "Pied Piper Compression Inc", "PIPR", ()),
    ("TYRE", "Tyrell Genetics Corp", "TYG", ()),
    ("OSCO", "Oscorp Materials Inc", "OSM", ()),
    ("MASS", "Massive Dynamic Group", "MDY", ()),
    ("WONK", "Wonka Confectionery Co", "WONK", ()),
    ("GRIN", "Gringotts Banking Ltd", "GBL", ()),
    ("DUND", "Dunder Mifflin Paper Co", "DMP", ("Dunder Mifflin Sabre Co",)),
    ("BLUT", "Bluth Homes Inc", "BLH", ()),
    ("PRES", "Prestige Worldwide Media Inc", "PWM", ()),
    ("STER", "Sterling Cooper Advertising LLC", "SCA", ("Sterling Draper Pryce LLC",)),
    ("APER", "Aperture Optics Inc", "APO", ()),
    ("BLAC", "Black Mesa Research Corp", "BMR", ()),
    ("MONA", "Monarch Solar Holdings", "MSH", ()),
    ("ZORI", "Zorin Mining Corp", "ZMC", ()),
    ("NAKA", "Nakatomi Trading Co", "NKT", ()),
    ("BSUN", "Blue Sun Beverages Inc", "BSB", ()),
    ("REKA", "Rekall Travel Inc", "RKL", ()),
    ("WEYL", "Weyland Shipping Corp", "WEY", ()),
    ("KRUS", "Krusty Restaurants Inc", "KRB", ()),
    ("DUFF", "Duff Brewing Co", "DUFF", ()),
    ("OLLI", "Ollivander Woodworks Ltd", "OWW", ("Ollivander Wands Ltd",)),
    ("FONT", "Fontaine Marine Corp", "FMC", ()),
    ("GEKK", "Gekko Capital LLC", "GKC", ()),
    ("SPAC", "Spacely Sprockets Inc", "SPSK", ()),
    ("COGS", "Cogswell Cogs Corp", "CGC", ()),
    ("VIRT", "Virtucon Telecom Inc", "VTC", ()),
    ("RAVE", "Ravenna Retail Corp", "RVR", ()),
    ("HALC", "Halcyon Hotels Group", "HHG", ()),
    ("YOYO", "Yoyodyne Propulsion Inc", "YOY", ()),
    ("FROB", "Frobozz Magic Co", "FRB", ()),
    ("BING", "Bingham Textiles Inc", "BGT", ()),
    ("QUAR", "Quartzline Semiconductor Corp", "QZL", ()),
    ("EVER", "Everlight Utilities Co", "EVU", ()),
    ("COPP", "Copperfield Insurance Group", "CPI", ()),
    ("LAKE", "Lakeshore Dairy Co", "LKD", ()),
    ("HARB", "Harbinger Biotech Inc", "HBT", ()),
    ("IRON", "Ironclad Security Inc", "ICS", ()),
    ("JUNI", "Juniper Furniture Ltd", "JFL", ()),
    ("SUEN", "Summit Energy Corp", "SME", ()),
    ("SUHE", "Summit Health Group", "SMH", ()),
)

SCHEMA_MAPPING = {
    "pnl": {
        "company_id": "company_id",
        "period_end": "period_end",
        "currency": "currency",
        "revenue": "revenue",
        "cost_of_revenue": "cost_of_goods_sold",
        "gross_profit": "gross_profit",
        "operating_expenses": "operating_expenses",
        "depreciation": "depreciation",
        "amortization": "amortization",
        "operating_income": "operating_income",
        "interest_expense": "interest_expense",
        "income_tax": "income_tax",
        "net_income": "net_income",
    },
    "balance_sheet": {
        "company": "company_id",
        "as_of": "period_end",
        "cash_and_equivalents": "cash",
        "accounts_receivable": "accounts_receivable",
        "inventory": "inventory",
        "total_current_assets": "current_assets",
        "total_assets": "total_assets",
        "accounts_payable": "accounts_payable",
        "total_current_liabilities": "current_liabilities",
        "total_liabilities": "total_liabilities",
        "long_term_debt": "long_term_debt",
        "shareholders_equity": "shareholders_equity",
        "retained_earnings": "retained_earnings",
    },
    "cash_flow": {
        "ticker_or_id": "company_id",
        "fiscal_quarter": "period_end",
        "net_income": "net_income",
        "depreciation_amortization": "depreciation_and_amortization",
        "change_in_working_capital": "change_in_working_capital",
        "cash_from_operations": "operating_cash_flow",
        "capital_expenditure": "capital_expenditure",
        "cash_from_investing": "investing_cash_flow",
        "dividends_paid": "dividends_paid",
        "cash_from_financing": "financing_cash_flow",
        "beginning_cash": "beginning_cash",
        "ending_cash": "cash",
    },
}

CANONICAL_FIELDS = {
    "company_id": ("text", "Registry company id, e.g. ACME0001"),
    "period_end": ("date", "Calendar quarter-end date (YYYY-MM-DD)"),
    "currency": ("text", "ISO 4217 currency code of the P&L amounts"),
    "revenue": ("numeric", "Total revenue for the quarter"),
    "cost_of_goods_sold": ("numeric", "Cost of revenue (goods and services sold)"),
    "gross_profit": ("numeric", "Revenue minus cost of goods sold"),
    "operating_expenses": ("numeric", "Operating expenses excluding D&A"),
    "depreciation": ("numeric", "Depreciation expense for the quarter"),
    "amortization": ("numeric", "Amortization expense for the quarter"),
    "operating_income": ("numeric", "Gross profit minus operating expenses and D&A"),
    "interest_expense": ("numeric", "Interest expense for the quarter"),
    "income_tax": ("numeric", "Income tax expense for the quarter"),
    "net_income": ("numeric", "Net income (P&L and cash flow statement)"),
    "cash": ("numeric", "Cash and equivalents at quarter end"),
    "accounts_receivable": ("numeric", "Accounts receivable at quarter end"),
    "inventory": ("numeric", "Inventory at quarter end"),
    "current_assets": ("numeric", "Total current assets at quarter end"),
    "total_assets": ("numeric", "Total assets at quarter end"),
    "accounts_payable": ("numeric", "Accounts payable at quarter end"),
    "current_liabilities": ("numeric", "Total current liabilities at quarter end"),
    "total_liabilities": ("numeric", "Total liabilities at quarter end"),
    "long_term_debt": ("numeric", "Long-term debt at quarter end"),
    "shareholders_equity": ("numeric", "Total assets minus total liabilities"),
    "retained_earnings": ("numeric", "Cumulative retained earnings at quarter end"),
    "depreciation_and_amortization": ("numeric", "D&A added back in operating cash"),
    "change_in_working_capital": ("numeric", "Cash effect of working capital changes"),
    "operating_cash_flow": ("numeric", "Net cash from operating activities"),
    "capital_expenditure": ("numeric", "Purchases of property and equipment (<= 0)"),
    "investing_cash_flow": ("numeric", "Net cash from investing activities"),
    "dividends_paid": ("numeric", "Dividends paid to shareholders (<= 0)"),
    "financing_cash_flow": ("numeric", "Net cash from financing activities"),
    "beginning_cash": ("numeric", "Cash at the start of the quarter"),
}

#: Messy key kinds and how many rows of each per source (about 5% of all rows).
MESSY_PLAN = {
    "pnl": {"lowercase": 3, "whitespace": 3, "dash": 3, "typo": 3, "name": 2,
            "short_name": 2, "ticker": 2},
    "balance_sheet": {"lowercase": 2, "whitespace": 3, "dash": 2, "typo": 3, "name": 3,
                      "short_name": 3, "alias": 2},
    "cash_flow": {"ticker": 12, "lowercase": 2, "whitespace": 3, "dash": 2, "typo": 3,
                  "name": 2},
}  # fmt: skip

#: (source, raw key, kind, quarter indexes) of rows for companies not in the registry.
UNKNOWN_PLAN = (
    ("pnl", "ZZQX9999", "no_match", (6, 7)),
    ("pnl", "ACME0099", "digits_differ", (3,)),
    ("balance_sheet", "Globex Unknown LLC", "no_match", (0, 1)),
    ("balance_sheet", "NORT0077", "digits_differ", (5,)),
    ("cash_flow", "Tessier Ashpool SA", "no_match", (2,)),
    ("cash_flow", "INIT0300", "digits_differ", (4, 5)),
)

#: Native columns set to null, one row each.
MISSING_PLAN = {
    "pnl": ("revenue", "operating_expenses", "income_tax", "net_income", "currency"),
    "balance_sheet": ("inventory", "accounts_payable", "retained_earnings",
                      "long_term_debt"),
    "cash_flow": ("dividends_paid", "change_in_working_capital", "capital_expenditure",
                  "beginning_cash"),
}  # fmt: skip

#: Cash-flow text columns given a malformed number, and how it is garbled.
MALFORMED_PLAN = (
    ("cash_from_operations", "letter_o"),
    ("ending_cash", "dots"),
    ("capital_expenditure", "dashes"),
    ("net_income", "not_available"),
    ("dividends_paid", "letter_o"),
)

#: (field, source whose value is altered, relative change).
DISCREPANCY_PLAN = (
    ("net_income", "cash_flow", 0.04),
    ("net_income", "cash_flow", -0.11),
    ("cash", "balance_sheet", 0.06),
    ("cash", "balance_sheet", -0.025),
)


@dataclass(frozen=True)
class Profile:
    """One company's drivers: first-quarter revenue (cents) and ratios to it."""

    revenue: int
    growth: float
    cogs: float
    opex: float
    dep: float
    amort: float
    tax: float
    rate: float
    capex: float
    payout: float
    receivables: float
    inventory: float
    payables: float
    fixed_assets: float
    cash: int
    debt: int
    retained: int


def round_hundred(cents: float) -> int:
    """Round an amount in cents to whole hundreds of units (0.1 thousand)."""
    return int(round(cents / HUNDRED)) * HUNDRED


def format_amount(cents: int) -> str:
    """Format cents as the cash-flow vendor does: "1,234.50", "(200.00)"."""
    whole, frac = divmod(abs(cents), 100)
    text = f"{whole:,}.{frac:02d}"
    return f"({text})" if cents < 0 else text


def format_period(period_format: str, year: int, quarter: int) -> str:
    """Return the quarter's period in one of the vendors' period formats."""
    month, day = QUARTER_END[quarter]
    return {
        "iso_date": f"{year}-{month}-{day}",
        "us_date": f"{month}/{day}/{year}",
        "year_quarter": f"{year}Q{quarter}",
    }[period_format]


def schema_columns(slug: str) -> list[str]:
    """Return the native columns of ``slug`` in declared order, read from schema.sql."""
    spec = STATEMENTS[slug]
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(spec.schema_path.read_text())
        return [row[1] for row in conn.execute(f"PRAGMA table_info({spec.table})")]
    finally:
        conn.close()


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


def draw_profile(rng: random.Random) -> Profile:
    """Draw one company's drivers."""
    revenue = rng.randint(200_000_000, 9_000_000_000)
    return Profile(
        revenue=revenue,
        growth=rng.uniform(-0.01, 0.04),
        cogs=rng.uniform(0.35, 0.7),
        opex=rng.uniform(0.12, 0.3),
        dep=rng.uniform(0.02, 0.05),
        amort=rng.uniform(0.0, 0.02),
        tax=rng.uniform(0.19, 0.27),
        rate=rng.uniform(0.03, 0.08),
        capex=rng.uniform(0.02, 0.08),
        payout=rng.choice((0.0, 0.0, 0.2, 0.35, 0.5)),
        receivables=rng.uniform(0.3, 0.9),
        inventory=rng.choice((0.0, 0.4, 0.8, 1.2)),
        payables=rng.uniform(0.2, 0.6),
        fixed_assets=rng.uniform(1.0, 4.0),
        cash=round_hundred(revenue * rng.uniform(0.1, 0.6)),
        debt=round_hundred(revenue * rng.uniform(0.0, 1.5)),
        retained=round(revenue * rng.uniform(-0.5, 3.0)),
    )


def simulate(profile: Profile, rng: random.Random) -> list[dict]:
    """Return eight quarters of canonical facts in cents for one company."""
    state = {"cash": profile.cash, "debt": profile.debt, "retained": profile.retained}
    revenue, quarters = profile.revenue, []
    for _ in QUARTERS:
        revenue = round(revenue * (1 + profile.growth + rng.uniform(-0.04, 0.04)))
        facts = income_statement(profile, revenue, state["debt"], rng)
        facts.update(cash_flow(profile, facts, state, rng))
        facts.update(balance_sheet(profile, facts, state, rng))
        quarters.append(facts)
    return quarters


def income_statement(profile: Profile, revenue: int, debt: int, rng) -> dict:
    """Return the quarter's P&L facts; every subtotal is exact in cents."""
    cost = round(revenue * profile.cogs * rng.uniform(0.97, 1.03))
    opex = round(revenue * profile.opex * rng.uniform(0.95, 1.05))
    dep, amort = round(revenue * profile.dep), round(revenue * profile.amort)
    operating = revenue - cost - opex - dep - amort
    interest = round(debt * profile.rate / 4)
    tax = max(0, round((operating - interest) * profile.tax))
    return {
        "revenue": revenue,
        "cost_of_goods_sold": cost,
        "gross_profit": revenue - cost,
        "operating_expenses": opex,
        "depreciation": dep,
        "amortization": amort,
        "operating_income": operating,
        "interest_expense": interest,
        "income_tax": tax,
        "net_income": operating - interest - tax,
    }


def cash_flow(profile: Profile, facts: dict, state: dict, rng) -> dict:
    """Return the quarter's cash-flow facts; ending cash is whole hundreds of units."""
    revenue, net, begin = facts["revenue"], facts["net_income"], state["cash"]
    d_and_a = facts["depreciation"] + facts["amortization"]
    capex = -round(revenue * profile.capex * rng.uniform(0.8, 1.2))
    investing = capex - round(revenue * rng.uniform(0.0, 0.02))
    dividends = -round(max(net, 0) * profile.payout)
    borrowing = max(round_hundred(revenue * rng.uniform(-0.03, 0.03)), -state["debt"])
    draft = begin + net + d_and_a + round(revenue * rng.uniform(-0.04, 0.04))
    draft += investing + dividends + borrowing
    shortfall = round_hundred(revenue * 0.05) - draft
    if shortfall > 0:  # borrow enough to keep a cash cushion
        borrowing += round_hundred(shortfall) + HUNDRED
        draft += round_hundred(shortfall) + HUNDRED
    end, financing = round_hundred(draft), dividends + borrowing
    working_capital = end - begin - net - d_and_a - investing - financing
    state["cash"], state["debt"] = end, state["debt"] + borrowing
    return {
        "depreciation_and_amortization": d_and_a,
        "change_in_working_capital": working_capital,
        "operating_cash_flow": net + d_and_a + working_capital,
        "capital_expenditure": capex,
        "investing_cash_flow": investing,
        "dividends_paid": dividends,
        "financing_cash_flow": financing,
        "beginning_cash": begin,
        "cash": end,
    }


def balance_sheet(profile: Profile, facts: dict, state: dict, rng) -> dict:
    """Return the quarter's balance-sheet facts, each a whole number of hundreds."""
    revenue, cost, cash = facts["revenue"], facts["cost_of_goods_sold"], facts["cash"]
    receivables = round_hundred(revenue * profile.receivables * rng.uniform(0.9, 1.1))
    inventory = round_hundred(cost * profile.inventory * rng.uniform(0.9, 1.1))
    other_current = round_hundred(revenue * rng.uniform(0.02, 0.1))
    current = cash + receivables + inventory + other_current
    payables = round_hundred(cost * profile.payables * rng.uniform(0.9, 1.1))
    current_debts = payables + round_hundred(revenue * rng.uniform(0.05, 0.15))
    other_debts = round_hundred(revenue * rng.uniform(0.0, 0.2))
    liabilities = current_debts + state["debt"] + other_debts
    fixed = round_hundred(revenue * profile.fixed_assets)
    assets = max(current + fixed, round_hundred(liabilities * 1.25))
    state["retained"] += facts["net_income"] + facts["dividends_paid"]
    return {
        "accounts_receivable": receivables,
        "inventory": inventory,
        "current_assets": current,
        "total_assets": assets,
        "accounts_payable": payables,
        "current_liabilities": current_debts,
        "total_liabilities": liabilities,
        "long_term_debt": state["debt"],
        "shareholders_equity": assets - liabilities,
        "retained_earnings": round_hundred(state["retained"]),
    }


def iso_period(index: int) -> str:
    """Return the canonical period_end (ISO quarter-end date) of quarter ``index``."""
    return format_period("iso_date", *QUARTERS[index])


@functools.cache
def ordered_columns(slug: str) -> tuple[str, ...]:
    """Return the schema's columns, checking each one is mapped in SCHEMA_MAPPING."""
    columns = tuple(schema_columns(slug))
    if set(columns) != set(SCHEMA_MAPPING[slug]):
        raise ValueError(f"{slug}: schema columns and SCHEMA_MAPPING differ")
    return columns


def native_value(slug: str, cents: int):
    """Convert cents to the vendor's representation of an amount."""
    if slug == "balance_sheet":
        return cents // HUNDRED / 10
    if slug == "cash_flow":
        return format_amount(cents)
    return cents / 100


def native_row(slug: str, raw_key: str, index: int, facts: dict) -> dict:
    """Return one row in the native schema of ``slug`` from canonical facts."""
    mapping = SCHEMA_MAPPING[slug]
    special = {
        "company_id": raw_key,
        "period_end": format_period(STATEMENTS[slug].period_format, *QUARTERS[index]),
        "currency": "USD",
    }
    row = {}
    for column in ordered_columns(slug):
        field = mapping[column]
        row[column] = special.get(field) or native_value(slug, facts[field])
    return row


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
    settings = {
        "url": f"http://127.0.0.1:{spec.default_port}",
        "table": spec.table,
        "company_column": spec.key_column,
        "period_column": spec.period_column,
        "period_format": spec.period_format,
        "unit_scale": spec.unit_scale,
        "column_types": dict(COLUMN_TYPES.get(slug, {})),
    }
    if slug in TEXT_AMOUNT_SOURCES:
        settings["text_amounts"] = True
    return settings


def dump_rows(rows: list[dict]) -> str:
    """Serialize a list of objects as JSON, one object per line."""
    return "[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n"


def dump_manifest(manifest: dict) -> str:
    """Serialize the manifest as JSON with one list entry per line."""
    parts = []
    for key, value in manifest.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            entries = ",\n    ".join(json.dumps(entry) for entry in value)
            parts.append(f"  {json.dumps(key)}: [\n    {entries}\n  ]")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


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

    def render(self) -> dict[str, str]:
        """Return every output file's text keyed by its path relative to the root."""
        files = {
            STATEMENTS[slug]
            .sample_path.relative_to(REPO_ROOT)
            .as_posix(): dump_rows(list(rows.values()))
            for slug, rows in self.rows.items()
        }
        self.manifest["row_counts"] = {slug: len(r) for slug, r in self.rows.items()}
        files["data_sources/companies.json"] = dump_rows(self.companies)
        files["data_sources/sample_manifest.json"] = dump_manifest(self.manifest)
        config = build_config(list(self.by_id))
        files["config.json"] = json.dumps(config, indent=2) + "\n"
        return files


def alter(facts: dict, field: str, change: float) -> None:
    """Shift ``field`` by ``change`` (relative), keeping the source's own totals."""
    if field == "net_income":
        delta = round(facts["net_income"] * change)
        facts["net_income"] += delta
        facts["change_in_working_capital"] -= delta
        return
    delta = round_hundred(facts["cash"] * change)
    for name in ("cash", "current_assets", "total_assets", "shareholders_equity"):
        facts[name] += delta


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


def generate(seed: int = SEED) -> dict[str, str]:
    """Return every output file's text, keyed by path relative to the repository."""
    return SampleBuilder(seed).build().render()


def write_files(files: dict[str, str], out_dir: Path) -> None:
    """Write the generated files under ``out_dir``."""
    for relative, text in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        LOG.info("wrote %s", path)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: generate the sample files into --out-dir."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    write_files(generate(args.seed), args.out_dir)


if __name__ == "__main__":
    main()
