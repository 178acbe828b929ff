"""The trust store: issuer keys from a trust list verified against a pinned root key."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from keys.jose import (
    TYP_TRUST_LIST,
    b64url_decode,
    is_allowed_algorithm,
    key_id,
    public_key_from_jwk,
    raw_public,
    signing_input,
    split_compact,
)

from ._errors import TrustListInvalid, TrustListRollback, VerificationFailed
from ._json import strict_json

MAX_TRUST_LIST = 256 * 1024
_STATES = {"active", "retired", "compromised"}


@dataclass(frozen=True)
class TrustedKey:
    """An issuer key as the trust list describes it."""

    kid: str
    public_key: Ed25519PublicKey = field(repr=False)
    authority: str
    licence_types: frozenset[str]
    not_before: int
    not_after: int
    state: str
    retired_at: int | None
    compromised_since: int | None

    @cached_property
    def raw(self) -> bytes:
        """The raw 32-byte public key, computed once (what the verify backend takes)."""
        return raw_public(self.public_key)


@dataclass(frozen=True)
class TrustStore:
    """Verified issuer keys; build it with :func:`load_trust_list`."""

    seq: int
    issued_at: int
    keys: Mapping[str, TrustedKey]
    _by_prefix: Mapping[bytes, TrustedKey] = field(repr=False)

    def by_kid(self, kid: str) -> TrustedKey | None:
        return self.keys.get(kid)

    def by_prefix(self, prefix: bytes) -> TrustedKey | None:
        return self._by_prefix.get(prefix)

    def age(self, now: float) -> int:
        """Seconds since the trust list was issued (its ``iat``)."""
        return int(now - self.issued_at)


def load_trust_list(
    token: str,
    root: Ed25519PublicKey | Mapping[str, Any],
    *,
    held: TrustStore | None = None,
) -> TrustStore:
    """Verify a trust list JWS with the pinned root key and return its keys.

    ``held`` is the trust store already in use: a list with a lower sequence number is
    refused (rollback protection). Raises :class:`VerificationFailed`.
    """
    root_key = root if isinstance(root, Ed25519PublicKey) else _parse_root(root)
    try:
        store = _load(token, root_key)
    except (ValueError, KeyError, TypeError, InvalidSignature) as exc:
        # _load's own refusals say which check failed; anything else (a value of the wrong
        # type or form, a bad signature) is a malformed list, its text not repeated
        detail = str(exc) if isinstance(exc, _Refused) else "malformed trust list"
        raise VerificationFailed([TrustListInvalid(detail=detail)]) from None
    if held is not None and store.seq < held.seq:
        raise VerificationFailed([TrustListRollback(detail=f"seq {store.seq} < held {held.seq}")])
    return store


class _Refused(ValueError):
    """A check of :func:`_load` failed; its text names the check."""


def _parse_root(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    try:
        return public_key_from_jwk(jwk)
    except (ValueError, KeyError, TypeError):
        raise VerificationFailed([TrustListInvalid(detail="pinned root key is not an Ed25519 JWK")]) from None


def _load(token: str, root_key: Ed25519PublicKey) -> TrustStore:
    if not isinstance(token, str) or len(token) > MAX_TRUST_LIST:
        raise _Refused("trust list too large")
    token = token.strip()
    header_bytes, payload, signature = split_compact(token)
    header = strict_json(header_bytes)
    if not isinstance(header, dict):
        raise _Refused("trust list header is not an object")
    if not is_allowed_algorithm(header.get("alg")) or header.get("typ") != TYP_TRUST_LIST or "crit" in header:
        raise _Refused("bad trust list header")
    if header.get("kid") != key_id(root_key):
        raise _Refused("trust list not signed by the pinned root")
    root_key.verify(signature, signing_input(header_bytes, payload))
    claims = strict_json(payload)
    keys: dict[str, TrustedKey] = {}
    by_prefix: dict[bytes, TrustedKey] = {}
    for entry in claims["keys"]:
        public_key = public_key_from_jwk(entry["jwk"])
        kid = entry["kid"]
        if key_id(public_key) != kid or kid in keys:
            raise _Refused("kid is not the key's thumbprint, or repeated")
        if entry["state"] not in _STATES:
            raise _Refused("unknown key state")
        trusted = TrustedKey(
            kid=kid,
            public_key=public_key,
            authority=str(entry["authority"]),
            licence_types=frozenset(str(t) for t in entry["types"]),
            not_before=int(entry["nbf"]),
            not_after=int(entry["exp"]),
            state=entry["state"],
            retired_at=_opt_int(entry.get("retired_at")),
            compromised_since=_opt_int(entry.get("compromised_since")),
        )
        prefix = b64url_decode(kid)[:8]
        if prefix in by_prefix:
            raise _Refused("two trusted keys share a short key id")
        keys[kid] = trusted
        by_prefix[prefix] = trusted
    return TrustStore(
        seq=int(claims["seq"]),
        issued_at=int(claims["iat"]),
        keys=MappingProxyType(keys),
        _by_prefix=MappingProxyType(by_prefix),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
