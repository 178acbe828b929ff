"""Secrets: resident passwords (argon2id), operator tokens (SHA-256, constant-time
compare) and CSRF tokens. The service holds no resident's device key: phones keep theirs."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import request, session

from .errors import FormExpired

_hasher = PasswordHasher()  # argon2id, memory-hard (64 MiB, t=3 by default)
# A fixed hash to verify against when the user does not exist (same cost, no user oracle).
_DUMMY_HASH = _hasher.hash("certfree-no-such-user")
TOKEN_PREFIX = "cfo_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_operator_token() -> tuple[str, str, bytes]:
    """(operator id, the token to hand out once, the SHA-256 hash to store)."""
    operator_id = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX}{operator_id}.{secrets.token_urlsafe(32)}"
    return operator_id, token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_operator_id(token: str) -> str | None:
    if not token.startswith(TOKEN_PREFIX) or "." not in token:
        return None
    return token[len(TOKEN_PREFIX):].split(".", 1)[0] or None


def token_matches(token: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)


# ---- CSRF ---------------------------------------------------------------------------


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """Raise :class:`FormExpired` (400) unless the form's ``csrf_token`` (or, for a page's
    own script, the ``X-CSRF-Token`` header, which a cross-site form cannot send) matches
    the session's; the page the form came from answers it with a fresh token."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(str(sent).encode(), str(expected).encode()):
        raise FormExpired()
