"""Every verifier vector (tests/vectors/verifier/*.json, written by
tests/vectors/verifier_vectors.py) through the SDK as a window would run it: the trust list
against the pinned root, the status lists against the trust list, then ``verify`` at the
vector's fixed time, scanned ``repeat`` times at one desk. The verdict, licence type,
disclosed claims, warnings and failure codes must be the vector's; and the envelope must
decode to the exact JWS strings the vector names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keys.envelope import decode
from keys.jose import b64url_encode, protected_header
from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_status_lists, load_trust_list

FOLDER = Path(__file__).parent / "vectors" / "verifier"
VECTORS = sorted(FOLDER.glob("*.json"))
ALL_CODES = {"signature_invalid", "unsupported_algorithm", "unsupported_header", "unknown_key", "key_not_authorised",
             "key_not_valid", "expired", "not_yet_valid", "presentation_stale", "presentation_from_future",
             "holder_proof_invalid", "holder_proof_missing", "replayed", "revoked", "suspended", "reported_stolen",
             "status_unknown", "status_list_invalid", "claim_invalid", "type_not_accepted", "wrong_scenario",
             "under_age", "claim_missing", "unknown_scenario", "malformed", "trust_list_invalid",
             "trust_list_rollback", "key_compromised"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def _outcome(v: dict[str, Any]) -> dict[str, Any]:
    """What the SDK says of vector ``v``, in the vectors' terms."""
    try:
        held = load_trust_list(v["held_trust_list"], v["root_jwk"]) if v["held_trust_list"] else None
        trust = load_trust_list(v["trust_list"], v["root_jwk"], held=held)
    except VerificationFailed as exc:
        return {"valid": False, "at": "trust_list", "codes": exc.codes}
    try:
        status = load_status_lists(v["status_lists"], trust)
    except VerificationFailed as exc:
        return {"valid": False, "at": "status_lists", "codes": exc.codes}
    desk = Verifier(trust, clock=lambda: v["now"], replay_cache=MemoryReplayCache(), status=status)
    for _ in range(v["repeat"] - 1):
        desk.verify(v["code"], scenario=v["scenario"])  # the earlier scans are accepted
    try:
        result = desk.verify(v["code"], scenario=v["scenario"])
    except VerificationFailed as exc:
        return {"valid": False, "at": "verify", "codes": exc.codes}
    return {"valid": True, "licence_type": result.licence_type, "claims": dict(result.claims),
            "warnings": [w.code for w in result.warnings]}


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector_verdict(path: Path) -> None:
    v = _load(path)
    assert _outcome(v) == v["expected"], v["description"]


# The vectors whose code is an envelope this format reads (not a compact JWS, nor damaged on purpose).
ENVELOPES = [p for p in VECTORS if _load(p)["decoded"] is not None]


@pytest.mark.parametrize("path", ENVELOPES, ids=[p.stem for p in ENVELOPES])
def test_vector_envelope_rebuilds_the_exact_jws(path: Path) -> None:
    """The CF1: envelope carries the JWS strings the vector names, byte for byte: the
    header from the template (kid found by its 8-byte prefix in the JWKS), the payload as
    canonical JSON, the raw signature; the proof's header and payload rebuilt likewise."""
    v = _load(path)
    env = decode(v["code"])
    kids = [k["kid"] for k in v["jwks"]["keys"]]
    matches = [kid for kid in kids if _unb64(kid)[:8] == env.kid_prefix]
    expected_kid = json.loads(_unb64(v["decoded"]["jws"].split(".")[0]))["kid"]
    if expected_kid in kids:
        assert matches == [expected_kid]
    kid = expected_kid  # an unknown key is named by the vector's JWS; the envelope holds its prefix
    assert _unb64(kid)[:8] == env.kid_prefix
    typ = "cf-view" if "scn" in env.claims else "cf-cred"
    jws = ".".join([b64url_encode(protected_header(kid, typ)), b64url_encode(env.payload), b64url_encode(env.signature)])
    assert jws == v["decoded"]["jws"]
    if v["decoded"]["proof_jws"] is None:
        assert env.proof is None
        return
    assert env.proof is not None
    proof = ".".join([b64url_encode(protected_header(None, "cf-proof")), b64url_encode(env.proof.payload(jws)),
                      b64url_encode(env.proof.signature)])
    assert proof == v["decoded"]["proof_jws"]


def test_the_vectors_cover_every_failure_code_and_both_status_shapes() -> None:
    vectors = [_load(p) for p in VECTORS]
    reported = {code for v in vectors if not v["expected"]["valid"] for code in v["expected"]["codes"]}
    warned = {code for v in vectors if v["expected"]["valid"] for code in v["expected"]["warnings"]}
    assert ALL_CODES <= reported | warned
    shapes = set()
    for v in vectors:
        if v["decoded"] is not None:
            status = json.loads(_unb64(v["decoded"]["jws"].split(".")[1])).get("status", {})
            shapes.add(tuple(sorted(status)))
    assert {("status_list",), ("idx", "lst")} <= shapes
    # the generator writes the same files again (fixed keys, ids, nonces and times)
    from vectors.verifier_vectors import build

    assert {name: body["code"] for name, body in build().items()} == {v["id"]: v["code"] for v in vectors}


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
