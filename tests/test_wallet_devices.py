"""Residents' devices through the wallet API: enrolment proves possession of the key, a key
is enrolled once, a second phone re-binds the licences and revokes the first one's, a
removed phone's licences wait for the next, and the service keeps no private key."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import *  # noqa: F403
from service_fixtures import Phone, enrol, issue_via_api, login

from keys.jose import b64url_encode


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _records(app: Flask, resident: str) -> dict[str, tuple[str, str | None, str | None]]:
    """licence id -> (state, reason, holder thumbprint) for every licence the service holds or held."""
    from sqlalchemy import select

    from issuer.service import db
    from issuer.service.models import LicenceRecord

    with db.sessions(app)() as session:
        return {r.id: (r.state, r.reason, r.holder) for r in session.scalars(select(LicenceRecord))}


@pytest.fixture
def olga(app: Flask, client: FlaskClient, operators: dict[str, str]) -> dict[str, Any]:
    """A resident with an ID card and a household book issued before she has any phone."""
    resident = enrol(app, "olga")
    ids = [issue_via_api(client, operators["household_registration"], resident, t, f"dev-key-{t}").json["id"]
           for t in ("id_card", "household_book")]
    return {"id": resident, "licences": ids}


def test_licences_issued_before_any_phone_wait_unbound_until_one_enrols(app: Flask, olga: dict[str, Any]) -> None:
    before = _records(app, olga["id"])
    assert all(holder is None for _state, _reason, holder in before.values())  # bound to no key, no views
    phone = Phone(_client(app, "olga")).enrol()
    assert sorted(item["type"] for item in phone.licences) == ["household_book", "id_card"]
    assert all(item["views"] for item in phone.licences)
    after = _records(app, olga["id"])
    assert all(after[old][:2] == ("revoked", "device_replaced") for old in olga["licences"])
    assert {item["id"] for item in phone.licences} == {k for k, v in after.items() if v[0] == "valid"}


def test_enrolment_is_refused_without_a_proof_of_possession(app: Flask, olga: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    phone = Phone(_client(app, "olga"))
    other = Ed25519PrivateKey.generate()

    def attempt(**change: Any) -> Any:
        got = phone.client.get("/wallet/api/challenge").json
        message = b"certfree-device-proof/v1\nenrol\n" + got["challenge"].encode()
        body = {"jwk": phone.jwk, "challenge": got["challenge"], "signature": b64url_encode(phone.key.sign(message))}
        body.update(change.pop("body", {}))
        signer = change.pop("signer", None)
        if signer is not None:
            body["signature"] = b64url_encode(signer(got["challenge"]))
        return phone.client.post("/wallet/api/devices", json=body, headers={"X-CSRF-Token": got["csrf"]})

    seed = b64url_encode(other.private_bytes_raw())
    cases = {
        "device_key_invalid": [
            attempt(body={"jwk": {**phone.jwk, "d": seed}}),  # a private member: refused, not stored
            attempt(body={"jwk": {**phone.jwk, "crv": "X25519"}}),
            attempt(body={"jwk": {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(bytes(32))}}),  # small order
            attempt(body={"jwk": "not a jwk"}),
        ],
        "device_proof_invalid": [
            attempt(signer=lambda c: other.sign(b"certfree-device-proof/v1\nenrol\n" + c.encode())),  # not the key's
            attempt(signer=lambda c: phone.key.sign(b"certfree-device-proof/v1\nsync\n" + c.encode())),  # another purpose
            attempt(signer=lambda c: phone.key.sign(c.encode())),  # the bare challenge
            attempt(body={"challenge": "forged.challenge"}),
        ],
    }
    for code, answers in cases.items():
        for answer in answers:
            assert answer.status_code == 400 and answer.json["error"] == code, (code, answer.json)
            assert answer.json["message_zh"] and answer.json["message"]
    assert phone.client.get("/wallet/api/devices").json["devices"] == []
    # a challenge issued to another resident is not hers
    enrol(app, "piet")
    piet = _client(app, "piet")
    theirs = piet.get("/wallet/api/challenge").json["challenge"]
    stolen = phone.proven("/wallet/api/devices", "enrol")  # sanity: her own works...
    assert stolen.status_code == 200
    got = phone.client.get("/wallet/api/challenge").json
    signature = b64url_encode(phone.key.sign(b"certfree-device-proof/v1\nsync\n" + theirs.encode()))
    crossed = phone.client.post("/wallet/api/sync", json={"jwk": phone.jwk, "challenge": theirs, "signature": signature},
                                headers={"X-CSRF-Token": got["csrf"]})
    assert crossed.status_code == 400 and crossed.json["error"] == "device_proof_invalid"


def test_a_challenge_is_good_for_five_minutes(app: Flask, olga: dict[str, Any]) -> None:
    from issuer.service.devices import CHALLENGE_SECONDS

    clock = {"now": app.extensions["certfree.clock"]()}
    app.extensions["certfree.clock"] = lambda: clock["now"]
    phone = Phone(_client(app, "olga"))
    got = phone.client.get("/wallet/api/challenge").json
    clock["now"] += CHALLENGE_SECONDS
    message = b"certfree-device-proof/v1\nenrol\n" + got["challenge"].encode()
    late = phone.client.post("/wallet/api/devices", headers={"X-CSRF-Token": got["csrf"]},
                             json={"jwk": phone.jwk, "challenge": got["challenge"], "signature": b64url_encode(phone.key.sign(message))})
    assert late.status_code == 400 and late.json["error"] == "device_challenge_expired"
    assert phone.proven("/wallet/api/devices", "enrol").status_code == 200  # a fresh one works


def test_a_key_is_enrolled_once_and_enrolling_it_again_changes_nothing(app: Flask, olga: dict[str, Any]) -> None:
    phone = Phone(_client(app, "olga")).enrol()
    held = [item["id"] for item in phone.licences]
    assert phone.proven("/wallet/api/devices", "enrol").status_code == 200
    assert phone.sync().status_code == 200 and [item["id"] for item in phone.licences] == held  # no re-binding
    enrol(app, "piet")
    copycat = Phone(_client(app, "piet"))
    copycat.key, copycat.jwk = phone.key, phone.jwk
    taken = copycat.proven("/wallet/api/devices", "enrol")
    assert taken.status_code == 409 and taken.json["error"] == "device_key_taken"


def test_a_second_phone_takes_over_and_the_first_one_s_licences_are_revoked(app: Flask, olga: dict[str, Any]) -> None:
    first = Phone(_client(app, "olga")).enrol("old phone")
    first_ids = {item["id"] for item in first.licences}
    second = Phone(_client(app, "olga")).enrol("new phone")
    records = _records(app, olga["id"])
    assert all(records[i][:2] == ("revoked", "device_replaced") for i in first_ids)
    assert {item["id"] for item in second.licences}.isdisjoint(first_ids)
    refused = first.sync()
    assert refused.status_code == 409 and refused.json["error"] == "device_not_enrolled"
    devices = second.client.get("/wallet/api/devices").json["devices"]
    assert [(d["label"], d["active"], d["removed_at"] is None) for d in devices] == [
        ("old phone", False, False), ("new phone", True, True)]


def test_removing_the_active_phone_unbinds_its_licences_until_the_next_one(app: Flask, olga: dict[str, Any]) -> None:
    phone = Phone(_client(app, "olga")).enrol()
    device = phone.client.get("/wallet/api/devices").json["devices"][0]["id"]
    removed = phone.proven(f"/wallet/api/devices/{device}/remove", "sync")
    assert removed.status_code == 200 and removed.json["device"]["removed_at"] is not None
    records = _records(app, olga["id"])
    assert all(records[item["id"]][:2] == ("revoked", "device_removed") for item in phone.licences)
    assert all(holder is None for state, _r, holder in records.values() if state == "valid")
    assert phone.sync().json["error"] == "device_not_enrolled"
    again = phone.proven(f"/wallet/api/devices/{device}/remove", "sync")
    assert again.status_code == 404 and again.json["error"] == "device_not_found"
    newer = Phone(phone.client).enrol()
    assert len(newer.licences) == 2 and all(item["views"] for item in newer.licences)


def test_the_service_keeps_no_private_key_of_an_enrolled_device(app: Flask, olga: dict[str, Any], tmp_path: Path) -> None:
    """Here the test is the phone and knows the private key: its raw bytes, as hex, base64
    or base64url, are nowhere in the database (every table, read row by row) or the
    instance folder."""
    from sqlalchemy import inspect, text

    from issuer.service import db

    phone = Phone(_client(app, "olga")).enrol()
    raw = phone.key.private_bytes_raw()
    forms = [raw, raw.hex().encode(), base64.b64encode(raw).rstrip(b"="), b64url_encode(raw).encode()]
    seen = []
    with db.sessions(app)() as session:
        for table in inspect(session.get_bind()).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                seen.extend(v if isinstance(v, bytes) else str(v).encode() for v in row if v is not None)
    seen.extend(p.read_bytes() for p in Path(app.instance_path).rglob("*") if p.is_file())
    assert len(seen) > 10
    for blob in seen:
        assert not any(form in blob for form in forms)


def test_the_migration_retires_the_server_held_device_keys(tmp_path: Path, service_keys: Path, database_url: str) -> None:
    """A database from before the phones held their keys: its devices keep their public
    half, lose their sealed private key, and are marked removed, so the next phone its
    resident enrols re-binds the licences."""
    import datetime as dt

    from sqlalchemy import text

    from sqlalchemy import inspect

    from issuer.service import db

    app = create_app_at(tmp_path, service_keys, database_url, "0005")
    with db.engine(app).begin() as conn:
        conn.execute(text("INSERT INTO residents (id, username, password_hash, created_at, session_epoch) "
                          "VALUES ('r1', 'old', 'x', :at, 0)"), {"at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)})
        conn.execute(text("INSERT INTO devices (resident_id, public_jwk, thumbprint, encrypted_key, created_at) "
                          "VALUES ('r1', :jwk, 'thumb-1', :sealed, :at)"),
                     {"jwk": '{"crv": "Ed25519", "kty": "OKP", "x": "abc"}', "sealed": b"\x01" * 60,
                      "at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)})
    db.upgrade(app)
    with db.engine(app).connect() as conn:
        rows = conn.execute(text("SELECT resident_id, thumbprint, removed_at FROM holder_devices")).all()
        columns = {c["name"] for c in inspect(conn).get_columns("holder_devices")}
        tables = inspect(conn).get_table_names()
    assert [(r[0], r[1]) for r in rows] == [("r1", "thumb-1")] and rows[0][2] is not None
    assert "encrypted_key" not in columns and "devices" not in tables
    db.engine(app).dispose()


def create_app_at(tmp_path: Path, keys: Path, database_url: str, revision: str) -> Flask:
    """An app whose database is migrated to ``revision`` only."""
    from app import create_app
    from issuer.service import db
    from service_fixtures import KEY_PASSPHRASE

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url,
                      "KEYS_DIR": str(keys), "KEY_PASSPHRASE": KEY_PASSPHRASE, "SECRET_KEY": "test"})
    db.upgrade(app, revision)
    return app


def test_two_phones_enrolling_at_the_same_moment_leave_one_active(app: Flask, olga: dict[str, Any]) -> None:
    import threading

    phones = [Phone(_client(app, "olga")) for _ in range(4)]
    start = threading.Barrier(len(phones), timeout=60)
    answers: list[int] = []

    def go(phone: Phone) -> None:
        got = phone.client.get("/wallet/api/challenge").json
        message = b"certfree-device-proof/v1\nenrol\n" + got["challenge"].encode()
        body = {"jwk": phone.jwk, "challenge": got["challenge"], "signature": b64url_encode(phone.key.sign(message))}
        start.wait()
        answers.append(phone.client.post("/wallet/api/devices", json=body, headers={"X-CSRF-Token": got["csrf"]}).status_code)

    threads = [threading.Thread(target=go, args=(p,)) for p in phones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 200 in answers and set(answers) <= {200, 409, 500} and 500 not in answers, answers
    listed = phones[0].client.get("/wallet/api/devices").json["devices"]
    assert sum(d["removed_at"] is None for d in listed) == 1
    synced = [p.sync().status_code for p in phones]
    assert synced.count(200) == 1  # only the active phone gets views
    valid = [v for v in _records(app, olga["id"]).values() if v[0] == "valid"]
    assert len(valid) == 2  # each licence bound once, to the one active phone
