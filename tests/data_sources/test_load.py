"""The loader: validate everything first, then one idempotent transaction."""

import csv
import hashlib
import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from data_sources import init_db, load
from data_sources.load import LoadError, load_file, load_rows
from data_sources.statements import STATEMENTS
from data_sources.validate import period_problem

TEST_DATA = Path(__file__).parents[1] / "data"
PNL = STATEMENTS["pnl"]


def _rows(slug="pnl"):
    return json.loads((TEST_DATA / f"{slug}.json").read_text())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dump(path: Path, table: str) -> list:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
    conn.close()
    return rows


def _bad_rows():
    rows = [dict(row) for row in _rows()[:9]]
    rows[1]["company_id"] = " "
    rows[2]["period_end"] = "2024-02-15"
    rows[3]["revenue"] = "12"
    rows[4]["colour"] = "red"
    del rows[5]["net_income"]
    rows[6]["period_end"] = "09/30/2024"
    rows[7]["revenue"] = float("nan")
    rows[8]["revenue"] = True
    return rows


EXPECTED_PROBLEMS = [
    "row 2: company_id must be non-empty text",
    "row 3: period_end '2024-02-15' is not a quarter-end date",
    "row 4: revenue must be a number or null, got '12'",
    "row 5: unknown column(s) colour",
    "row 6: missing column(s) net_income",
    "row 7: period_end '09/30/2024' is not a iso_date period like 2024-09-30",
    "row 8: revenue must be a finite number, got nan",
    "row 9: revenue must be a number or null, got True",
]


def test_bad_rows_are_all_reported_by_row_number(tmp_path):
    with pytest.raises(LoadError) as caught:
        load_rows(PNL, _bad_rows(), tmp_path / "pnl.db")
    assert caught.value.details["problems"] == EXPECTED_PROBLEMS
    assert not (tmp_path / "pnl.db").exists()


def test_duplicate_key_and_period_is_reported(tmp_path):
    rows = _rows()
    with pytest.raises(LoadError) as caught:
        load_rows(PNL, rows + [rows[0]], tmp_path / "pnl.db")
    problem = "row 13: duplicate of row 1 ('ACME0001', '2024-03-31')"
    assert caught.value.details["problems"] == [problem]


def test_rejected_file_leaves_existing_db_byte_identical(tmp_path, caplog):
    db_path = tmp_path / "pnl.db"
    load_file(PNL, TEST_DATA / "pnl.json", db_path)
    before = _digest(db_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_bad_rows()))
    with caplog.at_level(logging.ERROR):
        code = load.main(["pnl", str(bad), "--db", str(db_path)])
    assert code == 1
    assert _digest(db_path) == before
    assert "pnl: bad.json rejected, nothing loaded" in caplog.text
    for problem in EXPECTED_PROBLEMS:
        assert problem in caplog.text


@pytest.mark.parametrize("slug", sorted(STATEMENTS))
def test_reloading_the_same_file_changes_nothing(tmp_path, slug):
    spec, db_path = STATEMENTS[slug], tmp_path / f"{slug}.db"
    first = load_file(spec, TEST_DATA / f"{slug}.json", db_path)
    content = _dump(db_path, spec.table)
    again = load_file(spec, TEST_DATA / f"{slug}.json", db_path)
    assert (first.rows, first.changed) == (12, 12)
    assert (again.rows, again.changed) == (12, 0)
    assert _dump(db_path, spec.table) == content


def test_upsert_updates_changed_rows_and_keeps_others(tmp_path):
    db_path = tmp_path / "pnl.db"
    load_file(PNL, TEST_DATA / "pnl.json", db_path)
    row = dict(_rows()[0], revenue=42.0)
    assert load_rows(PNL, [row], db_path).changed == 1
    revenues = {row[:2]: row[3] for row in _dump(db_path, PNL.table)}
    assert len(revenues) == 12
    assert revenues[("ACME0001", "2024-03-31")] == 42.0


def test_replace_drops_rows_missing_from_the_file(tmp_path):
    db_path = tmp_path / "pnl.db"
    load_file(PNL, TEST_DATA / "pnl.json", db_path)
    load_rows(PNL, _rows()[:2], db_path, replace=True)
    assert len(_dump(db_path, PNL.table)) == 2


def test_loaded_database_uses_wal_mode(tmp_path):
    db_path = tmp_path / "pnl.db"
    load_file(PNL, TEST_DATA / "pnl.json", db_path)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def _write_csv(path: Path, rows: list) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def test_csv_loads_like_json(tmp_path):
    as_csv = tmp_path / "pnl.csv"
    _write_csv(as_csv, _rows())
    load_file(PNL, as_csv, tmp_path / "from_csv.db")
    load_file(PNL, TEST_DATA / "pnl.json", tmp_path / "from_json.db")
    from_csv = _dump(tmp_path / "from_csv.db", PNL.table)
    assert from_csv == _dump(tmp_path / "from_json.db", PNL.table)


def test_csv_problems_are_reported_by_row(tmp_path):
    rows = _rows()[:3]
    rows[1]["revenue"] = "1,234"
    path = tmp_path / "bad.csv"
    _write_csv(path, rows)
    with path.open("a") as handle:
        handle.write("XTRA0001,2024-03-31,USD,1,2,3,4,5,6,7,8,9,10,11\n")
    with pytest.raises(LoadError) as caught:
        load_file(PNL, path, tmp_path / "pnl.db")
    assert caught.value.details["problems"] == [
        "row 4: more fields than the header",
        "row 2: revenue must be a number or empty, got '1,234'",
    ]


@pytest.mark.parametrize(
    ("text", "fmt", "problem"),
    [
        ("2024-09-30", "iso_date", None),
        ("09/30/2024", "us_date", None),
        ("2024Q3", "year_quarter", None),
        ("2024Q5", "year_quarter", "'2024Q5' is not a year_quarter period like 2024Q3"),
        ("02/30/2024", "us_date", "'02/30/2024' is not a real date"),
        (
            "2024-9-30",
            "iso_date",
            "'2024-9-30' is not a iso_date period like 2024-09-30",
        ),
        (None, "iso_date", "None is not a iso_date period like 2024-09-30"),
    ],
)
def test_period_formats(text, fmt, problem):
    assert period_problem(text, fmt) == problem


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{}", "bad.json: expected a JSON list of row objects"),
        ("[", "cannot read bad.json"),
        ("[]", "no rows to load"),
        ("[1]", "row 1: expected an object, got int"),
    ],
)
def test_unusable_files_are_rejected(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LoadError, match=message.replace("(", r"\(")):
        load_file(PNL, path, tmp_path / "pnl.db")
    assert not (tmp_path / "pnl.db").exists()


def test_unknown_statement_is_a_usage_error(tmp_path):
    assert load.main(["income", str(TEST_DATA / "pnl.json")]) == 2


def test_init_db_creates_three_databases_and_keeps_existing(tmp_path):
    paths = init_db.init_databases(tmp_path)
    assert sorted(paths) == sorted(STATEMENTS)
    digests = {slug: _digest(path) for slug, path in paths.items()}
    load_rows(PNL, [dict(_rows()[0], company_id="ZZZZ0001")], paths["pnl"])
    changed = _digest(paths["pnl"])
    init_db.init_databases(tmp_path)
    assert _digest(paths["pnl"]) == changed
    assert _digest(paths["cash_flow"]) == digests["cash_flow"]
    assert init_db.main(["--data-dir", str(tmp_path), "--force"]) == 0
    pnl_rows = _dump(paths["pnl"], PNL.table)
    assert "ZZZZ0001" not in {row[0] for row in pnl_rows}
    assert len(pnl_rows) == len(json.loads(PNL.sample_path.read_text()))


@pytest.mark.slow
def test_cli_exit_codes(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_bad_rows()))
    db_path = tmp_path / "pnl.db"
    command = [sys.executable, "-m", "data_sources.load", "pnl"]
    ok = subprocess.run(
        command + [str(TEST_DATA / "pnl.json"), "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    rejected = subprocess.run(
        command + [str(bad), "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "loaded 12 rows" in ok.stderr
    assert rejected.returncode == 1
    assert "row 2: company_id must be non-empty text" in rejected.stderr
