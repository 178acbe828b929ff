"""Batch issuance: N residents' licences (full credential plus every scenario view) signed
on every core and recorded in the issuer database, against the raw Ed25519 signing rate
of the same cores measured in the same run; on SQLite, on PostgreSQL, or on both in one run.

    .venv/bin/python bench/issue.py [N] [--database instance/bench/issue.db] [--workers 2]
    .venv/bin/python bench/issue.py 100000 --fresh --database instance/bench/issue.db \
        --database postgresql://USER:PASSWORD@HOST/DB      # both, PostgreSQL / SQLite printed

The input is what a city hands the issuer: each resident's own claims (name, ID number with
its check digit, birth date, sex, address: :func:`resident_claims`, made from the resident's
number as each batch is signed) and the public key of the device their wallet enrolled. The
device keys (deterministic per resident id, so a re-run binds the same keys) are made before
the timed run and kept in ``instance/bench/devices-<N>.bin``; generating them is the
wallets' work, not issuance.

The database gets the service's own schema, every table and index, from its Alembic
migrations; nothing is emptied between runs unless ``--fresh`` is given, so each run writes
into tables as full as the last one left them.

Timed: ``issuer.batch`` end to end. The parent (the one writer) allocates each batch's
status entries and records the signed batches, ``--commit-every`` of them (default 5) in
one transaction (``record_batch``: on PostgreSQL a ``COPY`` per table, on SQLite the
driver's executemany); worker processes (one per core) validate and sign with
``issuer.batch.sign_batch`` (``issuer.credential.issue``). The parent keeps a few batches in
flight so both cores stay busy while it writes. A commit costs about as much whatever it
holds: the status entries' random indexes put a batch's rows on most pages of the open
list's index, and each commit writes those pages out (docs/benchmarks.md).

Resumable: each transaction is whole, and a resident who already holds the licence
type is known by the issuer's own records (``licences.holder``, the thumbprint of the
resident's device key). Interrupt it (Ctrl-C, kill, power cut) and run the same command
again: it skips every resident already committed and issues the rest. The end of the run
checks the records whole (:func:`check_records`: one licence per device key, every licence
with all its status entries, each list's use counter equal to its entries). ``--fresh``
starts over: it deletes the SQLite file, or drops the service's tables on PostgreSQL.

The signed credentials themselves are not stored: the issuer keeps no personal data (see
``issuer.db.models``); it records each licence with the SHA-256 of its credential, its key,
holder and status entries. The credential and views go to the resident's wallet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import multiprocessing as mp
import os
import resource
import secrets
import signal
import sys
import time
from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fixture as F  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
from sqlalchemy import Engine, distinct, func, make_url, select, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from tqdm import tqdm  # noqa: E402

from issuer import example  # noqa: E402
from issuer.batch import BatchAllocator, BatchItem, record_batch, sign_batch, tune_writer, view_names  # noqa: E402
from issuer.db import make_engine  # noqa: E402
from issuer.db.models import Base, LicenceRecord  # noqa: E402
from issuer.schemas.checksums import id_check_digit  # noqa: E402
from keys import KeyDir, atomic_write, thumbprint  # noqa: E402
from keys.jose import b64url_encode  # noqa: E402
from scenarios import load_policies  # noqa: E402

TARGET = 0.5  # issuance >= 50% of the raw signing rate of all cores together
TARGET_PG = 0.8  # PostgreSQL >= 80% of the SQLite rate measured in the same run


def resident_id(i: int) -> str:
    return f"R{i:09d}"


# ---- the input: residents' claims and device keys, as a city and their wallets hand them ----

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉文辉鹏飞宇浩然欣怡子涵梓轩思雨博晨阳"
_STREETS = ("和平里东街", "安定门内大街", "东四北大街", "交道口南大街", "北新桥三条", "雍和宫大街", "地安门东大街")
_BORN_FROM = dt.date(1971, 1, 1)  # to 1990-03-07: aged 26-45 at the example's valid_from,
_BORN_DAYS = (dt.date(1990, 3, 7) - _BORN_FROM).days  # so each type's own dates stay lawful


@lru_cache(maxsize=None)
def _example(licence_type: str) -> dict[str, Any]:
    return example(licence_type)


@lru_cache(maxsize=None)
def _birth_day(day: int) -> tuple[str, str]:
    """(ISO birth date, the ID number's first 14 digits) of the ``day``-th birth date."""
    born = _BORN_FROM + dt.timedelta(days=day)
    return born.isoformat(), f"110101{born:%Y%m%d}"


def resident_claims(licence_type: str, i: int) -> dict[str, Any]:
    """Resident ``i``'s own claims for ``licence_type``: the example licence with this
    resident's name, sex, birth date, ID number (region, birth date, sequence and GB 11643
    check digit) and address wherever the licence type carries them."""
    claims = dict(_example(licence_type))  # its values are not changed: a shallow copy
    g = len(_GIVEN)
    born, region_and_birth = _birth_day((i * 7919) % _BORN_DAYS)
    seq = (i // _BORN_DAYS) % 1000
    first17 = region_and_birth + str(seq).zfill(3)
    person = {
        "name": _SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i // 7) % g] + ("" if i % 3 else _GIVEN[(i // 11) % g]),
        "sex": "男" if seq % 2 else "女",
        "birth_date": born,
        "id_number": first17 + id_check_digit(first17),
        "address": f"北京市东城区{_STREETS[i % len(_STREETS)]}{1 + i % 97}号院{1 + i // 97 % 12}号楼"
                   f"{1 + i % 4}单元{1 + i // 5 % 20}{1 + i % 4:02d}室",
    }
    claims.update({k: v for k, v in person.items() if k in claims})
    return claims


def device_key(i: int) -> bytes:
    """Resident ``i``'s raw device public key, derived from the id so a re-run binds the same key."""
    seed = hashlib.sha256(b"certfree bench device key " + resident_id(i).encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _device_keys(span: tuple[int, int]) -> bytes:
    return b"".join(device_key(i) for i in range(*span))


def device_keys(n: int, folder: Path, workers: int) -> tuple[bytes, float]:
    """The first ``n`` residents' device keys (32 bytes each), made on every core once and
    kept in ``folder``; returns them and the seconds spent making them (0 when read)."""
    path = folder / f"devices-{n}.bin"
    if path.exists() and path.stat().st_size == 32 * n:
        return path.read_bytes(), 0.0
    start = time.perf_counter()
    step = 5000
    with mp.Pool(workers, initializer=_child_signals) as pool:
        data = b"".join(pool.map(_device_keys, [(a, min(a + step, n)) for a in range(0, n, step)]))
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return data, time.perf_counter() - start


def device(devices: bytes, i: int) -> bytes:
    """Resident ``i``'s key out of ``device_keys``."""
    return devices[32 * i:32 * i + 32]


def holder_jwk(raw: bytes) -> dict[str, str]:
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}


# ---- the database: the service's schema, made fresh or kept ------------------------------


def database_url(value: str) -> str:
    """A SQLite path or URL as given; ``postgresql://`` with the project's driver (psycopg)."""
    url = make_url(value) if "://" in value else None
    if url is not None and url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return value


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "://" in url else url


def open_database(url: str, *, fresh: bool) -> Engine:
    """An engine on ``url`` with the service's schema (its Alembic migrations, every table and
    index); ``fresh``: the SQLite file deleted, or the service's tables dropped, first."""
    from alembic import command

    from desk import models as desk_models  # noqa: F401  (the desks' tables, for drop_all)
    from issuer.service import models  # noqa: F401  (the service's tables, for drop_all)
    from issuer.service.db import alembic_config

    file = url.removeprefix("sqlite:///") if "://" not in url or url.startswith("sqlite:///") else None
    if fresh and file:
        for suffix in ("", "-wal", "-shm"):
            Path(file + suffix).unlink(missing_ok=True)
    if file:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    if fresh and engine.dialect.name != "sqlite":
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return engine


def check_records(engine: Engine, licence_type: str, views: int) -> dict[str, int]:
    """What the records hold once the run ends, and every way they could be torn: a device
    key holding the licence type twice, a licence missing a status entry (or with one too
    many), an index used twice in a list, a list whose use counter differs from its entries,
    a licence whose own status reference is not its credential entry."""
    with engine.connect() as conn:
        q = lambda sql: int(conn.execute(text(sql), {"t": licence_type}).scalar_one())  # noqa: E731
        return {
            "licences": q("SELECT count(*) FROM licences WHERE licence_type = :t"),
            "holders": q("SELECT count(DISTINCT holder) FROM licences WHERE licence_type = :t"),
            "entries": q("SELECT count(*) FROM status_entries e JOIN licences l ON l.id = e.licence_id "
                         "WHERE l.licence_type = :t"),
            "torn": q(f"SELECT count(*) FROM (SELECT l.id FROM licences l LEFT JOIN status_entries e "
                      f"ON e.licence_id = l.id WHERE l.licence_type = :t GROUP BY l.id "
                      f"HAVING count(e.id) <> {1 + views}) AS t"),
            "reused": q("SELECT count(*) FROM (SELECT list_id, idx FROM status_entries "
                        "GROUP BY list_id, idx HAVING count(*) > 1) AS d WHERE :t = :t"),
            "miscounted": q("SELECT count(*) FROM status_lists s WHERE s.used <> "
                            "(SELECT count(*) FROM status_entries e WHERE e.list_id = s.id) AND :t = :t"),
            "unlinked": q("SELECT count(*) FROM licences l WHERE l.licence_type = :t AND NOT EXISTS "
                          "(SELECT 1 FROM status_entries e WHERE e.licence_id = l.id AND e.scope = 'credential' "
                          "AND e.list_id = l.status_list AND e.idx = l.status_idx)"),
        }


# ---- workers: validate and sign -----------------------------------------------------------

_W: dict[str, Any] = {}


def _child_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt does
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # Pool.terminate() ends workers quietly


def _batch_gc() -> None:
    """The garbage collector set for a batch job. Its processes make millions of
    short-lived objects (claims, JSON, rows) with no reference cycles, which reference
    counting frees at once; Python's cyclic collector, left at its defaults, still runs a
    pass every 700 new objects and from time to time walks everything loaded at start-up,
    about 3 % of a 100,000-licence run (docs/benchmarks.md). What is loaded by now is
    moved out of its reach (``gc.freeze``) and it runs a thirtieth as often; cyclic garbage,
    if any, waits for at most 20,000 new objects. A signing worker also holds it off while
    it signs a batch (:func:`_sign_batch`)."""
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def _init_worker(keys_path: str, licence_type: str) -> None:
    _child_signals()
    F.quiet_logs()
    _W["keys"] = KeyDir(keys_path)
    _W["policies"] = load_policies()
    _batch_gc()


def _sign_batch(job: tuple[str, int, list[tuple[int, bytes, list[tuple[str, int]]]]]) -> tuple[int, list[Any]]:
    """Sign one batch; hand back only the rows to record (and the signature count).

    The cyclic garbage collector waits until the batch is done: ``sign_batch`` keeps every
    licence of the batch alive until all are signed (it returns them together), and each
    pass would walk those objects again: 1–4 % of a worker's CPU (docs/benchmarks.md).
    They hold no cycles and are freed by reference counting; the collector runs as
    :func:`_batch_gc` sets it between batches."""
    licence_type, now, items = job
    gc.disable()
    try:
        signed = sign_batch(
            _W["keys"], licence_type,
            [BatchItem(resident_claims(licence_type, i), holder_jwk(raw), refs) for i, raw, refs in items],
            now=now, policies=_W["policies"],
        )
        return sum(s.signatures for s in signed), [s.record() for s in signed]
    finally:
        gc.enable()


def _raw_sign(job: tuple[float, int]) -> tuple[int, float]:
    """Raw Ed25519 signatures made in ``seconds`` on one core (cryptography), of a message
    of ``size`` bytes (Ed25519 hashes the message twice: the size counts), and the CPU
    seconds they took."""
    seconds, size = job
    key = Ed25519PrivateKey.generate()
    msg = secrets.token_bytes(size)
    sign = key.sign
    done = 0
    cpu = time.process_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(200):
            sign(msg)
        done += 200
    return done, time.process_time() - cpu


RAW_CPU: list[float] = []  # CPU seconds a raw signature took, each measurement


def raw_signing_rate(workers: int, seconds: float, size: int) -> tuple[float, float]:
    """(signatures/s on one core, signatures/s on ``workers`` processes together)."""
    done, cpu = _raw_sign((seconds, size))
    one = done / seconds
    RAW_CPU.append(cpu / done)
    with mp.Pool(workers, initializer=_child_signals) as pool:
        start = time.perf_counter()
        total = sum(n for n, _ in pool.map(_raw_sign, [(seconds, size)] * workers))
        elapsed = time.perf_counter() - start
    return one, total / elapsed


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of the database server process serving ``pid``'s connection, when it
    runs on this machine (/proc); None otherwise."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def issue_into(engine: Engine, args: argparse.Namespace, devices: bytes, keys_path: Path, authority: str,
               views: int, now: int) -> dict[str, Any]:
    """Issue the licence type to every resident of ``devices`` not yet holding it; the
    figures of the run (``interrupted`` if Ctrl-C or SIGTERM stopped it)."""
    with engine.connect() as conn:
        holders = set(conn.scalars(select(LicenceRecord.holder).where(LicenceRecord.licence_type == args.type)))
    todo = [i for i in range(args.n) if thumbprint(holder_jwk(device(devices, i))) not in holders]
    del holders
    print(f"{args.n:,} residents, {args.n - len(todo):,} already issued (resumed), {len(todo):,} to issue: "
          f"1 credential + {views} views each ({args.type}); batches of {args.batch}, "
          f"{args.workers} signing processes", flush=True)

    batches = [todo[i:i + args.batch] for i in range(0, len(todo), args.batch)]
    signatures = 0
    issued_count = 0
    start = time.perf_counter()
    interrupted = False
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    pool = ctx.Pool(args.workers, initializer=_init_worker, initargs=(str(keys_path), args.type))
    bar = tqdm(total=len(todo), unit="licence", smoothing=0.1, mininterval=0.5, file=sys.stderr)
    parent0, children0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    server: float | None = None
    try:
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() if engine.dialect.name == "postgresql" else None
            conn.commit()
            server0 = _server_cpu(pid)
            tune_writer(conn)
            allocator = BatchAllocator(conn, authority, now)
            pending: deque[tuple[list[int], Any]] = deque()  # (residents, async result)
            it = iter(batches)

            def submit() -> bool:
                residents = next(it, None)
                if residents is None:
                    return False
                n = 1 + views  # status entries a licence: the batch's drawn at once, then dealt out
                refs = allocator.allocate(n * len(residents))
                items = [(i, device(devices, i), refs[k * n:k * n + n]) for k, i in enumerate(residents)]
                pending.append((residents, pool.apply_async(_sign_batch, ((args.type, now, items),))))
                return True

            for _ in range(2 * args.workers + args.commit_every):
                if not submit():
                    break
            signed: list[Any] = []  # the signed batches of the next transaction, and their signatures
            signing = 0
            while pending:
                residents, result = pending.popleft()
                count, records = result.get()
                submit()
                signing += count
                signed += records
                if len(signed) < args.commit_every * args.batch and pending:
                    continue
                record_batch(conn, allocator, signed)
                signatures += signing
                issued_count += len(signed)
                bar.update(len(signed))
                signed, signing = [], 0
            server_after = _server_cpu(pid)
            server = server_after - server0 if server_after is not None and server0 is not None else None
    except KeyboardInterrupt:
        interrupted = True
        pool.terminate()
    finally:
        bar.close()
        pool.close()
        pool.join()
    elapsed = time.perf_counter() - start
    cpu = {"workers": _cpu(resource.RUSAGE_CHILDREN) - children0, "writer": _cpu(resource.RUSAGE_SELF) - parent0,
           "server": server}
    return {"todo": len(todo), "issued": issued_count, "signatures": signatures, "seconds": elapsed,
            "interrupted": interrupted, "cpu": cpu}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=5000, help="residents (one licence each, default 5000)")
    ap.add_argument("--type", default="id_card", help="licence type (default id_card: 5 views)")
    ap.add_argument("--database", "--db", dest="databases", action="append",
                    help="SQLite file or database URL (postgresql://USER:PASSWORD@HOST/DB); give it twice "
                         "to issue into both in one run (default instance/bench/issue.db)")
    ap.add_argument("--keys", default="instance/bench/keys", help="issuer key folder (made if missing, dev keys)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="signing processes (default: all cores)")
    ap.add_argument("--batch", type=int, default=2000, help="residents per signed batch")
    ap.add_argument("--commit-every", type=int, default=5,
                    help="signed batches written per transaction (default 5: 10,000 licences a commit)")
    ap.add_argument("--raw-seconds", type=float, default=2.0, help="length of the raw signing measurement")
    ap.add_argument("--fresh", action="store_true",
                    help="start over: delete the SQLite file / drop the service's tables on PostgreSQL")
    args = ap.parse_args(argv)
    databases = [database_url(d) for d in (args.databases or ["instance/bench/issue.db"])]
    F.quiet_logs()
    # Ctrl-C and kill (SIGTERM) stop cleanly: the batch being written is rolled back, the
    # committed ones stay. (A shell starts background jobs with SIGINT ignored; undo that.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    keys_path = Path(args.keys)
    if not (keys_path / "registry.json").exists():
        keys_path.parent.mkdir(parents=True, exist_ok=True)
        KeyDir.init(keys_path, insecure_dev=True, now=F.NOW - 365 * 86400)
    keys = KeyDir(keys_path)
    engines = []
    for url in databases:
        try:
            engines.append(open_database(url, fresh=args.fresh))
        except OperationalError as exc:  # a server that is down or refuses the login: say which, no traceback
            sys.exit(f"bench/issue.py: cannot open the database {shown(url)}: {str(exc.orig).strip()}")

    now = F.NOW
    policies = load_policies()
    views = len(view_names(args.type, policies))
    entry, _ = keys.signing_key(args.type, now)

    print(f"machine: {F.machine()}")
    devices, made_in = device_keys(args.n, keys_path.parent, args.workers)
    print(f"input: {args.n:,} residents' device keys " + (f"made in {made_in:.1f} s (not timed below)" if made_in else "read from the last run")
          + "; each resident's own claims made as their batch is signed (timed)")

    # The ceiling the signing code sets: sign_batch alone, one core, no DB; and the mean
    # size of what it signs (the JWS signing inputs), for the raw measurement.
    _init_worker(str(keys_path), args.type)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    probe = [BatchItem(resident_claims(args.type, args.n + i), holder_jwk(device(devices, i % args.n)),
                       [("probe", i * 8 + k) for k in range(1 + views)]) for i in range(300)]
    t0 = time.perf_counter()
    probed = sign_batch(_W["keys"], args.type, probe, now=now, policies=_W["policies"])
    signed_probe = sum(s.signatures for s in probed)
    issue_one_core = signed_probe / (time.perf_counter() - t0)
    jws = [j for s in probed for j in (s.issued.credential, *s.issued.views.values())]
    size = round(sum(len(j.rsplit(".", 1)[0]) for j in jws) / len(jws))
    one_core, all_cores = raw_signing_rate(args.workers, args.raw_seconds, size)
    print(f"raw Ed25519 signing (cryptography) of {size}-byte messages (the mean signing input issued), "
          f"before: {one_core:,.0f}/s on one core, {all_cores:,.0f}/s on {args.workers} processes together")
    print(f"issuer.batch.sign_batch alone (validate + sign), one core, no DB: {issue_one_core:,.0f} signed/s "
          f"= {issue_one_core / one_core:.2f} of the raw one-core rate", flush=True)

    runs: list[tuple[str, str, dict[str, Any]]] = []
    for url, engine in zip(databases, engines):
        print(f"--- {engine.dialect.name}: {shown(url)}")
        run = issue_into(engine, args, devices, keys_path, entry.authority, views, now)
        runs.append((engine.dialect.name, url, run))
        if run["interrupted"]:
            break
        if run["todo"]:
            # Measured again after each database's run; the highest figures are kept, so
            # that a busy moment during one measurement cannot flatter the ratio.
            one_after, all_after = raw_signing_rate(args.workers, args.raw_seconds, size)
            print(f"raw Ed25519 signing (cryptography), after:  {one_after:,.0f}/s on one core, "
                  f"{all_after:,.0f}/s on {args.workers} processes together", flush=True)
            one_core, all_cores = max(one_core, one_after), max(all_cores, all_after)

    # Judged against the larger of the measured all-cores rate and workers x the one-core
    # rate: another program busy on a core during the raw measurement cannot help.
    capacity = max(all_cores, args.workers * one_core)
    peak_parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rates: dict[str, float] = {}
    costs: dict[str, float | None] = {}
    for (name, url, run), engine in zip(runs, engines):
        print(f"=== {name}: {shown(url)}")
        t0 = time.perf_counter()
        found = check_records(engine, args.type, views)
        checked_in = time.perf_counter() - t0
        engine.dispose()
        elapsed = run["seconds"]
        if run["todo"]:
            rate_sig = run["signatures"] / elapsed if elapsed else 0.0
            ratio = rate_sig / capacity
            print(("INTERRUPTED: committed batches are kept; run the same command to resume\n" if run["interrupted"] else "")
                  + f"issued {run['issued']:,} licences ({run['signatures']:,} credentials and views signed) in "
                  f"{elapsed:.1f} s: {run['issued'] / elapsed if elapsed else 0:,.0f} licences/s, "
                  f"{rate_sig:,.0f} signed/s with the DB writes")
            cpu, per = run["cpu"], 1e6 / max(run["issued"], 1)
            server = "" if cpu["server"] is None else f", database server {cpu['server'] * per:,.0f}"
            total = cpu["workers"] + cpu["writer"] + (cpu["server"] or 0.0)
            print(f"CPU a licence (µs): signing workers {cpu['workers'] * per:,.0f}, writer {cpu['writer'] * per:,.0f}"
                  f"{server}; total {total * per:,.0f}" + ("" if cpu["server"] is not None or name == "sqlite"
                                                          else " (the database server's own not seen)"))
            if not run["interrupted"]:
                rates[name] = rate_sig
                costs[name] = total * per if cpu["server"] is not None or name == "sqlite" else None
                if costs[name]:
                    # The same target by CPU (the least a raw signature took against all the
                    # CPU a licence took): the rates' ratio where CPU is the only limit. Other
                    # jobs' processes slow Python more than the raw signing loop, so on a busy
                    # machine this too is below what the same code gives alone.
                    by_cpu = run["signatures"] / run["issued"] * min(RAW_CPU) * 1e6 / costs[name]  # type: ignore[operator]
                    print(f"ratio by CPU (a licence's {run['signatures'] // run['issued']} raw signatures, "
                          f"{min(RAW_CPU) * 1e6:.1f} µs each, / its CPU in every process): {by_cpu:.2f}   "
                          f"target >= {TARGET}: {'MET' if by_cpu >= TARGET else 'MISSED'}")
                print(f"ratio issuance / raw signing on {args.workers} cores ({capacity:,.0f}/s): {ratio:.2f}   "
                      f"target >= {TARGET}: {'MET' if ratio >= TARGET else 'MISSED'}")
        else:
            print("nothing to issue: every resident already has the licence")
        whole = (found["torn"] == found["reused"] == found["miscounted"] == found["unlinked"] == 0
                 and found["entries"] == (1 + views) * found["licences"])
        print(f"database now holds {found['licences']:,} {args.type} licence records for {found['holders']:,} "
              f"distinct device keys ({'no duplicate' if found['holders'] == found['licences'] else 'DUPLICATES'}); "
              f"{found['entries']:,} status entries: {found['torn']} licences missing or with extra entries, "
              f"{found['reused']} indexes used twice, {found['miscounted']} lists miscounted, "
              f"{found['unlinked']} licences not pointing at their entry ({'whole' if whole else 'TORN'}; "
              f"checked in {checked_in:.1f} s, not timed)")
    if "sqlite" in rates and "postgresql" in rates:
        pg = rates["postgresql"] / rates["sqlite"]
        print(f"ratio PostgreSQL / SQLite, same run: {pg:.2f}   target >= {TARGET_PG}: {'MET' if pg >= TARGET_PG else 'MISSED'}")
        if costs.get("sqlite") and costs.get("postgresql"):
            # On a machine busy with other work the database server is one more process
            # asking for CPU, and gets a share the signing workers would otherwise have had:
            # the rates then flatter PostgreSQL. Where CPU is the only limit, they follow
            # the CPU each licence costs.
            by_cpu = costs["sqlite"] / costs["postgresql"]  # type: ignore[operator]
            print(f"ratio by CPU a licence (SQLite's / PostgreSQL's: the rates' ratio where CPU is the only limit): "
                  f"{by_cpu:.2f}   target >= {TARGET_PG}: {'MET' if by_cpu >= TARGET_PG else 'MISSED'}")
    print(f"peak memory (max RSS): parent {peak_parent:,.0f} MiB, largest worker {peak_child:,.0f} MiB "
          f"(the parent holds the {args.n:,} device keys: {32 * args.n / 2**20:.1f} MiB; "
          f"the PostgreSQL server's own processes are not counted)")
    return {"rates": rates, "capacity": capacity, "raw_one": one_core}


if __name__ == "__main__":
    main()
