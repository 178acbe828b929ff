"""Issue -> QR PNG -> real decoder -> verify, for every licence; and every failure code."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Callable

import pytest
import zxingcpp
from PIL import Image
import io

from conftest import LICENCE_TYPES, NOW
from issuer import ClaimsInvalid, example, issue
from keys import KeyDir
from keys.envelope import encode_credential
from keys.jose import TYP_CREDENTIAL, b64url_decode, b64url_encode, sign_compact
from verifier import VerificationFailed, Verifier, load_trust_list

YEAR = 365 * 86400


def codes(exc: pytest.ExceptionInfo[VerificationFailed]) -> list[str]:
    return exc.value.codes


@pytest.mark.parametrize("licence_type", LICENCE_TYPES)
def test_issue_qr_decode_verify(licence_type: str, keydir: KeyDir, verifier: Verifier, scan: Callable[[str], bytes]) -> None:
    claims = example(licence_type)
    issued = issue(keydir, licence_type, claims, now=NOW - 60)
    text = encode_credential(issued.credential)
    png = scan(text)
    # The same decoder a desk uses, on a real image, independently of the verifier:
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert found.text == text
    result = verifier.verify(png)
    assert result.licence_type == licence_type
    assert dict(result.claims) == claims  # every licence field, nothing added
    assert result.authority == keydir.signing_key(licence_type, NOW)[0].authority


def test_compact_jws_verifies_too(keydir: KeyDir, verifier: Verifier) -> None:
    issued = issue(keydir, "driving_license", example("driving_license"), now=NOW - 60)
    assert verifier.verify(issued.credential).claims["vehicle_classes"] == ["C1"]


def test_second_jose_library_verifies_with_only_the_jwks(keydir: KeyDir) -> None:
    from jwcrypto import jwk, jws

    jwks = jwk.JWKSet.from_json((keydir.path / "jwks.json").read_text())
    for licence_type in LICENCE_TYPES:
        issued = issue(keydir, licence_type, example(licence_type), now=NOW - 60)
        token = jws.JWS()
        token.deserialize(issued.credential)
        kid = token.jose_header["kid"]
        token.verify(jwks.get_key(kid), alg="EdDSA")
        payload = json.loads(token.payload)
        assert payload["vct"] == licence_type
        assert payload["name"] == example(licence_type)["name"]


def test_one_flipped_byte_is_signature_invalid(keydir: KeyDir, verifier: Verifier) -> None:
    issued = issue(keydir, "id_card", example("id_card"), now=NOW - 60)
    header, payload, sig = issued.credential.split(".")
    raw = bytearray(b64url_decode(sig))
    raw[10] ^= 0x01
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(f"{header}.{payload}.{b64url_encode(bytes(raw))}")
    assert codes(exc) == ["signature_invalid"]
    # The same through the QR envelope: change one claim byte in the payload.
    claims = json.loads(b64url_decode(payload))
    claims["name"] = "李军"
    forged = f"{header}.{b64url_encode(json.dumps(claims, ensure_ascii=False, separators=(',', ':'), sort_keys=True).encode())}.{sig}"
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(encode_credential(forged))
    assert codes(exc) == ["signature_invalid"]


def _signed_by(keydir: KeyDir, authority: str, claims: dict[str, Any]) -> str:
    entry, private_key = keydir.key_for_authority(authority, NOW)
    return sign_compact(claims, private_key, kid=entry.kid, typ=TYP_CREDENTIAL)


def _claims(licence_type: str, iss: str, iat: int = NOW - 60, exp: int | None = None) -> dict[str, Any]:
    return {**example(licence_type), "iss": iss, "iat": iat, "nbf": iat, "exp": exp or iat + YEAR, "vct": licence_type, "jti": "AAAAAAAAAAAAAAAAAAAAAA"}


def test_id_card_signed_by_traffic_police_is_not_authorised(keydir: KeyDir, verifier: Verifier) -> None:
    for iss in ("traffic_police", "household_registration"):  # honest iss or a lie about it
        token = _signed_by(keydir, "traffic_police", _claims("id_card", iss))
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(encode_credential(token))
        assert codes(exc) == ["key_not_authorised"]


def test_expired_and_not_yet_valid(keydir: KeyDir, verifier: Verifier) -> None:
    old = issue(keydir, "id_card", example("id_card"), now=NOW - 2 * YEAR)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(old.credential)
    assert "expired" in codes(exc)
    issued = issue(keydir, "id_card", example("id_card"), now=NOW - 60)
    assert verifier.verify(issued.credential, now=issued.expires_at - 1)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(issued.credential, now=issued.expires_at + 31)
    assert codes(exc) == ["expired"]
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(issued.credential, now=NOW - 3600)
    assert codes(exc) == ["not_yet_valid"]


def _forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    h = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    p = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    return f"{h}.{p}.{b64url_encode(signature)}"


def test_alg_none_is_rejected(keydir: KeyDir, verifier: Verifier) -> None:
    kid = keydir.signing_key("id_card", NOW)[0].kid
    for alg in ("none", "None", "NONE"):
        token = _forge({"alg": alg, "kid": kid, "typ": TYP_CREDENTIAL}, _claims("id_card", "household_registration"), b"")
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(token)
        assert codes(exc) == ["unsupported_algorithm"]


def test_hs256_with_the_public_key_as_secret_is_rejected(keydir: KeyDir, verifier: Verifier) -> None:
    entry, private_key = keydir.signing_key("id_card", NOW)
    public_jwk = next(k for k in keydir.jwks()["keys"] if k["kid"] == entry.kid)
    header = {"alg": "HS256", "kid": entry.kid, "typ": TYP_CREDENTIAL}
    payload = _claims("id_card", "household_registration")
    h = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    p = b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    for secret in (b64url_decode(public_jwk["x"]), public_jwk["x"].encode(), json.dumps(public_jwk).encode()):
        mac = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(f"{h}.{p}.{b64url_encode(mac)}")
        assert codes(exc) == ["unsupported_algorithm"]


def test_unknown_key_is_rejected(keydir: KeyDir, verifier: Verifier) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from keys import key_id

    stranger = Ed25519PrivateKey.generate()
    token = sign_compact(_claims("id_card", "household_registration"), stranger, kid=key_id(stranger.public_key()), typ=TYP_CREDENTIAL)
    for text in (token, encode_credential(token)):
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(text)
        assert codes(exc) == ["unknown_key"]


def test_tampered_trust_list_is_rejected(keydir: KeyDir) -> None:
    header, payload, sig = keydir.trust_list().split(".")
    claims = json.loads(b64url_decode(payload))
    claims["keys"][1]["types"].append("id_card")  # traffic police would like to sign ID cards
    tampered = f"{header}.{b64url_encode(json.dumps(claims).encode())}.{sig}"
    with pytest.raises(VerificationFailed) as exc:
        load_trust_list(tampered, keydir.root_public_jwk())
    assert codes(exc) == ["trust_list_invalid"]
    # signed by another key than the pinned root
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()
    from keys.jose import public_jwk

    with pytest.raises(VerificationFailed) as exc:
        load_trust_list(keydir.trust_list(), public_jwk(other.public_key()))
    assert codes(exc) == ["trust_list_invalid"]


def test_every_failure_lists_codes_and_both_languages(keydir: KeyDir, verifier: Verifier) -> None:
    old = issue(keydir, "id_card", example("id_card"), now=NOW - 2 * YEAR)
    header, payload, sig = old.credential.split(".")
    raw = bytearray(b64url_decode(sig))
    raw[0] ^= 0xFF
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(f"{header}.{payload}.{b64url_encode(bytes(raw))}")
    assert codes(exc) == ["signature_invalid", "expired"]  # every failed check, at once
    for failure in exc.value.failures:
        body = failure.to_json()
        assert body["message"] and body["message_zh"] and body["message"] != body["message_zh"]
        assert example("id_card")["id_number"] not in str(body)


@pytest.mark.parametrize(
    ("licence_type", "field", "value", "code"),
    [
        ("id_card", "id_number", "110101199003070031", "bad_check_digit"),
        ("id_card", "valid_from", "2020-02-30", "not_a_date"),
        ("driving_license", "vehicle_classes", ["C9"], "not_allowed_value"),
        ("vehicle_license", "plate", "京AI2345", "bad_format"),
        ("vehicle_license", "vin", "1M8GDM9A1KP042788", "bad_check_digit"),
    ],
)
def test_invalid_claims_are_refused_naming_the_field(
    keydir: KeyDir, licence_type: str, field: str, value: Any, code: str
) -> None:
    claims = {**example(licence_type), field: value}
    with pytest.raises(ClaimsInvalid) as exc:
        issue(keydir, licence_type, claims, now=NOW)
    assert (field, code) in [(e.field, e.code) for e in exc.value.errors]
    assert field in str(exc.value)


def test_a_licence_whose_period_has_ended_is_not_issued(keydir: KeyDir) -> None:
    ended = dict(example("residence_permit"), valid_from="2024-03-01", valid_until="2025-03-01")
    with pytest.raises(ClaimsInvalid) as refused:
        issue(keydir, "residence_permit", ended, now=NOW)
    assert refused.value.codes == {"valid_until": "validity_ended"}
    assert refused.value.errors[0].message_zh == "证照有效期已届满"


def test_a_licence_issued_before_it_starts_has_views_usable_from_its_first_day(keydir: KeyDir, tmp_path: Any) -> None:
    """A renewal issued 60 days early: its views run from the start for the view lifetime
    (they used to expire 30 days after issue, a month before they could first be used)."""
    import datetime as dt

    from conftest import CHINA
    from verifier import MemoryReplayCache
    from verifier.testing import FixedClock
    from wallet import Wallet, present_view

    start = dt.date(2027, 1, 23)  # NOW is 2026-11-24
    claims = dict(example("residence_permit"), valid_from=start.isoformat(), valid_until=start.replace(year=2028).isoformat())
    holder = Wallet.init(tmp_path / "w", passphrase=b"x")
    issued = issue(keydir, "residence_permit", claims, holder_jwk=holder.device_jwk(), now=NOW)
    first_day = int(dt.datetime(2027, 1, 23, 9, 0, tzinfo=CHINA).timestamp())
    desk = Verifier(load_trust_list(keydir.trust_list(), keydir.root_public_jwk()), clock=FixedClock(first_day),
                    replay_cache=MemoryReplayCache())
    shown = present_view(issued.views["street_check"], holder.device_key(), licence_type="residence_permit", scenario="street_check", now=first_day)
    assert desk.verify(shown.text, scenario="street_check").licence_type == "residence_permit"
    early = present_view(issued.views["street_check"], holder.device_key(), licence_type="residence_permit", scenario="street_check", now=NOW)
    with pytest.raises(VerificationFailed) as exc:
        Verifier(desk.trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache()).verify(early.text, scenario="street_check")
    assert exc.value.codes == ["not_yet_valid"]


def test_a_minors_view_does_not_tell_the_birthday_it_ends_before(keydir: KeyDir) -> None:
    """A 17-year-old's internet-café view (which withholds the birth date) must end by the
    18th birthday; it used to end at midnight on it, which told the day. It now ends at the
    start of that week (Monday, China time)."""
    import datetime as dt

    from conftest import CHINA
    from issuer.schemas import minor_example
    from issuer.views import adult_from, china_midnight

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from keys import public_jwk

    birthday = dt.date(2027, 6, 1)  # minor_example() is born 2009-06-01; a Tuesday in 2027
    issued_at = int(dt.datetime(2027, 5, 20, 10, 0, tzinfo=CHINA).timestamp())
    holder = public_jwk(Ed25519PrivateKey.generate().public_key())
    views = issue(keydir, "id_card", minor_example(), holder_jwk=holder, now=issued_at).views
    exp = json.loads(b64url_decode(views["internet_cafe"].split(".")[1]))["exp"]
    assert exp == china_midnight(dt.date(2027, 5, 31)) < adult_from("2009-06-01") == china_midnight(birthday)


def test_an_age_check_on_a_licence_without_a_birth_date_field_uses_the_id_number(tmp_path: Any) -> None:
    """A desk policy may ask for age_over_18 from an e-bike registration (it has an ID
    number, not a birth date): the view is built from the number (it raised KeyError)."""
    from scenarios import load_policy
    from scenarios.policy import POLICIES_DIR
    from issuer.views import view_claims

    source = (POLICIES_DIR / "ebike_check.toml").read_text(encoding="utf-8")
    patched = source.replace('    "id_number_masked",\n]', '    "id_number_masked",\n    "age_over_18",\n]', 1)
    assert patched != source
    (tmp_path / "ebike_check.toml").write_text(patched, encoding="utf-8")
    policy = load_policy(tmp_path / "ebike_check.toml")
    assert "age_over_18" in policy.disclosed_for("ebike_registration")
    claims, _ = view_claims(policy, "ebike_registration", example("ebike_registration"), nbf=NOW, exp=NOW + 86400)
    assert claims["age_over_18"] is True  # the example's holder was born in 1990


def test_a_minors_view_issued_in_the_week_of_the_birthday_is_not_born_expired(keydir: KeyDir) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from conftest import CHINA
    from issuer.schemas import minor_example
    from keys import public_jwk

    issued_at = int(dt.datetime(2027, 5, 31, 10, 0, tzinfo=CHINA).timestamp())  # the Monday; birthday Tuesday
    holder = public_jwk(Ed25519PrivateKey.generate().public_key())
    view = issue(keydir, "id_card", minor_example(), holder_jwk=holder, now=issued_at).views["internet_cafe"]
    exp = json.loads(b64url_decode(view.split(".")[1]))["exp"]
    assert issued_at < exp <= issued_at + 86400


def test_an_id_card_whose_iss_names_another_authority_is_not_authorised(keydir: KeyDir, verifier: Verifier, scan: Callable[[str], bytes]) -> None:
    """The household registration key may sign ID cards, but only as the household
    registration authority: the same key claiming to be the police station is refused."""
    for iss in ("police_station", "traffic_police"):
        token = _signed_by(keydir, "household_registration", _claims("id_card", iss))
        for text in (token, scan(encode_credential(token))):
            with pytest.raises(VerificationFailed) as exc:
                verifier.verify(text)
            assert codes(exc) == ["key_not_authorised"]
    honest = _signed_by(keydir, "household_registration", _claims("id_card", "household_registration"))
    assert verifier.verify(scan(encode_credential(honest))).authority == "household_registration"


def test_the_issuing_keys_validity_period_is_half_open(keydir: KeyDir, verifier: Verifier, scan: Callable[[str], bytes]) -> None:
    """A credential must be signed while its key is valid, not_before <= iat < not_after
    (verified at the moment of signing, so that no other check can refuse it)."""
    entry, private_key = keydir.signing_key("id_card", NOW)

    def signed_at(iat: int) -> bytes:
        return scan(encode_credential(sign_compact(_claims("id_card", "household_registration", iat=iat), private_key, kid=entry.kid, typ=TYP_CREDENTIAL)))

    for iat in (entry.not_before, entry.not_after - 1):
        assert verifier.verify(signed_at(iat), now=iat).issued_at == iat
    for iat in (entry.not_before - 1, entry.not_after):
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(signed_at(iat), now=iat)
        assert codes(exc) == ["key_not_valid"], iat


def test_expiry_is_exact_to_the_second_with_the_clock_skew(keydir: KeyDir, verifier: Verifier) -> None:
    from verifier._core import DEFAULT_SKEW

    issued = issue(keydir, "id_card", example("id_card"), now=NOW - 60)
    assert verifier.verify(issued.credential, now=issued.expires_at + DEFAULT_SKEW - 1)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(issued.credential, now=issued.expires_at + DEFAULT_SKEW)
    assert codes(exc) == ["expired"]


def test_a_credential_signed_in_the_future_is_not_yet_valid_whatever_its_nbf(keydir: KeyDir, verifier: Verifier) -> None:
    """nbf before iat does not make a credential valid before it was signed: iat in the
    future (beyond the clock skew) is not yet valid too. Exactly at the skew it passes."""
    from verifier._core import DEFAULT_SKEW

    entry, private_key = keydir.signing_key("id_card", NOW)
    claims = {**_claims("id_card", "household_registration", iat=NOW), "nbf": NOW - 86400}
    token = sign_compact(claims, private_key, kid=entry.kid, typ=TYP_CREDENTIAL)
    for text in (token, encode_credential(token)):
        assert verifier.verify(text, now=NOW - DEFAULT_SKEW).issued_at == NOW
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(text, now=NOW - DEFAULT_SKEW - 1)
        assert codes(exc) == ["not_yet_valid"]
