"""The fast paths (the verifier's, and batch issuance's) give exactly what the straightforward
code gives."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
from pathlib import Path
from typing import Callable

import base45
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_fixtures import require_in_ci

from keys import KeyDir, envelope, thumbprint
from keys.jose import TYP_CREDENTIAL, TYP_VIEW, b64url_bytes, canonical_json, sign_compact, split_compact

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@settings(max_examples=500)
@given(st.binary(max_size=700))
def test_b45decode_round_trips(data: bytes) -> None:
    assert envelope.b45decode(base45.b45encode(data).decode("ascii")) == data


def _b45_or_none(decode: Callable[[str], bytes], text: str) -> bytes | None:
    try:
        return decode(text)
    except ValueError:
        return None


@settings(max_examples=1000)
@given(st.text(alphabet=B45 + "a~é", max_size=40))
def test_b45decode_accepts_and_refuses_what_base45_does(text: str) -> None:
    assert _b45_or_none(envelope.b45decode, text) == _b45_or_none(base45.b45decode, text)


@settings(max_examples=500)
@given(st.binary(min_size=2, max_size=600), st.data())
def test_b45decode_judges_each_group_of_a_long_text_alone(data: bytes, draw: st.DataObject) -> None:
    """One group anywhere in a long text replaced by any three digits, from 0 up to just
    over the 65535 limit: the same bytes or the same refusal as the base45 library."""
    text = base45.b45encode(data).decode("ascii")
    at = 3 * draw.draw(st.integers(0, len(text) // 3 - 1))
    group = draw.draw(st.sampled_from(["FGW", "GGW", "000", ":::", "0:0"]) | st.text(alphabet=B45, min_size=3, max_size=3))
    text = text[:at] + group + text[at + 3:]
    assert _b45_or_none(envelope.b45decode, text) == _b45_or_none(base45.b45decode, text)


@pytest.mark.parametrize("text", ["GGW", "::", "A", ":::", "ZZZ:"])
def test_b45decode_refuses_out_of_range(text: str) -> None:
    with pytest.raises(ValueError):
        base45.b45decode(text)
    with pytest.raises(ValueError):
        envelope.b45decode(text)


def test_b45decode_is_stricter_about_a_trailing_newline() -> None:
    assert base45.b45decode("FGW\n") == b"\xff\xff"  # the library drops it
    with pytest.raises(ValueError):
        envelope.b45decode("FGW\n")  # one text, one meaning (the verifier strips first)


@given(st.integers(0, 2**53 - 1), st.binary(min_size=8, max_size=32), st.text(alphabet="abcXYZ-_.", max_size=300))
def test_proof_payload_is_canonical_json(iat: int, nonce: bytes, view: str) -> None:
    proof = envelope.Proof(iat, nonce, b"\0" * 64)
    assert proof.payload(view) == canonical_json(envelope.proof_claims(view, iat, nonce))


# ---- the envelope's CBOR: one decoder a thread, reused, decides as a fresh one does ------------

FUZZ_CORPUS = sorted((Path(__file__).resolve().parent.parent / "fuzz" / "corpus").iterdir())


def _cbor_bodies() -> list[bytes]:
    """The CBOR bodies of the fuzz corpus (mode 1 inputs carry one as they are, mode 0 the
    QR text whose base45 holds one), in the corpus's order: valid envelopes, and what the
    fuzzer found, broken anywhere."""
    bodies = []
    for path in FUZZ_CORPUS:
        data = path.read_bytes()
        if not data:
            continue
        if data[0] & 1:
            bodies.append(data[1:])
        else:
            text = data[1:].decode("utf-8", "replace").strip()
            try:
                bodies.append(envelope.b45decode(text[len(envelope.PREFIX):]))
            except ValueError:
                continue
    return bodies


def _outcome(decoder: object, raw: bytes) -> str:
    """What decoding ``raw`` gives: the value and where the stream stopped, or the error's type."""
    stream = io.BytesIO(raw)
    try:
        if decoder is None:
            value = envelope._new_cbor_decoder(stream).decode()
        else:
            value = envelope._cbor_decoder(stream).decode()
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return f"error {type(exc).__name__}"
    return re.sub(" at 0x[0-9a-f]+", "", f"{value!r} at {stream.tell()}")  # no object addresses


# Inputs that fail part way through a container (too deep, a refused tag, a duplicate key, an
# indefinite length, cut short), each followed by a good envelope, so a decoder that kept
# anything of a failed decode would show it on the next one.
_BROKEN_CBOR = [
    b"\x81" * 9 + b"\x01",  # deeper than MAX_DEPTH
    b"\x83\x01\xd8\x1c\x82\x01\x02\x03",  # tag 28 (value sharing) inside an array
    b"\x82\xd8\x1d\x00\x01",  # tag 29 (a shared reference)
    b"\x82\xd9\x01\x00\x62ab\x01",  # tag 256 (string references)
    b"\xa2\x01\x01\x01\x02",  # a duplicate map key
    b"\x9f\x01\x02\xff",  # an indefinite-length array
    b"\x84\x01\x48" + b"\0" * 4,  # cut short inside a byte string
    b"\x82\xc2\x41\x01\x00",  # tag 2 (a bignum)
    b"\x81\x01\x01",  # trailing data
]


def test_reused_cbor_decoder_decides_as_a_fresh_one_on_the_fuzz_corpus() -> None:
    bodies = _cbor_bodies()
    assert len(bodies) > 50
    good = next(raw for raw in bodies if _outcome(None, raw).startswith("["))
    sequence = [x for broken in _BROKEN_CBOR for x in (broken, good)] + bodies
    assert [_outcome(envelope, raw) for raw in sequence] == [_outcome(None, raw) for raw in sequence]


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=64) | st.sampled_from(_BROKEN_CBOR), min_size=1, max_size=8))
def test_reused_cbor_decoder_decides_as_a_fresh_one_on_any_bytes(sequence: list[bytes]) -> None:
    assert [_outcome(envelope, raw) for raw in sequence] == [_outcome(None, raw) for raw in sequence]


def test_reused_cbor_decoder_is_one_per_thread() -> None:
    """Two threads never share a decoder (each would move the other's stream)."""
    mine = envelope._cbor_decoder(io.BytesIO(b"\x01"))
    theirs: list[object] = []
    worker = threading.Thread(target=lambda: theirs.append(envelope._cbor_decoder(io.BytesIO(b"\x01"))))
    worker.start()
    worker.join()
    assert theirs[0] is not mine and envelope._cbor_decoder(io.BytesIO(b"\x01")) is mine


def test_envelope_and_proof_are_their_named_tuples() -> None:
    """decode builds its named tuples without their generated __new__: the same objects."""
    body = next(raw for raw in _cbor_bodies() if _outcome(None, raw).startswith("[2,"))
    try:
        env = envelope.decode(envelope.PREFIX + base45.b45encode(body).decode("ascii"))
    except envelope.EnvelopeError:
        pytest.skip("no well-formed presentation envelope in the corpus")
    assert type(env) is envelope.Envelope and env == envelope.Envelope(*env)
    assert type(env.proof) is envelope.Proof and env.proof == envelope.Proof(*env.proof)
    assert env.proof.signature == env.proof[2] and env.alg == env[7]
    assert envelope._decoders.decoder.fp is envelope._NO_STREAM  # the scan's bytes are not kept


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _json_dumps_canonical(value: object) -> bytes:
    """The definition canonical_json (orjson) must match byte for byte."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()


@settings(max_examples=500)
@given(st.dictionaries(st.text(max_size=12), _json, max_size=12))
def test_canonical_json_is_json_dumps_sorted_compact_utf8(claims: dict) -> None:
    assert canonical_json(claims) == _json_dumps_canonical(claims)


@pytest.mark.parametrize(
    "value",
    [
        {"control": "\x00\x08\t\n\x0b\x0c\r\x1f", "del": "\x7f", "sep": "\u2028\u2029", "quote": '"\\/'},
        {"\U0001f600": 1, "\uffff": 2, "é": 3, "e": 4, "": 5},  # sorted by code point
        {"big": 2**63 - 1, "small": -(2**63), "nested": [{"b": None, "a": [True, False]}]},
        ["tuple", ("a", 1)],
    ],
)
def test_canonical_json_edge_cases(value: object) -> None:
    assert canonical_json(value) == _json_dumps_canonical(value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_canonical_json_refuses_non_finite_numbers(bad: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"claims": [{"x": bad}]})


@pytest.mark.parametrize("bad", [{1: "int key"}, {"d": dt.date(2020, 1, 1)}, {"s": "\ud800"}, {"n": 2**64}])
def test_canonical_json_refuses_what_is_not_json(bad: dict) -> None:
    with pytest.raises(TypeError):
        canonical_json(bad)


@pytest.mark.parametrize("backend", ["openssl", "libsodium", "zebra"])
def test_verifier_on_each_backend(backend: str, holder, verifier, now: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verifier gives the same answers on every backend: a good presentation passes,
    one flipped bit in either signature fails."""
    from verifier import SignatureInvalid, HolderProofInvalid, VerificationFailed, _ed25519
    from wallet import present

    backends = _ed25519.backends()
    if backend not in backends:  # each is an install requirement: in CI its absence fails
        require_in_ci(f"the {backend} Ed25519 backend")
    monkeypatch.setattr(_ed25519, "verify", backends[backend])
    text = present(holder, "internet_cafe", licence_type="id_card", now=now).text
    assert verifier.verify(text, "internet_cafe").claims["age_over_18"] is True

    raw = envelope.b45decode(text[len(envelope.PREFIX):])
    import cbor2

    items = cbor2.loads(raw)
    for position, error in ((3, SignatureInvalid), (6, HolderProofInvalid)):
        bad = list(items)
        bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
        mutated = envelope.PREFIX + base45.b45encode(cbor2.dumps(bad)).decode("ascii")
        with pytest.raises(VerificationFailed) as caught:
            verifier.verify(mutated, "internet_cafe")
        assert any(isinstance(f, error) for f in caught.value.failures)


def test_verified_result_is_the_frozen_dataclass_init_would_build(holder, verifier, now: int) -> None:
    """verify fills its result in one step (VerifiedLicence._filled): the same fields,
    values and equality as the dataclass's own __init__, and still frozen."""
    import dataclasses

    from verifier import VerifiedLicence
    from wallet import present

    result = verifier.verify(present(holder, "internet_cafe", licence_type="id_card", now=now).text, "internet_cafe")
    rebuilt = VerifiedLicence(**{f.name: getattr(result, f.name) for f in dataclasses.fields(VerifiedLicence)})
    assert vars(result) == vars(rebuilt)  # every field set, none left to a class default
    assert result == rebuilt
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.kid = "another"  # type: ignore[misc]


# ---- issuance: a batch signs the bytes the plain, one-JWS-at-a-time signing makes ---------------


@pytest.mark.parametrize("path", ["pybase64", "binascii"])
def test_b64url_bytes_is_unpadded_urlsafe_base64_on_each_path(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """b64url_bytes gives base64.urlsafe_b64encode's bytes less the padding, with pybase64
    (the SDK's "fast" extra, an install requirement) and with the standard library alone."""
    import base64

    from keys import jose

    if path == "pybase64" and jose._pybase64 is None:
        require_in_ci("pybase64")
    if path == "binascii":
        monkeypatch.setattr(jose, "_pybase64", None)

    @settings(max_examples=500)
    @given(st.binary(max_size=1200))
    def same(data: bytes) -> None:
        assert b64url_bytes(data) == base64.urlsafe_b64encode(data).rstrip(b"=")

    same()
    for size in range(70):  # every padding length, and SIMD block edges
        data = bytes(range(256))[:size] * 3
        assert b64url_bytes(data) == base64.urlsafe_b64encode(data).rstrip(b"=")


def _plain_licence(keydir: KeyDir, licence_type: str, fields: dict, holder_jwk: dict, refs: list,
                   now: int, jtis: list[str]) -> list[str]:
    """One licence's credential and views written out from their definition (design.md,
    "Credentials") and signed one at a time with ``sign_compact`` (held to PyJWT's bytes in
    tests/test_keys.py). ``jtis`` are the licence's own ids, its only random part."""
    from issuer.credential import CREDENTIAL_DAYS, VIEW_DAYS, _end_of_validity, _start_of_validity, view_names
    from issuer.schemas.rules import birth_date_of
    from issuer.status_list import status_ref
    from issuer.views import adult_from, mask_id_number
    from scenarios import load_policies

    policies = load_policies()
    entry, key = keydir.signing_key(licence_type, now)
    nbf = max(now, _start_of_validity(fields) or now)
    exp = min(now + CREDENTIAL_DAYS * 86400, _end_of_validity(fields) or now + CREDENTIAL_DAYS * 86400)
    base = {"iss": entry.authority, "iat": now, "exp": exp, "vct": licence_type, "cnf": {"jwk": dict(holder_jwk)}}
    if nbf != now:
        base["nbf"] = nbf
    out = [sign_compact({**fields, **base, "jti": jtis[0], "status": status_ref(*refs[0])}, key,
                        kid=entry.kid, typ=TYP_CREDENTIAL)]
    for name, ref, jti in zip(view_names(licence_type), refs[1:], jtis[1:], strict=True):
        disclosed = policies[name].disclosed_for(licence_type)
        view = {k: fields[k] for k in disclosed if k in fields}
        if "age_over_18" in disclosed:
            born = birth_date_of(fields)
            assert born is not None and adult_from(born.isoformat()) <= nbf  # adults: no view ends early
            view["age_over_18"] = True
        if "id_number_masked" in disclosed:
            view["id_number_masked"] = mask_id_number(fields["id_number"])
        claims = {**view, **base, "exp": min(exp, nbf + VIEW_DAYS * 86400), "scn": name, "jti": jti,
                  "status": status_ref(*ref)}
        out.append(sign_compact(claims, key, kid=entry.kid, typ=TYP_VIEW))
    return out


@pytest.mark.parametrize("licence_type", ["id_card", "household_book", "residence_permit", "driving_license",
                                          "vehicle_license", "ebike_registration"])
def test_batch_signs_byte_identical_jws_to_the_plain_signing(licence_type: str, keydir: KeyDir, now: int,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """sign_batch (one LicenceSigner for the batch, the licences prepared a chunk at a time
    and each chunk signed in one loop; chunks of 2 here, so 5 licences make three, the last
    short) and sign_licence (one licence) give, byte for byte, the credential and views the
    plain code makes: each claim set written out and signed on its own."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import issuer.batch
    from issuer import example, validate
    from issuer.batch import BatchItem, sign_batch, view_names
    from issuer.credential import sign_licence
    from issuer.status_list import status_ref
    from keys.jose import public_jwk

    monkeypatch.setattr(issuer.batch, "SIGN_CHUNK", 2)
    fields = validate(licence_type, example(licence_type))
    names = view_names(licence_type)
    holders = [public_jwk(Ed25519PrivateKey.generate().public_key()) for _ in range(5)]
    items = [BatchItem(example(licence_type), jwk, [("LIST01", 10 * i + k) for k in range(1 + len(names))])
             for i, jwk in enumerate(holders)]
    one = sign_licence(keydir, licence_type, fields, holder_jwk=holders[0], status=status_ref("LIST01", 0),
                       view_status={name: status_ref("LIST01", k + 1) for k, name in enumerate(names)}, now=now)
    signed = sign_batch(keydir, licence_type, items, now=now)
    assert [s.holder for s in signed] == [thumbprint(jwk) for jwk in holders]  # each in its item's place
    licences = [(s.issued, item) for s, item in zip(signed, items, strict=True)]
    all_jtis = []
    for issued, item in [*licences, (one, items[0])]:
        assert list(issued.views) == names
        jws = [issued.credential, *issued.views.values()]
        jtis = [json.loads(split_compact(j)[1])["jti"] for j in jws]
        assert jtis[0] == issued.jti
        assert jws == _plain_licence(keydir, licence_type, fields, item.holder_jwk, list(item.refs), now, jtis)
        all_jtis += jtis
    assert len(set(all_jtis)) == len(all_jtis)  # one CSPRNG draw per licence, cut into distinct ids
