"""The residents' web wallet: enrol, log in (throttled), list licences, and a live QR page
per licence and scenario that renews its presentation before the freshness window ends.

This is a "cloud wallet": the server holds each resident's device key, encrypted at rest
with the server's wallet key, and signs the holder proof on their behalf.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy.exc import IntegrityError

from issuer import LICENCE_TYPES
from issuer.db import unix
from wallet import png_bytes, present_view, svg_bytes, version
from wallet.qr import SCALE as QR_FILE_SCALE

from . import context, errors, logins, residents
from .db import db_session
from .models import Resident
from .security import check_csrf

bp = Blueprint("wallet", __name__)


@bp.get("/")
def index() -> str:
    return render_template("index.html")


login_required = logins.login_required(Resident, "resident_id", "wallet.login", remember_path=True)
LOGIN_PAGE = {"heading": "居民登录 Resident log-in", "enrol": True}
# Where a log-in may return to: a wallet page, in plain path segments (no "//", no "." or
# ".." segment, no CR/LF, which Werkzeug refuses in a Location header: a 500 after a right
# password).
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*"
_NEXT = re.compile(rf"/wallet/(?:{_SEGMENT}/)*(?:{_SEGMENT})?")


@bp.errorhandler(errors.FormExpired)
def form_expired(_exc: errors.FormExpired) -> Any:
    """A stale log-in or enrol form comes back with a fresh CSRF token and says so."""
    expired = errors.MESSAGES["form_expired"]
    if request.endpoint == "wallet.login":
        return render_template("login.html", page_error=expired, **LOGIN_PAGE), 400
    if request.endpoint == "wallet.enrol":
        return render_template("enrol.html", page_error=expired), 400
    return errors.answer(400, "form_expired")


@bp.route("/wallet/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    if request.method == "GET":
        return render_template("enrol.html")
    check_csrf()
    s = db_session()
    try:
        resident = residents.enrol(s, request.form.get("username", ""), request.form.get("password", ""), now=context.now())
        s.commit()
    except residents.EnrolError as exc:
        s.rollback()
        return render_template("enrol.html", error=exc), 400
    except IntegrityError:  # the same name enrolled by another request since it was checked
        s.rollback()
        return render_template("enrol.html", error=residents.name_taken()), 400
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
    check_csrf()
    logins.end_sessions("resident_id", Resident)
    session.clear()
    return redirect(url_for("wallet.login"))


@bp.get("/wallet/")
@login_required
def licences() -> str:
    rows = residents.licences_of(db_session(), g.account.id)
    pols = context.policies()
    now = context.now()
    items = [
        {
            "id": cred.licence_id,
            "type": LICENCE_TYPES[cred.licence_type],
            "state": "expired" if record.state == "valid" and unix(record.expires_at) <= now else record.state,
            "expires_at": record.expires_at,
            "scenarios": [pols[v.scenario] for v in sorted(cred.views, key=lambda v: v.scenario) if v.scenario in pols],
        }
        for cred, record in rows
    ]
    return render_template("licences.html", items=items, resident=g.account)


def _presentation(licence_id: str, scenario: str) -> tuple[Any, Any, Any]:
    s = db_session()
    cred = residents.licence_of(s, g.account.id, licence_id)
    policy = context.policies().get(scenario)
    view = next((v for v in cred.views if v.scenario == scenario), None) if cred else None
    if cred is None or policy is None or view is None:
        abort(404)  # also for another resident's licence: no hint that it exists
    if residents.renew_views(s, context.keys(), cred, now=int(context.now())):
        s.commit()  # views last 30 days, the licence a year: new ones as the old near their end
    presentation = present_view(view.jws, residents.device_key(g.account), licence_type=cred.licence_type,
                                scenario=scenario, now=int(context.now()))
    return cred, policy, presentation


def _timing(policy: Any, presented_at: int) -> dict[str, int]:
    freshness = int(policy.freshness_seconds)
    margin = min(int(current_app.config["QR_RENEW_MARGIN_SECONDS"]), max(1, freshness // 3))
    return {"presented_at": presented_at, "freshness": freshness,
            "fresh_until": presented_at + freshness, "renew_at": presented_at + freshness - margin}


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/wallet/licences/<licence_id>/<scenario>/qr")
@login_required
def qr_page(licence_id: str, scenario: str) -> Response:
    cred, policy, p = _presentation(licence_id, scenario)
    html = render_template("qr.html", licence=LICENCE_TYPES[cred.licence_type], policy=policy, png=_data_url(p.text),
                           qr_version=version(p.text), json_url=url_for("wallet.qr_json", licence_id=licence_id, scenario=scenario),
                           now=int(context.now()), **_timing(policy, p.presented_at))
    return _no_store(Response(html))


def _data_url(text: str) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(text)).decode("ascii")


@bp.get("/wallet/licences/<licence_id>/<scenario>/qr.json")
@login_required
def qr_json(licence_id: str, scenario: str) -> Response:
    _cred, policy, p = _presentation(licence_id, scenario)
    return _no_store(jsonify({"png": _data_url(p.text), "text": p.text, "version": version(p.text),
                              "now": int(context.now()), **_timing(policy, p.presented_at)}))


@bp.get("/wallet/licences/<licence_id>/<scenario>/qr.png")
@login_required
def qr_png(licence_id: str, scenario: str) -> Response:
    _cred, _policy, p = _presentation(licence_id, scenario)
    # a file to save or hand on: the file scale, not the page's one pixel per module
    return _no_store(Response(png_bytes(p.text, scale=QR_FILE_SCALE), mimetype="image/png"))


@bp.get("/wallet/licences/<licence_id>/<scenario>/qr.svg")
@login_required
def qr_svg(licence_id: str, scenario: str) -> Response:
    _cred, _policy, p = _presentation(licence_id, scenario)
    return _no_store(Response(svg_bytes(p.text), mimetype="image/svg+xml"))
