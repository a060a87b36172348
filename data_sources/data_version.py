"""A cheap token that changes whenever a SQLite database's committed data changes.

``PRAGMA data_version`` is per connection, so its values differ between gunicorn
workers; the token must agree across processes. It is derived from the files instead:
the database file's identity, size and mtime, the WAL file's size and mtime, and the
WAL-index header in the ``-shm`` file (frame count, salts and running checksum of the
last commit; see https://www.sqlite.org/walformat.html). Any commit by any process
changes at least one of them; a checkpoint may change the token without changing the
data, which only costs a cache miss or a restarted pagination.
"""

import hashlib
import os
from dataclasses import dataclass

# Two copies of the 48-byte WalIndexHdr; bytes 16..48 of each are mxFrame, nPage,
# aFrameCksum, aSalt and aCksum, none of which readers touch.
_HEADER_SIZE = 48
_HEADER_FIELDS = slice(16, 48)


@dataclass(frozen=True)
class DataVersion:
    """The version token of a database and the inode of the file it was taken from."""

    token: str
    inode: int


def read_data_version(db_path: str) -> DataVersion:
    """Return the current data version of the SQLite file at ``db_path``."""
    db = os.stat(db_path)
    parts = [db.st_ino, db.st_size, db.st_mtime_ns]
    wal = _stat_or_none(db_path + "-wal")
    if wal is not None and wal.st_size:
        parts += [wal.st_size, wal.st_mtime_ns]
    parts.append(_wal_index_header(db_path + "-shm"))
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()
    return DataVersion(digest, db.st_ino)


def _stat_or_none(path: str):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _wal_index_header(shm_path: str) -> bytes:
    try:
        with open(shm_path, "rb") as handle:
            head = handle.read(2 * _HEADER_SIZE)
    except FileNotFoundError:
        return b""
    first, second = head[:_HEADER_SIZE], head[_HEADER_SIZE:]
    if first != second:
        # A writer updates the copies one after the other: a commit is in flight, and
        # the token must not match any settled state.
        return b"in-flight" + head
    if len(first) < _HEADER_SIZE or first[16:20] == b"\0\0\0\0":
        # No frames in the WAL (mxFrame is 0): the database file alone holds the data,
        # whether or not a reader has built the index yet.
        return b""
    return first[_HEADER_FIELDS]
