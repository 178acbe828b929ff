"""Properties of the verifier that fail when one of its checks is weakened.

Each test here was written against a deliberate weakening of the verifier (a boundary
moved by one, a branch dropped, a filter widened) and fails on it; docs/security.md
("Mutation testing") lists them. Everything is real: views and credentials signed with
the test key folder's issuer keys, trust lists with its root key, QR envelopes built by
the wallet, and the verifier's public API. Checks are made on the QR text (the image path
is covered by test_presentations.py), so a property can run over every scenario and
licence type in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import NOW
from issuer import example, issue
from issuer.status_list import sign_status_list, status_list_claims
from keys import KeyDir
from keys.envelope import encode_credential
from keys.jose import TYP_STATUS_LIST, TYP_TRUST_LIST, sign_compact, split_compact
from scenarios import SCENARIOS, get_policy
from verifier import (
    MemoryReplayCache,
    StatusStore,
    TrustStore,
    VerificationFailed,
    Verifier,
    load_status_lists,
    load_trust_list,
    parse_status_list,
)
from verifier._core import DEFAULT_FRESHNESS, DEFAULT_SKEW
from wallet import Wallet, present_view

DAY = 86400

#: Every (scenario, licence type) pair the packaged policies accept.
ACCEPTED = [(s, t) for s in SCENARIOS for t in get_policy(s).accepts]
#: Every (scenario, licence type, disclosed claim) triple.
DISCLOSED = [(s, t, c) for s, t in ACCEPTED for c in sorted(get_policy(s).disclosed_for(t))]


def _claims(jws: str) -> dict[str, Any]:
    return json.loads(split_compact(jws)[1])


def resign(keydir: KeyDir, jws: str, *, drop: tuple[str, ...] = (), **changes: Any) -> str:
    """``jws`` signed again by the same issuer key with ``changes`` made and ``drop``
    removed: a view or credential as a real (buggy or lenient) issuer could sign it."""
    header = json.loads(split_compact(jws)[0])
    claims = {k: v for k, v in _claims(jws).items() if k not in drop} | changes
    return sign_compact(claims, keydir.private_key(header["kid"]), kid=header["kid"], typ=header["typ"])


def desk(trust: TrustStore, at: int = NOW, status: StatusStore | None = None) -> Verifier:
    """A desk that has seen nothing yet, its clock at ``at``."""
    return Verifier(trust, clock=lambda: at, replay_cache=MemoryReplayCache(), status=status)


def refused(verifier: Verifier, text: str, scenario: str | None, **kw: Any) -> list[str]:
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(text, scenario=scenario, **kw)
    return exc.value.codes


@pytest.fixture(scope="module")
def trust(keydir: KeyDir) -> TrustStore:
    return load_trust_list(keydir.trust_list(), keydir.root_public_jwk())


def shown(holder: Wallet, view: str, licence_type: str, scenario: str, at: int = NOW) -> str:
    return present_view(view, holder.device_key(), licence_type=licence_type, scenario=scenario, now=at).text


# ---- disclosure: exactly the policy's set, whatever a signed view carries --------------------


@pytest.mark.parametrize(("scenario", "licence_type"), ACCEPTED)
def test_the_result_holds_exactly_the_disclosed_claims_whatever_else_a_signed_view_carries(
    scenario: str, licence_type: str, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """A view signed by the real issuer key that also carries every other field of the
    licence and a claim no policy knows: the result still holds exactly the policy's
    disclosed claims, with the view's values, and the JSON a desk renders says no more."""
    policy = get_policy(scenario)
    disclosed = policy.disclosed_for(licence_type)
    view = holder.licence(licence_type).views[scenario]
    extra = {k: v for k, v in example(licence_type).items() if k not in disclosed}
    overfull = resign(keydir, view, smuggled="not for this desk", **extra)
    result = desk(trust).verify(shown(holder, overfull, licence_type, scenario), scenario=scenario)
    assert set(result.claims) == disclosed
    assert dict(result.claims) == {k: v for k, v in _claims(view).items() if k in disclosed}
    assert set(result.to_json()["claims"]) == disclosed


@pytest.mark.parametrize(("scenario", "licence_type", "claim"), DISCLOSED)
def test_a_view_without_one_disclosed_claim_is_refused_naming_it(
    scenario: str, licence_type: str, claim: str, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """Every disclosed claim is required: a signed view without it (the internet café's
    age_over_18 among them, which would otherwise skip the age check) is claim_missing."""
    view = resign(keydir, holder.licence(licence_type).views[scenario], drop=(claim,))
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(shown(holder, view, licence_type, scenario), scenario=scenario)
    assert exc.value.codes == ["claim_missing"]
    assert exc.value.failures[0].field == claim


# ---- time: every boundary exact to the second, on both sides ---------------------------------


def _skew(scenario: str | None) -> int:
    return get_policy(scenario).clock_skew_seconds if scenario else DEFAULT_SKEW


def _timed(keydir: KeyDir, holder: Wallet, scenario: str | None, nbf: int, exp: int) -> Any:
    """A function of the scan time that returns the QR text of an id-card view (a bare
    credential without a scenario) valid from ``nbf`` to ``exp``, presented at that time."""
    if scenario is None:
        text = encode_credential(resign(keydir, holder.licence("id_card").credential, nbf=nbf, exp=exp))
        return lambda at: text
    licence_type = get_policy(scenario).accepts[0]
    view = resign(keydir, holder.licence(licence_type).views[scenario], nbf=nbf, exp=exp)
    return lambda at: shown(holder, view, licence_type, scenario, at)


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_not_before_is_exact_to_the_second_with_the_clock_skew(
    scenario: str | None, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """nbf later than iat (a licence that starts next week): valid from nbf - skew, not a
    second earlier."""
    nbf = NOW + 7 * DAY
    code = _timed(keydir, holder, scenario, nbf=nbf, exp=nbf + 30 * DAY)
    first = nbf - _skew(scenario)
    assert desk(trust, first).verify(code(first), scenario=scenario).licence_type
    assert refused(desk(trust, first - 1), code(first - 1), scenario) == ["not_yet_valid"]


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_expiry_is_exact_to_the_second_with_the_clock_skew_everywhere(
    scenario: str | None, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    exp = NOW + 7 * DAY
    code = _timed(keydir, holder, scenario, nbf=NOW - DAY, exp=exp)
    last = exp + _skew(scenario) - 1
    assert desk(trust, last).verify(code(last), scenario=scenario).expires_at == exp
    assert refused(desk(trust, last + 1), code(last + 1), scenario) == ["expired"]


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_a_presentations_time_is_exact_to_the_second_on_both_ends(
    scenario: str | None, holder: Wallet, trust: TrustStore
) -> None:
    """A holder proof made up to skew seconds ahead of the desk's clock, and up to
    freshness + skew seconds before it, is accepted; one second more either way is not.
    Without a scenario the verifier's defaults apply."""
    policy = get_policy(scenario) if scenario else None
    skew = _skew(scenario)
    freshness = policy.freshness_seconds if policy else DEFAULT_FRESHNESS
    where = scenario or "hotel"
    licence_type = get_policy(where).accepts[0]
    view = holder.licence(licence_type).views[where]

    def at(made: int) -> str:
        return shown(holder, view, licence_type, where, made)

    assert desk(trust).verify(at(NOW + skew), scenario=scenario).presented_at == NOW + skew
    assert refused(desk(trust), at(NOW + skew + 1), scenario) == ["presentation_from_future"]
    oldest = NOW - freshness - skew
    assert desk(trust).verify(at(oldest), scenario=scenario).presented_at == oldest
    assert refused(desk(trust), at(oldest - 1), scenario) == ["presentation_stale"]


# ---- the holder proof, with or without a scenario -----------------------------------------


@pytest.mark.parametrize("scenario", [None, "hotel"])
def test_a_presentations_holder_proof_is_checked_with_or_without_a_scenario(
    scenario: str | None, holder: Wallet, trust: TrustStore, tmp_path: Path
) -> None:
    """``verify(text)`` with no scenario (what ``certfree verify`` does) checks a
    presentation's proof as a desk does: another device's proof, a replay, a stale or a
    future proof are refused; the holder's own fresh proof is accepted and dated."""
    view = holder.licence("id_card").views["hotel"]
    thief = Wallet.init(tmp_path / "thief", passphrase=b"x")
    stolen = present_view(view, thief.device_key(), licence_type="id_card", scenario="hotel", now=NOW).text
    assert refused(desk(trust), stolen, scenario) == ["holder_proof_invalid"]
    own = shown(holder, view, "id_card", "hotel")
    verifier = desk(trust)
    assert verifier.verify(own, scenario=scenario).presented_at == NOW
    assert refused(verifier, own, scenario) == ["replayed"]
    assert refused(desk(trust), shown(holder, view, "id_card", "hotel", NOW - DAY), scenario) == ["presentation_stale"]
    assert refused(desk(trust), shown(holder, view, "id_card", "hotel", NOW + DAY), scenario) == ["presentation_from_future"]


def test_a_view_whose_holder_key_is_unusable_is_refused_without_a_scenario(
    keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """A signed view whose cnf names no usable key cannot be presented, scenario or not."""
    view = resign(keydir, holder.licence("id_card").views["hotel"], cnf={"jwk": {"kty": "RSA"}})
    for scenario in (None, "hotel"):
        assert refused(desk(trust), shown(holder, view, "id_card", "hotel"), scenario) == ["holder_proof_invalid"]


# ---- keys reported compromised without a time ---------------------------------------------


def _trust_with(keydir: KeyDir, kid: str, *, drop: tuple[str, ...] = (), **entry_changes: Any) -> TrustStore:
    """The test key folder's trust list with one key's entry changed, signed by its root."""
    header, payload, _ = split_compact(keydir.trust_list())
    claims = json.loads(payload)
    for entry in claims["keys"]:
        if entry["kid"] == kid:
            entry.update(entry_changes)
            for name in drop:
                entry.pop(name, None)
    root_kid = json.loads(header)["kid"]
    token = sign_compact(claims, keydir.private_key("root"), kid=root_kid, typ=TYP_TRUST_LIST)
    return load_trust_list(token, keydir.root_public_jwk())


def test_a_key_reported_compromised_without_a_time_verifies_nothing(keydir: KeyDir, holder: Wallet) -> None:
    """A trust list may mark a key compromised with no compromised_since (the time of the
    theft unknown): everything that key signed is refused, credentials and status lists
    alike. With a time after the signing, the same credential and list are good."""
    credential = holder.licence("driving_license").credential
    kid = json.loads(split_compact(credential)[0])["kid"]
    authority = _claims(credential)["iss"]
    status_list = sign_compact(status_list_claims("WEAKENED", authority, 1024, [], NOW - 60), keydir.private_key(kid),
                               kid=kid, typ=TYP_STATUS_LIST)
    for trust in (_trust_with(keydir, kid, state="compromised", compromised_since=None),
                  _trust_with(keydir, kid, state="compromised", drop=("compromised_since",))):
        assert trust.by_kid(kid).compromised_since is None
        assert refused(desk(trust), encode_credential(credential), None) == ["key_compromised"]
        with pytest.raises(VerificationFailed) as exc:
            parse_status_list(status_list, trust)
        assert exc.value.codes == ["status_list_invalid"]
        assert exc.value.failures[0].detail == "signed after the key was reported compromised"
    later = _trust_with(keydir, kid, state="compromised", compromised_since=NOW)
    assert desk(later).verify(encode_credential(credential)).licence_type == "driving_license"
    assert parse_status_list(status_list, later).list_id == "WEAKENED"


# ---- status index at the end of its list ------------------------------------------------------


def test_a_status_index_at_or_past_the_end_of_its_list_is_status_list_invalid(
    keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """A list of 1024 entries: entry 1023 (its last) is read; 1024 (the list's size) and
    beyond are outside it, refused as status_list_invalid, never an IndexError; as a bare
    credential and as a presentation."""
    size = 1024
    credential = holder.licence("id_card").credential
    authority = _claims(credential)["iss"]
    status = load_status_lists([sign_status_list(keydir, authority, "EDGE", size, [(size - 1, 1)], NOW - 60)], trust)
    assert status.lists["EDGE"].size == size
    for idx, codes in ((size - 1, ["revoked"]), (size, ["status_list_invalid"]), (size + 1, ["status_list_invalid"]),
                       (4 * size, ["status_list_invalid"])):
        ref = {"lst": "EDGE", "idx": idx}
        bare = encode_credential(resign(keydir, credential, status=ref))
        view = resign(keydir, holder.licence("id_card").views["hotel"], status=ref)
        for text, scenario in ((bare, None), (shown(holder, view, "id_card", "hotel"), "hotel")):
            with pytest.raises(VerificationFailed) as exc:
                desk(trust, status=status).verify(text, scenario=scenario)
            assert exc.value.codes == codes, (idx, scenario)
            if codes == ["status_list_invalid"]:
                assert exc.value.failures[0].detail == "index outside the list"
    assert status.lookup("EDGE", size - 1) == 1 and status.lookup("EDGE", size) is None


# ---- what the result and the refusals say ------------------------------------------------


def test_the_result_json_is_exactly_what_a_desk_renders(holder: Wallet, trust: TrustStore) -> None:
    view = holder.licence("id_card").views["fuel_purchase"]
    claims = _claims(view)
    result = desk(trust).verify(shown(holder, view, "id_card", "fuel_purchase", NOW - 5), scenario="fuel_purchase")
    assert result.to_json() == {
        "ok": True,
        "type": "id_card",
        "scenario": "fuel_purchase",
        "claims": {"name": claims["name"], "id_number": claims["id_number"]},
        "authority": "household_registration",
        "issued_at": claims["iat"],
        "expires_at": claims["exp"],
        "presented_at": NOW - 5,
        "warnings": [],
        "failures": [],
    }
    bare = desk(trust).verify(holder.licence("id_card").credential)
    assert bare.presented_at is None and bare.scenario is None and bare.warnings == ()


def test_an_unknown_scenario_is_refused_before_the_code_is_read(trust: TrustStore) -> None:
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify("not even a code", scenario="casino")
    assert [(f.code, f.field) for f in exc.value.failures] == [("unknown_scenario", "scenario")]


_BAD_TIMES = [True, False, -1, 2**40, 2**41, 1.5, "1", None, [1]]


@pytest.mark.parametrize("name", ["iat", "nbf", "exp"])
@pytest.mark.parametrize("value", _BAD_TIMES, ids=repr)
def test_a_time_claim_that_is_not_a_whole_second_in_range_is_claim_invalid(
    name: str, value: Any, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """iat, nbf and exp must be ints from 0 to 2**40 - 1 (not bools, floats or text); a
    signed credential with one that is not is claim_invalid, naming it, as a compact JWS
    (the QR envelope cannot carry most of these)."""
    token = resign(keydir, holder.licence("id_card").credential, **{name: value})
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(token)
    assert [(f.code, f.field) for f in exc.value.failures] == [("claim_invalid", name)]


@pytest.mark.parametrize("name", ["iat", "nbf", "exp"])
@pytest.mark.parametrize("value", [0, 2**40 - 1])
def test_a_time_claim_at_the_ends_of_its_range_is_a_valid_claim(
    name: str, value: int, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """0 and 2**40 - 1 are well-formed times: whatever else is said about the credential
    (expired, not yet valid, signed outside the key's validity), it is not claim_invalid."""
    token = resign(keydir, holder.licence("id_card").credential, **{name: value})
    try:
        desk(trust).verify(token)
    except VerificationFailed as exc:
        assert "claim_invalid" not in exc.codes and "malformed" not in exc.codes


def test_every_malformed_claim_is_named_at_once(keydir: KeyDir, holder: Wallet, trust: TrustStore) -> None:
    bad = {"iat": "yesterday", "exp": -1, "nbf": 1.5, "iss": 7, "vct": None}
    token = resign(keydir, holder.licence("id_card").credential, **bad)
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(token)
    assert [(f.code, f.field) for f in exc.value.failures] == [("claim_invalid", n) for n in ("iat", "exp", "nbf", "iss", "vct")]
    view = resign(keydir, holder.licence("id_card").views["hotel"], scn=["hotel"])
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(view)
    assert [(f.code, f.field) for f in exc.value.failures] == [("claim_invalid", "scn")]


def _jws(header: bytes, payload: bytes) -> str:
    from keys.jose import b64url_encode

    return ".".join(b64url_encode(part) for part in (header, payload, bytes(64)))


_EDDSA = b'{"alg":"EdDSA"}'


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("hello", "not a certfree QR code or JWS"),
        ("eyJ" + "A" * (16 * 1024 - 3), "not a compact JWS"),  # exactly MAX_JWS long: parsed
        ("eyJ" + "A" * (16 * 1024 - 2), "too long"),  # one more: refused unread
        (_jws(_EDDSA, b"[1]"), "header or payload is not an object"),
        (_jws(_EDDSA, b'{"a":1,"a":2}'), "not a compact JWS"),
    ],
    ids=["not_a_code", "max_length", "too_long", "payload_list", "duplicate_member"],
)
def test_malformed_text_says_why(text: str, detail: str, trust: TrustStore) -> None:
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(text)
    assert [(f.code, f.detail) for f in exc.value.failures] == [("malformed", detail)]


def _header_variants(credential: str) -> dict[str, tuple[str, tuple[str, str | None, str | None]]]:
    """The credential's payload under headers the verifier must refuse, with the refusal."""
    from keys.jose import TYP_VIEW, b64url_encode

    header_bytes, payload, signature = split_compact(credential)
    header = json.loads(header_bytes)

    def token(h: dict[str, Any], sig: bytes = signature) -> str:
        return ".".join(b64url_encode(p) for p in (json.dumps(h).encode(), payload, sig))

    return {
        "alg_none": (token({**header, "alg": "none"}), ("unsupported_algorithm", "alg", None)),
        "alg_list": (token({**header, "alg": ["EdDSA"]}), ("unsupported_algorithm", "alg", None)),
        "crit": (token({**header, "crit": ["exp"]}), ("unsupported_header", "crit", None)),
        "typ_jwt": (token({**header, "typ": "JWT"}), ("unsupported_header", "typ", None)),
        "view_typ_without_scn": (token({**header, "typ": TYP_VIEW}), ("unsupported_header", "typ", None)),
        "extra_member": (token({**header, "zip": "DEF"}), ("unsupported_header", "header", None)),
        "kid_unknown": (token({**header, "kid": "A" * 43}), ("unknown_key", None, None)),
        "kid_not_text": (token({**header, "kid": 1}), ("unknown_key", None, None)),
        "kid_list": (token({**header, "kid": [header["kid"]]}), ("unknown_key", None, None)),
        "short_signature": (token(header, signature[:63]), ("signature_invalid", None, None)),
    }


def test_each_unacceptable_header_is_refused_naming_what(holder: Wallet, trust: TrustStore) -> None:
    credential = holder.licence("id_card").credential
    for name, (token, expected) in _header_variants(credential).items():
        with pytest.raises(VerificationFailed) as exc:
            desk(trust).verify(token)
        assert [(f.code, f.field, f.detail) for f in exc.value.failures] == [expected], name
    # a view's header on a credential's payload, and the other way round
    view = holder.licence("id_card").views["hotel"]
    for token in (view.split(".")[0] + "." + credential.split(".", 1)[1], credential.split(".")[0] + "." + view.split(".", 1)[1]):
        with pytest.raises(VerificationFailed) as exc:
            desk(trust).verify(token)
        assert [(f.code, f.field) for f in exc.value.failures] == [("unsupported_header", "typ")]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_desk_refuses_every_type_it_does_not_accept_and_every_other_desks_view(
    scenario: str, holder: Wallet, trust: TrustStore
) -> None:
    """Any other scenario's view of a licence type this desk does not accept is
    type_not_accepted (naming the type); of a type it accepts, wrong_scenario (naming the
    view's scenario). The holder's proof over each is genuine."""
    policy = get_policy(scenario)
    for other in SCENARIOS:
        if other == scenario:
            continue
        for licence_type in get_policy(other).accepts:
            text = shown(holder, holder.licence(licence_type).views[other], licence_type, other)
            expected = (("type_not_accepted", "vct", licence_type) if licence_type not in policy.accepts
                        else ("wrong_scenario", "scn", other))
            with pytest.raises(VerificationFailed) as exc:
                desk(trust).verify(text, scenario=scenario)
            assert [(f.code, f.field, f.detail) for f in exc.value.failures] == [expected], (other, licence_type)


@pytest.mark.parametrize(
    ("jwk_changes", "accepted"),
    [
        ({"alg": "EdDSA"}, True),  # an extra member: still the holder's Ed25519 key
        ({"kty": "EC"}, False),
        ({"crv": "X25519"}, False),
        ({"kty": "oct", "crv": "X25519"}, False),
        ({"d": "AAAA"}, False),
    ],
    ids=["extra_member", "kty_ec", "crv_x25519", "neither", "private_member"],
)
def test_a_holder_key_in_jwk_form_is_the_holders_ed25519_key_or_refused(
    jwk_changes: dict[str, str], accepted: bool, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """A view whose cnf is not the plain three-member Ed25519 JWK (so the envelope carries
    it as a JWK, not as the raw key): the holder's genuine proof is accepted only if the
    JWK is an Ed25519 public key; anything else names no holder key."""
    jwk = {**holder.device_jwk(), **jwk_changes}
    view = resign(keydir, holder.licence("id_card").views["hotel"], cnf={"jwk": jwk})
    text = shown(holder, view, "id_card", "hotel")
    for scenario in (None, "hotel"):
        if accepted:
            assert desk(trust).verify(text, scenario=scenario).presented_at == NOW
            continue
        with pytest.raises(VerificationFailed) as exc:
            desk(trust).verify(text, scenario=scenario)
        assert [(f.code, f.field, f.detail) for f in exc.value.failures] == [
            ("holder_proof_invalid", "cnf", "the view names no holder key")]


@pytest.mark.parametrize(("freshness", "skew"), [(10, 0), (20, 5), (600, 300)])
def test_a_desks_own_freshness_and_skew_set_every_time_boundary(
    freshness: int, skew: int, keydir: KeyDir, holder: Wallet, trust: TrustStore, tmp_path: Path
) -> None:
    """A desk policy with its own freshness_seconds and clock_skew_seconds (the packaged
    ones all keep the defaults, 60 and 30): the proof's age and time ahead, and the view's
    nbf, are judged by the policy's numbers to the second, not by the defaults."""
    from scenarios import load_policy
    from scenarios.policy import POLICIES_DIR

    source = (POLICIES_DIR / "hotel.toml").read_text(encoding="utf-8")
    changed = source.replace("freshness_seconds = 60", f"freshness_seconds = {freshness}").replace(
        "clock_skew_seconds = 30", f"clock_skew_seconds = {skew}")
    (tmp_path / "hotel.toml").write_text(changed, encoding="utf-8")
    policy = load_policy(tmp_path / "hotel.toml")
    assert (policy.freshness_seconds, policy.clock_skew_seconds) == (freshness, skew)

    def hotel(at: int = NOW) -> Verifier:
        return Verifier(trust, clock=lambda: at, replay_cache=MemoryReplayCache(), policies={"hotel": policy})

    def codes(text: str, at: int = NOW) -> list[str]:
        try:
            hotel(at).verify(text, scenario="hotel")
        except VerificationFailed as exc:
            return exc.codes
        return []

    view = holder.licence("id_card").views["hotel"]
    assert codes(shown(holder, view, "id_card", "hotel", NOW + skew)) == []
    assert codes(shown(holder, view, "id_card", "hotel", NOW + skew + 1)) == ["presentation_from_future"]
    assert codes(shown(holder, view, "id_card", "hotel", NOW - freshness - skew)) == []
    assert codes(shown(holder, view, "id_card", "hotel", NOW - freshness - skew - 1)) == ["presentation_stale"]
    later = resign(keydir, view, nbf=NOW + DAY)
    assert codes(shown(holder, later, "id_card", "hotel", NOW + DAY - skew), NOW + DAY - skew) == []
    assert codes(shown(holder, later, "id_card", "hotel", NOW + DAY - skew - 1), NOW + DAY - skew - 1) == ["not_yet_valid"]
    # a code is remembered for as long as it is fresh: its last fresh second is a replay
    text = shown(holder, view, "id_card", "hotel")
    desk_ = hotel()
    desk_.verify(text, scenario="hotel")
    with pytest.raises(VerificationFailed) as exc:
        desk_.verify(text, scenario="hotel", now=NOW + freshness + skew)
    assert exc.value.codes == ["replayed"]


def test_a_retired_key_verifies_what_it_signed_up_to_its_retirement_second(keydir: KeyDir, holder: Wallet) -> None:
    """retired_at is the last second a retired key signed for: a credential (and a status
    list) with iat == retired_at verifies, one a second later is key_not_valid."""
    credential = holder.licence("vehicle_license").credential
    kid = json.loads(split_compact(credential)[0])["kid"]
    iat, authority = _claims(credential)["iat"], _claims(credential)["iss"]
    status_list = sign_compact(status_list_claims("RETIRED", authority, 1024, [], iat), keydir.private_key(kid),
                               kid=kid, typ=TYP_STATUS_LIST)
    at_retirement = _trust_with(keydir, kid, state="retired", retired_at=iat)
    assert desk(at_retirement).verify(encode_credential(credential)).issued_at == iat
    assert parse_status_list(status_list, at_retirement).issued_at == iat
    before = _trust_with(keydir, kid, state="retired", retired_at=iat - 1)
    with pytest.raises(VerificationFailed) as exc:
        desk(before).verify(encode_credential(credential))
    assert [(f.code, f.detail) for f in exc.value.failures] == [("key_not_valid", "signed after the key was retired")]
    with pytest.raises(VerificationFailed) as exc:
        parse_status_list(status_list, before)
    assert [(f.code, f.detail) for f in exc.value.failures] == [("status_list_invalid", "signed after the key was retired")]


def test_the_issuer_and_time_refusals_name_their_claim(keydir: KeyDir, holder: Wallet, trust: TrustStore) -> None:
    from verifier._core import DEFAULT_SKEW

    credential = holder.licence("id_card").credential
    police_kid = json.loads(split_compact(holder.licence("driving_license").credential)[0])["kid"]
    claims = _claims(credential)
    forged = sign_compact(claims, keydir.private_key(police_kid), kid=police_kid, typ=json.loads(split_compact(credential)[0])["typ"])
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(forged)
    assert [(f.code, f.field, f.detail) for f in exc.value.failures] == [
        ("key_not_authorised", "vct", "traffic_police may not sign id_card")]
    with pytest.raises(VerificationFailed) as exc:
        desk(trust, claims["exp"] + DEFAULT_SKEW).verify(credential)
    assert [(f.code, f.field) for f in exc.value.failures] == [("expired", "exp")]
    with pytest.raises(VerificationFailed) as exc:
        desk(trust, claims["iat"] - DEFAULT_SKEW - 1).verify(credential)
    assert [(f.code, f.field) for f in exc.value.failures] == [("not_yet_valid", "nbf")]


def test_a_verifier_made_without_a_replay_cache_keeps_its_own(holder: Wallet, trust: TrustStore) -> None:
    verifier = Verifier(trust, clock=lambda: NOW)
    text = shown(holder, holder.licence("id_card").views["hotel"], "id_card", "hotel")
    assert verifier.verify(text, scenario="hotel").presented_at == NOW
    assert refused(verifier, text, "hotel") == ["replayed"]


@pytest.mark.parametrize("birth_date", ["1990-02-30", "07.03.1990", 19900307])
def test_a_birth_date_that_is_not_a_date_is_claim_invalid_where_an_age_is_computed(
    birth_date: Any, keydir: KeyDir, holder: Wallet, trust: TrustStore, tmp_path: Path
) -> None:
    from scenarios import load_policy
    from scenarios.policy import POLICIES_DIR

    source = (POLICIES_DIR / "hotel.toml").read_text(encoding="utf-8")
    (tmp_path / "hotel.toml").write_text(source.replace("accepts = [", "min_age = 21\naccepts = [", 1), encoding="utf-8")
    policy = load_policy(tmp_path / "hotel.toml")
    view = resign(keydir, holder.licence("id_card").views["hotel"], birth_date=birth_date)
    verifier = Verifier(trust, clock=lambda: NOW, replay_cache=MemoryReplayCache(), policies={"hotel": policy})
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(shown(holder, view, "id_card", "hotel"), scenario="hotel")
    assert [(f.code, f.field) for f in exc.value.failures] == [("claim_invalid", "birth_date")]


@pytest.mark.parametrize("name", ["iss", "vct", "scn"])
@pytest.mark.parametrize("value", [7, True, None, ["hotel"], {"x": 1}], ids=repr)
def test_an_iss_vct_or_scn_that_is_not_text_is_claim_invalid_alone(
    name: str, value: Any, keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """The only bad claim of a signed view: refused as claim_invalid naming it (not as the
    later check it would otherwise trip, such as key_not_authorised)."""
    view = resign(keydir, holder.licence("id_card").views["hotel"], **{name: value})
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(view)
    assert [(f.code, f.field) for f in exc.value.failures] == [("claim_invalid", name)]


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"iat": 2**40}, ["iat"]),
        ({"iat": "1"}, ["iat"]),
        ({"iss": 7, "nbf": 0}, ["iss"]),
        ({"iss": 7, "iat": 0, "exp": 0, "nbf": 2**40 - 1}, ["iss"]),
    ],
    ids=["iat_too_large", "iat_text", "nbf_zero", "times_at_their_ends"],
)
def test_with_nbf_present_only_the_bad_claims_are_named(
    changes: dict[str, Any], fields: list[str], keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """A credential that carries nbf (a licence that starts later): a bad iat is named
    even though nbf is good, and good times at the ends of their range are not named
    beside another bad claim."""
    credential = holder.licence("id_card").credential
    token = resign(keydir, credential, **({"nbf": _claims(credential)["iat"] + DAY} | changes))
    with pytest.raises(VerificationFailed) as exc:
        desk(trust).verify(token)
    assert [(f.code, f.field) for f in exc.value.failures] == [("claim_invalid", f) for f in fields]


#: The English and Chinese message a desk shows for each refusal of the verifier's core.
_MESSAGES = {
    "malformed": ("the QR code or credential is malformed", "二维码或凭证格式错误"),
    "unsupported_algorithm": ("signature algorithm not allowed (Ed25519 only, named EdDSA or Ed25519)",
                              "签名算法不被允许（仅限 Ed25519，名称为 EdDSA 或 Ed25519）"),
    "unsupported_header": ("the token header is not acceptable", "凭证头部不被接受"),
    "unknown_key": ("signed by a key that is not in the trust list", "签发密钥不在信任列表中"),
    "signature_invalid": ("the issuer's signature is invalid (altered or forged)", "签发机关签名无效（凭证被篡改或伪造）"),
    "key_not_authorised": ("the issuing key is not authorised for this licence type", "签发密钥无权签发此类证照"),
    "expired": ("the credential has expired", "凭证已过期"),
    "not_yet_valid": ("the credential is not valid yet", "凭证尚未生效"),
    "holder_proof_invalid": ("the holder proof is invalid (not made by the holder's device)", "持证人设备签名无效（非本人设备生成）"),
    "claim_invalid": ("a required credential field is missing or invalid", "凭证必要字段缺失或无效"),
    "replayed": ("this QR code was already used; ask the holder to refresh it", "该二维码已被使用过，请持证人刷新后重新出示"),
    "presentation_stale": ("the QR code is too old; ask the holder to refresh it", "二维码已过期，请持证人刷新后重新出示"),
    "presentation_from_future": ("the QR code's time is in the future; check the device clock", "二维码时间超前，请检查设备时间"),
}


def _rendered(code: str, field: str | None = None, detail: str | None = None) -> dict[str, str]:
    english, chinese = _MESSAGES[code]
    return ({"code": code, "message": english, "message_zh": chinese} | ({"field": field} if field else {})
            | ({"detail": detail} if detail else {}))


def test_each_refusal_renders_its_code_field_detail_and_both_messages(
    keydir: KeyDir, holder: Wallet, trust: TrustStore
) -> None:
    """What a desk shows for each refusal of the core (the JSON of every failure), with
    nothing more and nothing less: the code, the claim or header member it is about, the
    detail where there is one, and the message in English and in Chinese."""
    credential = holder.licence("id_card").credential
    claims = _claims(credential)
    variants = _header_variants(credential)
    police_kid = json.loads(split_compact(holder.licence("driving_license").credential)[0])["kid"]
    forged = sign_compact(claims, keydir.private_key(police_kid), kid=police_kid, typ=json.loads(split_compact(credential)[0])["typ"])
    view = holder.licence("id_card").views["hotel"]
    keyless = resign(keydir, view, cnf={"jwk": {"kty": "RSA"}})
    cases = [
        ("hello", None, NOW, _rendered("malformed", detail="not a certfree QR code or JWS")),
        (variants["alg_none"][0], None, NOW, _rendered("unsupported_algorithm", "alg")),
        (variants["crit"][0], None, NOW, _rendered("unsupported_header", "crit")),
        (variants["extra_member"][0], None, NOW, _rendered("unsupported_header", "header")),
        (variants["kid_unknown"][0], None, NOW, _rendered("unknown_key")),
        (variants["short_signature"][0], None, NOW, _rendered("signature_invalid")),
        (forged, None, NOW, _rendered("key_not_authorised", "vct", "traffic_police may not sign id_card")),
        (credential, None, claims["exp"] + DEFAULT_SKEW, _rendered("expired", "exp")),
        (credential, None, claims["iat"] - DEFAULT_SKEW - 1, _rendered("not_yet_valid", "nbf")),
        (resign(keydir, credential, iss=7), None, NOW, _rendered("claim_invalid", "iss")),
        (shown(holder, keyless, "id_card", "hotel"), "hotel", NOW,
         _rendered("holder_proof_invalid", "cnf", "the view names no holder key")),
        (shown(holder, view, "id_card", "hotel", NOW - DAY), "hotel", NOW, _rendered("presentation_stale")),
        (shown(holder, view, "id_card", "hotel", NOW + DAY), "hotel", NOW, _rendered("presentation_from_future")),
    ]
    for text, scenario, at, expected in cases:
        with pytest.raises(VerificationFailed) as exc:
            desk(trust, at).verify(text, scenario=scenario)
        assert [f.to_json() for f in exc.value.failures] == [expected], expected["code"]
    text = shown(holder, view, "id_card", "hotel")
    verifier = desk(trust)
    verifier.verify(text, scenario="hotel")
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(text, scenario="hotel")
    assert [f.to_json() for f in exc.value.failures] == [_rendered("replayed")]
