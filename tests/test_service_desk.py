"""The desk page through the Flask test client: upload or paste, result, register."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import current_licence, wallet_code
from service_fixtures import *
from service_fixtures import add_clerk, csrf, desk_login, enrol, issue_via_api, login


@pytest.fixture(autouse=True)
def clerk(app: Flask, client: FlaskClient) -> None:
    """Every desk test works as a logged-in clerk (the desk page needs a log-in)."""
    add_clerk(app)
    assert desk_login(client).status_code == 302


def test_desk_needs_a_clerk_log_in(app: Flask) -> None:
    stranger = app.test_client()
    assert stranger.get("/desk/").headers["Location"].endswith("/desk/login")
    token = csrf(stranger, "/desk/login")
    assert stranger.post("/desk/verify", data={"csrf_token": token, "scenario": "hotel", "text": "x"}).status_code == 302
    assert stranger.post("/desk/register", data={"csrf_token": token, "token": "x"}).status_code == 302
    assert desk_login(stranger, "clerk", "wrong password").status_code == 401
    assert login(stranger, "clerk").status_code == 401  # a clerk is not a resident, and the other way round
    assert desk_login(stranger).status_code == 302
    assert stranger.get("/desk/").status_code == 200
    assert stranger.post("/desk/verify", data={"scenario": "hotel", "text": "x"}).status_code == 400  # no CSRF token
    stranger.post("/desk/logout", data={"csrf_token": csrf(stranger, "/desk/")})
    assert stranger.get("/desk/").status_code == 302


@pytest.fixture
def cafe_qr(app: Flask, client: FlaskClient, operators: dict[str, str]) -> str:
    resident = enrol(app, "alice")
    licence = issue_via_api(client, operators["household_registration"], resident, "id_card", "desk-key-001").json["id"]
    return str(licence)


def _verify(client: FlaskClient, **data: object) -> tuple[int, str]:
    data.setdefault("csrf_token", csrf(client, "/desk/"))
    response = client.post("/desk/verify", data=data, content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def test_desk_page_has_the_camera_upload(client: FlaskClient) -> None:
    html = client.get("/desk/").get_data(as_text=True)
    assert 'type="file"' in html and 'accept="image/*"' in html and 'capture="environment"' in html
    assert "网吧上网登记" in html and 'name="matter"' in html


def test_upload_accepted_then_register(app: Flask, client: FlaskClient, cafe_qr: str) -> None:
    from wallet import png_bytes

    phone = app.test_client()
    login(phone, "alice")
    image = png_bytes(wallet_code(phone, cafe_qr, "internet_cafe"), scale=6)  # a photo of the phone, as a file
    status, html = _verify(client, scenario="internet_cafe", image=(io.BytesIO(image), "qr.png"))
    assert status == 200 and "通过 / accepted" in html
    assert "已满18周岁" in html and "110101********" in html and 'name="terminal"' in html
    assert "出生日期" not in html  # the café never sees the birth date
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    missing = client.post("/desk/register", data={"csrf_token": csrf(client, "/desk/"), "token": token})
    assert missing.status_code == 400 and "<code>required</code> [terminal]" in missing.get_data(as_text=True)
    # the form comes back with a fresh one-time token for the same result
    again = re.search(r'name="token" value="([^"]+)"', missing.get_data(as_text=True)).group(1)
    assert again != token
    done = client.post("/desk/register", data={"csrf_token": csrf(client, "/desk/"), "token": again, "terminal": "A-07"})
    assert done.status_code == 200 and "已登记 / recorded" in done.get_data(as_text=True)
    from scenarios.register import Register

    rows = Register(app.config["DESK_REGISTER"]).rows("internet_cafe")
    assert rows[-1]["fields"]["terminal"] == "A-07" and "age_over_18" not in rows[-1]["fields"]
    # one verified result, one register entry: submitting it again, or the spent token, is refused
    for used in (again, token):
        twice = client.post("/desk/register", data={"csrf_token": csrf(client, "/desk/"), "token": used, "terminal": "A-08"})
        assert twice.status_code == 409 and "该核验结果已登记" in twice.get_data(as_text=True)
    assert len(Register(app.config["DESK_REGISTER"]).rows("internet_cafe")) == len(rows)
    forged = client.post("/desk/register", data={"csrf_token": csrf(client, "/desk/"), "token": token + "x", "terminal": "1"})
    assert forged.status_code == 400


def test_pasted_text_replay_and_wrong_scenario_list_every_failure(app: Flask, client: FlaskClient, cafe_qr: str) -> None:
    wallet = app.test_client()
    login(wallet, "alice")
    text = wallet_code(wallet, cafe_qr, "internet_cafe")
    assert "通过 / accepted" in _verify(client, scenario="internet_cafe", text=text)[1]
    status, html = _verify(client, scenario="internet_cafe", text=text)
    assert status == 200 and "未通过 / rejected" in html and 'data-code="replayed"' in html
    text2 = wallet_code(wallet, cafe_qr, "internet_cafe")
    html = _verify(client, scenario="fuel_purchase", text=text2)[1]
    assert "未通过 / rejected" in html and 'data-code="wrong_scenario"' in html


def test_not_a_qr_image_and_empty_input(client: FlaskClient) -> None:
    status, html = _verify(client, scenario="hotel", image=(io.BytesIO(b"not an image"), "x.png"))
    assert status == 200 and "未通过 / rejected" in html and "malformed" in html
    assert _verify(client, scenario="hotel")[0] == 400
    assert _verify(client, scenario="nope", text="x")[0] == 400


def test_hostile_images_are_rejected_as_malformed_not_a_server_error(client: FlaskClient) -> None:
    """Two uploads that used to escape the verifier as Python errors (a 500 here): a PNG
    whose image data runs on into a broken chunk (Pillow's SyntaxError) and a valid image
    wider than zxing-cpp reads (its ValueError)."""
    from pngs import broken_chunk_after_idat, too_wide

    for name, data, detail in (("broken.png", broken_chunk_after_idat(), "not a readable image"), ("wide.png", too_wide(), "image too large")):
        status, html = _verify(client, scenario="hotel", image=(io.BytesIO(data), name))
        assert status == 200 and "未通过 / rejected" in html and "malformed" in html and detail in html, name


def test_upload_size_is_capped(app: Flask, client: FlaskClient) -> None:
    big = io.BytesIO(b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    status, _ = _verify(client, scenario="hotel", image=(big, "big.png"))
    assert status == 413


def test_window_matter_is_assembled_from_documents_scanned_one_after_another(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    """Newborn registration needs the parent's ID card and household register book: the first
    scan leaves the matter incomplete (no "accepted" beside "missing"), the second completes
    it, and the register then holds one entry per document, with the matter."""
    from scenarios.register import Register

    resident = enrol(app, "wang")
    token = operators["household_registration"]
    card = issue_via_api(client, token, resident, "id_card", "desk-key-002").json["id"]
    book = issue_via_api(client, token, resident, "household_book", "desk-key-004").json["id"]
    wallet = app.test_client()
    login(wallet, "wang")
    code = lambda licence: wallet_code(wallet, licence, "window")  # noqa: E731
    status, html = _verify(client, scenario="window", matter="birth_registration", code=code(card))
    assert status == 200 and 'data-verdict="incomplete"' in html and "通过 / accepted" not in html
    assert '<li data-type="id_card" data-state="present"' in html and '<li data-type="household_book" data-state="missing"' in html
    assert "缺少：户口簿" in html and 'id="register-form"' not in html
    progress = re.search(r'name="progress" value="([^"]+)"', html).group(1)
    status, html = _verify(client, scenario="window", matter="birth_registration", code=code(book), progress=progress)
    assert status == 200 and 'data-verdict="accepted"' in html and "办结条件齐全 / complete" in html
    assert 'data-state="missing"' not in html and 'id="register-form"' in html
    result = re.search(r'name="token" value="([^"]+)"', html).group(1)
    done = client.post("/desk/register", data={"csrf_token": csrf(client, "/desk/"), "token": result})
    assert done.status_code == 200 and "已登记 / recorded" in done.get_data(as_text=True)
    rows = Register(app.config["DESK_REGISTER"]).rows("window")
    assert sorted(r["licence_type"] for r in rows) == ["household_book", "id_card"]
    assert {r["matter"] for r in rows} == {"birth_registration"}


def test_a_matter_left_over_10_minutes_says_its_earlier_documents_were_cleared(
    app: Flask, client: FlaskClient, operators: dict[str, str]
) -> None:
    """The applicant took more than 10 minutes to find the second document: the page says
    the ID card scanned before was cleared and must be scanned again, instead of listing it
    as missing with no reason."""
    import time

    from desk.results import RESULT_MAX_AGE, Progress
    from scenarios.matters import load_matters

    resident = enrol(app, "sun")
    token = operators["household_registration"]
    book = issue_via_api(client, token, resident, "household_book", "desk-key-007").json["id"]
    wallet = app.test_client()
    login(wallet, "sun")
    with app.test_request_context():
        started = time.time() - RESULT_MAX_AGE - 60
        old = Progress(load_matters()["birth_registration"], {"id_card": {"name": "孙"}}, started).token()
    status, html = _verify(client, scenario="window", matter="birth_registration",
                           code=wallet_code(wallet, book, "window"), progress=old)
    assert status == 200 and 'data-verdict="incomplete"' in html
    assert 'data-code="matter_restarted"' in html and "先前扫描的证照已超过10分钟" in html
    assert '<li data-type="id_card" data-state="missing"' in html
    assert '<li data-type="household_book" data-state="present"' in html
    progress = re.search(r'name="progress" value="([^"]+)"', html).group(1)  # the new matter's own
    status, html = _verify(client, scenario="window", matter="birth_registration",
                           code=wallet_code(wallet, book, "window"), progress=progress)
    assert 'data-code="matter_restarted"' not in html


def test_pasted_codes_one_per_line_complete_a_matter(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    resident = enrol(app, "zhao")
    token = operators["household_registration"]
    card = issue_via_api(client, token, resident, "id_card", "desk-key-005").json["id"]
    book = issue_via_api(client, token, resident, "household_book", "desk-key-006").json["id"]
    wallet = app.test_client()
    login(wallet, "zhao")
    texts = [wallet_code(wallet, licence, "window") for licence in (card, book)]
    status, html = _verify(client, scenario="window", matter="birth_registration", text="\r\n".join(texts) + "\n")
    assert status == 200 and "办结条件齐全 / complete" in html
    status, html = _verify(client, scenario="hotel", text="\n".join(texts))  # one code at a time elsewhere
    assert status == 400 and 'data-code="several_codes"' in html


def test_revoked_licence_is_rejected_at_the_desk(app: Flask, client: FlaskClient, operators: dict[str, str]) -> None:
    from service_fixtures import auth

    resident = enrol(app, "li")
    token = operators["household_registration"]
    licence = issue_via_api(client, token, resident, "id_card", "desk-key-003").json["id"]
    wallet = app.test_client()
    login(wallet, "li")
    text = wallet_code(wallet, licence, "hotel")
    licence = current_licence(app, licence)  # the phone's enrolment re-bound it
    assert client.post(f"/api/v1/licences/{licence}/revoke", json={"reason": "lost"}, headers=auth(token)).status_code == 200
    html = _verify(client, scenario="hotel", text=text)[1]
    assert "未通过 / rejected" in html and 'data-code="revoked"' in html


def test_cli_adds_a_desk_clerk(app: Flask, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CERTFREE_DATABASE_URL": app.config["DATABASE_URL"], "CERTFREE_INSTANCE_PATH": str(tmp_path / "cli-instance"),
           "CERTFREE_DESK_PASSWORD": "a desk password"}
    certfree = str(Path(sys.executable).with_name("certfree"))
    added = subprocess.run([certfree, "desk-clerk", "add", "--username", "night-desk"], capture_output=True, text=True, env=env, timeout=120)
    assert added.returncode == 0, added.stdout + added.stderr
    assert desk_login(app.test_client(), "night-desk", "a desk password").status_code == 302
    again = subprocess.run([certfree, "desk-clerk", "add", "--username", "night-desk"], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 2 and "already taken" in again.stderr


def test_the_desk_takes_the_new_trust_list_after_a_compromise(tmp_path: Path) -> None:
    """`certfree keys compromise` from another process: the service signs new licences with
    the replacement key, and its desk accepts them (it kept the trust list it started with,
    could not load the status lists signed by the new key, and answered 500). Its own keys:
    the shared test keys must not be compromised."""
    import time

    from issuer.service import db, issuing
    from keys import KeyDir
    from service_fixtures import KEY_PASSPHRASE, make_app

    own = tmp_path / "own"  # not the database and keys of this module's other tests
    KeyDir.init(own / "keys", passphrase=KEY_PASSPHRASE.encode(), now=int(time.time()) - 86400)
    app = make_app(own, own / "keys")
    with app.app_context(), db.sessions(app)() as session:
        _operator, token = issuing.create_operator(session, "op", "household_registration", now=time.time())
        session.commit()
    resident = enrol(app, "ivan")
    add_clerk(app)
    desk, wallet, api = app.test_client(), app.test_client(), app.test_client()
    desk_login(desk)
    login(wallet, "ivan")

    def at_the_desk(key: str) -> None:
        licence = issue_via_api(api, token, resident, "id_card", key).json["id"]
        text = wallet_code(wallet, licence, "hotel")
        status, html = _verify(desk, scenario="hotel", text=text)
        assert status < 500 and "通过 / accepted" in html, status

    at_the_desk("trust-key-0001")
    cli = KeyDir(own / "keys", passphrase=KEY_PASSPHRASE.encode())
    kid = next(k.kid for k in cli.issuer_keys() if k.authority == "household_registration" and k.state == "active")
    cli.compromise(kid, int(time.time()) - 60)
    time.sleep(1.1)  # KeyDir.REFRESH_SECONDS: the service notices the changed registry
    at_the_desk("trust-key-0002")


def _own_app(root: Path, **extra: object) -> tuple[Flask, str, str]:
    """An app on its own keys and database, with an operator token and a resident ("olga")
    holding an ID card: (app, token, licence id)."""
    import time

    from issuer.service import db, issuing
    from keys import KeyDir
    from service_fixtures import KEY_PASSPHRASE, make_app

    KeyDir.init(root / "keys", passphrase=KEY_PASSPHRASE.encode(), now=int(time.time()) - 86400)
    app = make_app(root, root / "keys", **extra)
    with app.app_context(), db.sessions(app)() as session:
        _operator, token = issuing.create_operator(session, "op", "household_registration", now=time.time())
        session.commit()
    resident = enrol(app, "olga")
    add_clerk(app)
    licence = issue_via_api(app.test_client(), token, resident, "id_card", "own-key-0001").json["id"]
    return app, token, licence


def _hotel_text(app: Flask, licence: str) -> str:
    wallet = app.test_client()
    login(wallet, "olga")
    return str(wallet_code(wallet, licence, "hotel"))


def test_a_refused_trust_list_is_a_coded_bilingual_desk_page_not_a_500(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The desk's keys folder restored from an older backup: the verifier refuses the older
    trust list (trust_list_rollback). The clerk sees that code and what to do, not a 500."""
    import shutil
    import time

    from issuer import example
    from keys import KeyDir
    from service_fixtures import KEY_PASSPHRASE

    app, _token, licence = _own_app(tmp_path / "own")
    desk = app.test_client()
    desk_login(desk)
    keys = tmp_path / "own" / "keys"
    shutil.copy(keys / "trust_list.jws", tmp_path / "trust_list.old.jws")
    KeyDir(keys, passphrase=KEY_PASSPHRASE.encode()).rotate("police_station")  # trust list seq 2
    time.sleep(1.1)  # KeyDir.REFRESH_SECONDS: the service notices the changed folder
    assert "通过 / accepted" in _verify(desk, scenario="hotel", text=_hotel_text(app, licence))[1]
    shutil.copy(tmp_path / "trust_list.old.jws", keys / "trust_list.jws")
    time.sleep(1.1)
    status, html = _verify(desk, scenario="hotel", text=_hotel_text(app, licence))
    assert status == 503
    assert 'data-code="desk_unavailable"' in html and "核验台暂时无法核验" in html
    assert re.search(r'<li data-code="(trust_list_rollback|trust_list_invalid|status_list_invalid)">', html)
    assert "通过 / accepted" not in html and "未通过 / rejected" not in html  # not the resident's code's fault
    logged = caplog.text
    assert "desk cannot check codes" in logged
    for value in example("id_card").values():
        assert str(value) not in logged


def test_desk_refusals_are_coded_and_say_what_to_do(app: Flask, client: FlaskClient) -> None:
    """A big photo, a stale form, nothing uploaded, a register form after 10 minutes: each
    comes back on the desk page with its code, Chinese first, and a fresh CSRF token."""
    import time

    from desk.results import RESULT_MAX_AGE, result_token
    from service_fixtures import TEST_DESK

    big = io.BytesIO(b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    status, html = _verify(client, scenario="hotel", image=(big, "photo.jpg"))
    assert status == 413 and 'data-code="image_too_large"' in html and "图片超过12 MB" in html
    stale = client.post("/desk/verify", data={"csrf_token": "from an old tab", "scenario": "hotel", "text": "x"})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 400 and 'data-code="form_expired"' in html and "表单已过期，请重试" in html
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert _verify(client, scenario="hotel", text="x", csrf_token=fresh)[0] == 200  # the fresh token works
    status, html = _verify(client, scenario="hotel")
    assert status == 400 and 'data-code="no_input"' in html and "请上传二维码图片或粘贴二维码文本" in html
    with app.test_request_context():
        old = result_token("hotel", [("id_card", {"name": "x"})], None, TEST_DESK, time.time() - RESULT_MAX_AGE - 60)
    late = client.post("/desk/register", data={"csrf_token": csrf(client, "/desk/"), "token": old, "room": "0807"})
    html = late.get_data(as_text=True)
    assert late.status_code == 400 and 'data-code="result_expired"' in html
    assert "核验结果已超过10分钟，请重新扫码核验 / the check is over 10 minutes old: scan the code again" in html
    forged = client.post("/desk/register", data={"csrf_token": csrf(client, "/desk/"), "token": old + "x", "room": "1"})
    assert forged.status_code == 400 and 'data-code="result_invalid"' in forged.get_data(as_text=True)


def test_a_register_database_error_is_503_and_logs_no_personal_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The register's INSERT fails (here: its table is gone) with exceptions handled as in
    production: a coded bilingual 503 with the form again, and nothing of the resident logged
    (the SQL error's text holds the row's values)."""
    import sqlite3

    from issuer import example

    app, _token, licence = _own_app(tmp_path / "own", TESTING=False)
    desk = app.test_client()
    desk_login(desk)
    status, html = _verify(desk, scenario="hotel", text=_hotel_text(app, licence))
    assert status == 200 and "通过 / accepted" in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    with app.app_context():
        from issuer.service import context

        context.desk_register()  # the register's tables exist ...
    with sqlite3.connect(app.config["DESK_REGISTER"]) as conn:
        conn.execute("DROP TABLE register_entries")  # ... and then its table is gone
    failed = desk.post("/desk/register", data={"csrf_token": csrf(desk, "/desk/"), "token": token, "room": "0807"})
    html = failed.get_data(as_text=True)
    assert failed.status_code == 503 and 'data-code="register_unavailable"' in html
    assert "登记簿暂时无法写入，请稍后重试" in html and 'id="register-form"' in html  # the clerk can retry
    logged = caplog.text
    assert "desk register unavailable" in logged
    for value in example("id_card").values():
        assert str(value) not in logged


def test_a_status_refresh_the_database_cannot_write_leaves_the_desk_to_the_lists_it_holds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another writer holds the SQLite database (a batch issuance, say) just when the desk's
    status lists are due to be signed again: the refresh cannot write them. The desk answers
    from the lists it holds, as a stand-alone desk between two syncs (not a 503 for every
    scan), logs it without personal data, and the next refresh, the writer gone, signs them."""
    import sqlite3
    import time

    from sqlalchemy import select

    from issuer import example
    from issuer.db.models import SignedStatusList
    from issuer.service import db

    app, _token, licence = _own_app(tmp_path / "own", TESTING=False, STATUS_RESIGN_SECONDS=1,
                                    DESK_STATUS_REFRESH_SECONDS=1, DATABASE_BUSY_TIMEOUT=0.2)
    desk, wallet = app.test_client(), app.test_client()
    desk_login(desk)
    login(wallet, "olga")  # one phone for every code (a second phone would revoke the first's)
    status, html = _verify(desk, scenario="hotel", text=wallet_code(wallet, licence, "hotel"))
    assert status == 200 and "通过 / accepted" in html

    def signed_at() -> set[int]:
        with app.app_context(), db.sessions(app)() as session:
            return {row.signed_at for row in session.scalars(select(SignedStatusList))}

    texts = [wallet_code(wallet, licence, "hotel") for _ in range(2)]
    token = csrf(desk, "/desk/")
    before = signed_at()
    time.sleep(1.1)  # every list is now due to be signed again, and the desk due to refresh
    writer = sqlite3.connect(app.config["DATABASE_URL"].removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        status, html = _verify(desk, scenario="hotel", text=texts[0], csrf_token=token)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert status == 200 and "通过 / accepted" in html
    assert "desk status lists not refreshed (OperationalError)" in caplog.text
    assert signed_at() == before
    time.sleep(1.1)
    status, html = _verify(desk, scenario="hotel", text=texts[1], csrf_token=token)
    assert status == 200 and "通过 / accepted" in html
    assert min(signed_at()) > max(before)  # signed again once the writer was gone
    for value in example("id_card").values():
        assert str(value) not in caplog.text
