"""Status list tokens: what a valid one yields, and the exact reason each broken one is
refused for, with every bound tried on both sides.

The tokens are signed by hand (JSON, base64url, zlib and an Ed25519 signature from
`cryptography`) under a trust list signed by hand too (tests/test_trust_refusals.py's
helpers), so that each header member, claim and compressed byte can be made wrong alone.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from test_trust_refusals import IAT, ISSUER, OLD, ROOT, b64, entry, jwk, listing, sign, thumbprint

from verifier import VerificationFailed, load_trust_list
from verifier._status import (
    MAX_COMPRESSED,
    MAX_STATUS_TOKEN,
    StatusStore,
    _inflate,
    parse_status_list,
    status_entry,
)

URI = "https://certfree.example/status/abc123.jws"
NOT_BEFORE, NOT_AFTER = IAT - 100, IAT + 10_000_000
TRUST = load_trust_list(sign(listing(entry(ISSUER, nbf=NOT_BEFORE, exp=NOT_AFTER),
                                     entry(OLD, state="retired", retired_at=IAT - 50))), jwk(ROOT))


def token(claims: Any = None, *, key: Any = ISSUER, raw_lst: str | None = None, **header: Any) -> str:
    body = {"iss": "household_registration", "sub": URI, "iat": IAT, "exp": IAT + 7 * 86400, "ttl": 900,
            "status_list": {"bits": 2, "lst": raw_lst if raw_lst is not None else b64(zlib.compress(bytes([0b11100100, 0, 0, 1])))}}
    if isinstance(claims, dict):
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not ...}
    elif claims is not None:
        body = claims
    return sign(body, key=key, **{"typ": "statuslist+jwt", **header})


def refusal(text: Any) -> str | None:
    with pytest.raises(VerificationFailed) as info:
        parse_status_list(text, TRUST)
    (failure,) = info.value.failures
    assert failure.code == "status_list_invalid"
    return failure.detail


def test_a_valid_list_yields_its_names_times_and_entries() -> None:
    lst = parse_status_list(token(), TRUST)
    assert (lst.list_id, lst.uri, lst.authority, lst.kid) == ("abc123", URI, "household_registration", thumbprint(ISSUER))
    assert (lst.issued_at, lst.expires_at, lst.ttl, lst.size) == (IAT, IAT + 7 * 86400, 900, 16)
    # 0b11100100: entries 0..3 are 0, 1, 2, 3 (the draft: the lowest bits first)
    assert [lst.get(i) for i in range(4)] == [0, 1, 2, 3]
    assert [lst.get(i) for i in range(4, 12)] == [0] * 8 and lst.get(12) == 1
    assert lst.age(IAT + 59.9) == 59
    assert not lst.expired(IAT + 7 * 86400 - 1) and lst.expired(IAT + 7 * 86400)
    store = StatusStore({lst.list_id: lst}, by_uri={URI: lst})
    assert store.get(URI) is lst and store.get("abc123") is lst and store.get("other") is None
    assert store.lookup(URI, 0) == 0 and store.lookup(URI, 1) == 1 and store.lookup(URI, 15) == 0
    assert store.lookup(URI, 16) is None and store.lookup(URI, -1) is None and store.lookup("other", 0) is None
    assert store.oldest_age(IAT + 10) == 10 and StatusStore({}).oldest_age(IAT) is None


def test_a_list_signed_with_a_bare_id_and_no_exp_or_ttl_is_read_and_never_expires() -> None:
    lst = parse_status_list(token({"sub": "abc123", "exp": ..., "ttl": ...}), TRUST)
    assert (lst.list_id, lst.uri, lst.expires_at, lst.ttl) == ("abc123", None, None, None)
    assert not lst.expired(IAT + 10**9)
    assert parse_status_list(token({"sub": "https://certfree.example/lists/7"}), TRUST).list_id == "https://certfree.example/lists/7"


def test_the_key_s_validity_is_exact_to_the_second() -> None:
    assert parse_status_list(token({"iat": NOT_BEFORE}), TRUST).issued_at == NOT_BEFORE
    assert parse_status_list(token({"iat": NOT_AFTER - 1, "exp": NOT_AFTER + 1}), TRUST).issued_at == NOT_AFTER - 1
    assert refusal(token({"iat": NOT_BEFORE - 1})) == "signed outside the key's validity"
    assert refusal(token({"iat": NOT_AFTER, "exp": NOT_AFTER + 1})) == "signed outside the key's validity"
    old = {"iss": "household_registration"}
    assert parse_status_list(token({**old, "iat": IAT - 50}, key=OLD), TRUST).issued_at == IAT - 50
    assert refusal(token({**old, "iat": IAT - 49}, key=OLD)) == "signed after the key was retired"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (token({"exp": IAT}), "bad exp"),
        (token({"exp": "later"}), "bad exp"),
        (token({"ttl": -1}), "bad ttl"),
        (token({"ttl": True}), "bad ttl"),
        (token({"iat": "now"}), "bad iat"),
        (token({"iat": ...}), "bad iat"),
        (token({"sub": "has space"}), "bad sub: neither a list URI nor a list id"),
        (token({"sub": "ftp://certfree.example/status/a.jws"}), "bad sub: neither a list URI nor a list id"),
        (token({"sub": ...}), "bad sub: neither a list URI nor a list id"),
        (token({"iss": "traffic_police"}), "list of 'traffic_police' signed by a key of 'household_registration'"),
        (token({"status_list": {"bits": 1, "lst": "AA"}}), "status_list must hold bits=2 and lst"),
        (token({"status_list": {"bits": 2}}), "status_list must hold bits=2 and lst"),
        (token({"status_list": "AA"}), "status_list must hold bits=2 and lst"),
        (token(raw_lst="not base64url!"), "lst is not base64url"),
        (token(raw_lst=b64(b"not a zlib stream")), "lst is not a zlib stream"),
        (token(raw_lst=b64(zlib.compress(b"\x00" * 8) + b"x")), "truncated zlib stream or trailing data"),
        (token(raw_lst=b64(zlib.compress(b"\x00" * 8)[:-3])), "truncated zlib stream or trailing data"),
        (token(raw_lst=b64(zlib.compress(b""))), "empty list"),
        (token(raw_lst="A" * (MAX_COMPRESSED * 4 // 3 + 5)), "compressed list too large"),
        (token([1, 2]), "payload is not an object"),
        (token(alg="ES256"), "bad header (alg, typ or extra members)"),
        (token(typ="cf-trust"), "bad header (alg, typ or extra members)"),
        (token(jku="https://evil.example/jwks"), "bad header (alg, typ or extra members)"),
        (token(kid=thumbprint(ROOT)), "signed by a key that is not in the trust list"),
        (token(kid=5), "signed by a key that is not in the trust list"),
        (token(key=ROOT, kid=thumbprint(ISSUER)), "signature does not verify"),
        ("a.b", "not a compact JWS"),
        (f"{b64(b'[]')}.{b64(b'{}')}.{b64(bytes(64))}", "bad header"),
    ],
)
def test_a_broken_list_is_refused_with_its_reason(text: str, detail: str) -> None:
    assert refusal(text) == detail


def test_a_payload_that_is_not_json_is_named() -> None:
    head = b64(json.dumps({"alg": "EdDSA", "typ": "statuslist+jwt", "kid": thumbprint(ISSUER)}).encode())
    signed = f"{head}.{b64(b'not json')}"
    assert refusal(f"{signed}.{b64(ISSUER.sign(signed.encode()))}") == "payload is not JSON"


def test_the_size_caps_are_exact() -> None:
    good = token()
    assert parse_status_list(good + "\n" * (MAX_STATUS_TOKEN - len(good)), TRUST).list_id == "abc123"
    assert refusal(good + "\n" * (MAX_STATUS_TOKEN - len(good) + 1)) == "status list token too large"
    assert refusal(good.encode()) == "status list token too large"
    # the zlib stream: exactly the cap is read, one byte more is not
    body = bytes(range(256)) * (MAX_COMPRESSED // 256)
    n = MAX_COMPRESSED - 200
    while len(zlib.compress(body[:n], 0)) < MAX_COMPRESSED:
        n += 1
    stream = zlib.compress(body[:n], 0)
    assert len(stream) == MAX_COMPRESSED and _inflate(stream) == body[:n]
    with pytest.raises(VerificationFailed) as info:
        _inflate(zlib.compress(body[: n + 1], 0))
    assert info.value.failures[0].detail == "compressed list too large"


@pytest.mark.parametrize(
    ("claim", "found"),
    [
        ({"status_list": {"idx": 0, "uri": URI}}, (URI, None, 0)),
        ({"idx": 7, "lst": "abc123"}, (None, "abc123", 7)),
        ({"status_list": {"idx": 0, "uri": URI}, "idx": 1}, None),
        ({"status_list": [0, URI]}, None),
        ({"status_list": {"idx": 0, "uri": URI, "x": 1}}, None),
        ({"status_list": {"idx": 0, "uri": "abc123"}}, None),
        ({"status_list": {"idx": -1, "uri": URI}}, None),
        ({"status_list": {"idx": True, "uri": URI}}, None),
        ({"status_list": {"idx": 2**40, "uri": URI}}, None),
        ({"status_list": {"idx": 2**40 - 1, "uri": URI}}, (URI, None, 2**40 - 1)),
        ({"idx": 7, "lst": 5}, None),
        ({"idx": "7", "lst": "abc123"}, None),
        ("abc123", None),
    ],
)
def test_a_status_claim_is_read_in_either_shape_or_not_at_all(claim: Any, found: Any) -> None:
    assert status_entry(claim) == found
