"""Returning free allocator memory: safe to call at any point of a run."""

import numpy as np
import pyarrow as pa

from aggregator import memory


def test_release_keeps_live_arrow_data_and_frees_the_rest():
    kept = pa.array(range(100_000))
    dropped = pa.array(range(1_000_000))
    del dropped
    memory.release_free_memory()
    assert kept.sum().as_py() == sum(range(100_000))  # live data untouched
    assert pa.default_memory_pool().bytes_allocated() >= kept.nbytes


def test_glibc_trim_is_found():  # Debian, as in CI and the Docker image
    assert memory._libc_function("malloc_trim") is not None
    assert memory._libc_function("mallopt") is not None


def test_release_if_grown_releases_only_after_growth(monkeypatch):
    monkeypatch.setattr(memory, "RELEASE_STEP_BYTES", 1 << 40)  # never grown enough
    monkeypatch.setitem(memory._released, "rss", 1)
    memory.release_if_grown()
    assert memory._released["rss"] == 1  # nothing released, nothing recorded
    monkeypatch.setattr(memory, "RELEASE_STEP_BYTES", 1)
    memory.release_if_grown()
    assert memory._released["rss"] > 1  # released, and the RSS after it recorded


def test_large_blocks_get_their_own_mapping():
    memory.use_one_allocator()  # sets the threshold; a refusal would only log
    # Freeing a 24 MB block raises glibc's own threshold past 8 MB, so without
    # ours the next 8 MB block would come from the heap and stay in RSS when freed.
    freed = np.ones(3 << 20)
    del freed
    column = np.ones(1 << 20)  # 8 MB: mapped on its own
    before = memory._rss_bytes()
    del column
    assert memory._rss_bytes() < before  # unmapped at once, no trim needed
