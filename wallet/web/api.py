"""The JSON API the resident's phone calls when it has a network: a challenge to sign,
enrolling the phone as the resident's device, fetching (and renewing) its views, and
seeing and removing devices. Every call needs the resident's log-in; every POST also
needs the session's CSRF token in ``X-CSRF-Token``, and enrolment and fetching views
need a fresh signature by the device key (proof of possession).

Errors are the service's JSON errors: ``{"error": code, "message", "message_zh"}``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from issuer.db import unix
from issuer.service import context, devices, errors, jsonbody, logins, residents
from issuer.service.db import db_session
from issuer.service.models import Resident
from issuer.service.security import check_csrf, csrf_token

from . import bp
from .faces import card_face
from .pages import no_store

login_required = logins.login_required(Resident, "resident_id", "wallet.login")
MAX_BODY = 4096  # a JWK, a challenge and a signature


def _refused(status: int, code: str) -> Any:
    return no_store(errors.answer(status, code))  # JSON: the /wallet/api/ paths want JSON


def _body() -> dict[str, Any] | None:
    """The posted JSON object, or None (a CSRF token that does not match the session's, or
    not a small JSON object)."""
    try:
        check_csrf()
    except errors.FormExpired:
        return None
    if (request.content_length or 0) > MAX_BODY:
        return None
    try:
        return jsonbody.read_object(max_depth=4)
    except jsonbody.BadJson:
        return None


@bp.get("/wallet/api/challenge")
@login_required
def challenge() -> Response:
    """A challenge for the device to sign, and the session's CSRF token for the POST after."""
    return no_store(jsonify({"challenge": devices.new_challenge(current_app.config["SECRET_KEY"], g.account.id,
                                                                 now=context.now()),
                              "csrf": csrf_token(), "now": int(context.now()),
                              "expires_in": devices.CHALLENGE_SECONDS}))


def _possession(purpose: str, body: dict[str, Any]) -> dict[str, str]:
    return devices.check_possession(current_app.config["SECRET_KEY"], g.account.id, purpose, body.get("jwk"),
                                    body.get("challenge"), body.get("signature"), now=context.now())


@bp.post("/wallet/api/devices")
@login_required
def enrol_device() -> Any:
    """Enrol this phone: ``{"jwk", "challenge", "signature", "label"}``. The resident's
    licences are bound to its key; a phone enrolled before stops getting codes."""
    body = _body()
    if body is None:
        return _refused(400, "form_expired")
    s = db_session()
    try:
        jwk = _possession("enrol", body)
        device = devices.enrol_device(s, context.keys(), g.account, jwk, body.get("label"), now=context.now())
        s.commit()
    except devices.DeviceError as exc:
        s.rollback()
        return _refused(400 if exc.code != "device_key_taken" else 409, exc.code)
    except IntegrityError:  # another enrolment of this resident won the race: one active device
        s.rollback()
        return _refused(409, "device_enrol_conflict")
    return no_store(jsonify({"device": devices.device_json(device, active=device)}))


@bp.get("/wallet/api/devices")
@login_required
def list_devices() -> Response:
    active = g.account.device
    return no_store(jsonify({"devices": [devices.device_json(d, active=active) for d in g.account.devices]}))


@bp.post("/wallet/api/devices/<int:device_id>/remove")
@login_required
def remove_device(device_id: int) -> Any:
    if _body() is None:
        return _refused(400, "form_expired")
    s = db_session()
    try:
        device = devices.remove_device(s, context.keys(), g.account, device_id, now=context.now())
        s.commit()
    except devices.DeviceError as exc:
        s.rollback()
        return _refused(404, exc.code)
    return no_store(jsonify({"device": devices.device_json(device, active=g.account.device)}))


@bp.post("/wallet/api/sync")
@login_required
def sync() -> Any:
    """The phone's views, renewed where they end within 7 days, for the active device only:
    ``{"jwk", "challenge", "signature"}`` signed by it. Any other key (a phone replaced or
    removed) gets 409 ``device_not_enrolled``: its views are revoked."""
    body = _body()
    if body is None:
        return _refused(400, "form_expired")
    try:
        jwk = _possession("sync", body)
    except devices.DeviceError as exc:
        return _refused(400, exc.code)
    active = g.account.device
    if active is None or active.public_jwk.get("x") != jwk["x"]:
        return _refused(409, "device_not_enrolled")
    s = db_session()
    now = context.now()
    renewed = False
    items = []
    for row, record in residents.licences_of(s, g.account.id):
        renewed |= residents.renew_views(s, context.keys(), row, now=int(now))
        items.append(_licence_json(row, record, now, bound=record.holder == active.thumbprint))
    if renewed:
        s.commit()
    policies = context.policies()
    scenarios = {name: {"title_zh": p.title_zh, "title_en": p.title_en, "freshness": int(p.freshness_seconds)}
                 for name, p in sorted(policies.items())}
    return no_store(jsonify({"now": int(now), "device": devices.device_json(active, active=active),
                              "licences": items, "scenarios": scenarios}))


def _licence_json(row: Any, record: Any, now: float, *, bound: bool) -> dict[str, Any]:
    """A licence for the phone; its views only if they are bound to this phone's key (a
    licence revoked while bound to an older phone shows its state, not a code)."""
    expires = unix(record.expires_at)
    state = "expired" if record.state == "valid" and expires <= now else record.state
    return {
        "id": row.licence_id,
        "type": row.licence_type,
        "state": state,
        "expires_at": expires,
        "face": card_face(row.licence_type, row.credential),
        "views": {v.scenario: v.jws for v in sorted(row.views, key=lambda v: v.scenario)} if bound else {},
    }
