"""The issuer operations behind the API: operators, issuing with an idempotency key,
status changes, listing, and the audit log. Functions take a ``session``; the view commits.

Issuing, status changes and status lists go through ``issuer.records``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Collection, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import records
from issuer.db import unix, utc
from keys import AUTHORITIES, KeyDir

from .models import AuditEntry, IdempotencyRecord, LicenceRecord, Operator, Resident
from .residents import store_issued
from .security import new_operator_token, token_matches, token_operator_id

STATES = {"revoke": "revoked", "suspend": "suspended", "reinstate": "valid"}


class Forbidden(Exception):
    """The operator's scope does not cover this licence type or authority."""


class Conflict(Exception):
    """The idempotency key was used before with a different request."""


def audit(session: Session, actor: str, action: str, licence_id: str | None, *, now: float, outcome: str = "ok") -> None:
    session.add(AuditEntry(at=utc(now), actor=actor, action=action, licence_id=licence_id, outcome=outcome))


# ---- operators -------------------------------------------------------------------------


def create_operator(session: Session, name: str, authority: str, licence_types: list[str] | None = None, *, now: float) -> tuple[Operator, str]:
    """A new operator; returns it and its token (shown once, stored only as a hash)."""
    allowed = AUTHORITIES[authority].licence_types
    types = list(licence_types) if licence_types is not None else list(allowed)
    if not set(types) <= set(allowed):
        raise ValueError(f"{authority} may not issue {sorted(set(types) - set(allowed))}")
    operator_id, token, digest = new_operator_token()
    op = Operator(id=operator_id, name=name, authority=authority, licence_types=types, token_hash=digest, created_at=utc(now))
    session.add(op)
    audit(session, "system", "operator.create", None, now=now)
    return op, token


def operator_for_token(session: Session, token: str) -> Operator | None:
    operator_id = token_operator_id(token)
    if operator_id is None:
        return None
    op = session.get(Operator, operator_id)
    if op is None or op.disabled or not token_matches(token, op.token_hash):
        return None
    return op


# ---- issuing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueOutcome:
    record: LicenceRecord
    replayed: bool  # True: an earlier request with this idempotency key issued it


def request_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def find_idempotent(session: Session, op: Operator, key: str, body_hash: str) -> LicenceRecord | None:
    row = session.scalar(select(IdempotencyRecord).where(IdempotencyRecord.operator_id == op.id, IdempotencyRecord.key == key))
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise Conflict(key)
    return session.get(LicenceRecord, row.licence_id)


def issue_for_resident(
    session: Session, keys: KeyDir, op: Operator, resident: Resident, licence_type: str,
    claims: Mapping[str, Any], *, idempotency_key: str, body_hash: str, now: float,
) -> LicenceRecord:
    """Validate, sign, record and hold the licence for the resident's phone to fetch.
    Raises ``Forbidden`` outside the operator's scope and ``ClaimsInvalid`` for bad claims."""
    if licence_type not in op.licence_types:
        raise Forbidden(licence_type)
    # Bound to the resident's phone; with none enrolled yet, to no key (no views) until one is.
    device = resident.device
    issued = records.issue_licence(session, keys, licence_type, claims,
                                   holder_jwk=device.public_jwk if device else None,
                                   holder=device.thumbprint if device else None, now=int(now))
    record = session.get(LicenceRecord, issued.jti)
    assert record is not None
    store_issued(session, resident, licence_type, issued.jti, issued.credential, dict(issued.views))
    session.add(IdempotencyRecord(operator_id=op.id, key=idempotency_key, request_hash=body_hash,
                                  licence_id=issued.jti, created_at=utc(now)))
    audit(session, f"operator:{op.id}", "licence.issue", issued.jti, now=now)
    return record


def licence_in_scope(session: Session, op: Operator, licence_id: str) -> LicenceRecord | None:
    record = session.get(LicenceRecord, licence_id)
    if record is None:
        return None
    if record.authority != op.authority or record.licence_type not in op.licence_types:
        raise Forbidden(record.licence_type)
    return record


def change_status(session: Session, op: Operator, record: LicenceRecord, action: str, reason: str | None, *,
                  now: float, only_from: Collection[str] | None = None) -> LicenceRecord:
    """Raises ``records.StateConflict`` if the licence is no longer in one of ``only_from``."""
    default = {"revoke": "unspecified", "suspend": "unspecified", "reinstate": "reinstated"}[action]
    record = records.set_status(session, record.id, STATES[action], reason=reason or default, now=int(now),
                                only_from=only_from)
    audit(session, f"operator:{op.id}", f"licence.{action}", record.id, now=now)
    return record


def list_for(session: Session, op: Operator, licence_type: str | None = None, state: str | None = None, *,
             after: str | None = None, limit: int = 100) -> list[LicenceRecord]:
    """Up to ``limit`` of the operator's licences with an id above ``after``, in id order
    (the primary key: a page costs the same at the millionth licence as at the first)."""
    stmt = select(LicenceRecord).where(LicenceRecord.authority == op.authority,
                                       LicenceRecord.licence_type.in_(op.licence_types))
    if licence_type:
        stmt = stmt.where(LicenceRecord.licence_type == licence_type)
    if state:
        stmt = stmt.where(LicenceRecord.state == state)
    if after is not None:
        stmt = stmt.where(LicenceRecord.id > after)
    return list(session.scalars(stmt.order_by(LicenceRecord.id).limit(limit)))


def record_json(record: LicenceRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "licence_type": record.licence_type,
        "authority": record.authority,
        "kid": record.kid,
        "issued_at": unix(record.issued_at),
        "expires_at": unix(record.expires_at),
        "state": record.state,
        "reason": record.reason,
        "status": {"list": record.status_list, "idx": record.status_idx} if record.status_list else None,
    }

