"""Batch issuance: N residents' licences (full credential plus every scenario view) signed
on every core and recorded in the issuer database, against the raw Ed25519 signing rate
of the same cores measured in the same run.

    .venv/bin/python bench/issue.py [N] [--db instance/bench/issue.db] [--workers 2]

The input is what a city hands the issuer: each resident's claims and the public key of
the device their wallet enrolled. The device keys (deterministic per resident id, so a
re-run binds the same keys) are made before the timed run and kept in
``instance/bench/devices-<N>.bin``; generating them is the wallets' work, not issuance.

Timed: ``issuer.batch`` end to end. The parent (the one SQLite writer) allocates each
batch's status entries and records the signed batches; worker processes (one per core)
validate and sign with ``issuer.batch.sign_batch`` (``issuer.credential.issue``). The
parent keeps a few batches in flight so both cores stay busy while it writes.

Resumable: each batch is one transaction, and a resident who already holds the licence
type is known by the issuer's own records (``licences.holder``, the thumbprint of the
resident's device key). Interrupt it (Ctrl-C, kill, power cut) and run the same command
again: it skips every resident already committed and issues the rest. The end of the run
checks that no device key holds the licence type twice. ``--fresh`` starts over.

The signed credentials themselves are not stored: the issuer keeps no personal data (see
``issuer.db.models``); it records each licence with the SHA-256 of its credential, its key,
holder and status entries. The credential and views go to the resident's wallet.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fixture as F  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
from sqlalchemy import distinct, func, select  # noqa: E402
from tqdm import tqdm  # noqa: E402

from issuer import example  # noqa: E402
from issuer.batch import BatchAllocator, BatchItem, record_batch, sign_batch, tune_writer, view_names  # noqa: E402
from issuer.db import make_engine  # noqa: E402
from issuer.db.models import Base, LicenceRecord  # noqa: E402
from keys import KeyDir, atomic_write, thumbprint  # noqa: E402
from keys.jose import b64url_encode  # noqa: E402
from scenarios import load_policies  # noqa: E402

TARGET = 0.5  # issuance >= 50% of the raw signing rate of all cores together


def resident_id(i: int) -> str:
    return f"R{i:09d}"


# ---- the input: residents' device keys, as their wallets enrolled them ----------------------


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
    if any, waits for at most 20,000 new objects."""
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def _init_worker(keys_path: str, licence_type: str) -> None:
    _child_signals()
    F.quiet_logs()
    _W["keys"] = KeyDir(keys_path)
    _W["policies"] = load_policies()
    _W["claims"] = example(licence_type)
    _batch_gc()


def _sign_batch(job: tuple[str, int, list[tuple[bytes, list[tuple[str, int]]]]]) -> tuple[int, list[Any]]:
    """Sign one batch; hand back only the rows to record (and the signature count)."""
    licence_type, now, items = job
    claims = _W["claims"]
    signed = sign_batch(
        _W["keys"], licence_type, [BatchItem(claims, holder_jwk(raw), refs) for raw, refs in items],
        now=now, policies=_W["policies"],
    )
    return sum(s.signatures for s in signed), [s.record() for s in signed]


def _raw_sign(job: tuple[float, int]) -> int:
    """Raw Ed25519 signatures made in ``seconds`` on one core (cryptography), of a message
    of ``size`` bytes (Ed25519 hashes the message twice: the size counts)."""
    seconds, size = job
    key = Ed25519PrivateKey.generate()
    msg = secrets.token_bytes(size)
    sign = key.sign
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(200):
            sign(msg)
        done += 200
    return done


def raw_signing_rate(workers: int, seconds: float, size: int) -> tuple[float, float]:
    """(signatures/s on one core, signatures/s on ``workers`` processes together)."""
    one = _raw_sign((seconds, size)) / seconds
    with mp.Pool(workers, initializer=_child_signals) as pool:
        start = time.perf_counter()
        total = sum(pool.map(_raw_sign, [(seconds, size)] * workers))
        elapsed = time.perf_counter() - start
    return one, total / elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=5000, help="residents (one licence each, default 5000)")
    ap.add_argument("--type", default="id_card", help="licence type (default id_card: 5 views)")
    ap.add_argument("--db", default="instance/bench/issue.db", help="SQLite file (or a database URL)")
    ap.add_argument("--keys", default="instance/bench/keys", help="issuer key folder (made if missing, dev keys)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="signing processes (default: all cores)")
    ap.add_argument("--batch", type=int, default=2000, help="residents per batch / transaction")
    ap.add_argument("--raw-seconds", type=float, default=2.0, help="length of the raw signing measurement")
    ap.add_argument("--fresh", action="store_true", help="delete the database first")
    args = ap.parse_args(argv)
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
    if args.fresh and "://" not in args.db:
        for suffix in ("", "-wal", "-shm"):
            Path(args.db + suffix).unlink(missing_ok=True)
    engine = make_engine(args.db)
    Base.metadata.create_all(engine)

    now = F.NOW
    policies = load_policies()
    views = view_names(args.type, policies)
    entry, _ = keys.signing_key(args.type, now)

    print(f"machine: {F.machine()}")
    devices, made_in = device_keys(args.n, keys_path.parent, args.workers)
    print(f"input: {args.n:,} residents' device keys " + (f"made in {made_in:.1f} s (not timed below)" if made_in else "read from the last run"))

    # The ceiling the signing code sets: sign_batch alone, one core, no DB; and the mean
    # size of what it signs (the JWS signing inputs), for the raw measurement.
    _init_worker(str(keys_path), args.type)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    probe = [BatchItem(_W["claims"], holder_jwk(device(devices, i % args.n)),
                       [("probe", i * 8 + k) for k in range(1 + len(views))]) for i in range(300)]
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
          f"= {issue_one_core / one_core:.2f} of the raw one-core rate")

    with engine.connect() as conn:
        holders = set(conn.scalars(select(LicenceRecord.holder).where(LicenceRecord.licence_type == args.type)))
    todo = [i for i in range(args.n) if thumbprint(holder_jwk(device(devices, i))) not in holders]
    print(f"{args.n:,} residents, {args.n - len(todo):,} already issued (resumed), {len(todo):,} to issue: "
          f"1 credential + {len(views)} views each ({args.type}); batches of {args.batch}, "
          f"{args.workers} signing processes")

    batches = [todo[i:i + args.batch] for i in range(0, len(todo), args.batch)]
    signatures = 0
    issued_count = 0
    start = time.perf_counter()
    interrupted = False
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    pool = ctx.Pool(args.workers, initializer=_init_worker, initargs=(str(keys_path), args.type))
    bar = tqdm(total=len(todo), unit="licence", smoothing=0.1, mininterval=0.5, file=sys.stderr)
    try:
        with engine.connect() as conn:
            tune_writer(conn)
            allocator = BatchAllocator(conn, entry.authority, now)
            pending: deque[tuple[list[int], Any]] = deque()  # (residents, async result)
            it = iter(batches)

            def submit() -> bool:
                residents = next(it, None)
                if residents is None:
                    return False
                items = [(device(devices, i), allocator.allocate(1 + len(views))) for i in residents]
                pending.append((residents, pool.apply_async(_sign_batch, ((args.type, now, items),))))
                return True

            for _ in range(2 * args.workers + 1):
                if not submit():
                    break
            while pending:
                residents, result = pending.popleft()
                count, records = result.get()
                submit()
                record_batch(conn, allocator, records)
                signatures += count
                issued_count += len(records)
                bar.update(len(records))
    except KeyboardInterrupt:
        interrupted = True
        pool.terminate()
    finally:
        bar.close()
        pool.close()
        pool.join()
    elapsed = time.perf_counter() - start
    if not interrupted and todo:
        # Measured again after the batch; the higher figures are kept, so that a busy
        # moment during one measurement cannot flatter the ratio.
        one_after, all_after = raw_signing_rate(args.workers, args.raw_seconds, size)
        print(f"raw Ed25519 signing (cryptography), after:  {one_after:,.0f}/s on one core, "
              f"{all_after:,.0f}/s on {args.workers} processes together")
        one_core, all_cores = max(one_core, one_after), max(all_cores, all_after)

    rate_sig = signatures / elapsed if elapsed else 0.0
    # Judged against the larger of the measured all-cores rate and workers x the one-core
    # rate: another program busy on a core during the raw measurement cannot help.
    capacity = max(all_cores, args.workers * one_core)
    ratio = rate_sig / capacity
    peak_parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with engine.connect() as conn:
        of_type = LicenceRecord.licence_type == args.type
        total = conn.scalar(select(func.count(distinct(LicenceRecord.holder))).where(of_type))
        records_n = conn.scalar(select(func.count()).select_from(LicenceRecord).where(of_type))
    if not todo:
        print("nothing to issue: every resident already has the licence")
        return {}
    print(("INTERRUPTED: committed batches are kept; run the same command to resume\n" if interrupted else "")
          + f"issued {issued_count:,} licences ({signatures:,} credentials and views signed) in {elapsed:.1f} s: "
          f"{issued_count / elapsed if elapsed else 0:,.0f} licences/s, {rate_sig:,.0f} signed/s with the DB writes")
    print(f"database now holds {records_n:,} {args.type} licence records for {total:,} distinct device keys "
          f"({'no duplicate' if total == records_n else 'DUPLICATES'})")
    print(f"ratio issuance / raw signing on {args.workers} cores ({capacity:,.0f}/s): {ratio:.2f}   "
          f"target >= {TARGET}: {'MET' if ratio >= TARGET else 'MISSED'}")
    print(f"peak memory (max RSS): parent {peak_parent:,.0f} MiB, largest worker {peak_child:,.0f} MiB "
          f"(the parent holds the {args.n:,} device keys: {32 * args.n / 2**20:.1f} MiB)")
    return {"signed_per_s": rate_sig, "raw_all": all_cores, "raw_one": one_core, "ratio": ratio}


if __name__ == "__main__":
    main()
