"""The in-memory rate-limit storage sweeps inline instead of spawning timer threads."""

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from data_sources.rate_limit import STORAGE_URI, SweepingMemoryStorage


def test_storage_uri_resolves_to_the_sweeping_storage():
    assert isinstance(storage_from_string(STORAGE_URI), SweepingMemoryStorage)


def test_counting_starts_no_timer_threads():
    storage = SweepingMemoryStorage()
    first_timer = storage.timer
    first_timer.join()
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("3 per minute")
    hits = [limiter.hit(limit, "127.0.0.1") for _ in range(4)]
    assert hits == [True, True, True, False]
    assert storage.timer is first_timer


def test_expired_keys_are_swept_inline():
    storage = SweepingMemoryStorage()
    storage.incr("old", expiry=60)
    storage.expirations["old"] = 0.0
    storage._next_sweep = 0.0
    storage.incr("new", expiry=60)
    assert "old" not in storage.storage
    assert storage.get("new") == 1
