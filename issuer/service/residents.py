"""Residents of the web wallet: enrolment, log-in with throttling, and the licences the
service holds for them. Functions take a ``session``; the caller commits. Their devices
are in :mod:`issuer.service.devices`."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import TypeVar, cast

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from issuer.credential import VIEW_RENEW_DAYS
from issuer.db import utc
from issuer.records import RecordError, refresh_views
from keys import KeyDir
from wallet.store import views_end_within

from .models import (
    DeskClerk,
    LicenceRecord,
    LoginThrottle,
    Resident,
    WalletCredential,
    WalletView,
)
from . import login_policy
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


#: A name is throttled after ``max_failures`` from one address, and after this many times
#: ``max_failures`` from all addresses together: one attacker cannot lock a resident out
#: from everywhere with five guesses, and many addresses together cannot guess for long.
NAME_WIDE_FACTOR = 10


def _throttle_key(username: str, client: str | None = None, realm: str = "resident") -> str:
    name = username.strip().lower()
    text = f"{realm}\x00{name}" if client is None else f"{realm}\x00{name}\x00{client}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _count_attempt(session: Session, key: str, moment: dt.datetime, window: int) -> int:
    """Count one log-in attempt for ``key`` and return the count in the current window.
    The read and the increment are one statement, so attempts made in parallel each get
    their own number (a count read first and written back later let forty parallel
    guesses through a limit of five)."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0, window_start=moment)
                    .on_conflict_do_nothing(index_elements=["key"]))
    expired = LoginThrottle.window_start <= moment - dt.timedelta(seconds=window)
    counted = session.execute(
        update(LoginThrottle).where(LoginThrottle.key == key)
        .values(failures=case((expired, 1), else_=LoginThrottle.failures + 1),
                window_start=case((expired, moment), else_=LoginThrottle.window_start))
        .returning(LoginThrottle.failures),
        execution_options={"synchronize_session": False},
    )
    return int(counted.scalar_one())


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: float,
    max_failures: int,
    window: int,
    client: str = "",
    model: type[Resident] | type[DeskClerk] = Resident,
) -> LoginResult:
    """Check a log-in. After ``max_failures`` wrong passwords for a name from one client
    address within ``window`` seconds (or ``NAME_WIDE_FACTOR`` times as many from all
    addresses) the name is throttled there (even with the right password) until the
    window has passed. Only hashes of the name and address are stored.

    Every attempt is counted, and committed, before the password is checked (the check is
    slow on purpose); a right password then takes its attempt back."""
    moment = utc(now)
    realm = model.__tablename__
    pair_key, name_key = _throttle_key(username, client, realm), _throttle_key(username, None, realm)
    # An attempt already refused for its address does not count against the name: one
    # address must not lock a resident out everywhere with cheap, unchecked tries.
    throttled = _count_attempt(session, pair_key, moment, window) > max_failures
    if not throttled:
        throttled = _count_attempt(session, name_key, moment, window) > max_failures * NAME_WIDE_FACTOR
    session.commit()  # no lock held through the password check
    if throttled:
        return LoginResult(None, True)
    # the name as stored (RFC 8265), or as typed for an account older than that rule
    names = {login_policy.prepare_username(username) or username.strip(), username.strip()}
    found = {a.username: a for a in session.scalars(select(model).where(model.username.in_(names)))}
    account = cast("Resident | DeskClerk | None",
                   found.get(login_policy.prepare_username(username) or "") or found.get(username.strip()))
    if check_password(account.password_hash if account else None, password):
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == pair_key))
        session.execute(update(LoginThrottle).where(LoginThrottle.key == name_key, LoginThrottle.failures > 0)
                        .values(failures=LoginThrottle.failures - 1), execution_options={"synchronize_session": False})
        return LoginResult(account, False)
    return LoginResult(None, False)


def add_clerk(session: Session, username: str, password: str, *, now: float) -> DeskClerk:
    """A new desk clerk (same rules for names and passwords as residents)."""
    clerk = _new_account(session, DeskClerk, username, password, now)
    session.add(clerk)
    session.flush()
    return clerk


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


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
