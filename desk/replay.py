"""The desk's replay cache, chosen by configuration, and the one on the service's database.

A desk inside the central service remembers every holder proof it accepted (and every
result it recorded) until the proof would be stale anyway. Where it remembers them is a
setting (``DESK_REPLAY``, environment ``CERTFREE_DESK_REPLAY``):

* unset: a SQLite file (``DESK_REPLAY_DB``), shared by the workers of one machine;
* a path: that SQLite file;
* ``database``: the service's own database (PostgreSQL for a city), shared by every worker
  on every machine behind the same database: :class:`DatabaseReplayCache`;
* ``memory``: the process's memory, for one process only (each worker would remember
  only its own scans).

:class:`DatabaseReplayCache` implements the verifier's ``ReplayCache`` protocol: one
``INSERT ... ON CONFLICT`` statement checks and remembers a proof atomically, whichever
worker or machine sees it first, and expired rows are deleted a bounded batch at a time
through the index on the expiry (``verifier.PrunePace``), so a call costs the same with
a thousand proofs stored as with a million."""

from __future__ import annotations

import threading
from typing import Any, Callable, cast

from sqlalchemy import Engine, Table, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from verifier import MemoryReplayCache, PrunePace, ReplayCache, SqliteReplayCache

from .models import ReplayEntry

#: The values of ``DESK_REPLAY`` that are not a SQLite path.
MEMORY, DATABASE = "memory", "database"


class DatabaseReplayCache:
    """Replay cache in the service's database (table ``desk_replay``, migration 0008), on
    PostgreSQL or SQLite, shared by every process that uses the same database."""

    def __init__(self, engine: Engine, pace: PrunePace | None = None) -> None:
        self.engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.pace = pace or PrunePace()
        self._lock = threading.Lock()  # the pace's counters only; the database does the rest
        table = cast(Table, ReplayEntry.__table__)
        dialects: dict[str, Callable[[Any], Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
        if engine.dialect.name not in dialects:
            raise ValueError(f"no replay cache for a {engine.dialect.name} database (PostgreSQL or SQLite)")
        insert = dialects[engine.dialect.name](table)
        # A new key is inserted, an expired one (not pruned yet) takes its new expiry, a live
        # one is left alone: no row returned means the proof was seen before.
        self._insert = insert.on_conflict_do_update(
            index_elements=[table.c.k], set_={"exp": insert.excluded.exp}, where=table.c.exp <= bindparam("now")
        ).returning(table.c.k)
        oldest = (select(table.c.k).where(table.c.exp <= bindparam("now")).order_by(table.c.exp)
                  .limit(self.pace.batch).with_for_update(skip_locked=True))  # two pruners never wait on each other
        self._prune = delete(table).where(table.c.k.in_(oldest.scalar_subquery()))

    def check_and_add(self, key: bytes, expires_at: float, now: float) -> bool:
        with self._lock:
            due = self.pace.due(now)
        params = {"k": key, "exp": expires_at, "now": now}
        if not due:  # one statement, one round trip
            with self._autocommit.connect() as conn:
                return conn.execute(self._insert, params).first() is None
        with self.engine.begin() as conn:  # the prune rides on this call's commit
            conn.execute(self._prune, params)
            return conn.execute(self._insert, params).first() is None

    def prune(self, now: float) -> int:
        """Delete at most ``pace.batch`` expired entries, the oldest first; return how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(self._prune, {"now": now}).rowcount)

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(ReplayEntry.__table__)) or 0)


def replay_cache(setting: str | None, sqlite_path: str, engine: Callable[[], Engine]) -> ReplayCache:
    """The replay cache ``setting`` names (see the module's docstring); ``engine`` gives the
    service's database engine, asked for only when the setting is ``database``."""
    if setting == MEMORY:
        return MemoryReplayCache()
    if setting == DATABASE:
        return DatabaseReplayCache(engine())
    return SqliteReplayCache(setting or sqlite_path)


__all__ = ["DatabaseReplayCache", "replay_cache", "MEMORY", "DATABASE"]
