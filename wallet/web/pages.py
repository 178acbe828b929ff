"""The resident's pages: the service's front page, enrol and log-in (server-rendered forms),
the wallet itself (one page, run by ``static/wallet.js`` from the phone's own storage), the
offline shell the service worker keeps, the service worker and the web app manifest."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Response, current_app, redirect, render_template, request, session, url_for
from sqlalchemy.exc import IntegrityError

from issuer.service import context, devices, errors, logins, residents
from issuer.service.db import db_session
from issuer.service.models import Resident
from issuer.service.security import check_csrf

from . import bp

STATIC = Path(__file__).parent / "static"
LOGIN_PAGE = {"heading": "居民登录 Resident log-in", "enrol": True}
# Where a log-in may return to: a wallet page, in plain path segments (no "//", no "." or
# ".." segment, no CR/LF, which Werkzeug refuses in a Location header: a 500 after a right
# password).
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*"
_NEXT = re.compile(rf"/wallet/(?:{_SEGMENT}/)*(?:{_SEGMENT})?")
# What the service worker keeps for offline use: the shell and everything it loads.
SHELL_FILES = ("wallet.js", "wallet.css", "icon.svg", "icon-192.png", "icon-512.png")


@bp.get("/")
def index() -> str:
    return render_template("wallet/index.html")


@bp.errorhandler(errors.FormExpired)
def form_expired(_exc: errors.FormExpired) -> Any:
    """A stale log-in or enrol form comes back with a fresh CSRF token and says so."""
    expired = errors.MESSAGES["form_expired"]
    if request.endpoint == "wallet.login":
        return render_template("login.html", page_error=expired, **LOGIN_PAGE), 400
    if request.endpoint == "wallet.enrol":
        return render_template("wallet/enrol.html", page_error=expired), 400
    return errors.answer(400, "form_expired")


@bp.route("/wallet/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    if request.method == "GET":
        return render_template("wallet/enrol.html")
    check_csrf()
    s = db_session()
    try:
        resident = residents.enrol(s, request.form.get("username", ""), request.form.get("password", ""), now=context.now())
        s.commit()
    except residents.EnrolError as exc:
        s.rollback()
        return render_template("wallet/enrol.html", error=exc), 400
    except IntegrityError:  # the same name enrolled by another request since it was checked
        s.rollback()
        return render_template("wallet/enrol.html", error=residents.name_taken()), 400
    logins.start_session("resident_id", resident)
    return redirect(url_for("wallet.licences"))


@bp.route("/wallet/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", **LOGIN_PAGE)
    refused = logins.form_login(Resident, "resident_id", LOGIN_PAGE)
    if refused is not None:
        return refused
    target = request.args.get("next", "")
    return redirect(target if _NEXT.fullmatch(target) else url_for("wallet.licences"))


@bp.post("/wallet/logout")
def logout() -> Any:
    """Log out. The wallet's own log-out also names the phone's device key (``device``, its
    thumbprint), which it clears from the phone once this answers: if that is the
    resident's active device, it is removed in the same transaction as the log-out, so the
    service lists no phone that holds no key, and a copy of the key made before cannot
    present (its licences are bound to no key until a phone is enabled again)."""
    check_csrf()
    _remove_this_phone(request.form.get("device", ""))
    logins.end_sessions("resident_id", Resident)  # commits the removal with the log-out
    session.clear()
    return redirect(url_for("wallet.login"))


def _remove_this_phone(thumb: str) -> None:
    account = logins.current(Resident, "resident_id")
    if not isinstance(account, Resident) or account.device is None or not thumb:
        return
    active = account.device
    if hmac.compare_digest(active.thumbprint.encode(), thumb.encode()):
        devices.remove_device(db_session(), context.keys(), account, active.id, now=context.now())


def no_store(response: Response) -> Response:
    """``response`` with ``Cache-Control: no-store``: the wallet's pages and API answers."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/wallet/")
def licences() -> Response:
    """The wallet. Logged in: the page syncs with the service and shows the phone's
    licences. Not logged in: the log-in form, and whatever the phone already holds."""
    account = logins.current(Resident, "resident_id")
    html = render_template("wallet/app.html", account=account, login_form=account is None, **LOGIN_PAGE)
    return no_store(Response(html))


@bp.get("/wallet/shell")
def shell() -> Response:
    """The page the service worker keeps and opens with no network: no account, no form;
    the script shows what the phone holds."""
    return no_store(Response(render_template("wallet/app.html", account=None, login_form=False, offline_shell=True)))


@lru_cache(maxsize=1)
def _shell_version() -> str:
    """A digest of the shell's files: a new one makes browsers install the new worker."""
    digest = hashlib.sha256()
    for name in SHELL_FILES + ("sw.js",):
        digest.update((STATIC / name).read_bytes())
    digest.update((Path(__file__).parent / "templates" / "wallet" / "app.html").read_bytes())
    return digest.hexdigest()[:16]


@bp.get("/wallet/sw.js")
def service_worker() -> Response:
    """The service worker, served from /wallet/ so that its scope is the wallet."""
    source = (STATIC / "sw.js").read_text("utf-8").replace("__SHELL_VERSION__", _shell_version())
    shell_urls = [url_for("wallet.shell")] + [url_for("wallet.static", filename=name) for name in SHELL_FILES]
    source = source.replace('"__SHELL_URLS__"', ", ".join(f'"{u}"' for u in shell_urls))
    response = Response(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/wallet/manifest.webmanifest")
def manifest() -> Response:
    response = current_app.response_class(render_template("wallet/manifest.webmanifest"),
                                          mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response
