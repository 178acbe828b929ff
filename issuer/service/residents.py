"""Residents of the web wallet: enrolment, log-in with throttling, and the licences the
service holds for them. Functions take a ``session``; the caller commits. Their devices
are in :mod:`issuer.service.devices`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.credential import VIEW_RENEW_DAYS
from issuer.db import utc
from issuer.records import RecordError, refresh_views
from keys import KeyDir
from wallet.store import views_end_within

from .models import (
    DeskClerk,
    LicenceRecord,
    Resident,
    WalletCredential,
    WalletView,
)
from . import login_policy, throttle
from .security import check_password, hash_password

EnrolError = login_policy.PolicyRefused  # a refused enrolment names the field, in both languages


@dataclass(frozen=True)
class LoginResult:
    resident: Resident | DeskClerk | None  # the account that logged in
    throttled: bool


_Account = TypeVar("_Account", Resident, DeskClerk)


def name_taken() -> EnrolError:
    """The error for a name that is already an account's (checked first; or, for a race, found
    when the insert fails)."""
    return EnrolError("username", "already taken", "用户名已被使用")


def _new_account(session: Session, model: type[_Account], username: str, password: str, now: float) -> _Account:
    """A resident or desk clerk: the name and password checked (``login_policy``), the name
    not yet taken, nor a name it can pass for."""
    username = login_policy.check_new_username(username)
    login_policy.check_new_password(password, username)
    if session.scalar(select(model.id).where(model.username == username)) is not None:
        raise name_taken()
    skeleton = login_policy.latin_skeleton(username)
    if skeleton != username and session.scalar(select(model.id).where(model.username == skeleton)) is not None:
        raise EnrolError("username", "too like a name that is already taken", "与已有用户名过于相似")
    return model(id=secrets.token_hex(8), username=username, password_hash=hash_password(password), created_at=utc(now))


def enrol(session: Session, username: str, password: str, *, now: float) -> Resident:
    """A new resident account, with no device yet: licences issued to it wait, bound to no
    key, until the resident's phone enrols (:func:`issuer.service.devices.enrol_device`)."""
    resident = _new_account(session, Resident, username, password, now)
    session.add(resident)
    session.flush()
    return resident


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: float,
    limits: throttle.Limits,
    client: str = "",
    device_nonce: str | None = None,
    model: type[Resident] | type[DeskClerk] = Resident,
) -> LoginResult:
    """Check a log-in, throttled as :mod:`issuer.service.throttle` says: a browser with the
    account's device cookie (``device_nonce``) on its own failures only; any other client
    per address and, with growing delays, per account. A throttled attempt is refused even
    with the right password. Every attempt is counted, and committed, before the password is
    checked (the check is slow on purpose); a right password then takes its attempt back."""
    counted = throttle.attempt(session, model.__tablename__, username, client, device_nonce, now=now, limits=limits)
    session.commit()  # no lock held through the password check
    if counted.throttled:
        return LoginResult(None, True)
    # the name as stored (RFC 8265), or as typed for an account older than that rule
    prepared, typed = login_policy.prepare_username(username), username.strip()
    names = {prepared or typed, typed}
    rows: list[Resident | DeskClerk] = list(session.scalars(select(model).where(model.username.in_(names))))
    found = {a.username: a for a in rows}
    account = found.get(prepared or "") or found.get(typed)
    if check_password(account.password_hash if account else None, password):
        throttle.succeeded(session, counted)
        return LoginResult(account, False)
    return LoginResult(None, False)


def add_clerk(session: Session, username: str, password: str, *, now: float) -> DeskClerk:
    """A new desk clerk (same rules for names and passwords as residents)."""
    clerk = _new_account(session, DeskClerk, username, password, now)
    session.add(clerk)
    session.flush()
    return clerk


def store_issued(session: Session, resident: Resident, licence_type: str, jti: str, credential: str, views: dict[str, str]) -> None:
    row = WalletCredential(licence_id=jti, resident_id=resident.id, licence_type=licence_type, credential=credential)
    row.views = [WalletView(scenario=name, jws=jws) for name, jws in views.items()]
    session.add(row)


def licences_of(session: Session, resident_id: str) -> list[tuple[WalletCredential, LicenceRecord]]:
    stmt = (select(WalletCredential, LicenceRecord)
            .join(LicenceRecord, LicenceRecord.id == WalletCredential.licence_id)
            .where(WalletCredential.resident_id == resident_id)
            .order_by(LicenceRecord.issued_at))
    return [(c, r) for c, r in session.execute(stmt).all()]


def licence_of(session: Session, resident_id: str, licence_id: str) -> WalletCredential | None:
    """The resident's own credential, or None (also when it belongs to someone else)."""
    return session.scalar(select(WalletCredential).where(
        WalletCredential.licence_id == licence_id, WalletCredential.resident_id == resident_id))


def renew_views(session: Session, keys: KeyDir, row: WalletCredential, *, now: int) -> bool:
    """Give the credential in ``row`` new views when its views near their end (less than
    ``VIEW_RENEW_DAYS`` left, or already over); True if it got them. A licence that cannot
    have new ones (revoked, expired) keeps its old views, which the desk then refuses
    with the reason."""
    if not views_end_within([v.jws for v in row.views], now, VIEW_RENEW_DAYS * 86400):
        return False
    try:
        views = refresh_views(session, keys, row.credential, now=now)
    except RecordError:
        return False
    for view in row.views:
        if view.scenario in views:
            view.jws = views[view.scenario]
    return True
