"""Log-in throttling that slows guessing without locking the owner out: OWASP's "device
cookie" design (Blocking Brute Force Attacks, "device cookies").

* A browser that has logged in to an account before carries a signed **device cookie** for
  it. Its attempts are counted on that cookie alone: ``max_failures`` wrong passwords in
  ``window`` seconds throttle that browser, and nobody else's guesses ever throttle it.
* Any other client is **untrusted**. Its attempts are counted per account and address
  (``max_failures`` in ``window`` throttle that address for that account), and per account
  for all untrusted clients together: after ``free`` failures, each further untrusted
  attempt must wait a delay that doubles from ``base_delay`` up to ``max_delay`` seconds
  after the last one. So 55 guesses from 11 addresses slow guessing to one try per
  ``max_delay``, while the owner logs in at once from a known browser and, from a new one,
  after at most ``max_delay``.

Only hashes of names, addresses and cookie nonces are stored (``login_throttle``). Every
count is one SQL statement (read and write together), committed before the password is
checked, so parallel guesses each get their own number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from issuer.db import utc

from . import login_policy
from .models import LoginThrottle

COOKIE_PREFIX = "certfree_known_"  # + the account table's name: one cookie per kind of account
COOKIE_DAYS = 365


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5  # per known browser, and per account and address
    window: int = 15 * 60  # seconds those counts live
    free: int = 10  # untrusted failures on an account before the delays start
    base_delay: int = 2  # seconds, doubled with each untrusted failure past ``free``
    max_delay: int = 60  # the longest an untrusted client (the owner on a new phone) waits

    def delay(self, failures: int) -> int:
        """Seconds an untrusted attempt waits after the last one, ``failures`` so far."""
        if failures < self.free:
            return 0
        return min(self.max_delay, self.base_delay << min(failures - self.free, 30))


def _name(username: str) -> str:
    return login_policy.prepare_username(username) or username.strip().lower()


def _key(realm: str, username: str, *scope: str) -> str:
    text = "\x00".join((realm, _name(username), *scope))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cookies(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="certfree-known-device")


def new_device_cookie(secret: str, realm: str, username: str) -> str:
    """A new device cookie's value for this browser and account (a fresh nonce each time)."""
    return _cookies(secret).dumps({"u": _key(realm, username)[:32], "n": secrets.token_urlsafe(12)})


def device_nonce(secret: str, realm: str, username: str, cookie: str | None) -> str | None:
    """The nonce of a valid device cookie for this account, or None (no cookie, forged, or
    another account's)."""
    if not cookie or len(cookie) > 200:
        return None
    try:
        data: Any = _cookies(secret).loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != _key(realm, username)[:32] or not isinstance(data.get("n"), str):
        return None
    return str(data["n"])


def _ensure_row(session: Session, key: str, moment: dt.datetime) -> None:
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0, window_start=moment)
                    .on_conflict_do_nothing(index_elements=["key"]))


def _count(session: Session, key: str, moment: dt.datetime, window: int) -> int:
    """Count one attempt for ``key`` in a fixed window; the count in the current window."""
    _ensure_row(session, key, moment)
    expired = LoginThrottle.window_start <= moment - dt.timedelta(seconds=window)
    counted = session.execute(
        update(LoginThrottle).where(LoginThrottle.key == key)
        .values(failures=case((expired, 1), else_=LoginThrottle.failures + 1),
                window_start=case((expired, moment), else_=LoginThrottle.window_start))
        .returning(LoginThrottle.failures),
        execution_options={"synchronize_session": False},
    )
    return int(counted.scalar_one())


def _untrusted_slot(session: Session, key: str, moment: dt.datetime, limits: Limits) -> bool:
    """Take the account's next untrusted attempt if its delay has passed (``window_start``
    is the last attempt's time here). False: throttled, and nothing is counted."""
    _ensure_row(session, key, moment)
    row = LoginThrottle
    expired = row.window_start <= moment - dt.timedelta(seconds=limits.window)
    # The delay depends on the count: one condition per count from ``free`` up to the one
    # whose delay reaches ``max_delay``, each with its own cut-off time.
    waited = [row.failures < limits.free]
    f = limits.free
    while limits.delay(f) < limits.max_delay:
        waited.append(and_(row.failures == f, row.window_start <= moment - dt.timedelta(seconds=limits.delay(f))))
        f += 1
    waited.append(and_(row.failures >= f, row.window_start <= moment - dt.timedelta(seconds=limits.max_delay)))
    taken = session.execute(
        update(row).where(row.key == key, or_(expired, *waited))
        .values(failures=case((expired, 1), else_=row.failures + 1), window_start=moment)
        .returning(row.failures),
        execution_options={"synchronize_session": False},
    )
    return taken.scalar_one_or_none() is not None


@dataclass(frozen=True)
class Attempt:
    throttled: bool
    keys: tuple[str, ...]  # what a right password takes back
    untrusted_key: str | None


def attempt(session: Session, realm: str, username: str, client: str, nonce: str | None, *, now: float,
            limits: Limits) -> Attempt:
    """Count one log-in attempt (the caller commits before checking the password)."""
    moment = utc(now)
    if nonce is not None:  # a known browser: its own count only
        key = _key(realm, username, "device", nonce)
        return Attempt(_count(session, key, moment, limits.window) > limits.max_failures, (key,), None)
    pair = _key(realm, username, "address", client)
    if _count(session, pair, moment, limits.window) > limits.max_failures:
        return Attempt(True, (), None)  # refused for its address: it does not count against the account
    untrusted = _key(realm, username, "untrusted")
    return Attempt(not _untrusted_slot(session, untrusted, moment, limits), (pair,), untrusted)


def succeeded(session: Session, done: Attempt) -> None:
    """A right password: its own counts are cleared, and its untrusted attempt taken back."""
    if done.keys:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(done.keys)))
    if done.untrusted_key is not None:
        session.execute(update(LoginThrottle).where(LoginThrottle.key == done.untrusted_key, LoginThrottle.failures > 0)
                        .values(failures=LoginThrottle.failures - 1), execution_options={"synchronize_session": False})
