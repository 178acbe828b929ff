"""The desk's JSON endpoint for a desk's own system (POST /desk/verify.json), and the
clerk's desk kept in the session: a log-out, a removed clerk or a move to another desk
takes effect on the next request."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from service_fixtures import *
from service_fixtures import TEST_DESK, add_clerk, desk_login, enrol, issue_via_api, login, wallet_code


@pytest.fixture
def desk(app: Flask) -> FlaskClient:
    """A desk's own system, logged in as its clerk."""
    add_clerk(app)
    client = app.test_client()
    assert desk_login(client).status_code == 302
    return client


@pytest.fixture
def phone(app: Flask, client: FlaskClient, operators: dict[str, str]) -> tuple[FlaskClient, str]:
    resident = enrol(app, "alice")
    licence = issue_via_api(client, operators["household_registration"], resident, "id_card", "desk-api-001").json["id"]
    wallet = app.test_client()
    login(wallet, "alice")
    return wallet, str(licence)


def _csrf(desk: FlaskClient) -> str:
    answer = desk.get("/desk/session.json")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.json["desk"] == TEST_DESK and "internet_cafe" in answer.json["scenarios"]
    return str(answer.json["csrf"])


def _post(desk: FlaskClient, body: object, token: str | None) -> object:
    headers = {"X-CSRF-Token": token} if token is not None else {}
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return desk.post("/desk/verify.json", data=data, headers=headers, content_type="application/json")


def _scanned(text: str) -> str:
    """What a desk's scanner reads from the phone's screen: the code rendered as a PNG,
    read back by zxing-cpp."""
    from wallet import png_bytes

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png_bytes(text, scale=4))), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return str(found[0].text)


def test_a_scanned_code_is_accepted_with_its_claims_then_refused_as_a_replay(desk: FlaskClient, phone: tuple[FlaskClient, str]) -> None:
    token = _csrf(desk)
    code = _scanned(wallet_code(*phone, "internet_cafe"))
    first = _post(desk, {"code": code, "scenario": "internet_cafe"}, token)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert first.json["verdict"] == "accepted" and first.json["type"] == "id_card"
    assert first.json["scenario"] == "internet_cafe" and first.json["failures"] == []
    claims = first.json["claims"]
    assert claims["age_over_18"] is True and "birth_date" not in claims  # the café never sees the birth date
    again = _post(desk, {"code": code, "scenario": "internet_cafe"}, token)
    assert again.status_code == 200 and again.json["verdict"] == "rejected" and "claims" not in again.json
    replayed = [f for f in again.json["failures"] if f["code"] == "replayed"]
    assert len(replayed) == 1 and replayed[0]["message"] and "已被使用过" in replayed[0]["message_zh"]


def test_every_failed_check_is_listed_in_both_languages(desk: FlaskClient, phone: tuple[FlaskClient, str]) -> None:
    token = _csrf(desk)
    answer = _post(desk, {"code": wallet_code(*phone, "internet_cafe"), "scenario": "fuel_purchase"}, token)
    assert answer.status_code == 200 and answer.json["verdict"] == "rejected"
    codes = {f["code"] for f in answer.json["failures"]}
    assert "wrong_scenario" in codes and all(f["message"] and f["message_zh"] for f in answer.json["failures"])
    garbage = _post(desk, {"code": "CF1:NOT A CODE", "scenario": "hotel"}, token)
    assert garbage.json["verdict"] == "rejected" and garbage.json["failures"][0]["code"] == "malformed"


def test_the_same_authentication_as_the_desk_page(app: Flask, desk: FlaskClient, phone: tuple[FlaskClient, str]) -> None:
    body = {"code": wallet_code(*phone, "internet_cafe"), "scenario": "internet_cafe"}
    stranger = app.test_client()
    refused = _post(stranger, body, "anything")
    assert refused.status_code == 401 and refused.json["error"] == "login_required" and refused.json["login"] == "/desk/login"
    assert stranger.get("/desk/session.json").status_code == 401
    for token in (None, "", "not the session's token"):
        expired = _post(desk, body, token)
        assert expired.status_code == 400 and expired.json["error"] == "form_expired" and expired.json["message_zh"]
    # the refusals did not spend the code
    assert _post(desk, body, _csrf(desk)).json["verdict"] == "accepted"


def test_requests_that_are_not_a_code_are_refused_with_a_coded_answer(app: Flask, desk: FlaskClient) -> None:
    token = _csrf(desk)
    cases = [
        ({"code": "x", "scenario": "nope"}, 400, "unknown_scenario"),
        ({"code": "  ", "scenario": "hotel"}, 400, "no_input"),
        ({"scenario": "hotel"}, 400, "no_input"),
        ({"code": 7, "scenario": "hotel"}, 400, "no_input"),
        (b"not json", 400, "bad_request"),
        ([1, 2], 400, "bad_request"),
        ({"code": {"nested": "x"}, "scenario": "hotel"}, 400, "bad_request"),
        ({"code": "A" * 9000, "scenario": "hotel"}, 413, "too_large"),
    ]
    for body, status, code in cases:
        answer = _post(desk, body, token)
        assert (answer.status_code, answer.json["error"]) == (status, code), body
        assert answer.json["message"] and answer.json["message_zh"]
    hotel = app.test_client()
    add_clerk(app, "hotel-clerk", desk="Hotel Haishu 0807", scenarios=("hotel",))
    assert desk_login(hotel, "hotel-clerk").status_code == 302
    other = _post(hotel, {"code": "x", "scenario": "internet_cafe"}, _csrf_of(hotel))
    assert other.status_code == 403 and other.json["error"] == "scenario_not_allowed"


def _csrf_of(client: FlaskClient) -> str:
    return str(client.get("/desk/session.json").json["csrf"])


def _scan(desk: FlaskClient, scenario: str = "hotel") -> object:
    return _post(desk, {"code": "CF1:NOT A CODE", "scenario": scenario}, _csrf_of(desk))


def test_a_move_to_another_desk_a_removal_and_a_log_out_take_effect_at_once(app: Flask, desk: FlaskClient) -> None:
    from sqlalchemy import delete, select

    from desk.accounts import add_desk, assign
    from issuer.service import db
    from issuer.service.models import DeskClerk

    assert _scan(desk).status_code == 200
    with app.app_context(), db.sessions(app)() as session:  # moved to a street patrol
        clerk = session.scalar(select(DeskClerk).where(DeskClerk.username == "clerk"))
        assign(session, clerk, add_desk(session, "Patrol 12", ["street_check"], now=0))
        session.commit()
    moved = _scan(desk)
    assert moved.status_code == 403 and moved.json["error"] == "scenario_not_allowed"
    assert desk.get("/desk/session.json").json["desk"] == "Patrol 12"
    # a copy of the session cookie, then a log-out in the first browser: both end
    copy = app.test_client()
    copy.set_cookie("certfree_session", desk.get_cookie("certfree_session").value)
    assert copy.get("/desk/session.json").status_code == 200
    desk.post("/desk/logout", data={"csrf_token": _csrf_of(desk)})
    assert copy.get("/desk/session.json").status_code == 401
    # a removed clerk
    again = app.test_client()
    assert desk_login(again).status_code == 302
    token = _csrf_of(again)
    body = {"code": "CF1:NOT A CODE", "scenario": "street_check"}
    assert _post(again, body, token).status_code == 200
    with app.app_context(), db.sessions(app)() as session:
        session.execute(delete(DeskClerk).where(DeskClerk.username == "clerk"))
        session.commit()
    assert _post(again, body, token).status_code == 401 and again.get("/desk/session.json").status_code == 401


def test_a_database_that_keeps_the_clerk_row_locked_answers_503_not_500(tmp_path: Path, service_keys: Path, database_url: str,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """The clerk's row is read on the driver's own cursor (desk/clerk.py); a lock held past
    the database's timeout still reaches the service's handler as SQLAlchemy's error: a 503
    ``database_unavailable`` with Retry-After and both messages, counted as a timeout."""
    import sqlite3

    import psycopg

    from issuer.service import db, metrics
    from issuer.service.errors import MESSAGES
    from service_fixtures import make_app

    app = make_app(tmp_path, service_keys, database_url, DATABASE_BUSY_TIMEOUT=1, DATABASE_STATEMENT_TIMEOUT=1,
                   DATABASE_RETRY_AFTER=3)
    add_clerk(app)
    desk = app.test_client()
    assert desk_login(desk).status_code == 302
    token = _csrf(desk)

    def timeouts() -> float:
        return metrics.REGISTRY.get_sample_value("certfree_database_errors_total", {"kind": "timeout"}) or 0.0

    before = timeouts()
    if database_url.startswith("sqlite"):
        db.engine(app).dispose()  # the pool's idle connections would keep the holder from its lock
        holder: Any = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # kept until this connection closes
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("SELECT count(*) FROM desk_clerks").fetchone()
    else:
        holder = psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql"))
        holder.execute("LOCK TABLE desk_clerks IN ACCESS EXCLUSIVE MODE")  # held until the connection closes
    try:
        answer = _post(desk, {"code": "CF1:anything", "scenario": "internet_cafe"}, token)
    finally:
        holder.close()
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "3"  # type: ignore[attr-defined]
    body = answer.json  # type: ignore[attr-defined]
    assert body["error"] == "database_unavailable" and body["message_zh"] == MESSAGES["database_unavailable"].zh
    assert timeouts() == before + 1
    assert "database unavailable (timeout: " in caplog.text and "/desk/verify.json" in caplog.text
    assert _post(desk, {"code": "CF1:anything", "scenario": "internet_cafe"}, token).status_code == 200  # type: ignore[attr-defined]
    db.engine(app).dispose()
