"""The data version token follows every commit, from any connection."""

import sqlite3

from data_sources.data_version import read_data_version
from data_sources.statements import STATEMENTS


def test_every_commit_changes_the_token_even_in_quick_succession(fresh_db):
    path = fresh_db("pnl")
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    reader.execute("SELECT count(*) FROM income_statement").fetchall()
    writer = sqlite3.connect(path)
    tokens = [read_data_version(str(path)).token]
    for value in range(20):
        writer.execute(
            "UPDATE income_statement SET revenue = ? WHERE rowid = 1", (value,)
        )
        writer.commit()
        tokens.append(read_data_version(str(path)).token)
    writer.close()
    reader.close()
    assert len(set(tokens)) == len(tokens)


def test_reads_do_not_change_the_token(fresh_db):
    path = fresh_db("pnl")
    before = read_data_version(str(path))
    readers = [sqlite3.connect(f"file:{path}?mode=ro", uri=True) for _ in range(2)]
    for reader in readers:
        reader.execute("SELECT * FROM income_statement").fetchall()
        assert read_data_version(str(path)) == before
    for reader in readers:
        reader.close()
    assert read_data_version(str(path)) == before


def test_rollback_journal_databases_are_versioned_too(tmp_path):
    path = tmp_path / "pnl.db"
    conn = sqlite3.connect(path)
    conn.executescript(STATEMENTS["pnl"].schema_path.read_text())
    conn.commit()
    before = read_data_version(str(path))
    conn.execute(
        "INSERT INTO income_statement (company_id, period_end) VALUES ('A', 'B')"
    )
    conn.commit()
    conn.close()
    assert read_data_version(str(path)).token != before.token
