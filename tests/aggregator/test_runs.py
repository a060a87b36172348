"""Past runs: listing, reading, and downloads that never leave the output folder."""

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from aggregator import runs
from aggregator.export import write_outputs
from data_sources.errors import BadRequestError, NotFoundError

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
BAD_IDS = ["..", "../x", "ABCDEF123456", "abc", "%2e%2e", "/etc/passwd", "a" * 13, ""]


@pytest.fixture
def out_dir(tmp_path):
    """An output folder inside tmp_path, with a secret file beside it."""
    (tmp_path / "secret.txt").write_text("not yours")
    folder = tmp_path / "output"
    folder.mkdir()
    return folder


def test_list_manifests_is_newest_first_with_summaries(make_result, out_dir):
    older = make_result(created_at="2024-05-06T07:08:09Z")
    newer = make_result(created_at="2024-05-06T08:08:09Z")
    write_outputs(older, out_dir, NOW)
    paths = write_outputs(newer, out_dir, NOW + timedelta(hours=1))
    listed = runs.list_manifests(out_dir)
    assert [run["run_id"] for run in listed] == [newer.run_id, older.run_id]
    assert listed[0] == json.loads(paths["manifest"].read_text())
    assert runs.summarize(listed[0]) == {
        "run_id": newer.run_id,
        "created_at": "2024-05-06T08:08:09Z",
        "row_count": 2,
        "complete": True,
        "query": newer.query.to_dict(),
    }
    assert len(runs.list_manifests(out_dir, limit=1)) == 1


def test_download_kinds_are_the_files_written_plus_the_manifest(make_result, out_dir):
    result = make_result()
    paths = write_outputs(result, out_dir, NOW, ("json",))
    manifest = runs.read_run(out_dir, result.run_id)
    assert runs.download_kinds(manifest) == ["csv", "json", "rejected", "manifest"]
    assert set(runs.download_kinds(manifest)) == set(paths)


@pytest.mark.parametrize(
    "manifest, kinds",
    [
        ({"run_id": "../etc", "files": {"csv": {"name": "x.csv"}}}, []),
        ({"files": {"csv": {"name": "x.csv"}}}, []),
        ({"run_id": "0123456789ab", "files": ["csv"]}, ["manifest"]),
        (
            {"run_id": "0123456789ab", "files": {"xlsx": {}, "csv": {}}},
            ["csv", "manifest"],
        ),
    ],
)
def test_download_kinds_offer_only_what_a_url_can_reach(manifest, kinds):
    assert runs.download_kinds(manifest) == kinds


def test_list_manifests_skips_unreadable_and_unfinished_manifests(
    make_result, out_dir, caplog
):
    write_outputs(make_result(), out_dir, NOW)
    broken = out_dir / "aggregated_results_20240507_000000_0123456789ab_manifest.json"
    broken.write_text("{not json")
    unfinished = (
        out_dir / "aggregated_results_20240508_000000_ba9876543210_manifest.json"
    )
    unfinished.touch()
    with caplog.at_level(logging.WARNING, logger="aggregator.runs"):
        assert len(runs.list_manifests(out_dir)) == 1
    assert "unreadable manifest" in caplog.text
    assert runs.list_manifests(out_dir / "missing") == []


def test_read_run_returns_the_manifest(make_result, out_dir):
    result = make_result()
    paths = write_outputs(result, out_dir, NOW)
    manifest = runs.read_run(out_dir, result.run_id)
    assert manifest == json.loads(paths["manifest"].read_text())


@pytest.mark.parametrize("run_id", BAD_IDS)
def test_malformed_run_ids_are_not_found(make_result, out_dir, run_id):
    write_outputs(make_result(), out_dir, NOW)
    with pytest.raises(NotFoundError, match="No run with that id"):
        runs.read_run(out_dir, run_id)
    with pytest.raises(NotFoundError):
        runs.resolve_download(out_dir, run_id, "csv")


def test_an_unknown_run_id_is_not_found(out_dir):
    with pytest.raises(NotFoundError, match="No run with that id"):
        runs.read_run(out_dir, "0123456789ab")


def test_resolve_download_gives_the_file_type_and_name(make_result, out_dir):
    result = make_result()
    paths = write_outputs(result, out_dir, NOW, ("parquet",))
    found = runs.resolve_download(out_dir, result.run_id, "parquet")
    assert found.path == paths["parquet"].resolve()
    assert (found.mimetype, found.name) == (
        "application/vnd.apache.parquet",
        paths["parquet"].name,
    )


@pytest.mark.parametrize("fmt", ["xlsx", "../csv", "CSV", "", "/etc/passwd"])
def test_formats_outside_the_allow_list_are_refused(make_result, out_dir, fmt):
    result = make_result()
    write_outputs(result, out_dir, NOW)
    with pytest.raises(BadRequestError, match="format must be one of"):
        runs.resolve_download(out_dir, result.run_id, fmt)


def test_a_format_the_run_did_not_write_is_not_found(make_result, out_dir):
    result = make_result()
    write_outputs(result, out_dir, NOW)
    with pytest.raises(NotFoundError, match="has no json output"):
        runs.resolve_download(out_dir, result.run_id, "json")


@pytest.mark.parametrize(
    "name", ["../secret.txt", "/etc/passwd", "..", "aggregated_results_x/../../x"]
)
def test_a_tampered_manifest_cannot_point_outside(make_result, out_dir, name):
    result = make_result()
    paths = write_outputs(result, out_dir, NOW)
    manifest = json.loads(paths["manifest"].read_text())
    manifest["files"]["csv"]["name"] = name
    paths["manifest"].write_text(json.dumps(manifest))
    with pytest.raises(NotFoundError, match="No such output file"):
        runs.resolve_download(out_dir, result.run_id, "csv")


def test_a_symlink_out_of_the_folder_is_refused(make_result, out_dir):
    result = make_result()
    paths = write_outputs(result, out_dir, NOW)
    paths["csv"].unlink()
    paths["csv"].symlink_to(out_dir.parent / "secret.txt")
    with pytest.raises(NotFoundError, match="No such output file"):
        runs.resolve_download(out_dir, result.run_id, "csv")


def test_the_manifest_itself_is_downloadable(make_result, out_dir):
    result = make_result()
    paths = write_outputs(result, out_dir, NOW)
    found = runs.resolve_download(out_dir, result.run_id, "manifest")
    assert found.path == paths["manifest"].resolve()
    assert found.mimetype == "application/json"


def test_a_symlinked_manifest_is_not_a_run(make_result, tmp_path, out_dir):
    result = make_result()
    elsewhere = tmp_path / "elsewhere"
    paths = write_outputs(result, elsewhere, NOW)
    (out_dir / paths["manifest"].name).symlink_to(paths["manifest"])
    assert runs.list_manifests(out_dir) == []
    with pytest.raises(NotFoundError, match="No run with that id"):
        runs.read_run(out_dir, result.run_id)
