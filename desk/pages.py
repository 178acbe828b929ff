"""The desk's pages: the clerk scans a code (a keyboard-wedge scanner types it and Enter,
or the camera reads it, or a photo or pasted text), sees the verdict first, then the
disclosed fields, then the register form; a window matter is assembled from several
documents scanned one after another. The same blueprint serves the central service and
a stand-alone station (see :mod:`desk.source`); verification runs through the verifier
SDK, exactly as an offline desk does.

A clerk works at one desk, and a desk verifies only its own scenarios (and matters)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from typing import Any, Callable

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from issuer import LICENCE_TYPES
from issuer.service import errors, jsonbody, logins
from issuer.service.config import MAX_UPLOAD_BYTES as MAX_IMAGE_BYTES
from issuer.service.models import DeskClerk
from issuer.service.security import check_csrf, csrf_token
from issuer.views import DERIVED_LABELS
from scenarios import load_matters
from scenarios.register import RegisterError
from verifier import MalformedInput, VerificationFailed

from . import models  # noqa: F401  (the desk tables on the shared metadata)
from .clerk import SESSION_KEY, DeskView, current_clerk
from .results import RESULT_MAX_AGE, Document, TokenRefused, documents, load_progress, load_result, result_token
from .source import freshness, source

bp = Blueprint("desk", __name__, url_prefix="/desk", template_folder="templates",
               static_folder="static", static_url_path="/static")
log = logging.getLogger(__name__)
LOGIN_PAGE = {"heading": "核验台登录 Desk clerk log-in", "enrol": False}
# The camera's decoder is WebAssembly: the desk's pages allow compiling it, nothing else.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; media-src 'self' blob: mediastream:; "
       "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; frame-ancestors 'none'")


class DeskUnavailable(Exception):
    """The desk's own trust list or status lists were refused: no code can be checked."""

    def __init__(self, failed: VerificationFailed) -> None:
        super().__init__(", ".join(failed.codes))
        self.failures = failed.failures


@bp.after_request
def _headers(response: Any) -> Any:
    response.headers["Content-Security-Policy"] = CSP
    response.headers.setdefault("Permissions-Policy", "camera=(self)")
    return response


@bp.context_processor
def _freshness_everywhere() -> dict[str, Any]:
    """Every desk page shows how old the trust list and status lists are (a page that
    knows its scenario judges staleness by it; the others, the log-in page, by the most
    lenient scenario: red means no scenario accepts them)."""
    src = source()
    try:
        fresh = freshness(src.verifier(), src.now())
    except (VerificationFailed, OSError, ValueError):
        return {}
    limit = max(p.status_max_age_seconds for p in src.policies().values())
    return {"fresh": fresh, "stale": fresh.status_age is None or fresh.status_age > limit}


def _verifier() -> Any:
    try:
        return source().verifier()
    except VerificationFailed as exc:
        raise DeskUnavailable(exc) from None


def labels(licence_type: str) -> dict[str, tuple[str, str]]:
    return {**DERIVED_LABELS, **LICENCE_TYPES[licence_type].labels}


def _ordered(licence_type: str, claims: dict[str, Any]) -> dict[str, Any]:
    order = {name: i for i, name in enumerate(LICENCE_TYPES[licence_type].fields)}
    return {name: claims[name] for name in sorted(claims, key=lambda n: order.get(n, len(order)))}  # as on the card


CHOICES_KEPT = 1024  # rendered scenario and matter lists kept per app (a few per desk)


def _choices(desk: DeskView | None, allowed: dict[str, Any], scenario: str | None, matter: str | None) -> Markup:
    """The scan form's scenario and matter lists, rendered once per desk and choice: a
    window's catalogue has dozens of matters, and the page is sent after every scan."""
    matters = load_matters()
    key = (desk, scenario, matter, tuple(allowed))
    kept: dict[Any, tuple[Any, Any, Markup]] = current_app.extensions.setdefault("certfree.desk_choices", {})
    hit = kept.get(key)
    if hit is not None and hit[0] is matters and all(a is b for a, b in zip(hit[1], allowed.values())):  # still current
        return hit[2]
    shown = {}
    if desk is not None and "window" in desk.scenarios:
        shown = {i: m for i, m in matters.items() if not desk.matters or i in desk.matters}
    html = Markup(render_template("desk/choices.html", policies=allowed, matters=shown, scenario=scenario, matter=matter))
    if len(kept) >= CHOICES_KEPT:
        kept.clear()
    kept[key] = (matters, list(allowed.values()), html)
    return html


def page(status: int = 200, *, scenario: str | None = None, error: str | None = None, **extra: Any) -> Any:
    """The desk page for the clerk's desk; ``error`` is a code of :data:`errors.MESSAGES`."""
    src, desk = source(), g.get("desk")
    allowed = {n: p for n, p in src.policies().items() if desk is not None and n in desk.scenarios}
    scenario = scenario if scenario in allowed else next(iter(allowed), None)
    fresh = freshness(_verifier(), src.now()) if "desk_failures" not in extra else None
    policy = allowed.get(scenario) if scenario else None
    html = render_template(
        "desk/page.html", desk=desk, choices=_choices(desk, allowed, scenario, extra.get("matter")), scenario=scenario,
        policy=policy, fresh=fresh, stale=fresh is None or policy is None or fresh.stale(policy),
        licences=LICENCE_TYPES, labels=labels, error=errors.MESSAGES[error] if error else None, **extra)
    return html, status


@bp.errorhandler(DeskUnavailable)
def desk_unavailable(exc: DeskUnavailable) -> Any:
    log.error("desk cannot check codes: %s", exc)  # the verifier's codes only
    if errors.wants_json():
        return errors.answer(503, "desk_unavailable", failures=[f.to_json() for f in exc.failures])
    return page(503, error="desk_unavailable", desk_failures=exc.failures)


def _refused(code: str, status: int) -> Any:
    """A refused form, answered on the page it came from (with a fresh CSRF token); the
    JSON endpoint's refusals are JSON."""
    if request.endpoint == "desk.login":
        return render_template("login.html", page_error=errors.MESSAGES[code], **LOGIN_PAGE), status
    clerk = current_clerk()
    if clerk is None or errors.wants_json():
        return errors.answer(status, code)
    g.desk = clerk.desk
    return page(status, error=code)


@bp.errorhandler(errors.FormExpired)
def form_expired(_exc: errors.FormExpired) -> Any:
    return _refused("form_expired", 400)


@bp.errorhandler(413)
def too_large(_exc: Any) -> Any:
    return _refused("too_large" if errors.wants_json() else "image_too_large", 413)


def clerk_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Logged-in clerks only (the pages show personal data and write the register), and
    only at their desk: ``g.desk`` (kept in the session, :mod:`desk.clerk`); a clerk bound
    to no desk may verify nothing. Anyone else goes to the log-in page, or, asking for
    JSON, gets 401 ``login_required`` with its URL."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        clerk = current_clerk()
        if clerk is None:
            if errors.wants_json():
                return errors.answer(401, "login_required", login=url_for("desk.login"))
            return redirect(url_for("desk.login"))
        g.desk = clerk.desk
        if g.desk is None:
            return errors.answer(403, "no_desk") if errors.wants_json() else page(403, error="no_desk")
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", **LOGIN_PAGE)
    refused = logins.form_login(DeskClerk, SESSION_KEY, LOGIN_PAGE)
    return refused if refused is not None else redirect(url_for("desk.page"))


@bp.post("/logout")
def logout() -> Any:
    check_csrf()
    logins.end_sessions(SESSION_KEY, DeskClerk)
    return redirect(url_for("desk.login"))


@bp.get("/", endpoint="page")
@clerk_required
def page_view() -> Any:
    return page(scenario=request.args.get("scenario"), matter=request.args.get("matter") or None)


def _inputs() -> list[str | bytes]:
    """What the clerk handed over: a photo, or the code field (a scanner or the camera
    typed it), or pasted text, one code per line."""
    upload = request.files.get("image")
    if upload is not None and upload.filename:
        data = upload.stream.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise VerificationFailed([MalformedInput(field="image", detail="image file too large")])
        return [data]
    code = request.form.get("code", "").strip()
    if code:
        return [code]
    return [line.strip() for line in request.form.get("text", "").splitlines() if line.strip()]


def _allowed(scenario: str, matter: str | None) -> Any:
    """The refusal for a scenario or matter this desk may not verify, else None."""
    desk = g.desk
    if scenario not in source().policies():
        return page(400, error="unknown_scenario")
    if scenario not in desk.scenarios:
        return page(403, error="scenario_not_allowed")
    if matter is not None:
        if matter not in load_matters():
            return page(400, scenario=scenario, error="unknown_matter")
        if desk.matters and matter not in desk.matters:
            return page(403, scenario=scenario, error="matter_not_allowed")
    return None


@bp.post("/verify")
@clerk_required
def verify() -> Any:
    check_csrf()
    scenario = request.form.get("scenario", "")
    matter = (request.form.get("matter") or None) if scenario == "window" else None
    refused = _allowed(scenario, matter)
    if refused is not None:
        return refused
    if "switch" in request.form:  # the clerk chose another scenario or matter
        return page(scenario=scenario, matter=matter)
    verifier = _verifier()
    try:
        items = _inputs()
    except VerificationFailed as exc:
        return page(scenario=scenario, matter=matter, failed=exc.failures)
    if not items:
        return page(400, scenario=scenario, matter=matter, error="no_input")
    if matter is not None:
        return _matter_scan(verifier, matter, items)
    if len(items) > 1:
        return page(400, scenario=scenario, error="several_codes")
    try:
        result = verifier.verify(items[0], scenario=scenario)
    except VerificationFailed as exc:
        return page(scenario=scenario, failed=exc.failures)
    docs = [(result.licence_type, dict(result.claims))]
    return accepted(scenario, None, docs, source().now(), warnings=result.warnings)


@bp.get("/session.json")
@clerk_required
def session_json() -> Any:
    """For a desk's own system, after the clerk's log-in: the CSRF token to send in
    ``X-CSRF-Token``, the desk's name and the scenarios it may verify."""
    response = jsonify({"csrf": csrf_token(), "desk": g.desk.name, "scenarios": list(g.desk.scenarios)})
    response.headers["Cache-Control"] = "no-store"
    return response


MAX_JSON_BODY = 8 * 1024  # a QR holds at most 4,296 characters, and a scenario's name


def _json_refused(status: int, code: str) -> Any:
    response = errors.answer(status, code)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/verify.json")
@clerk_required
def verify_json() -> Any:
    """A desk's own system verifies a code: ``{"code": QR text, "scenario": name}`` posted
    with the clerk's session cookie and its CSRF token in ``X-CSRF-Token`` (as the desk
    page's); the answer is the verdict, with the disclosed claims or every failed check
    (its code, English and Chinese message). See issuer/service/openapi.yaml."""
    check_csrf()
    request.max_content_length = MAX_JSON_BODY  # a longer body is refused before it is read (413)
    try:
        body = jsonbody.read_object(max_depth=1)
    except jsonbody.BadJson as exc:
        response = errors.json_error(400, "bad_request", exc.message, exc.message_zh,
                                     **({"field": exc.field} if exc.field else {}))
        response.headers["Cache-Control"] = "no-store"
        return response
    scenario, code = body.get("scenario"), body.get("code")
    if not isinstance(scenario, str) or scenario not in source().policies():
        return _json_refused(400, "unknown_scenario")
    if scenario not in g.desk.scenarios:
        return _json_refused(403, "scenario_not_allowed")
    if not isinstance(code, str) or not code.strip():
        return _json_refused(400, "no_input")
    verifier = _verifier()
    try:
        result = verifier.verify(code.strip(), scenario=scenario)
    except VerificationFailed as exc:
        answer = {"verdict": "rejected", "ok": False, "scenario": scenario, "failures": [f.to_json() for f in exc.failures]}
    else:
        answer = {"verdict": "accepted", **result.to_json()}
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"  # the claims are the resident's
    return response


def _matter_scan(verifier: Any, matter_id: str, items: list[str | bytes]) -> Any:
    """Add the scanned documents to the matter being assembled; its verdict once complete."""
    now = source().now()
    progress = load_progress(request.form.get("progress", ""), load_matters()[matter_id], now)
    failed: list[Any] = []
    warnings: list[Any] = []
    for item in items:
        try:
            result = verifier.verify(item, scenario="window")
        except VerificationFailed as exc:
            failed.extend(exc.failures)
            continue
        progress.add(result.licence_type, dict(result.claims))
        warnings.extend(result.warnings)
    extra: dict[str, Any] = {"progress": progress, "check": progress.check, "failed": failed, "warnings": warnings}
    if progress.restarted:
        extra["error"] = "matter_restarted"
    if progress.check.done and not failed:
        return accepted("window", matter_id, list(progress.documents.items()), now, **extra)
    return page(scenario="window", matter=matter_id, progress_token=progress.token(), **extra)


def accepted(scenario: str, matter: str | None, docs: list[Document], verified_at: float,
             status: int = 200, **extra: Any) -> Any:
    """The accepted verdict, the disclosed fields and the register form (its one-time token)."""
    token = result_token(scenario, docs, matter, g.desk.name, verified_at)
    shown = [(t, _ordered(t, c)) for t, c in docs]
    return page(status, scenario=scenario, matter=matter, documents=shown, token=token, **extra)


@bp.post("/register")
@clerk_required
def register() -> Any:
    check_csrf()
    src = source()
    now = src.now()
    try:
        data = load_result(request.form.get("token", ""), now)
    except TokenRefused as exc:
        return page(400, error=exc.code)
    if data.get("k") != g.desk.name or data["s"] not in g.desk.scenarios:
        return page(400, error="result_invalid")  # verified at another desk
    # One register entry per verified result: the nonce is spent first, in the desk's
    # replay cache (shared by the workers), so a second submit, or a double click, finds it.
    spent = hashlib.sha256(b"certfree-desk-register\0" + data["n"].encode()).digest()
    if _verifier().replay_cache.check_and_add(spent, now + RESULT_MAX_AGE + 1, now):
        return page(409, scenario=data["s"], error="already_recorded")
    policy = src.policies()[data["s"]]
    clerk = {f.name: request.form.get(f.name, "") for f in policy.clerk_fields if request.form.get(f.name, "")}
    moment = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    docs = documents(data)
    try:
        rows = [src.register().record(policy, t, c, clerk, recorded_at=moment, matter=data["m"], desk=g.desk.name)
                for t, c in docs]
    except RegisterError as exc:  # the form again, with a fresh one-time token for the same result
        return accepted(data["s"], data["m"], docs, data["v"], 400, register_error=exc)
    except SQLAlchemyError as exc:  # locked, full, read-only: the clerk may retry with the same result
        # Only the error's class: its text holds the SQL parameters, i.e. the resident's data.
        log.error("desk register unavailable: %s", type(exc).__name__)
        return accepted(data["s"], data["m"], docs, data["v"], 503, error="register_unavailable")
    return page(scenario=data["s"], matter=data["m"], recorded=rows)




def _age(seconds: int, units: tuple[tuple[int, str], ...]) -> str:
    seconds = max(0, int(seconds))
    for size, unit in units:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}{units[-1][1]}"


@bp.app_template_filter("age_zh")
def age_zh(seconds: int) -> str:
    return _age(seconds, ((86400, "天"), (3600, "小时"), (60, "分钟"), (1, "秒")))


@bp.app_template_filter("age_en")
def age_en(seconds: int) -> str:
    return _age(seconds, ((86400, " d"), (3600, " h"), (60, " min"), (1, " s")))


from . import book  # noqa: E402,F401  (the register's pages, on this blueprint)

__all__ = ["bp", "page", "accepted", "clerk_required", "labels", "DeskUnavailable", "LOGIN_PAGE", "CSP"]
