"""The service's sessions: Flask's signed cookies, each cookie's signature checked once per
process.

A desk's own system sends the same session cookie with every scan, and a browser with every
page. Flask builds an itsdangerous serializer, derives its HMAC key and checks the cookie's
signature on every request (0.1-0.2 ms of a 2 ms desk scan, docs/benchmarks.md). Here a
cookie whose signature verified is kept, in this process only, with the time it was
signed: the same cookie again is read from what was kept, its age checked against the
session lifetime exactly as itsdangerous checks it (0 <= now - signed <= lifetime, whole
seconds). Only the exact cookie text that verified is kept, so a cookie changed by one
character is looked up in vain and goes through the full check; a new secret key (or new
fallbacks) empties what was kept. A session that ends (log-out, a removed clerk) ends on
the server as before: the cookie never carried that decision (issuer.service.logins).

A kept cookie's data is read again for each request (each request changes its own copy).
Flask's serializer walks every value for its tags (a tuple, bytes, a date...); data that
needed no tag (the standard ``json`` module reads it back equal to what was signed,
checked once when it is kept) is read with ``json.loads`` alone, which took a desk clerk's
session open from about 32 to about 18-24 µs.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

#: Verified cookies kept per process: one per session in use, a few KB each at most.
KEPT = 4096


class VerifiedOnceSessionInterface(SecureCookieSessionInterface):
    """:class:`flask.sessions.SecureCookieSessionInterface`, remembering the cookies that
    verified (see the module's text)."""

    def __init__(self) -> None:
        # cookie -> (signed at, its data as the serializer writes it, whether plain json reads it back)
        self._kept: dict[str, tuple[int, str, bool]] = {}
        self._keys: tuple[Any, ...] = ()  # the secret key and fallbacks they verified with
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        lifetime = int(app.permanent_session_lifetime.total_seconds())
        kept = self._kept.get(cookie) if keys == self._keys else None
        if kept is not None:
            signed_at, data, plain = kept
            if 0 <= int(time.time()) - signed_at <= lifetime:  # itsdangerous's own test of the age
                return self.session_class(json.loads(data) if plain else self.serializer.loads(data))
            return self.session_class()  # expired, as the full check would find
        serializer = self.get_signing_serializer(app)
        assert serializer is not None  # there is a secret key
        try:
            data, signed = serializer.loads(cookie, max_age=lifetime, return_timestamp=True)
        except BadSignature:  # expired ones included (SignatureExpired)
            return self.session_class()
        dumped = self.serializer.dumps(data)
        self._keep(keys, cookie, int(signed.timestamp()), dumped, _plain(dumped, data))
        return self.session_class(data)

    def _keep(self, keys: tuple[Any, ...], cookie: str, signed_at: int, data: str, plain: bool) -> None:
        with self._lock:
            if keys != self._keys:
                self._kept, self._keys = {}, keys
            elif len(self._kept) >= KEPT:
                del self._kept[next(iter(self._kept))]  # the oldest kept
            self._kept[cookie] = (signed_at, data, plain)


def _plain(dumped: str, data: Any) -> bool:
    """Whether ``json.loads(dumped)`` gives ``data`` back: no value of it needed one of the
    serializer's tags (a tagged value reads back as a one-key dict, which compares unequal
    to the tuple, bytes, date or markup it stood for)."""
    try:
        return bool(json.loads(dumped) == data)
    except ValueError:
        return False
