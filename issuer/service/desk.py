"""The front desk's verify page: pick the scenario (and the window matter), upload a photo
or screenshot of the QR code or paste its text; see the result in Chinese and English with
every failed check; for an accepted presentation, the disclosed fields and the register
form. Verification runs through the verifier SDK, exactly as an offline desk would."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError

from issuer import LICENCE_TYPES
from issuer.views import DERIVED_LABELS
from scenarios import load_matters
from scenarios.register import RegisterError
from verifier import MalformedInput, VerificationFailed, verify_matter

from . import context, errors, logins
from .models import DeskClerk
from .config import MAX_UPLOAD_BYTES as MAX_IMAGE_BYTES
from .security import check_csrf

bp = Blueprint("desk", __name__, url_prefix="/desk")
log = logging.getLogger(__name__)
RESULT_MAX_AGE = 10 * 60  # a verified result may be registered within 10 minutes, once


class DeskUnavailable(Exception):
    """The desk's own trust list or status lists were refused: no code can be checked."""

    def __init__(self, failed: VerificationFailed) -> None:
        super().__init__(", ".join(failed.codes))
        self.failures = failed.failures


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="certfree-desk-register")


def _labels(licence_type: str) -> dict[str, tuple[str, str]]:
    return {**DERIVED_LABELS, **LICENCE_TYPES[licence_type].labels}


def _form(error: str | None = None, **extra: Any) -> str:
    """The desk page; ``error`` is a code from :data:`errors.MESSAGES`, shown in both languages."""
    return render_template("desk.html", policies=context.policies(), matters=load_matters(),
                           error=errors.MESSAGES[error] if error else None, **extra)


def _verifier() -> Any:
    try:
        return context.desk_verifier()
    except VerificationFailed as exc:
        raise DeskUnavailable(exc) from None


@bp.errorhandler(DeskUnavailable)
def desk_unavailable(exc: DeskUnavailable) -> Any:
    log.error("desk cannot check codes: %s", exc)  # the verifier's codes only
    return _form(scenario="hotel", error="desk_unavailable", desk_failures=exc.failures), 503


def _refused(code: str, status: int) -> Any:
    """A refused form, answered on the page it came from (with a fresh CSRF token)."""
    if request.endpoint == "desk.login":
        return render_template("login.html", page_error=errors.MESSAGES[code], **LOGIN_PAGE), status
    if logins.current(DeskClerk, "desk_clerk_id") is None:
        return errors.answer(status, code)
    return _form(scenario="hotel", error=code), status


@bp.errorhandler(errors.FormExpired)
def form_expired(_exc: errors.FormExpired) -> Any:
    return _refused("form_expired", 400)


@bp.errorhandler(413)
def too_large(_exc: Any) -> Any:
    return _refused("image_too_large", 413)


# The desk page is for logged-in clerks only: it shows personal data and writes the register.
clerk_required = logins.login_required(DeskClerk, "desk_clerk_id", "desk.login")
LOGIN_PAGE = {"heading": "核验台登录 Desk clerk log-in", "enrol": False}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", **LOGIN_PAGE)
    refused = logins.form_login(DeskClerk, "desk_clerk_id", LOGIN_PAGE)
    return refused if refused is not None else redirect(url_for("desk.page"))


@bp.post("/logout")
def logout() -> Any:
    check_csrf()
    logins.end_sessions("desk_clerk_id", DeskClerk)
    return redirect(url_for("desk.login"))


@bp.get("/")
@clerk_required
def page() -> str:
    return _form(scenario=request.args.get("scenario", "hotel"))


def _input() -> str | bytes | None:
    upload = request.files.get("image")
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise VerificationFailed([MalformedInput(field="image", detail="image file too large")])
        return data
    text = request.form.get("text", "").strip()
    return text or None


@bp.post("/verify")
@clerk_required
def verify() -> Any:
    check_csrf()
    scenario = request.form.get("scenario", "")
    matter = request.form.get("matter") or None
    if scenario not in context.policies():
        return _form(scenario="hotel", error="unknown_scenario"), 400
    verifier = _verifier()
    try:
        item = _input()
        if item is None:
            return _form(scenario=scenario, error="no_input"), 400
        check = None
        if scenario == "window" and matter:
            if matter not in load_matters():
                return _form(scenario=scenario, error="unknown_matter"), 400
            outcome = verify_matter(verifier, matter, [item])
            if outcome.rejected:
                raise outcome.rejected[0]
            result, check = outcome.verified[0], outcome.check
        else:
            result = verifier.verify(item, scenario=scenario)
    except VerificationFailed as exc:
        return _form(scenario=scenario, matter=matter, failed=exc.failures)
    token = _result_token(scenario, result.licence_type, dict(result.claims), matter, context.now())
    return _accepted(scenario, matter, result.licence_type, dict(result.claims), token,
                     warnings=result.warnings, check=check)


def _result_token(scenario: str, licence_type: str, claims: dict[str, Any], matter: str | None, verified_at: float) -> str:
    """The signed result the register form carries: good for one register entry ("n", a
    nonce spent when it is recorded) within RESULT_MAX_AGE of the verification ("v")."""
    return _serializer().dumps({"s": scenario, "t": licence_type, "c": claims, "m": matter,
                                "v": verified_at, "n": secrets.token_urlsafe(16)})


def _accepted(scenario: str, matter: str | None, licence_type: str, claims: dict[str, Any], token: str, **extra: Any) -> str:
    order = {name: i for i, name in enumerate(LICENCE_TYPES[licence_type].fields)}
    claims = {name: claims[name] for name in sorted(claims, key=lambda n: order.get(n, len(order)))}  # as on the card
    return _form(scenario=scenario, matter=matter, claims=claims, policy=context.policies()[scenario],
                 licence=LICENCE_TYPES[licence_type], labels=_labels(licence_type), token=token, **extra)


@bp.post("/register")
@clerk_required
def register() -> Any:
    check_csrf()
    try:
        data = _serializer().loads(request.form.get("token", ""), max_age=RESULT_MAX_AGE)
    except SignatureExpired:
        return _form(scenario="hotel", error="result_expired"), 400
    except BadSignature:
        return _form(scenario="hotel", error="result_invalid"), 400
    now = context.now()
    if not isinstance(data.get("n"), str) or not isinstance(data.get("v"), (int, float)):
        return _form(scenario="hotel", error="result_invalid"), 400
    if now - data["v"] > RESULT_MAX_AGE:
        return _form(scenario=data.get("s", "hotel"), error="result_expired"), 400
    # One register entry per verified result: the nonce is spent first, in the desk's
    # replay cache (shared by the workers), so a second submit, or a double click, finds it.
    spent = hashlib.sha256(b"certfree-desk-register\0" + data["n"].encode()).digest()
    if _verifier().replay_cache.check_and_add(spent, now + RESULT_MAX_AGE + 1, now):
        return _form(scenario=data["s"], error="already_recorded"), 409
    policy = context.policies()[data["s"]]
    clerk = {f.name: request.form.get(f.name, "") for f in policy.clerk_fields if request.form.get(f.name, "")}
    moment = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    try:
        row = context.desk_register().record(policy, data["t"], data["c"], clerk, recorded_at=moment, matter=data["m"])
    except RegisterError as exc:  # the form again, with a fresh one-time token for the same result
        token = _result_token(data["s"], data["t"], data["c"], data["m"], data["v"])
        return _accepted(data["s"], data["m"], data["t"], data["c"], token, register_error=exc), 400
    except SQLAlchemyError as exc:  # locked, full, read-only: the clerk may retry with the same result
        # Only the error's class: its text holds the SQL parameters, i.e. the resident's data.
        log.error("desk register unavailable: %s", type(exc).__name__)
        token = _result_token(data["s"], data["t"], data["c"], data["m"], data["v"])
        return _accepted(data["s"], data["m"], data["t"], data["c"], token, error="register_unavailable"), 503
    return _form(scenario=data["s"], recorded=row)
