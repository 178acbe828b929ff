"""Batch issuance: many residents' licences at once (a first roll-out, a yearly renewal).

The work is split so that signing runs on every core while one process writes:

* :class:`BatchAllocator` and :func:`record_batch` run in the one process that writes:
  before a batch is signed, the allocator picks each licence's status entries (one for
  the full credential, one per scenario view: random free indexes in the authority's
  open list, as :mod:`issuer.records` does); after it is signed, ``record_batch`` writes
  the licences and their entries in one transaction with bulk inserts.
* :func:`sign_batch` runs anywhere (a pool of worker processes): it validates and signs
  each licence with :func:`issuer.credential.issue` and returns what is recorded.

The allocator keeps the open list's used indexes in memory, so a batch job must be the
only process allocating in that authority's lists while it runs. The unique constraint on
(list, index) makes a clash with another writer a failed transaction, never a shared index.

The signed credentials and views go to the residents' wallets (the caller delivers them);
the issuer records only the SHA-256 of each credential, as :mod:`issuer.records` does.
"""

from __future__ import annotations

import math
import secrets
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import (BigInteger, Boolean, Connection, DateTime, Integer, SmallInteger, String, Table, insert, select,
                        update)

from keys import KeyDir, thumbprint
from scenarios import Policy

from .credential import Issued, LicenceSigner, view_names
from .db.models import Base, LicenceRecord, StatusEntry, StatusList, utc
from .records import (DEFAULT_LIST_SIZE, ENTRY_COLUMNS, LICENCE_COLUMNS, MAX_FILL, Record, StatusRef,
                      licence_rows, new_list_id)
from .schemas import validate
from .status_list import list_uri, public_url, status_ref_at


class BatchItem(NamedTuple):  # a NamedTuple (immutable, made at a tuple's cost): one a licence
    """One licence to sign: the resident's claims and device key, and its status entries
    (``refs[0]`` for the full credential, then one per scenario view, in
    :func:`view_names` order)."""

    claims: Mapping[str, Any]
    holder_jwk: Mapping[str, str]
    refs: Sequence[StatusRef]


class SignedLicence(NamedTuple):
    """What :func:`sign_batch` returns for one licence: the signed licence for the wallet
    and the record for the database."""

    issued: Issued
    authority: str
    kid: str
    holder: str  # RFC 7638 thumbprint of the device key
    refs: Sequence[StatusRef]
    scopes: Sequence[str]  # "credential", then the scenario of each view, as refs

    @property
    def signatures(self) -> int:
        return 1 + len(self.issued.views)

    def record(self) -> Record:
        """The licence row and its status-entry rows (:func:`issuer.records.licence_rows`:
        the same rows :func:`issuer.records.issue_licence` writes)."""
        return licence_rows(self.issued, self.authority, self.kid, self.holder, self.refs, self.scopes)


def sign_batch(
    keys: KeyDir,
    licence_type: str,
    items: Iterable[BatchItem],
    *,
    now: int,
    policies: Mapping[str, Policy] | None = None,
) -> list[SignedLicence]:
    """Validate and sign each item's licence (raises ``ClaimsInvalid`` naming the field
    for the first item that is invalid: validate a batch's input before allocating).

    Each licence is validated and signed as :func:`issuer.credential.issue` does it, by one
    :class:`~issuer.credential.LicenceSigner` for the whole batch (the key, headers and
    views' disclosures worked out once), with the status URIs' base read once. The
    licences are prepared ``SIGN_CHUNK`` at a time, and each chunk's signatures made in
    one go (:meth:`~issuer.credential.LicenceSigner.sign_prepared`): a tight loop of 3,000
    signatures, and a worker never holds a whole batch prepared (docs/benchmarks.md)."""
    signer = LicenceSigner(keys, licence_type, now=now, policies=policies)
    names = signer.view_names
    scopes = ("credential", *names)
    base = public_url()
    uris: dict[str, str] = {}  # list id -> its URI: a batch's entries fall in one or two lists
    authority, kid = signer.authority, signer.kid
    items = list(items)
    out: list[SignedLicence] = []
    for start in range(0, len(items), SIGN_CHUNK):
        chunk = items[start:start + SIGN_CHUNK]
        prepared = []
        for item in chunk:
            if len(item.refs) != len(scopes):
                raise ValueError(f"{licence_type} needs {len(scopes)} status entries, got {len(item.refs)}")
            statuses = [status_ref_at(uris.get(list_id) or uris.setdefault(list_id, list_uri(list_id, base)), idx)
                        for list_id, idx in item.refs]  # each list's URI made once a batch
            prepared.append(signer.prepare(
                validate(licence_type, item.claims),
                holder_jwk=item.holder_jwk,
                status=statuses[0],
                view_status=dict(zip(names, statuses[1:])),
            ))
        out += [SignedLicence(issued, authority, kid, thumbprint(item.holder_jwk), tuple(item.refs), scopes)
                for issued, item in zip(signer.sign_prepared(prepared), chunk, strict=True)]
    return out


SIGN_CHUNK = 500  # licences prepared, then signed, at a time by sign_batch


@dataclass
class BatchAllocator:
    """Random free status indexes in one authority's open list, for the one process that
    writes a batch job's records (see the module note).

    Indexes are drawn from the system CSPRNG in bulk (4 bytes each, rejection-sampled to
    the list size), so an index says nothing about when or in which order a licence was
    issued. A list takes entries until it is ``MAX_FILL`` full; then a new one is opened.
    New and closed lists are written by the next :func:`record_batch`. If a
    ``record_batch`` fails, start a new allocator (its in-memory state has the failed
    batch's entries in it).
    """

    conn: Connection
    authority: str
    now: int
    list_id: str | None = None
    size: int = 0
    used: set[int] = field(default_factory=set)
    new_lists: list[dict[str, Any]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    _random: Iterator[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = self._values()
        with self._reading():
            row = self.conn.execute(
                select(StatusList.id, StatusList.size)
                .where(StatusList.authority == self.authority, StatusList.open.is_(True),
                       StatusList.used < StatusList.size * MAX_FILL)
                .order_by(StatusList.created_at, StatusList.id)
            ).first()
            if row is not None:
                self.list_id, self.size = row
                self.used = set(self.conn.scalars(select(StatusEntry.idx).where(StatusEntry.list_id == row[0])))

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Reads outside record_batch's transactions: end the one they begin."""
        began = not self.conn.in_transaction()
        try:
            yield
        finally:
            if began and self.conn.in_transaction():
                self.conn.rollback()

    def allocate(self, count: int) -> list[StatusRef]:
        """``count`` distinct free entries (they may span two lists at a list's fill limit)."""
        refs: list[StatusRef] = []
        while len(refs) < count:
            # A list takes entries while fewer than size * MAX_FILL are used, as in
            # issuer.records: ceil, so that a list of odd size has room for its last one.
            fill = math.ceil(self.size * MAX_FILL)
            if self.list_id is None or len(self.used) >= fill:
                self._new_list()
                fill = math.ceil(self.size * MAX_FILL)
            assert self.list_id is not None
            room = fill - len(self.used)
            wanted = min(count - len(refs), room)
            for idx in self._draw(wanted):
                refs.append((self.list_id, idx))
        return refs

    def _draw(self, wanted: int) -> list[int]:
        size, used = self.size, self.used
        limit = (1 << 32) - (1 << 32) % size  # below it, value % size is uniform
        out: list[int] = []
        for value in self._random:
            if value < limit and (idx := value % size) not in used:
                used.add(idx)
                out.append(idx)
                if len(out) == wanted:
                    break
        return out

    @staticmethod
    def _values() -> Iterator[int]:
        """Uniform 32-bit values from the system CSPRNG, read 64 KiB at a time."""
        while True:
            yield from array("I", secrets.token_bytes(65536))

    def _exists(self, list_id: str) -> bool:
        with self._reading():
            return self.conn.scalar(select(StatusList.id).where(StatusList.id == list_id)) is not None

    def _new_list(self) -> None:
        if self.list_id is not None:
            self.closed.append(self.list_id)
        pending = {self.list_id, *(lst["id"] for lst in self.new_lists)}  # not written yet
        list_id = new_list_id(lambda i: i in pending or self._exists(i))
        self.list_id, self.size, self.used = list_id, DEFAULT_LIST_SIZE, set()
        self.new_lists.append({"id": list_id, "authority": self.authority, "size": self.size, "used": 0,
                               "created_at": utc(self.now), "open": True})


def tune_writer(conn: Connection, *, cache_mib: int = 128, checkpoint_mib: int = 64) -> None:
    """Settings for a batch job's writing connection, on SQLite (nothing elsewhere): a
    page cache big enough for the indexes of a few million licences, and a WAL checkpoint
    every ``checkpoint_mib`` rather than SQLite's 4 MiB, so that index pages touched by
    many batches are copied back once per checkpoint instead of at almost every commit.
    They last as long as the connection (a pooled one keeps them)."""
    if conn.dialect.name != "sqlite":
        return
    page = int(conn.exec_driver_sql("PRAGMA page_size").scalar_one())
    conn.exec_driver_sql(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # negative: KiB
    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(checkpoint_mib) * 2**20 // page}")  # pages
    conn.commit()


def record_batch(
    conn: Connection,
    allocator: BatchAllocator,
    records: Iterable[Record],
) -> None:
    """Write one signed batch in one transaction: the allocator's new and closed lists,
    the licences and their status entries (:meth:`SignedLicence.record`) and the lists'
    use counters, raised by the entries written here. Nothing of the batch is written if
    any of it fails.

    The counters count what is written, not what the allocator has handed out: a batch job
    allocates a few batches ahead of the one it writes, and a job stopped between the two
    must leave each list's ``used`` equal to its entries (the next run's allocator reads
    the entries themselves)."""
    licences: list[tuple[Any, ...]] = []
    entries: list[tuple[Any, ...]] = []
    for licence, rows in records:
        licences.append(licence)
        entries.extend(rows)
    counts = Counter(map(itemgetter(0), entries))  # ENTRY_COLUMNS: the list id first
    with conn.begin():
        if allocator.new_lists:
            conn.execute(insert(StatusList), allocator.new_lists)
        for closed in allocator.closed:
            conn.execute(update(StatusList).where(StatusList.id == closed).values(open=False))
        _insert_many(conn, _LICENCES, LICENCE_COLUMNS, licences)
        _insert_many(conn, _ENTRIES, ENTRY_COLUMNS, entries)
        for list_id, n in counts.items():
            conn.execute(update(StatusList).where(StatusList.id == list_id).values(used=StatusList.used + n))
    allocator.new_lists, allocator.closed = [], []


def _insert_many(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order) the cheapest way each database takes
    them: on PostgreSQL through psycopg, a ``COPY ... FROM STDIN`` (:func:`_copy`); on
    SQLite straight to the driver's executemany with each column type's own bind
    conversion (SQLAlchemy's per-row parameter handling costs more than SQLite's insert);
    elsewhere the Core executemany. All of them write the same rows as the ORM
    (tests/test_batch.py compares the databases' contents)."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy(conn, table, columns, rows)
        return
    if dialect.name != "sqlite":
        conn.execute(insert(table), [dict(zip(columns, row)) for row in rows])
        return
    # A batch's rows repeat their values in these columns (one issue time for the whole
    # batch, few distinct expiry times): each distinct value is converted once.
    procs = [(i, lru_cache(maxsize=1024)(p)) for i, name in enumerate(columns)
             if (p := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    if procs:  # e.g. DateTime: SQLAlchemy's text format on SQLite
        converted = []
        for row in rows:
            values = list(row)
            for i, p in procs:
                values[i] = p(values[i])
            converted.append(tuple(values))
        rows = converted  # type: ignore[assignment]
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.exec_driver_sql(sql, rows)  # type: ignore[arg-type]  # positional rows, sqlite3's own executemany


def _copy(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """``COPY table (columns) FROM STDIN (FORMAT BINARY)`` on the connection's own psycopg
    connection, so in the transaction SQLAlchemy began: one statement and one stream for
    the whole batch instead of a round of parameters per row (psycopg begins the
    transaction on the first statement, whichever cursor sends it, and SQLAlchemy's commit
    ends it). Binary: psycopg packs each value as the column's type (:func:`_copy_types`)
    and the server reads it as is, instead of formatting and parsing text (a time stamp
    above all): about a third less of the writer's CPU (docs/benchmarks.md)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_copy_types(table, tuple(columns)))
            write = copy.write_row
            for row in rows:
                write(row)


@lru_cache(maxsize=8)
def _copy_types(table: Table, columns: tuple[str, ...]) -> list[str]:
    """The PostgreSQL type of each column, for a binary ``COPY`` (which carries no type
    names: the client must send each value in its column's own binary form)."""
    names = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, Integer):
            names.append("int8" if isinstance(kind, BigInteger) else "int2" if isinstance(kind, SmallInteger) else "int4")
        elif isinstance(kind, DateTime):
            names.append("timestamptz" if kind.timezone else "timestamp")
        elif isinstance(kind, String):
            names.append("varchar")
        elif isinstance(kind, Boolean):
            names.append("bool")
        else:
            raise TypeError(f"no binary COPY type for {table.name}.{name} ({kind})")
    return names


_LICENCES: Table = Base.metadata.tables[LicenceRecord.__tablename__]
_ENTRIES: Table = Base.metadata.tables[StatusEntry.__tablename__]
