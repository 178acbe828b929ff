"""The offline root: with no root private key on the service host, a rotation waits for a
trust list signed on the offline machine (``certfree keys sign-trust-list``) and imported
(``certfree keys import-trust-list``, checked against the pinned root); then the new key
issues and a desk that syncs verifies it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import NOW
from issuer import example
from issuer.db import Base, make_engine, session_factory
from issuer.records import issue_licence, publish_status_lists
from keys import KeyDir
from keys.ceremony import CeremonyError, check_request, request
from keys.envelope import encode_credential
from keys.jose import public_jwk
from keys.sync import sync
from verifier import MemoryReplayCache, Verifier, load_status_lists, load_trust_list
from verifier.testing import FixedClock

PASS = "ceremony tests passphrase"
CERTFREE = str(Path(sys.executable).with_name("certfree"))
DAY = 86400


def certfree(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CERTFREE_KEY_PASSPHRASE": PASS}
    return subprocess.run([CERTFREE, *args], capture_output=True, text=True, env=env, timeout=300)


def iso(moment: int) -> str:
    import datetime as dt

    return "--now=" + dt.datetime.fromtimestamp(moment, dt.timezone.utc).isoformat()


def publish_site(keys: KeyDir, session: Any, site: Path, now: int) -> Path:
    """What the service serves (trust-list.jws, status/*), as a folder a desk syncs from."""
    site.mkdir(exist_ok=True)
    shutil.copy(keys.path / "trust_list.jws", site / "trust-list.jws")
    publish_status_lists(session, keys, site / "status", now=now)
    return site


def desk_verifier(desk: Path, root: dict[str, str], now: int) -> Verifier:
    trust = load_trust_list((desk / "trust_list.jws").read_text(), root)
    return Verifier(trust, clock=FixedClock(now), replay_cache=MemoryReplayCache(),
                    status=load_status_lists(desk / "status", trust))


def test_rotation_with_the_root_offline(tmp_path: Path) -> None:
    service, offline, desk = tmp_path / "service", tmp_path / "offline", tmp_path / "desk"
    keys = KeyDir.init(service, passphrase=PASS.encode(), now=NOW - 30 * DAY)
    root = keys.root_public_jwk()
    engine = make_engine(tmp_path / "issuer.db")
    Base.metadata.create_all(engine)
    session = session_factory(engine)()
    before = issue_licence(session, keys, "id_card", example("id_card"), now=NOW - 10 * DAY)
    session.commit()
    assert sync(publish_site(keys, session, tmp_path / "site", NOW - 10 * DAY), desk, root).trust_seq == 1

    # The root goes to the offline machine: only its pin stays on the service host
    offline.mkdir()
    shutil.move(service / "root.key.pem", offline / "root.key.pem")
    shutil.copy(service / "root.jwk.json", offline / "root.jwk.json")
    assert not list(service.rglob("root*.key.pem"))
    old = keys.signing_key("id_card", NOW)[0].kid

    done = certfree("keys", "rotate", "--dir", str(service), "--authority", "household_registration", iso(NOW - 9 * DAY))
    assert done.returncode == 0, done.stderr
    assert "trust_request.json" in done.stdout
    service_keys = KeyDir(service, passphrase=PASS.encode())
    [pending] = [k for k in service_keys.issuer_keys() if k.state == "pending"]
    assert service_keys.signing_key("id_card", NOW - 9 * DAY)[0].kid == old  # nothing changes until the import
    assert load_trust_list(service_keys.trust_list(), root).seq == 1

    # The ceremony on the offline machine
    signed = certfree("keys", "sign-trust-list", "--root", str(offline), "--request", str(service / "trust_request.json"),
                      "--out", str(offline / "trust_list.jws"), iso(NOW - 9 * DAY))
    assert signed.returncode == 0, signed.stderr
    assert pending.kid in signed.stdout  # the operator sees what the root signs

    # A list signed by another root, or an old one, is refused and changes nothing
    impostor = tmp_path / "impostor"
    KeyDir.init(impostor, passphrase=PASS.encode(), now=NOW - 30 * DAY)
    for bad in (impostor / "trust_list.jws", service / "trust_list.jws"):
        listed_before = (service / "trust_list.jws").read_bytes()
        refused = certfree("keys", "import-trust-list", "--dir", str(service), "--file", str(bad))
        assert refused.returncode == 1 and "not imported" in refused.stderr
        assert (service / "trust_list.jws").read_bytes() == listed_before

    imported = certfree("keys", "import-trust-list", "--dir", str(service), "--file", str(offline / "trust_list.jws"),
                        iso(NOW - 9 * DAY))
    assert imported.returncode == 0, imported.stderr
    service_keys = KeyDir(service, passphrase=PASS.encode())
    assert service_keys.issuer_key(pending.kid).state == "active"
    assert service_keys.issuer_key(old).state == "retired"
    assert service_keys.trust_seq == 2 and (service / "trust_request.json").is_file()  # the retirement awaits the next ceremony

    # Issue with the new key; a desk syncs and verifies both licences
    after = issue_licence(session, service_keys, "id_card", example("id_card"), now=NOW - 8 * DAY)
    session.commit()
    assert sync(publish_site(service_keys, session, tmp_path / "site", NOW - DAY), desk, root).trust_seq == 2
    checked = desk_verifier(desk, root, NOW)
    assert checked.verify(encode_credential(after.credential)).kid == pending.kid
    assert checked.verify(encode_credential(before.credential)).kid == old

    # The next ceremony lists the old key as retired; the request is then done with
    again = certfree("keys", "sign-trust-list", "--root", str(offline), "--request", str(service / "trust_request.json"),
                     "--out", str(offline / "trust_list.jws"), iso(NOW - 7 * DAY))
    assert again.returncode == 0, again.stderr
    assert certfree("keys", "import-trust-list", "--dir", str(service), "--file", str(offline / "trust_list.jws")).returncode == 0
    trust = load_trust_list((service / "trust_list.jws").read_text(), root)
    assert trust.seq == 3 and trust.keys[old].state == "retired" and not (service / "trust_request.json").exists()
    assert json.loads((offline / "root_state.json").read_text())["trust_seq"] == 3
    session.close()
    engine.dispose()


def test_the_offline_root_signs_only_a_sound_request(tmp_path: Path) -> None:
    keys = KeyDir.init(tmp_path / "keys", passphrase=PASS.encode(), now=NOW - DAY)
    sound = request(keys)
    check_request(sound)
    stranger = public_jwk(Ed25519PrivateKey.generate().public_key())
    broken: list[tuple[str, Any]] = [
        ("kid of another key", {"jwk": stranger}),
        ("type its authority does not sign", {"types": ["id_card", "driving_license"]}),
        ("unknown state", {"state": "trusted"}),
        ("no validity", {"exp": sound["keys"][0]["nbf"]}),
    ]
    for what, change in broken:
        tampered = json.loads(json.dumps(sound))
        tampered["keys"][0].update(change)
        with pytest.raises(CeremonyError):
            check_request(tampered)
    twice = json.loads(json.dumps(sound))
    twice["keys"].append(twice["keys"][0])
    with pytest.raises(CeremonyError):
        check_request(twice)


def test_compromise_with_the_root_offline_stops_the_key_at_once(tmp_path: Path) -> None:
    from keys import KeyStoreError
    from keys.ceremony import import_trust_list, read_request, sign_request

    service, offline = tmp_path / "service", tmp_path / "offline"
    keys = KeyDir.init(service, passphrase=PASS.encode(), now=NOW - 30 * DAY)
    offline.mkdir()
    shutil.move(service / "root.key.pem", offline / "root.key.pem")
    kid = keys.signing_key("ebike_registration", NOW)[0].kid
    key, replacement = keys.compromise(kid, since=NOW - 20 * DAY, now=NOW - DAY)
    assert key.state == "compromised" and replacement is not None and replacement.state == "pending"
    with pytest.raises(KeyStoreError):  # nothing signs for the authority until the trip
        keys.signing_key("ebike_registration", NOW)
    asked = read_request(service / "trust_request.json")
    assert {e["kid"]: e["state"] for e in asked["keys"]}[kid] == "compromised"
    token, seq = sign_request(offline, asked, passphrase=PASS.encode(), now=NOW - DAY)
    assert import_trust_list(keys, token, now=NOW - DAY) == (seq, False)
    assert keys.signing_key("ebike_registration", NOW)[0].kid == replacement.kid
    trust = load_trust_list(keys.trust_list(), keys.root_public_jwk())
    assert trust.keys[kid].state == "compromised" and trust.keys[kid].compromised_since == NOW - 20 * DAY
