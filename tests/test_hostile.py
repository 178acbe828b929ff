"""The hostile-input catalogue: one case file per attack in tests/hostile/, each with the
failure code it must produce. Every case must fail with certfree's own error, never an
uncaught exception, and no case may make the verifier touch the network."""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from conftest import NOW
from issuer import ClaimsInvalid, example, issue
from keys import KeyDir, envelope, key_id, public_jwk
from keys.envelope import PREFIX, encode_credential
from keys.jose import TYP_CREDENTIAL, TYP_PROOF, b64url_decode, b64url_encode, canonical_json, sign_compact
from verifier import VerificationError, VerificationFailed, Verifier, load_trust_list
from pngs import SIGNATURE, broken_chunk_after_idat, chunk, too_wide
from wallet import Wallet, present_view

CASES = sorted((Path(__file__).parent / "hostile").glob("*.json"))
_network_attempts: list[str] = []
_guard = {"on": False}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _guard["on"] and event in {"socket.connect", "socket.getaddrinfo", "urllib.Request"}:
        _network_attempts.append(event)


sys.addaudithook(_audit)


def _b64json(value: Any) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


def _claims(**changes: Any) -> dict[str, Any]:
    base = {**example("id_card"), "iss": "household_registration", "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 86400, "vct": "id_card", "jti": "AAAAAAAAAAAAAAAAAAAAAA"}
    base.update(changes)
    return base


def _sign_raw(keydir: KeyDir, header: dict[str, Any], payload: bytes) -> str:
    entry, key = keydir.signing_key("id_card", NOW)
    h = _b64json({"alg": "EdDSA", "kid": entry.kid, "typ": TYP_CREDENTIAL, **header})
    p = b64url_encode(payload)
    return f"{h}.{p}.{b64url_encode(key.sign(f'{h}.{p}'.encode()))}"


def _png_header(width: int, height: int) -> bytes:
    return SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))


def _presentation_with_proof(holder: Wallet, iat: int, nonce: bytes) -> str:
    view = holder.licence("id_card").views["hotel"]
    proof = sign_compact(envelope.proof_claims(view, iat, nonce), holder.device_key(), kid=None, typ=TYP_PROOF)
    return envelope.encode_presentation(view, proof)


class Build:
    """Recipes: each turns a case file into the hostile input (or performs the check)."""

    def __init__(self, keydir: KeyDir, holder: Wallet, tmp: Path) -> None:
        self.keydir, self.holder, self.tmp = keydir, holder, tmp

    def presentation(self) -> str:
        view = self.holder.licence("id_card").views["hotel"]
        return present_view(view, self.holder.device_key(), licence_type="id_card", scenario="hotel", now=NOW).text

    def jws_header(self, case: dict[str, Any]) -> str:
        entry, key = self.keydir.signing_key("id_card", NOW)
        h = _b64json({"alg": "EdDSA", "kid": entry.kid, "typ": TYP_CREDENTIAL, **case["header"]})
        p = b64url_encode(canonical_json(_claims()))
        sig = b"" if case["signature"] == "empty" else key.sign(f"{h}.{p}".encode())
        return f"{h}.{p}.{b64url_encode(sig)}"

    def hs256_public_key(self, case: dict[str, Any]) -> str:
        import hashlib
        import hmac

        entry, _ = self.keydir.signing_key("id_card", NOW)
        jwk = next(k for k in self.keydir.jwks()["keys"] if k["kid"] == entry.kid)
        secret = b64url_decode(jwk["x"]) if case["secret"] == "raw" else json.dumps(jwk).encode()
        h = _b64json({"alg": "HS256", "kid": entry.kid, "typ": TYP_CREDENTIAL})
        p = b64url_encode(canonical_json(_claims()))
        return f"{h}.{p}.{b64url_encode(hmac.new(secret, f'{h}.{p}'.encode(), hashlib.sha256).digest())}"

    def own_key(self, case: dict[str, Any]) -> str:
        attacker = Ed25519PrivateKey.generate()
        kid = key_id(attacker.public_key()) if case["kid"] == "attacker" else self.keydir.signing_key("id_card", NOW)[0].kid
        header = {k: v for k, v in case["header"].items() if k != "embed_jwk"}
        if case["header"].get("embed_jwk"):
            header["jwk"] = public_jwk(attacker.public_key())
        h = _b64json({"alg": "EdDSA", "kid": kid, "typ": TYP_CREDENTIAL, **header})
        p = b64url_encode(canonical_json(_claims()))
        return f"{h}.{p}.{b64url_encode(attacker.sign(f'{h}.{p}'.encode()))}"

    def kid(self, case: dict[str, Any]) -> str:
        kid = case.get("kid") or "A" * case["kid_repeat"]
        _, key = self.keydir.signing_key("id_card", NOW)
        return sign_compact(_claims(), key, kid=kid, typ=TYP_CREDENTIAL)

    def literal(self, case: dict[str, Any]) -> str:
        prefix, unit, count = case["text_repeat"]
        return prefix + unit * count

    def zlib_bomb_envelope(self, case: dict[str, Any]) -> str:
        bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)[:2900]
        return PREFIX + base45.b45encode(bomb).decode()

    def mutate_presentation(self, case: dict[str, Any]) -> str:
        text = self.presentation()
        if case["op"] == "truncate":
            return text[: len(text) // 2]
        raw = base45.b45decode(text[len(PREFIX):]) + b"\x01"
        return PREFIX + base45.b45encode(raw).decode()

    def mutate_credential(self, case: dict[str, Any]) -> str:
        return issue(self.keydir, "id_card", example("id_card"), now=NOW - 60).credential + ".AAAA"

    def raw_payload(self, case: dict[str, Any]) -> str:
        good = canonical_json(_claims()).decode()
        if case["payload"] == "duplicate_name":
            payload = good.replace('"name":', '"name":"X","name":', 1).encode()
        else:
            payload = good.replace('"name":"李华"', '"name":"').encode() + b'\xe9\xff"}'
        return _sign_raw(self.keydir, {}, payload)

    def deep_json_payload(self, case: dict[str, Any]) -> str:
        return _sign_raw(self.keydir, {}, b"[" * 3000 + b"]" * 3000)

    def claims(self, case: dict[str, Any]) -> str:
        return _sign_raw(self.keydir, case.get("header", {}), json.dumps(_claims(**case["set"]), separators=(",", ":")).encode())

    def other_holder(self, case: dict[str, Any]) -> str:
        thief = Wallet.init(self.tmp / "thief", passphrase=b"x")
        view = self.holder.licence("id_card").views["hotel"]
        return present_view(view, thief.device_key(), licence_type="id_card", scenario="hotel", now=NOW).text

    def proof_fields(self, case: dict[str, Any]) -> str:
        """A presentation whose holder proof really is signed over the given iat and nonce."""
        return _presentation_with_proof(self.holder, case.get("iat", NOW), b"\x01" * case.get("nonce_bytes", 8))

    def credential_claims(self, case: dict[str, Any]) -> str:
        """A credential with extra claims (names outside the codebook), signed by the real
        issuer key, in a QR envelope written by hand: the encoder refuses to write them."""
        entry, key = self.keydir.signing_key("id_card", NOW)
        signed = sign_compact(_claims(**case["set"]), key, kid=entry.kid, typ=TYP_CREDENTIAL)
        placeholder = sign_compact(_claims(**{k: 0 for k in case["set"]}), key, kid=entry.kid, typ=TYP_CREDENTIAL)
        items = _items(encode_credential(placeholder))
        items[2].update(case["set"])
        items[3] = b64url_decode(signed.split(".")[2])
        return _text(items)

    def proof_time(self, case: dict[str, Any]) -> str:
        view = self.holder.licence("id_card").views["hotel"]
        return present_view(view, self.holder.device_key(), licence_type="id_card", scenario="hotel", now=NOW + case["offset"]).text

    def lookalike_forged(self, case: dict[str, Any]) -> str:
        token = issue(self.keydir, "id_card", example("id_card"), now=NOW - 60).credential
        h, p, s = token.split(".")
        fullwidth = str.maketrans("0123456789", "０１２３４５６７８９")
        claims = json.loads(b64url_decode(p))
        claims["id_number"] = claims["id_number"].translate(fullwidth)
        return encode_credential(f"{h}.{b64url_encode(canonical_json(claims))}.{s}")

    def duplicate_cbor_keys(self, case: dict[str, Any]) -> str:
        items = _items(self.presentation())  # dates stay tag 100: the map is as the encoder wrote it
        claims = cbor2.dumps(items[2])
        # append a second entry for key 12 ("name") by hand: map header count + 1
        head, count = claims[0], len(items[2])
        assert head == 0xA0 + count
        forged = bytes([0xA0 + count + 1]) + claims[1:] + cbor2.dumps(12) + cbor2.dumps("X")
        array = bytes([0x80 + len(items)]) + b"".join(cbor2.dumps(x) for x in items[:2]) + forged + b"".join(cbor2.dumps(x) for x in items[3:])
        return PREFIX + base45.b45encode(array).decode()

    def cbor_tag(self, case: dict[str, Any]) -> str:
        items = _items(self.presentation())
        items[2][12] = cbor2.CBORTag(55799, items[2][12])
        return PREFIX + base45.b45encode(cbor2.dumps(items)).decode()

    def cbor_shared(self, case: dict[str, Any]) -> str:
        items = _items(self.presentation())
        return PREFIX + base45.b45encode(cbor2.dumps(items, value_sharing=True)).decode()

    def deep_nesting(self, case: dict[str, Any]) -> str:
        nested: Any = 1
        for _ in range(case.get("depth", 1000)):
            nested = [nested]
        return PREFIX + base45.b45encode(cbor2.dumps([1, b"\0" * 8, {"x": nested}, b"\0" * 64])).decode()

    def image_bytes(self, case: dict[str, Any]) -> bytes:
        if case["data"] == "garbage":
            return b"\x89PNG\r\n\x1a\n" + b"\0garbage" * 100
        if case["data"] == "pixel_bomb":
            return _png_header(100_000, 100_000)
        if case["data"] == "too_wide":  # under the pixel cap, wider than zxing-cpp reads
            return too_wide()
        if case["data"] == "broken_chunk_after_idat":  # the image data runs on into a broken chunk
            return broken_chunk_after_idat()
        out = io.BytesIO()
        Image.new("L", (400, 400), 255).save(out, format="PNG")
        return out.getvalue()


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_hostile_case(path: Path, keydir: KeyDir, holder: Wallet, verifier: Verifier, tmp_path: Path) -> None:
    case = json.loads(path.read_text("utf-8"))
    build = Build(keydir, holder, tmp_path)
    recipe = case["recipe"]
    if recipe == "lookalike_issuance":
        for digits in ("０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩"):
            claims = {**example("id_card"), "id_number": example("id_card")["id_number"].translate(str.maketrans("0123456789", digits))}
            with pytest.raises(ClaimsInvalid) as refused:
                issue(keydir, "id_card", claims, now=NOW)
            assert ("id_number", case["expect"]) in [(e.field, e.code) for e in refused.value.errors]
        return
    if recipe == "trust_list_header":
        _, p, s = keydir.trust_list().split(".")
        header = b"[" * 3000 + b"]" * 3000 if case["header"] == "deep" else case["header"].encode()
        with pytest.raises(VerificationFailed) as exc:
            load_trust_list(f"{b64url_encode(header)}.{p}.{s}", keydir.root_public_jwk())
        assert exc.value.codes == [case["expect"]]
        return
    if recipe == "trust_list_added_key":
        h, p, s = keydir.trust_list().split(".")
        claims = json.loads(b64url_decode(p))
        extra = Ed25519PrivateKey.generate()
        entry = dict(claims["keys"][0], kid=key_id(extra.public_key()), jwk=public_jwk(extra.public_key()))
        claims["keys"].append(entry)
        with pytest.raises(VerificationFailed) as exc:
            load_trust_list(f"{h}.{b64url_encode(canonical_json(claims))}.{s}", keydir.root_public_jwk())
        assert exc.value.codes == [case["expect"]]
        return
    hostile: Callable[[dict[str, Any]], Any] = getattr(build, recipe)
    data = hostile(case)
    _guard["on"] = True
    try:
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(data, scenario="hotel" if recipe in {"other_holder", "proof_time", "proof_fields", "mutate_presentation"} else None)
    finally:
        _guard["on"] = False
    assert isinstance(exc.value, VerificationError)
    assert exc.value.codes[0] == case["expect"], exc.value.codes
    # "field" and "detail" pin which check refused it, where several could
    for name in ("field", "detail"):
        if name in case:
            assert getattr(exc.value.failures[0], name) == case[name], exc.value.failures[0].to_json()
    assert _network_attempts == []


def _items(text: str) -> list[Any]:
    """The envelope's CBOR items, full dates kept as tag 100 (as the encoder writes them)."""
    import datetime as dt

    items = cbor2.loads(base45.b45decode(text[len(PREFIX):]))
    epoch = dt.date(1970, 1, 1)
    items[2] = {k: (cbor2.CBORTag(100, (v - epoch).days) if isinstance(v, dt.date) else v) for k, v in items[2].items()}
    # cbor2 would write a date back as tag 1004, which the decoder refuses: a hostile case
    # built from re-encoded items would then be refused for that, not for its own attack
    assert _text(items) == text
    return items


def _text(items: list[Any]) -> str:
    return PREFIX + base45.b45encode(cbor2.dumps(items)).decode()


def _long_forms(text: str) -> dict[str, str]:
    """The same presentation with one part in a longer form the encoder never writes."""
    items = _items(text)  # re-encoding the decoded items gives the scanned text back
    names = {name: code for code, name in enumerate(envelope._NAMES, start=1)}

    def claim(name: str, value: Any) -> str:
        return _text([*items[:2], {**items[2], names[name]: value}, *items[3:]])

    cnf = items[2][names["cnf"]]
    return {
        "kind as a float": _text([float(items[0]), *items[1:]]),
        "iat as a bignum (tag 2)": _text([*items[:2], {**items[2], names["iat"]: cbor2.CBORTag(2, items[2][names["iat"]].to_bytes(8, "big"))}, *items[3:]]),
        "vct as text, not its code": claim("vct", "id_card"),
        "birth_date as text, not tag 100": claim("birth_date", "1990-03-07"),
        "jti as base64url text": claim("jti", b64url_encode(items[2][names["jti"]])),
        "cnf as a JWK": claim("cnf", {"jwk": {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(cnf)}}),
        # value sharing (tags 28/29): cbor2 would resolve it to the very same items
        "the array marked shareable (tag 28)": PREFIX + base45.b45encode(b"\xd8\x1c" + cbor2.dumps(items)).decode(),
        "the claims map marked shareable (tag 28)": _text([*items[:2], cbor2.CBORTag(28, items[2]), *items[3:]]),
    }


_LONG_FORM_DETAIL = {  # which check refuses each long form; tags refused inside cbor2 come out as "not CBOR"
    "kind as a float": "unknown envelope kind",
    "vct as text, not its code": "a coded value written out",
    "birth_date as text, not tag 100": "a date written as text",
    "jti as base64url text": "jti written out",
    "cnf as a JWK": "cnf key written out",
}


def test_one_presentation_has_one_encoding(holder: Wallet, verifier: Verifier) -> None:
    """Each longer form of a real presentation would rebuild the same signed JWS, so its
    signatures would hold; it is refused as malformed, so one presentation has one QR text."""
    view = holder.licence("id_card").views["hotel"]
    text = present_view(view, holder.device_key(), licence_type="id_card", scenario="hotel", now=NOW).text
    assert verifier.verify(text, scenario="hotel").licence_type == "id_card"
    for name, variant in _long_forms(text).items():
        assert variant != text
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(variant, scenario="hotel")
        assert exc.value.codes == ["malformed"], name
        assert exc.value.failures[0].detail == _LONG_FORM_DETAIL.get(name, "not CBOR"), name
    assert envelope.decode(text).claims["vct"] == "id_card"  # the short form decodes


def test_a_credential_envelope_kind_is_the_integer_1_only(keydir: KeyDir, verifier: Verifier) -> None:
    """CBOR true and 1.0 both equal 1 in Python; as an envelope kind neither is accepted."""
    text = encode_credential(issue(keydir, "id_card", example("id_card"), now=NOW - 60).credential)
    items = _items(text)
    assert items[0] == 1 and _text(items) == text
    assert verifier.verify(text).licence_type == "id_card"
    for kind in (True, 1.0):
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(_text([kind, *items[1:]]))
        assert [(f.code, f.detail) for f in exc.value.failures] == [("malformed", "unknown envelope kind")], kind


@pytest.mark.parametrize(("iat", "nonce_bytes", "codes"), [
    (NOW, 8, []),                                  # the shortest nonce
    (NOW, 32, []),                                 # the longest nonce
    (2**53 - 1, 8, ["presentation_from_future"]),  # the largest iat the envelope carries; the verifier refuses it
])
def test_holder_proof_fields_at_their_limits(holder: Wallet, verifier: Verifier, iat: int, nonce_bytes: int, codes: list[str]) -> None:
    """Really signed proofs at the limits the envelope accepts (one past each limit is a
    hostile case: proof_nonce_short, proof_nonce_long, proof_iat_negative, proof_iat_beyond_2_53)."""
    text = _presentation_with_proof(holder, iat, b"\x02" * nonce_bytes)
    if not codes:
        assert verifier.verify(text, scenario="hotel").presented_at == iat
        return
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(text, scenario="hotel")
    assert exc.value.codes == codes


def test_a_proof_iat_written_as_true_is_malformed(holder: Wallet, verifier: Verifier) -> None:
    """A proof signed over iat 1 with the iat written as CBOR true: the proof payload
    ("iat":1) and its signature would still match, so only the envelope can refuse it."""
    items = _items(_presentation_with_proof(holder, 1, b"\x03" * 8))
    assert items[4] == 1
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(_text([*items[:4], True, *items[5:]]), scenario="hotel")
    assert [(f.code, f.detail) for f in exc.value.failures] == [("malformed", "bad proof fields")]


@pytest.mark.parametrize("value", [2**53 - 1, -(2**53 - 1)])
def test_claim_integers_up_to_2_53_minus_1_are_carried(keydir: KeyDir, holder: Wallet, verifier: Verifier, tmp_path: Path, value: int) -> None:
    """The envelope carries any integer JSON can hold exactly (2**53 - 1); one past it is
    refused (hostile cases claim_int_beyond_2_53, claim_int_below_minus_2_53)."""
    text = Build(keydir, holder, tmp_path).credential_claims({"set": {"x": value}})
    assert verifier.verify(text).claims["x"] == value


QR_ALPHANUMERIC_MAX = 4296  # characters a QR code holds in alphanumeric mode (version 40-L)


def test_qr_text_longer_than_a_qr_code_can_hold_is_refused_before_decoding() -> None:
    """The length cap is the QR capacity itself: at it the text is decoded (and here found
    to be no envelope), one character past it is "too long" without being decoded."""
    body = "00" * ((QR_ALPHANUMERIC_MAX - len(PREFIX)) // 2)
    at_cap = PREFIX + body
    assert len(at_cap) == QR_ALPHANUMERIC_MAX
    with pytest.raises(envelope.EnvelopeError) as exc:
        envelope.decode(at_cap)
    assert exc.value.reason == "trailing data"  # zero bytes: base45 decoded, one CBOR 0, the rest trailing
    with pytest.raises(envelope.EnvelopeError) as exc:
        envelope.decode(at_cap + "0")
    assert exc.value.reason == "too long"


def test_claims_nested_four_levels_decode_five_do_not() -> None:
    """MAX_DEPTH counts the envelope array and the claims map: a claim value may nest four
    levels (hostile case nesting_one_level_too_deep has five)."""
    for depth, ok in ((4, True), (5, False)):
        nested: Any = 1
        for _ in range(depth):
            nested = [nested]
        text = _text([1, b"\0" * 8, {"x": nested}, b"\0" * 64])
        if ok:
            assert envelope.decode(text).claims["x"] == nested
        else:
            with pytest.raises(envelope.EnvelopeError) as exc:
                envelope.decode(text)
            assert exc.value.reason == "not CBOR"
