"""Key rotation, compromise, re-issuance and trust-list rollback, with real key folders."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select

from conftest import CHINA, NOW
from issuer import example, issue
from issuer.db import Base, LicenceRecord, make_engine, session_factory
from issuer.records import issue_licence, list_licences
from keys import KeyDir, KeyStoreError
from keys.envelope import encode_credential
from issuer.status_list import status_list_claims
from keys.jose import TYP_CREDENTIAL, TYP_STATUS_LIST, sign_compact, split_compact
from verifier import MemoryReplayCache, VerificationFailed, Verifier, load_status_lists, load_trust_list, parse_status_list
from verifier.testing import FixedClock
from wallet import Wallet, present_view

PASS = b"rotation tests"
HOUR = 3600


@pytest.fixture
def keys(tmp_path: Path) -> KeyDir:
    return KeyDir.init(tmp_path / "keys", passphrase=PASS, now=NOW - 3 * 365 * 86400)


def verifier_for(keys: KeyDir) -> Verifier:
    trust = load_trust_list(keys.trust_list(), keys.root_public_jwk())
    return Verifier(trust, clock=FixedClock(NOW), replay_cache=MemoryReplayCache())


def kid_of(jws: str) -> str:
    return json.loads(split_compact(jws)[0])["kid"]


def test_rotated_key_verifies_old_credentials_and_signs_no_new(keys: KeyDir, tmp_path: Path, scan: Callable[[str], bytes]) -> None:
    wallet = Wallet.init(tmp_path / "w", passphrase=b"w")
    old = issue(keys, "id_card", example("id_card"), holder_jwk=wallet.device_jwk(), now=NOW - 3 * HOUR)
    old_kid = kid_of(old.credential)
    seq_before = load_trust_list(keys.trust_list(), keys.root_public_jwk()).seq
    new_key, retired = keys.rotate("household_registration", now=NOW - 2 * HOUR)
    assert [k.kid for k in retired] == [old_kid]
    assert keys.issuer_key(old_kid).state == "retired" and keys.issuer_key(old_kid).retired_at == NOW - 2 * HOUR
    verifier = verifier_for(keys)
    assert verifier.trust.seq == seq_before + 1
    assert verifier.trust.by_kid(old_kid).state == "retired"
    assert verifier.trust.by_kid(new_key.kid).state == "active"
    # old credential and its views still verify
    assert verifier.verify(scan(encode_credential(old.credential)), now=NOW).kid == old_kid
    p = present_view(old.views["hotel"], wallet.device_key(), licence_type="id_card", scenario="hotel", now=NOW)
    assert verifier.verify(scan(p.text), scenario="hotel", now=NOW).licence_type == "id_card"
    # new issuance uses the new key; the old key is never chosen to sign again
    new = issue(keys, "id_card", example("id_card"), now=NOW - HOUR)
    assert kid_of(new.credential) == new_key.kid
    assert keys.signing_key("household_book", NOW)[0].kid == new_key.kid
    # something signed with the retired key after retirement is refused
    forged_claims = json.loads(split_compact(old.credential)[1]) | {"iat": NOW - HOUR, "nbf": NOW - HOUR}
    late = sign_compact(forged_claims, keys.private_key(old_kid), kid=old_kid, typ=TYP_CREDENTIAL)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(late, now=NOW)
    assert exc.value.codes == ["key_not_valid"]


def test_compromised_key_later_credentials_refused(keys: KeyDir, scan: Callable[[str], bytes]) -> None:
    before = issue(keys, "driving_license", example("driving_license"), now=NOW - 10 * 86400)
    after = issue(keys, "driving_license", example("driving_license"), now=NOW - 2 * 86400)
    kid = kid_of(before.credential)
    since = int(dt.datetime(2026, 11, 20, tzinfo=CHINA).timestamp())  # between the two
    key, replacement = keys.compromise(kid, since, now=NOW - HOUR)
    assert key.state == "compromised" and key.compromised_since == since
    assert replacement is not None and replacement.authority == "traffic_police"
    verifier = verifier_for(keys)
    assert verifier.verify(scan(encode_credential(before.credential)), now=NOW).licence_type == "driving_license"
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(encode_credential(after.credential)), now=NOW)
    assert exc.value.codes == ["key_compromised"]
    with pytest.raises(KeyStoreError):
        keys.compromise("no-such-kid", since)


def test_older_trust_list_refused(keys: KeyDir) -> None:
    root = keys.root_public_jwk()
    old_text = keys.trust_list()
    keys.rotate("police_station", now=NOW - HOUR)
    held = load_trust_list(keys.trust_list(), root)
    with pytest.raises(VerificationFailed) as exc:
        load_trust_list(old_text, root, held=held)
    assert exc.value.codes == ["trust_list_rollback"]
    assert load_trust_list(keys.trust_list(), root, held=held).seq == held.seq  # the same one is fine
    assert held.age(NOW) == HOUR


def _cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**os.environ, "CERTFREE_KEY_PASSPHRASE": PASS.decode(), "CERTFREE_WALLET_PASSPHRASE": "w"}
    cli = str(Path(sys.executable).with_name("certfree"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=120)

    return run


def test_cli_compromise_then_reissue_into_wallet(keys: KeyDir, tmp_path: Path, scan: Callable[[str], bytes]) -> None:
    db = tmp_path / "issuer.db"
    engine = make_engine(db)
    Base.metadata.create_all(engine)
    wallet = Wallet.init(tmp_path / "w", passphrase=b"w")
    with session_factory(engine)() as session:
        for t in ("id_card", "household_book", "vehicle_license"):
            issued = issue_licence(session, keys, t, example(t), holder_jwk=wallet.device_jwk(), now=NOW - 5 * 86400)
            wallet.store(t, issued.jti, issued.credential, issued.views)
        session.commit()
    old = {s.licence_type: s for s in wallet.licences()}
    kid = kid_of(old["id_card"].credential)
    run = _cli(tmp_path)
    when = dt.datetime.fromtimestamp(NOW - 6 * 86400, CHINA).isoformat()
    res = run("keys", "compromise", "--dir", str(keys.path), f"--kid={kid}", "--since", when, "--now", dt.datetime.fromtimestamp(NOW - HOUR, CHINA).isoformat())
    assert res.returncode == 0, res.stderr
    # the follow-up it prints works as written for every kid, one starting with '-' too
    assert f"certfree keys reissue --dir {keys.path} --kid={kid} --wallet W" in res.stdout
    keys = KeyDir(keys.path, passphrase=PASS)
    verifier = verifier_for(keys)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(old["id_card"].credential, now=NOW)
    assert exc.value.codes == ["key_compromised"]
    res = run("keys", "reissue", "--dir", str(keys.path), f"--kid={kid}", "--wallet", str(tmp_path / "w"), "--db", str(db),
              "--now", dt.datetime.fromtimestamp(NOW - 600, CHINA).isoformat())
    assert res.returncode == 0, res.stderr
    assert "2 licence(s) re-issued; 0 recorded" in res.stdout  # id_card, household_book; the vehicle licence has another key
    new = {s.licence_type: s for s in Wallet(tmp_path / "w", passphrase=b"w").licences()}
    assert new["vehicle_license"] == old["vehicle_license"]
    for t in ("id_card", "household_book"):
        assert new[t].jti != old[t].jti and kid_of(new[t].credential) != kid
        assert verifier.verify(scan(encode_credential(new[t].credential)), now=NOW).warnings[0].code == "status_unknown"
        p = present_view(new[t].views["hotel"], wallet.device_key(), licence_type=t, scenario="hotel", now=NOW)
        verifier.verify(scan(p.text), scenario="hotel", now=NOW)
    with session_factory(engine)() as session:
        records = {r.id: r for r in list_licences(session)}
        for t in ("id_card", "household_book"):
            assert records[old[t].jti].state == "revoked" and records[old[t].jti].reason == "reissued"
            assert records[new[t].jti].replaces == old[t].jti and records[new[t].jti].state == "valid"
    engine.dispose()


def _id_cards(keys: KeyDir, tmp_path: Path, count: int) -> tuple[Path, Any, list[Any]]:
    """An issuer database with ``count`` residents' id cards, all signed by one key."""
    db = tmp_path / "issuer.db"
    engine = make_engine(db)
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        cards = [issue_licence(session, keys, "id_card", example("id_card"), now=NOW - 5 * 86400) for _ in range(count)]
        session.commit()
    return db, engine, cards


def _handed_back(tmp_path: Path, cards: list[Any]) -> Path:
    """A folder of handed-back credentials, one .jws file per card (a.jws, b.jws, ...)."""
    handed = tmp_path / "handed"
    handed.mkdir()
    for name, card in zip("abcdefgh", cards):
        (handed / f"{name}.jws").write_text(card.credential + "\n")
    return handed


def test_cli_reissue_from_a_folder_counts_what_was_not_handed_back(keys: KeyDir, tmp_path: Path) -> None:
    """Three residents' id cards signed by one key; one hands theirs back, as two files (a
    .jws and the wallet's .json of the same licence): it is re-issued once, and the other
    two are counted as not handed back."""
    db, engine, cards = _id_cards(keys, tmp_path, 3)
    kid = kid_of(cards[0].credential)
    assert {kid_of(c.credential) for c in cards} == {kid}
    handed = tmp_path / "handed"
    handed.mkdir()
    (handed / "card.jws").write_text(cards[0].credential + "\n")
    (handed / "card.json").write_text(json.dumps({"credential": cards[0].credential}))
    run = _cli(tmp_path)
    res = run("keys", "reissue", "--dir", str(keys.path), f"--kid={kid}", "--from", str(handed), "--out", str(tmp_path / "out"),
              "--db", str(db), "--now", dt.datetime.fromtimestamp(NOW - 600, CHINA).isoformat())
    assert res.returncode == 0, res.stderr
    assert f"1 licence(s) re-issued; 2 recorded for {kid} not handed back" in res.stdout
    [written] = (tmp_path / "out").iterdir()
    new = json.loads(written.read_text())
    with session_factory(engine)() as session:
        assert session.get(LicenceRecord, cards[0].jti).reason == "reissued"
        assert session.get(LicenceRecord, new["jti"]).replaces == cards[0].jti
        assert [session.get(LicenceRecord, c.jti).state for c in cards[1:]] == ["valid", "valid"]
    engine.dispose()


def test_cli_reissue_records_each_licence_before_storing_it_and_says_which_was_lost(keys: KeyDir, tmp_path: Path) -> None:
    """A re-issued licence is committed before its credential is written, so a run that
    cannot write (here --out is a file) leaves no credential the records do not know; the
    next run names the licence whose new credential was never stored, re-issues the rest,
    and exits 1."""
    db, engine, cards = _id_cards(keys, tmp_path, 2)
    kid = kid_of(cards[0].credential)
    handed = _handed_back(tmp_path, cards)
    not_a_folder = tmp_path / "out-is-a-file"
    not_a_folder.write_text("")
    run = _cli(tmp_path)
    when = dt.datetime.fromtimestamp(NOW - 600, CHINA).isoformat()
    res = run("keys", "reissue", "--dir", str(keys.path), f"--kid={kid}", "--from", str(handed), "--out", str(not_a_folder),
              "--db", str(db), "--now", when)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"licence {cards[0].jti} was re-issued as" in res.stderr and "could not be stored" in res.stderr
    with session_factory(engine)() as session:
        first = session.get(LicenceRecord, cards[0].jti)
        assert (first.state, first.reason) == ("revoked", "reissued")
        [lost] = session.scalars(select(LicenceRecord.id).where(LicenceRecord.replaces == cards[0].jti)).all()
        assert session.get(LicenceRecord, cards[1].jti).state == "valid"
    res = run("keys", "reissue", "--dir", str(keys.path), f"--kid={kid}", "--from", str(handed), "--out", str(tmp_path / "out"),
              "--db", str(db), "--now", when)
    assert res.returncode == 1, res.stderr
    assert f"licence {cards[0].jti} was re-issued before as licence id {lost}, which was never stored" in res.stdout
    # the key was not rotated here, so the lost licence is the one more signed by it
    assert f"1 licence(s) re-issued; 1 recorded for {kid} not handed back" in res.stdout
    [written] = (tmp_path / "out").iterdir()
    assert json.loads(written.read_text())["jti"] != lost
    with session_factory(engine)() as session:
        assert session.get(LicenceRecord, cards[1].jti).reason == "reissued"
    engine.dispose()


def test_cli_reissue_checks_every_handed_back_file_before_it_re_issues_any(keys: KeyDir, tmp_path: Path) -> None:
    """The folder is read file by file, never all at once; still, a file that is no
    credential, named after the good ones, stops the run before any licence is re-issued,
    and a folder named like a credential file is passed over."""
    db, engine, cards = _id_cards(keys, tmp_path, 2)
    kid = kid_of(cards[0].credential)
    handed = _handed_back(tmp_path, cards)
    (handed / "c.json").mkdir()  # a folder, not a licence file
    (handed / "z.jws").write_text("not a credential")
    run = _cli(tmp_path)
    when = dt.datetime.fromtimestamp(NOW - 600, CHINA).isoformat()
    args = ("keys", "reissue", "--dir", str(keys.path), f"--kid={kid}", "--from", str(handed), "--out", str(tmp_path / "out"),
            "--db", str(db), "--now", when)
    res = run(*args)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "z.jws: not a credential" in res.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with session_factory(engine)() as session:
        assert [session.get(LicenceRecord, c.jti).state for c in cards] == ["valid", "valid"]
    (handed / "z.jws").unlink()
    res = run(*args)
    assert res.returncode == 0, res.stderr
    assert f"2 licence(s) re-issued; 0 recorded for {kid} not handed back" in res.stdout
    assert len(list((tmp_path / "out").iterdir())) == 2
    engine.dispose()


def test_reissue_refuses_a_credential_not_as_issued(keys: KeyDir, tmp_path: Path) -> None:
    from issuer.records import RecordError, reissue_credential

    engine = make_engine(tmp_path / "i.db")
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        issued = issue_licence(session, keys, "id_card", example("id_card"), now=NOW - 86400)
        entry, key = keys.signing_key("id_card", NOW)
        claims = json.loads(split_compact(issued.credential)[1]) | {"name": "冒名顶替"}
        forged = sign_compact(claims, key, kid=entry.kid, typ=TYP_CREDENTIAL)  # as a thief with the key would
        with pytest.raises(RecordError):
            reissue_credential(session, keys, forged)
        assert session.get(LicenceRecord, issued.jti).state == "valid"
    engine.dispose()


def test_cli_rotate(keys: KeyDir, tmp_path: Path) -> None:
    run = _cli(tmp_path)
    res = run("keys", "rotate", "--dir", str(keys.path), "--authority", "police_station")
    assert res.returncode == 0, res.stderr
    assert "retired" in res.stdout and "active" in res.stdout
    states = {k.state for k in KeyDir(keys.path, passphrase=PASS).issuer_keys() if k.authority == "police_station"}
    assert states == {"retired", "active"}


def test_a_kid_that_starts_with_a_dash_is_accepted_as_kid_equals() -> None:
    # one RFC 7638 thumbprint in 64 starts with "-": argparse needs it written --kid=VALUE
    from app import build_parser

    for command in ("compromise", "reissue"):
        extra = ["--since", "2026-11-01"] if command == "compromise" else []
        args = build_parser().parse_args(["keys", command, "--dir", "keys", "--kid=-x5Jc0aBt", *extra])
        assert args.kid == "-x5Jc0aBt"


def _forged(keys: KeyDir, kid: str, template: str, iat: int) -> str:
    """What a thief holding ``kid``'s private key signs, dated ``iat``."""
    claims = json.loads(split_compact(template)[1]) | {"iat": iat, "nbf": iat}
    return sign_compact(claims, keys.private_key(kid), kid=kid, typ=TYP_CREDENTIAL)


def _refused(keys: KeyDir, token: str) -> list[str]:
    try:
        verifier_for(keys).verify(token, now=NOW)
    except VerificationFailed as exc:
        return exc.codes
    return []


def test_a_compromise_report_never_accepts_what_was_refused(keys: KeyDir) -> None:
    """A retired key reported compromised from a time after its retirement keeps refusing
    what it signed after it was retired; a second report cannot move the time later."""
    day = 86400
    old = issue(keys, "id_card", example("id_card"), now=NOW - 30 * day)
    kid = kid_of(old.credential)
    keys.rotate("household_registration", now=NOW - 20 * day)
    after_retirement = _forged(keys, kid, old.credential, NOW - 10 * day)
    assert _refused(keys, after_retirement) == ["key_not_valid"]
    keys.compromise(kid, NOW - 5 * day, now=NOW - 3600)  # the theft as first understood
    assert _refused(keys, after_retirement) == ["key_compromised"]
    assert keys.issuer_key(kid).compromised_since == NOW - 20 * day + 1
    assert _refused(keys, old.credential) == []  # signed before: still good
    keys.compromise(kid, NOW - 25 * day, now=NOW - 1800)  # an earlier time: widens
    assert _refused(keys, old.credential) == []  # (signed at NOW - 30 days)
    keys.compromise(kid, NOW - 2 * day, now=NOW - 900)  # a later time: does not narrow
    assert keys.issuer_key(kid).compromised_since == NOW - 25 * day
    assert _refused(keys, _forged(keys, kid, old.credential, NOW - 24 * day)) == ["key_compromised"]


def test_a_wrong_passphrase_changes_nothing(keys: KeyDir) -> None:
    """A rotation or compromise with a wrong passphrase fails before any key, registry
    entry or trust list changes (it used to retire the old key and then fail to publish,
    leaving a folder that no passphrase could use)."""
    before = {p.name: p.read_bytes() for p in keys.path.rglob("*") if p.is_file()}
    mistyped = KeyDir(keys.path, passphrase=b"not the passphrase")
    with pytest.raises(KeyStoreError):
        mistyped.rotate("household_registration", now=NOW)
    with pytest.raises(KeyStoreError):
        mistyped.compromise(mistyped.issuer_keys()[0].kid, NOW - 60, now=NOW)
    assert {p.name: p.read_bytes() for p in keys.path.rglob("*") if p.is_file()} == before
    KeyDir(keys.path, passphrase=PASS).rotate("household_registration", now=NOW)  # the right one still works


def test_a_crash_while_publishing_never_reuses_a_trust_list_number(keys: KeyDir, monkeypatch: pytest.MonkeyPatch) -> None:
    """Publishing stops (a crash, a full disk) while the registry is written. Whatever got
    written, the next publish must not put a different list out under a number already
    used: a verifier holding the newer list would take the older one back."""
    import keys.store as store

    def seq_on_disk() -> int:
        return json.loads(split_compact(keys.trust_list())[1])["seq"]

    published = {seq_on_disk(): keys.trust_list()}
    real_write = store.atomic_write

    def crash_on_registry(path: Path, data: bytes, **kwargs: object) -> None:
        if Path(path).name == "registry.json":
            raise OSError("disk full")
        real_write(path, data, **kwargs)

    monkeypatch.setattr(store, "atomic_write", crash_on_registry)
    with pytest.raises(OSError):
        keys.publish(NOW - 120)
    monkeypatch.setattr(store, "atomic_write", real_write)
    published.setdefault(seq_on_disk(), keys.trust_list())
    reopened = KeyDir(keys.path, passphrase=PASS)  # the process restarts
    reopened.publish(NOW - 60)
    assert published.get(seq_on_disk(), reopened.trust_list()) == reopened.trust_list()


def test_a_running_service_stops_signing_with_a_key_compromised_from_the_command_line(keys: KeyDir) -> None:
    """The service keeps one KeyDir for its life; `certfree keys compromise` runs in another
    process. The service's next licence is signed by the replacement key (it kept signing
    with the compromised key, refused by every desk, until it was restarted)."""
    service = KeyDir(keys.path, passphrase=PASS)
    service.REFRESH_SECONDS = 0.0  # the check runs at most once a second; not wait here
    before = issue(service, "id_card", example("id_card"), now=NOW - 120)
    compromised = kid_of(before.credential)
    operator = KeyDir(keys.path, passphrase=PASS)  # the command line
    _, replacement = operator.compromise(compromised, NOW - 100, now=NOW - 90)
    assert replacement is not None
    after = issue(service, "id_card", example("id_card"), now=NOW - 60)
    assert kid_of(after.credential) == replacement.kid
    assert _refused(keys, after.credential) == [] and _refused(keys, before.credential) == []


# ---- status lists are signed by keys too: the same key states apply ---------------------------


def _status_list(keys: KeyDir, kid: str, authority: str, entries: list[tuple[int, int]], iat: int) -> str:
    """A status list signed with ``kid``'s private key (as a thief holding it would sign one)."""
    return sign_compact(status_list_claims("LIST01", authority, 1024, entries, iat), keys.private_key(kid), kid=kid, typ=TYP_STATUS_LIST)


def _list_refusal(keys: KeyDir, token: str) -> list[tuple[str, str | None]]:
    try:
        parse_status_list(token, load_trust_list(keys.trust_list(), keys.root_public_jwk()))
    except VerificationFailed as exc:
        return [(f.code, f.detail) for f in exc.failures]
    return []


def test_a_status_list_signed_with_a_compromised_key_after_the_compromise_is_refused(keys: KeyDir) -> None:
    """The thief of a key signs a newer list that clears a revoked licence: it is refused from
    ``compromised_since`` on (the boundary included), so the genuine revoking list stands."""
    kid = keys.key_for_authority("traffic_police", NOW)[0].kid
    since = NOW - 10 * HOUR
    _, replacement = keys.compromise(kid, since, now=NOW - 9 * HOUR)
    assert replacement is not None
    compromised = "signed after the key was reported compromised"
    assert _list_refusal(keys, _status_list(keys, kid, "traffic_police", [], since - 1)) == []  # signed before: good
    assert _list_refusal(keys, _status_list(keys, kid, "traffic_police", [], since)) == [("status_list_invalid", compromised)]
    genuine = _status_list(keys, replacement.kid, "traffic_police", [(5, 1)], NOW - 2 * HOUR)
    stolen = _status_list(keys, kid, "traffic_police", [], NOW - HOUR)  # newer, clears entry 5
    assert _list_refusal(keys, stolen) == [("status_list_invalid", compromised)]
    trust = load_trust_list(keys.trust_list(), keys.root_public_jwk())
    assert load_status_lists([genuine], trust).lookup("LIST01", 5) == 1
    for tokens in ([genuine, stolen], [stolen, genuine]):
        with pytest.raises(VerificationFailed) as exc:
            load_status_lists(tokens, trust)
        assert exc.value.codes == ["status_list_invalid"]


def test_a_status_list_signed_with_a_retired_key_after_retirement_is_refused(keys: KeyDir) -> None:
    old = keys.key_for_authority("household_registration", NOW)[0].kid
    retired_at = NOW - 2 * HOUR
    new, _ = keys.rotate("household_registration", now=retired_at)
    assert keys.issuer_key(old).state == "retired"
    assert _list_refusal(keys, _status_list(keys, old, "household_registration", [], retired_at)) == []  # up to retirement
    assert _list_refusal(keys, _status_list(keys, new.kid, "household_registration", [], retired_at + 1)) == []
    for iat in (retired_at + 1, NOW - HOUR):
        assert _list_refusal(keys, _status_list(keys, old, "household_registration", [(5, 0)], iat)) == [
            ("status_list_invalid", "signed after the key was retired")
        ]


def test_a_credential_signed_at_the_compromise_time_is_refused_one_second_before_is_not(
    keys: KeyDir, tmp_path: Path, scan: Callable[[str], bytes]
) -> None:
    """compromised_since is the first refused second: iat == since is refused, since - 1
    still verifies (as a credential and as a presentation of its view)."""
    since = NOW - 2 * 86400
    wallet = Wallet.init(tmp_path / "w", passphrase=b"w")
    before = issue(keys, "id_card", example("id_card"), holder_jwk=wallet.device_jwk(), now=since - 1)
    at = issue(keys, "id_card", example("id_card"), holder_jwk=wallet.device_jwk(), now=since)
    kid = kid_of(before.credential)
    assert kid_of(at.credential) == kid
    keys.compromise(kid, since, now=NOW - HOUR)
    verifier = verifier_for(keys)
    assert verifier.trust.by_kid(kid).compromised_since == since
    assert verifier.verify(scan(encode_credential(before.credential)), now=NOW).issued_at == since - 1
    p = present_view(before.views["hotel"], wallet.device_key(), licence_type="id_card", scenario="hotel", now=NOW)
    assert verifier.verify(scan(p.text), scenario="hotel", now=NOW).issued_at == since - 1
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(encode_credential(at.credential)), now=NOW)
    assert exc.value.codes == ["key_compromised"]
    p = present_view(at.views["hotel"], wallet.device_key(), licence_type="id_card", scenario="hotel", now=NOW)
    with pytest.raises(VerificationFailed) as exc:
        verifier.verify(scan(p.text), scenario="hotel", now=NOW)
    assert exc.value.codes == ["key_compromised"]
