"""Log-in for the two kinds of account the pages have: residents (the wallet) and desk
clerks (the desk page). One form handler, one guard, one session start for both."""

from __future__ import annotations

import functools
from typing import Any, Callable

from flask import Response, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy.exc import IntegrityError

from . import context, residents
from .db import db_session
from .models import DeskClerk, Resident
from .security import check_csrf

Account = type[Resident] | type[DeskClerk]


def start_session(session_key: str, account_id: str) -> None:
    session.clear()  # no session fixation: a fresh session (and CSRF token) per log-in
    session.permanent = True
    session[session_key] = account_id


def login_required(model: Account, session_key: str, login_endpoint: str, *, remember_path: bool = False) -> Callable[..., Any]:
    """A view guard: the logged-in account is ``g.account``; anyone else goes to the log-in
    page (with ``next`` set to where they were going if ``remember_path``)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            account_id = session.get(session_key)
            account = db_session().get(model, account_id) if account_id else None
            if account is None:
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
    try:
        result = residents.authenticate(s, request.form.get("username", ""), request.form.get("password", ""),
                                        now=context.now(), max_failures=cfg["LOGIN_MAX_FAILURES"],
                                        window=cfg["LOGIN_WINDOW_SECONDS"], client=request.remote_addr or "",
                                        model=model)
        s.commit()
    except IntegrityError:  # a concurrent first failure for the same name: count this one as failed too
        s.rollback()
        return render_template("login.html", failed=True, **page), 401
    if result.throttled:
        response = Response(render_template("login.html", throttled=True, **page), status=429)
        response.headers["Retry-After"] = str(cfg["LOGIN_WINDOW_SECONDS"])
        return response
    if not isinstance(result.resident, model):
        return render_template("login.html", failed=True, **page), 401
    start_session(session_key, result.resident.id)
    return None
