"""Issuance with the issuer key in a PKCS#11 token against the key in process.

    .venv/bin/python bench/hsm.py [N] [--workers 2] [--type id_card]

Two key folders with the same licences to sign: one whose issuer keys are files parsed in
this process (cryptography), one whose issuer keys were made in a PKCS#11 token
(``certfree keys init --pkcs11-token``). Without ``CERTFREE_PKCS11_MODULE`` set, the bench
makes a SoftHSM2 token of its own in a temporary folder (``softhsm2-util``, Debian's
``softhsm2``), with ``library.reset_on_fork = true`` as the tests use it.

For each signer it prints:

* one signature through the signer (``Signer.sign``) of a message the size of a
  credential's signing input, a fresh message each time;
* issuance, one process: ``issuer.issue`` of N licences (the credential and every scenario
  view), each for a resident with their own fresh device key, no database;
* issuance on ``--workers`` forked processes at once, each signing N licences with its own
  session opened after the fork, as gunicorn's workers do.

and the ratios token / in process. There is no target: the figures say what a token costs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fixture as F  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from issuer import example, issue  # noqa: E402
from keys import KeyDir  # noqa: E402
from keys.jose import public_jwk  # noqa: E402

TOKEN = "certfree-bench"
SOFTHSM = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def softhsm_token(home: Path) -> None:
    """A SoftHSM2 token in ``home``, configured through this process's environment."""
    module = next((m for m in SOFTHSM if Path(m).is_file()), None)
    if module is None or shutil.which("softhsm2-util") is None:
        sys.exit("bench/hsm.py: SoftHSM2 is not installed (apt-get install softhsm2), and CERTFREE_PKCS11_MODULE is not set")
    (home / "tokens").mkdir()
    (home / "softhsm2.conf").write_text(f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\n"
                                        "log.level = ERROR\nlibrary.reset_on_fork = true\n")
    pin = secrets.token_hex(8)
    os.environ.update({"SOFTHSM2_CONF": str(home / "softhsm2.conf"), "CERTFREE_PKCS11_MODULE": module,
                       "CERTFREE_PKCS11_PIN": pin})
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", secrets.token_hex(8),
                    "--pin", pin], check=True, capture_output=True)


def holders(n: int) -> list[dict[str, str]]:
    """``n`` residents' device public keys, each fresh (made before the timing)."""
    return [public_jwk(Ed25519PrivateKey.generate().public_key()) for _ in range(n)]


def issue_all(keys: KeyDir, licence_type: str, devices: list[dict[str, str]]) -> tuple[float, int]:
    """(seconds, signatures) to issue one licence with its views to each of ``devices``."""
    claims = example(licence_type)
    signatures = 0
    start = time.perf_counter()
    for device in devices:
        issued = issue(keys, licence_type, claims, holder_jwk=device, now=F.NOW)
        signatures += 1 + len(issued.views)
    return time.perf_counter() - start, signatures


def _worker(path: str, licence_type: str, n: int, ready: Any, go: Any, out: Any) -> None:
    """In a forked process: open the key folder and make the devices, wait for the start,
    issue ``n`` licences (a token's session opens at the first signature, in this process)."""
    try:
        F.quiet_logs()
        keys = KeyDir(path)
        devices = holders(n)
    finally:
        ready.release()
    go.wait()
    try:
        out.put(issue_all(keys, licence_type, devices) + (time.perf_counter(),))
    except BaseException as exc:  # the parent reports it instead of waiting for ever
        out.put(repr(exc))
        raise


def on_workers(path: Path, licence_type: str, n: int, workers: int) -> tuple[float, float]:
    """(licences/s, signatures/s) of ``workers`` forked processes issuing ``n`` each at once,
    from a common start to the last one's end."""
    ctx = mp.get_context("fork")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(path), licence_type, n, ready, go, out)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    results = [out.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join()
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        sys.exit(f"bench/hsm.py: a worker failed: {failed[0]}")
    wall = max(end for _s, _n, end in results) - start
    return n * workers / wall, sum(count for _s, count, _e in results) / wall


def sign_rate(keys: KeyDir, licence_type: str, size: int, count: int) -> float:
    """Seconds per signature through the signer, of fresh ``size``-byte messages."""
    _entry, signer = keys.signing_key(licence_type, F.NOW)
    messages = [secrets.token_bytes(size) for _ in range(count)]
    signer.sign(messages[0])  # a token's session opens here, not in the timing
    start = time.perf_counter()
    for message in messages:
        signer.sign(message)
    return (time.perf_counter() - start) / count


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=500, help="licences per run and per worker (default 500)")
    ap.add_argument("--type", default="id_card", help="licence type (default id_card: 5 views)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="forked issuing processes (default: all cores)")
    args = ap.parse_args(argv)
    F.quiet_logs()
    home = Path(tempfile.mkdtemp(prefix="certfree-bench-hsm-"))
    try:
        if not os.environ.get("CERTFREE_PKCS11_MODULE"):
            softhsm_token(home)
        token_label = os.environ.get("CERTFREE_PKCS11_TOKEN", TOKEN)
        folders = {
            "in process": KeyDir.init(home / "file-keys", insecure_dev=True, now=F.NOW - 86400).path,
            "PKCS#11": KeyDir.init(home / "token-keys", insecure_dev=True, now=F.NOW - 86400, token=token_label).path,
        }
        print(f"machine: {F.machine()}")
        print(f"token: {Path(os.environ['CERTFREE_PKCS11_MODULE']).name}, label {token_label}")
        probe = issue(KeyDir(folders["in process"]), args.type, example(args.type),
                      holder_jwk=holders(1)[0], now=F.NOW)
        size = len(probe.credential.rsplit(".", 1)[0])
        results: dict[str, dict[str, float]] = {}
        for name, path in folders.items():
            keys = KeyDir(path)
            per_signature = sign_rate(keys, args.type, size, max(args.n, 200))
            devices = holders(args.n)
            issue_all(keys, args.type, devices[:20])  # warm: policies, caches, session
            seconds, signatures = issue_all(keys, args.type, devices)
            licences_w, signatures_w = on_workers(path, args.type, args.n, args.workers)
            results[name] = {"sign": per_signature, "licences": args.n / seconds, "signatures": signatures / seconds,
                             "licences_w": licences_w, "signatures_w": signatures_w}
            print(f"{name:10}  one signature ({size}-byte input): {F.us(per_signature)}   "
                  f"issue, 1 process: {args.n / seconds:7,.0f} licences/s ({signatures / seconds:7,.0f} signatures/s)   "
                  f"{args.workers} processes: {licences_w:7,.0f} licences/s ({signatures_w:7,.0f} signatures/s)")
        token, local = results["PKCS#11"], results["in process"]
        print(f"PKCS#11 / in process: signature time x{token['sign'] / local['sign']:.1f}; "
              f"issuance rate {token['licences'] / local['licences']:.2f} (1 process), "
              f"{token['licences_w'] / local['licences_w']:.2f} ({args.workers} processes)")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
