"""Returning free allocator memory: safe to call at any point of a run."""

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
    assert memory._malloc_trim() is not None
