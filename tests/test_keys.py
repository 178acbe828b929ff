"""keys/: key generation, encryption at rest, RFC 7638 kids, JWKS and the trust list."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from keys import AUTHORITIES, KeyDir, KeyStoreError, thumbprint
from keys.jose import TYP_TRUST_LIST, b64url_decode, b64url_encode, public_jwk
from verifier import VerificationFailed, load_trust_list


def test_rfc8037_thumbprint_known_answer() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_init_makes_one_key_per_authority_with_thumbprint_kids(keydir: KeyDir) -> None:
    entries = keydir.issuer_keys()
    assert {e.authority for e in entries} == set(AUTHORITIES)
    by_authority = {e.authority: set(e.licence_types) for e in entries}
    assert by_authority["household_registration"] == {"id_card", "household_book", "residence_permit"}
    assert by_authority["traffic_police"] == {"driving_license", "vehicle_license"}
    assert by_authority["police_station"] == {"ebike_registration"}
    for entry in entries:
        assert thumbprint(public_jwk(keydir.private_key(entry.kid).public_key())) == entry.kid


def test_jwks_holds_public_keys_only(keydir: KeyDir) -> None:
    jwks = json.loads((keydir.path / "jwks.json").read_text())
    assert len(jwks["keys"]) == 3
    for jwk in jwks["keys"]:
        assert "d" not in jwk
        assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
        assert thumbprint(jwk) == jwk["kid"]


def test_private_key_files_need_the_passphrase(keydir: KeyDir) -> None:
    files = sorted(keydir.path.rglob("*.key.pem"))
    assert len(files) == 4  # root + three issuers
    for path in files:
        pem = path.read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):  # "Password was not given but private key is encrypted"
            load_pem_private_key(pem, password=None)
        with pytest.raises(ValueError):
            load_pem_private_key(pem, password=b"wrong")
    assert (path.stat().st_mode & 0o777) == 0o600


def test_wrong_or_missing_passphrase_is_a_clear_error(keydir: KeyDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CERTFREE_KEY_PASSPHRASE", raising=False)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyDir(keydir.path, passphrase=b"wrong").private_key("root")
    with pytest.raises(KeyStoreError, match="CERTFREE_KEY_PASSPHRASE is not set"):
        KeyDir(keydir.path).private_key("root")


def test_init_refuses_without_passphrase_or_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CERTFREE_KEY_PASSPHRASE", raising=False)
    with pytest.raises(KeyStoreError, match="--insecure-dev"):
        KeyDir.init(tmp_path / "k")


def test_passphrase_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    passphrase = "environment test passphrase"  # distinctive: the log scan looks for it
    monkeypatch.setenv("CERTFREE_KEY_PASSPHRASE", passphrase)
    KeyDir.init(tmp_path / "k")
    pem = (tmp_path / "k" / "root.key.pem").read_bytes()
    assert load_pem_private_key(pem, password=passphrase.encode()) is not None


def test_passphrase_from_a_file_as_container_secrets_are_mounted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CERTFREE_KEY_PASSPHRASE_FILE, as the service reads it: the file's text, one final
    newline dropped. Both it and CERTFREE_KEY_PASSPHRASE set is refused, naming both."""
    passphrase = "file test passphrase"
    secret = tmp_path / "passphrase"
    secret.write_text(passphrase + "\n")
    monkeypatch.delenv("CERTFREE_KEY_PASSPHRASE", raising=False)
    monkeypatch.setenv("CERTFREE_KEY_PASSPHRASE_FILE", str(secret))
    KeyDir.init(tmp_path / "k")
    pem = (tmp_path / "k" / "root.key.pem").read_bytes()
    assert load_pem_private_key(pem, password=passphrase.encode()) is not None
    assert KeyDir(tmp_path / "k").private_key("root") is not None
    monkeypatch.setenv("CERTFREE_KEY_PASSPHRASE", passphrase)
    with pytest.raises(KeyStoreError, match="both CERTFREE_KEY_PASSPHRASE and CERTFREE_KEY_PASSPHRASE_FILE"):
        KeyDir(tmp_path / "k")
    monkeypatch.delenv("CERTFREE_KEY_PASSPHRASE")
    monkeypatch.setenv("CERTFREE_KEY_PASSPHRASE_FILE", str(tmp_path / "missing"))
    with pytest.raises(KeyStoreError, match="cannot read missing") as exc:
        KeyDir(tmp_path / "k")
    assert passphrase not in str(exc.value)


def test_insecure_dev_says_so_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = KeyDir.init(tmp_path / "k", insecure_dev=True)
    assert (tmp_path / "k" / "INSECURE-DEV-KEYS.txt").read_text().startswith("INSECURE DEVELOPMENT KEYS")
    assert list((tmp_path / "k").glob("root.UNENCRYPTED.key.pem"))
    assert "UNENCRYPTED" in caplog.text
    caplog.clear()
    KeyDir(store.path).private_key("root")
    assert "UNENCRYPTED" in caplog.text


def test_init_refuses_to_overwrite(keydir: KeyDir) -> None:
    with pytest.raises(KeyStoreError, match="already holds keys"):
        KeyDir.init(keydir.path, passphrase=b"x")


def test_trust_list_is_signed_by_root_and_lists_each_key(keydir: KeyDir) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    header_b64, payload_b64, sig_b64 = keydir.trust_list().split(".")
    root = Ed25519PublicKey.from_public_bytes(b64url_decode(keydir.root_public_jwk()["x"]))
    root.verify(b64url_decode(sig_b64), f"{header_b64}.{payload_b64}".encode())
    claims = json.loads(b64url_decode(payload_b64))
    assert claims["seq"] >= 1
    for entry in claims["keys"]:
        assert {"kid", "authority", "types", "nbf", "exp", "jwk"} <= set(entry)
        assert entry["nbf"] < entry["exp"]


def test_b64url_is_strict() -> None:
    assert b64url_decode(b64url_encode(b"\x00\xff")) == b"\x00\xff"
    for bad in ("AA==", "A", "A B", "AB+/", "AB\u0661"):
        with pytest.raises(ValueError):
            b64url_decode(bad)


def test_sign_compact_is_byte_identical_to_pyjwt_and_pyjwt_verifies_it() -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from jwt.api_jws import PyJWS

    from keys.jose import canonical_json, sign_compact

    key = Ed25519PrivateKey.generate()
    claims = {"name": "李华", "iat": 1, "nested": {"b": [1, "二"], "a": True}}
    for kid, typ in (("kid-1", "cf-cred"), (None, "cf-proof")):
        ours = sign_compact(claims, key, kid=kid, typ=typ)
        headers = {"typ": typ, **({"kid": kid} if kid else {})}
        theirs = PyJWS(algorithms=["EdDSA"]).encode(canonical_json(claims), key, algorithm="EdDSA", headers=headers)
        assert ours == theirs
        assert jwt.api_jws.decode(ours, key.public_key(), algorithms=["EdDSA"]) == canonical_json(claims)


# ---- the verifier refuses a root-signed trust list that breaks its rules ------------------------
#
# Each list below is the genuine one with one thing changed, then really signed with the root
# key. TrustListInvalid carries no detail, so each case is paired with a control: the same list
# re-signed without the change (or with a neighbouring, allowed value) loads.


def _root_signed(keydir: KeyDir, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    from keys.jose import canonical_json, compact, signing_input

    root = keydir.private_key("root")
    base = {"alg": "EdDSA", "kid": thumbprint(keydir.root_public_jwk()), "typ": TYP_TRUST_LIST}
    header_bytes = json.dumps(header if header is not None else base, separators=(",", ":"), sort_keys=True).encode()
    payload = canonical_json(claims)
    return compact(header_bytes, payload, root.sign(signing_input(header_bytes, payload)))


def _genuine_claims(keydir: KeyDir) -> dict[str, Any]:
    return json.loads(b64url_decode(keydir.trust_list().split(".")[1]))


def _trust_codes(keydir: KeyDir, token: str) -> list[str]:
    """The failures of loading ``token`` as "code: detail" (the detail names the check)."""
    try:
        load_trust_list(token, keydir.root_public_jwk())
    except VerificationFailed as exc:
        return [f"{f.code}: {f.detail}" for f in exc.failures]
    return []


def test_a_trust_list_kid_must_be_its_keys_thumbprint(keydir: KeyDir) -> None:
    claims = _genuine_claims(keydir)
    assert _trust_codes(keydir, _root_signed(keydir, claims)) == []  # re-signed as is: loads
    rogue = public_jwk(Ed25519PrivateKey.generate().public_key())
    # a trusted kid over another key (a rogue key slipped in under a known kid)
    swapped = copy.deepcopy(claims)
    swapped["keys"][0]["jwk"] = rogue
    # a key under a kid that is another key's thumbprint (not in the list)
    misnamed = copy.deepcopy(claims)
    misnamed["keys"][0]["kid"] = thumbprint(rogue)
    # the two kids of two listed keys exchanged
    exchanged = copy.deepcopy(claims)
    first, second = exchanged["keys"][0], exchanged["keys"][1]
    first["kid"], second["kid"] = second["kid"], first["kid"]
    for bad in (swapped, misnamed, exchanged):
        assert _trust_codes(keydir, _root_signed(keydir, bad)) == ["trust_list_invalid: kid is not the key's thumbprint, or repeated"]


@pytest.mark.parametrize("state", ["revoked", "bogus", "", "Active", None])
def test_a_trust_list_key_state_must_be_known(keydir: KeyDir, state: Any) -> None:
    claims = _genuine_claims(keydir)
    claims["keys"][0]["state"] = state
    assert _trust_codes(keydir, _root_signed(keydir, claims)) == ["trust_list_invalid: unknown key state"]
    for known in ("active", "retired", "compromised"):
        claims["keys"][0]["state"] = known
        assert _trust_codes(keydir, _root_signed(keydir, claims)) == []


@pytest.mark.parametrize("crit", [["exp"], ["b64"], []])
def test_a_trust_list_header_with_crit_is_refused(keydir: KeyDir, crit: list[str]) -> None:
    claims = _genuine_claims(keydir)
    header = {"alg": "EdDSA", "kid": thumbprint(keydir.root_public_jwk()), "typ": TYP_TRUST_LIST}
    assert _trust_codes(keydir, _root_signed(keydir, claims, header)) == []
    assert _trust_codes(keydir, _root_signed(keydir, claims, {**header, "crit": crit})) == ["trust_list_invalid: bad trust list header"]


def test_a_trust_list_over_256_kib_is_refused_unread(keydir: KeyDir) -> None:
    """The cap counts the text as handed over: 262,144 characters load, one more does not."""
    claims = _genuine_claims(keydir)
    limit = 256 * 1024

    def padded(n: int) -> str:
        return _root_signed(keydir, claims | {"pad": "x" * n})  # an extra claim, ignored

    def longest_up_to(total: int) -> str:
        n = (total - len(padded(0))) * 3 // 4 + 2  # base64url: 4 characters per 3 bytes
        while len(padded(n)) > total:
            n -= 1
        return padded(n)

    # base64url never ends a part at 4k+1 characters: a final newline (as on disk) fills in
    at_limit = longest_up_to(limit)
    at_limit += "\n" * (limit - len(at_limit))
    over = longest_up_to(limit + 2)
    assert len(at_limit) == limit and limit < len(over) <= limit + 2 and "\n" not in over
    assert load_trust_list(at_limit, keydir.root_public_jwk()).seq == claims["seq"]
    assert _trust_codes(keydir, at_limit + "\n") == ["trust_list_invalid: trust list too large"]
    assert _trust_codes(keydir, over) == ["trust_list_invalid: trust list too large"]
