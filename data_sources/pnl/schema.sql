-- Profit and loss, as the P&L vendor publishes it.
-- Key: company_id. Period: period_end as an ISO date (YYYY-MM-DD). Amounts in units.
CREATE TABLE IF NOT EXISTS income_statement (
    company_id TEXT NOT NULL,
    period_end TEXT NOT NULL,
    currency TEXT,
    revenue REAL,
    cost_of_revenue REAL,
    gross_profit REAL,
    operating_expenses REAL,
    depreciation REAL,
    amortization REAL,
    operating_income REAL,
    interest_expense REAL,
    income_tax REAL,
    net_income REAL,
    PRIMARY KEY (company_id, period_end)
);
