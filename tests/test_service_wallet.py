"""The web wallet and the public endpoints through the Flask test client."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import *
from service_fixtures import PASSWORD, Phone, csrf, enrol, issue_via_api, login

from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_trust_list


@pytest.fixture
def alice(app: Flask, client: FlaskClient, operators: dict[str, str]) -> dict[str, Any]:
    """Resident A with an ID card and resident B with an e-bike registration, each issued
    to the phone the resident enrolled first (``phone_a``, ``phone_b``, synced)."""
    a, b = enrol(app, "alice"), enrol(app, "bob")
    phones = {}
    for name in ("alice", "bob"):
        browser = app.test_client()
        assert login(browser, name).status_code == 302
        phones[name] = Phone(browser).enrol()
    id_card = issue_via_api(client, operators["household_registration"], a, "id_card", "wallet-key-01").json["id"]
    ebike = issue_via_api(client, operators["police_station"], b, "ebike_registration", "wallet-key-02").json["id"]
    for phone in phones.values():
        assert phone.sync().status_code == 200
    return {"a": a, "b": b, "id_card": id_card, "ebike": ebike, "phone_a": phones["alice"], "phone_b": phones["bob"]}


def logged_in(client: FlaskClient) -> bool:
    """Whether the client's session is a resident's log-in (the wallet page answers 200 either
    way: with the log-in form, or with the wallet)."""
    return client.get("/wallet/api/devices").status_code == 200


def _verifier(app: Flask) -> Verifier:
    from keys import KeyDir

    store = KeyDir(app.config["KEYS_DIR"])
    return Verifier(load_trust_list(store.trust_list(), store.root_public_jwk()), replay_cache=MemoryReplayCache())


def test_enrol_log_in_and_list(client: FlaskClient, alice: dict[str, Any]) -> None:
    page = client.get("/wallet/").get_data(as_text=True)  # not logged in: the log-in form
    assert 'name="username"' in page and 'name="password"' in page and 'id="enrol-device"' in page
    assert not logged_in(client)
    response = login(client, "alice")
    assert response.status_code == 302 and response.headers["Location"].endswith("/wallet/")
    page = client.get("/wallet/").get_data(as_text=True)
    assert 'name="password"' not in page and 'data-logged-in="1"' in page and "wallet.js" in page
    held = alice["phone_a"].licences
    assert [(item["id"], item["type"]) for item in held] == [(alice["id_card"], "id_card")]
    assert held[0]["face"]["name"] == "李华" and held[0]["face"]["number"] == "110101********0038"
    assert "internet_cafe" in held[0]["views"] and alice["phone_b"].licence("ebike_registration")


def test_enrol_form(client: FlaskClient) -> None:
    token = csrf(client, "/wallet/enrol")
    short = client.post("/wallet/enrol", data={"username": "zed", "password": "short", "csrf_token": token})
    assert short.status_code == 400 and "password" in short.get_data(as_text=True)
    ok = client.post("/wallet/enrol", data={"username": "zed", "password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 302
    assert logged_in(client)


def test_session_cookie_flags(app: Flask, tmp_path, service_keys) -> None:  # type: ignore[no-untyped-def]
    from service_fixtures import make_app

    prod = make_app(tmp_path / "prod", service_keys, SESSION_COOKIE_SECURE=True)
    response = prod.test_client().get("/wallet/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_post_without_csrf_is_refused(client: FlaskClient, alice: dict[str, Any]) -> None:
    client.get("/wallet/login")
    response = client.post("/wallet/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    wrong = client.post("/wallet/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert client.post("/desk/login", data={"username": "clerk", "password": PASSWORD}).status_code == 400


def test_five_wrong_passwords_are_rate_limited(client: FlaskClient, alice: dict[str, Any]) -> None:
    for _ in range(5):
        assert login(client, "alice", "wrong password").status_code == 401
    throttled = login(client, "alice", PASSWORD)  # even the right password, for now
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    assert not logged_in(client)
    assert login(client, "bob").status_code == 302  # other residents are not affected


@pytest.mark.parametrize("account", ["resident", "clerk"])
def test_a_right_password_clears_the_wrong_ones_before_it(app: Flask, client: FlaskClient, alice: dict[str, Any], account: str) -> None:
    """Four mistypes, a log-in, four more mistypes: the right password still works. A
    successful log-in takes back the attempts counted against its name and address (else a
    resident who once mistyped four times is locked out by one later slip); after it, the
    browser is known to the account and its mistypes count against itself alone."""
    from service_fixtures import add_clerk, desk_login

    from sqlalchemy import select

    from issuer.service.models import LoginThrottle

    add_clerk(app, "clerk")
    attempt = (lambda pw: login(client, "alice", pw)) if account == "resident" else (lambda pw: desk_login(client, "clerk", pw))
    for _round in range(3):
        for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
            assert attempt("wrong password").status_code == 401
        assert attempt(PASSWORD).status_code == 302
    from issuer.service import db

    with app.app_context(), db.sessions(app)() as s:  # (the fixture's own log-ins leave 0)
        counts = sorted(n for n in s.scalars(select(LoginThrottle.failures)) if n)
    # only the first round, from a browser not yet known, counts against the account
    assert counts == [app.config["LOGIN_MAX_FAILURES"] - 1]


def test_guessing_from_many_addresses_does_not_lock_the_owner_out(app: Flask, alice: dict[str, Any]) -> None:
    """OWASP's device cookie: 55 wrong passwords from 11 addresses. The owner's browser that
    logged in before gets in at once; a new browser waits at most LOGIN_UNTRUSTED_MAX_DELAY;
    each attacking address is throttled for itself; and guessing slows to one try per delay."""
    clock = {"now": app.extensions["certfree.clock"]()}
    app.extensions["certfree.clock"] = lambda: clock["now"]
    known = app.test_client()
    known.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    assert login(known, "alice").status_code == 302  # alice's own phone, once
    known.post("/wallet/logout", data={"csrf_token": csrf(known, "/wallet/")})
    answers = []
    for n in range(55):
        attacker = app.test_client()
        attacker.environ_base["REMOTE_ADDR"] = f"203.0.113.{n // 5 + 1}"  # 11 addresses, 5 guesses each
        answers.append(login(attacker, "alice", f"guess {n}").status_code)
        clock["now"] += 25 / 55  # 55 requests in 25 s
    assert answers.count(401) < 20 and set(answers) <= {401, 429}  # most were never checked
    assert login(known, "alice").status_code == 302  # the owner's known browser: at once
    new_phone = app.test_client()
    new_phone.environ_base["REMOTE_ADDR"] = "198.51.100.77"
    first = login(new_phone, "alice")
    assert first.status_code == 429 and int(first.headers["Retry-After"]) <= app.config["LOGIN_UNTRUSTED_MAX_DELAY"]
    clock["now"] += app.config["LOGIN_UNTRUSTED_MAX_DELAY"]
    assert login(new_phone, "alice").status_code == 302  # a new browser: after the delay at most
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.1"
    assert login(attacker, "alice").status_code == 429  # that address stays throttled for alice


def test_a_known_browser_is_throttled_on_its_own_failures_only(app: Flask, alice: dict[str, Any]) -> None:
    from issuer.service.throttle import COOKIE_PREFIX

    known = app.test_client()
    assert login(known, "alice").status_code == 302
    cookie = known.get_cookie(COOKIE_PREFIX + "residents")
    assert cookie is not None and cookie.http_only and "alice" not in cookie.value
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(known, "alice", "wrong password").status_code == 401
    assert login(known, "alice").status_code == 429  # this browser, for the window
    other = app.test_client()
    assert login(other, "alice").status_code == 302  # not the account
    forged = app.test_client()
    forged.set_cookie(COOKIE_PREFIX + "residents", cookie.value + "x")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(forged, "alice", "wrong password")
    assert login(forged, "alice").status_code == 429  # a forged cookie is an untrusted client


def test_throttle_window_passes(app: Flask, client: FlaskClient, alice: dict[str, Any]) -> None:
    clock = {"now": 1_800_000_000.0}
    app.extensions["certfree.clock"] = lambda: clock["now"]
    for _ in range(5):
        login(client, "alice", "wrong password")
    assert login(client, "alice").status_code == 429
    clock["now"] += app.config["LOGIN_WINDOW_SECONDS"] + 1
    assert login(client, "alice").status_code == 302


def test_resident_a_gets_nothing_of_resident_b(app: Flask, alice: dict[str, Any]) -> None:
    phone_a, phone_b = alice["phone_a"], alice["phone_b"]
    assert all(item["type"] != "ebike_registration" for item in phone_a.licences)
    bob_device = phone_b.client.get("/wallet/api/devices").json["devices"][0]["id"]
    removed = phone_a.proven(f"/wallet/api/devices/{bob_device}/remove", "sync")
    assert removed.status_code == 404 and removed.json["error"] == "device_not_found"
    # alice's session with bob's phone key: not alice's device, so no views
    thief = Phone(phone_a.client)
    thief.key, thief.jwk = phone_b.key, phone_b.jwk
    stolen = thief.sync()
    assert stolen.status_code == 409 and stolen.json["error"] == "device_not_enrolled"
    assert phone_b.sync().status_code == 200  # bob's phone is untouched


def test_the_phone_s_code_verifies_and_the_old_server_made_codes_are_gone(app: Flask, alice: dict[str, Any]) -> None:
    phone = alice["phone_a"]
    result = _verifier(app).verify(phone.code("id_card", "internet_cafe"), scenario="internet_cafe")
    assert result.claims["age_over_18"] is True and "birth_date" not in result.claims
    for suffix in ("qr", "qr.json", "qr.png", "qr.svg"):  # the service makes no presentation any more
        assert phone.client.get(f"/wallet/licences/{alice['id_card']}/internet_cafe/{suffix}").status_code == 404


def test_logout(client: FlaskClient, alice: dict[str, Any]) -> None:
    login(client, "alice")
    token = csrf(client, "/wallet/")
    assert client.post("/wallet/logout", data={"csrf_token": token}).status_code == 302
    assert not logged_in(client)


def test_a_log_out_naming_the_phone_s_device_removes_it_and_no_other(alice: dict[str, Any]) -> None:
    """The wallet's log-out names the phone's device key, which it then clears: the service
    removes that device with the session. A name that is not the resident's active device
    (another resident's, a removed one's, none) removes nothing."""
    from keys import thumbprint

    phone, other = alice["phone_a"], alice["phone_b"]

    def log_out(device: str | None) -> None:
        form = {"csrf_token": csrf(phone.client, "/wallet/")} | ({"device": device} if device is not None else {})
        assert phone.client.post("/wallet/logout", data=form).status_code == 302
        assert not logged_in(phone.client)
        assert login(phone.client, "alice").status_code == 302

    for device in (None, "", thumbprint(other.jwk), thumbprint(phone.jwk)[:-1]):
        log_out(device)
        assert phone.sync().status_code == 200, device  # still the active device
    log_out(thumbprint(phone.jwk))
    answer = phone.sync()
    assert answer.status_code == 409 and answer.json["error"] == "device_not_enrolled"
    listed = phone.client.get("/wallet/api/devices").json["devices"]
    assert [(d["thumbprint"], d["active"], d["removed_at"] is not None) for d in listed] == [(thumbprint(phone.jwk), False, True)]
    assert other.sync().status_code == 200  # bob's phone is untouched


# ---- public endpoints -----------------------------------------------------------------------


def test_jwks_and_trust_list_cached(app: Flask, client: FlaskClient) -> None:
    from keys import KeyDir

    jwks = client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json["keys"]
    assert "public" in jwks.headers["Cache-Control"] and "max-age" in jwks.headers["Cache-Control"]
    assert client.get("/.well-known/jwks.json", headers={"If-None-Match": jwks.headers["ETag"]}).status_code == 304
    trust = client.get("/trust-list.jws")
    store = KeyDir(app.config["KEYS_DIR"])
    assert trust.get_data(as_text=True) == store.trust_list()
    assert load_trust_list(trust.get_data(as_text=True), store.root_public_jwk())
    assert "max-age" in trust.headers["Cache-Control"] and trust.headers["ETag"]


def test_status_lists(client: FlaskClient, alice: dict[str, str], operators: dict[str, Any]) -> None:
    index = client.get("/status/index.json")
    assert index.status_code == 200 and "max-age" in index.headers["Cache-Control"]
    lists = index.json["lists"]
    assert lists and all(item["url"] == f"/status/{item['id']}.jws" for item in lists)
    token = client.get(lists[0]["url"])
    assert token.status_code == 200 and token.mimetype == "application/statuslist+jwt"
    header = json.loads(__import__("base64").urlsafe_b64decode(token.get_data(as_text=True).split(".")[0] + "=="))
    assert header["alg"] == "EdDSA"
    assert client.get("/status/unknown.jws").status_code == 404
    assert client.get(lists[0]["url"], headers={"If-None-Match": token.headers["ETag"]}).status_code == 304


def test_status_list_token_is_reused_until_its_content_changes_or_it_ages(app: Flask, client: FlaskClient, alice: dict[str, str], operators: dict[str, Any]) -> None:
    from service_fixtures import auth

    clock = {"now": 1_800_000_000.0}
    app.extensions["certfree.clock"] = lambda: clock["now"]
    urls = [item["url"] for item in client.get("/status/index.json").json["lists"]]
    first = {url: client.get(url).get_data(as_text=True) for url in urls}
    clock["now"] += 5
    assert {url: client.get(url).get_data(as_text=True) for url in urls} == first  # same token, same ETag
    # A revocation is served at once, not after the re-sign interval.
    assert client.post(f"/api/v1/licences/{alice['id_card']}/revoke", json={"reason": "lost"},
                       headers=auth(operators["household_registration"])).status_code == 200
    clock["now"] += 1
    changed = [url for url in urls if client.get(url).get_data(as_text=True) != first[url]]
    assert len(changed) == 1
    # An unchanged list is re-signed once its token is older than the interval.
    clock["now"] += app.config["STATUS_RESIGN_SECONDS"] + 1
    assert all(client.get(url).get_data(as_text=True) != first[url] for url in urls)


def test_a_list_is_signed_once_for_every_worker_and_again_by_the_request_that_revokes(
    app: Flask, client: FlaskClient, alice: dict[str, Any], operators: dict[str, Any], tmp_path: Path,
    service_keys: Path, database_url: str,
) -> None:
    """Two workers (two apps on one database). What the first signed, the second serves as
    it is, a minute later: it does not compress and sign every list again. The revoke
    request itself signs the changed list again, so no reader (a desk scan) pays for it:
    the database holds a token of the list's new revision before anybody asks."""
    from sqlalchemy import select

    from issuer.db.models import LicenceRecord, SignedStatusList, StatusList
    from issuer.service import db
    from service_fixtures import auth, make_app
    from verifier import parse_status_list

    clock = {"now": 1_800_000_000.0}
    app.extensions["certfree.clock"] = lambda: clock["now"]
    other = make_app(tmp_path / "second worker", service_keys, database_url)
    other.extensions["certfree.clock"] = lambda: clock["now"] + 60
    try:
        urls = [item["url"] for item in client.get("/status/index.json").json["lists"]]
        first = {url: client.get(url).get_data(as_text=True) for url in urls}
        assert {url: other.test_client().get(url).get_data(as_text=True) for url in urls} == first

        assert client.post(f"/api/v1/licences/{alice['id_card']}/revoke", json={"reason": "lost"},
                           headers=auth(operators["household_registration"])).status_code == 200
        with app.app_context(), db.sessions(app)() as session:
            held = session.execute(select(StatusList.id, StatusList.revision, SignedStatusList.revision, SignedStatusList.token)
                                   .join(SignedStatusList, SignedStatusList.list_id == StatusList.id)).all()
            licence = session.get(LicenceRecord, alice["id_card"])
            assert licence is not None
            list_id, idx = licence.status_list, licence.status_idx
        assert len(held) == len(urls)
        [(changed_id, revision, signed_revision, token)] = [row for row in held if row[3] not in first.values()]
        assert (changed_id, revision, signed_revision) == (list_id, 1, 1)
        assert parse_status_list(token, _verifier(app).trust).get(idx) == 1  # revoked
        assert other.test_client().get(f"/status/{list_id}.jws").get_data(as_text=True) == token
    finally:
        db.engine(other).dispose()


def test_guesses_sent_all_at_once_are_throttled_like_guesses_in_a_row(app: Flask, alice: dict[str, Any]) -> None:
    """Sixty wrong passwords for alice from one address at the same moment: at most
    LOGIN_MAX_FAILURES are checked, and then even the right one is refused there. (The
    count used to be read, then written back plus one, so parallel guesses all saw a low
    count and every one was checked.)"""
    import threading
    from collections import Counter

    attempts, limit = 60, app.config["LOGIN_MAX_FAILURES"]  # past the name-wide limit (50)
    start = threading.Barrier(attempts, timeout=60)
    answers: Counter[int] = Counter()
    lock = threading.Lock()

    def browser() -> FlaskClient:
        b = app.test_client()
        b.environ_base["REMOTE_ADDR"] = "203.0.113.9"
        return b

    def attempt(i: int) -> None:
        b = browser()
        token = csrf(b, "/wallet/login")
        start.wait()
        status = b.post("/wallet/login", data={"username": "alice", "password": f"wrong guess {i}", "csrf_token": token}).status_code
        with lock:
            answers[status] += 1

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers[401] <= limit and answers[401] + answers[429] == attempts, answers
    assert login(browser(), "alice").status_code == 429
    # ...and only the checked guesses count against alice everywhere: she is not locked
    # out from her own address by the refused ones
    home = app.test_client()
    home.environ_base["REMOTE_ADDR"] = "198.51.100.30"
    assert login(home, "alice").status_code == 302


def test_one_name_enrolled_at_the_same_moment_is_taken_once_and_nothing_is_logged(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Four enrolments of one name at once: one account, three "already taken" pages, and
    no error in the log (the losers used to be a 500 whose log line held the name and the
    password hash)."""
    import threading
    from collections import Counter

    start = threading.Barrier(4, timeout=60)
    answers: Counter[int] = Counter()
    lock = threading.Lock()

    def enrol_one() -> None:
        browser = app.test_client()
        token = csrf(browser, "/wallet/enrol")
        start.wait()
        status = browser.post("/wallet/enrol", data={"username": "hana", "password": PASSWORD, "csrf_token": token}).status_code
        with lock:
            answers[status] += 1

    with caplog.at_level("DEBUG"):
        threads = [threading.Thread(target=enrol_one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert answers == {302: 1, 400: 3}, answers
    assert "argon2" not in caplog.text and "hana" not in caplog.text


def test_login_goes_back_only_to_a_plain_wallet_path(client: FlaskClient, alice: dict[str, Any]) -> None:
    def after_login(next_path: str) -> str:
        browser = client.application.test_client()
        token = csrf(browser, "/wallet/login")
        answer = browser.post(f"/wallet/login?next={next_path}",
                              data={"username": "alice", "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 302, (next_path, answer.status_code)
        return answer.headers["Location"]

    assert after_login(f"/wallet/licences/{alice['id_card']}/hotel/qr").endswith(f"/wallet/licences/{alice['id_card']}/hotel/qr")
    for hostile in ("/wallet/%0d%0aSet-Cookie:x=1", "//evil.example/wallet/", "/wallet/..%2f..%2fadmin", "https://evil.example/"):
        assert after_login(hostile).endswith("/wallet/"), hostile


def test_a_session_cookie_copied_before_log_out_no_longer_works(app: Flask, alice: dict[str, Any]) -> None:
    """The session is a signed cookie: a log-out used to delete only the browser's copy,
    so a copy taken before it (a shared computer, a stolen cookie) kept the wallet open and
    made fresh QR codes for as long as it was used. A log-out now ends every session of
    the account; a session also ends PERMANENT_SESSION_LIFETIME after its log-in."""
    browser = app.test_client()
    assert login(browser, "alice").status_code == 302
    copied = browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], copied)
    assert logged_in(thief)  # the copy works while the session lasts
    assert browser.post("/wallet/logout", data={"csrf_token": csrf(browser, "/wallet/")}).status_code == 302
    assert not logged_in(thief) and not logged_in(browser)
    again = app.test_client()
    assert login(again, "alice").status_code == 302 and logged_in(again)  # logging in again works
    # the dead copy cannot end the new session by posting a log-out (its CSRF token is in it)
    thief_token = csrf(thief, "/wallet/login")
    thief.post("/wallet/logout", data={"csrf_token": thief_token})
    assert logged_in(again)
    clock = {"now": app.extensions["certfree.clock"]()}
    app.extensions["certfree.clock"] = lambda: clock["now"]
    clock["now"] += app.config["PERMANENT_SESSION_LIFETIME"] + 1  # however often it was refreshed
    assert not logged_in(again)


def test_a_phone_syncing_after_a_month_gets_new_views_that_desks_accept(app: Flask, alice: dict[str, Any]) -> None:
    phone = alice["phone_a"]
    clock = {"now": app.extensions["certfree.clock"]()}
    app.extensions["certfree.clock"] = lambda: clock["now"]
    old_views = dict(phone.licence("id_card")["views"])
    clock["now"] += 31 * 86400  # the views issued with the licence lived 30 days
    assert login(phone.client, "alice").status_code == 302
    assert phone.sync().status_code == 200
    assert phone.licence("id_card")["state"] == "valid" and phone.licence("id_card")["views"] != old_views
    result = _verifier(app).verify(phone.code("id_card", "hotel", now=int(clock["now"])), "hotel", now=clock["now"])
    assert result.licence_type == "id_card"
    # a year on, the licence itself is over: the phone is told so, and no new views are made
    clock["now"] += 340 * 86400
    assert login(phone.client, "alice").status_code == 302
    before = dict(phone.licence("id_card")["views"])
    assert phone.sync().status_code == 200
    assert phone.licence("id_card")["state"] == "expired" and phone.licence("id_card")["views"] == before
    with pytest.raises(VerificationFailed) as caught:
        _verifier(app).verify(phone.code("id_card", "hotel", now=int(clock["now"])), "hotel", now=clock["now"])
    assert "expired" in caught.value.codes


def test_the_service_database_is_readable_by_its_owner_alone(tmp_path: Path, service_keys: Path) -> None:
    from service_fixtures import make_app

    old_umask = os.umask(0o022)
    try:
        app = make_app(tmp_path, service_keys)  # migrates a new SQLite file
        enrol(app, "alice")  # writes: the -wal and -shm files exist now
    finally:
        os.umask(old_umask)
    files = sorted(tmp_path.glob("certfree.db*"))
    assert [f.name for f in files][:1] == ["certfree.db"] and len(files) >= 2
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}


# ---- error answers ---------------------------------------------------------------------------


def test_a_stale_form_comes_back_with_a_fresh_token_and_says_so(client: FlaskClient, alice: dict[str, Any]) -> None:
    """Logged out in another tab, then logging in from the first one: not a dead-end English
    400 but the form again, in both languages, with a token that works."""
    client.get("/wallet/login")
    stale = client.post("/wallet/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "from an old tab"})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 400 and 'data-code="form_expired"' in html
    assert "表单已过期，请重试 / the form expired, please try again" in html and 'name="password"' in html
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    again = client.post("/wallet/login", data={"username": "alice", "password": PASSWORD, "csrf_token": fresh})
    assert again.status_code == 302
    enrol_page = client.post("/wallet/enrol", data={"username": "zoe", "password": PASSWORD, "csrf_token": "old"})
    assert enrol_page.status_code == 400 and "表单已过期" in enrol_page.get_data(as_text=True)
    assert 'name="username"' in enrol_page.get_data(as_text=True)


def test_error_pages_are_coded_and_bilingual(tmp_path, service_keys) -> None:  # type: ignore[no-untyped-def]
    """404, 405, 413 and 500 (exceptions handled as in production): a small page with a code
    and Chinese first; JSON with the API's shape for a ``*.json`` path."""
    from service_fixtures import make_app

    prod = make_app(tmp_path / "prod", service_keys, TESTING=False, MAX_CONTENT_LENGTH=1024)

    def boom() -> str:
        raise RuntimeError("a bug")

    prod.add_url_rule("/wallet/boom", view_func=boom)
    client = prod.test_client()
    answers = {
        "not_found": client.get("/wallet/no-such-page"),
        "method_not_allowed": client.get("/wallet/logout"),
        "too_large": client.post("/wallet/login", data={"username": "x" * 2048}),
        "internal_error": client.get("/wallet/boom"),
    }
    for code, response in answers.items():
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html" and f'data-code="{code}"' in html, (code, html[:200])
        assert re.search(r"[\u4e00-\u9fff]+[^/]* / ", html), code  # Chinese, then English
    assert [r.status_code for r in answers.values()] == [404, 405, 413, 500]
    assert "a bug" not in answers["internal_error"].get_data(as_text=True)
    missing = client.get("/status/no-such.json")
    assert missing.status_code == 404 and missing.json["error"] == "not_found" and missing.json["message_zh"]


def test_the_wallet_api_answers_401_once_the_log_in_has_ended(alice: dict[str, Any]) -> None:
    """The phone's script calls the API: after a log-out (here, or in another tab) it gets a
    coded 401 it can act on (its codes keep working offline), not a redirect to a page."""
    phone = alice["phone_a"]
    assert phone.sync().status_code == 200
    phone.client.post("/wallet/logout", data={"csrf_token": csrf(phone.client, "/wallet/")})
    for ended in (phone.client.get("/wallet/api/challenge"), phone.client.post("/wallet/api/sync", json={})):
        assert ended.status_code == 401 and ended.mimetype == "application/json"
        assert ended.json["error"] == "login_required" and ended.json["message_zh"] == "请重新登录"
        assert ended.json["login"] == "/wallet/login"
