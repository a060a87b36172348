"""The response cache: bounds, age, copies, and invalidation by a real data change."""

import threading

import pandas as pd

from aggregator.cache import ResponseCache, SchemaCache, cache_key, frame_bytes
from aggregator.client import SourceResult
from aggregator.planner import SourceQuery
from data_sources.load import load_rows
from data_sources.statements import STATEMENTS

PNL_SQL = "SELECT company_id, period_end, revenue FROM income_statement"


class FakeClock:
    """A clock tests move by hand, so age checks need no sleeping."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def result(rows: int = 3, version: str = "v1") -> SourceResult:
    """Return a small SourceResult with ``rows`` rows."""
    frame = pd.DataFrame({"company_id": [f"C{i}" for i in range(rows)]})
    frame["revenue"] = [float(i) for i in range(rows)]
    return SourceResult(frame, version, 1.0, 1)


def test_a_hit_is_marked_cached_and_is_a_copy():
    cache = ResponseCache(max_entries=4, ttl=60)
    key = cache_key("pnl", PNL_SQL, {"c": "ACME0001"}, "v1")
    cache.put(key, result())
    hit = cache.get(key)
    assert hit.cached is True
    hit.frame.loc[0, "revenue"] = 99.0
    assert cache.get(key).frame.loc[0, "revenue"] == 0.0


def test_the_key_includes_params_and_data_version():
    cache = ResponseCache(max_entries=4, ttl=60)
    cache.put(cache_key("pnl", PNL_SQL, {"c": "A"}, "v1"), result())
    assert cache.get(cache_key("pnl", PNL_SQL, {"c": "B"}, "v1")) is None
    assert cache.get(cache_key("pnl", PNL_SQL, {"c": "A"}, "v2")) is None
    assert cache.get(cache_key("cash_flow", PNL_SQL, {"c": "A"}, "v1")) is None


def test_entries_expire_after_the_ttl():
    clock = FakeClock()
    cache = ResponseCache(max_entries=4, ttl=30, clock=clock)
    cache.put(("k",), result())
    clock.now += 30
    assert cache.get(("k",)) is not None
    clock.now += 0.5
    assert cache.get(("k",)) is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first():
    cache = ResponseCache(max_entries=2, ttl=60)
    cache.put(("a",), result())
    cache.put(("b",), result())
    cache.get(("a",))
    cache.put(("c",), result())
    assert cache.get(("b",)) is None
    assert cache.get(("a",)) is not None and cache.get(("c",)) is not None


def test_the_byte_bound_evicts_and_refuses_oversized_results():
    size = frame_bytes(result(10))
    cache = ResponseCache(max_entries=100, ttl=60, max_bytes=size * 2)
    for name in "abc":
        assert cache.put((name,), result(10))
    assert len(cache) == 2 and cache.stats()["bytes"] <= size * 2
    assert cache.put(("huge",), result(1000)) is False
    assert cache.get(("huge",)) is None


def test_size_zero_disables_the_cache():
    cache = ResponseCache(max_entries=0, ttl=60)
    assert cache.put(("a",), result()) is False
    assert cache.get(("a",)) is None


def test_concurrent_use_keeps_the_bounds():
    cache = ResponseCache(max_entries=5, ttl=60)

    def work(worker: int):
        for i in range(200):
            cache.put((worker, i % 7), result(2))
            cache.get((worker, (i + 3) % 7))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    stats = cache.stats()
    assert stats["entries"] == len(cache) <= 5
    assert stats["bytes"] == frame_bytes(result(2)) * stats["entries"]


def test_a_second_identical_fetch_is_served_from_cache(make_settings, make_fetcher):
    fetcher = make_fetcher(make_settings())
    queries = {"pnl": SourceQuery("pnl", PNL_SQL, {}, "rows")}
    first = fetcher.fetch_all(queries).results["pnl"]
    second = fetcher.fetch_all(queries)
    assert first.cached is False and second.results["pnl"].cached is True
    pd.testing.assert_frame_equal(second.results["pnl"].frame, first.frame)
    assert second.status()["pnl"]["cached"] is True


def test_new_data_in_the_source_invalidates_the_cache(
    make_settings, make_fetcher, source_app, serve_wsgi, fresh_db
):
    db = fresh_db("pnl")
    url, _ = serve_wsgi(source_app("pnl", db))
    fetcher = make_fetcher(make_settings(urls={"pnl": url}))
    queries = {"pnl": SourceQuery("pnl", PNL_SQL, {}, "rows")}
    before = fetcher.fetch_all(queries).results["pnl"]
    assert fetcher.fetch_all(queries).results["pnl"].cached is True
    row = {**_first_row(fetcher), "company_id": "ZZZZ9999"}
    load_rows(STATEMENTS["pnl"], [row], db)
    after = fetcher.fetch_all(queries).results["pnl"]
    assert after.cached is False
    assert after.data_version != before.data_version
    assert len(after.frame) == len(before.frame) + 1
    assert "ZZZZ9999" in set(after.frame["company_id"])
    assert fetcher.fetch_all(queries).results["pnl"].cached is True


def _first_row(fetcher) -> dict:
    """Return one full native row of the pnl source, read through the service."""
    frame = fetcher.clients["pnl"].run_query("SELECT * FROM income_statement").frame
    record = frame.iloc[0].to_dict()
    return {key: (None if pd.isna(value) else value) for key, value in record.items()}


def test_a_schema_is_kept_for_one_data_version():
    cache = SchemaCache()
    body = {"table": "income_statement", "columns": [{"name": "revenue"}]}
    cache.put("pnl", "v1", body)
    assert cache.get("pnl", "v1") == body
    assert cache.get("pnl", "v2") is None and cache.get("cash_flow", "v1") is None
    cache.get("pnl", "v1")["columns"].clear()
    assert cache.get("pnl", "v1") == body  # callers get copies
    cache.put("pnl", "v2", {"table": "income_statement", "columns": []})
    assert cache.get("pnl", "v1") is None  # only the latest version is kept


def test_without_a_data_version_schemas_are_not_cached():
    cache = SchemaCache()
    cache.put("pnl", None, {"table": "income_statement"})
    assert cache.get("pnl", None) is None


def test_schemas_are_served_from_cache_until_the_data_changes(
    make_settings, make_fetcher, source_app, serve_wsgi, fresh_db
):
    db = fresh_db("pnl")
    url, _ = serve_wsgi(source_app("pnl", db))
    fetcher = make_fetcher(make_settings(urls={"pnl": url}))
    first = fetcher.schemas(["pnl"]).results["pnl"]
    before = fetcher.clients["pnl"].health()["data_version"]
    assert fetcher.schema_cache.get("pnl", before) == first
    row = {**_first_row(fetcher), "company_id": "ZZZZ9999"}
    load_rows(STATEMENTS["pnl"], [row], db)
    after = fetcher.clients["pnl"].health()["data_version"]
    assert after != before and fetcher.schema_cache.get("pnl", after) is None
    assert fetcher.schemas(["pnl"]).results["pnl"] == first
    assert fetcher.schema_cache.get("pnl", after) == first
