"""Verifier vectors for other implementations: one JSON file per case in ``verifier/``.

``python tests/vectors/verifier_vectors.py`` (from the repository root) writes them. Every
case is made with the fixed development keys in ``fuzz/fixture/keys``, fixed holder keys
(seeds below: test keys only), fixed ids, nonces and times, so the files come out the same
on every run (Ed25519 is deterministic; only a status list's zlib bytes depend on whether
zopfli is installed, and any inflater reads both). Each file is self-contained::

    {"id", "description", "now", "scenario" (or null), "repeat" (scans of the same code),
     "root_jwk", "held_trust_list" (the list the desk held before, or null), "trust_list",
     "jwks", "status_lists": [list tokens],
     "code": the QR text (or a compact JWS),
     "decoded": {"jws", "proof_jws", "issuer_signature_valid", "proof_signature_valid"}
                or null when the code is not an envelope this format can read,
     "expected": {"valid": true, "licence_type", "claims", "warnings": [codes]}
               | {"valid": false, "at": "trust_list" | "status_lists" | "verify", "codes": [codes]}}

The expected outcome of each case is written here, from what the case is made to be (a
signature flipped, a proof signed by another device, ...), never by running the verifier;
``tests/test_vectors.py`` runs every file through the SDK and ``wallet/web/test/
vectors.test.js`` through the phone's code. docs/qr-format.md explains every field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
OUT = HERE / "verifier"
NOW = 1_796_000_000  # 2026-11-29T08:53:20Z, inside the fixture keys' validity
ISSUED = NOW - 86_400  # the licences were issued a day earlier
HOLDER_SEED = bytes(range(1, 33))
OTHER_SEED = bytes(range(33, 65))  # another phone's device key
STRANGER_SEED = bytes(range(65, 97))  # an Ed25519 key in no trust list
BASE = "http://127.0.0.1:8000"  # the demo's public URL: its status URI start is in the envelope's book
OTHER_BASE = "https://status.certfree.example"  # a URI start outside the book (the long form)
LIST_ID = "dmVjdA"  # 4 raw bytes, base64url
LIST_SIZE = 1024


def _claims(jws: str) -> dict[str, Any]:
    from keys.jose import split_compact

    return json.loads(split_compact(jws)[1])


class Maker:
    """Signs the cases' credentials, views, proofs and status lists."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from keys import KeyDir, public_jwk

        self.keys = KeyDir(ROOT / "fuzz" / "fixture" / "keys")
        self.holder = Ed25519PrivateKey.from_private_bytes(HOLDER_SEED)
        self.other = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)
        self.stranger = Ed25519PrivateKey.from_private_bytes(STRANGER_SEED)
        self.holder_jwk = public_jwk(self.holder.public_key())
        self.serial = 0

    def jti(self, size: int) -> str:
        from keys.jose import b64url_encode

        self.serial += 1
        return b64url_encode(self.serial.to_bytes(size, "big"))

    def sign(self, claims: dict[str, Any], typ: str, key: Any = None, kid: str | None = None) -> str:
        """``claims`` signed by the issuer key of their type (or ``key``/``kid`` given)."""
        from keys.jose import sign_compact

        if key is None:
            entry, key = self.keys.signing_key(claims["vct"], ISSUED)
            kid = entry.kid
        return sign_compact(claims, key, kid=kid, typ=typ)

    def licence(self, licence_type: str, scenario: str | None, status: dict[str, Any] | None,
                fields: dict[str, Any] | None = None, **changes: Any) -> str:
        """A view for ``scenario`` (or the full credential when None), issued at ISSUED and
        bound to the holder, with a fixed jti and ``status``, then ``changes`` applied."""
        from issuer import example
        from issuer.credential import sign_licence
        from keys.jose import TYP_CREDENTIAL, TYP_VIEW

        issued = sign_licence(self.keys, licence_type, fields or example(licence_type), holder_jwk=self.holder_jwk,
                              now=ISSUED, with_views=scenario is not None)
        jws = issued.views[scenario] if scenario is not None else issued.credential
        claims = _claims(jws) | {"jti": self.jti(12 if scenario else 16)}
        if status is not None:
            claims["status"] = status
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return self.sign(claims, TYP_VIEW if scenario else TYP_CREDENTIAL)

    def present(self, view: str, iat: int, device: Any = None) -> tuple[str, str]:
        """(QR text, proof JWS) of ``view`` presented at ``iat`` by ``device`` (the holder's)."""
        from keys.envelope import encode_presentation, proof_claims
        from keys.jose import TYP_PROOF, sign_compact

        nonce = self.serial.to_bytes(8, "big")
        self.serial += 1
        proof = sign_compact(proof_claims(view, iat, nonce), device or self.holder, kid=None, typ=TYP_PROOF)
        return encode_presentation(view, proof), proof

    def trust_list(self, seq: int, compromised: dict[str, int] | None = None) -> str:
        """The fixture's trust list signed again by its root with sequence number ``seq``,
        the keys in ``compromised`` (kid -> since) marked compromised."""
        from keys.jose import TYP_TRUST_LIST, sign_compact, split_compact

        header = json.loads(split_compact(self.keys.trust_list())[0])
        claims = _claims(self.keys.trust_list()) | {"seq": seq}
        for entry in claims["keys"]:
            if entry["kid"] in (compromised or {}):
                entry.update(state="compromised", compromised_since=compromised[entry["kid"]])  # type: ignore[index]
        return sign_compact(claims, self.keys.private_key("root"), kid=header["kid"], typ=TYP_TRUST_LIST)

    def status_list(self, authority: str, entries: list[tuple[int, int]], iat: int = NOW - 600,
                    base: str = BASE, list_id: str = LIST_ID, exp: int | None = None) -> str:
        """A status list token as the issuer signs it (``exp`` given: with that exp instead)."""
        from issuer.status_list import sign_status_list, status_list_claims
        from keys.jose import TYP_STATUS_LIST, sign_compact

        if exp is None:
            return sign_status_list(self.keys, authority, list_id, LIST_SIZE, entries, iat, base)
        entry, key = self.keys.key_for_authority(authority, iat)
        claims = status_list_claims(list_id, authority, LIST_SIZE, entries, iat, base) | {"exp": exp}
        return sign_compact(claims, key, kid=entry.kid, typ=TYP_STATUS_LIST)


def _ref(idx: int, base: str = BASE, list_id: str = LIST_ID) -> dict[str, Any]:
    from issuer.status_list import status_ref

    return status_ref(list_id, idx, base)


def _old_ref(idx: int) -> dict[str, Any]:
    return {"idx": idx, "lst": LIST_ID}


_ENVELOPE_CLAIMS = ("iss", "iat", "nbf", "exp", "jti", "vct", "scn", "cnf", "status")


def _valid(jws: str, warnings: tuple[str, ...] = ()) -> dict[str, Any]:
    claims = _claims(jws)
    return {"valid": True, "licence_type": claims["vct"], "warnings": list(warnings),
            "claims": {k: v for k, v in claims.items() if k not in _ENVELOPE_CLAIMS}}


def _refused(*codes: str, at: str = "verify") -> dict[str, Any]:
    return {"valid": False, "at": at, "codes": list(codes)}


def _flip_signature(jws: str) -> str:
    """``jws`` with its signature's first byte flipped."""
    from keys.jose import b64url_decode, b64url_encode

    head, sig = jws.rsplit(".", 1)
    raw = b64url_decode(sig)
    return head + "." + b64url_encode(bytes([raw[0] ^ 1]) + raw[1:])


def cases(m: Maker) -> list[dict[str, Any]]:
    """Every case: id, description, scenario, now, code, what it holds, expected."""
    from keys.envelope import encode_credential
    from keys.jose import b64url_encode, canonical_json, key_id, public_jwk

    out: list[dict[str, Any]] = []
    police, traffic = "household_registration", "traffic_police"
    lists = [m.status_list(police, [(5, 1), (6, 2)]), m.status_list(police, [], base=OTHER_BASE, list_id="b3RoZXI")]

    def add(case_id: str, description: str, scenario: str | None, code: str, expected: dict[str, Any], *,
            view: str | None = None, proof: str | None = None, now: int = NOW, status_lists: list[str] | None = None,
            repeat: int = 1, trust: Callable[[dict[str, Any]], None] | None = None) -> None:
        case = {"id": case_id, "description": description, "scenario": scenario, "now": now, "repeat": repeat,
                "code": code, "view": view, "proof": proof, "expected": expected,
                "status_lists": lists if status_lists is None else status_lists}
        if trust is not None:
            trust(case)
        out.append(case)

    def shown(view: str, iat: int = NOW - 5, device: Any = None) -> tuple[str, str]:
        return m.present(view, iat, device)

    # ---- accepted ----------------------------------------------------------------------
    view = m.licence("id_card", "hotel", _ref(1))
    text, proof = shown(view)
    add("valid_hotel_status_list_uri", "An ID card shown at a hotel; its status entry in the Token Status List "
        "draft's shape, the list URI's start in the envelope's book (the short form). Valid.",
        "hotel", text, _valid(view), view=view, proof=proof)
    view = m.licence("id_card", "internet_cafe", _old_ref(2))
    text, proof = shown(view)
    add("valid_internet_cafe_old_status_shape", "A view issued before the draft's shape: status {idx, lst}. The "
        "list is found by its id, the last segment of the list token's sub URI. Valid.",
        "internet_cafe", text, _valid(view), view=view, proof=proof)
    view = m.licence("id_card", "hotel", _ref(3, OTHER_BASE, "b3RoZXI"))
    text, proof = shown(view)
    add("valid_status_uri_outside_codebook", "A status list URI whose start is not in the envelope's book: the "
        "status claim travels as a CBOR map with the URI as text (the long form). Valid.",
        "hotel", text, _valid(view), view=view, proof=proof)
    credential = m.licence("driving_license", None, None)
    add("valid_credential_without_scenario", "A full driving licence credential (no holder proof, no status "
        "claim), checked with no scenario: signature, trust and dates only. Valid.",
        None, encode_credential(credential), _valid(credential), view=credential)
    add("valid_compact_jws", "The same credential as a plain compact JWS instead of a CF1: envelope. Valid.",
        None, credential, _valid(credential), view=credential)
    view = m.licence("id_card", "hotel", _ref(4))
    text, proof = shown(view)
    add("status_unknown_warning_hotel", "No status list held: the hotel's policy accepts with a status_unknown "
        "warning.", "hotel", text, _valid(view, ("status_unknown",)), view=view, proof=proof, status_lists=[])

    # ---- the issuer's signature, key and algorithm ----------------------------------------
    view = _flip_signature(m.licence("id_card", "hotel", _ref(1)))
    text, proof = shown(view)
    add("signature_invalid", "The issuer signature's first byte flipped (the holder's proof is over the view "
        "as shown, so it verifies).", "hotel", text, _refused("signature_invalid"), view=view, proof=proof)
    traffic_kid = m.keys.signing_key("driving_license", NOW)[0].kid
    header = b64url_encode(canonical_json({"alg": "ES256", "kid": traffic_kid, "typ": "cf-cred"}))
    parts = credential.split(".")
    add("unsupported_algorithm", "A compact JWS whose header says ES256: refused by the algorithm allow-list "
        "before any key is looked at.", None, f"{header}.{parts[1]}.{parts[2]}", _refused("unsupported_algorithm"))
    header = b64url_encode(canonical_json({"alg": "none", "typ": "cf-cred"}))
    add("alg_none", "A compact JWS with alg none and an empty signature.", None, f"{header}.{parts[1]}.",
        _refused("unsupported_algorithm"))
    header = b64url_encode(canonical_json({"alg": "EdDSA", "crit": ["exp"], "kid": traffic_kid, "typ": "cf-cred"}))
    add("crit_header", "A compact JWS with a crit header member: refused (unsupported_header).", None,
        f"{header}.{parts[1]}.{parts[2]}", _refused("unsupported_header"))
    stranger_claims = _claims(m.licence("id_card", "hotel", _ref(1)))
    stranger_view = m.sign(stranger_claims, "cf-view", key=m.stranger, kid=key_id(m.stranger.public_key()))
    text, proof = shown(stranger_view)
    add("unknown_key", "A view signed by an Ed25519 key in no trust list.", "hotel", text, _refused("unknown_key"),
        view=stranger_view, proof=proof)
    traffic_entry, traffic_key = m.keys.key_for_authority(traffic, ISSUED)
    claims = _claims(m.licence("id_card", None, None)) | {"iss": traffic}
    forged = m.sign(claims, "cf-cred", key=traffic_key, kid=traffic_entry.kid)
    add("key_not_authorised", "An ID card signed by the traffic police's key, which may sign driving and "
        "vehicle licences only.", None, encode_credential(forged), _refused("key_not_authorised"), view=forged)
    early = m.licence("driving_license", None, None, iat=1_795_000_000, exp=NOW + 86_400)
    add("key_not_valid", "A credential whose iat is before its signing key's validity began.", None,
        encode_credential(early), _refused("key_not_valid"), view=early)

    # ---- time ---------------------------------------------------------------------------------
    view = m.licence("id_card", "hotel", _ref(1))
    exp = _claims(view)["exp"]
    text, proof = shown(view, exp + 31 - 5)
    add("expired", "A view presented 31 s after its exp (the hotel tolerates 30 s of clock skew).",
        "hotel", text, _refused("expired"), view=view, proof=proof, now=exp + 31,
        status_lists=[m.status_list(police, [], iat=exp + 31 - 600)])
    text, proof = shown(view, ISSUED - 31)
    add("not_yet_valid", "A view presented 31 s before its iat.", "hotel", text, _refused("not_yet_valid"),
        view=view, proof=proof, now=ISSUED - 31, status_lists=[])
    text, proof = shown(view, NOW - 91)
    add("presentation_stale", "A proof made 91 s ago: older than the hotel's 60 s freshness + 30 s skew.",
        "hotel", text, _refused("presentation_stale"), view=view, proof=proof)
    text, proof = shown(view, NOW + 31)
    add("presentation_from_future", "A proof dated 31 s ahead of the desk's clock.", "hotel", text,
        _refused("presentation_from_future"), view=view, proof=proof)

    # ---- the holder -----------------------------------------------------------------------------
    text, proof = shown(view, device=m.other)
    add("wrong_holder", "The view is bound (cnf) to one phone's key; the proof is signed by another phone.",
        "hotel", text, _refused("holder_proof_invalid"), view=view, proof=proof)
    add("holder_proof_missing", "A bare view (envelope kind 1, no proof) shown where a live presentation is "
        "required.", "hotel", encode_credential(view), _refused("holder_proof_missing"), view=view)
    text, proof = shown(view)
    add("replayed", "The same presentation scanned twice at one desk: the second scan is refused.", "hotel", text,
        _refused("replayed"), view=view, proof=proof, repeat=2)

    # ---- status ------------------------------------------------------------------------------------
    for case_id, ref, note in (("revoked", _ref(5), "the draft's shape"), ("revoked_old_status_shape", _old_ref(5), "the older {idx, lst} shape")):
        v = m.licence("id_card", "hotel", ref)
        text, proof = shown(v)
        add(case_id, f"Entry 5 of the list is 1 (revoked); the view refers to it in {note}.", "hotel", text,
            _refused("revoked"), view=v, proof=proof)
    v = m.licence("id_card", "hotel", _ref(6))
    text, proof = shown(v)
    add("suspended", "Entry 6 of the list is 2 (suspended).", "hotel", text, _refused("suspended"), view=v, proof=proof)
    bike_list = m.status_list("police_station", [(9, 2)])
    v = m.licence("ebike_registration", "ebike_check", _ref(9))
    text, proof = shown(v)
    add("reported_stolen", "An e-bike registration whose entry is 2 (suspended): for an e-bike, reported stolen.",
        "ebike_check", text, _refused("reported_stolen"), view=v, proof=proof, status_lists=[bike_list])
    v = m.licence("id_card", "fuel_purchase", _ref(1))
    text, proof = shown(v)
    add("status_unknown_refused", "No status list held at the fuel counter, whose policy refuses an unknown "
        "status.", "fuel_purchase", text, _refused("status_unknown"), view=v, proof=proof, status_lists=[])
    add("status_list_stale", "The fuel counter holds the list, but it was signed 6 h 1 s ago (its limit is 6 h).",
        "fuel_purchase", text, _refused("status_unknown"), view=v, proof=proof,
        status_lists=[m.status_list(police, [], iat=NOW - 21_601)])
    text, proof = shown(view)
    add("status_list_expired", "The hotel holds a list signed 10 minutes ago whose exp passed a second ago "
        "(this issuer gives iat + 7 days; exp decides even where the policy's age limit would not): "
        "its status is unknown, so the hotel accepts with a warning.", "hotel", text,
        _valid(view, ("status_unknown",)), view=view, proof=proof,
        status_lists=[m.status_list(police, [], exp=NOW - 1)])
    v = m.licence("id_card", "hotel", _ref(LIST_SIZE))
    text, proof = shown(v)
    add("status_index_outside_list", "The entry's index is the list's size: outside the list.", "hotel", text,
        _refused("status_list_invalid"), view=v, proof=proof)
    forged_list = _flip_signature(lists[0])
    add("status_list_bad_signature", "A status list token whose signature does not verify: the desk refuses the "
        "list when loading it.", "hotel", encode_credential(view), _refused("status_list_invalid", at="status_lists"),
        view=view, status_lists=[forged_list])
    v = m.licence("id_card", "hotel", {"status_list": {"idx": 1, "uri": "ftp://x/status/dmVjdA.jws"}})
    text, proof = shown(v)
    add("status_claim_invalid", "A status claim whose URI is not http(s): the claim is invalid.", "hotel", text,
        _refused("claim_invalid"), view=v, proof=proof)

    # ---- the scenario's policy ------------------------------------------------------------------
    v = m.licence("driving_license", "street_check", _ref(1, list_id="dHJhZg"))
    text, proof = shown(v)
    add("type_not_accepted", "A driving licence's street-check view shown at an internet cafe, which accepts "
        "ID cards only.", "internet_cafe", text, _refused("type_not_accepted"), view=v, proof=proof,
        status_lists=[m.status_list(traffic, [], list_id="dHJhZg")])
    view = m.licence("id_card", "hotel", _ref(1))
    text, proof = shown(view)
    add("wrong_scenario", "An ID card's hotel view shown at an internet cafe.", "internet_cafe", text,
        _refused("wrong_scenario"), view=view, proof=proof)
    from issuer import example

    minor = example("id_card") | {"birth_date": "2010-03-07", "id_number": "110101201003070036"}
    v = m.licence("id_card", "internet_cafe", _ref(1), fields=minor)
    text, proof = shown(v)
    add("under_age", "A 16-year-old's internet-cafe view: age_over_18 is false.", "internet_cafe", text,
        _refused("under_age"), view=v, proof=proof)
    v = m.licence("id_card", "hotel", _ref(1), address=None)
    text, proof = shown(v)
    add("claim_missing", "A hotel view signed without the address the hotel's policy needs.", "hotel", text,
        _refused("claim_missing"), view=v, proof=proof)
    add("unknown_scenario", "A scenario the desk has no policy for.", "casino", text, _refused("unknown_scenario"))

    # ---- the envelope ------------------------------------------------------------------------------
    text, proof = shown(view)
    add("envelope_truncated", "The QR text cut short by 3 characters: not base45/CBOR that decodes.", "hotel",
        text[:-3], _refused("malformed"))
    add("envelope_unknown_prefix", "CF9: is no envelope version this verifier reads.", "hotel",
        "CF9:" + text[4:], _refused("malformed"))
    add("envelope_oversize", "4297 characters: longer than any QR code holds, refused before parsing.", "hotel",
        "CF1:" + "0" * 4293, _refused("malformed"))
    add("envelope_bad_character", "A lower-case letter is outside the base45 alphabet.", "hotel",
        text[:10] + "a" + text[11:], _refused("malformed"))

    # ---- the trust list ------------------------------------------------------------------------------
    def other_root(case: dict[str, Any]) -> None:
        case["root_jwk"] = public_jwk(m.stranger.public_key())

    add("trust_list_wrong_root", "The desk pins a different root key: the trust list does not verify.",
        "hotel", text, _refused("trust_list_invalid", at="trust_list"), view=view, proof=proof, trust=other_root)
    newer = m.trust_list(2)

    def rollback(case: dict[str, Any]) -> None:
        case["held_trust_list"] = newer

    add("trust_list_rollback", "The desk holds trust list 2 and is offered list 1: refused (rollback).", "hotel",
        text, _refused("trust_list_rollback", at="trust_list"), view=view, proof=proof, trust=rollback)
    household_kid = m.keys.signing_key("id_card", ISSUED)[0].kid
    credential = m.licence("id_card", None, None)
    for case_id, since, expected, note in (
        ("key_compromised", ISSUED, _refused("key_compromised"), "from the second it was signed: refused"),
        ("valid_signed_before_compromise", ISSUED + 1, _valid(credential), "from a second after it was signed: "
         "what it signed before still verifies"),
    ):
        listed = m.trust_list(2, {household_kid: since})

        def compromise(case: dict[str, Any], listed: str = listed) -> None:
            case["trust_list"] = listed

        add(case_id, f"An ID card credential whose signing key trust list 2 reports compromised {note}.", None,
            encode_credential(credential), expected, view=credential, status_lists=[], trust=compromise)
    return out


def decoded(case: dict[str, Any], jwks: dict[str, Any]) -> dict[str, Any] | None:
    """The exact JWS strings an envelope carries, and whether their signatures verify
    (cryptography's Ed25519, the keys from the JWKS and the view's cnf)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from keys.jose import b64url_decode, split_compact

    view, proof = case.pop("view"), case.pop("proof")
    if view is None or not case["code"].startswith("CF1:"):
        return None

    def verifies(jws: str, raw_key: bytes | None) -> bool | None:
        if raw_key is None:
            return None
        header, payload, signature = split_compact(jws)
        signing_input = jws.rsplit(".", 1)[0].encode("ascii")
        try:
            Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, signing_input)
        except InvalidSignature:
            return False
        return True

    kid = json.loads(split_compact(view)[0])["kid"]
    issuer_x = next((k["x"] for k in jwks["keys"] if k["kid"] == kid), None)
    holder_x = _claims(view).get("cnf", {}).get("jwk", {}).get("x")
    return {
        "jws": view,
        "proof_jws": proof,
        "issuer_signature_valid": verifies(view, b64url_decode(issuer_x) if issuer_x else None),
        "proof_signature_valid": verifies(proof, b64url_decode(holder_x)) if proof else None,
    }


def build() -> dict[str, dict[str, Any]]:
    m = Maker()
    jwks = m.keys.jwks()
    files = {}
    for case in cases(m):
        body = {
            "id": case["id"], "description": case["description"], "now": case["now"], "scenario": case["scenario"],
            "repeat": case["repeat"], "root_jwk": case.get("root_jwk", m.keys.root_public_jwk()),
            "held_trust_list": case.get("held_trust_list"), "trust_list": case.get("trust_list", m.keys.trust_list()),
            "jwks": jwks, "status_lists": case["status_lists"],
            "code": case["code"], "decoded": decoded(case, jwks), "expected": case["expected"],
        }
        files[case["id"]] = body
    return files


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    files = build()
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for case_id, body in files.items():
        (OUT / f"{case_id}.json").write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {len(files)} vectors to {OUT}")
