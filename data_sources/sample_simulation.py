"""Simulated statements: each company's quarters as consistent facts in cents.

Amounts are integer cents, so the accounting identities hold exactly before each
vendor's formatting is applied; all randomness comes from the ``random.Random``
passed in, so the call order here decides the bytes of every generated file.
"""

import random
from dataclasses import dataclass

from data_sources.sample_tables import QUARTERS

HUNDRED = 10_000  # cents in 100 units: the balance sheet's 0.1-thousand precision


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
