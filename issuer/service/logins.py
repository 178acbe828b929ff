"""Log-in for the two kinds of account the pages have: residents (the wallet) and desk
clerks (the desk page). One form handler, one guard, one session start for both."""

from __future__ import annotations

import functools
from typing import Any, Callable, cast

from flask import Response, after_this_request, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy import update

from . import context, errors, residents, throttle
from .db import db_session
from .models import DeskClerk, Resident
from .security import check_csrf

Account = type[Resident] | type[DeskClerk]


def start_session(session_key: str, account: Resident | DeskClerk) -> None:
    session.clear()  # no session fixation: a fresh session (and CSRF token) per log-in
    session.permanent = True
    session[session_key] = account.id
    # The cookie is the whole session: what makes it end on the server's side is the
    # account's epoch (a log-out raises it) and the moment of log-in (at most
    # PERMANENT_SESSION_LIFETIME ago, however often the cookie is refreshed).
    session[f"{session_key}:epoch"] = account.session_epoch or 0
    session[f"{session_key}:at"] = context.now()


def end_sessions(session_key: str, model: Account) -> None:
    """Log out: this browser's session and every other session cookie of the account."""
    account = current(model, session_key)  # a dead cookie (copied, then logged out) ends nothing
    if account is not None:
        s = db_session()
        s.execute(update(model).where(model.id == account.id).values(session_epoch=model.session_epoch + 1))
        s.commit()
    for key in [k for k in session if k == session_key or k.startswith(f"{session_key}:")]:
        session.pop(key, None)


def session_account_id(session_key: str) -> str | None:
    """The account id this browser's session holds, if it logged in at most
    PERMANENT_SESSION_LIFETIME ago; its epoch is for the caller to compare."""
    account_id = session.get(session_key)
    if not account_id:
        return None
    logged_in_at = session.get(f"{session_key}:at")
    if not isinstance(logged_in_at, (int, float)) or context.now() - logged_in_at > current_app.permanent_session_lifetime.total_seconds():
        return None
    return str(account_id)


def current(model: Account, session_key: str) -> Resident | DeskClerk | None:
    """The account this browser's session is logged in as, or None (no log-in, or it ended)."""
    account_id = session_account_id(session_key)
    if account_id is None:
        return None
    account = cast("Resident | DeskClerk | None", db_session().get(model, account_id))
    if account is None or session.get(f"{session_key}:epoch") != (account.session_epoch or 0):
        return None
    return account


def login_required(model: Account, session_key: str, login_endpoint: str, *, remember_path: bool = False) -> Callable[..., Any]:
    """A view guard: the logged-in account is ``g.account``; anyone else goes to the log-in
    page (with ``next`` set to where they were going if ``remember_path``). A ``*.json``
    endpoint answers 401 ``login_required`` with the log-in page's URL instead, so that a
    script (the QR page's) can tell the resident to log in again."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            account = current(model, session_key)
            if account is None:
                if errors.wants_json():
                    m = errors.MESSAGES["login_required"]
                    return errors.json_error(401, m.code, m.en, m.zh, login=url_for(login_endpoint))
                return redirect(url_for(login_endpoint, next=request.path) if remember_path else url_for(login_endpoint))
            g.account = account
            return view(*args, **kwargs)

        return wrapped

    return decorate


def form_login(model: Account, session_key: str, page: dict[str, Any]) -> Response | tuple[Any, ...] | None:
    """Handle a posted log-in form: check CSRF, the throttle and the password. Returns the
    error page to send, or None once ``session_key`` holds the account's id. ``page`` is
    what the log-in template shows (heading, enrol link)."""
    check_csrf()
    s, cfg = db_session(), current_app.config
    username, realm = request.form.get("username", ""), model.__tablename__
    cookie = throttle.COOKIE_PREFIX + realm
    nonce = throttle.device_nonce(cfg["SECRET_KEY"], realm, username, request.cookies.get(cookie))
    limits = login_limits()
    result = residents.authenticate(s, username, request.form.get("password", ""), now=context.now(), limits=limits,
                                    client=request.remote_addr or "", device_nonce=nonce, model=model)
    s.commit()
    if result.throttled:
        response = Response(render_template("login.html", throttled=True, **page), status=429)
        response.headers["Retry-After"] = str(limits.window if nonce else limits.max_delay)
        return response
    if not isinstance(result.resident, model):
        return render_template("login.html", failed=True, **page), 401
    start_session(session_key, result.resident)
    value = throttle.new_device_cookie(cfg["SECRET_KEY"], realm, username)

    @after_this_request
    def remember_this_browser(response: Response) -> Response:
        """This browser is known to the account from now on (a new nonce each log-in)."""
        response.set_cookie(cookie, value, max_age=throttle.COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                            secure=bool(cfg["SESSION_COOKIE_SECURE"]))
        return response

    return None


def login_limits() -> throttle.Limits:
    cfg = current_app.config
    return throttle.Limits(max_failures=cfg["LOGIN_MAX_FAILURES"], window=cfg["LOGIN_WINDOW_SECONDS"],
                           free=cfg["LOGIN_UNTRUSTED_FREE"], base_delay=cfg["LOGIN_UNTRUSTED_BASE_DELAY"],
                           max_delay=cfg["LOGIN_UNTRUSTED_MAX_DELAY"])
