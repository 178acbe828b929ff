"""Replay caches: the same holder proof seen twice is a replay.

A cache only needs to remember a proof until it would be stale anyway, so entries carry
an expiry; an entry whose expiry is not after ``now`` is forgotten. Forgetting costs the
same whatever the cache holds: no call walks the whole cache. The memory cache drops at
most a few expired entries per call (filed by the second they expire in); the SQLite
cache deletes a bounded batch, oldest first through an index on the expiry, every
``PrunePace.every`` inserts or ``PrunePace.seconds`` seconds, inside that call's own
transaction, and deletes more than it inserts, so the table stays near what the freshness
window holds.

The memory cache is safe for one process; the SQLite cache also across the processes of
one desk (one ``INSERT ... ON CONFLICT`` statement checks and inserts atomically; the
processes take turns to write through a lock file, so a waiting process is woken the
moment the other's write is done instead of polling SQLite's lock in sleeps of 1, 2, 5,
10... ms). The WAL is copied back into the file by a thread of each process, off the
scans' path (:class:`_Checkpointer`). The central service's cache on its own database
(PostgreSQL for a city) lives with the desk, in ``desk/replay.py``: the verifier never
imports a database library beyond ``sqlite3``.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from keys.files import private_file

try:
    import fcntl
except ImportError:  # not POSIX: the writers wait on SQLite's own lock alone
    fcntl = None  # type: ignore[assignment]

#: Filed keys the memory cache looks at (and drops if expired) per call, at most: more
#: than the one it adds, so it keeps up with any steady traffic.
MEMORY_PRUNE_PER_CALL = 2


class ReplayCache(Protocol):
    def check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        """Remember ``key`` until ``expires_at``; return True if it was already there."""


class MemoryReplayCache:
    """In-memory replay cache for one process.

    Keys are filed by the whole second they expire in; a heap orders those seconds (about
    a hundred of them, whatever the traffic), so a call's pruning work does not depend on
    how many proofs the cache holds."""

    def __init__(self) -> None:
        self._seen: dict[bytes, float] = {}
        self._by_second: dict[int, list[bytes]] = {}  # keys by the second they expire in
        self._seconds: list[int] = []  # a heap of the seconds in _by_second
        self._lock = threading.Lock()

    def check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        with self._lock:
            self._prune(now)
            expiry = self._seen.get(key)
            if expiry is not None and expiry > now:
                return True
            self._seen[key] = expires_at
            second = math.floor(expires_at)
            keys = self._by_second.get(second)
            if keys is None:
                self._by_second[second] = [key]
                heapq.heappush(self._seconds, second)
            else:
                keys.append(key)
            return False

    def _prune(self, now: float) -> None:
        seen, seconds = self._seen, self._seconds
        budget = MEMORY_PRUNE_PER_CALL
        while seconds and seconds[0] + 1 <= now:  # every key filed under this second has expired
            keys = self._by_second[seconds[0]]
            while keys:
                if budget == 0:
                    return
                budget -= 1
                key = keys.pop()
                expiry = seen.get(key)
                if expiry is not None and expiry <= now:  # not added again since with a later expiry
                    del seen[key]
            del self._by_second[heapq.heappop(seconds)]

    def __len__(self) -> int:
        return len(self._seen)


#: How much of a SQLite replay file is read through a memory map.
MMAP_BYTES = 256 * 1024 * 1024


@dataclass
class PrunePace:
    """When a database-backed cache deletes expired entries: after ``every`` inserts of
    this process or ``seconds`` after its last prune, at most ``batch`` of them (twice
    ``every`` by default, so several processes pruning by their own count keep up)."""

    every: int = 16
    seconds: float = 10.0
    batch: int = 0  # 0: 2 * every
    _inserts: int = field(default=0, init=False)
    _last: float = field(default=float("-inf"), init=False)

    def __post_init__(self) -> None:
        if self.every < 1 or self.seconds <= 0 or self.batch < 0:
            raise ValueError("prune pace: every >= 1, seconds > 0, batch >= 0")
        self.batch = self.batch or 2 * self.every

    def due(self, now: float) -> bool:
        """Count one insert; True when a prune is due now (and then start counting again)."""
        self._inserts += 1
        if self._inserts < self.every and abs(now - self._last) < self.seconds:
            return False
        self._inserts, self._last = 0, now
        return True


#: How often a process's background thread copies the replay file's WAL back into the
#: file (a PASSIVE checkpoint: it never waits for, or blocks, a scan).
CHECKPOINT_SECONDS = 1.0
#: WAL pages (4 KiB) after which a scan's own commit checkpoints anyway: a backstop for a
#: checkpoint thread that cannot keep up (SQLite's default is 1,000).
BACKSTOP_PAGES = 16_000


# Held by a checkpoint thread whenever it is inside SQLite, and by a fork while it forks:
# a child forked while the thread held one of SQLite's own mutexes (its allocator's, say)
# would wait for it forever in its first SQLite call. The thread is the verifier's own,
# unseen by the program that forks (a window's system scanning, then starting a
# multiprocessing pool), so the verifier makes the fork wait for it.
_IN_SQLITE = threading.Lock()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(before=_IN_SQLITE.acquire, after_in_parent=_IN_SQLITE.release,
                        after_in_child=_IN_SQLITE.release)


class _Checkpointer:
    """A daemon thread, one per cache and process, that checkpoints the WAL every
    ``seconds`` after a write, on its own connection (SQLite releases the GIL while it
    copies and fsyncs). Started by the first write in a process, so a cache made before a
    fork (a server's preload) gets one in each process that writes. A fork waits until the
    thread is out of SQLite (:data:`_IN_SQLITE`)."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self._dirty = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def wrote(self) -> None:
        self._dirty.set()
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._stopped.clear()
            self._thread = threading.Thread(target=self._run, name="certfree-replay-checkpoint", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with _IN_SQLITE:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopped.wait(self.seconds):
                if self._dirty.is_set():
                    self._dirty.clear()
                    with _IN_SQLITE:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the file went away or broke: the scans' backstop remains
            logging.getLogger(__name__).warning("replay cache checkpoints stopped: %s", exc)
        finally:
            with _IN_SQLITE:
                db.close()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=30)


class SqliteReplayCache:
    """Replay cache in a SQLite file, for a desk that restarts or runs several processes.

    ``checkpoint_seconds``: how often each process's background thread copies the WAL
    back into the file (:class:`_Checkpointer`); ``None`` leaves it to SQLite's own
    checkpoint at a commit, every 1,000 pages, which stalls the scan that makes it."""

    def __init__(self, path: str | Path, pace: PrunePace | None = None, *,
                 checkpoint_seconds: float | None = CHECKPOINT_SECONDS) -> None:
        if checkpoint_seconds is not None and checkpoint_seconds <= 0:
            raise ValueError("checkpoint_seconds: a positive number of seconds, or None")
        self.path = Path(path)
        on_disk = str(path) != ":memory:"
        self._turn: int | None = None  # the writers' lock file, shared by the desk's processes
        if on_disk:
            private_file(self.path)  # the proofs a desk has seen: its owner's alone (600)
            if fcntl is not None:
                lock = self.path.with_name(self.path.name + "-lock")
                self._turn = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self.pace = pace or PrunePace()
        self._db.execute("PRAGMA journal_mode=WAL")
        # A commit is written to the WAL (so it survives the process being killed) but not
        # fsynced: a power cut may forget the last proofs, each only until its own expiry
        # (docs/security.md, "A power cut may make a desk forget..."). FULL cost a scan an fsync.
        self._db.execute("PRAGMA synchronous=NORMAL")
        # Read the file through the OS's page cache, shared by the desk's processes, rather
        # than each connection's own small cache: a million proofs are about 100 MB.
        self._db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        # Rows kept in key order with no rowid: deleting one touches its key's page and the
        # expiry index only (a file made before keeps its rowid table, and works the same).
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (k BLOB PRIMARY KEY, exp REAL NOT NULL) WITHOUT ROWID")
        self._db.execute("CREATE INDEX IF NOT EXISTS seen_exp ON seen (exp)")
        self._checkpoints: _Checkpointer | None = None
        if checkpoint_seconds is not None and on_disk:
            # The scans' own connection copies the WAL back only as a backstop: a checkpoint
            # fsyncs, and on the request path it stalls the one scan that runs it.
            self._db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            self._checkpoints = _Checkpointer(self.path, checkpoint_seconds)

    def check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        with self._lock:
            if self._turn is not None:
                fcntl.flock(self._turn, fcntl.LOCK_EX)  # blocks in the kernel until the other writer is done
            try:
                return self._check_and_add(key, expires_at, now)
            finally:
                if self._turn is not None:
                    fcntl.flock(self._turn, fcntl.LOCK_UN)
                if self._checkpoints is not None:
                    self._checkpoints.wrote()

    def _check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        if not self.pace.due(now):
            return self._insert(key, expires_at, now)
        self._db.execute("BEGIN IMMEDIATE")  # the prune rides on this call's commit
        try:
            self.prune(now)
            seen = self._insert(key, expires_at, now)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return seen

    def _insert(self, key: bytes, expires_at: float, now: float) -> bool:
        # One statement, so atomic across processes: a new key is inserted, an expired one
        # (not pruned yet) takes its new expiry, a live one is left alone (no row changed).
        cur = self._db.execute(
            "INSERT INTO seen (k, exp) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET exp = excluded.exp"
            " WHERE seen.exp <= ?",
            (key, expires_at, now),
        )
        return cur.rowcount == 0

    def prune(self, now: float) -> int:
        """Delete at most ``pace.batch`` expired entries, the oldest first; return how many."""
        cur = self._db.execute(
            "DELETE FROM seen WHERE k IN (SELECT k FROM seen WHERE exp <= ? ORDER BY exp LIMIT ?)",
            (now, self.pace.batch),
        )
        return cur.rowcount

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM seen").fetchone()[0])

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
            self._checkpoints = None
        self._db.close()
        if self._turn is not None:
            os.close(self._turn)
            self._turn = None
