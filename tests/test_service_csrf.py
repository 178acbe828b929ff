"""CSRF on every state-changing route, found from the app's URL map (a new route that is not
listed here fails ``test_every_state_changing_route_is_covered``).

The pages' forms must carry the session's ``csrf_token``: a post with no token, a wrong one,
or from a browser that has no session token at all (a cross-site log-in or enrolment) is
refused with the coded ``form_expired`` 400, and changes nothing: no enrolment, no log-in, no
log-out, no spent presentation, no register row, no counted log-in attempt. A page that has
a form comes back with a fresh token, and the same post with that token then succeeds (so
the refusal was the token's and nothing else's).

The issuer API (``/api/``) has no CSRF token: it authenticates by bearer token alone, so a
browser's session cookie, a resident's or a clerk's, must not get anything through it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import wallet_code
from service_fixtures import *
from service_fixtures import PASSWORD, add_clerk, auth, csrf, desk_login, enrol, issue_via_api, login

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _session(client: FlaskClient) -> dict[str, Any]:
    with client.session_transaction() as sess:
        return dict(sess)


def _logged_in(client: FlaskClient, key: str) -> Any:
    return _session(client).get(key)


def _epoch(app: Flask, model_name: str, account_id: str) -> int:
    from issuer.service import db, models

    with app.app_context(), db.sessions(app)() as s:
        return int(getattr(s.get(getattr(models, model_name), account_id), "session_epoch") or 0)


def _count(app: Flask, model_name: str, **where: str) -> int:
    from sqlalchemy import func, select

    from issuer.service import db, models

    model = getattr(models, model_name)
    with app.app_context(), db.sessions(app)() as s:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(s.scalar(stmt) or 0)


def _register_rows(app: Flask) -> int:
    from scenarios.register import Register

    return len(Register(app.config["DESK_REGISTER"]).rows())


class World:
    """Two residents and two clerks; a licence and its fresh presentation on demand."""

    def __init__(self, app: Flask, operators: dict[str, str]) -> None:
        self.app, self.operators = app, operators
        self.alice, self.bob = enrol(app, "alice"), enrol(app, "bob")
        self.clerk, self.clerk2 = add_clerk(app, "clerk"), add_clerk(app, "clerk2")
        self._licence: str | None = None

    def presentation(self) -> str:
        """A fresh internet-café presentation of alice's ID card (its proof not yet seen)."""
        if self._licence is None:
            api = self.app.test_client()
            self._licence = issue_via_api(api, self.operators["household_registration"], self.alice, "id_card",
                                          "csrf-key-0001").json["id"]
        wallet = self.app.test_client()
        assert login(wallet, "alice").status_code == 302
        return str(wallet_code(wallet, self._licence, "internet_cafe"))

    def result_token(self) -> str:
        """A desk's signed, unspent verification result (what the register form carries)."""
        from desk.results import result_token
        from issuer import example
        from service_fixtures import TEST_DESK

        with self.app.test_request_context():
            return str(result_token("internet_cafe", [("id_card", example("id_card"))], None, TEST_DESK, time.time()))


@dataclass
class Route:
    path: str
    account: str  # whose session the "logged-in" cases have: "resident" or "clerk"
    form_page: str  # a page whose form carries the session's token
    guarded: bool  # a log-in guard answers before the token is looked at (a redirect to the log-in page)
    acts_on_login: bool  # only a logged-in session can succeed (log-out, the desk's forms)
    data: Callable[[World], dict[str, Any]]
    state: Callable[[World, FlaskClient], Any]  # what a side effect would change
    succeeded: Callable[[World, FlaskClient, Any, Any], bool]  # (world, client, response, state before)

    @property
    def session_key(self) -> str:
        return "resident_id" if self.account == "resident" else "desk_clerk_id"


def _no_throttle_rows(w: World) -> int:
    return _count(w.app, "LoginThrottle")


ROUTES: dict[str, Route] = {
    "wallet.enrol": Route(
        "/wallet/enrol", "resident", "/wallet/enrol", False, False,
        data=lambda w: {"username": "mallory", "password": PASSWORD},
        state=lambda w, c: (_count(w.app, "Resident", username="mallory"), _logged_in(c, "resident_id")),
        succeeded=lambda w, c, r, before: r.status_code == 302 and _count(w.app, "Resident", username="mallory") == 1
        and _logged_in(c, "resident_id") not in (None, w.alice),
    ),
    "wallet.login": Route(  # a log-in CSRF would put the victim's browser in the attacker's account
        "/wallet/login", "resident", "/wallet/login", False, False,
        data=lambda w: {"username": "bob", "password": PASSWORD},
        state=lambda w, c: (_logged_in(c, "resident_id"), _no_throttle_rows(w)),
        succeeded=lambda w, c, r, before: r.status_code == 302 and _logged_in(c, "resident_id") == w.bob,
    ),
    "wallet.logout": Route(
        "/wallet/logout", "resident", "/wallet/", False, True,
        data=lambda w: {},
        state=lambda w, c: (_logged_in(c, "resident_id"), _epoch(w.app, "Resident", w.alice)),
        succeeded=lambda w, c, r, before: r.status_code == 302 and _logged_in(c, "resident_id") is None
        and _epoch(w.app, "Resident", w.alice) == before[1] + 1 and c.get("/wallet/api/devices").status_code == 401,
    ),
    "desk.login": Route(
        "/desk/login", "clerk", "/desk/login", False, False,
        data=lambda w: {"username": "clerk2", "password": PASSWORD},
        state=lambda w, c: (_logged_in(c, "desk_clerk_id"), _no_throttle_rows(w)),
        succeeded=lambda w, c, r, before: r.status_code == 302 and _logged_in(c, "desk_clerk_id") == w.clerk2,
    ),
    "desk.logout": Route(
        "/desk/logout", "clerk", "/desk/", False, True,
        data=lambda w: {},
        state=lambda w, c: (_logged_in(c, "desk_clerk_id"), _epoch(w.app, "DeskClerk", w.clerk)),
        succeeded=lambda w, c, r, before: r.status_code == 302 and _logged_in(c, "desk_clerk_id") is None
        and _epoch(w.app, "DeskClerk", w.clerk) == before[1] + 1 and c.get("/desk/").status_code == 302,
    ),
    "desk.verify": Route(  # the side effect: the presentation's proof spent in the replay cache
        "/desk/verify", "clerk", "/desk/", True, True,
        data=lambda w: {"scenario": "internet_cafe", "text": w.presentation()},
        state=lambda w, c: _register_rows(w.app),
        succeeded=lambda w, c, r, before: r.status_code == 200 and "通过 / accepted" in r.get_data(as_text=True)
        and 'data-code="replayed"' not in r.get_data(as_text=True),
    ),
    "desk.register": Route(  # the side effects: a register row, and the result's one-time nonce spent
        "/desk/register", "clerk", "/desk/", True, True,
        data=lambda w: {"token": w.result_token(), "terminal": "A-07"},
        state=lambda w, c: _register_rows(w.app),
        succeeded=lambda w, c, r, before: r.status_code == 200 and "已登记 / recorded" in r.get_data(as_text=True)
        and _register_rows(w.app) == before + 1,
    ),
}

# How the post comes: (logged in?, the session's token fetched by a page first?, token sent)
CASES = {
    "session-no-token": (True, True, None),
    "session-wrong-token": (True, True, "forged-token-from-another-site"),
    "session-empty-token": (True, True, ""),
    "logged-in-before-any-form": (True, False, None),  # a log-in clears the session: no token yet
    "fresh-client-no-token": (False, False, None),
    "fresh-client-empty-token": (False, False, ""),
    "fresh-client-forged-token": (False, False, "forged-token-from-another-site"),
}


@pytest.fixture
def world(app: Flask, operators: dict[str, str]) -> World:
    return World(app, operators)


def _log_in(client: FlaskClient, account: str) -> None:
    response = login(client, "alice") if account == "resident" else desk_login(client, "clerk")
    assert response.status_code == 302


def _session_state(client: FlaskClient) -> dict[str, Any]:
    """The session but its CSRF token and the clerk's desk as read at the first desk request
    (a copy of the desk's row kept to save a query a scan, desk.clerk; not the clerk's state)."""
    from desk.clerk import DESK_KEY

    return {k: v for k, v in _session(client).items() if k not in ("csrf", DESK_KEY)}


def test_every_state_changing_route_is_covered(app: Flask) -> None:
    """Every route that takes anything but GET/HEAD/OPTIONS is either a form route checked
    here for CSRF, or an API route checked here for bearer-only authentication."""
    changing = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules() if set(rule.methods or ()) - SAFE_METHODS}
    desk_json = {e for e, rule in changing.items() if rule.startswith("/desk/") and rule.endswith(".json")}
    pages = {e for e, rule in changing.items() if not rule.startswith(("/api/", "/wallet/api/")) and e not in desk_json}
    api = {e for e, rule in changing.items() if rule.startswith("/api/")}
    wallet_api = {e for e, rule in changing.items() if rule.startswith("/wallet/api/")}
    assert pages == set(ROUTES), "a form route without a CSRF test: add it to ROUTES"
    assert desk_json == set(DESK_JSON_ROUTES), "a desk JSON route without a CSRF test: add it to DESK_JSON_ROUTES"
    assert api == set(API_ROUTES), "an API route without a bearer-only test: add it to API_ROUTES"
    assert wallet_api == set(WALLET_API_ROUTES), "a wallet API route without a CSRF test: add it to WALLET_API_ROUTES"
    for endpoint, route in ROUTES.items():
        assert changing[endpoint] == route.path


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("endpoint", list(ROUTES))
def test_a_form_post_without_the_session_token_is_refused_and_changes_nothing(
    app: Flask, world: World, endpoint: str, case: str
) -> None:
    route = ROUTES[endpoint]
    logged_in, fetched_form, sent = CASES[case]
    client = app.test_client()
    if logged_in:
        _log_in(client, route.account)
    if fetched_form:
        csrf(client, route.form_page)
    session_token = _session(client).get("csrf")
    assert (session_token is not None) == fetched_form
    data = route.data(world)
    before = route.state(world, client)
    session_before = _session_state(client)

    response = client.post(route.path, data=data if sent is None else {**data, "csrf_token": sent})

    html = response.get_data(as_text=True)
    if route.guarded and not logged_in:  # the log-in guard answers first: to the log-in page
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/{route.path.split('/')[1]}/login")
    else:
        assert response.status_code == 400, html
        assert 'data-code="form_expired"' in html and "表单已过期，请重试 / the form expired, please try again" in html
    # no side effect
    assert route.state(world, client) == before
    assert _session_state(client) == session_before
    # A page with a form comes back with a fresh token: the session's own, never the one sent.
    fresh = _TOKEN.findall(html)
    if fresh:
        assert set(fresh) == {_session(client)["csrf"]} and sent not in fresh
    # The same post with the session's token goes through: the token was all that was wrong.
    if route.acts_on_login and not logged_in:
        _log_in(client, route.account)
        before = route.state(world, client)
    token = fresh[0] if fresh else csrf(client, route.form_page)
    retried = client.post(route.path, data={**data, "csrf_token": token})
    assert route.succeeded(world, client, retried, before), retried.get_data(as_text=True)


def test_a_stale_form_page_says_so_in_both_languages_with_a_fresh_token(app: Flask, world: World) -> None:
    """What a resident with an old log-in tab sees: the log-in page again, coded, with a token that works."""
    client = app.test_client()
    old = csrf(client, "/wallet/login")
    client.get("/wallet/login")
    with client.session_transaction() as sess:
        sess["csrf"] = "rotated-since"  # e.g. a log-in in another tab
    stale = client.post("/wallet/login", data={"username": "alice", "password": PASSWORD, "csrf_token": old})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 400 and 'id="page-error" data-code="form_expired"' in html
    assert 'name="username"' in html  # the log-in form itself, not an error page
    assert _TOKEN.search(html).group(1) == "rotated-since"
    again = client.post("/wallet/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "rotated-since"})
    assert again.status_code == 302


# ---- the issuer API: bearer tokens only ------------------------------------------------

API_ROUTES = {
    "api.issue_licence": "/api/v1/licences",
    "api.licence_revoke": "/api/v1/licences/{id}/revoke",
    "api.licence_suspend": "/api/v1/licences/{id}/suspend",
    "api.licence_reinstate": "/api/v1/licences/{id}/reinstate",
}


# The phone's JSON calls: the session's token must come in the X-CSRF-Token header (a
# cross-site form cannot set a header, and a cross-site fetch with one is not allowed).
# The desk's JSON endpoints take the session's CSRF token in X-CSRF-Token, as the wallet API
# does; each is tested for it where the endpoint is tested.
DESK_JSON_ROUTES = {
    "desk.verify_json": "tests/test_desk_api.py::test_the_same_authentication_as_the_desk_page",
}

WALLET_API_ROUTES = {
    "wallet.enrol_device": ("/wallet/api/devices", "enrol"),
    "wallet.remove_device": ("/wallet/api/devices/{device}/remove", "sync"),
    "wallet.sync": ("/wallet/api/sync", "sync"),
}


@pytest.mark.parametrize("endpoint", list(WALLET_API_ROUTES))
def test_a_wallet_api_post_without_the_session_token_header_is_refused_and_changes_nothing(
    app: Flask, world: World, endpoint: str
) -> None:
    from service_fixtures import Phone

    from keys.jose import b64url_encode

    browser = app.test_client()
    _log_in(browser, "resident")
    enrolled = Phone(browser).enrol()  # the resident's phone, enrolled the proper way
    device = browser.get("/wallet/api/devices").json["devices"][0]["id"]
    path, purpose = WALLET_API_ROUTES[endpoint]
    path = path.format(device=device)
    newcomer = Phone(browser)  # a second key, for the enrolment attempts
    before = browser.get("/wallet/api/devices").json
    for header in (None, "", "forged-token-from-another-site"):
        got = browser.get("/wallet/api/challenge").json
        message = b"certfree-device-proof/v1\n" + purpose.encode() + b"\n" + got["challenge"].encode()
        key = newcomer.key if endpoint == "wallet.enrol_device" else enrolled.key
        jwk = newcomer.jwk if endpoint == "wallet.enrol_device" else enrolled.jwk
        body = {"jwk": jwk, "challenge": got["challenge"], "signature": b64url_encode(key.sign(message))}
        headers = {} if header is None else {"X-CSRF-Token": header}
        for attempt in (browser.post(path, json=body, headers=headers),
                        browser.post(path, data={**{k: str(v) for k, v in body.items()}, "csrf_token": got["csrf"]})):
            assert attempt.status_code == 400 and attempt.json["error"] == "form_expired", attempt.json
    assert browser.get("/wallet/api/devices").json == before
    # with the header, the same calls go through: only the token was missing
    done = enrolled.proven(path, purpose) if endpoint != "wallet.enrol_device" else newcomer.proven(path, purpose, label="x")
    assert done.status_code == 200, done.json


@pytest.mark.parametrize("cookie", ["resident", "clerk", "none"])
@pytest.mark.parametrize("endpoint", list(API_ROUTES))
def test_an_api_post_with_only_a_session_cookie_is_refused_and_changes_nothing(
    app: Flask, world: World, endpoint: str, cookie: str
) -> None:
    from issuer import example

    operator = world.operators["household_registration"]
    api = app.test_client()
    licence = issue_via_api(api, operator, world.alice, "id_card", "csrf-key-0002").json["id"]
    if endpoint == "api.licence_reinstate":  # reinstating needs a suspended licence
        assert api.post(f"/api/v1/licences/{licence}/suspend", json={"reason": "lost"}, headers=auth(operator)).status_code == 200
    listed = api.get("/api/v1/licences", headers=auth(operator)).json
    browser = app.test_client()
    if cookie != "none":
        _log_in(browser, cookie)
    token = csrf(browser, "/desk/" if cookie == "clerk" else "/wallet/login")
    path = API_ROUTES[endpoint].format(id=licence)
    body: dict[str, Any] = ({"resident_id": world.alice, "licence_type": "id_card", "claims": example("id_card")}
                            if endpoint == "api.issue_licence" else {"reason": "lost"})
    for attempt in (
        browser.post(path, json=body, headers={"Idempotency-Key": "csrf-key-0003"}),
        browser.post(path, data={**{k: str(v) for k, v in body.items()}, "csrf_token": token}),  # a cross-site form
        browser.post(path, json=body, headers={"Authorization": "Bearer", "Idempotency-Key": "csrf-key-0004"}),
    ):
        assert attempt.status_code == 401 and attempt.json["error"] == "unauthorised"
        assert attempt.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/api/v1/licences", headers=auth(operator)).json == listed
    # the same request with the operator's bearer token goes through: only the authentication was missing
    done = browser.post(path, json=body, headers=auth(operator, "csrf-key-0005"))
    assert done.status_code == (201 if endpoint == "api.issue_licence" else 200), done.json
