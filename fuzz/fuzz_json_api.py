#!/usr/bin/env python3
"""atheris (libFuzzer) fuzz target for the issuer API's JSON bodies, through the whole Flask
app (its test client, a throw-away SQLite database): every input is posted as a JSON body,
with a valid operator token, to the issue route or a status-change route, and the answer
must be below 500. Run with ``make fuzz-json`` (FUZZ_SECONDS, default 300); libFuzzer
prints the number of executions (``#N``) as it goes and at the end.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import atheris

# Coverage from the two modules that read the bodies; instrumenting all of Flask and
# SQLAlchemy too takes minutes at start-up and adds nothing for this target.
with atheris.instrument_imports(include=["issuer.service.jsonbody", "issuer.service.api"]):
    from issuer.service import api, jsonbody  # noqa: F401

SEEDS = [
    b'{"resident_id": "r", "licence_type": "id_card", "claims": {"name": "\\u674e"}}',
    b'{"reason": "lost"}', b"[1]", b'{"reason": "lost\\ud800"}', b"[" * 50 + b"]" * 50, b"{}",
]


def _app() -> tuple[object, str, str]:
    from app import create_app
    from issuer import example
    from issuer.service import db, issuing, residents
    from keys import KeyDir

    root = Path(tempfile.mkdtemp(prefix="certfree-fuzz-json-"))
    KeyDir.init(root / "keys", insecure_dev=True, now=int(time.time()) - 86400)
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(root / "instance"), "KEYS_DIR": str(root / "keys"),
                      "DATABASE_URL": f"sqlite:///{root / 'certfree.db'}", "SECRET_KEY": "fuzz"})
    db.upgrade(app)
    with app.app_context(), db.sessions(app)() as session:
        _op, token = issuing.create_operator(session, "fuzz", "household_registration", now=time.time())
        resident = residents.enrol(session, "fuzzer", "a long fuzzing passphrase", now=time.time())
        session.commit()
        resident_id = resident.id
    client = app.test_client()
    body = {"resident_id": resident_id, "licence_type": "id_card", "claims": example("id_card")}
    licence = client.post("/api/v1/licences", json=body, headers={"Authorization": f"Bearer {token}",
                                                                  "Idempotency-Key": "fuzz-seed-1"}).json["id"]
    return client, token, licence


def main() -> None:
    if "--write-corpus" in sys.argv:
        folder = Path(__file__).parent / "json_corpus"
        folder.mkdir(exist_ok=True)
        for n, seed in enumerate(SEEDS):
            (folder / f"seed{n}").write_bytes(seed)
        return
    client, token, licence = _app()
    paths = ["/api/v1/licences"] + [f"/api/v1/licences/{licence}/{a}" for a in ("revoke", "suspend", "reinstate")]
    count = [0]

    def one(data: bytes) -> None:
        if not data:
            return
        count[0] += 1
        path = paths[data[0] % len(paths)]
        answer = client.post(path, data=data[1:], content_type="application/json",  # type: ignore[attr-defined]
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"fuzz-{count[0]:012d}"})
        if answer.status_code >= 500:
            raise AssertionError(f"{path}: {answer.status_code} for {data[1:]!r}")

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
