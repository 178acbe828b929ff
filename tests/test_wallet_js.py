"""The phone's presentation code (wallet/web/src, JavaScript) and Python's are one format:
the committed vectors hold Python to the texts the JavaScript tests also reach, and codes
that the JavaScript code makes from fresh views and a fresh key verify in the SDK. The
codebook both read is append-only. Without node the JavaScript half skips (CI has node)."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from service_fixtures import require_in_ci

from issuer import example
from keys import KeyDir, public_jwk

ROOT = Path(__file__).parent.parent
VECTORS = json.loads((ROOT / "tests" / "vectors" / "wallet-presentations.json").read_text("utf-8"))


def test_python_still_writes_every_vector_text_and_the_sdk_accepts_them() -> None:
    from vectors.wallet_vectors import presentation_text

    from keys.envelope import encode_credential
    from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_trust_list

    fixture = KeyDir(ROOT / "fuzz" / "fixture" / "keys")
    desk = Verifier(load_trust_list(fixture.trust_list(), fixture.root_public_jwk()), replay_cache=MemoryReplayCache())
    seed = bytes.fromhex(VECTORS["device_seed"])
    assert len(VECTORS["vectors"]) >= 6
    for v in VECTORS["vectors"]:
        assert presentation_text(v["view"], seed, v["iat"], bytes.fromhex(v["nonce"])) == v["text"]
        assert encode_credential(v["credential"]) == v["credential_text"]
        # signatures, holder proof, freshness and policy pass; the fixture's status list
        # ("vector") is held by no desk, which only the strict places refuse
        try:
            result = desk.verify(v["text"], scenario=v["scenario"], now=v["iat"])
        except VerificationFailed as exc:
            assert exc.codes == ["status_unknown"], (v["scenario"], exc.codes)
        else:
            assert (result.licence_type, result.presented_at) == (v["licence_type"], v["iat"])


def test_codes_made_by_the_phone_s_code_from_fresh_views_verify_in_the_sdk(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from issuer.credential import issue
    from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_trust_list

    node = shutil.which("node")
    if node is None or not (ROOT / "wallet" / "web" / "node_modules").is_dir():
        require_in_ci("node and wallet/web/node_modules (make bundles)")
    now = int(time.time())
    keys = KeyDir.init(tmp_path / "keys", insecure_dev=True, now=now - 86400)
    seed = secrets.token_bytes(32)
    holder = public_jwk(Ed25519PrivateKey.from_private_bytes(seed).public_key())
    cases = [(t, s) for t in ("id_card", "household_book", "vehicle_license", "ebike_registration") for s in ("window", "hotel", "ebike_check")]
    views = []
    for licence_type, scenario in cases:
        issued = issue(keys, licence_type, example(licence_type), holder_jwk=holder, now=now)
        if scenario in issued.views:
            views.append((licence_type, scenario, issued.views[scenario]))
    request = {"seed": seed.hex(), "views": [{"view": v, "iat": now} for _t, _s, v in views]}
    out = subprocess.run([node, str(ROOT / "wallet" / "web" / "tools" / "present.mjs")], input=json.dumps(request),
                         capture_output=True, text=True, check=True, timeout=60)
    texts = json.loads(out.stdout)["texts"]
    desk = Verifier(load_trust_list(keys.trust_list(), keys.root_public_jwk()), replay_cache=MemoryReplayCache())
    assert len(texts) == len(views) >= 6
    for (licence_type, scenario, _view), text in zip(views, texts):
        assert desk.verify(text, scenario=scenario, now=now).licence_type == licence_type
        with pytest.raises(VerificationFailed) as again:
            desk.verify(text, scenario=scenario, now=now)
        assert again.value.codes == ["replayed"]
    assert len(set(texts)) == len(texts)  # a fresh nonce each time


def test_the_codebook_is_append_only() -> None:
    """Codes travel in QR texts already shown: a code, once given, never changes. New
    names and values go at the end of keys/envelope_codes.json."""
    codes = json.loads((ROOT / "keys" / "envelope_codes.json").read_text("utf-8"))
    given_names = [
        "iss", "iat", "nbf", "exp", "jti", "vct", "scn", "cnf", "status", "idx", "lst",
        "name", "sex", "ethnicity", "birth_date", "address", "id_number", "issuing_authority",
        "valid_from", "valid_until", "relationship", "birthplace", "native_place",
        "household_type", "household_number", "registration_authority", "registered_on",
        "nationality", "first_issued", "vehicle_classes", "file_number", "plate",
        "vehicle_type", "use_character", "brand_model", "vin", "engine_number", "issued_on",
        "brand", "model", "colour", "frame_number", "motor_number", "anti_theft_tag",
        "age_over_18", "id_number_masked", "sub", "uri", "status_list",
    ]
    given_values = [
        "household_registration", "traffic_police", "police_station",
        "id_card", "household_book", "residence_permit", "driving_license", "vehicle_license",
        "ebike_registration",
        "hotel", "internet_cafe", "fuel_purchase", "street_check", "ebike_check", "window",
    ]
    assert codes["names"][:len(given_names)] == given_names
    assert codes["values"][:len(given_values)] == given_values
    assert codes["status_uris"][:1] == ["http://127.0.0.1:8000/status/"]
    assert all(start.endswith("/") for start in codes["status_uris"])  # one short form per URI
    assert len(set(codes["names"])) == len(codes["names"]) and len(set(codes["values"])) == len(codes["values"])
