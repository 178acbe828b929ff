"""Replay caches: the same holder proof seen twice is a replay.

A cache only needs to remember a proof until it would be stale anyway, so entries carry
an expiry and are pruned. Both caches are safe for one process; the SQLite cache is also
safe across processes on one desk (the primary key makes check-and-insert atomic).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from keys.files import private_file


class ReplayCache(Protocol):
    def check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        """Remember ``key`` until ``expires_at``; return True if it was already there."""


class MemoryReplayCache:
    """In-memory replay cache for one process."""

    def __init__(self) -> None:
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        with self._lock:
            if now >= self._next_prune:
                self._seen = {k: e for k, e in self._seen.items() if e > now}
                self._next_prune = now + 60
            expiry = self._seen.get(key)
            if expiry is not None and expiry > now:
                return True
            self._seen[key] = expires_at
            return False

    def __len__(self) -> int:
        return len(self._seen)


class SqliteReplayCache:
    """Replay cache in a SQLite file, for a desk that restarts or runs several processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            private_file(self.path)  # the proofs a desk has seen: its owner's alone (600)
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (k BLOB PRIMARY KEY, exp REAL NOT NULL)")

    def check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM seen WHERE exp <= ?", (now,))
                cur = self._db.execute("INSERT OR IGNORE INTO seen (k, exp) VALUES (?, ?)", (key, expires_at))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cur.rowcount == 0

    def close(self) -> None:
        self._db.close()
