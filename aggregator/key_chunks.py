"""Cutting long key lists and large sources into bounded queries.

Two limits shape a source query: its request line (gunicorn refuses more than 4,094
bytes) and the services' query time limit. A long list of raw keys is split into
chunks that each fit the request budget; a large source's partial aggregate is split
into ranges of its own key order that each cover a bounded number of rows.
"""

from urllib.parse import urlencode

# Budget for one query's URL-encoded ``q=<sql>&<params>``: well under gunicorn's
# 4094-byte request line (path, limit and cursor need the rest) and far under the
# services' 20,000-character SQL limit. Longer lists of raw keys are split.
MAX_REQUEST_BYTES = 3000


def request_size(query) -> int:
    """Return the bytes of ``query``'s URL-encoded SQL and params."""
    return len(urlencode({"q": query.sql, **query.params}))


def split_keys(build, keys: list, limit: int) -> list:
    """Return queries from ``build(chunk)`` over consecutive chunks of ``keys``."""
    first = build(keys[:1])
    room = limit - request_size(first)
    queries, chunk, used = [], [], 0
    for key in keys:
        # Each more key adds ", :rN" to the SQL and "&rN=<key>" to the params.
        cost = len(urlencode({"q": f", :r{len(chunk)}", f"r{len(chunk)}": key})) + 1
        if chunk and used + cost > room:
            queries += _checked(build, chunk, limit)
            chunk, used = [], 0
        chunk.append(key)
        used += cost
    return queries + _checked(build, chunk, limit)


def _checked(build, chunk: list, limit: int) -> list:
    """Return ``build(chunk)``, halving the chunk while the estimate fell short."""
    query = build(chunk)
    if len(chunk) < 2 or request_size(query) <= limit:
        return [query]
    half = len(chunk) // 2
    return _checked(build, chunk[:half], limit) + _checked(build, chunk[half:], limit)


def split_key_ranges(counts, max_rows: int, max_keys: int) -> list:
    """Return the first key of every key range after the first.

    ``counts`` holds (raw key, rows) pairs in the source's key order. Each range
    holds consecutive keys, at most ``max_rows`` rows (a key with more rows is a
    range of its own) and at most ``max_keys`` keys. NULL keys belong to the first.
    """
    rows = sum(n for key, n in counts if _is_null(key))
    held = int(rows > 0)
    starts = []
    for key, count in counts:
        if _is_null(key):
            continue
        if held and (rows + count > max_rows or held >= max_keys):
            starts.append(key)
            rows, held = 0, 0
        rows, held = rows + count, held + 1
    return starts


def _is_null(key) -> bool:
    return key is None or key != key  # NaN
