-- Balance sheet, as the balance-sheet vendor publishes it.
-- Key: company. Period: as_of as MM/DD/YYYY. Amounts in thousands.
CREATE TABLE IF NOT EXISTS balance_sheet (
    company TEXT NOT NULL,
    as_of TEXT NOT NULL,
    cash_and_equivalents REAL,
    accounts_receivable REAL,
    inventory REAL,
    total_current_assets REAL,
    total_assets REAL,
    accounts_payable REAL,
    total_current_liabilities REAL,
    total_liabilities REAL,
    long_term_debt REAL,
    shareholders_equity REAL,
    retained_earnings REAL,
    PRIMARY KEY (company, as_of)
);
