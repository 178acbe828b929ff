"""keys/: key generation, encryption at rest, RFC 7638 kids, JWKS and the trust list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from keys import AUTHORITIES, KeyDir, KeyStoreError, thumbprint
from keys.jose import b64url_decode, b64url_encode, public_jwk


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
