"""RFC 9864: "Ed25519" is the fully specified JOSE name of the signature certfree makes;
"EdDSA" (RFC 8037) is the older, polymorphic one. The verifier accepts both names, for
credentials, views, holder proofs, trust lists and status lists, and nothing else: the
allow-list is exact (no other case, no space, no other algorithm). Codes are signed here
by certfree's own issuer (its ``alg`` option) and by an independent library (joserfc)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import NOW
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc import jws
from joserfc.jwk import KeySet, OKPKey

from issuer import example, issue
from issuer.status_list import sign_status_list
from keys import KeyDir
from keys.envelope import KIND_CREDENTIAL_ED25519, KIND_PRESENTATION_ED25519, decode, encode_credential, encode_presentation
from keys.jose import TYP_CREDENTIAL, b64url_encode, canonical_json, sign_compact, split_compact
from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_trust_list, parse_status_list
from wallet import Wallet
from wallet.present import holder_proof, present_view

ROOT = Path(__file__).resolve().parent.parent
REFUSED = ["ES256", "none", "EdDSA ", " Ed25519", "eddsa", "ed25519", "ED25519", "Ed448", "HS256", ""]


def _joserfc_key(private_key: Ed25519PrivateKey) -> OKPKey:
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return OKPKey.import_key(pem)


def _joserfc_sign(header: dict[str, Any], payload: bytes, private_key: Ed25519PrivateKey) -> str:
    """A compact JWS made by joserfc, not by certfree's signing code."""
    return jws.serialize_compact(header, payload, _joserfc_key(private_key), algorithms=[header["alg"]])


def _header(token: str) -> dict[str, Any]:
    return dict(json.loads(split_compact(token)[0]))


def _desk(keydir: KeyDir) -> Verifier:
    return Verifier(load_trust_list(keydir.trust_list(), keydir.root_public_jwk()), replay_cache=MemoryReplayCache())


def test_the_issuer_signs_with_ed25519_when_asked_and_every_form_verifies(
    keydir: KeyDir, tmp_path: Path, scan: Callable[[str], bytes]
) -> None:
    wallet = Wallet.init(tmp_path / "wallet", passphrase=b"rfc 9864 wallet")
    issued = issue(keydir, "id_card", example("id_card"), holder_jwk=wallet.device_jwk(), now=NOW - 60, alg="Ed25519")
    assert _header(issued.credential)["alg"] == "Ed25519"
    assert {_header(v)["alg"] for v in issued.views.values()} == {"Ed25519"}
    desk = _desk(keydir)
    # the compact JWS, and the QR envelope (its kind says "Ed25519") read from a real QR image
    assert desk.verify(issued.credential, now=NOW).licence_type == "id_card"
    text = encode_credential(issued.credential)
    assert decode(text).kind == KIND_CREDENTIAL_ED25519
    assert desk.verify(scan(text), now=NOW).claims["name"] == example("id_card")["name"]
    # a presentation: the wallet's holder proof names the view's algorithm too
    shown = present_view(issued.views["hotel"], wallet.device_key(), licence_type="id_card", scenario="hotel", now=NOW)
    assert _header(shown.proof) == {"alg": "Ed25519", "typ": "cf-proof"}
    assert decode(shown.text).kind == KIND_PRESENTATION_ED25519
    assert desk.verify(scan(shown.text), scenario="hotel", now=NOW).presented_at == NOW
    # an independent library verifies what certfree signed under the new name (given the key
    # without the JWKS's "alg": "EdDSA", which joserfc matches against the header's name)
    jwks = KeySet.import_key_set({"keys": [{k: v for k, v in jwk.items() if k != "alg"} for jwk in keydir.jwks()["keys"]]})
    assert jws.deserialize_compact(issued.credential, jwks, algorithms=["Ed25519"]).payload == split_compact(issued.credential)[1]


def test_a_credential_signed_by_joserfc_with_ed25519_verifies(keydir: KeyDir, scan: Callable[[str], bytes]) -> None:
    entry, private_key = keydir.signing_key("driving_license", NOW)
    claims = {**example("driving_license"), "iss": entry.authority, "iat": NOW - 60, "exp": NOW + 86400,
              "vct": "driving_license", "jti": b64url_encode(bytes(range(16)))}
    token = _joserfc_sign({"alg": "Ed25519", "kid": entry.kid, "typ": TYP_CREDENTIAL}, canonical_json(claims), private_key)
    desk = _desk(keydir)
    assert desk.verify(token, now=NOW).licence_type == "driving_license"
    assert desk.verify(scan(encode_credential(token)), now=NOW).claims["name"] == claims["name"]
    # one changed claim, the same signature: refused
    head, _payload, sig = token.split(".")
    forged = f"{head}.{b64url_encode(canonical_json({**claims, 'name': 'X'}))}.{sig}"
    with pytest.raises(VerificationFailed) as exc:
        desk.verify(forged, now=NOW)
    assert exc.value.codes == ["signature_invalid"]


def test_trust_and_status_lists_signed_by_joserfc_with_ed25519_verify(keydir: KeyDir) -> None:
    root_header, root_payload, _sig = split_compact(keydir.trust_list())
    trust_token = _joserfc_sign({**json.loads(root_header), "alg": "Ed25519"}, root_payload, keydir.private_key("root"))
    trust = load_trust_list(trust_token, keydir.root_public_jwk())
    entry, key = keydir.key_for_authority("traffic_police", NOW)
    ours = sign_status_list(keydir, "traffic_police", "RFC9864", 1024, [(3, 1)], NOW)
    header, payload, _ = split_compact(ours)
    theirs = _joserfc_sign({**json.loads(header), "alg": "Ed25519"}, payload, key)
    assert parse_status_list(theirs, trust).get(3) == parse_status_list(ours, trust).get(3) == 1
    for alg in REFUSED:
        with pytest.raises(VerificationFailed) as exc:
            parse_status_list(_raw_signed({**json.loads(header), "alg": alg}, payload, key), trust)
        assert exc.value.codes == ["status_list_invalid"], alg
        with pytest.raises(VerificationFailed) as exc:
            load_trust_list(_raw_signed({**json.loads(root_header), "alg": alg}, root_payload, keydir.private_key("root")),
                            keydir.root_public_jwk())
        assert exc.value.codes == ["trust_list_invalid"], alg


def _raw_signed(header: dict[str, Any], payload: bytes, key: Ed25519PrivateKey) -> str:
    """A JWS with a real Ed25519 signature under any header (joserfc would not sign with a
    name outside its own registry)."""
    signing_input = f"{b64url_encode(json.dumps(header, separators=(',', ':')).encode())}.{b64url_encode(payload)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode()))}"


@pytest.mark.parametrize("alg", [*REFUSED, ["Ed25519"], None, 1])
def test_an_alg_outside_the_allow_list_is_refused_with_its_stable_code(keydir: KeyDir, alg: Any) -> None:
    issued = issue(keydir, "id_card", example("id_card"), now=NOW - 60, with_views=False)
    header, payload, _ = split_compact(issued.credential)
    entry, key = keydir.signing_key("id_card", NOW)
    token = _raw_signed({**json.loads(header), "alg": alg}, payload, key)
    with pytest.raises(VerificationFailed) as exc:
        _desk(keydir).verify(token, now=NOW)
    assert exc.value.codes == ["unsupported_algorithm"]
    if isinstance(alg, str):
        with pytest.raises(ValueError):
            sign_compact({"a": 1}, key, kid=entry.kid, typ=TYP_CREDENTIAL, alg=alg)


def test_an_envelope_kind_outside_the_four_is_refused(keydir: KeyDir) -> None:
    import base45
    import cbor2

    from keys.envelope import PREFIX

    issued = issue(keydir, "id_card", example("id_card"), now=NOW - 60, with_views=False, alg="Ed25519")
    raw = base45.b45decode(encode_credential(issued.credential)[len(PREFIX):])
    assert raw[:2] == bytes([0x84, KIND_CREDENTIAL_ED25519])  # CBOR: an array of 4, then the kind
    assert cbor2.loads(raw)[0] == KIND_CREDENTIAL_ED25519
    desk = _desk(keydir)
    for kind in (1, 2, 4, 5, 0):
        text = PREFIX + base45.b45encode(bytes([0x84, kind]) + raw[2:]).decode("ascii")
        with pytest.raises(VerificationFailed) as exc:
            desk.verify(text, now=NOW)
        # kind 1 rebuilds an "EdDSA" header the issuer never signed; 2, 4 want a proof; 0, 5 do not exist
        assert exc.value.codes == (["signature_invalid"] if kind == 1 else ["malformed"]), kind


def test_a_presentation_mixing_the_two_names_cannot_be_packed(keydir: KeyDir, tmp_path: Path) -> None:
    from keys.envelope import EnvelopeError
    from keys.envelope import proof_claims
    from keys.jose import TYP_PROOF

    wallet = Wallet.init(tmp_path / "wallet", passphrase=b"rfc 9864 wallet")
    issued = issue(keydir, "id_card", example("id_card"), holder_jwk=wallet.device_jwk(), now=NOW - 60, alg="Ed25519")
    view = issued.views["hotel"]
    eddsa_proof = sign_compact(proof_claims(view, NOW, bytes(8)), wallet.device_key(), kid=None, typ=TYP_PROOF)
    with pytest.raises(EnvelopeError):
        encode_presentation(view, eddsa_proof)
    assert encode_presentation(view, holder_proof(view, wallet.device_key(), NOW, nonce=bytes(8)))


def test_the_phone_s_code_presents_ed25519_views_byte_for_byte_as_python_does(keydir: KeyDir, tmp_path: Path) -> None:
    from service_fixtures import require_in_ci

    node = shutil.which("node")
    if node is None or not (ROOT / "wallet" / "web" / "node_modules").is_dir():
        require_in_ci("node and wallet/web/node_modules (make bundles)")
    seed = bytes(range(32))
    device = Ed25519PrivateKey.from_private_bytes(seed)
    from keys import public_jwk

    desk = _desk(keydir)
    cases = []
    for alg in ("EdDSA", "Ed25519"):
        issued = issue(keydir, "id_card", example("id_card"), holder_jwk=public_jwk(device.public_key()), now=NOW - 60, alg=alg)
        for scenario in ("hotel", "internet_cafe"):
            nonce = bytes([len(cases)]) * 8
            view = issued.views[scenario]
            cases.append((scenario, view, nonce, encode_presentation(view, holder_proof(view, device, NOW, nonce=nonce))))
    request = {"seed": seed.hex(), "views": [{"view": v, "iat": NOW, "nonce": n.hex()} for _s, v, n, _t in cases]}
    out = subprocess.run([node, str(ROOT / "wallet" / "web" / "tools" / "present.mjs")], input=json.dumps(request),
                         capture_output=True, text=True, check=True, timeout=60)
    texts = json.loads(out.stdout)["texts"]
    assert texts == [t for _s, _v, _n, t in cases]
    assert [decode(t).kind for t in texts] == [2, 2, 4, 4]
    for (scenario, _v, _n, _t), text in zip(cases, texts):
        assert desk.verify(text, scenario=scenario, now=NOW).presented_at == NOW


def test_certfree_issue_alg_ed25519_signs_with_the_new_name(keydir: KeyDir, tmp_path: Path) -> None:
    import datetime as dt
    import os
    import sys

    from conftest import PASSPHRASE

    env = {**os.environ, "CERTFREE_KEY_PASSPHRASE": PASSPHRASE.decode(),
           "CERTFREE_DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.db'}"}
    (tmp_path / "id.json").write_text(json.dumps(example("id_card"), ensure_ascii=False), "utf-8")
    at = dt.datetime.fromtimestamp(NOW - 60, dt.timezone.utc).isoformat()
    certfree = str(Path(sys.executable).with_name("certfree"))
    base = [certfree, "issue", "id_card", "--keys", str(keydir.path), "--claims", str(tmp_path / "id.json"), "--now", at]
    done = subprocess.run([*base, "--alg", "Ed25519", "--out", str(tmp_path / "id.jws")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    token = (tmp_path / "id.jws").read_text().strip()
    assert _header(token)["alg"] == "Ed25519"
    assert _desk(keydir).verify(encode_credential(token), now=NOW).licence_type == "id_card"
    refused = subprocess.run([*base, "--alg", "ES256"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "ES256" in refused.stderr
