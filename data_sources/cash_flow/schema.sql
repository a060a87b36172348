-- Cash flow, as the cash-flow vendor publishes it.
-- Key: ticker_or_id. Period: fiscal_quarter as YYYYQn. Amounts in units, as text with
-- thousands separators and parentheses for negatives ("1,234.50", "(200.00)").
CREATE TABLE IF NOT EXISTS cash_flow_statement (
    ticker_or_id TEXT NOT NULL,
    fiscal_quarter TEXT NOT NULL,
    net_income TEXT,
    depreciation_amortization TEXT,
    change_in_working_capital TEXT,
    cash_from_operations TEXT,
    capital_expenditure TEXT,
    cash_from_investing TEXT,
    dividends_paid TEXT,
    cash_from_financing TEXT,
    beginning_cash TEXT,
    ending_cash TEXT,
    PRIMARY KEY (ticker_or_id, fiscal_quarter)
);
