"""The sample data's tables: companies, field maps and the plan of deliberate mess.

Data, not code: the generator (``python -m data_sources.sample_data``) reads these to
build the registry, the config and every anomaly the manifest records.
"""

QUARTERS = tuple((year, quarter) for year in (2023, 2024) for quarter in range(1, 5))
QUARTER_END = {1: ("03", "31"), 2: ("06", "30"), 3: ("09", "30"), 4: ("12", "31")}
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
