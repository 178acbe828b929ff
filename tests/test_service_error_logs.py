"""Server errors on requests that carry personal data, handled as in production (TESTING and
PROPAGATE_EXCEPTIONS off, so Flask's own ``log_exception`` writes the traceback): the log
must not hold the resident's name, ID number, address or credential.

Each failure is a database write refused by an SQLite trigger, as a full disk, a locked
file or a read-only mount would refuse it, but at once and the same on every run."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

import logscan
from issuer import example
from service_fixtures import wallet_code
from service_fixtures import add_clerk, csrf, desk_login, enrol, issue_via_api, login, make_app, service_keys

__all__ = ["service_keys"]  # the session fixture, used by prod_app


@pytest.fixture
def prod_app(tmp_path: Path, service_keys: Path) -> Iterator[Flask]:
    from issuer.service import db

    app = make_app(tmp_path, service_keys, TESTING=False, PROPAGATE_EXCEPTIONS=False)
    assert not app.testing and not app.config["PROPAGATE_EXCEPTIONS"]
    yield app
    db.engine(app).dispose()


def _operator(app: Flask, authority: str = "household_registration") -> str:
    from issuer.service import db, issuing

    with app.app_context(), db.sessions(app)() as session:
        _op, token = issuing.create_operator(session, f"op-{authority}", authority, now=time.time())
        session.commit()
    return token


def _refuse_inserts(database: str | Path, table: str) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                     "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")


def _sqlite_file(app: Flask, key: str) -> str:
    return re.sub(r"^sqlite:///", "", str(app.config[key]))


def _assert_logged_exception_without_personal_data(caplog: pytest.LogCaptureFixture, path: str) -> None:
    errors = [r for r in caplog.records if r.levelname == "ERROR" and r.getMessage().startswith("Exception on")]
    assert [r.getMessage() for r in errors] == [f"Exception on {path} [POST]"]  # Flask's log_exception ran
    assert errors[0].exc_info is not None
    assert logscan.scan_lines(caplog.text.splitlines()) == []


def test_issuing_api_500_logs_no_claims(prod_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """An issuance whose wallet write fails: the claims (every personal field of the demo
    resident) are in the request and in the SQL parameters, but not in the log."""
    client = prod_app.test_client()
    resident = enrol(prod_app, "alice")
    token = _operator(prod_app)
    _refuse_inserts(_sqlite_file(prod_app, "DATABASE_URL"), "wallet_credentials")
    caplog.clear()
    response = issue_via_api(client, token, resident, "id_card", "err-log-001")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert example("id_card")["id_number"] not in body and "Traceback" not in body
    _assert_logged_exception_without_personal_data(caplog, "/api/v1/licences")


@pytest.fixture
def desk_result(prod_app: Flask) -> tuple[FlaskClient, str]:
    """A logged-in clerk's client and the register form's token for a verified hotel check."""
    from scenarios.register import Register

    client = prod_app.test_client()
    resident = enrol(prod_app, "bob")
    licence = issue_via_api(client, _operator(prod_app), resident, "id_card", "err-log-002").json["id"]
    wallet = prod_app.test_client()
    assert login(wallet, "bob").status_code == 302
    text = wallet_code(wallet, licence, "hotel")
    add_clerk(prod_app)
    desk = prod_app.test_client()
    assert desk_login(desk).status_code == 302
    page = desk.post("/desk/verify", data={"csrf_token": csrf(desk, "/desk/"), "scenario": "hotel", "text": text})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "通过 / accepted" in html
    Register(prod_app.config["DESK_REGISTER"]).engine.dispose()  # the register's tables, then the trigger
    _refuse_inserts(prod_app.config["DESK_REGISTER"], "register_entries")
    return desk, re.search(r'name="token" value="([^"]+)"', html).group(1)


def test_desk_register_500_logs_no_personal_data(desk_result: tuple[FlaskClient, str], held_log: logscan.HeldLog) -> None:
    desk, token = desk_result
    response = desk.post("/desk/register", data={"csrf_token": csrf(desk, "/desk/"), "token": token, "room": "0807"})
    page = response.get_data(as_text=True)
    # the clerk gets the result back to try again (it shows what the desk may see), the log nothing
    assert response.status_code == 503 and "register_unavailable" in page and "已登记 / recorded" not in page
    held_log.assert_clean()


def test_desk_verify_500_logs_no_qr_text(prod_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """A desk check that fails inside the server (here the desk's replay cache cannot be
    written) with the resident's QR text in the request: the log has the traceback only."""
    client = prod_app.test_client()
    resident = enrol(prod_app, "carol")
    licence = issue_via_api(client, _operator(prod_app), resident, "id_card", "err-log-003").json["id"]
    wallet = prod_app.test_client()
    assert login(wallet, "carol").status_code == 302
    text = wallet_code(wallet, licence, "hotel")
    add_clerk(prod_app)
    desk = prod_app.test_client()
    assert desk_login(desk).status_code == 302
    token = csrf(desk, "/desk/")
    replay_db = Path(prod_app.config["DESK_REPLAY_DB"])
    desk.post("/desk/verify", data={"csrf_token": token, "scenario": "hotel", "text": "CF1:0"})  # opens the cache
    with sqlite3.connect(replay_db) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        _refuse_inserts(replay_db, table)
    caplog.clear()
    response = desk.post("/desk/verify", data={"csrf_token": token, "scenario": "hotel", "text": text})
    assert response.status_code == 500
    _assert_logged_exception_without_personal_data(caplog, "/desk/verify")
    assert "certfree QR text" in logscan.line_hits(text)  # the scan would have known it
