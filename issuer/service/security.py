"""Secrets: resident passwords (argon2id), operator tokens (SHA-256, constant-time
compare), CSRF tokens, and the server key that encrypts cloud-wallet device keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, request, session

from keys.files import create_once

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
    """Raise :class:`FormExpired` (400) unless the form's ``csrf_token`` matches the
    session's; the page the form came from answers it with a fresh token."""
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(str(sent).encode(), str(expected).encode()):
        raise FormExpired()


# ---- cloud-wallet device keys ---------------------------------------------------------


def _wallet_key() -> bytes:
    ext = current_app.extensions
    key = ext.get("certfree.wallet_key")
    if key is None:
        key = ext["certfree.wallet_key"] = _load_or_create_key(Path(current_app.config["WALLET_KEY_FILE"]))
    return bytes(key)


def _read_key(path: Path) -> bytes:
    key = bytes.fromhex(path.read_text("ascii").strip())
    if len(key) != 32:
        raise ValueError(f"{path.name} does not hold a 256-bit key")
    return key


def _load_or_create_key(path: Path) -> bytes:
    """The wallet server key, created on first use (several workers may race: see
    :func:`keys.files.create_once`)."""
    create_once(path, AESGCM.generate_key(bit_length=256).hex().encode("ascii"))
    return _read_key(path)


def seal_device_key(raw_private: bytes, resident_id: str) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_wallet_key()).encrypt(nonce, raw_private, resident_id.encode())


def open_device_key(sealed: bytes, resident_id: str) -> bytes:
    return AESGCM(_wallet_key()).decrypt(sealed[:12], sealed[12:], resident_id.encode())
