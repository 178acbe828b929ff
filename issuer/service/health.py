"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: the database
answers within its timeouts, the session secret is set, every authority's signing key
signs, and the trust list verifies against the pinned root, lists those keys, and none of
them ends within ``READY_TRUST_MIN_DAYS``). A failing check answers 503 and is named by
its stable code, with an English and a Chinese message."""

from __future__ import annotations

import logging
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from keys import AUTHORITIES, KeyStoreError
from verifier import VerificationFailed, load_trust_list

from . import context, db, errors

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
_PROBE = b"certfree readiness probe"


class NotReady(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@bp.after_request
def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"  # a probe must see the process as it is now
    return response


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    checks = [_run(name, check) for name, check in CHECKS]
    failed = [c["error"] for c in checks if not c["ok"]]
    if failed:
        log.warning("not ready: %s", ", ".join(failed))
    response = jsonify({"status": "not_ready" if failed else "ready", "failed": failed, "checks": checks})
    response.status_code = 503 if failed else 200
    return response


def _run(name: str, check: Callable[[], None]) -> dict[str, Any]:
    try:
        check()
    except NotReady as exc:
        m = errors.MESSAGES[exc.code]
        return {"check": name, "ok": False, "error": m.code, "message": m.en, "message_zh": m.zh}
    return {"check": name, "ok": True}


def _database() -> None:
    try:
        with db.engine().connect() as connection:  # the engine's connect and statement timeouts
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise NotReady("database_unavailable") from None


def _secret_key() -> None:
    if not current_app.config.get("SECRET_KEY"):
        raise NotReady("secret_key_missing")


def _signing_keys() -> None:
    """Each authority's active key signs a probe that its public key verifies."""
    now = int(context.now())
    try:
        for authority in AUTHORITIES:
            _entry, private_key = context.keys().key_for_authority(authority, now)
            private_key.public_key().verify(private_key.sign(_PROBE), _PROBE)
    except (KeyStoreError, OSError, ValueError, TypeError, InvalidSignature):
        raise NotReady("signing_keys_unusable") from None


def _trust_list() -> None:
    now = int(context.now())
    try:
        store = context.keys()
        trust = load_trust_list(store.trust_list(), store.root_public_jwk())
        active = [entry.kid for entry in store.issuer_keys()  # the registry: no private key needed
                  if entry.state == "active" and entry.not_before <= now < entry.not_after]
    except (VerificationFailed, KeyStoreError, OSError, ValueError):
        raise NotReady("trust_list_invalid") from None
    margin = float(current_app.config["READY_TRUST_MIN_DAYS"]) * 86400
    if not active:
        raise NotReady("signing_keys_unusable")
    for kid in active:
        listed = trust.by_kid(kid)
        if listed is None or listed.state != "active" or not listed.not_before <= now < listed.not_after:
            raise NotReady("trust_list_invalid")  # desks would refuse what this key signs
        if listed.not_after - now < margin:
            raise NotReady("trust_list_expiring")


CHECKS: list[tuple[str, Callable[[], None]]] = [
    ("database", _database),
    ("secret_key", _secret_key),
    ("signing_keys", _signing_keys),
    ("trust_list", _trust_list),
]

__all__ = ["bp", "CHECKS"]
