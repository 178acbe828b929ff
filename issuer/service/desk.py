"""The front desk's verify page: pick the scenario (and the window matter), upload a photo
or screenshot of the QR code or paste its text; see the result in Chinese and English with
every failed check; for an accepted presentation, the disclosed fields and the register
form. Verification runs through the verifier SDK, exactly as an offline desk would."""

from __future__ import annotations

import datetime as dt
from typing import Any


from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from issuer import LICENCE_TYPES
from issuer.views import DERIVED_LABELS
from scenarios import load_matters
from scenarios.register import RegisterError
from verifier import MalformedInput, VerificationFailed, verify_matter

from . import context, logins
from .models import DeskClerk
from .config import MAX_UPLOAD_BYTES as MAX_IMAGE_BYTES
from .security import check_csrf

bp = Blueprint("desk", __name__, url_prefix="/desk")
RESULT_MAX_AGE = 10 * 60  # a verified result may be registered within 10 minutes


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="certfree-desk-register")


def _labels(licence_type: str) -> dict[str, tuple[str, str]]:
    return {**DERIVED_LABELS, **LICENCE_TYPES[licence_type].labels}


def _form(**extra: Any) -> str:
    return render_template("desk.html", policies=context.policies(), matters=load_matters(), **extra)


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
    session.pop("desk_clerk_id", None)
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
        return _form(scenario="hotel", error="scenario"), 400
    verifier = context.desk_verifier()
    try:
        item = _input()
        if item is None:
            return _form(scenario=scenario, error="input"), 400
        check = None
        if scenario == "window" and matter:
            if matter not in load_matters():
                return _form(scenario=scenario, error="matter"), 400
            outcome = verify_matter(verifier, matter, [item])
            if outcome.rejected:
                raise outcome.rejected[0]
            result, check = outcome.verified[0], outcome.check
        else:
            result = verifier.verify(item, scenario=scenario)
    except VerificationFailed as exc:
        return _form(scenario=scenario, matter=matter, failed=exc.failures)
    token = _serializer().dumps({"s": scenario, "t": result.licence_type, "c": dict(result.claims), "m": matter})
    return _accepted(scenario, matter, result.licence_type, dict(result.claims), token,
                     warnings=result.warnings, check=check)


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
    except BadSignature:
        return _form(scenario="hotel", error="token"), 400
    policy = context.policies()[data["s"]]
    clerk = {f.name: request.form.get(f.name, "") for f in policy.clerk_fields if request.form.get(f.name, "")}
    moment = dt.datetime.fromtimestamp(context.now(), dt.timezone.utc)
    try:
        row = context.desk_register().record(policy, data["t"], data["c"], clerk, recorded_at=moment, matter=data["m"])
    except RegisterError as exc:
        token = request.form.get("token", "")
        return _accepted(data["s"], data["m"], data["t"], data["c"], token, register_error=exc), 400
    return _form(scenario=data["s"], recorded=row)
