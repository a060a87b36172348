"""Hand memory the allocators keep after a run's large transient buffers back.

Fetch threads parse pages in their own heaps; once the pages are gone that free
memory stays with those threads and counts in the process's RSS, where the main
thread's later steps cannot reuse it (measured at 100k x 12: about 280 MB per run,
growing run after run).
"""

import ctypes
import ctypes.util
import functools
import logging
import os
import threading

import pyarrow as pa

log = logging.getLogger(__name__)

#: glibc's mallopt parameter for the size from which blocks get their own mapping.
_M_MMAP_THRESHOLD = -3
#: Blocks from this size are mapped on their own and unmapped when freed: a
#: million-row column (8 MB and up). Smaller ones, such as a page's columns,
#: stay in the heaps, where they are reused without new page faults.
LARGE_BLOCK_BYTES = 4 << 20
#: ``release_if_grown`` gives memory back once RSS grew this much since it last did.
RELEASE_STEP_BYTES = 128 << 20

_released = {"rss": 0}
_released_lock = threading.Lock()


def use_one_allocator() -> None:
    """Let Arrow allocate from the C library's heap, as NumPy and CPython do.

    With its own mimalloc heaps, memory Arrow freed stayed with the thread that
    had used it, beside glibc's; with one allocator ``release_free_memory``
    reaches all of it. Measured at 100k x 12 (bench child, warm-up and three
    runs): peak RSS 1,017-1,068 -> 876-888 MiB at the same speed.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    _map_large_blocks()


def _map_large_blocks() -> None:
    """Give blocks of ``LARGE_BLOCK_BYTES`` and up their own mapping (glibc).

    glibc raises its own threshold to the largest block freed (up to 32 MB), so
    a run's million-row columns came from the heaps, where what is freed between
    live blocks stays in RSS. Measured at 100k x 12 (pushdown off): peak RSS
    1,039 -> 962 MiB; with pushdown 890 -> 816 MiB at the same speed (a lower
    threshold, 256 KB, cost 2 s of page faults per run).
    """
    mallopt = _libc_function("mallopt")
    if mallopt is not None and not mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES):
        log.debug("mallopt refused the mmap threshold; glibc's own stays")


def release_free_memory() -> None:
    """Return free allocator memory to the OS (Arrow's pool, then glibc's heaps)."""
    pa.default_memory_pool().release_unused()
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)
    with _released_lock:
        _released["rss"] = _rss_bytes()


def release_if_grown() -> None:
    """Release free memory if RSS grew ``RELEASE_STEP_BYTES`` since the last release.

    For points that run often (each fetched result): a release costs page faults
    when the memory is used again, so it is done only when it can matter.
    """
    with _released_lock:
        grown = _rss_bytes() - _released["rss"] >= RELEASE_STEP_BYTES
    if grown:
        release_free_memory()


def _rss_bytes() -> int:
    """Return this process's resident set size (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@functools.cache
def _libc_function(name: str):
    """Return a glibc function by name, or None where the C library has none."""
    library = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(library), name) if library else None
    except (OSError, AttributeError):
        log.debug("no %s in %s: free heap memory stays with the process", name, library)
        return None
