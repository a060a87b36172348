"""Outputs: atomic writes, unique UTC-stamped names, a manifest with true hashes."""

import io
import json
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from aggregator.export import file_sha256, output_stem, write_outputs

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def listing(folder) -> list:
    """Return the names in ``folder``, hidden temp files included, sorted."""
    return sorted(os.listdir(folder))


def test_writes_csv_rejected_and_manifest_named_by_utc_time(make_result, tmp_path):
    result = make_result()
    paths = write_outputs(result, tmp_path, NOW)
    stem = f"aggregated_results_20240506_070809_{result.run_id}"
    assert {kind: p.name for kind, p in paths.items()} == {
        "csv": f"{stem}.csv",
        "rejected": f"{stem}_rejected.csv",
        "manifest": f"{stem}_manifest.json",
    }
    assert listing(tmp_path) == sorted(p.name for p in paths.values())
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), result.rows)
    rejected = pd.read_csv(paths["rejected"])
    assert rejected["raw_key"].tolist() == result.rejected["raw_key"].tolist()


def test_the_manifest_records_the_run_and_each_file_hash(make_result, tmp_path):
    result = make_result()
    paths = write_outputs(result, tmp_path, NOW, ("csv", "parquet", "json"))
    manifest = json.loads(paths["manifest"].read_text())
    for kind in ("csv", "rejected", "parquet", "json"):
        entry = manifest["files"][kind]
        assert entry["name"] == paths[kind].name
        assert entry["sha256"] == file_sha256(paths[kind])
        assert entry["bytes"] == paths[kind].stat().st_size
    assert manifest["run_id"] == result.run_id
    assert manifest["query"] == result.query.to_dict()
    assert manifest["plan"] == json.loads(json.dumps(result.plan.to_dict()))
    assert manifest["sources"] == result.sources
    assert manifest["rejections"] == list(result.rejections)
    assert manifest["row_counts"] == {"rows": 2, "rejected": 1}
    assert "rows" not in manifest


def test_a_non_utc_now_is_converted_to_utc(make_result, tmp_path):
    result = make_result()
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    assert output_stem(local, result.run_id).startswith(
        "aggregated_results_20240506_070809_"
    )


def test_parquet_and_json_hold_the_same_rows(make_result, tmp_path):
    result = make_result()
    paths = write_outputs(result, tmp_path, NOW, ("parquet", "json"))
    pd.testing.assert_frame_equal(pd.read_parquet(paths["parquet"]), result.rows)
    body = json.loads(paths["json"].read_text())
    assert body["columns"] == list(result.rows.columns)
    assert body["rows"][1]["revenue"] is None  # NaN is null, never 0


def test_two_runs_at_the_same_second_get_different_names(make_result, tmp_path):
    first = write_outputs(make_result(), tmp_path, NOW)
    second = write_outputs(make_result(), tmp_path, NOW)
    assert first["csv"] != second["csv"]
    assert len(listing(tmp_path)) == 6


def test_an_existing_name_is_never_overwritten(make_result, tmp_path):
    result = make_result()
    paths = write_outputs(result, tmp_path, NOW)
    hashes = {kind: file_sha256(path) for kind, path in paths.items()}
    with pytest.raises(FileExistsError):
        write_outputs(result, tmp_path, NOW)
    assert {kind: file_sha256(path) for kind, path in paths.items()} == hashes
    assert listing(tmp_path) == sorted(p.name for p in paths.values())


def test_a_failed_write_leaves_no_files_behind(make_result, tmp_path):
    rows = pd.DataFrame({"company_id": ["A", "B"], "odd": [1, "text"]})
    with pytest.raises(Exception, match="odd|Conversion|convert"):
        write_outputs(make_result(rows=rows), tmp_path, NOW, ("parquet",))
    assert listing(tmp_path) == []


def test_unknown_formats_are_refused(make_result, tmp_path):
    with pytest.raises(ValueError, match="xlsx"):
        write_outputs(make_result(), tmp_path, NOW, ("xlsx",))
    assert listing(tmp_path) == []


def test_csv_quotes_only_what_must_be_quoted_and_reads_back():
    import io

    import numpy as np
    import pandas as pd

    from aggregator.export import csv_bytes

    plain = pd.DataFrame({"company_id": ["ACME0001"], "revenue": [1.5], "n": [2]})
    assert csv_bytes(plain).decode() == "company_id,revenue,n\nACME0001,1.5,2\n"
    tricky = pd.DataFrame(
        {
            "raw_key": ["Acme, Inc", 'say "hi"', "two\nlines", None],
            "value": [0.1, np.nan, -0.0, 1e20],
        }
    )
    back = pd.read_csv(io.BytesIO(csv_bytes(tricky)), keep_default_na=True)
    assert back["raw_key"].tolist()[:3] == ["Acme, Inc", 'say "hi"', "two\nlines"]
    assert pd.isna(back["raw_key"][3])
    assert np.array_equal(back["value"], tricky["value"], equal_nan=True)


def test_csv_written_in_slices_equals_one_slice(monkeypatch):
    from aggregator import export

    frame = pd.DataFrame(
        {
            "company_id": [f"C{n:05d}" for n in range(2_500)],
            "value": np.linspace(-1e6, 1e6, 2_500),
            "note": ["plain"] * 2_499 + ['has, a "quote"'],  # only the last slice
        }
    )
    frame.loc[7, "value"] = np.nan
    monkeypatch.setattr(export, "CSV_SLICE_ROWS", 1_000)
    sliced = export.csv_bytes(frame)
    monkeypatch.setattr(export, "CSV_SLICE_ROWS", 10_000)
    assert sliced == export.csv_bytes(frame)
    back = pd.read_csv(io.BytesIO(sliced))
    pd.testing.assert_frame_equal(back, frame)
