"""The audit log's hash chain: each entry is chained to the previous one, so an edited,
deleted, inserted or reordered row is found by :func:`verify_chain`.

Entries get their ``seq`` and hashes when the session flushes (``before_flush``), under a
row lock on the chain's head (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite, the
database's write lock, taken before the head is read), so two workers never fork the chain. What the chain cannot show by itself is a
rewrite of the whole tail together with the head by someone holding the database: publish
or sign the head elsewhere for that (noted in docs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


def entry_digest(prev_hash: str, entry: AuditEntry) -> str:
    """SHA-256 over the previous hash and the entry's fields (canonical JSON)."""
    at = entry.at
    # SQLite hands back naive UTC times, PostgreSQL aware ones in the session's zone.
    at = at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)
    fields = {
        "seq": entry.seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "licence_id": entry.licence_id,
        "outcome": entry.outcome or "ok",
    }
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + "\n" + body).encode("utf-8")).hexdigest()


def _normalise_at(entry: AuditEntry) -> None:
    at = entry.at
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    entry.at = at.astimezone(dt.timezone.utc)


@event.listens_for(Session, "before_flush")
def _chain_new_entries(session: Session, _context: Any, _instances: Any) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditEntry) and obj.seq is None]
    if not new:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # SQLite has no row locks, and a SELECT alone takes no write lock: another worker
        # could append between reading the head and writing after it (a request whose only
        # write is its audit entry then clashed on seq). A write first, even one that
        # changes nothing, takes the database's write lock, so the head read next is the
        # one this transaction appends to.
        connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    for entry in new:
        _normalise_at(entry)
        entry.seq = head.seq + 1
        entry.prev_hash = head.hash
        entry.entry_hash = entry_digest(head.hash, entry)
        head.seq, head.hash = entry.seq, entry.entry_hash


AUDIT_BATCH = 1000


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainCheck:
    """Walk the log in ``seq`` order and recompute every link and the head, holding
    AUDIT_BATCH entries at a time (a city's log has millions: a server-side cursor on
    PostgreSQL)."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    rows = select(AuditEntry).order_by(AuditEntry.seq, AuditEntry.id).execution_options(yield_per=AUDIT_BATCH)
    for entry in session.scalars(rows):
        count += 1
        if entry.seq != expected_seq:
            return ChainCheck(False, count, entry.seq, f"expected entry {expected_seq}: a row is missing or out of order")
        if entry.prev_hash != prev:
            return ChainCheck(False, count, entry.seq, "link to the previous entry is broken")
        if entry_digest(prev, entry) != entry.entry_hash:
            return ChainCheck(False, count, entry.seq, "entry was changed after it was written")
        prev = entry.entry_hash
        expected_seq += 1
    head = session.get(AuditHead, 1)
    last = expected_seq - 1
    if head is None:
        if count:
            return ChainCheck(False, count, None, "the chain's head is missing")
    elif head.seq != last or head.hash != prev:
        return ChainCheck(False, count, head.seq, "the log ends before the head: entries were removed from the end")
    return ChainCheck(True, count)
