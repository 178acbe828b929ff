"""The service's cookie sessions (issuer/service/sessions.py): a cookie whose signature
verified is read again from memory, and still expires by its own signing time; a cookie
changed by one character, or signed with a key the app no longer holds, is refused; and a
session ended on the server (a log-out) stays ended though its old cookie was kept."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from service_fixtures import *
from service_fixtures import add_clerk, csrf, desk_login


def _signed(app: Flask, data: dict[str, Any], at: float, key: str | None = None) -> str:
    """A session cookie holding ``data``, signed at ``at`` by the app's own scheme."""
    iface = app.session_interface

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(at)

    serializer = URLSafeTimedSerializer(key or app.secret_key, salt=iface.salt, serializer=iface.serializer,  # type: ignore[attr-defined]
                                        signer=Then, signer_kwargs={"key_derivation": iface.key_derivation,  # type: ignore[attr-defined]
                                                                    "digest_method": iface.digest_method})  # type: ignore[attr-defined]
    return serializer.dumps(data)


def _kept(app: Flask) -> dict[str, Any]:
    return app.session_interface._kept  # type: ignore[attr-defined,no-any-return]


def _open(app: Flask, cookie: str) -> dict[str, Any]:
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context("/", headers={"Cookie": f"{name}={cookie}"}):
        from flask import request

        session = app.session_interface.open_session(app, request)
        assert session is not None
        return dict(session)


def test_a_verified_cookie_is_kept_and_still_expires_by_its_signing_time(app: Flask) -> None:
    cookie = _signed(app, {"who": "clerk-1", "n": [1, 2]}, time.time() - 1000)
    assert _open(app, cookie) == {"who": "clerk-1", "n": [1, 2]} and cookie in _kept(app)
    first = _open(app, cookie)
    first["n"].append(3)  # each request gets its own copy
    assert _open(app, cookie) == {"who": "clerk-1", "n": [1, 2]}
    app.permanent_session_lifetime = dt.timedelta(seconds=999)  # now 1000 s is too old, read from memory too
    assert _open(app, cookie) == {}
    app.permanent_session_lifetime = dt.timedelta(seconds=1001)
    assert _open(app, cookie) == {"who": "clerk-1", "n": [1, 2]}
    later = _signed(app, {"who": "clerk-2"}, time.time() + 120)  # signed in the future: refused, as itsdangerous does
    assert _open(app, later) == {} and later not in _kept(app)


def test_a_changed_cookie_or_another_key_is_refused(app: Flask) -> None:
    cookie = _signed(app, {"who": "clerk-1"}, time.time())
    assert _open(app, cookie) == {"who": "clerk-1"}
    # one character of the data changed (not the signature's last, whose low bits base64 ignores)
    forged = ("f" if cookie[0] != "f" else "g") + cookie[1:]
    assert _open(app, forged) == {} and forged not in _kept(app)
    assert _open(app, _signed(app, {"who": "clerk-1"}, time.time(), key="another key")) == {}
    old_key = app.secret_key
    app.secret_key = "a new session secret"  # a new key: what was kept is not trusted
    assert _open(app, cookie) == {}
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]  # unless the old key is still a fallback
    assert _open(app, cookie) == {"who": "clerk-1"}


def test_a_log_out_ends_the_session_though_its_cookie_was_kept(app: Flask) -> None:
    add_clerk(app)
    desk = app.test_client()
    assert desk_login(desk).status_code == 302
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = desk.get_cookie(name).value  # type: ignore[union-attr]
    for _ in range(3):
        assert desk.get("/desk/session.json").status_code == 200
    assert cookie in _kept(app)
    other = app.test_client()  # the same cookie, on another device
    other.set_cookie(name, cookie)
    assert other.get("/desk/session.json").status_code == 200
    assert desk.post("/desk/logout", data={"csrf_token": csrf(desk, "/desk/")}).status_code == 302
    ended = other.get("/desk/session.json")
    assert ended.status_code == 401 and ended.json["error"] == "login_required"


def test_a_kept_cookie_reads_back_the_types_it_was_signed_with(app: Flask) -> None:
    """Data that needed none of the serializer's tags is read again with plain json; data
    with a tuple or bytes is read by the serializer, so it comes back as a tuple and bytes,
    not as a list and a one-key dict."""
    plain = {"who": "clerk-1", "desk": [3, "前台 front desk", ["hotel"], []], "epoch": 2, "ok": True}
    tagged = {"who": "clerk-2", "pair": (1, 2), "raw": b"\x00\xff"}
    for data in (plain, tagged):
        cookie = _signed(app, data, time.time() - 10)
        assert _open(app, cookie) == data  # the full check
        assert _kept(app)[cookie][2] is (data is plain)
        again = _open(app, cookie)  # from what was kept
        assert again == data
        assert {k: type(v) for k, v in again.items()} == {k: type(v) for k, v in data.items()}
