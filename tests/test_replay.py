"""Replay caches: memory, a SQLite file, and the service's database (SQLite or PostgreSQL).

Each cache is held to a reference model over random calls (a proof is a replay exactly
while an earlier entry for it has not expired), prunes expired entries a bounded batch at
a time, and — across real processes racing on the same presentations through a real
verifier — accepts each presentation exactly once. PostgreSQL runs when
CERTFREE_TEST_POSTGRES_URL is set (in CI a missing URL fails)."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from service_fixtures import *
from service_fixtures import add_clerk, csrf, desk_login, enrol, issue_via_api, login, wallet_code

from conftest import NOW
from keys import KeyDir
from verifier import MemoryReplayCache, PrunePace, SqliteReplayCache, VerificationFailed, Verifier, load_trust_list
from verifier.testing import FixedClock
from wallet import Wallet, present

CACHES = ["memory", "sqlite", "database-sqlite", "database-postgresql"]


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        require_in_ci(f"{PG_ENV} (a PostgreSQL server)")
    assert url
    return url


def _fresh_table(url: str) -> Any:
    """An engine on ``url`` with an empty ``desk_replay`` table (as migration 0008 makes it)."""
    from desk.models import ReplayEntry
    from issuer.db import make_engine

    engine = make_engine(url)
    ReplayEntry.__table__.drop(engine, checkfirst=True)
    ReplayEntry.__table__.create(engine)
    return engine


@pytest.fixture
def make_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory for the parametrised kind of cache, all instances on one store."""
    from desk.replay import DatabaseReplayCache

    kind = request.param
    engines: list[Any] = []
    url = {"database-sqlite": f"sqlite:///{tmp_path / 'service.db'}"}.get(kind)
    if kind == "database-postgresql":
        url = _postgres_url()
    if url:
        engines.append(_fresh_table(url))

    def make(pace: PrunePace | None = None) -> Any:
        if kind == "memory":
            return MemoryReplayCache()
        if kind == "sqlite":
            return SqliteReplayCache(tmp_path / "replay.db", pace)
        return DatabaseReplayCache(engines[0], pace)

    yield make
    for engine in engines:
        engine.dispose()


@pytest.mark.parametrize("make_cache", CACHES, indirect=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cache_answers_as_the_reference_model(make_cache: Callable[..., Any], seed: int) -> None:
    """Random calls on a small pool of keys, the clock moving forward by random steps, with
    a pace that prunes often: each answer is the model's (seen, and not expired yet)."""
    rng = random.Random(seed)
    cache = make_cache(PrunePace(every=3, seconds=5, batch=2))
    model: dict[bytes, float] = {}
    now = float(NOW)
    keys = [bytes([i]) * 32 for i in range(40)]
    for step in range(600):
        now += rng.choice([0, 0, 0.5, 1, 3, 20])
        key = rng.choice(keys)
        expires_at = now + rng.choice([-1, 0, 1, 5, 30, 91])
        expected = key in model and model[key] > now
        assert cache.check_and_add(key, expires_at, now) is expected, (seed, step)
        if not expected:
            model[key] = expires_at


@pytest.mark.parametrize("make_cache", ["sqlite", "database-sqlite", "database-postgresql"], indirect=True)
def test_a_database_cache_prunes_a_bounded_batch_every_few_inserts(make_cache: Callable[..., Any]) -> None:
    """100 expired proofs, then fresh ones at a pace of one prune every 4 inserts deleting at
    most 6: the table shrinks by 6 per 4 calls (less the 4 inserted), never all at once."""
    filler = make_cache(PrunePace(every=10_000, seconds=1e9))
    for i in range(100):
        assert filler.check_and_add(b"old-%03d" % i, NOW + 10, NOW) is False
    assert len(filler) == 100
    cache = make_cache(PrunePace(every=4, seconds=3600, batch=6))
    later = NOW + 60.0  # every old entry has expired
    sizes = []
    for i in range(12):
        assert cache.check_and_add(b"new-%03d" % i, later + 90, later) is False
        sizes.append(len(cache))
    # a new cache prunes at its first call, then at every fourth insert: calls 1, 5, 9
    assert sizes == [95, 96, 97, 98, 93, 94, 95, 96, 91, 92, 93, 94]
    assert cache.check_and_add(b"new-000", later + 95, later + 1) is True  # the fresh ones stay


def test_the_memory_cache_drops_at_most_two_expired_entries_a_call() -> None:
    cache = MemoryReplayCache()
    for i in range(50):
        cache.check_and_add(b"old-%02d" % i, NOW + 10, NOW)
    later = NOW + 60.0
    sizes = []
    for i in range(5):
        cache.check_and_add(b"new-%02d" % i, later + 90, later)
        sizes.append(len(cache))
    assert sizes == [49, 48, 47, 46, 45]  # two dropped, one added, each call
    for i in range(100):
        cache.check_and_add(b"more-%03d" % i, later + 90, later)
    assert len(cache) == 105 and cache.check_and_add(b"new-00", later + 91, later + 1) is True


def test_an_expired_entry_not_yet_pruned_is_not_a_replay(tmp_path: Path) -> None:
    """A pace that never prunes: the expired row is still in the table, and the same key
    after its expiry is accepted (and remembered again with its new expiry)."""
    cache = SqliteReplayCache(tmp_path / "replay.db", PrunePace(every=10_000, seconds=1e9))
    assert cache.check_and_add(b"k", NOW + 10, NOW) is False
    assert cache.check_and_add(b"k", NOW + 20, NOW + 9) is True
    assert cache.check_and_add(b"k", NOW + 40, NOW + 10) is False
    assert cache.check_and_add(b"k", NOW + 50, NOW + 39) is True
    assert len(cache) == 1


# ---- the WAL copied back by each process's thread, not by a scan -----------------------


def _rows_in_the_file_itself(store: Path) -> int:
    """Rows in the database file alone, its WAL not read (``immutable``): what the
    checkpoints have copied back so far."""
    import sqlite3

    with sqlite3.connect(f"file:{store}?immutable=1", uri=True) as reader:
        if reader.execute("SELECT count(*) FROM sqlite_master WHERE name = 'seen'").fetchone()[0] == 0:
            return 0  # not even the table has been copied back
        return int(reader.execute("SELECT count(*) FROM seen").fetchone()[0])


@pytest.mark.parametrize("seconds", [0.05, None])
def test_the_wal_is_copied_back_by_the_cache_thread_not_by_the_scans(tmp_path: Path, seconds: float | None) -> None:
    """With the thread, 150 scans reach the file within its interval though no scan's
    commit checkpoints (the scans' backstop is 16,000 pages); without it (``None``) they
    stay in the WAL until SQLite's own checkpoint at 1,000 pages, so the file holds none."""
    store = tmp_path / "replay.db"
    cache = SqliteReplayCache(store, PrunePace(every=10_000, seconds=1e9), checkpoint_seconds=seconds)
    for i in range(150):  # each commit writes 2 or 3 pages to the WAL: well under 1,000
        assert cache.check_and_add(b"key-%03d" % i, NOW + 100, NOW) is False
    if seconds is None:
        time.sleep(0.3)
        assert _rows_in_the_file_itself(store) == 0
    else:
        deadline = time.monotonic() + 30
        while _rows_in_the_file_itself(store) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows_in_the_file_itself(store) == 150
    assert all(cache.check_and_add(b"key-%03d" % i, NOW + 100, NOW + 1) for i in range(150))  # replays, still
    cache.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_fork_waits_until_the_checkpoint_thread_is_out_of_sqlite(tmp_path: Path) -> None:
    """A program that scans and then forks (a multiprocessing pool) does not know the cache
    runs a thread: a child forked while that thread held one of SQLite's mutexes would
    hang in its first SQLite call (the racing test below hung so, once in CI). The fork
    waits until the thread is out of SQLite; the child then works. Here a thread holds the
    lock the checkpoint thread holds inside SQLite, and says when it lets it go."""
    import threading

    from verifier import _replay

    cache = SqliteReplayCache(tmp_path / "replay.db", checkpoint_seconds=0.01)
    assert cache.check_and_add(b"k" * 32, NOW + 100, NOW) is False  # the thread runs from the first write
    inside, released = threading.Event(), threading.Event()

    def checkpointing() -> None:
        with _replay._IN_SQLITE:
            inside.set()
            time.sleep(0.3)
            released.set()

    holder = threading.Thread(target=checkpointing)
    holder.start()
    inside.wait()
    pid = os.fork()
    if pid == 0:  # the child: SQLite works, and the lock was let go before the fork
        try:
            child = SqliteReplayCache(tmp_path / "child.db")
            works = child.check_and_add(b"x" * 32, NOW + 100, NOW) is False and child.check_and_add(b"x" * 32, NOW + 100, NOW)
            os._exit(0 if works and released.is_set() else 1)
        except BaseException:
            os._exit(2)
    assert released.is_set()  # the fork came after the thread left SQLite
    holder.join()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert cache.check_and_add(b"k" * 32, NOW + 100, NOW + 1) is True  # the parent's cache goes on
    cache.close()


def test_the_checkpoint_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        SqliteReplayCache(tmp_path / "replay.db", checkpoint_seconds=0)


# ---- a desk process killed right after it accepted codes ---------------------------------


def _accept_then_die(store: str, texts: list[str], trust_text: str, root: dict[str, str], told: Any) -> None:
    """A desk process that accepts ``texts``, says so, and is killed at once (SIGKILL: no
    clean-up, no close, no checkpoint)."""
    desk = Verifier(load_trust_list(trust_text, root), clock=FixedClock(NOW), replay_cache=SqliteReplayCache(store))
    for text in texts:
        desk.verify(text, scenario="hotel")
    told.send(len(texts))
    os.kill(os.getpid(), signal.SIGKILL)


def test_codes_accepted_by_a_process_killed_right_after_are_still_replays(
    keydir: KeyDir, holder: Wallet, tmp_path: Path
) -> None:
    """The SQLite cache commits without an fsync (synchronous=NORMAL, docs/security.md):
    what a process accepted is in the WAL, so a desk process that crashes the moment after
    a scan leaves no proof forgotten. The first code goes through the call that prunes (its
    own transaction), the others through the single statement."""
    store = str(tmp_path / "replay.db")
    texts = [present(holder, "hotel", now=NOW - i).text for i in range(4)]
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_accept_then_die, args=(store, texts[:3], keydir.trust_list(), keydir.root_public_jwk(), sender))
    child.start()
    assert receiver.recv() == 3
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    assert Path(store + "-wal").stat().st_size > 0  # the commits are in the WAL, not checkpointed
    desk = Verifier(load_trust_list(keydir.trust_list(), keydir.root_public_jwk()), clock=FixedClock(NOW),
                    replay_cache=SqliteReplayCache(store))
    for text in texts[:3]:
        with pytest.raises(VerificationFailed) as refused:
            desk.verify(text, scenario="hotel")
        assert refused.value.codes == ["replayed"]
    assert desk.verify(texts[3], scenario="hotel").licence_type  # a code the dead process never saw
    assert Path(store + "-lock").stat().st_mode & 0o777 == 0o600  # the writers' turn: the owner's alone


# ---- N processes racing on the same presentations ---------------------------------------

PROCESSES = 4


def _race(kind: str, store: str, texts: list[str], trust_text: str, root: dict[str, str], barrier: Any,
          seed: int, out: Any) -> None:
    """One desk process: its own cache on the shared store, all the codes in its own order."""
    from desk.replay import DatabaseReplayCache
    from issuer.db import make_engine

    pace = PrunePace(every=2, seconds=3600)  # prunes racing with inserts and other pruners
    cache = SqliteReplayCache(store, pace) if kind == "sqlite" else DatabaseReplayCache(make_engine(store), pace)
    desk = Verifier(load_trust_list(trust_text, root), clock=FixedClock(NOW), replay_cache=cache)
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    accepted, refused = [], []
    barrier.wait()
    for i in order:
        try:
            desk.verify(texts[i], scenario="hotel")
            accepted.append(i)
        except VerificationFailed as exc:
            refused.append((i, exc.codes))
    out.put((accepted, refused))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_racing_on_the_same_codes_accept_each_exactly_once(
    kind: str, keydir: KeyDir, holder: Wallet, tmp_path: Path
) -> None:
    if kind == "sqlite":
        store = str(tmp_path / "replay.db")
        SqliteReplayCache(store).close()  # made once, before the race
        seed_cache: Any = SqliteReplayCache(store, PrunePace(every=10_000, seconds=1e9))
    else:
        from desk.replay import DatabaseReplayCache

        store = _postgres_url()
        engine = _fresh_table(store)
        seed_cache = DatabaseReplayCache(engine, PrunePace(every=10_000, seconds=1e9))
    for i in range(200):  # expired entries for the racing prunes to delete
        seed_cache.check_and_add(os.urandom(32), NOW - 1 - i, NOW - 100)
    texts = [present(holder, "hotel", now=NOW - i % 50).text for i in range(60)]
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
    seed = random.randrange(1 << 30)
    procs = [ctx.Process(target=_race, args=(kind, store, texts, keydir.trust_list(), keydir.root_public_jwk(),
                                             barrier, seed + n, out)) for n in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    accepted = sorted(i for got, _ in results for i in got)
    assert accepted == list(range(len(texts))), f"seed {seed}"  # each code exactly once
    refusals = [codes for _, refused in results for _, codes in refused]
    assert len(refusals) == (PROCESSES - 1) * len(texts) and all(c == ["replayed"] for c in refusals)
    assert len(seed_cache) < 200 + len(texts)  # the racing prunes deleted expired entries


# ---- the service: DESK_REPLAY chooses the cache -------------------------------------------


def test_two_service_machines_on_one_database_share_the_replay_cache(
    tmp_path: Path, service_keys: Path, database_url: str
) -> None:
    """Two apps (two machines: their own instance folders, so their own SQLite files) on the
    same service database with DESK_REPLAY=database: a code accepted at one desk is a
    replay at the other."""
    from issuer.service import db

    apps = [make_app(tmp_path / name, service_keys, database_url, DESK_REPLAY="database") for name in ("a", "b")]
    first, second = apps
    try:
        operator = _operator(first)
        resident = enrol(first, "alice")
        licence = issue_via_api(first.test_client(), operator, resident, "id_card", "replay-0001").json["id"]
        wallet = first.test_client()
        assert login(wallet, "alice").status_code == 302
        text = wallet_code(wallet, licence, "hotel")
        add_clerk(first)
        pages = []
        for application in apps:
            desk = application.test_client()
            assert desk_login(desk).status_code == 302
            response = desk.post("/desk/verify", data={"csrf_token": csrf(desk, "/desk/"), "scenario": "hotel", "text": text})
            pages.append(response.get_data(as_text=True))
        assert "通过 / accepted" in pages[0]
        assert "未通过 / rejected" in pages[1] and 'data-code="replayed"' in pages[1]
        assert not (tmp_path / "a" / "instance" / "desk-replay.db").exists()  # not the machine's own file
    finally:
        for application in apps:
            db.engine(application).dispose()


def _operator(app: Flask) -> str:
    from issuer.service import db, issuing

    with app.app_context(), db.sessions(app)() as session:
        _op, token = issuing.create_operator(session, "op", "household_registration", now=time.time())
        session.commit()
    return token


@pytest.mark.parametrize("setting, kind", [("memory", "MemoryReplayCache"), (None, "SqliteReplayCache"),
                                           ("database", "DatabaseReplayCache")])
def test_desk_replay_setting_names_the_cache(setting: str | None, kind: str, tmp_path: Path, service_keys: Path) -> None:
    from issuer.service import context, db

    app = make_app(tmp_path, service_keys, DESK_REPLAY=setting)
    with app.app_context():
        assert type(context.desk_verifier().replay_cache).__name__ == kind
    db.engine(app).dispose()
