"""Issuer API (JSON) for operators: issue, revoke/suspend/reinstate, list.

Authentication: ``Authorization: Bearer cfo_<id>.<secret>``; the token is stored only as its
SHA-256 hash and compared in constant time. Each operator is scoped to one authority and
its licence types. Every action, allowed or refused, goes to the audit log.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from issuer import LICENCE_TYPES, ClaimsInvalid, records

from . import context, errors, issuing, jsonbody, metrics
from .db import db_session
from .models import Resident

bp = Blueprint("api", __name__, url_prefix="/api/v1")

TRANSITIONS = {"revoke": {"valid", "suspended"}, "suspend": {"valid"}, "reinstate": {"suspended"}}
STATES = ("valid", "revoked", "suspended")
STATES_ZH = {"valid": "有效", "revoked": "已注销", "suspended": "已暂停"}
ACTIONS_ZH = {"revoke": "注销", "suspend": "暂停", "reinstate": "恢复"}
# Whole-string patterns, used with fullmatch: "$" would let a final newline through.
_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{8,128}")


def error(status: int, code: str, message: str, message_zh: str, **extra: Any) -> Any:
    response = errors.json_error(status, code, message, message_zh, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="certfree-issuer"'
    return response


LIST_PAGE, LIST_PAGE_MAX = 100, 1000  # licences a page of GET /licences holds: by default, at most
_LICENCE_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # a credential's jti (base64url), as licences.id holds it
API_MAX_BODY = 64 * 1024  # a licence request is a few KB; the 12 MB limit is for the desk's image uploads


@bp.before_request
def cap_body() -> None:
    request.max_content_length = API_MAX_BODY  # reading more raises 413, answered below


@bp.errorhandler(413)
def too_large(_exc: Any) -> Any:
    return error(413, "too_large", f"the request body is larger than {API_MAX_BODY // 1024} KB",
                 f"请求体超过 {API_MAX_BODY // 1024} KB")


@bp.before_request
def authenticate() -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    op = issuing.operator_for_token(db_session(), token.strip()) if scheme.lower() == "bearer" else None
    if op is None:
        return error(401, "unauthorised", "a valid operator token is required", "需要有效的操作员令牌")
    g.operator = op
    return None


@bp.after_request
def no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    return response


def _denied(action: str, licence_id: str | None, licence_type: str) -> Any:
    session = db_session()
    issuing.audit(session, f"operator:{g.operator.id}", action, licence_id, now=context.now(), outcome="denied")
    session.commit()
    return error(403, "forbidden", f"this operator may not act on {licence_type}", "该操作员无权处理此类证照",
                 field="licence_type")


@bp.post("/licences")
def issue_licence() -> Any:
    key = request.headers.get("Idempotency-Key", "")
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        return error(400, "idempotency_key", "Idempotency-Key header required (8-128 visible ASCII characters)",
                     "需要 Idempotency-Key 请求头（8至128个可见ASCII字符）", field="Idempotency-Key")
    try:
        body = jsonbody.read_object()
    except jsonbody.BadJson as exc:
        return _bad_json(exc)
    for name, kind in (("resident_id", str), ("licence_type", str), ("claims", dict)):
        if not isinstance(body.get(name), kind):
            return error(400, "field_missing", f"{name} missing or of the wrong type", f"缺少{name}或类型错误", field=name)
    licence_type = body["licence_type"]
    if licence_type not in LICENCE_TYPES:
        return error(400, "unknown_type", "unknown licence type", "未知证照类型", field="licence_type")
    session, op, now = db_session(), g.operator, context.now()
    if licence_type not in op.licence_types:
        return _denied("licence.issue", None, licence_type)
    body_hash = issuing.request_hash(body)
    try:
        earlier = issuing.find_idempotent(session, op, key, body_hash)
    except issuing.Conflict:
        return _idempotency_conflict()
    if earlier is not None:
        return _issued(earlier, replayed=True)
    resident = session.get(Resident, body["resident_id"])
    if resident is None:
        return error(404, "no_resident", "no such resident", "无此居民", field="resident_id")
    try:
        record = issuing.issue_for_resident(session, context.keys(), op, resident, licence_type, body["claims"],
                                            idempotency_key=key, body_hash=body_hash, now=now)
        session.commit()
        metrics.licence_issued(licence_type)
    except ClaimsInvalid as exc:
        session.rollback()
        errors = [{"field": e.field, "code": e.code, "message": e.message, "message_zh": e.message_zh} for e in exc.errors]
        return error(422, "claims_invalid", "the claims are invalid", "证照信息不合格", errors=errors)
    except IntegrityError:  # a concurrent request with the same key committed first
        session.rollback()
        try:
            earlier = issuing.find_idempotent(session, op, key, body_hash)
        except issuing.Conflict:  # ... and it was a different request
            return _idempotency_conflict()
        if earlier is None:
            raise
        return _issued(earlier, replayed=True)
    return _issued(record, replayed=False)


def _idempotency_conflict() -> Any:
    return error(422, "idempotency_conflict", "this Idempotency-Key was used for a different request",
                 "该幂等键已用于不同的请求", field="Idempotency-Key")


def _issued(record: Any, *, replayed: bool) -> Any:
    response = jsonify(issuing.record_json(record))
    response.status_code = 200 if replayed else 201
    response.headers["Location"] = f"/api/v1/licences/{record.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/licences")
def list_licences() -> Any:
    """One page of the operator's licences, in licence id order: ``limit`` of them (default
    LIST_PAGE, at most LIST_PAGE_MAX) after the id ``after``; ``next`` is the ``after`` of
    the next page, null on the last. A city's authority holds millions: never all at once."""
    licence_type = request.args.get("licence_type") or None
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        return error(400, "unknown_state", f"state must be one of {', '.join(STATES)}",
                     "state 须为 valid（有效）、revoked（已注销）或 suspended（已暂停）", field="state")
    limit_text = request.args.get("limit") or str(LIST_PAGE)
    if not limit_text.isascii() or not limit_text.isdigit() or not 1 <= int(limit_text) <= LIST_PAGE_MAX:
        return error(400, "bad_limit", f"limit must be a whole number from 1 to {LIST_PAGE_MAX}",
                     f"limit 须为 1 至 {LIST_PAGE_MAX} 的整数", field="limit")
    after = request.args.get("after") or None
    if after is not None and not _LICENCE_ID.fullmatch(after):
        return error(400, "bad_after", "after must be a licence id (the next value of the page before)",
                     "after 须为证照编号（上一页返回的 next 值）", field="after")
    limit = int(limit_text)
    session = db_session()
    records = issuing.list_for(session, g.operator, licence_type, state, after=after, limit=limit + 1)
    issuing.audit(session, f"operator:{g.operator.id}", "licence.list", None, now=context.now())
    session.commit()
    page, more = records[:limit], len(records) > limit
    return jsonify({"licences": [issuing.record_json(r) for r in page], "next": page[-1].id if more else None})


@bp.get("/licences/<licence_id>")
def get_licence(licence_id: str) -> Any:
    session = db_session()
    try:
        record = issuing.licence_in_scope(session, g.operator, licence_id)
    except issuing.Forbidden as exc:
        return _denied("licence.read", licence_id, str(exc))
    if record is None:
        return error(404, "not_found", "no such licence", "无此证照", field="licence_id")
    return jsonify(issuing.record_json(record))


def _bad_json(exc: jsonbody.BadJson) -> Any:
    extra = {"field": exc.field} if exc.field else {}
    return error(400, "bad_json", exc.message, exc.message_zh, **extra)


def change_status(licence_id: str, action: str) -> Any:
    try:
        body = jsonbody.read_object(optional=True)
    except jsonbody.BadJson as exc:
        return _bad_json(exc)
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or not _REASON.fullmatch(reason)):
        return error(400, "reason", "reason must be a short code such as 'lost' or 'stolen'",
                     "原因须为简短代码，如 lost、stolen", field="reason")
    session = db_session()
    try:
        record = issuing.licence_in_scope(session, g.operator, licence_id)
    except issuing.Forbidden as exc:
        return _denied(f"licence.{action}", licence_id, str(exc))
    if record is None:
        return error(404, "not_found", "no such licence", "无此证照", field="licence_id")
    try:
        record = issuing.change_status(session, g.operator, record, action, reason, now=context.now(),
                                       only_from=TRANSITIONS[action])
    except records.StateConflict as conflict:  # checked in the UPDATE itself: no race
        session.rollback()
        return error(409, "state", f"cannot {action} a licence that is {conflict.state}",
                     f"证照当前状态为{STATES_ZH.get(conflict.state, '未知')}，不能{ACTIONS_ZH[action]}", field="state")
    session.commit()
    context.sign_lists_of(record.id)
    return jsonify(issuing.record_json(record))


for _action in TRANSITIONS:  # POST /licences/<id>/revoke, /suspend, /reinstate
    bp.add_url_rule(f"/licences/<licence_id>/{_action}", endpoint=f"licence_{_action}", view_func=change_status,
                    methods=["POST"], defaults={"action": _action})
