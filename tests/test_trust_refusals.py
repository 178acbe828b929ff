"""The trust list: what a valid one yields, key by key, and the exact reason each broken
one is refused for.

The lists here are signed by hand (JSON, base64url and an Ed25519 signature from
`cryptography`), not by the key store, so that each header, claim and key entry can be
made wrong on its own; key ids are RFC 7638 thumbprints computed here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifier import VerificationFailed
from verifier._trust import MAX_TRUST_LIST, load_trust_list

IAT = 1_780_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64(raw)}


def thumbprint(key: Ed25519PrivateKey) -> str:
    members = json.dumps(jwk(key), separators=(",", ":"), sort_keys=True).encode()
    return b64(hashlib.sha256(members).digest())


ROOT = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
OLD = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))


def entry(key: Ed25519PrivateKey, **changes: Any) -> dict[str, Any]:
    data = {
        "kid": thumbprint(key), "jwk": jwk(key), "authority": "household_registration",
        "types": ["id_card", "household_book"], "nbf": IAT - 100, "exp": IAT + 10_000_000, "state": "active",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def sign(claims: Any, *, key: Ed25519PrivateKey = ROOT, **header: Any) -> str:
    head = {"alg": "EdDSA", "typ": "cf-trust", "kid": thumbprint(key), **header}
    head = {k: v for k, v in head.items() if v is not ...}
    signed = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signed}.{b64(key.sign(signed.encode()))}"


def listing(*entries: dict[str, Any], seq: int = 7) -> dict[str, Any]:
    return {"iss": "certfree-root", "iat": IAT, "seq": seq, "keys": list(entries)}


def refusal(token: Any, root: Any = None, **kwargs: Any) -> tuple[str, str | None]:
    with pytest.raises(VerificationFailed) as info:
        load_trust_list(token, jwk(ROOT) if root is None else root, **kwargs)
    (failure,) = info.value.failures
    return failure.code, failure.detail


def test_a_valid_list_yields_each_key_as_listed() -> None:
    token = sign(listing(entry(ISSUER), entry(OLD, state="retired", retired_at=IAT - 50, authority="traffic_police",
                                              types=["driving_license"])))
    for root in (jwk(ROOT), ROOT.public_key()):  # the pinned root as a JWK or as a key
        store = load_trust_list(token, root)
        assert (store.seq, store.issued_at, sorted(store.keys)) == (7, IAT, sorted([thumbprint(ISSUER), thumbprint(OLD)]))
        key = store.by_kid(thumbprint(ISSUER))
        assert key is not None
        assert (key.kid, key.authority, key.licence_types) == (thumbprint(ISSUER), "household_registration",
                                                               frozenset({"id_card", "household_book"}))
        assert (key.not_before, key.not_after, key.state, key.retired_at, key.compromised_since) == (
            IAT - 100, IAT + 10_000_000, "active", None, None)
        assert key.raw == base64.urlsafe_b64decode(jwk(ISSUER)["x"] + "=")
        old = store.by_kid(thumbprint(OLD))
        assert old is not None and (old.state, old.retired_at, old.authority) == ("retired", IAT - 50, "traffic_police")
        assert store.by_prefix(base64.urlsafe_b64decode(thumbprint(OLD) + "=")[:8]) is old
        assert store.by_prefix(base64.urlsafe_b64decode(thumbprint(ISSUER) + "=")[:7]) is None
        assert store.by_kid("absent") is None
        assert store.age(IAT + 90.9) == 90


def test_a_compromised_key_keeps_its_time() -> None:
    store = load_trust_list(sign(listing(entry(ISSUER, state="compromised", compromised_since=IAT - 10))), jwk(ROOT))
    key = store.by_kid(thumbprint(ISSUER))
    assert key is not None and (key.state, key.compromised_since) == ("compromised", IAT - 10)


def test_surrounding_white_space_is_ignored_and_the_size_cap_is_exact() -> None:
    token = sign(listing(entry(ISSUER)))
    assert load_trust_list(f"\n {token}\n", jwk(ROOT)).seq == 7
    at_cap = token + "\n" * (MAX_TRUST_LIST - len(token))
    assert load_trust_list(at_cap, jwk(ROOT)).seq == 7
    assert refusal(at_cap + "\n") == ("trust_list_invalid", "trust list too large")
    assert refusal(token.encode()) == ("trust_list_invalid", "trust list too large")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ({"alg": "ES256"}, "bad trust list header"),
        ({"alg": ...}, "bad trust list header"),
        ({"typ": "cf-cred"}, "bad trust list header"),
        ({"typ": ...}, "bad trust list header"),
        ({"crit": ["exp"]}, "bad trust list header"),
        ({"kid": thumbprint(ISSUER)}, "trust list not signed by the pinned root"),
        ({"kid": ...}, "trust list not signed by the pinned root"),
    ],
)
def test_a_header_other_than_the_roots_is_refused(header: dict[str, Any], detail: str) -> None:
    assert refusal(sign(listing(entry(ISSUER)), **header)) == ("trust_list_invalid", detail)


def test_a_header_that_is_not_an_object_is_refused() -> None:
    token = sign(listing(entry(ISSUER)))
    _, payload, signature = token.split(".")
    assert refusal(f"{b64(b'[]')}.{payload}.{signature}") == ("trust_list_invalid", "trust list header is not an object")


def test_a_list_signed_by_another_key_under_the_roots_kid_is_refused() -> None:
    token = sign(listing(entry(ISSUER)), key=ISSUER, kid=thumbprint(ROOT))
    assert refusal(token) == ("trust_list_invalid", "malformed trust list")


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        (listing(entry(ISSUER, kid=thumbprint(OLD))), "kid is not the key's thumbprint, or repeated"),
        (listing(entry(ISSUER), entry(ISSUER)), "kid is not the key's thumbprint, or repeated"),
        (listing(entry(ISSUER, state="suspended")), "unknown key state"),
        (listing(entry(ISSUER, authority=...)), "malformed trust list"),
        (listing(entry(ISSUER, nbf="soon")), "malformed trust list"),
        (listing(entry(ISSUER, jwk={"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})), "malformed trust list"),
        ({"iss": "certfree-root", "iat": IAT, "seq": 1}, "malformed trust list"),
        ([1, 2], "malformed trust list"),
    ],
)
def test_a_key_entry_that_is_wrong_is_refused_with_its_reason(claims: Any, detail: str) -> None:
    assert refusal(sign(claims)) == ("trust_list_invalid", detail)


@pytest.mark.parametrize(
    "root",
    [{"kty": "OKP", "crv": "Ed448", "x": "AA"}, {"kty": "OKP", "crv": "Ed25519"}, {"kty": "OKP", "crv": "Ed25519", "x": 5}],
)
def test_a_pinned_root_that_is_not_an_ed25519_jwk_is_refused(root: dict[str, Any]) -> None:
    assert refusal(sign(listing(entry(ISSUER))), root=root) == ("trust_list_invalid", "pinned root key is not an Ed25519 JWK")


def test_an_older_list_than_the_one_held_is_a_rollback_and_the_same_one_is_not() -> None:
    held = load_trust_list(sign(listing(entry(ISSUER), seq=5)), jwk(ROOT))
    assert load_trust_list(sign(listing(entry(ISSUER), seq=5)), jwk(ROOT), held=held).seq == 5
    assert load_trust_list(sign(listing(entry(ISSUER), seq=6)), jwk(ROOT), held=held).seq == 6
    assert refusal(sign(listing(entry(ISSUER), seq=4)), held=held) == ("trust_list_rollback", "seq 4 < held 5")
