"""Ed25519 signature verification for the verifier, on the fastest backend available.

libsodium (through PyNaCl) verifies about twice as fast as OpenSSL (through
``cryptography``) on the machines measured (see ``docs/benchmarks.md``); both give the
expected result on every case of the Wycheproof Ed25519 vectors
(``tests/test_wycheproof.py``). If PyNaCl is not installed, OpenSSL is used.

Keys are raw 32-byte public keys, signatures raw 64 bytes. :func:`verify` returns
``True`` or ``False`` and never raises for a bad key, signature or message: a wrong
length, a point that does not decode, a small-order key or a non-canonical signature is
simply ``False``. Signing stays on ``cryptography``/PyJWT; this module only verifies.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["BACKEND", "verify", "verify_openssl", "verify_libsodium", "backends"]

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


@lru_cache(maxsize=4096)
def _openssl_key(public_key: bytes) -> Ed25519PublicKey | None:
    """Parse a raw public key once; ``None`` if OpenSSL refuses it."""
    try:
        return Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        return None


def verify_openssl(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Verify with OpenSSL through ``cryptography`` (key objects cached per raw key)."""
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    key = _openssl_key(bytes(public_key))
    if key is None:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


_sodium_open: Callable[[bytes, bytes], bytes] | None
try:
    from nacl.bindings import crypto_sign_open as _sodium_open
    from nacl.exceptions import CryptoError as _SodiumError
except ImportError:  # PyNaCl is optional: fall back to OpenSSL
    _sodium_open = None


def _verify_libsodium(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(public_key) != PUBLIC_KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        _sodium_open(signature + message, public_key)  # type: ignore[misc]
    except _SodiumError:
        return False
    return True


verify_libsodium: Callable[[bytes, bytes, bytes], bool] | None = (
    _verify_libsodium if _sodium_open is not None else None
)

#: The backend :func:`verify` uses: ``"libsodium"`` or ``"openssl"``.
BACKEND = "libsodium" if verify_libsodium is not None else "openssl"

#: ``verify(public_key, signature, message) -> bool`` on the fastest backend.
verify: Callable[[bytes, bytes, bytes], bool] = verify_libsodium or verify_openssl


def backends() -> dict[str, Callable[[bytes, bytes, bytes], bool]]:
    """Every backend installed, by name (the tests run the vectors through each)."""
    out: dict[str, Callable[[bytes, bytes, bytes], bool]] = {"openssl": verify_openssl}
    if verify_libsodium is not None:
        out["libsodium"] = verify_libsodium
    return out
