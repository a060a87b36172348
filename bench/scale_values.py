"""Vectorised synthetic amounts for the three statements, one row per company-period."""

import numpy as np

NULL_RATE = 0.005
DISCREPANCY_RATE = 0.001
MALFORMED_RATE = 0.0001
MALFORMED = ("12.3.4", "#REF!", "1,2x4.00")


def _share(rng, n, low, high):
    """Return ``n`` uniform fractions in ``[low, high)``."""
    return rng.uniform(low, high, n)


def base_revenue(rng: np.random.Generator, n_companies: int, n_periods: int):
    """Return quarterly revenue per company-period, company-major order."""
    scale = rng.lognormal(mean=17.5, sigma=1.4, size=n_companies)
    growth = rng.normal(1.0, 0.08, size=(n_companies, n_periods)).clip(0.5, 1.6)
    return (scale[:, None] * growth).ravel()


def pnl_values(rng: np.random.Generator, revenue: np.ndarray) -> dict:
    """Return the income statement's amounts in units."""
    n = revenue.size
    cost = revenue * _share(rng, n, 0.4, 0.8)
    gross = revenue - cost
    opex = revenue * _share(rng, n, 0.08, 0.25)
    dep = revenue * _share(rng, n, 0.01, 0.05)
    amort = revenue * _share(rng, n, 0.0, 0.02)
    operating = gross - opex - dep - amort
    interest = revenue * _share(rng, n, 0.0, 0.03)
    tax = np.maximum(0.0, (operating - interest) * 0.21)
    return {
        "revenue": revenue,
        "cost_of_revenue": cost,
        "gross_profit": gross,
        "operating_expenses": opex,
        "depreciation": dep,
        "amortization": amort,
        "operating_income": operating,
        "interest_expense": interest,
        "income_tax": tax,
        "net_income": operating - interest - tax,
    }


def balance_values(rng: np.random.Generator, revenue: np.ndarray) -> dict:
    """Return the balance sheet's amounts in units (scaled to thousands on write)."""
    n = revenue.size
    cash = revenue * _share(rng, n, 0.1, 0.9)
    receivable = revenue * _share(rng, n, 0.1, 0.4)
    inventory = revenue * _share(rng, n, 0.0, 0.5)
    current = cash + receivable + inventory
    assets = current * _share(rng, n, 1.5, 3.5)
    payable = revenue * _share(rng, n, 0.05, 0.3)
    current_liab = payable * _share(rng, n, 1.0, 1.6)
    debt = assets * _share(rng, n, 0.05, 0.4)
    liabilities = current_liab + debt
    return {
        "cash_and_equivalents": cash,
        "accounts_receivable": receivable,
        "inventory": inventory,
        "total_current_assets": current,
        "total_assets": assets,
        "accounts_payable": payable,
        "total_current_liabilities": current_liab,
        "total_liabilities": liabilities,
        "long_term_debt": debt,
        "shareholders_equity": assets - liabilities,
        "retained_earnings": (assets - liabilities) * _share(rng, n, 0.2, 0.9),
    }


def cash_flow_values(rng, revenue, net_income, ending_cash) -> dict:
    """Return the cash flow statement's amounts in units, tied to the other two."""
    n = revenue.size
    net = net_income.copy()
    off = rng.random(n) < DISCREPANCY_RATE
    net[off] *= 1.1
    dep = revenue * _share(rng, n, 0.01, 0.07)
    working = revenue * rng.normal(0.0, 0.05, n)
    operations = net + dep + working
    capex = -revenue * _share(rng, n, 0.02, 0.15)
    investing = capex * _share(rng, n, 1.0, 1.3)
    dividends = -np.maximum(0.0, net) * _share(rng, n, 0.0, 0.4)
    financing = dividends + revenue * rng.normal(0.0, 0.03, n)
    return {
        "net_income": net,
        "depreciation_amortization": dep,
        "change_in_working_capital": working,
        "cash_from_operations": operations,
        "capital_expenditure": capex,
        "cash_from_investing": investing,
        "dividends_paid": dividends,
        "cash_from_financing": financing,
        "beginning_cash": ending_cash - (operations + investing + financing),
        "ending_cash": ending_cash,
    }


def _text_amount(value: float) -> str:
    """Format an amount the way the cash-flow vendor does: 1,234.50 or (200.00)."""
    return f"({-value:,.2f})" if value < 0 else f"{value:,.2f}"


def to_column(rng, values: np.ndarray, decimals: int, text: bool = False) -> list:
    """Round, optionally format as vendor text, and blank out a few values."""
    rounded = np.round(values, decimals).tolist()
    column = [_text_amount(v) for v in rounded] if text else rounded
    for index in np.flatnonzero(rng.random(len(column)) < NULL_RATE).tolist():
        column[index] = None
    if text:
        bad = np.flatnonzero(rng.random(len(column)) < MALFORMED_RATE).tolist()
        for number, index in enumerate(bad):
            column[index] = MALFORMED[number % len(MALFORMED)]
    return column
