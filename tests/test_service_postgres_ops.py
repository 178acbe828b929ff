"""The service on a PostgreSQL server of its own (tests/pg_instance.py), which the tests stop,
start, freeze and lock: a 503 with ``Retry-After`` while it is down or hung (pages, the JSON
API, /status), answered within the connect or statement timeout, and recovery when it is
back; then a backup (pg_dump and the key store), a wipe and a restore, after which a licence
issued before still verifies at an offline desk and can still be revoked."""

from __future__ import annotations

import shutil
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask

from issuer.service.errors import MESSAGES
from keys import KeyDir
from pg_instance import DATABASE, PrivatePostgres, private_pg
from service_fixtures import KEY_PASSPHRASE, auth, enrol, issue_via_api, login, make_app, phone_of, service_keys
from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_status_lists, load_trust_list
from wallet import png_bytes

__all__ = ["private_pg", "service_keys"]
UNAVAILABLE = MESSAGES["database_unavailable"]


def _operator(app: Flask, authority: str = "household_registration") -> str:
    from issuer.service import db, issuing

    with app.app_context(), db.sessions(app)() as session:
        _op, token = issuing.create_operator(session, f"op-{authority}", authority, now=time.time())
        session.commit()
    return token


def _assert_unavailable_json(answer: Any, retry_after: str) -> None:
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers["Retry-After"] == retry_after
    assert answer.json == {"error": "database_unavailable", "message": UNAVAILABLE.en, "message_zh": UNAVAILABLE.zh}


def _timed(call: Any, bound: float) -> tuple[Any, float]:
    """``call()`` in a thread: its answer and how long it took; fails if it is still waiting
    after ``bound`` seconds (a request that hangs, instead of answering 503)."""
    box: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        box["answer"] = call()
        box["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), f"still waiting after {bound} s: the request hangs"
    return box["answer"], box["seconds"]


def test_postgres_stopped_then_hung_answers_503_and_recovers(tmp_path: Path, service_keys: Path, private_pg: PrivatePostgres) -> None:
    from issuer.service import db

    app = make_app(tmp_path, service_keys, private_pg.url, DATABASE_CONNECT_TIMEOUT=2, DATABASE_RETRY_AFTER=5)
    token = _operator(app)
    resident = enrol(app, "pg-outage")
    api = app.test_client()
    assert issue_via_api(api, token, resident, "id_card", "pg-outage-0001").status_code == 201
    wallet = app.test_client()
    assert login(wallet, "pg-outage").status_code == 302
    assert wallet.get("/wallet/").status_code == 200

    private_pg.stop()  # refused: nothing listens on the port
    _assert_unavailable_json(api.get("/status/index.json"), "5")
    _assert_unavailable_json(api.get("/api/v1/licences", headers=auth(token)), "5")
    page = wallet.get("/wallet/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5" and page.mimetype == "text/html"
    assert UNAVAILABLE.zh in page.get_data(as_text=True) and UNAVAILABLE.en in page.get_data(as_text=True)
    ready = api.get("/readyz")
    assert ready.status_code == 503 and ready.json["failed"] == ["database_unavailable"]

    private_pg.start()  # back: the same app recovers, with no restart
    assert api.get("/status/index.json").status_code == 200
    assert api.get("/api/v1/licences", headers=auth(token)).status_code == 200
    assert wallet.get("/wallet/").status_code == 200
    assert api.get("/readyz").status_code == 200

    db.engine(app).dispose()  # the next request must connect...
    private_pg.freeze()  # ...to a postmaster that accepts nothing and never answers
    try:
        answer, seconds = _timed(lambda: api.get("/status/index.json"), bound=30)
        _assert_unavailable_json(answer, "5")
        print(f"frozen PostgreSQL: 503 after {seconds:.1f} s (connect timeout 2 s)")
        ready, _ = _timed(lambda: api.get("/readyz"), bound=30)
        assert ready.status_code == 503 and ready.json["failed"] == ["database_unavailable"]
    finally:
        private_pg.thaw()
    assert api.get("/status/index.json").status_code == 200


def test_statement_past_its_timeout_answers_503(tmp_path: Path, service_keys: Path, private_pg: PrivatePostgres) -> None:
    """Another session holds a lock the request needs: the server cancels the wait at the
    statement timeout, and the request answers 503 instead of waiting for the lock."""
    from issuer.service import metrics

    app = make_app(tmp_path, service_keys, private_pg.url, DATABASE_STATEMENT_TIMEOUT=1)
    client = app.test_client()
    assert client.get("/status/index.json").status_code == 200
    def timeouts() -> float:
        return metrics.REGISTRY.get_sample_value("certfree_database_errors_total", {"kind": "timeout"}) or 0.0

    before = timeouts()
    with psycopg.connect(private_pg.url.replace("postgresql+psycopg", "postgresql")) as holder:
        holder.execute("LOCK TABLE status_lists IN ACCESS EXCLUSIVE MODE")  # held until the block ends
        answer, seconds = _timed(lambda: client.get("/status/index.json"), bound=30)
        _assert_unavailable_json(answer, "10")
        print(f"locked table: 503 after {seconds:.1f} s (statement timeout 1 s)")
    assert timeouts() == before + 1
    assert client.get("/status/index.json").status_code == 200


def _status_lists(client: Any) -> list[str]:
    index = client.get("/status/index.json").json
    return [client.get(item["url"]).get_data(as_text=True) for item in index["lists"]]


def _desk(trust_token: str, root: dict[str, str], status: list[str]) -> Verifier:
    """An offline desk: the root key pinned before the backup, what the service publishes now."""
    trust = load_trust_list(trust_token, root)
    return Verifier(trust, replay_cache=MemoryReplayCache(), status=load_status_lists(status, trust))


def test_backup_wipe_restore_keeps_licences_verifiable_and_revocable(tmp_path: Path, private_pg: PrivatePostgres) -> None:
    from issuer.service import db

    keys = tmp_path / "keys"
    KeyDir.init(keys, passphrase=KEY_PASSPHRASE.encode(), now=int(time.time()) - 86400)
    root = KeyDir(keys).root_public_jwk()  # what every desk pins
    app = make_app(tmp_path / "before", keys, private_pg.url)
    token = _operator(app)
    resident = enrol(app, "restored-resident")
    assert issue_via_api(app.test_client(), token, resident, "id_card", "restore-0001").status_code == 201
    phone = phone_of(app, "restored-resident")
    licence_id = phone.licence("id_card")["id"]

    # back up: the database (pg_dump, custom format) and the key store
    backup = tmp_path / "backup"
    backup.mkdir()
    private_pg.run("pg_dump", *private_pg.client_args(), "-Fc", "-f", "certfree.dump", DATABASE)
    shutil.copy(private_pg.root / "certfree.dump", backup / "certfree.dump")
    with tarfile.open(backup / "keys.tar", "w") as archive:
        archive.add(keys, arcname="keys")
    db.engine(app).dispose()

    # wipe: the database dropped, the key store and the instance folder deleted
    private_pg.run("dropdb", *private_pg.client_args(), DATABASE)
    (private_pg.root / "certfree.dump").unlink()
    shutil.rmtree(keys)
    shutil.rmtree(tmp_path / "before")
    assert private_pg.run("psql", *private_pg.client_args(), "-d", "postgres", "-tAc",
                          f"SELECT count(*) FROM pg_database WHERE datname = '{DATABASE}'").stdout.strip() == "0"

    # restore
    restored = private_pg.root / "restore.dump"
    shutil.copy(backup / "certfree.dump", restored)
    if private_pg.as_postgres:
        shutil.chown(restored, "postgres")
    private_pg.run("createdb", *private_pg.client_args(), DATABASE)
    private_pg.run("pg_restore", *private_pg.client_args(), "-d", DATABASE, "--no-owner", str(restored))
    with tarfile.open(backup / "keys.tar") as archive:
        archive.extractall(tmp_path, filter="data")
    app = make_app(tmp_path / "after", keys, private_pg.url)  # a new instance folder: nothing else kept
    client = app.test_client()

    # the licence issued before the wipe verifies at a desk, from a real QR image
    before = _desk(client.get("/trust-list.jws").get_data(as_text=True), root, _status_lists(client))
    verified = before.verify(png_bytes(phone.code(licence_id, "hotel")), scenario="hotel")
    assert verified.licence_type == "id_card" and not verified.warnings

    # and its status can still be changed: revoked with the operator's token from before
    revoked = client.post(f"/api/v1/licences/{licence_id}/revoke", json={"reason": "lost"}, headers=auth(token))
    assert revoked.status_code == 200 and revoked.json["state"] == "revoked"
    after = _desk(client.get("/trust-list.jws").get_data(as_text=True), root, _status_lists(client))
    with pytest.raises(VerificationFailed) as refused:
        after.verify(png_bytes(phone.code(licence_id, "hotel")), scenario="hotel")
    assert "revoked" in {f.code for f in refused.value.failures}
    db.engine(app).dispose()
