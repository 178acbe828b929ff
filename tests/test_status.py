"""Status lists end to end: real database, real signed lists on disk, real QR PNGs, fixed clocks."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from conftest import NOW
from issuer import example, issue
from issuer.db import Base, StatusEntry, make_engine, session_factory
from issuer.db.models import StatusMark
from issuer.records import (
    RecordError,
    issue_licence,
    list_licences,
    publish_status_lists,
    refresh_views,
    set_status,
    status_list_tokens,
)
from issuer.credential import VIEW_DAYS
from issuer.status_list import pack, status_list_claims, status_ref
from keys import KeyDir
from keys.envelope import encode_credential
from keys.jose import (
    TYP_STATUS_LIST,
    b64url_decode,
    b64url_encode,
    canonical_json,
    key_id,
    protected_header,
    sign_compact,
    signing_input,
    split_compact,
)
from verifier import (
    MemoryReplayCache,
    VerificationFailed,
    Verifier,
    load_status_lists,
    load_trust_list,
    parse_status_list,
)
from verifier.testing import FixedClock
from wallet import Wallet, present_view
from wallet.store import claims_of

HOUR = 3600


@pytest.fixture
def db(tmp_path: Path) -> Any:
    engine = make_engine(tmp_path / "issuer.db")
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def resident(tmp_path_factory: pytest.TempPathFactory) -> Wallet:
    return Wallet.init(tmp_path_factory.mktemp("resident"), passphrase=b"resident")


def make_verifier(keydir: KeyDir, status_dir: Path | None, now: int = NOW) -> Verifier:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    status = load_status_lists(status_dir, trust) if status_dir is not None else None
    return Verifier(trust, clock=FixedClock(now), replay_cache=MemoryReplayCache(), status=status)


def scan_view(verifier: Verifier, issued: Any, wallet: Wallet, scenario: str, scan: Callable[[str], bytes], now: int = NOW) -> Any:
    p = present_view(issued.views[scenario], wallet.device_key(), licence_type=issued.licence_type, scenario=scenario, now=now)
    return verifier.verify(scan(p.text), scenario=scenario, now=now)


def codes(exc: pytest.ExceptionInfo[VerificationFailed]) -> list[str]:
    return exc.value.codes


def publish(db: Any, keydir: KeyDir, out: Path, now: int) -> Path:
    db.commit()
    publish_status_lists(db, keydir, out, now=now)
    return out


# ---- the issuer's records ---------------------------------------------------------------


def test_issue_licence_records_random_unlinkable_entries(db: Any, keydir: KeyDir, resident: Wallet) -> None:
    issued = [issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR) for _ in range(8)]
    db.commit()
    record = list_licences(db)[0]
    assert record.state == "valid" and record.credential_sha256 and record.holder
    entries = list(db.scalars(select(StatusEntry)))
    # one entry for the credential and one per scenario view accepting id_card
    assert len(entries) == 8 * (1 + len(issued[0].views))
    assert len({(e.list_id, e.idx) for e in entries}) == len(entries)  # no index used twice
    idx = [e.idx for e in sorted(entries, key=lambda e: e.id)]
    assert idx != sorted(idx)  # not allocated in issuance order
    # each view carries its own reference, distinct from the credential's
    refs = set()
    for one in issued:
        for jws in [one.credential, *one.views.values()]:
            payload = json.loads(split_compact(jws)[1])
            ref = payload["status"]["status_list"]
            refs.add((ref["uri"], ref["idx"]))
    assert len(refs) == len(entries)


def test_set_status_validates_inputs(db: Any, keydir: KeyDir) -> None:
    issued = issue_licence(db, keydir, "id_card", example("id_card"), now=NOW)
    with pytest.raises(ValueError):
        set_status(db, issued.jti, "lost", reason="x")
    with pytest.raises(ValueError):
        set_status(db, issued.jti, "revoked", reason="Not A Code!")
    with pytest.raises(RecordError):
        set_status(db, "nope", "revoked", reason="lost")


def test_a_list_is_built_from_its_own_marks_which_follow_every_change_of_state(db: Any, keydir: KeyDir, resident: Wallet) -> None:
    """Each list's entries that are not valid, exactly, after revocations, suspensions and
    reinstatements in any order: read from the list's marks by their primary key (never
    from every licence of the city that is not valid, nor from every entry of the list),
    and equal to what the licences' states and their entries say."""
    import random

    from issuer.db import LicenceRecord
    from issuer.records import _entries
    from issuer.status_list import STATE_VALUES

    issued = [issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
              for _ in range(6)]
    rng = random.Random(20261207)
    for step in range(40):
        set_status(db, rng.choice(issued).jti, rng.choice(["revoked", "suspended", "valid"]), reason="test", now=NOW + step)
    set_status(db, issued[1].jti, "revoked", reason="lost", now=NOW + 50)
    set_status(db, issued[4].jti, "suspended", reason="stolen", now=NOW + 50)
    set_status(db, issued[2].jti, "valid", reason="reinstated", now=NOW + 50)
    db.commit()
    states = {lic.id: lic.state for lic in db.scalars(select(LicenceRecord))}
    entries = list(db.scalars(select(StatusEntry)))
    lists = {e.list_id for e in entries}
    assert lists
    for list_id in lists:
        expected = sorted((e.idx, STATE_VALUES[states[e.licence_id]]) for e in entries
                          if e.list_id == list_id and states[e.licence_id] != "valid")
        assert _entries(db, list_id) == expected
    not_valid = sum(state != "valid" for state in states.values())
    assert not_valid >= 2 and sum(len(_entries(db, list_id)) for list_id in lists) == not_valid * (1 + len(issued[0].views))
    query = select(StatusMark.idx, StatusMark.value).where(StatusMark.list_id == "L").order_by(StatusMark.idx)
    sql = str(query.compile(db.get_bind(), compile_kwargs={"literal_binds": True}))
    plan = [row[3] for row in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    assert len(plan) == 1 and plan[0].startswith("SEARCH status_marks USING") and "(list_id=?)" in plan[0], plan


# ---- must show: revoke, suspend, reinstate -------------------------------------------------


def test_revoke_then_next_verification_fails_revoked(db: Any, keydir: KeyDir, resident: Wallet, scan: Callable[[str], bytes], tmp_path: Path) -> None:
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    status = publish(db, keydir, tmp_path / "s1", NOW - 60)
    ok = scan_view(make_verifier(keydir, status), issued, resident, "hotel", scan)
    assert ok.warnings == ()
    set_status(db, issued.jti, "revoked", reason="lost", now=NOW - 30)
    status = publish(db, keydir, tmp_path / "s2", NOW - 20)
    verifier = make_verifier(keydir, status)
    with pytest.raises(VerificationFailed) as exc:
        scan_view(verifier, issued, resident, "hotel", scan)
    assert codes(exc) == ["revoked"]
    assert exc.value.failures[0].message_zh == "该证照已被签发机关注销"
    # the full credential (its own index) is revoked too
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(encode_credential(issued.credential)), now=NOW)
    assert codes(exc) == ["revoked"]


def test_suspend_then_reinstate(db: Any, keydir: KeyDir, resident: Wallet, scan: Callable[[str], bytes], tmp_path: Path) -> None:
    issued = issue_licence(db, keydir, "driving_license", example("driving_license"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    set_status(db, issued.jti, "suspended", reason="court_order", now=NOW - 50)
    status = publish(db, keydir, tmp_path / "s1", NOW - 40)
    with pytest.raises(VerificationFailed) as exc:
        scan_view(make_verifier(keydir, status), issued, resident, "street_check", scan)
    assert codes(exc) == ["suspended"]
    set_status(db, issued.jti, "valid", reason="reinstated", now=NOW - 30)
    status = publish(db, keydir, tmp_path / "s2", NOW - 20)
    result = scan_view(make_verifier(keydir, status), issued, resident, "street_check", scan)
    assert result.licence_type == "driving_license" and result.warnings == ()


def test_suspended_ebike_is_reported_stolen_at_ebike_check(db: Any, keydir: KeyDir, resident: Wallet, scan: Callable[[str], bytes], tmp_path: Path) -> None:
    issued = issue_licence(db, keydir, "ebike_registration", example("ebike_registration"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    set_status(db, issued.jti, "suspended", reason="stolen", now=NOW - 50)
    status = publish(db, keydir, tmp_path / "s", NOW - 40)
    with pytest.raises(VerificationFailed) as exc:
        scan_view(make_verifier(keydir, status), issued, resident, "ebike_check", scan)
    assert codes(exc) == ["reported_stolen"]
    assert "已报失窃" in exc.value.failures[0].message_zh
    assert "reported stolen" in exc.value.failures[0].message


# ---- must show: staleness per scenario ----------------------------------------------------


def test_stale_list_refused_at_fuel_counter_accepted_with_warning_at_hotel(db: Any, keydir: KeyDir, resident: Wallet, scan: Callable[[str], bytes], tmp_path: Path) -> None:
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - 100 * HOUR)
    status = publish(db, keydir, tmp_path / "s", NOW - 7 * HOUR)  # fuel allows 6 h, hotel 72 h
    verifier = make_verifier(keydir, status)
    with pytest.raises(VerificationFailed) as exc:
        scan_view(verifier, issued, resident, "fuel_purchase", scan)
    assert codes(exc) == ["status_unknown"]
    assert scan_view(verifier, issued, resident, "hotel", scan).warnings == ()  # 7 h is fine at a hotel
    status = publish(db, keydir, tmp_path / "old", NOW - 73 * HOUR)
    result = scan_view(make_verifier(keydir, status), issued, resident, "hotel", scan)
    assert [w.code for w in result.warnings] == ["status_unknown"]
    assert "状态未知" in result.warnings[0].message_zh  # what the clerk sees
    assert result.to_json()["warnings"][0]["code"] == "status_unknown"


def test_no_status_list_held(db: Any, keydir: KeyDir, resident: Wallet, scan: Callable[[str], bytes]) -> None:
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    verifier = make_verifier(keydir, None)
    with pytest.raises(VerificationFailed) as exc:
        scan_view(verifier, issued, resident, "fuel_purchase", scan)
    assert codes(exc) == ["status_unknown"]
    assert [w.code for w in scan_view(verifier, issued, resident, "hotel", scan).warnings] == ["status_unknown"]
    # bare credential check: no scenario, 24 h default, warn
    bare = verifier.verify(scan(encode_credential(issued.credential)), now=NOW)
    assert [w.code for w in bare.warnings] == ["status_unknown"]


def test_bare_check_uses_24h_default(db: Any, keydir: KeyDir, tmp_path: Path) -> None:
    issued = issue_licence(db, keydir, "vehicle_license", example("vehicle_license"), now=NOW - 30 * HOUR)
    fresh = make_verifier(keydir, publish(db, keydir, tmp_path / "a", NOW - 23 * HOUR))
    assert fresh.verify(issued.credential, now=NOW).warnings == ()
    stale = make_verifier(keydir, publish(db, keydir, tmp_path / "b", NOW - 25 * HOUR))
    assert [w.code for w in stale.verify(issued.credential, now=NOW).warnings] == ["status_unknown"]


def test_credential_without_status_claim_skips_the_check(holder: Wallet, keydir: KeyDir, db: Any, tmp_path: Path, scan: Callable[[str], bytes]) -> None:
    issue_licence(db, keydir, "id_card", example("id_card"), now=NOW)
    verifier = make_verifier(keydir, publish(db, keydir, tmp_path / "s", NOW - 30 * 24 * HOUR))
    stored = holder.licence("id_card")  # issued by issuer.issue without a status reference
    p = present_view(stored.views["fuel_purchase"], holder.device_key(), licence_type="id_card", scenario="fuel_purchase", now=NOW)
    assert verifier.verify(scan(p.text), scenario="fuel_purchase", now=NOW).warnings == ()


# ---- must show: list signatures -------------------------------------------------------------


def _token_signed_by(key: Ed25519PrivateKey, kid: str, claims: dict[str, Any]) -> str:
    return sign_compact(claims, key, kid=kid, typ=TYP_STATUS_LIST)


def test_status_list_signed_by_unknown_key_refused(keydir: KeyDir, tmp_path: Path) -> None:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    rogue = Ed25519PrivateKey.generate()
    token = _token_signed_by(rogue, key_id(rogue.public_key()), status_list_claims("AAAAAA", "household_registration", 1024, [], NOW))
    with pytest.raises(VerificationFailed) as exc:
        load_status_lists([token], trust)
    assert exc.value.codes == ["status_list_invalid"]
    (tmp_path / "AAAAAA.jws").write_text(token)
    with pytest.raises(VerificationFailed) as exc:
        load_status_lists(tmp_path, trust)
    assert exc.value.codes == ["status_list_invalid"]


def test_status_list_of_one_authority_signed_by_another_refused(keydir: KeyDir) -> None:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    entry, key = keydir.key_for_authority("police_station", NOW)
    token = _token_signed_by(key, entry.kid, status_list_claims("AAAAAA", "household_registration", 1024, [], NOW))
    with pytest.raises(VerificationFailed) as exc:
        parse_status_list(token, trust)
    assert exc.value.codes == ["status_list_invalid"]


def test_tampered_or_oversized_lists_refused(keydir: KeyDir) -> None:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    entry, key = keydir.key_for_authority("traffic_police", NOW)
    good = _token_signed_by(key, entry.kid, status_list_claims("AAAAAA", "traffic_police", 1024, [(3, 1)], NOW))
    assert parse_status_list(good, trust).get(3) == 1
    head, payload, sig = good.split(".")
    with pytest.raises(VerificationFailed):
        parse_status_list(f"{head}.{payload}.{sig[:-4]}AAAA", trust)
    # a zlib bomb: 64 MiB of zeros in a few KB is refused, not inflated
    bomb = zlib.compress(bytes(64 * 1024 * 1024), 9)
    claims = {"iss": "traffic_police", "sub": "BOMB", "iat": NOW, "status_list": {"bits": 2, "lst": b64url_encode(bomb)}}
    with pytest.raises(VerificationFailed) as exc:
        parse_status_list(_token_signed_by(key, entry.kid, claims), trust)
    assert exc.value.failures[0].detail == "inflated list too large"
    claims["status_list"] = {"bits": 1, "lst": b64url_encode(zlib.compress(bytes(16)))}
    with pytest.raises(VerificationFailed):
        parse_status_list(_token_signed_by(key, entry.kid, claims), trust)


def test_bit_layout_matches_the_draft() -> None:
    # entry i in bits 2*(i%4).. of byte i//4, least significant first
    assert pack(8, {0: 1, 1: 2, 5: 1}) == bytes([0b00001001, 0b00000100])


def test_publish_and_tokens(db: Any, keydir: KeyDir, tmp_path: Path) -> None:
    issue_licence(db, keydir, "id_card", example("id_card"), now=NOW)
    issue_licence(db, keydir, "ebike_registration", example("ebike_registration"), now=NOW)
    db.commit()
    tokens = status_list_tokens(db, keydir, now=NOW)
    assert len(tokens) == 2  # one list per authority so far
    paths = publish_status_lists(db, keydir, tmp_path, now=NOW)
    assert set(paths) == set(tokens)
    index = json.loads((tmp_path / "index.json").read_text())["lists"]
    assert index == [{"id": i, "uri": f"http://127.0.0.1:8000/status/{i}.jws"} for i in sorted(tokens)]
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    store = load_status_lists(tmp_path, trust)
    assert set(store.lists) == set(tokens) and all(l.size == 1 << 20 for l in store.lists.values())
    # each list is found by the URI its token signs as sub, with exp and ttl (the draft's shape)
    for entry in index:
        lst = store.get(entry["uri"])
        assert lst is not None and lst.list_id == entry["id"] and lst.uri == entry["uri"]
        header, claims = json.loads(split_compact(tokens[entry["id"]])[0]), json.loads(split_compact(tokens[entry["id"]])[1])
        assert header["typ"] == "statuslist+jwt" and claims["sub"] == entry["uri"]
        assert claims["iat"] == NOW and claims["exp"] == NOW + 7 * 86400 and claims["ttl"] == 900


# ---- the command line ---------------------------------------------------------------------


def test_cli_issue_revoke_publish_verify(tmp_path: Path) -> None:
    env = {**os.environ, "CERTFREE_KEY_PASSPHRASE": "status cli", "CERTFREE_WALLET_PASSPHRASE": "w"}
    cli = str(Path(sys.executable).with_name("certfree"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=120)

    db = str(tmp_path / "issuer.db")
    assert run("keys", "init", "--dir", str(tmp_path / "keys")).returncode == 0
    (tmp_path / "id.json").write_text(json.dumps(example("id_card"), ensure_ascii=False))
    out = run("issue", "id_card", "--keys", str(tmp_path / "keys"), "--claims", str(tmp_path / "id.json"), "--out", str(tmp_path / "id.jws"), "--db", db)
    assert out.returncode == 0, out.stderr
    jti = out.stderr.split("licence id ")[1].split()[0]
    verify = ("verify", str(tmp_path / "id.jws"), "--keys", str(tmp_path / "keys"), "--status", str(tmp_path / "status"))
    assert run("status", "publish", "--keys", str(tmp_path / "keys"), "--out", str(tmp_path / "status"), "--db", db).returncode == 0
    ok = run(*verify)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "trust list: seq 1" in ok.stdout
    assert run("status", "revoke", "--licence", jti, "--reason", "lost", "--db", db).returncode == 0
    assert run("status", "publish", "--keys", str(tmp_path / "keys"), "--out", str(tmp_path / "status"), "--db", db).returncode == 0
    bad = run(*verify, "--json")
    assert bad.returncode == 1
    assert [f["code"] for f in json.loads(bad.stdout)["failures"]] == ["revoked"]
    assert run("status", "reinstate", "--licence", jti, "--reason", "found", "--db", db).returncode == 0
    assert run("status", "publish", "--keys", str(tmp_path / "keys"), "--out", str(tmp_path / "status"), "--db", db).returncode == 0
    assert run(*verify).returncode == 0
    listed = run("status", "list", "--db", db)
    assert jti in listed.stdout and "valid" in listed.stdout


def test_a_command_line_database_made_before_the_status_marks_keeps_its_revocations(tmp_path: Path) -> None:
    """A database ``certfree issue --db`` made before ``status_marks`` and
    ``status_lists.revision`` existed, holding a revoked licence: the next command brings it
    up to date, and the lists it publishes still show the licence revoked."""
    import sqlite3

    env = {**os.environ, "CERTFREE_KEY_PASSPHRASE": "status cli"}
    cli = str(Path(sys.executable).with_name("certfree"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=120)

    db, keys = tmp_path / "issuer.db", str(tmp_path / "keys")
    assert run("keys", "init", "--dir", keys).returncode == 0
    (tmp_path / "id.json").write_text(json.dumps(example("id_card"), ensure_ascii=False))
    out = run("issue", "id_card", "--keys", keys, "--claims", str(tmp_path / "id.json"), "--out", str(tmp_path / "id.jws"), "--db", str(db))
    jti = out.stderr.split("licence id ")[1].split()[0]
    assert run("status", "revoke", "--licence", jti, "--reason", "lost", "--db", str(db)).returncode == 0
    with sqlite3.connect(db) as conn:  # back to the tables of before
        conn.executescript("DROP TABLE status_marks; DROP TABLE signed_status_lists;"
                           " ALTER TABLE status_lists DROP COLUMN revision;")
    assert run("status", "publish", "--keys", keys, "--out", str(tmp_path / "status"), "--db", str(db)).returncode == 0
    refused = run("verify", str(tmp_path / "id.jws"), "--keys", keys, "--status", str(tmp_path / "status"), "--json")
    assert refused.returncode == 1
    assert [f["code"] for f in json.loads(refused.stdout)["failures"]] == ["revoked"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM status_marks").fetchone()[0] == 1  # the credential's entry (no views)
        assert conn.execute("SELECT min(revision) FROM status_lists").fetchone()[0] == 0


def test_status_list_prints_more_licences_than_it_reads_at_a_time(tmp_path: Path, keydir: KeyDir) -> None:
    """``certfree status list`` reads the licences 1,000 at a time: 1,050 are all printed
    once, in issue order (across the batch's end)."""
    from issuer.db import LicenceRecord

    engine = make_engine(tmp_path / "issuer.db")
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        for n in range(1050):
            issue_licence(session, keydir, "ebike_registration", example("ebike_registration"), now=NOW - 5000 + n)
        session.commit()
        expected = list(session.scalars(select(LicenceRecord.id).order_by(LicenceRecord.issued_at, LicenceRecord.id)))
    engine.dispose()
    cli = str(Path(sys.executable).with_name("certfree"))
    listed = subprocess.run([cli, "status", "list", "--db", str(tmp_path / "issuer.db")], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == expected and len(expected) == 1050


def _signed_raw(key: Ed25519PrivateKey, header: bytes, payload: bytes) -> str:
    """A JWS over exactly these header and payload bytes, really signed."""
    return f"{b64url_encode(header)}.{b64url_encode(payload)}.{b64url_encode(key.sign(signing_input(header, payload)))}"


def test_signed_lists_with_duplicate_json_members_are_refused(keydir: KeyDir) -> None:
    """Trust and status lists go through the same strict JSON as credentials: a member
    given twice is refused even under a good signature (json.loads would keep the last)."""
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    entry, key = keydir.key_for_authority("household_registration", NOW)
    payload = canonical_json(status_list_claims("AAAAAA", "household_registration", 1024, [], NOW))
    twice = b'{"iss":"traffic_police",' + payload[1:]
    with pytest.raises(VerificationFailed) as exc:
        parse_status_list(_signed_raw(key, protected_header(entry.kid, TYP_STATUS_LIST), twice), trust)
    assert exc.value.codes == ["status_list_invalid"]
    # the good twin of that token is accepted, so the refusal is the duplicate's
    assert parse_status_list(_signed_raw(key, protected_header(entry.kid, TYP_STATUS_LIST), payload), trust)

    root = keydir.private_key("root")
    header, body, _ = keydir.trust_list().split(".")
    header_bytes, body_bytes = b64url_decode(header), b64url_decode(body)
    doubled = b'{"alg":"none",' + header_bytes[1:]
    with pytest.raises(VerificationFailed) as exc:
        load_trust_list(_signed_raw(root, doubled, body_bytes), keydir.root_public_jwk())
    assert exc.value.codes == ["trust_list_invalid"]
    assert load_trust_list(_signed_raw(root, header_bytes, body_bytes), keydir.root_public_jwk())


def test_a_reinstate_checked_before_a_revoke_committed_cannot_undo_it(tmp_path: Path, keydir: KeyDir) -> None:
    """Two clerks at once on a suspended licence: one revokes, the other reinstates. The
    reinstate read "suspended" before the revoke committed; its write must not turn the
    revoked licence valid again (the state is checked in the UPDATE itself)."""
    from issuer.db import LicenceRecord
    from issuer.records import StateConflict

    engine = make_engine(tmp_path / "issuer.db")
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    with sessions() as setup:
        licence = issue_licence(setup, keydir, "driving_license", example("driving_license"), now=NOW - HOUR).jti
        set_status(setup, licence, "suspended", reason="court_order", now=NOW - 50)
        setup.commit()
    with sessions() as reinstating, sessions() as revoking:
        seen = reinstating.get(LicenceRecord, licence)
        assert seen is not None and seen.state == "suspended"  # the reinstate's check passes...
        set_status(revoking, licence, "revoked", reason="stolen", now=NOW - 40, only_from={"valid", "suspended"})
        revoking.commit()  # ...then the revoke commits
        with pytest.raises(StateConflict) as conflict:
            set_status(reinstating, licence, "valid", reason="reinstated", now=NOW - 30, only_from={"suspended"})
        assert conflict.value.state == "revoked"
        reinstating.rollback()
    with sessions() as check:
        final = check.get(LicenceRecord, licence)
        assert final is not None and (final.state, final.reason) == ("revoked", "stolen")
    engine.dispose()


def test_hostile_status_list_files_and_names_are_status_list_invalid(keydir: KeyDir, tmp_path: Path) -> None:
    """A list id with a final newline (under a good signature), a header of 3,000 nested
    arrays, and a .jws file that is not ASCII: each is status_list_invalid, nothing else."""
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    entry, key = keydir.key_for_authority("household_registration", NOW)
    good = status_list_claims("AAAAAA", "household_registration", 1024, [], NOW)
    assert parse_status_list(_token_signed_by(key, entry.kid, good), trust).list_id == "AAAAAA"
    newline = _token_signed_by(key, entry.kid, dict(good, sub="AAAAAA\n"))
    _, payload, signature = newline.split(".")
    deep = f"{b64url_encode(b'[' * 3000 + b']' * 3000)}.{payload}.{signature}"
    for token in (newline, deep):
        with pytest.raises(VerificationFailed) as exc:
            parse_status_list(token, trust)
        assert exc.value.codes == ["status_list_invalid"]
    (tmp_path / "AAAAAA.jws").write_bytes("状态".encode() + b"." * 10)
    with pytest.raises(VerificationFailed) as exc:
        load_status_lists(tmp_path, trust)
    assert exc.value.codes == ["status_list_invalid"]


def test_two_issuers_at_once_both_count_their_entries(tmp_path: Path, keydir: KeyDir) -> None:
    """One issuer read the open list's count, another issued and committed, then the first
    issued: the list's count holds both licences' entries (it was written back as the first
    issuer's stale value plus its own, losing the other's, so a list could fill past its
    limit and stay open)."""
    from issuer.db import StatusList

    engine = make_engine(tmp_path / "issuer.db")
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    claims = example("driving_license")
    with sessions() as setup:
        issue_licence(setup, keydir, "driving_license", claims, now=NOW - HOUR)
        setup.commit()
    with sessions() as first, sessions() as second:
        [seen] = first.scalars(select(StatusList))  # the first issuer's view of the count
        before = seen.used
        issue_licence(second, keydir, "driving_license", claims, now=NOW - HOUR)
        second.commit()
        issue_licence(first, keydir, "driving_license", claims, now=NOW - HOUR)
        first.commit()
    with sessions() as check:
        [lst] = check.scalars(select(StatusList))
        entries = check.scalars(select(StatusEntry).where(StatusEntry.list_id == lst.id)).all()
        assert lst.used == len(entries) == 3 * before
    engine.dispose()


def test_a_licence_with_views_fits_into_a_list_near_its_fill_limit(db: Any, keydir: KeyDir, resident: Wallet) -> None:
    """Two entries left, six needed: the allocator takes them one at a time, the list
    closes, a new one opens (the SQL-side count left a SQL expression where the next
    check read a number: TypeError, and every issue for the authority failed)."""
    import math

    from sqlalchemy import update

    from issuer.db import StatusList
    from issuer.records import MAX_FILL

    issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    db.commit()
    [lst] = db.scalars(select(StatusList))
    db.execute(update(StatusList).values(used=math.ceil(lst.size * MAX_FILL) - 2))
    db.commit()
    db.expire_all()
    issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    db.commit()
    lists = {row.id: row for row in db.scalars(select(StatusList))}
    assert len(lists) == 2 and lists[lst.id].open is False
    assert lists[lst.id].used == math.ceil(lst.size * MAX_FILL)
    [new] = [row for row in lists.values() if row.id != lst.id]
    assert new.open is True and new.used == 4


# ---- new views for a credential (views last 30 days, the credential a year) ----------------


def test_new_views_from_the_credential_verify_and_keep_their_status_entries(
    db: Any, keydir: KeyDir, resident: Wallet, scan: Callable[[str], bytes], tmp_path: Path
) -> None:
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(),
                           now=NOW - (VIEW_DAYS + 10) * 86400)
    status = publish(db, keydir, tmp_path / "s1", NOW - 60)
    with pytest.raises(VerificationFailed) as exc:  # the views are over; the credential is not
        scan_view(make_verifier(keydir, status), issued, resident, "hotel", scan)
    assert codes(exc) == ["expired"]
    views = refresh_views(db, keydir, issued.credential, now=NOW - 600)
    assert sorted(views) == sorted(issued.views)
    renewed = dataclasses.replace(issued, views=views)
    for scenario in views:
        assert claims_of(views[scenario])["status"] == claims_of(issued.views[scenario])["status"]
        result = scan_view(make_verifier(keydir, status), renewed, resident, scenario, scan)
        assert result.licence_type == "id_card" and result.warnings == ()
    # a revoke shows on the new views, and a revoked licence gets no more
    set_status(db, issued.jti, "revoked", reason="lost", now=NOW - 30)
    status = publish(db, keydir, tmp_path / "s2", NOW - 20)
    with pytest.raises(VerificationFailed) as exc:
        scan_view(make_verifier(keydir, status), renewed, resident, "hotel", scan)
    assert codes(exc) == ["revoked"]
    with pytest.raises(RecordError, match="revoked"):
        refresh_views(db, keydir, issued.credential, now=NOW)


def test_new_views_only_for_the_credential_as_issued(db: Any, keydir: KeyDir, resident: Wallet) -> None:
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    header, payload, signature = issued.credential.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["name"] = "王五"  # the holder's copy, changed: its digest is not the one recorded
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])
    with pytest.raises(RecordError, match="differs"):
        refresh_views(db, keydir, forged, now=NOW)
    with pytest.raises(RecordError, match="expired"):
        refresh_views(db, keydir, issued.credential, now=NOW + 400 * 86400)


# ---- which list is consulted, and what a list may hold --------------------------------------


def _status_ref(jws: str) -> tuple[str, int]:
    """(list id, index) of a JWS's status entry: the draft's shape, the URI ending in the id."""
    ref = json.loads(split_compact(jws)[1])["status"]
    assert set(ref) == {"status_list"}
    uri, idx = ref["status_list"]["uri"], ref["status_list"]["idx"]
    assert uri.startswith("http://127.0.0.1:8000/status/") and uri.endswith(".jws")
    return uri[len("http://127.0.0.1:8000/status/"):-len(".jws")], idx


def _list_for(keydir: KeyDir, authority: str, list_id: str, entries: list[tuple[int, int]], iat: int, size: int = 1024) -> str:
    """A status list of ``authority`` signed by its active key, covering every entry given."""
    size = max([size, *(((idx >> 2) + 1) << 2 for idx, _ in entries)])
    entry, key = keydir.key_for_authority(authority, iat)
    return _token_signed_by(key, entry.kid, status_list_claims(list_id, authority, size, entries, iat))


def _verifier_with(keydir: KeyDir, tokens: list[str]) -> Verifier:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    return Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache(), status=load_status_lists(tokens, trust))


def _present(issued: Any, wallet: Wallet, scenario: str) -> str:
    return present_view(issued.views[scenario], wallet.device_key(), licence_type=issued.licence_type, scenario=scenario, now=NOW).text


def test_a_list_of_another_authority_under_the_licences_list_id_is_not_consulted(db: Any, keydir: KeyDir, resident: Wallet) -> None:
    """An id card (household registration) refers to list L. A traffic-police list that
    happens to be called L says nothing about it: the status is unknown, refused at the
    fuel counter, a warning at a hotel; that list can neither clear nor revoke it."""
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    db.commit()
    list_id, idx = _status_ref(issued.views["fuel_purchase"])
    hotel_id, hotel_idx = _status_ref(issued.views["hotel"])
    # the owner's own list is consulted (so the reference and the list id are right)
    own = _list_for(keydir, "household_registration", list_id, [(idx, 1)], NOW - 60)
    with pytest.raises(VerificationFailed) as exc:
        _verifier_with(keydir, [own]).verify(_present(issued, resident, "fuel_purchase"), scenario="fuel_purchase", now=NOW)
    assert codes(exc) == ["revoked"]
    # another authority's all-valid list under the same id does not clear the licence
    clearing = _list_for(keydir, "traffic_police", list_id, [(idx, 0)], NOW - 60)  # covers idx
    with pytest.raises(VerificationFailed) as exc:
        _verifier_with(keydir, [clearing]).verify(_present(issued, resident, "fuel_purchase"), scenario="fuel_purchase", now=NOW)
    assert codes(exc) == ["status_unknown"]
    assert exc.value.failures[0].detail == "no status list held for this licence"
    # nor does another authority's list revoke it: at a hotel the status is only unknown
    assert hotel_id == list_id  # one open list per authority
    revoking = _list_for(keydir, "traffic_police", list_id, [(hotel_idx, 1)], NOW - 60)
    result = _verifier_with(keydir, [revoking]).verify(_present(issued, resident, "hotel"), scenario="hotel", now=NOW)
    assert [(w.code, w.detail) for w in result.warnings] == [("status_unknown", "no status list held for this licence")]


def test_of_two_lists_with_one_id_the_newer_is_kept_in_either_order(db: Any, keydir: KeyDir, resident: Wallet) -> None:
    """The list before the revoke and the list after it, given in both orders (a folder
    sorted by name, two syncs): the licence is revoked either way."""
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    db.commit()
    [before] = status_list_tokens(db, keydir, now=NOW - 120).values()
    set_status(db, issued.jti, "revoked", reason="lost", now=NOW - 90)
    db.commit()
    [after] = status_list_tokens(db, keydir, now=NOW - 60).values()
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    for tokens in ([before, after], [after, before]):
        store = load_status_lists(tokens, trust)
        assert [lst.issued_at for lst in store.lists.values()] == [NOW - 60]
        with pytest.raises(VerificationFailed) as exc:
            _verifier_with(keydir, tokens).verify(_present(issued, resident, "hotel"), scenario="hotel", now=NOW)
        assert codes(exc) == ["revoked"]


def test_a_list_id_claimed_by_two_authorities_is_refused_in_either_order(keydir: KeyDir) -> None:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    household = _list_for(keydir, "household_registration", "SHARED", [], NOW - 120)
    traffic = _list_for(keydir, "traffic_police", "SHARED", [(4, 1)], NOW - 60)
    for tokens in ([household, traffic], [traffic, household]):
        with pytest.raises(VerificationFailed) as exc:
            load_status_lists(tokens, trust)
        assert codes(exc) == ["status_list_invalid"]
        assert exc.value.failures[0].detail == "list id SHARED claimed by two authorities"
    # each alone is a good list
    assert load_status_lists([household], trust).lists["SHARED"].authority == "household_registration"
    assert load_status_lists([traffic], trust).lists["SHARED"].authority == "traffic_police"


def test_undefined_status_value_3_is_status_list_invalid(db: Any, keydir: KeyDir, resident: Wallet) -> None:
    """2 bits hold 0 valid, 1 revoked, 2 suspended; 3 means nothing and is not "valid"."""
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - HOUR)
    db.commit()
    list_id, idx = _status_ref(issued.credential)
    hotel_id, hotel_idx = _status_ref(issued.views["hotel"])
    assert hotel_id == list_id
    token = _list_for(keydir, "household_registration", list_id, [(idx, 3), (hotel_idx, 3)], NOW - 60)
    verifier = _verifier_with(keydir, [token])
    for scenario, text in ((None, issued.credential), ("hotel", _present(issued, resident, "hotel"))):
        with pytest.raises(VerificationFailed) as exc:
            verifier.verify(text, scenario=scenario, now=NOW)
        assert codes(exc) == ["status_list_invalid"]
        assert exc.value.failures[0].detail == "undefined status value 3"
    # value 0 at those entries is valid (the refusal is the value's)
    good = _list_for(keydir, "household_registration", list_id, [(idx, 0), (hotel_idx, 0)], NOW - 60)
    assert _verifier_with(keydir, [good]).verify(issued.credential, now=NOW).warnings == ()


def test_zlib_stream_with_trailing_data_or_cut_short_is_refused(keydir: KeyDir) -> None:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    entry, key = keydir.key_for_authority("traffic_police", NOW)
    stream = zlib.compress(bytes(256))

    def with_lst(raw: bytes) -> str:
        claims = {"iss": "traffic_police", "sub": "ZLIB", "iat": NOW, "status_list": {"bits": 2, "lst": b64url_encode(raw)}}
        return _token_signed_by(key, entry.kid, claims)

    assert parse_status_list(with_lst(stream), trust).size == 1024
    for raw in (stream + b"\x00", stream + stream, stream[:-1]):
        with pytest.raises(VerificationFailed) as exc:
            parse_status_list(with_lst(raw), trust)
        assert codes(exc) == ["status_list_invalid"]
        assert exc.value.failures[0].detail == "truncated zlib stream or trailing data"


@pytest.mark.parametrize(("scenario", "max_age"), [("fuel_purchase", 6 * HOUR), (None, 24 * HOUR)])
def test_a_list_exactly_max_age_old_is_current_one_second_more_is_not(
    db: Any, keydir: KeyDir, resident: Wallet, scenario: str | None, max_age: int
) -> None:
    issued = issue_licence(db, keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), now=NOW - 30 * HOUR)
    db.commit()

    def check(list_age: int) -> Any:
        [token] = status_list_tokens(db, keydir, now=NOW - list_age).values()
        text = _present(issued, resident, scenario) if scenario else issued.credential
        return _verifier_with(keydir, [token]).verify(text, scenario=scenario, now=NOW)

    assert check(max_age).warnings == ()
    if scenario == "fuel_purchase":  # status_unknown = "refuse"
        with pytest.raises(VerificationFailed) as exc:
            check(max_age + 1)
        assert codes(exc) == ["status_unknown"]
        unknown = exc.value.failures[0]
    else:  # the bare check warns
        [unknown] = check(max_age + 1).warnings
        assert unknown.code == "status_unknown"
    assert unknown.detail == f"status list is {max_age + 1} s old (limit {max_age} s)"


def test_envelope_writes_a_known_status_uri_short_and_refuses_its_long_form(keydir: KeyDir, resident: Wallet) -> None:
    """A status entry whose URI starts with a start in the envelope's book travels as
    [idx, start code, raw list id] and is rebuilt to the signed bytes; the same entry
    written out as a map is refused (one encoding), while a URI outside the book stays a
    map and is read."""
    import base45
    import cbor2

    from keys.envelope import EnvelopeError, decode, encode_credential
    from keys.jose import b64url_decode

    for base, short in (("http://127.0.0.1:8000", True), ("https://status.example.org", False)):
        ref = status_ref("V5eKng", 123_456, base)
        issued = issue(keydir, "id_card", example("id_card"), holder_jwk=resident.device_jwk(), status=ref, now=NOW)
        text = encode_credential(issued.credential)
        items = cbor2.loads(base45.b45decode(text[4:]))
        carried = items[2][9]  # "status" is code 9
        env = decode(text)
        assert env.payload == split_compact(issued.credential)[1] and env.claims["status"] == ref
        if short:
            assert carried == [123_456, 1, b64url_decode("V5eKng")]
            raw = base45.b45decode(text[4:])  # the bytes as written (re-encoding would turn dates into other tags)
            assert raw.count(cbor2.dumps(carried)) == 1
            long_form = cbor2.dumps({49: {10: 123_456, 48: ref["status_list"]["uri"]}})  # status_list, idx, uri
            with pytest.raises(EnvelopeError, match="status entry written out"):
                decode("CF1:" + base45.b45encode(raw.replace(cbor2.dumps(carried), long_form)).decode("ascii"))
        else:
            assert isinstance(carried, dict)
