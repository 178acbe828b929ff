"""The edges where Ed25519 implementations disagree, built here with libsodium's own point
and scalar arithmetic (PyNaCl), and what each of the verifier's backends says of them.

Backends that disagree are only allowed to disagree where ``verifier/_ed25519.py`` says
they do: on signatures that only the holder of the private key can make.
"""

from __future__ import annotations

import hashlib
import os

import nacl.bindings as nacl
import pytest
from nacl.exceptions import CryptoError
from service_fixtures import require_in_ci

from verifier import _ed25519

IDENTITY = bytes([1]) + bytes(31)
# An encoding of a point of order 8 (libsodium's small-order blacklist; RFC 8032's curve).
ORDER_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
P = 2**255 - 19


def _add(p: bytes, q: bytes) -> bytes:
    return nacl.crypto_core_ed25519_add(p, q)


def _y(point: bytes) -> int:
    return int.from_bytes(point, "little") & ((1 << 255) - 1)


def _backends() -> dict[str, _ed25519.Verify]:
    found = _ed25519.backends()
    for name in ("libsodium", "zebra"):
        if name not in found:
            require_in_ci(f"the {name} Ed25519 backend")
    return found


def _scalar() -> bytes:
    return nacl.crypto_core_ed25519_scalar_reduce(os.urandom(64))


def _keypair() -> tuple[bytes, bytes]:
    a = _scalar()
    return a, nacl.crypto_scalarmult_ed25519_base_noclamp(a)


def _sign(a: bytes, public: bytes, message: bytes, *, r_extra: bytes | None = None) -> tuple[bytes, int]:
    """RFC 8032 signing from the secret scalar ``a``, with a random nonce; ``r_extra`` is
    added to R after the nonce is fixed. Returns the signature and k mod 8."""
    r = _scalar()
    big_r = nacl.crypto_scalarmult_ed25519_base_noclamp(r)
    if r_extra is not None:
        big_r = _add(big_r, r_extra)
    k = nacl.crypto_core_ed25519_scalar_reduce(hashlib.sha512(big_r + public + message).digest())
    s = nacl.crypto_core_ed25519_scalar_add(r, nacl.crypto_core_ed25519_scalar_mul(k, a))
    return big_r + s, int.from_bytes(k, "little") % 8


def test_the_small_order_points_refused_are_exactly_the_eight_of_the_curve() -> None:
    multiples = [ORDER_8]
    while multiples[-1] != IDENTITY:
        multiples.append(_add(multiples[-1], ORDER_8))
        assert len(multiples) <= 8
    assert len(multiples) == 8 == len(set(multiples))  # ORDER_8 generates all eight
    assert {_y(p) for p in multiples} == _ed25519._SMALL_ORDER_Y
    for point in multiples:
        assert _ed25519.strict_point(point) is False
        assert _ed25519.strict_point(bytes(point[:31]) + bytes([point[31] ^ 0x80])) is False


def test_non_canonical_encodings_are_refused_and_ordinary_points_taken() -> None:
    for y in range(19):  # the only y with a second encoding: y + p < 2**255
        assert _ed25519.strict_point((y + P).to_bytes(32, "little")) is False
    for _ in range(50):
        assert _ed25519.strict_point(_keypair()[1]) is True


def test_an_ordinary_signature_passes_on_every_backend() -> None:
    a, public = _keypair()
    signature, _ = _sign(a, public, b"hotel check-in")
    nacl.crypto_sign_open(signature + b"hotel check-in", public)  # libsodium itself agrees
    for name, verify in _backends().items():
        assert verify(public, signature, b"hotel check-in") is True, name
        assert verify(public, signature, b"hotel check-out") is False, name


def test_a_key_of_small_order_is_refused_though_it_fits_every_message() -> None:
    """With A the identity, R = [s]B and S = s satisfy the equation for any message."""
    found = _backends()
    from ed25519_zebra import ed_verify

    s = _scalar()
    signature = nacl.crypto_scalarmult_ed25519_base_noclamp(s) + s
    for message in (b"one", b"another"):
        assert ed_verify(signature, message, IDENTITY) is True  # ZIP 215 takes it
        for name, verify in found.items():
            assert verify(IDENTITY, signature, message) is False, name


@pytest.mark.parametrize("mixed", ["R", "A"])
def test_a_small_order_component_passes_only_the_cofactored_equation(mixed: str) -> None:
    """The one place the backends differ: only the key's holder can build these."""
    a, public = _keypair()
    message, extra = b"street check", None
    if mixed == "A":
        public = _add(public, ORDER_8)  # [a]B + T: the holder signs with a as usual
    else:
        extra = ORDER_8
    for attempt in range(64):  # with A mixed, [k]T vanishes when 8 | k: take another message
        signature, k_mod_8 = _sign(a, public, message + bytes([attempt]), r_extra=extra)
        if k_mod_8:
            message += bytes([attempt])
            break
    found = _backends()
    assert found["zebra"](public, signature, message) is True
    assert found["libsodium"](public, signature, message) is False
    assert found["openssl"](public, signature, message) is False
    with pytest.raises(CryptoError):
        nacl.crypto_sign_open(signature + message, public)
