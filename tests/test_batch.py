"""Batch issuance (issuer.batch): real keys, a real database file (and PostgreSQL when
configured), real signatures checked by the verifier, and revocation of a batch-issued
licence through the ordinary status lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from conftest import NOW
from issuer import example
from issuer.batch import BatchAllocator, BatchItem, record_batch, sign_batch, tune_writer, view_names
from issuer.db import Base, LicenceRecord, StatusEntry, StatusList, make_engine, session_factory, utc
from issuer.records import DEFAULT_LIST_SIZE, MAX_FILL, add_record, credential_digest, publish_status_lists, set_status
from issuer.schemas import ClaimsInvalid
from keys import KeyDir, thumbprint
from keys.jose import split_compact
from service_fixtures import _reset_postgres, database_url  # noqa: F401  (fixture: SQLite and PostgreSQL)
from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_status_lists, load_trust_list
from verifier.testing import FixedClock
from wallet import Wallet, present_view

HOUR = 3600
AUTHORITY = "household_registration"  # signs id_card


@pytest.fixture(scope="module")
def wallets(tmp_path_factory: pytest.TempPathFactory) -> list[Wallet]:
    return [Wallet.init(tmp_path_factory.mktemp(f"resident{i}"), passphrase=b"resident") for i in range(3)]


def _engine(url: str | Path) -> Any:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Any:  # noqa: F811  (SQLite, and PostgreSQL when configured)
    yield from _engine(database_url)


@pytest.fixture
def file_engine(tmp_path: Path) -> Any:  # a SQLite file
    yield from _engine(tmp_path / "issuer.db")


def _items(wallets: list[Wallet], allocator: BatchAllocator, count: int) -> list[BatchItem]:
    n = 1 + len(view_names("id_card"))
    return [BatchItem(example("id_card"), wallets[i % len(wallets)].device_jwk(), allocator.allocate(n)) for i in range(count)]


def _payload(jws: str) -> dict[str, Any]:
    return json.loads(split_compact(jws)[1])


def test_a_batch_is_signed_recorded_and_verifies(engine: Any, keydir: KeyDir, wallets: list[Wallet], tmp_path: Path) -> None:
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW - HOUR)
        signed = sign_batch(keydir, "id_card", _items(wallets, allocator, 12), now=NOW - HOUR)
        record_batch(conn, allocator, [s.record() for s in signed])
    views = view_names("id_card")
    assert len(signed) == 12 and all(set(s.issued.views) == set(views) for s in signed)
    with session_factory(engine)() as session:
        rows = {r.id: r for r in session.scalars(select(LicenceRecord))}
        entries = list(session.scalars(select(StatusEntry)))
        lists = list(session.scalars(select(StatusList)))
    assert set(rows) == {s.issued.jti for s in signed}
    assert len(entries) == 12 * (1 + len(views)) == len({(e.list_id, e.idx) for e in entries})
    assert len(lists) == 1 and lists[0].used == len(entries) and lists[0].authority == AUTHORITY
    by_ref = {(e.list_id, e.idx): e for e in entries}
    for s in signed:
        row = rows[s.issued.jti]
        # the row read back through the ORM is what was signed
        assert int(row.issued_at.timestamp()) == s.issued.issued_at == NOW - HOUR
        assert int(row.expires_at.timestamp()) == s.issued.expires_at
        assert row.credential_sha256 == credential_digest(s.issued.credential) and row.state == "valid"
        assert row.holder == thumbprint(_payload(s.issued.credential)["cnf"]["jwk"])
        # each JWS names its own status entry, recorded for this licence with its scope
        for scope, jws in [("credential", s.issued.credential), *s.issued.views.items()]:
            ref = _payload(jws)["status"]["status_list"]
            list_id = ref["uri"].removeprefix("http://127.0.0.1:8000/status/").removesuffix(".jws")
            assert ref["uri"] == f"http://127.0.0.1:8000/status/{list_id}.jws"
            entry = by_ref[(list_id, ref["idx"])]
            assert entry.licence_id == s.issued.jti and entry.scope == scope
    # real signatures: the verifier accepts a presentation of a batch-issued view
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    verifier = Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache())
    first = signed[0]
    owner = next(w for w in wallets if thumbprint(w.device_jwk()) == first.holder)
    shown = present_view(first.issued.views["hotel"], owner.device_key(), licence_type="id_card", scenario="hotel", now=NOW)
    assert verifier.verify(shown.text, scenario="hotel", now=NOW).claims["name"] == example("id_card")["name"]


def test_a_batch_licence_is_revoked_like_any_other(file_engine: Any, keydir: KeyDir, wallets: list[Wallet], tmp_path: Path) -> None:
    engine = file_engine
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW - HOUR)
        signed = sign_batch(keydir, "id_card", _items(wallets, allocator, 3), now=NOW - HOUR)
        record_batch(conn, allocator, [s.record() for s in signed])
    target = next(s for s in signed if s.holder == thumbprint(wallets[0].device_jwk()))
    with session_factory(engine)() as session:
        set_status(session, target.issued.jti, "revoked", reason="lost", now=NOW - 60)
        session.commit()
        publish_status_lists(session, keydir, tmp_path / "status", now=NOW - 30)
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    verifier = Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache(),
                        status=load_status_lists(tmp_path / "status", trust))
    shown = present_view(target.issued.views["hotel"], wallets[0].device_key(), licence_type="id_card", scenario="hotel", now=NOW)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(shown.text, scenario="hotel", now=NOW)
    assert exc.value.codes == ["revoked"]


def test_a_failed_batch_writes_nothing(file_engine: Any, keydir: KeyDir, wallets: list[Wallet], tmp_path: Path) -> None:
    engine = file_engine
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW)
        first = [s.record() for s in sign_batch(keydir, "id_card", _items(wallets, allocator, 4), now=NOW)]
        record_batch(conn, allocator, first)
        again = [s.record() for s in sign_batch(keydir, "id_card", _items(wallets, allocator, 4), now=NOW)]
        with pytest.raises(IntegrityError):  # the second batch repeats a licence of the first
            record_batch(conn, allocator, again + first[:1])
        counts = (conn.scalar(select(func.count()).select_from(LicenceRecord)),
                  conn.scalar(select(func.count()).select_from(StatusEntry)),
                  conn.scalar(select(StatusList.used)))
    entries = 4 * (1 + len(view_names("id_card")))
    assert counts == (4, entries, entries)  # the list's use counter too: only the first batch


# a power of two; a size that needs rejection sampling; an odd size, whose fill limit
# (7.5 of 15) is not a whole number: as issuer.records does, the list takes 8
@pytest.mark.parametrize(("size", "fits"), [(16, 8), (10, 5), (15, 8)])
def test_a_full_list_is_closed_and_a_new_one_opened(file_engine: Any, keydir: KeyDir, wallets: list[Wallet],
                                                    size: int, fits: int) -> None:
    assert MAX_FILL == 0.5  # the cases above assume it
    engine = file_engine
    with session_factory(engine)() as session:
        session.add(StatusList(id="small", authority=AUTHORITY, size=size, used=0, open=True, created_at=utc(NOW)))
        session.commit()
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW)
        items = _items(wallets, allocator, 2)  # 12 entries: half of the small list, the rest in a new one
        record_batch(conn, allocator, [s.record() for s in sign_batch(keydir, "id_card", items, now=NOW)])
        lists = {row.id: row for row in conn.execute(select(StatusList))}
    refs = [ref for item in items for ref in item.refs]
    small = [idx for lst, idx in refs if lst == "small"]
    other = [(lst, idx) for lst, idx in refs if lst != "small"]
    assert len(small) == fits and len(set(small)) == fits and all(0 <= i < size for i in small)
    assert len(other) == 12 - fits and len({lst for lst, _ in other}) == 1 and len(set(other)) == 12 - fits
    new_id = other[0][0]
    assert lists["small"].open is False and lists["small"].used == fits
    assert lists[new_id].open is True and lists[new_id].used == 12 - fits and lists[new_id].size == DEFAULT_LIST_SIZE


def test_use_counters_count_what_is_written_not_what_is_allocated_ahead(
        engine: Any, keydir: KeyDir, wallets: list[Wallet]) -> None:
    """A batch job allocates the next batches' entries before it writes the current one.
    Stopped there, each list's counter equals the entries it holds, and a new allocator
    (the resumed job) carries on from the entries themselves."""
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW)
        first, ahead = _items(wallets, allocator, 5), _items(wallets, allocator, 7)
        record_batch(conn, allocator, [s.record() for s in sign_batch(keydir, "id_card", first, now=NOW)])
        # the job stops here: `ahead` was allocated, never signed nor written
        used = dict(conn.execute(select(StatusList.id, StatusList.used)).all())
        held = dict(conn.execute(select(StatusEntry.list_id, func.count()).group_by(StatusEntry.list_id)).all())
        conn.rollback()
        resumed = BatchAllocator(conn, AUTHORITY, NOW)
        again = _items(wallets, resumed, 3)
        record_batch(conn, resumed, [s.record() for s in sign_batch(keydir, "id_card", again, now=NOW)])
        used_after = dict(conn.execute(select(StatusList.id, StatusList.used)).all())
        held_after = dict(conn.execute(select(StatusEntry.list_id, func.count()).group_by(StatusEntry.list_id)).all())
    assert used == held == {first[0].refs[0][0]: 5 * 6}
    assert used_after == held_after == {first[0].refs[0][0]: 8 * 6}
    written = {ref for item in first + again for ref in item.refs}
    assert len(written) == 8 * 6  # the resumed job took no index the first had written


def test_indexes_are_spread_over_the_whole_list(file_engine: Any) -> None:
    with file_engine.connect() as conn:
        refs = BatchAllocator(conn, AUTHORITY, NOW).allocate(3000)
    idx = [i for _, i in refs]
    assert len(set(idx)) == 3000 and all(0 <= i < DEFAULT_LIST_SIZE for i in idx)
    assert idx != sorted(idx)  # not handed out in order
    quarters = [sum(1 for i in idx if q * DEFAULT_LIST_SIZE // 4 <= i < (q + 1) * DEFAULT_LIST_SIZE // 4) for q in range(4)]
    assert min(quarters) > 600  # about 750 each; a skewed draw would leave a quarter short


def test_tune_writer_sets_the_sqlite_pragmas(file_engine: Any) -> None:
    with file_engine.connect() as conn:
        tune_writer(conn, cache_mib=32, checkpoint_mib=8)
        page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -32 * 1024
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 8 * 2**20 // page


def test_invalid_claims_in_a_batch_name_the_field(file_engine: Any, keydir: KeyDir, wallets: list[Wallet], tmp_path: Path) -> None:
    engine = file_engine
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW)
        bad = dict(example("id_card"), id_number="110101199003070039")  # wrong check digit
        items = [BatchItem(bad, wallets[0].device_jwk(), allocator.allocate(1 + len(view_names("id_card"))))]
        with pytest.raises(ClaimsInvalid) as exc:
            sign_batch(keydir, "id_card", items, now=NOW)
    assert "id_number" in str(exc.value)


def test_licence_ids_carry_the_time_and_80_random_bits(keydir: KeyDir, wallets: list[Wallet]) -> None:
    import time

    from issuer.credential import issue, new_licence_id
    from keys.jose import b64url_decode

    before = time.time_ns() // 1_000_000
    ids = [new_licence_id() for _ in range(1000)]
    issued = issue(keydir, "id_card", example("id_card"), holder_jwk=wallets[0].device_jwk(), now=NOW)
    after = time.time_ns() // 1_000_000
    raw = [b64url_decode(i) for i in [*ids, issued.jti]]
    assert all(len(r) == 16 for r in raw) and len(set(ids)) == len(ids)
    assert all(before <= int.from_bytes(r[:6], "big") <= after for r in raw)
    assert len({r[6:] for r in raw}) == len(raw)  # the random part alone never repeats here
    # views (the ids in QR codes) keep fully random 96-bit ids
    view_ids = [_payload(v)["jti"] for v in issued.views.values()]
    assert all(len(b64url_decode(v)) == 12 for v in view_ids)


def test_a_batch_licence_is_recorded_as_the_service_records_one(engine: Any, keydir: KeyDir, wallets: list[Wallet]) -> None:
    """The same resident's licence, issued once by the service's path (issue_licence,
    ORM) and once by a batch (bulk rows): read back, the two records differ only where
    two licences must (id, status entries, credential digest)."""
    from issuer.records import issue_licence

    jwk = wallets[0].device_jwk()
    with session_factory(engine)() as session:
        single = issue_licence(session, keydir, "id_card", example("id_card"), holder_jwk=jwk, now=NOW - HOUR)
        session.commit()
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW - HOUR)
        refs = allocator.allocate(1 + len(view_names("id_card")))
        [batch] = sign_batch(keydir, "id_card", [BatchItem(example("id_card"), jwk, refs)], now=NOW - HOUR)
        record_batch(conn, allocator, [batch.record()])
    differ = {"id", "status_list", "status_idx", "credential_sha256"}
    with session_factory(engine)() as session:
        a, b = session.get(LicenceRecord, single.jti), session.get(LicenceRecord, batch.issued.jti)
        assert a is not None and b is not None
        columns = [c.key for c in LicenceRecord.__table__.columns]
        assert {c: getattr(a, c) for c in columns if c not in differ} == {c: getattr(b, c) for c in columns if c not in differ}
        assert a.holder == thumbprint(jwk) and a.state == "valid" and a.reason is None
        assert a.issued_at.replace(tzinfo=None) == utc(NOW - HOUR).replace(tzinfo=None)
        assert [e.scope for e in sorted(a.entries, key=lambda e: e.id)] == [e.scope for e in sorted(b.entries, key=lambda e: e.id)]
        assert (a.status_list, a.status_idx) in {(e.list_id, e.idx) for e in a.entries if e.scope == "credential"}
        assert (b.status_list, b.status_idx) in {(e.list_id, e.idx) for e in b.entries if e.scope == "credential"}


def _contents(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the issuer's three tables as the database driver returns them (no
    SQLAlchemy type conversion on the way out), in key order."""
    order = {"status_lists": "id", "licences": "id", "status_entries": "id"}
    with engine.connect() as conn:
        return {table: [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {key}")]
                for table, key in order.items()}


def test_the_bulk_path_writes_exactly_the_rows_the_one_by_one_path_writes(
        database_url: str, keydir: KeyDir, wallets: list[Wallet], tmp_path: Path) -> None:  # noqa: F811
    """The same signed licences recorded twice into an empty database: in bulk by
    record_batch (COPY on PostgreSQL, the driver's executemany on SQLite), then one by one
    through the ORM as issue_licence records a licence (add_record, a flush each). The
    databases' contents, read back raw, are identical, surrogate keys included."""
    engine = next(_engine(database_url))
    with engine.connect() as conn:
        allocator = BatchAllocator(conn, AUTHORITY, NOW - HOUR)
        signed = sign_batch(keydir, "id_card", _items(wallets, allocator, 30), now=NOW - HOUR)
        new_lists = [dict(lst) for lst in allocator.new_lists]
        record_batch(conn, allocator, [s.record() for s in signed[:20]])
        record_batch(conn, allocator, [s.record() for s in signed[20:]])  # a second transaction
    bulk = _contents(engine)
    engine.dispose()

    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    else:
        _reset_postgres(database_url)
    engine = next(_engine(database_url))
    with session_factory(engine)() as session:
        lists = [StatusList(**lst) for lst in new_lists]
        session.add_all(lists)
        session.flush()
        for s in signed:
            add_record(session, s.record())
            session.flush()
        for lst in lists:  # as issuer.records' allocator counts: each entry it hands out
            lst.used = sum(1 for s in signed for list_id, _idx in s.refs if list_id == lst.id)
        session.commit()
    one_by_one = _contents(engine)
    engine.dispose()

    assert [len(bulk[t]) for t in ("status_lists", "licences", "status_entries")] == [1, 30, 30 * 6]
    assert bulk == one_by_one


def test_binary_copy_names_each_recorded_columns_postgresql_type() -> None:
    """The binary COPY (record_batch on PostgreSQL) sends each value in its column's binary
    form: the types it names are the columns' own, and a column of a type it cannot name
    is refused rather than sent in another type's form."""
    from sqlalchemy import Column, MetaData, Numeric, Table

    from issuer.batch import _ENTRIES, _LICENCES, _copy_types
    from issuer.records import ENTRY_COLUMNS, LICENCE_COLUMNS

    assert _copy_types(_LICENCES, LICENCE_COLUMNS) == [
        "varchar", "varchar", "varchar", "varchar", "varchar", "timestamptz", "timestamptz", "varchar", "int4",
        "varchar", "varchar"]
    assert _copy_types(_ENTRIES, ENTRY_COLUMNS) == ["varchar", "int4", "varchar", "varchar"]
    odd = Table("odd", MetaData(), Column("amount", Numeric(10, 2)))
    with pytest.raises(TypeError, match="odd.amount"):
        _copy_types(odd, ("amount",))
