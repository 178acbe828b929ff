"""Status list tokens: what a valid one yields, and the exact reason each broken one is
refused for, with every bound tried on both sides.

The tokens are signed by hand (JSON, base64url, zlib and an Ed25519 signature from
`cryptography`) under a trust list signed by hand too (tests/test_trust_refusals.py's
helpers), so that each header member, claim and compressed byte can be made wrong alone.
"""

from __future__ import annotations

import functools
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from test_trust_refusals import IAT, ISSUER, OLD, ROOT, b64, entry, jwk, listing, sign, thumbprint

from scenarios import get_policy
from verifier import VerificationError, VerificationFailed, load_status_lists, load_trust_list
from verifier._status import (
    MAX_COMPRESSED,
    MAX_STATUS_TOKEN,
    StatusStore,
    _inflate,
    check_status,
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
        (token(kid=[thumbprint(ISSUER)]), "signed by a key that is not in the trust list"),
        (token(kid=...), "signed by a key that is not in the trust list"),
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


@functools.lru_cache(maxsize=1)
def _at_cap() -> tuple[bytes, int]:
    """(the bit array, its length) whose stored (level 0) zlib stream is exactly MAX_COMPRESSED bytes."""
    body = bytes(range(256)) * (MAX_COMPRESSED // 256)
    n = MAX_COMPRESSED - 200
    while len(zlib.compress(body[:n], 0)) < MAX_COMPRESSED:
        n += 1
    return body, n


def test_the_size_caps_are_exact() -> None:
    good = token()
    assert parse_status_list(good + "\n" * (MAX_STATUS_TOKEN - len(good)), TRUST).list_id == "abc123"
    assert refusal(good + "\n" * (MAX_STATUS_TOKEN - len(good) + 1)) == "status list token too large"
    assert refusal(good.encode()) == "status list token too large"
    # the zlib stream: exactly the cap is read, one byte more is not
    body, n = _at_cap()
    stream = zlib.compress(body[:n], 0)
    assert len(stream) == MAX_COMPRESSED and _inflate(stream) == body[:n]
    with pytest.raises(VerificationFailed) as info:
        _inflate(zlib.compress(body[: n + 1], 0))
    assert info.value.failures[0].detail == "compressed list too large"


def test_the_compressed_list_s_cap_is_checked_on_its_text_before_decoding() -> None:
    """A list whose zlib stream is exactly the cap is read whole from a signed token. lst
    is measured before it is decoded: up to MAX_COMPRESSED * 4 // 3 + 4 characters it is
    decoded (so a length base64url cannot have is "lst is not base64url"), beyond it the
    list is too large unread, whatever the text."""
    body, n = _at_cap()
    lst = parse_status_list(token(raw_lst=b64(zlib.compress(body[:n], 0))), TRUST)
    assert (lst.list_id, lst.size, lst.data) == ("abc123", 4 * n, body[:n])
    assert (lst.get(4 * n - 1), lst.get(4 * n - 4)) == (body[n - 1] >> 6, body[n - 1] & 3)
    longest = MAX_COMPRESSED * 4 // 3 + 4
    assert longest % 4 == 1 and refusal(token(raw_lst="A" * longest)) == "lst is not base64url"
    assert refusal(token(raw_lst="A" * (longest + 4))) == "compressed list too large"
    assert refusal(token(raw_lst="!" * (longest + 1))) == "compressed list too large"


def test_a_store_keeps_each_token_s_text_and_the_trust_list_s_number() -> None:
    text = token()
    store = load_status_lists([text], TRUST)
    assert store.trust_seq == TRUST.seq == 7
    assert store.lists["abc123"].token == text and store.by_uri[URI] is store.lists["abc123"]


def test_of_two_lists_with_one_id_the_newer_is_kept_and_of_two_as_new_the_first() -> None:
    """Two lists of one id and one iat (a list delivered twice, or re-signed within the
    second): the one read first stays; a later iat replaces it, in either order."""
    first, second = token(), token(raw_lst=b64(zlib.compress(bytes([1, 0, 0, 0]))))
    newer = token({"iat": IAT + 1}, raw_lst=b64(zlib.compress(bytes([2, 0, 0, 0]))))
    assert load_status_lists([first, second], TRUST).lists["abc123"].token == first
    assert load_status_lists([second, first], TRUST).lists["abc123"].token == second
    for tokens in ([first, newer], [newer, first]):
        store = load_status_lists(tokens, TRUST)
        assert store.lists["abc123"].token == newer and store.by_uri[URI].get(0) == 2


def test_a_folder_of_lists_is_read_with_every_file_capped_and_named(tmp_path: Path) -> None:
    """Only *.jws files are read, each at most MAX_STATUS_TOKEN bytes (white space around
    the token counts) and ASCII; a refusal names the file, and a missing folder its path."""
    missing = tmp_path / "absent"
    with pytest.raises(VerificationFailed) as info:
        load_status_lists(missing, TRUST)
    assert [(f.code, f.detail) for f in info.value.failures] == [("status_list_invalid", f"no status list folder at {missing}")]
    good = token()
    (tmp_path / "a.jws").write_text(good + "\n" * (MAX_STATUS_TOKEN - len(good)), "ascii")
    (tmp_path / "notes.txt").write_text("not a list", "ascii")
    store = load_status_lists(tmp_path, TRUST)
    assert list(store.lists) == ["abc123"] and store.lists["abc123"].issued_at == IAT
    assert load_status_lists(str(tmp_path), TRUST).lists["abc123"].token == good

    def folder_refusal(name: str, data: bytes) -> str | None:
        (tmp_path / name).write_bytes(data)
        try:
            with pytest.raises(VerificationFailed) as info:
                load_status_lists(tmp_path, TRUST)
        finally:
            (tmp_path / name).unlink()
        (failure,) = info.value.failures
        assert failure.code == "status_list_invalid"
        return failure.detail

    assert folder_refusal("big.jws", (good + "\n" * (MAX_STATUS_TOKEN - len(good) + 1)).encode()) == "big.jws too large"
    assert folder_refusal("utf8.jws", good.encode() + " é".encode()) == "utf8.jws cannot be read as a compact JWS"


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
        ({"idx": 7, "lst": "abc123", "x": 1}, None),
        ({"idx": 7, "lst": "abc123", "uri": URI}, None),
        ("abc123", None),
    ],
)
def test_a_status_claim_is_read_in_either_shape_or_not_at_all(claim: Any, found: Any) -> None:
    assert status_entry(claim) == found


# ---- check_status: what a credential's status entry yields, reason, field and message ----------

ID = "household_registration"
#: The failures and warnings of check_status as a desk renders them, in English and Chinese.
MESSAGES = {
    "revoked": ("the licence has been revoked by its issuer", "该证照已被签发机关注销"),
    "suspended": ("the licence is suspended", "该证照已被暂停使用"),
    "reported_stolen": ("this e-bike has been reported stolen", "该电动自行车已报失窃"),
    "status_unknown": ("revocation status unknown: no status list held, or it is too old; sync when online",
                       "证照状态未知：未持有状态列表或列表已过期，请联网同步"),
    "status_list_invalid": ("the status list is invalid or not signed by a trusted key of its issuer",
                            "状态列表无效或非签发机关可信密钥签发"),
    "claim_invalid": ("a required credential field is missing or invalid", "凭证必要字段缺失或无效"),
}
HELD = load_status_lists([token()], TRUST)  # entries 0..3: 0, 1, 2, 3; 12: 1; 16 entries


def said(code: str, detail: str | None = None) -> dict[str, str]:
    """A failure or warning as to_json renders it: every status failure names the status claim."""
    english, chinese = MESSAGES[code]
    out = {"code": code, "message": english, "message_zh": chinese, "field": "status"}
    return out | ({"detail": detail} if detail else {})


def checked(ref: Any, *, store: StatusStore | None = HELD, policy: Any = None, now: float = IAT + 60,
            **claims: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(failures, warnings) of check_status for an id card issued by the list's authority
    whose status claim is ``ref`` (left out when ``ref`` is ...)."""
    claims = {"iss": ID, "vct": "id_card", **claims} | ({} if ref is ... else {"status": ref})
    failures: list[VerificationError] = []
    warnings = check_status(store, claims, policy, now, failures.append)
    return [f.to_json() for f in failures], [w.to_json() for w in warnings]


def by_uri(idx: int, uri: str = URI) -> dict[str, Any]:
    return {"status_list": {"idx": idx, "uri": uri}}


def by_id(idx: int, list_id: str = "abc123") -> dict[str, Any]:
    return {"idx": idx, "lst": list_id}


@pytest.mark.parametrize("ref", [by_uri, by_id], ids=["uri", "list_id"])
@pytest.mark.parametrize(
    ("idx", "failures"),
    [
        (0, []),
        (1, [said("revoked")]),
        (2, [said("suspended")]),
        (3, [said("status_list_invalid", "undefined status value 3")]),
        (12, [said("revoked")]),
        (15, []),
        (16, [said("status_list_invalid", "index outside the list")]),
        (17, [said("status_list_invalid", "index outside the list")]),
    ],
    ids=["valid", "revoked", "suspended", "undefined", "revoked_late", "last", "at_size", "past_size"],
)
def test_each_status_value_and_index_bound_is_reported_exactly(ref: Any, idx: int, failures: list[Any]) -> None:
    """Each 2-bit value of a held, current list, in either shape of the status claim: the
    failure's code, field, detail and messages; the last entry is read, the list's size and
    beyond are outside it. None of these is a warning."""
    assert checked(ref(idx)) == (failures, [])


def test_a_suspended_ebike_is_reported_stolen_and_only_an_ebike() -> None:
    assert checked(by_uri(2), vct="ebike_registration") == ([said("reported_stolen")], [])
    assert checked(by_uri(2), vct="driving_license") == ([said("suspended")], [])
    assert checked(by_uri(1), vct="ebike_registration") == ([said("revoked")], [])


def test_a_credential_without_a_status_claim_is_not_checked() -> None:
    assert checked(..., store=None) == ([], [])
    assert checked(..., store=None, policy=get_policy("fuel_purchase")) == ([], [])


@pytest.mark.parametrize(
    "ref",
    [{"status_list": {"idx": 0}}, {"idx": 0}, {"lst": "abc123"}, {"idx": 1, "lst": None}, "abc123", [0, URI], 0],
    ids=["no_uri", "no_list", "no_index", "null_list", "text", "list", "number"],
)
def test_a_status_claim_in_neither_shape_is_claim_invalid_naming_status(ref: Any) -> None:
    """Nothing else is said about it: no list is looked up (a desk without one, whose
    policy refuses an unknown status, says only claim_invalid), and nothing is a warning."""
    assert checked(ref) == ([said("claim_invalid")], [])
    assert checked(ref, store=None, policy=get_policy("fuel_purchase")) == ([said("claim_invalid")], [])


NO_LIST = "no status list held for this licence"
SHORT = load_status_lists([token({"exp": IAT + 3600})], TRUST)  # the same entries, exp an hour after iat


@pytest.mark.parametrize(
    ("ref", "store", "claims"),
    [
        (by_uri(1), None, {}),
        (by_id(1), None, {}),
        (by_uri(1), StatusStore({}), {}),
        (by_uri(1, "https://certfree.example/status/other.jws"), HELD, {}),
        (by_uri(1, "https://elsewhere.example/status/abc123.jws"), HELD, {}),  # the list's id, not its URI
        (by_id(1, "other"), HELD, {}),
        (by_id(1, URI), HELD, {}),  # the old shape names a list by id, not by URI
        (by_uri(1), HELD, {"iss": "traffic_police"}),  # the list of another authority
        (by_id(1), HELD, {"iss": "traffic_police"}),
        (by_uri(16), None, {}),  # no list: the index is not judged either
    ],
    ids=["no_store", "no_store_old_shape", "empty_store", "other_uri", "id_as_uri", "other_id", "uri_as_id",
         "other_authority", "other_authority_old_shape", "index_without_list"],
)
def test_without_the_licence_s_own_list_the_status_is_unknown(ref: Any, store: Any, claims: dict[str, Any]) -> None:
    """A warning without a scenario and where the policy says warn; a failure, and no
    warning, where it says refuse."""
    unknown = said("status_unknown", NO_LIST)
    assert checked(ref, store=store, **claims) == ([], [unknown])
    assert checked(ref, store=store, policy=get_policy("hotel"), **claims) == ([], [unknown])
    assert checked(ref, store=store, policy=get_policy("fuel_purchase"), **claims) == ([unknown], [])


def test_an_empty_list_id_names_no_list_whatever_lists_are_held() -> None:
    """A status claim of the older shape whose list id is empty matches no list, even
    where lists with bare ids (short, upper case) are held beside lists with URIs."""
    store = load_status_lists([token(), token({"sub": "XXXX"}), token({"sub": "A"})], TRUST)
    assert sorted(store.lists) == ["A", "XXXX", "abc123"]
    assert checked(by_id(1, "XXXX"), store=store) == ([said("revoked")], [])
    assert checked(by_id(1, ""), store=store) == ([], [said("status_unknown", NO_LIST)])


def test_a_licence_without_an_issuer_has_no_list() -> None:
    failures: list[VerificationError] = []
    warnings = check_status(HELD, {"vct": "id_card", "status": by_uri(1)}, None, IAT + 60, failures.append)
    assert failures == [] and [w.to_json() for w in warnings] == [said("status_unknown", NO_LIST)]


@pytest.mark.parametrize("scenario", [None, "hotel", "fuel_purchase"])
def test_a_list_is_read_up_to_the_second_before_its_exp(scenario: str | None) -> None:
    """At exp the list is expired, however young (exp is an hour after iat here, and every
    policy allows an older list): its entries are no longer read."""
    policy = get_policy(scenario) if scenario else None
    assert checked(by_uri(1), store=SHORT, policy=policy, now=IAT + 3599) == ([said("revoked")], [])
    assert checked(by_uri(0), store=SHORT, policy=policy, now=IAT + 3599) == ([], [])
    expired = said("status_unknown", "status list has expired (exp)")
    for idx in (0, 1, 16):
        expected = ([expired], []) if scenario == "fuel_purchase" else ([], [expired])
        assert checked(by_uri(idx), store=SHORT, policy=policy, now=IAT + 3600) == expected


@pytest.mark.parametrize(("scenario", "limit"), [(None, 86400), ("hotel", 259200), ("fuel_purchase", 21600)])
def test_a_list_is_read_up_to_its_age_limit_to_the_second(scenario: str | None, limit: int) -> None:
    """The policy's status_max_age_seconds (24 h without a scenario): a list exactly that
    old is read, one a second (or half a second) older is not, and the reason gives both
    ages in whole seconds."""
    policy = get_policy(scenario) if scenario else None
    assert checked(by_uri(1), policy=policy, now=IAT + limit) == ([said("revoked")], [])
    assert checked(by_id(16), policy=policy, now=IAT + limit) == ([said("status_list_invalid", "index outside the list")], [])
    for late, age in ((limit + 1, limit + 1), (limit + 0.5, limit)):
        old = said("status_unknown", f"status list is {age} s old (limit {limit} s)")
        expected = ([old], []) if scenario == "fuel_purchase" else ([], [old])
        for idx in (0, 1, 16):
            assert checked(by_uri(idx), policy=policy, now=IAT + late) == expected


def test_an_expired_list_is_said_to_be_expired_before_too_old() -> None:
    store = load_status_lists([token({"exp": IAT + 86400})], TRUST)
    assert checked(by_uri(0), store=store, now=IAT + 86400) == ([], [said("status_unknown", "status list has expired (exp)")])
    store = load_status_lists([token({"exp": IAT + 86402})], TRUST)
    assert checked(by_uri(0), store=store, now=IAT + 86401) == ([], [said("status_unknown", "status list is 86401 s old (limit 86400 s)")])
