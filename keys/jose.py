"""JOSE building blocks shared by every part: base64url, canonical JSON, Ed25519 JWKs,
RFC 7638 thumbprints and compact JWS signing.

Signing is RFC 7515 compact JWS with Ed25519 from ``cryptography``: the protected header
is a fixed template per (kid, typ), built once, so signing is one canonical JSON dump,
one base64url and one signature. The result is byte for byte what PyJWT's
``PyJWS.encode`` makes for the same header and payload (Ed25519 is deterministic; a test
holds the two together), and any JOSE library verifies it. Payloads are serialised by
:func:`canonical_json` (sorted keys, no spaces, raw UTF-8) so a QR envelope can carry the
claims in any lossless form and the verifier rebuilds the exact signed bytes.
"""

from __future__ import annotations

import abc
import base64
import binascii
import hashlib
import json
import math
import re
from functools import lru_cache
from typing import Any, Mapping

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# The JWS "alg" names certfree accepts, both meaning Ed25519 and nothing else: "EdDSA"
# (RFC 8037), which certfree signs with by default, and "Ed25519", RFC 9864's fully
# specified name for the same signature (docs/security.md, "Algorithms"). An explicit
# allow-list: the token's header never picks the key type.
ALGORITHM = "EdDSA"
ALGORITHM_RFC9864 = "Ed25519"
ALGORITHMS = (ALGORITHM, ALGORITHM_RFC9864)

# JWS "typ" values: a token of one kind can never pass as another kind.
TYP_CREDENTIAL = "cf-cred"
TYP_VIEW = "cf-view"
TYP_PROOF = "cf-proof"
TYP_TRUST_LIST = "cf-trust"
TYP_STATUS_LIST = "statuslist+jwt"



class TokenKey(abc.ABC):
    """An Ed25519 key whose private part is outside this process: a PKCS#11 token
    (:class:`keys.hsm.TokenSigner`)."""

    @abc.abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature (RFC 8032, pure EdDSA) of ``data``."""

    @abc.abstractmethod
    def public_key(self) -> Ed25519PublicKey:
        """The key's public half."""


#: The one signing interface: every signature certfree makes (credentials, views, status
#: lists, the trust list) is ``signer.sign(data)`` by a key parsed in this process (a file
#: of the key store; used as it stands, no wrapper, no extra call per signature) or a key in
#: a token. Which one is chosen per key in the key store's registry (keys/store.py); nothing
#: else is accepted (``isinstance(key, Signer)``), so no other kind of key signs by mistake.
Signer = Ed25519PrivateKey | TokenKey


_URLSAFE = bytes.maketrans(b"+/", b"-_")

try:  # optional (the SDK's "fast" extra): SIMD base64, a few times faster on a signing input
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover - depends on the environment
    _pybase64 = None  # type: ignore[assignment]


def b64url_bytes(data: bytes) -> bytes:
    """Unpadded base64url (RFC 7515 section 2) as ASCII bytes, for building signing inputs:
    pybase64's when installed, else the standard library's (tests/test_fast_paths.py holds
    both to ``base64.urlsafe_b64encode``)."""
    if _pybase64 is not None:  # its C encoder, unpadded: no Python wrapper, no second copy
        return _pybase64.b64encode(data, b"-_", padded=False)
    # "=" appears only as the padding at the end: translate deletes it in the same pass
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE, b"=")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return b64url_bytes(data).decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: refuses padding, whitespace and non-alphabet characters."""
    if not isinstance(text, str) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    raw = text.encode("ascii", "strict")
    if not raw.replace(b"-", b"").replace(b"_", b"").isalnum() and raw:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    if b64url_encode(data) != text:  # non-canonical trailing bits
        raise ValueError("not canonical base64url")
    return data


# Without these, orjson would serialise dataclasses and datetimes, which json.dumps refuses.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def canonical_json(value: Any) -> bytes:
    """The one JSON serialisation certfree signs: sorted keys, compact, raw UTF-8.

    Byte for byte ``json.dumps(value, ensure_ascii=False, separators=(",", ":"),
    sort_keys=True).encode()`` for JSON's own types (text, integers, booleans, null,
    lists, objects with text keys), about ten times faster (orjson);
    tests/test_fast_paths.py holds the two equal. certfree signs no floating-point
    numbers: a NaN or an infinity, which orjson would write as ``null``, raises
    ``ValueError``. Anything else that is not JSON (a non-text key, an integer beyond
    64 bits, a lone surrogate, a date) raises ``TypeError``.
    """
    out = orjson.dumps(value, option=_ORJSON_OPTIONS)
    if _find_null(out):  # rare in certfree's claims: only then look for what became null
        _refuse_non_finite(value)
    return out


# A compiled search: about half the time of ``b"null" in out`` on a payload of Chinese
# text, whose UTF-8 bytes defeat the skip table of the bytes search.
_find_null = re.compile(b"null").search


def _refuse_non_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinity are not JSON")
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for item in items:
        _refuse_non_finite(item)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public JWK (RFC 8037) of an Ed25519 key, members in RFC 7638 order."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Parse an Ed25519 public JWK, refusing any other key type or a private member."""
    return Ed25519PublicKey.from_public_bytes(raw_public_from_jwk(jwk))


def raw_public_from_jwk(jwk: Mapping[str, Any]) -> bytes:
    """The raw 32 bytes of an Ed25519 public JWK. Raises ValueError for any other key
    type, a private member, or a malformed ``x``; TypeError if ``jwk`` is not a mapping."""
    if not isinstance(jwk, Mapping):
        raise TypeError("a JWK is a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 OKP key")
    if "d" in jwk:
        raise ValueError("private key material in a public JWK")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError("missing x")
    raw = b64url_decode(x)
    if len(raw) != 32:
        raise ValueError("Ed25519 public key must be 32 bytes")
    return raw


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an OKP key: the certfree ``kid``."""
    # RFC 7638 section 3: the required members, sorted, no whitespace, UTF-8: canonical_json
    required = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    return b64url_encode(hashlib.sha256(canonical_json(required)).digest())


def key_id(key: Ed25519PublicKey) -> str:
    return thumbprint(public_jwk(key))


def is_allowed_algorithm(alg: Any) -> bool:
    """Whether a header's ``alg`` is one of :data:`ALGORITHMS` (exactly: text, same case,
    no spaces)."""
    return type(alg) is str and alg in ALGORITHMS


def protected_header(kid: str | None, typ: str, alg: str = ALGORITHM) -> bytes:
    """The exact header bytes certfree signs; the verifier rebuilds them from this template."""
    if not is_allowed_algorithm(alg):
        raise ValueError("certfree signs with EdDSA or Ed25519 only")
    header: dict[str, str] = {"alg": alg, "typ": typ}
    if kid is not None:
        header["kid"] = kid
    return json.dumps(header, separators=(",", ":"), sort_keys=True).encode("ascii")


@lru_cache(maxsize=1024)
def _signing_prefix(kid: str | None, typ: str, alg: str) -> bytes:
    """base64url(protected header) + "." for (kid, typ, alg), built once."""
    return b64url_bytes(protected_header(kid, typ, alg)) + b"."


class CompactSigner:
    """:func:`sign_compact` with the key and header fixed, for signing many payloads (a
    batch of licences): the key is checked and the header encoded once, when it is made.
    A call is :meth:`signing_input` (one canonical JSON dump and one base64url), ``sign``
    and :func:`join_compact`; a batch may make every signing input first and sign them
    all in one go (see ``issuer.credential.LicenceSigner``)."""

    __slots__ = ("_prefix", "sign")

    def __init__(self, private_key: Signer, *, kid: str | None, typ: str, alg: str = ALGORITHM) -> None:
        if not isinstance(private_key, Signer):
            raise TypeError("certfree signs with Ed25519 keys only")
        self._prefix = _signing_prefix(kid, typ, alg)
        self.sign = private_key.sign  # the key's own Ed25519 signature of a signing input

    def signing_input(self, claims: Mapping[str, Any]) -> bytes:
        """base64url(header) "." base64url(canonical JSON of ``claims``): the bytes signed."""
        return self._prefix + b64url_bytes(canonical_json(claims))

    def __call__(self, claims: Mapping[str, Any]) -> str:
        """The compact JWS of ``claims``."""
        signed = self.signing_input(claims)
        return join_compact(signed, self.sign(signed))


def join_compact(signing_input: bytes, signature: bytes) -> str:
    """The compact JWS of a signing input and its signature."""
    return (signing_input + b"." + b64url_bytes(signature)).decode("ascii")


def sign_compact(
    claims: Mapping[str, Any], private_key: Signer, *, kid: str | None, typ: str,
    alg: str = ALGORITHM,
) -> str:
    """Sign ``claims`` as a compact JWS with Ed25519, the header naming ``alg`` ("EdDSA" by
    default, or RFC 9864's "Ed25519"; anything else raises ``ValueError``), with
    ``private_key``: a key parsed in this process or one in a PKCS#11 token (:data:`Signer`).

    The header is exactly :func:`protected_header` so that QR envelopes need not carry it.
    """
    return CompactSigner(private_key, kid=kid, typ=typ, alg=alg)(claims)


def split_compact(token: str) -> tuple[bytes, bytes, bytes]:
    """Split a compact JWS into (header bytes, payload bytes, signature) without verifying."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a compact JWS has three parts")
    return b64url_decode(parts[0]), b64url_decode(parts[1]), b64url_decode(parts[2])


def signing_input(header: bytes, payload: bytes) -> bytes:
    return (b64url_encode(header) + "." + b64url_encode(payload)).encode("ascii")


def compact(header: bytes, payload: bytes, signature: bytes) -> str:
    return signing_input(header, payload).decode("ascii") + "." + b64url_encode(signature)
