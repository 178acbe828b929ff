"""The front desk's verify page: pick the scenario (and the window matter), upload a photo
or screenshot of the QR code or paste its text; see the result in Chinese and English with
every failed check; for an accepted presentation, the disclosed fields and the register
form. Verification runs through the verifier SDK, exactly as an offline desk would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import functools
from typing import Callable

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from sqlalchemy.exc import IntegrityError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from issuer import LICENCE_TYPES
from issuer.views import DERIVED_LABELS
from scenarios import load_matters
from scenarios.register import RegisterError
from verifier import MalformedInput, VerificationFailed, verify_matter

from . import context, residents
from .db import db_session
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


def clerk_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """The desk page is for logged-in clerks only: it shows personal data and writes the
    register."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        clerk_id = session.get("desk_clerk_id")
        if not clerk_id or db_session().get(DeskClerk, clerk_id) is None:
            return redirect(url_for("desk.login"))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("desk_login.html")
    check_csrf()
    s, cfg = db_session(), current_app.config
    try:
        result = residents.authenticate(s, request.form.get("username", ""), request.form.get("password", ""),
                                        now=context.now(), max_failures=cfg["LOGIN_MAX_FAILURES"],
                                        window=cfg["LOGIN_WINDOW_SECONDS"], client=request.remote_addr or "",
                                        model=DeskClerk)
        s.commit()
    except IntegrityError:
        s.rollback()
        return render_template("desk_login.html", failed=True), 401
    if result.throttled:
        return render_template("desk_login.html", throttled=True), 429, {"Retry-After": str(cfg["LOGIN_WINDOW_SECONDS"])}
    if result.resident is None:
        return render_template("desk_login.html", failed=True), 401
    session.clear()  # no session fixation: a fresh session (and CSRF token) per log-in
    session.permanent = True
    session["desk_clerk_id"] = result.resident.id
    return redirect(url_for("desk.page"))


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
