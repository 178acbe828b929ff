"""The audit log is a hash chain: editing, deleting or truncating rows is found."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import *
from service_fixtures import enrol, issue_via_api
from sqlalchemy import text

from issuer.service import db
from issuer.service.audit import verify_chain

CERTFREE = str(Path(sys.executable).with_name("certfree"))


def _activity(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    resident = enrol(app, "audit-a")
    for n, licence_type in enumerate(("id_card", "household_book", "residence_permit")):
        assert issue_via_api(client, operators["household_registration"], resident, licence_type, f"audit-key-{n}").status_code == 201
    issue_via_api(client, operators["traffic_police"], resident, "id_card", "audit-key-denied")  # denied, still logged


def _check(app: Flask) -> tuple[bool, int | None, int]:
    with db.sessions(app)() as session:
        result = verify_chain(session)
    return result.ok, result.first_bad_seq, result.entries


def test_chain_is_intact_after_normal_use(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    _activity(app, client, operators)
    ok, _, entries = _check(app)
    assert ok and entries >= 6


def test_an_edited_row_is_found(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    _activity(app, client, operators)
    with db.engine(app).begin() as conn:  # raw SQL: past the ORM's append-only guard
        conn.execute(text("UPDATE audit_log SET outcome = 'ok' WHERE outcome = 'denied'"))
    ok, bad_seq, _ = _check(app)
    assert not ok and bad_seq is not None


def test_a_deleted_row_is_found(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    _activity(app, client, operators)
    with db.engine(app).begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    assert _check(app)[:2] == (False, 4)


def test_a_truncated_tail_is_found(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    _activity(app, client, operators)
    with db.engine(app).begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": last})
    assert not _check(app)[0]


def test_cli_audit_verify(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    _activity(app, client, operators)
    url = app.config["DATABASE_URL"]
    env = {**os.environ, "CERTFREE_DATABASE_URL": url}
    good = subprocess.run([CERTFREE, "audit", "verify"], capture_output=True, text=True, env=env, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "intact" in good.stdout
    with db.engine(app).begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'operator:someone-else' WHERE seq = 2"))
    bad = subprocess.run([CERTFREE, "audit", "verify"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1
    assert "TAMPERED at entry 2" in bad.stdout


def test_a_request_that_only_audits_does_not_clash_with_an_issue_in_flight(app: Flask, operators: dict[str, str]) -> None:
    """On SQLite: an issue has flushed its audit entry and not yet committed (held open for
    a second here); meanwhile a licence listing, whose only write is its own audit entry,
    runs. It used to read the chain's head before the issue committed and clash on seq
    (a 500); it now waits for the write lock, then appends after the issue's entry."""
    import threading
    import time

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from issuer.service.models import AuditEntry
    from service_fixtures import auth

    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite's case: PostgreSQL locks the head row with SELECT ... FOR UPDATE")
    resident = enrol(app, "frank")
    token = operators["household_registration"]
    holding = threading.local()
    flushed = threading.Event()

    def hold_the_transaction(session: Session, _context: object) -> None:
        if getattr(holding, "on", False) and any(isinstance(o, AuditEntry) for o in session.new):
            flushed.set()
            time.sleep(1.0)

    event.listen(Session, "after_flush", hold_the_transaction)
    answers: dict[str, int] = {}

    def issue() -> None:
        holding.on = True
        answers["issue"] = issue_via_api(app.test_client(), token, resident, "id_card", "in-flight-0001").status_code

    def listing() -> None:
        flushed.wait(10)
        answers["list"] = app.test_client().get("/api/v1/licences", headers=auth(token)).status_code

    try:
        threads = [threading.Thread(target=issue), threading.Thread(target=listing)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        event.remove(Session, "after_flush", hold_the_transaction)
    assert answers == {"issue": 201, "list": 200}
    ok, bad, _count = _check(app)
    assert ok and bad is None
