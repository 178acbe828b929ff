"""Issuer keys in a PKCS#11 token (SoftHSM2, ``reset_on_fork = true``): signatures that
``cryptography`` verifies (byte for byte on RFC 8032's first vector), keys made in the token
that never reach the key folder, one session per process, and licences issued by
``certfree serve`` with two gunicorn workers, verified offline by the SDK."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from conftest import NOW
from hsm_fixtures import PIN, TOKEN, softhsm  # noqa: F401
from local_servers import free_port, wait_until_answers
from issuer import LICENCE_TYPES, example
from issuer.db import Base, make_engine, session_factory
from issuer.records import issue_licence, publish_status_lists
from keys import KeyDir, hsm
from keys.envelope import encode_credential
from keys.jose import key_id, public_jwk, thumbprint
from verifier import MemoryReplayCache, Verifier, load_status_lists, load_trust_list
from verifier.testing import FixedClock

PASS = b"hsm tests passphrase"
CERTFREE = str(Path(sys.executable).with_name("certfree"))

# RFC 8032 section 7.1, TEST 1 (the empty message)
RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_SIGNATURE = ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
                     "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def _token_session(env: dict[str, str]) -> Any:
    """A session of the test's own (log-in is per process: if certfree's session is logged
    in, this one is too, and closing it must not log that one out)."""
    import pkcs11

    token = pkcs11.lib(env["CERTFREE_PKCS11_MODULE"]).get_token(token_label=TOKEN)
    try:
        return token.open(user_pin=PIN, rw=True)
    except pkcs11.UserAlreadyLoggedIn:
        return token.open(rw=True)


def test_rfc8032_vector_imported_into_the_token_signs_byte_for_byte(softhsm: dict[str, str]) -> None:
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    seed = bytes.fromhex(RFC8032_SECRET)
    label = "rfc8032-test-1-" + os.urandom(4).hex()
    with _token_session(softhsm) as session:  # SoftHSM2 lets a private key be imported
        session.create_object({
            Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
            Attribute.EC_PARAMS: encode_named_curve_parameters(hsm.ED25519_OID), Attribute.VALUE: seed,
            Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SIGN: True, Attribute.LABEL: label,
        })
    signer = hsm.TokenSigner(TOKEN, label, Ed25519PublicKey.from_public_bytes(bytes.fromhex(RFC8032_PUBLIC)))
    assert signer.sign(b"").hex() == RFC8032_SIGNATURE
    message = os.urandom(200)
    assert signer.sign(message) == Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def test_a_missing_token_or_key_is_a_key_store_error(softhsm: dict[str, str], tmp_path: Path) -> None:
    from keys import KeyStoreError

    public = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(KeyStoreError, match="holds no key"):
        hsm.TokenSigner(TOKEN, "no-such-key", public).sign(b"x")
    with pytest.raises(KeyStoreError, match="no PKCS#11 token labelled"):
        KeyDir.init(tmp_path / "keys", passphrase=PASS, token="no-such-token")


def _assert_private_parts_only_in_token(keys: KeyDir, env: dict[str, str]) -> None:
    """No file of the key folder holds a token key's private part; the token marks it
    sensitive and not extractable, and refuses to hand out its value."""
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    in_token = {e.kid for e in keys.issuer_keys() if e.custody == "pkcs11"}
    assert in_token
    for path in keys.path.rglob("*"):
        if not path.is_file():
            continue
        assert not any(kid in path.name for kid in in_token), path
        data = path.read_bytes()
        if b"PRIVATE KEY" in data:  # the root's file, or a key kept in a file
            assert key_id(load_pem_private_key(data, PASS).public_key()) not in in_token  # type: ignore[arg-type]
    with _token_session(env) as session:
        for kid in in_token:
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=kid)
            assert private[Attribute.SENSITIVE] and not private[Attribute.EXTRACTABLE]
            with pytest.raises(pkcs11.AttributeSensitive):
                private[Attribute.VALUE]
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=kid)
            assert thumbprint(public_jwk(Ed25519PublicKey.from_public_bytes(public[Attribute.EC_POINT][2:]))) == kid


def test_keys_made_in_the_token_sign_licences_and_status_lists(softhsm: dict[str, str], tmp_path: Path) -> None:
    keys = KeyDir.init(tmp_path / "keys", passphrase=PASS, now=NOW - 86400, token=TOKEN)
    assert {(e.custody, e.token) for e in keys.issuer_keys()} == {("pkcs11", TOKEN)}
    assert not list((tmp_path / "keys" / "issuers").glob("*"))
    _assert_private_parts_only_in_token(keys, softhsm)
    engine = make_engine(tmp_path / "issuer.db")
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        issued = [issue_licence(session, keys, t, example(t), now=NOW - 3600) for t in LICENCE_TYPES]
        session.commit()
        publish_status_lists(session, keys, tmp_path / "status", now=NOW - 60)
    engine.dispose()
    # Offline, as a desk: the trust list, the status lists and each credential verify
    reopened = KeyDir(tmp_path / "keys", passphrase=PASS)
    trust = load_trust_list(reopened.trust_list(), reopened.root_public_jwk())
    status = load_status_lists(tmp_path / "status", trust)
    desk = Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache(), status=status)
    for licence in issued:
        result = desk.verify(encode_credential(licence.credential))
        assert result.licence_type == licence.licence_type and dict(result.claims) == example(licence.licence_type)
        assert reopened.issuer_key(result.kid).custody == "pkcs11"
    # A rotation keeps the key in the token (the custody of the key it replaces)
    new, [old] = reopened.rotate("police_station", now=NOW - 30)
    assert new.custody == "pkcs11" and old.custody == "pkcs11"
    _assert_private_parts_only_in_token(reopened, softhsm)


def _child_signs(signer: hsm.TokenSigner, out: Any) -> None:
    import pkcs11

    inherited = list(hsm._inherited)
    try:  # the parent's session, as the fork handed it over: reset_on_fork makes it unusable
        inherited[-1].generate_random(64)
        refused = False
    except pkcs11.PKCS11Error:
        refused = True
    signature = signer.sign(b"signed in the child")
    out.put((os.getpid(), refused, signature, hsm.open_sessions()))


def test_a_forked_process_opens_its_own_session(softhsm: dict[str, str], tmp_path: Path) -> None:
    keys = KeyDir.init(tmp_path / "keys", passphrase=PASS, now=NOW - 86400, token=TOKEN)
    _entry, signer = keys.signing_key("id_card", NOW)
    assert isinstance(signer, hsm.TokenSigner)
    public = signer.public_key()
    public.verify(signer.sign(b"signed in the parent"), b"signed in the parent")
    assert hsm.open_sessions()[TOKEN] == os.getpid()
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_child_signs, args=(signer, out))
    child.start()
    pid, refused, signature, sessions = out.get(timeout=120)
    child.join(60)
    assert child.exitcode == 0 and pid == child.pid != os.getpid()
    assert refused  # the inherited session fails in the child ...
    public.verify(signature, b"signed in the child")  # ... and its own works
    assert sessions == {TOKEN: child.pid}
    public.verify(signer.sign(b"parent again"), b"parent again")
    assert hsm.open_sessions()[TOKEN] == os.getpid()


def _sign_at_once(signer: hsm.TokenSigner, go: Any, out: Any) -> None:
    go.wait()
    try:
        out.put(signer.sign(b"at once %d" % os.getpid()) + os.getpid().to_bytes(4, "big"))
    except Exception as exc:
        out.put(repr(exc).encode())


def test_processes_starting_at_once_each_get_a_session(softhsm: dict[str, str], tmp_path: Path) -> None:
    """Workers forked together log in together: SoftHSM2's file store can fail one of them
    for a moment, which keys.hsm tries again."""
    keys = KeyDir.init(tmp_path / "keys", passphrase=PASS, now=NOW - 86400, token=TOKEN)
    _entry, signer = keys.signing_key("driving_license", NOW)
    context = multiprocessing.get_context("fork")
    go, out = context.Event(), context.Queue()
    children = [context.Process(target=_sign_at_once, args=(signer, go, out)) for _ in range(6)]
    for child in children:
        child.start()
    go.set()
    answers = [out.get(timeout=120) for _ in children]
    for child in children:
        child.join(60)
    for answer in answers:
        assert len(answer) == 68, answer
        pid = int.from_bytes(answer[64:], "big")
        signer.public_key().verify(answer[:64], b"at once %d" % pid)
    assert {int.from_bytes(a[64:], "big") for a in answers} == {c.pid for c in children}


def _issue(base: str, token: str, resident: str, licence_type: str, n: int) -> dict[str, Any]:
    body = json.dumps({"resident_id": resident, "licence_type": licence_type, "claims": example(licence_type)}).encode()
    request = urllib.request.Request(base + "/api/v1/licences", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": f"hsm-test-{licence_type}-{n:04d}",
        "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 201
        return json.loads(answer.read())  # type: ignore[no-any-return]


def test_serve_with_two_workers_issues_with_the_token(softhsm: dict[str, str], tmp_path: Path) -> None:
    from sqlalchemy import select

    from issuer.service import db, issuing, residents
    from issuer.service.models import WalletCredential
    from keys import AUTHORITIES
    from keys.sync import sync
    from service_fixtures import make_app

    keys_dir = tmp_path / "keys"
    KeyDir.init(keys_dir, passphrase=PASS, now=int(time.time()) - 3600, token=TOKEN)
    database = f"sqlite:///{tmp_path / 'certfree.db'}"
    app = make_app(tmp_path, keys_dir, database, KEY_PASSPHRASE=PASS.decode())
    with app.app_context(), db.sessions(app)() as session:
        tokens = {a: issuing.create_operator(session, f"op-{a}", a, now=time.time())[1] for a in AUTHORITIES}
        resident = residents.enrol(session, "hsm-resident", "resident-password-1", now=time.time()).id
        session.commit()
    db.engine(app).dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **softhsm, "CERTFREE_KEYS_DIR": str(keys_dir), "CERTFREE_DATABASE_URL": database,
           "CERTFREE_KEY_PASSPHRASE": PASS.decode(), "CERTFREE_SECRET_KEY": "hsm test secret key",
           "CERTFREE_INSTANCE_PATH": str(tmp_path / "instance")}
    server = subprocess.Popen([CERTFREE, "serve", "--workers", "2", "--bind", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_answers(base + "/trust-list.jws", server, seconds=90,
                           output=lambda: server.stdout.read() if server.stdout else "")
        jobs = [(t, n) for n in range(4) for t in LICENCE_TYPES]
        with ThreadPoolExecutor(4) as pool:  # both workers busy at once
            records = list(pool.map(lambda job: _issue(base, tokens[LICENCE_TYPES[job[0]].authority], resident, *job), jobs))
        desk = tmp_path / "desk"
        synced = sync(base, desk, json.loads((keys_dir / "root.jwk.json").read_text()))  # status lists signed in a worker
        assert synced.lists
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    keys = KeyDir(keys_dir, passphrase=PASS)
    token_kids = {e.kid for e in keys.issuer_keys() if e.custody == "pkcs11"}
    assert {r["kid"] for r in records} <= token_kids and len(records) == 24
    with app.app_context(), db.sessions(app)() as session:
        credentials = {row.licence_id: row.credential for row in session.scalars(select(WalletCredential))}
    db.engine(app).dispose()
    trust = load_trust_list((desk / "trust_list.jws").read_text(), keys.root_public_jwk())
    verifier = Verifier(trust, replay_cache=MemoryReplayCache(), status=load_status_lists(desk / "status", trust))
    for record in records:
        result = verifier.verify(encode_credential(credentials[record["id"]]))
        assert result.kid == record["kid"] and result.licence_type == record["licence_type"]
        assert not result.warnings  # status known and valid
    _assert_private_parts_only_in_token(keys, softhsm)
