"""Where a desk scan's CPU goes, part by part, against the floor request, in one process.

    .venv/bin/python bench/desk_parts.py [--scans 2000] [--stored 100000]

``bench/load.py`` measures the desk scan over HTTP against the same server's floor; this
bench says what the difference is made of. It builds the service in this process (``certfree
serve --demo``'s app, SQLite, the desk's replay cache pre-filled with ``--stored`` proofs
that have not expired), enrols a phone for the demo resident and logs the demo desk's clerk
in, as load.py does, then sends through Flask's test client (no gunicorn, no socket)

* ``--scans`` floor requests (``GET /healthz``, no cookie), then
* ``--scans`` desk scans (``POST /desk/verify.json``, the clerk's session cookie and CSRF
  header), each with a presentation never sent before, all accepted,

and times, by the thread's CPU time, each request and the parts named in the table (each
part's time includes what it calls; the parts overlap where one calls another). Then the
same verifier verifies as many fresh codes again outside any request: the verify's cost
once the web stack is not running between two scans. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import load as L  # noqa: E402  (the load bench's phone, log-in and pre-fill helpers)

_spent: collections.Counter[str] = collections.Counter()


def timed(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` with a wrapper adding its CPU time to ``label``."""
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            _spent[label] += time.thread_time() - started

    setattr(owner, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--stored", type=int, default=100_000, help="proofs in the desk's replay cache before the run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="certfree-desk-parts-"))
    instance = work / "instance"
    os.environ.update({"CERTFREE_INSTANCE_PATH": str(instance), "CERTFREE_INSECURE_COOKIES": "1",
                       "CERTFREE_DATABASE_URL": f"sqlite:///{instance / 'certfree.db'}",
                       "CERTFREE_KEYS_DIR": str(instance / "keys")})
    L.prefill(instance / "desk-replay.db", args.stored)
    logging.disable(logging.WARNING)

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from issuer.service import create_app, demo

    app = create_app()
    demo.prepare(app)
    app.config["SECRET_KEY"] = "the session secret of desk_parts.py, for this run only"
    resident = app.test_client()
    page = resident.get("/wallet/login").get_data(as_text=True)
    resident.post("/wallet/login", data={"username": "demo", "password": "certfree-resident",
                                         "csrf_token": L.CSRF.search(page).group(1)})  # type: ignore[union-attr]
    device = Ed25519PrivateKey.generate()

    def proven(path: str, purpose: str) -> Any:
        got = resident.get("/wallet/api/challenge").get_json()
        body = L.proof_body(device, got["challenge"], purpose, "bench/desk_parts.py")
        return resident.post(path, json=body, headers={"X-CSRF-Token": got["csrf"]}).get_json()

    proven("/wallet/api/devices", "enrol")
    cafe = next(item["views"]["internet_cafe"] for item in proven("/wallet/api/sync", "sync")["licences"]
                if item["type"] == "id_card")
    desk = app.test_client()
    page = desk.get("/desk/login").get_data(as_text=True)
    desk.post("/desk/login", data={"username": "desk", "password": "certfree-clerk",
                                   "csrf_token": L.CSRF.search(page).group(1)})  # type: ignore[union-attr]
    token = desk.get("/desk/session.json").get_json()["csrf"]
    floor = app.test_client()
    L._phone_init(cafe, device.private_bytes_raw())
    warm = 100
    codes = iter(L._present(warm + 2 * args.scans))

    def scan() -> None:
        body = json.dumps({"code": next(codes), "scenario": "internet_cafe"})
        answer = desk.post("/desk/verify.json", data=body, content_type="application/json", headers={"X-CSRF-Token": token})
        assert answer.status_code == 200 and answer.get_json()["verdict"] == "accepted", answer.data[:300]

    def healthz() -> None:
        assert floor.get("/healthz").status_code == 200

    for _ in range(warm):
        scan()
        healthz()

    import flask.app
    import verifier._core
    import verifier._replay
    from desk import clerk, pages
    from issuer.service import jsonbody, metrics, sessions

    for owner, name, label in (
        (flask.app.Flask, "wsgi_app", "Flask's request, whole"),
        (sessions.VerifiedOnceSessionInterface, "open_session", "session: open (cookie)"),
        (sessions.VerifiedOnceSessionInterface, "save_session", "session: save"),
        (flask.app.Flask, "preprocess_request", "before-request handlers"),
        (flask.app.Flask, "process_response", "after-request handlers"),
        (clerk, "_check", "the clerk's row (session epoch, desk)"),
        (pages, "check_csrf", "CSRF header"),
        (jsonbody, "read_object", "JSON body read"),
        (pages, "_verifier", "the desk's verifier (status refresh)"),
        (metrics.CountingVerifier, "verify", "verify, whole"),
        (verifier._core.Verifier, "_parse", "  envelope decode and parse"),
        (verifier._core.Verifier, "_check_issuer", "  issuer signature and key"),
        (verifier._core.Verifier, "_check_holder", "  holder proof, freshness, replay"),
        (verifier._replay.SqliteReplayCache, "check_and_add", "    replay cache (SQLite)"),
        (verifier._core, "check_status", "  status"),
        (pages, "jsonify", "JSON answer"),
    ):
        timed(owner, name, label)

    rows = []
    for name, request in (("floor GET /healthz", healthz), ("desk POST /desk/verify.json", scan)):
        _spent.clear()
        started = time.thread_time()
        for _ in range(args.scans):
            request()
        whole = time.thread_time() - started
        rows.append((name, whole / args.scans, dict(_spent)))
    print(f"{args.scans} requests each through Flask's test client, one process; desk replay cache pre-filled "
          f"with {args.stored} proofs; CPU time (thread_time) per request, in µs")
    labels = [label for _, _, spent in rows for label in spent]
    print(f"{'':42} {rows[0][0]:>22} {rows[1][0]:>28}")
    print(f"{'request, with the test client':42} {rows[0][1] * 1e6:22.1f} {rows[1][1] * 1e6:28.1f}")
    for label in dict.fromkeys(labels):
        cells = [f"{spent[label] / args.scans * 1e6:.1f}" if label in spent else "-" for _, _, spent in rows]
        print(f"{label:42} {cells[0]:>22} {cells[1]:>28}")
    print(f"desk scan - floor: {(rows[1][1] - rows[0][1]) * 1e6:.1f} µs a request")

    with app.app_context():
        from issuer.service import context

        verifier = context.desk_verifier()
        texts = [next(codes) for _ in range(args.scans)]
        _spent.clear()
        started = time.thread_time()
        for text in texts:
            verifier.verify(text, scenario="internet_cafe")
        print(f"the same verifier, {args.scans} fresh codes outside any request: "
              f"{(time.thread_time() - started) / args.scans * 1e6:.1f} µs a verify "
              f"(replay cache {_spent['    replay cache (SQLite)'] / args.scans * 1e6:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
