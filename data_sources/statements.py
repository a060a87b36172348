"""The statement registry: what differs between the three services, kept as data."""

from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

#: Period formats the services and the aggregator understand, with an example each.
PERIOD_FORMATS = {
    "iso_date": "2024-09-30",
    "us_date": "09/30/2024",
    "year_quarter": "2024Q3",
}


@dataclass(frozen=True)
class StatementSpec:
    """One statement service: its table, key and period columns, units and port."""

    slug: str
    label: str
    table: str
    key_column: str
    period_column: str
    period_format: str
    unit_scale: int
    default_port: int

    @property
    def directory(self) -> Path:
        """Folder holding this statement's schema, sample data and Dockerfile."""
        return PACKAGE_DIR / self.slug

    @property
    def schema_path(self) -> Path:
        """The CREATE TABLE script that defines the native schema."""
        return self.directory / "schema.sql"

    def source_settings(self) -> dict:
        """Return the aggregator's source entry this statement implies by default."""
        return {
            "url": f"http://127.0.0.1:{self.default_port}",
            "table": self.table,
            "company_column": self.key_column,
            "period_column": self.period_column,
            "period_format": self.period_format,
            "unit_scale": self.unit_scale,
            "column_types": {},
        }

    @property
    def sample_path(self) -> Path:
        """The bundled sample data, a JSON list of rows in the native schema."""
        return self.directory / "sample.json"


STATEMENTS = {
    spec.slug: spec
    for spec in (
        StatementSpec(
            slug="pnl",
            label="Profit and loss",
            table="income_statement",
            key_column="company_id",
            period_column="period_end",
            period_format="iso_date",
            unit_scale=1,
            default_port=5001,
        ),
        StatementSpec(
            slug="balance_sheet",
            label="Balance sheet",
            table="balance_sheet",
            key_column="company",
            period_column="as_of",
            period_format="us_date",
            unit_scale=1000,
            default_port=5002,
        ),
        StatementSpec(
            slug="cash_flow",
            label="Cash flow",
            table="cash_flow_statement",
            key_column="ticker_or_id",
            period_column="fiscal_quarter",
            period_format="year_quarter",
            unit_scale=1,
            default_port=5003,
        ),
    )
}


def get_statement(slug: str) -> StatementSpec:
    """Return the spec for ``slug`` or raise ``KeyError`` naming the known slugs."""
    try:
        return STATEMENTS[slug]
    except KeyError:
        known = ", ".join(sorted(STATEMENTS))
        raise KeyError(f"unknown statement {slug!r}; known: {known}") from None
