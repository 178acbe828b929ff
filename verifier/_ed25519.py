"""Ed25519 signature verification for the verifier, on the fastest backend available.

Three backends, fastest first (figures in ``docs/benchmarks.md``):

* ``zebra``: ed25519-zebra (Rust, through py-ed25519-zebra-bindings), about 30 µs;
* ``libsodium``: through PyNaCl, about 37 µs;
* ``openssl``: through ``cryptography``, about 60 µs; always installed.

:func:`verify` is the fastest one installed, unless the environment variable
``CERTFREE_ED25519`` names another installed one (``libsodium``, say, for a desk that
would rather not run the Rust binding); any other value stops the import with a message
that lists what is installed. Each gives the expected result on every
case of the Wycheproof Ed25519 vectors (``tests/test_wycheproof.py``). Signing stays on
``cryptography``/PyJWT; this module only verifies.

The backends do not check the same things on their own, so every one checks the same
points first. :func:`strict_point` applies RFC 8032's decoding rules (section 5.1.3) to
the bytes of the public key A and of the signature's R, and refuses the eight points of
small order, as libsodium does. Without this:

* ed25519-zebra follows ZIP 215: it takes any encoding of a point, canonical or not
  (Wycheproof case 151 is the one it gets wrong);
* OpenSSL takes a key of small order, with which one signature fits every message.

S must be below the group order L on every backend.

What still differs (``tests/test_ed25519_edges.py``): ed25519-zebra checks the cofactored
equation [8][S]B = [8]R + [8][k]A, the one RFC 8032 section 5.1.7 states. libsodium and
OpenSSL check [S]B = R + [k]A. So a signature whose R carries a component of small order
passes on zebra and fails on the other two. Only the holder of the private key can make
such a signature. It gives them nothing they could not do with an ordinary signature, and
nobody else can turn a valid signature into one.

Keys are raw 32-byte public keys, signatures raw 64 bytes. :func:`verify` returns
``True`` or ``False``. It never raises for a bad key, signature or message: a wrong
length, a point that does not decode, a small-order point or a non-canonical signature
is simply ``False``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["BACKEND", "verify", "verify_openssl", "verify_libsodium", "verify_zebra", "backends", "strict_point"]

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
Verify = Callable[[bytes, bytes, bytes], bool]

_P = 2**255 - 19
_Y_BITS = (1 << 255) - 1  # a point is y (255 bits, little-endian) and the sign of x (top bit)
# y of the eight points of small order: the identity (y = 1, x = 0) and the point of
# order 2 (y = p - 1, x = 0), the two of order 4 (y = 0), and the four of order 8 (y = Y8
# or p - Y8, each with either sign of x). Y8 is the y of libsodium's order-8 blacklist
# entry 26e8958f...; tests/test_ed25519_edges.py checks, with libsodium's own point
# arithmetic, that these are exactly the points P with [8]P the identity.
_Y8 = 0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y8, _P - _Y8})


def strict_point(encoded: bytes) -> bool:
    """Whether the 32 bytes ``encoded`` may stand for A or R: y below p (the one encoding
    RFC 8032 allows), and not a point of small order. x = 0 only for y = 1 or p - 1, both
    of small order, so the rule against a set sign bit with x = 0 is part of this. The
    backend still checks that a point exists for y."""
    y = int.from_bytes(encoded, "little") & _Y_BITS
    return y < _P and y not in _SMALL_ORDER_Y


_strict_key = lru_cache(maxsize=4096)(strict_point)  # the same keys come back: the issuer's, residents'


def _well_formed(public_key: bytes, signature: bytes) -> bool:
    return (
        len(public_key) == PUBLIC_KEY_BYTES
        and len(signature) == SIGNATURE_BYTES
        and _strict_key(bytes(public_key))
        and strict_point(signature[:32])
    )


@lru_cache(maxsize=4096)
def _openssl_key(public_key: bytes) -> Ed25519PublicKey | None:
    """Parse a raw public key once; ``None`` if OpenSSL refuses it."""
    try:
        return Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        return None


def verify_openssl(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Verify with OpenSSL through ``cryptography`` (key objects cached per raw key)."""
    if not _well_formed(public_key, signature):
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
    if not _well_formed(public_key, signature):  # libsodium checks the same again
        return False
    try:
        _sodium_open(signature + message, public_key)  # type: ignore[misc]
    except _SodiumError:
        return False
    return True


_zebra_verify: Callable[[bytes, bytes, bytes], bool] | None
try:
    from ed25519_zebra import ed_verify as _zebra_verify  # type: ignore[no-redef]
except ImportError:  # optional: fall back to libsodium, then OpenSSL
    _zebra_verify = None


def _verify_zebra(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if not _well_formed(public_key, signature):
        return False
    return _zebra_verify(signature, message, public_key) is True  # type: ignore[misc]


verify_libsodium: Verify | None = _verify_libsodium if _sodium_open is not None else None
verify_zebra: Verify | None = _verify_zebra if _zebra_verify is not None else None


def backends() -> dict[str, Verify]:
    """Every backend installed, by name, fastest first (the tests run the vectors
    through each)."""
    out: dict[str, Verify] = {}
    if verify_zebra is not None:
        out["zebra"] = verify_zebra
    if verify_libsodium is not None:
        out["libsodium"] = verify_libsodium
    out["openssl"] = verify_openssl
    return out


def _choose(installed: dict[str, Verify], asked: str) -> str:
    if not asked:
        return next(iter(installed))
    if asked not in installed:
        raise ValueError(f"CERTFREE_ED25519={asked!r}: not an installed Ed25519 backend ({', '.join(installed)})")
    return asked


_installed = backends()

#: The backend :func:`verify` uses: ``"zebra"``, ``"libsodium"`` or ``"openssl"``.
BACKEND = _choose(_installed, os.environ.get("CERTFREE_ED25519", "").strip().lower())

#: ``verify(public_key, signature, message) -> bool`` on :data:`BACKEND`.
verify: Verify = _installed[BACKEND]
