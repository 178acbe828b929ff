"""The audit log is a hash chain: editing, deleting or truncating rows is found."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def test_a_log_longer_than_a_batch_is_walked_whole(app: Flask) -> None:
    """The walk holds AUDIT_BATCH entries at a time: a log of two and a half batches is
    checked across the batches' ends, and an edit in the last batch is still found."""
    from issuer.service.audit import AUDIT_BATCH
    from issuer.service.issuing import audit

    total = AUDIT_BATCH * 5 // 2
    with db.sessions(app)() as session:
        for n in range(total):
            audit(session, "operator:batch", "licence.list", None, now=time.time())
            if n % 500 == 499:
                session.flush()
        session.commit()
    assert _check(app) == (True, None, total)
    with db.engine(app).begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 'denied' WHERE seq = :s"), {"s": total - 10})
    assert _check(app)[:2] == (False, total - 10)


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


def test_a_request_that_only_audits_does_not_clash_with_an_issue_in_flight(tmp_path: Path, service_keys: Path) -> None:
    """On SQLite (PostgreSQL locks the head row with SELECT ... FOR UPDATE, so this app is
    SQLite's alone, not one of the ``database_url`` parameters): an issue has flushed its
    audit entry and not yet committed; meanwhile a licence listing, whose only write is its
    own audit entry, runs. It used to read the chain's head before the issue committed and
    clash on seq (a 500); it now waits for the write lock, then appends after the issue's
    entry.

    No sleeps: the issue's transaction stays open (after its flush) until the listing has
    either read the chain's head (the old, racy way) or is about to write to it (taking the
    lock); only then does the issue go on to commit."""
    import threading

    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from issuer.service import issuing
    from issuer.service.models import AuditEntry
    from service_fixtures import auth, make_app

    app = make_app(tmp_path, service_keys, f"sqlite:///{tmp_path / 'certfree.db'}")
    engine = db.engine(app)
    try:
        with app.app_context(), db.sessions(app)() as session:
            _op, token = issuing.create_operator(session, "op-audit", "household_registration", now=time.time())
            session.commit()
        resident = enrol(app, "frank")
        roles = threading.local()
        flushed, listing_at_head = threading.Event(), threading.Event()
        waited: dict[str, bool] = {}

        def hold_the_transaction(session: Session, _context: object) -> None:
            if getattr(roles, "name", "") == "issue" and any(isinstance(o, AuditEntry) for o in session.new):
                flushed.set()
                waited["issue"] = listing_at_head.wait(60)  # the listing reads, or is about to lock, the head

        def before_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # a write to the head takes SQLite's write lock: it blocks until the issue commits
            if getattr(roles, "name", "") == "list" and "audit_head" in statement and not statement.lstrip().upper().startswith("SELECT"):
                listing_at_head.set()

        def after_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # a read of the head does not block: it has read the head as it is before the issue's commit
            if getattr(roles, "name", "") == "list" and "audit_head" in statement and statement.lstrip().upper().startswith("SELECT"):
                listing_at_head.set()

        event.listen(Session, "after_flush", hold_the_transaction)
        event.listen(engine, "before_cursor_execute", before_execute)
        event.listen(engine, "after_cursor_execute", after_execute)
        answers: dict[str, int] = {}

        def issue() -> None:
            roles.name = "issue"
            answers["issue"] = issue_via_api(app.test_client(), token, resident, "id_card", "in-flight-0001").status_code

        def listing() -> None:
            waited["flushed"] = flushed.wait(60)
            roles.name = "list"
            answers["list"] = app.test_client().get("/api/v1/licences", headers=auth(token)).status_code

        try:
            threads = [threading.Thread(target=issue), threading.Thread(target=listing)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            event.remove(Session, "after_flush", hold_the_transaction)
            event.remove(engine, "before_cursor_execute", before_execute)
            event.remove(engine, "after_cursor_execute", after_execute)
        assert waited == {"flushed": True, "issue": True}  # the two requests did overlap as described
        assert answers == {"issue": 201, "list": 200}
        ok, bad, _count = _check(app)
        assert ok and bad is None
    finally:
        engine.dispose()
