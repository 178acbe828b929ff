"""``certfree verify`` called in process (``app.main``), so that `make mutate` reaches it:
every input it takes (QR text, a real QR PNG, a credential file), every refusal and its
exit code, with and without a scenario, text and JSON output, the trust list's and the
status lists' age, the replay database, the register and window matters. Each test holds
the exact lines the person at the desk reads, in Chinese and English.

The key store, the wallet, the licences and the status lists are made by the command line
itself (``keys init``, ``wallet init``, ``issue``, ``status publish``); presentations by the
wallet's own ``present``. Times are fixed: keys made on 1 January 2026, licences issued on
2 January (their views last 30 days), status lists published at midnight on 10 January, codes shown on
10 January at 10:00 China time and scanned five seconds later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import app
from desk import verify_cli
from issuer.schemas.examples import example
from keys.cli_base import parse_time
from verifier import (
    Expired,
    MalformedInput,
    Replayed,
    Revoked,
    StatusListInvalid,
    StatusUnknown,
    TrustListInvalid,
    UnknownMatter,
)
from wallet import Wallet, png_bytes, present

KEY_PASSPHRASE = "a long issuer passphrase"
WALLET_PASSPHRASE = "the phone owner passphrase"
SHOWN = "2026-01-10T10:00:00+08:00"
SCANNED = "2026-01-10T10:00:05+08:00"
UTC = dt.timezone.utc
# The first line of every check at SCANNED: the trust list was signed at keys init (9 days
# 10 hours 5 seconds before), the status lists at publish (10 hours 5 seconds before).
TRUST_NONE = "信任列表 trust list: seq 1, issued 9.4 d ago; 状态列表 status lists: none held"
TRUST_HELD = "信任列表 trust list: seq 1, issued 9.4 d ago; 状态列表 status lists: 2 held, oldest 10.0 h"
UNKNOWN = (f"  ! status_unknown: {StatusUnknown.message_zh} / {StatusUnknown.message}")
# The demo resident of issuer/schemas/examples.py, as the hotel's view shows them.
HOTEL_LINES = [
    "通过 / ACCEPTED  居民身份证 ID card  [hotel]",
    "  姓名 Name: 李华",
    "  性别 Sex: 男",
    "  民族 Ethnicity: 汉族",
    "  出生日期 Date of birth: 1990-03-07",
    "  住址 Address: 北京市东城区和平里东街11号院3号楼2单元501室",
    "  公民身份号码 Citizen ID number: 110101199003070038",
]


@dataclasses.dataclass(frozen=True)
class Desk:
    root: Path
    keys: str
    status: str  # the lists published at midnight on 10 January: every licence valid
    revoked_status: str  # published at the same moment, the vehicle licence revoked (on 8 January)
    credential: Path  # the ID card's full credential (compact JWS)
    vehicle: Path  # the vehicle licence's full credential
    codes: dict[str, str]  # scenario -> QR text of the ID card shown at SHOWN
    household_window: str  # the household book shown at the window at SHOWN


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    root = tmp_path_factory.mktemp("verify-cli")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CERTFREE_KEY_PASSPHRASE", KEY_PASSPHRASE)
        env.setenv("CERTFREE_WALLET_PASSPHRASE", WALLET_PASSPHRASE)
        env.chdir(root)
        assert app.main(["keys", "init", "--dir", "keys", "--now", "2026-01-01T00:00:00+08:00"]) == 0
        assert app.main(["wallet", "init", "--dir", "phone"]) == 0
        for licence_type in ("id_card", "household_book", "vehicle_license"):
            (root / f"{licence_type}.json").write_text(json.dumps(example(licence_type), ensure_ascii=False), "utf-8")
            assert app.main(["issue", licence_type, "--keys", "keys", "--claims", f"{licence_type}.json", "--wallet", "phone",
                             "--out", f"{licence_type}.jws", "--db", "issuer.db", "--now", "2026-01-02T00:00:00+08:00"]) == 0
        published = ["status", "publish", "--keys", "keys", "--db", "issuer.db", "--now", "2026-01-10T00:00:00+08:00"]
        assert app.main([*published, "--out", "status"]) == 0
        from sqlalchemy import select

        from issuer.db import LicenceRecord, make_engine, session_factory

        with session_factory(make_engine(f"sqlite:///{root / 'issuer.db'}"))() as session:
            vehicle_id = session.scalars(select(LicenceRecord.id).where(LicenceRecord.licence_type == "vehicle_license")).one()
        assert app.main(["status", "revoke", f"--licence={vehicle_id}", "--reason", "stolen", "--db", "issuer.db",
                         "--now", "2026-01-08T00:00:00+08:00"]) == 0
        assert app.main([*published, "--out", "revoked-status"]) == 0
        wallet = Wallet(root / "phone")
        shown = parse_time(SHOWN)
        codes = {s: present(wallet, s, licence_type="id_card", now=shown).text
                 for s in ("hotel", "internet_cafe", "window")}
        household = present(wallet, "window", licence_type="household_book", now=shown).text
    return Desk(root, str(root / "keys"), str(root / "status"), str(root / "revoked-status"),
                root / "id_card.jws", root / "vehicle_license.jws", codes, household)


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = app.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _verify(capsys: pytest.CaptureFixture[str], desk: Desk, *argv: str | Path) -> tuple[int, str, str]:
    return _run(capsys, "verify", "--keys", desk.keys, *argv)


def _failure(kind: Any, field: str | None = None, detail: str | None = None) -> dict[str, str]:
    out = {"code": kind.code, "message": kind.message, "message_zh": kind.message_zh}
    if field:
        out["field"] = field
    if detail:
        out["detail"] = detail
    return out


def _line(kind: Any, field: str | None = None) -> str:
    """The line of a failure without a detail, as render_failure prints it."""
    return f"  x {kind.code}{f' [{field}]' if field else ''}: {kind.message_zh} / {kind.message}"


# ---- what is shown: text, image, file; with a scenario and without ----------------------------


def test_a_hotel_code_as_text_is_accepted_with_the_licence_s_own_labels_in_field_order(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _verify(capsys, desk, "--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED)
    assert (code, err) == (0, "")
    assert out.splitlines() == [TRUST_NONE, *HOTEL_LINES, UNKNOWN]


def test_a_real_qr_png_is_read_and_verified(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    picture = tmp_path / "hotel.png"
    picture.write_bytes(png_bytes(desk.codes["hotel"]))
    code, out, err = _verify(capsys, desk, "--image", picture, "--scenario", "hotel", "--now", SCANNED,
                             "--status", desk.status)
    assert (code, err) == (0, "")
    assert out.splitlines() == [TRUST_HELD, *HOTEL_LINES]  # the status is known: no warning


def test_an_internet_cafe_code_shows_only_the_name_masked_number_and_adulthood(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["internet_cafe"], "--scenario", "internet_cafe",
                           "--now", SCANNED, "--status", desk.status)
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == [TRUST_HELD, "通过 / ACCEPTED  居民身份证 ID card  [internet_cafe]"]
    assert lines[2] == "  姓名 Name: 李华"  # a licence field comes before the derived ones
    assert sorted(lines[3:]) == ["  公民身份号码（脱敏） ID number (masked): 110101********0038", "  已满18周岁 18 or older: 是 yes"]


def test_a_credential_file_is_verified_bare_with_every_field(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _verify(capsys, desk, desk.credential, "--now", SCANNED)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        TRUST_NONE,
        "通过 / ACCEPTED  居民身份证 ID card",  # no scenario: no [tag]
        *HOTEL_LINES[1:6],
        "  公民身份号码 Citizen ID number: 110101199003070038",
        "  签发机关 Issuing authority: 北京市公安局东城分局",
        "  有效期限起始日期 Valid from: 2016-05-20",
        "  有效期限截止日期 Valid until: 2036-05-20",
        UNKNOWN,
    ]


def test_a_qr_text_file_is_read_like_a_credential_file(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shown = tmp_path / "code.txt"
    shown.write_text(desk.codes["hotel"] + "\n", "ascii")
    code, out, _ = _verify(capsys, desk, shown, "--scenario", "hotel", "--now", SCANNED)
    assert code == 0 and out.splitlines()[1:] == [*HOTEL_LINES, UNKNOWN]


def test_a_code_piped_in_is_read_from_standard_input(
        desk: Desk, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``certfree verify -``: a scanner's output piped in, read like a file."""
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(desk.codes["hotel"].encode("ascii") + b"\r\n")))
    code, out, _ = _verify(capsys, desk, "-", "--scenario", "hotel", "--now", SCANNED)
    assert code == 0 and out.splitlines()[1:] == [*HOTEL_LINES, UNKNOWN]


def test_a_text_file_or_input_too_large_for_a_code_is_refused_before_it_is_read_whole(
        desk: Desk, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io
    import sys

    from desk.verify_cli import TEXT_MAX

    big = tmp_path / "big.txt"
    big.write_bytes(b"A" * (TEXT_MAX + 1))
    code, _, err = _verify(capsys, desk, big, "--now", SCANNED)
    assert code == 2 and f"{big} is too large for a credential or QR text / 内容过大" in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"A" * (TEXT_MAX + 1))))
    code, _, err = _verify(capsys, desk, "-", "--now", SCANNED)
    assert code == 2 and "standard input is too large" in err and "内容过大" in err
    big.write_bytes(b"A" * TEXT_MAX)  # at the cap: read, and refused by the verifier as not a code
    code, out, _ = _verify(capsys, desk, big, "--now", SCANNED)
    assert code == 1 and "malformed" in out


def test_a_presentation_without_a_scenario_is_still_checked_and_shown(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["hotel"], "--now", SCANNED, "--json")
    assert code == 0
    body = json.loads(out)
    assert body["scenario"] is None and body["type"] == "id_card"
    assert body["presented_at"] == parse_time(SHOWN)


def test_text_image_and_file_together_are_each_verified_in_that_order(
        desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    picture = tmp_path / "window.png"
    picture.write_bytes(png_bytes(desk.household_window))
    code, out, _ = _verify(capsys, desk, desk.credential, "--text", desk.codes["window"], "--image", picture,
                           "--now", SCANNED, "--json")
    assert code == 0
    body = json.loads(out)
    assert (body["ok"], body["type"], body["claims"], body["failures"]) == (True, None, None, [])
    assert [(r["type"], r["scenario"]) for r in body["results"]] == [
        ("household_book", None), ("id_card", None), ("id_card", None)]
    assert [r["presented_at"] for r in body["results"]] == [parse_time(SHOWN), parse_time(SHOWN), None]


# ---- the JSON a window's script reads ------------------------------------------------------------


def test_json_for_one_accepted_licence_is_its_result(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _verify(capsys, desk, "--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED, "--json")
    assert code == 0
    assert err == TRUST_NONE + "\n"  # the age goes to stderr: stdout is JSON only
    claims = example("id_card")
    assert json.loads(out) == {
        "ok": True, "type": "id_card", "scenario": "hotel",
        "claims": {k: claims[k] for k in ("name", "sex", "ethnicity", "birth_date", "address", "id_number")},
        "authority": "household_registration",
        "issued_at": parse_time("2026-01-02T00:00:00+08:00"),
        "expires_at": parse_time("2026-02-01T00:00:00+08:00"),
        "presented_at": parse_time(SHOWN),
        "warnings": [_failure(StatusUnknown, "status", "no status list held for this licence")],
        "failures": [],
    }
    assert "\\u" not in out and '"name": "李华"' in out  # Chinese as it is, not escaped
    assert out.startswith('{\n  "ok": true,\n  "type": "id_card",\n')  # indented by two, one member a line


def test_json_for_one_refused_code(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", "CF1:NOT-A-CODE", "--now", SCANNED, "--json")
    assert code == 1
    body = json.loads(out)
    assert body == {"ok": False, "type": None, "claims": None, "results": [], "failures": body["failures"]}
    assert [f["code"] for f in body["failures"]] == [MalformedInput.code]


def test_json_for_one_accepted_and_one_refused_names_the_accepted_one(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["hotel"], "--text", "CF1:NOT-A-CODE",
                           "--scenario", "hotel", "--now", SCANNED, "--json")
    assert code == 1
    body = json.loads(out)
    assert (body["ok"], body["type"]) == (False, "id_card")
    assert body["claims"]["name"] == "李华" and set(body["claims"]) == set(body["results"][0]["claims"])
    assert [r["type"] for r in body["results"]] == ["id_card"]
    assert [f["code"] for f in body["failures"]] == [MalformedInput.code]


def test_json_for_two_accepted_and_one_refused_lists_them_all(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["window"], "--text", desk.household_window,
                           "--text", "CF1:NOT-A-CODE", "--now", SCANNED, "--json")
    assert code == 1
    body = json.loads(out)
    assert (body["ok"], body["type"], body["claims"]) == (False, None, None)  # no one licence to name
    assert [r["type"] for r in body["results"]] == ["id_card", "household_book"]
    assert [f["code"] for f in body["failures"]] == [MalformedInput.code]
    assert out.startswith('{\n  "ok": false,\n  "type": null,\n') and "\\u" not in out and "李华" in out


def test_text_for_one_accepted_and_one_refused_prints_both(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", "CF1:NOT-A-CODE", "--text", desk.codes["hotel"],
                           "--scenario", "hotel", "--now", SCANNED)
    assert code == 1
    lines = out.splitlines()
    assert lines[:8] == [TRUST_NONE, *HOTEL_LINES]  # what was accepted first, then what was not
    assert lines[8:10] == [UNKNOWN, "未通过 / REJECTED"]
    assert lines[10].startswith(_line(MalformedInput) + " (")


# ---- refusals: exit 1, each check named -------------------------------------------------------------


def test_an_expired_licence_is_refused_naming_the_check(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _verify(capsys, desk, desk.credential, "--now", "2027-01-03T00:00:00+08:00")  # issued for a year
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == "信任列表 trust list: seq 1, issued 367.0 d ago; 状态列表 status lists: none held"
    assert lines[1] == "未通过 / REJECTED" and _line(Expired, "exp") in lines[2:]


def test_a_code_shown_at_the_wrong_desk_is_refused(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["hotel"], "--scenario", "internet_cafe",
                           "--now", SCANNED, "--json")
    assert code == 1
    assert [f["code"] for f in json.loads(out)["failures"]] == ["wrong_scenario"]


def test_a_revoked_licence_is_refused_with_the_status_lists(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, desk.vehicle, "--now", SCANNED, "--status", desk.status)
    assert code == 0 and out.splitlines()[1] == "通过 / ACCEPTED  行驶证 Vehicle licence"
    assert "  所有人 Owner: " + example("vehicle_license")["name"] in out.splitlines()
    code, out, _ = _verify(capsys, desk, desk.vehicle, "--now", SCANNED, "--status", desk.revoked_status)
    assert code == 1
    assert out.splitlines() == [TRUST_HELD, "未通过 / REJECTED", _line(Revoked, "status")]


def test_the_same_code_twice_with_a_replay_database_is_refused_the_second_time(
        desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ("--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED, "--replay-db", tmp_path / "seen.db")
    assert _verify(capsys, desk, *argv)[0] == 0
    code, out, _ = _verify(capsys, desk, *argv)
    assert code == 1
    assert out.splitlines() == [TRUST_NONE, "未通过 / REJECTED", _line(Replayed)]
    assert _verify(capsys, desk, "--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED)[0] == 0  # memory: a new desk


def test_a_damaged_trust_list_is_a_refusal_not_a_usage_error(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "root.jwk.json").write_text(Path(desk.keys, "root.jwk.json").read_text("utf-8"), "utf-8")
    (keys / "trust_list.jws").write_text("not.a.trust-list", "ascii")
    code, out, err = _run(capsys, "verify", "--keys", keys, "--text", desk.codes["hotel"])
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == "未通过 / REJECTED" and out.splitlines()[1].startswith(_line(TrustListInvalid))
    code, out, _ = _run(capsys, "verify", "--keys", keys, "--text", desk.codes["hotel"], "--json")
    body = json.loads(out)
    assert (code, body["ok"], body["type"], body["claims"], body["results"]) == (1, False, None, None, [])
    assert [f["code"] for f in body["failures"]] == [TrustListInvalid.code]


def test_a_status_list_that_does_not_verify_is_a_refusal(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.jws").write_text("not.a.list", "ascii")
    code, out, err = _verify(capsys, desk, "--text", desk.codes["hotel"], "--status", tmp_path)
    assert (code, err) == (1, "")
    lines = out.splitlines()  # refused before any code is read: no age line either
    assert len(lines) == 2 and lines[0] == "未通过 / REJECTED" and lines[1].startswith(_line(StatusListInvalid) + " (")


# ---- the trust list's and the status lists' age -------------------------------------------------------


@pytest.mark.parametrize(("now", "age"), [
    ("2026-01-01T00:59:59+08:00", "59 min"),
    ("2026-01-01T01:00:00+08:00", "1.0 h"),
    ("2026-01-03T23:59:59+08:00", "72.0 h"),
    ("2026-01-04T00:00:00+08:00", "3.0 d"),
    ("2026-01-01T00:00:00+08:00", "0 min"),
    ("2026-01-03T22:03:36+08:00", "70.1 h"),  # 252,216 s: 70.06 hours of 3,600 s
    ("2027-01-03T01:14:53+08:00", "367.1 d"),  # 31,713,293 s: 367.052 days of 86,400 s
], ids=["under-an-hour", "an-hour", "under-three-days", "three-days", "just-made", "hours-rounded", "days-rounded"])
def test_the_trust_list_age_is_minutes_then_hours_then_days(desk: Desk, capsys: pytest.CaptureFixture[str],
                                                           now: str, age: str) -> None:
    _, out, _ = _verify(capsys, desk, "--text", "CF1:NOT-A-CODE", "--now", now)
    assert out.splitlines()[0] == f"信任列表 trust list: seq 1, issued {age} ago; 状态列表 status lists: none held"


def test_the_status_lists_age_is_their_oldest(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, out, _ = _verify(capsys, desk, "--text", "CF1:NOT-A-CODE", "--now", "2026-01-10T00:30:00+08:00", "--status", desk.status)
    assert out.splitlines()[0] == "信任列表 trust list: seq 1, issued 9.0 d ago; 状态列表 status lists: 2 held, oldest 30 min"
    _, out, _ = _verify(capsys, desk, "--text", "CF1:NOT-A-CODE", "--now", SCANNED, "--status", tmp_path)  # an empty folder
    assert out.splitlines()[0] == "信任列表 trust list: seq 1, issued 9.4 d ago; 状态列表 status lists: 0 held"


def test_without_now_the_age_is_counted_from_the_clock(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    before = time.time()
    _, out, _ = _verify(capsys, desk, "--text", "CF1:NOT-A-CODE")
    after = time.time()
    made = parse_time("2026-01-01T00:00:00+08:00")
    shown = {f"{(int(t) - made) / 86400:.1f} d" for t in (before, after)}
    assert out.splitlines()[0] in {f"信任列表 trust list: seq 1, issued {s} ago; 状态列表 status lists: none held" for s in shown}


# ---- usage errors: exit 2, one line on stderr, nothing verified ---------------------------------------------


@pytest.mark.parametrize(("argv", "says"), [
    (("--status", "{root}/absent"), "--status {root}/absent: no such folder / 没有这个文件夹"),
    (("--replay-db", "{root}/absent/seen.db"), "--replay-db: no folder {root}/absent / 文件夹不存在"),
    (("--replay-db", "{root}/keys/root.jwk.json"),
     "--replay-db {root}/keys/root.jwk.json: 已扫码记录库无法使用（不是数据库文件或已损坏）/ "
     "the replay database cannot be used (not a database file, or damaged)"),
    (("--matter", "no_such_matter"),
     f"--matter no_such_matter: {UnknownMatter.code}: {UnknownMatter.message_zh} / {UnknownMatter.message}"),
    (("--register", "{root}/reg.db"), "--register needs --scenario / --register 须同时指定 --scenario"),
    (("--register", "{root}/reg.db", "--scenario", "hotel", "--clerk", "room"),
     "--clerk: expected FIELD=VALUE, got 'room' / 格式应为 字段=值"),
    (("--register", "{root}/reg.db", "--scenario", "hotel", "--clerk", "=0807"),
     "--clerk: expected FIELD=VALUE, got '=0807' / 格式应为 字段=值"),
    (("--register", "{root}/reg.db", "--scenario", "fuel_purchase", "--clerk", "room=0807"),
     "--clerk: fuel_purchase has no field 'room' (fields: litres, purpose) / 该场景没有此登记字段"),
    (("--register", "{root}/reg.db", "--scenario", "window", "--clerk", "room=0807"),
     "--clerk: window has no field 'room' (fields: none) / 该场景没有此登记字段"),
    (("--register", "{root}/reg.db", "--scenario", "hotel"), "--clerk room=...: required at hotel / 必填：房间号"),
    (("--register", "{root}/reg.db", "--scenario", "hotel", "--clerk", "room=  "), "--clerk room=...: required at hotel / 必填：房间号"),
    (("--register", "{root}/reg.db", "--scenario", "fuel_purchase", "--clerk", "litres=20"),
     "--clerk purpose=...: required at fuel_purchase / 必填：用途"),
], ids=["no-status-folder", "no-replay-folder", "replay-not-a-database", "unknown-matter", "register-no-scenario",
        "clerk-no-equals", "clerk-no-name", "clerk-unknown-field", "clerk-no-fields", "clerk-missing", "clerk-blank",
        "clerk-second-missing"])
def test_a_usage_error_exits_2_before_anything_is_verified(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                         argv: tuple[str, ...], says: str) -> None:
    fill = {"root": str(desk.root)}
    seen = tmp_path / "seen.db"
    code, out, err = _verify(capsys, desk, "--text", desk.codes["hotel"], "--now", SCANNED,
                             *(a.format(**fill) for a in argv))
    assert (code, out, err) == (2, "", f"certfree: error: {says.format(**fill)}\n")
    assert not (desk.root / "reg.db").exists()
    # nothing was spent: the same code is still good at a desk that remembers what it saw
    assert _verify(capsys, desk, "--text", desk.codes["hotel"], "--now", SCANNED, "--replay-db", seen)[0] == 0


def test_no_input_is_a_usage_error(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(capsys, desk) == (2, "", "certfree: error: give --image PNG, --text TEXT or a FILE / "
                                             "请给出 --image 图片、--text 文本或文件\n")


def test_a_missing_image_or_file_is_a_usage_error_naming_it(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    absent = desk.root / "absent.png"
    assert _verify(capsys, desk, "--text", desk.codes["hotel"], "--image", absent) == (
        2, "", f"certfree: error: --image {absent}: no such file / 没有这个文件\n")
    assert _verify(capsys, desk, absent) == (
        2, "", f"certfree: error: {absent}: No such file or directory / 文件或文件夹无法读写\n")


def test_an_image_named_as_a_text_file_is_a_usage_error(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    picture = tmp_path / "hotel.png"
    picture.write_bytes(png_bytes(desk.codes["hotel"]))
    assert _verify(capsys, desk, picture) == (2, "", (
        f"certfree: error: {picture}: not a text file holding a credential or QR text (an image? use --image) / "
        "不是存有凭证或二维码文本的文本文件（图片请用 --image）\n"))


def test_the_pinned_root_key_file_is_read_as_utf8_whatever_the_locale(
        desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A desk whose locale is not UTF-8 (a C locale, a Windows GBK one) still reads a root
    key file whose label is in Chinese."""
    import locale

    root = json.loads(Path(desk.keys, "root.jwk.json").read_text("utf-8"))
    (tmp_path / "root.jwk.json").write_text(json.dumps({**root, "name": "市根密钥"}, ensure_ascii=False), "utf-8")
    (tmp_path / "trust_list.jws").write_text(Path(desk.keys, "trust_list.jws").read_text("ascii"), "ascii")
    held = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        code, out, err = _run(capsys, "verify", "--keys", tmp_path, "--text", desk.codes["hotel"], "--scenario", "hotel",
                              "--now", SCANNED)
    finally:
        locale.setlocale(locale.LC_CTYPE, held)
    assert (code, err) == (0, "") and out.splitlines()[1:] == [*HOTEL_LINES, UNKNOWN]


def test_a_text_file_that_is_not_ascii_is_a_usage_error(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A credential or QR text is ASCII: a UTF-8 note beside it (a name, an address) is not a code."""
    note = tmp_path / "note.txt"
    note.write_text("李华 北京市东城区\n", "utf-8")
    assert _verify(capsys, desk, note) == (2, "", (
        f"certfree: error: {note}: not a text file holding a credential or QR text (an image? use --image) / "
        "不是存有凭证或二维码文本的文本文件（图片请用 --image）\n"))


def test_the_keys_option_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        app.main(["verify", "--text", "CF1:NOT-A-CODE"])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith("certfree verify: error: the following arguments are required: --keys\n")


@pytest.mark.parametrize("missing", ["trust_list.jws", "root.jwk.json"], ids=["trust-list", "root"])
def test_a_key_folder_without_its_trust_list_or_root_is_a_usage_error(
        desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path, missing: str) -> None:
    for name in ("trust_list.jws", "root.jwk.json"):
        if name != missing:
            (tmp_path / name).write_text(Path(desk.keys, name).read_text("utf-8"), "utf-8")
    says = f"certfree: error: --keys: cannot read the trust list or root key in {tmp_path} / 无法读取信任列表或根公钥\n"
    assert _run(capsys, "verify", "--keys", tmp_path, "--text", desk.codes["hotel"]) == (2, "", says)
    (tmp_path / missing).write_bytes(b"\xff not text")  # there, but unreadable as text or JSON
    assert _run(capsys, "verify", "--keys", tmp_path, "--text", desk.codes["hotel"]) == (2, "", says)
    if missing == "trust_list.jws":  # UTF-8 text, not the ASCII of a compact JWS
        (tmp_path / missing).write_text("信任列表", "utf-8")
        assert _run(capsys, "verify", "--keys", tmp_path, "--text", desk.codes["hotel"]) == (2, "", says)


def test_a_bad_time_is_a_usage_error(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    assert _verify(capsys, desk, "--text", desk.codes["hotel"], "--now", "10 January") == (
        2, "", "certfree: error: --now: not an ISO 8601 time: '10 January' / 不是 ISO 8601 时间\n")


def _refusing(path: Path, table: str) -> Path:
    """A database whose every INSERT into ``table`` fails, as on a locked file or a full disk."""
    db = sqlite3.connect(path)
    db.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END")
    db.commit()
    db.close()
    return path


def test_a_replay_database_that_cannot_be_written_is_a_usage_error(desk: Desk, capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    from verifier import SqliteReplayCache

    seen = tmp_path / "seen.db"
    SqliteReplayCache(seen).close()
    _refusing(seen, "seen")
    says = (f"certfree: error: --replay-db {seen}: 已扫码记录库无法使用（数据库错误）/ "
            "the replay database cannot be used (database error (IntegrityError))\n")
    assert _verify(capsys, desk, "--text", desk.codes["hotel"], "--now", SCANNED, "--replay-db", seen) == (2, TRUST_NONE + "\n", says)
    assert _verify(capsys, desk, "--text", desk.codes["window"], "--now", SCANNED, "--replay-db", seen,
                   "--matter", "passport_application") == (2, TRUST_NONE + "\n", says)


# ---- the register ------------------------------------------------------------------------------------


def _rows(path: Path, scenario: str) -> list[dict[str, Any]]:
    from scenarios.register import Register

    with Register(path) as register:
        return register.rows(scenario)


def test_an_accepted_code_is_recorded_with_the_clerk_s_entry_at_the_scan_time(
        desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    register = tmp_path / "hotel.db"
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["hotel"], "--text", "CF1:NOT-A-CODE", "--scenario", "hotel",
                           "--now", SCANNED, "--register", register, "--clerk", "room=0807=east")
    assert code == 1 and out.splitlines()[1] == HOTEL_LINES[0]  # the refused one is not recorded, the other is
    [row] = _rows(register, "hotel")
    assert row["recorded_at"] == dt.datetime(2026, 1, 10, 2, 0, 5, tzinfo=UTC)
    # the field's name ends at the first "=": the rest is the value, "=" and all
    assert (row["licence_type"], row["matter"], row["fields"]["room"]) == ("id_card", None, "0807=east")
    assert row["fields"]["name"] == "李华"


def test_without_now_the_register_takes_the_clock(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTFREE_WALLET_PASSPHRASE", WALLET_PASSPHRASE)
    before = dt.datetime.now(UTC).replace(microsecond=0)
    # A licence issued now (the one of 2 January has no valid view today), shown now.
    monkeypatch.setenv("CERTFREE_KEY_PASSPHRASE", KEY_PASSPHRASE)
    monkeypatch.chdir(desk.root)
    wallet_dir = tmp_path / "phone"
    assert app.main(["wallet", "init", "--dir", str(wallet_dir)]) == 0
    assert app.main(["issue", "id_card", "--keys", "keys", "--claims", "id_card.json", "--wallet", str(wallet_dir),
                     "--db", str(tmp_path / "issuer.db")]) == 0
    text = present(Wallet(wallet_dir), "hotel").text
    register = tmp_path / "hotel.db"
    code, _, err = _verify(capsys, desk, "--text", text, "--scenario", "hotel", "--register", register, "--clerk", "room=0807")
    assert code == 0, err
    [row] = _rows(register, "hotel")
    assert before <= row["recorded_at"] <= dt.datetime.now(UTC)


def test_a_clerk_entry_the_register_refuses_is_a_usage_error_after_the_check(
        desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _verify(capsys, desk, "--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED,
                             "--register", tmp_path / "hotel.db", "--clerk", "room=" + "8" * 17)
    assert (code, out) == (2, TRUST_NONE + "\n")
    assert err == ("certfree: error: not recorded in the register / 未登记: too_long [room]: "
                   "“房间号”不能超过16个字符 / Room number is longer than 16 characters\n")
    assert _rows(tmp_path / "hotel.db", "hotel") == []


def test_a_register_that_cannot_be_opened_spends_nothing(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "register.db"
    broken.write_bytes(b"this is not a database file, just some text" * 20)
    seen = tmp_path / "seen.db"
    argv = ("--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED, "--clerk", "room=0807", "--replay-db", seen)
    assert _verify(capsys, desk, *argv, "--register", broken) == (2, "", (
        f"certfree: error: register_unavailable: 登记簿 {broken} 无法打开或写入（不是数据库文件或已损坏），未核验，二维码仍可使用 / "
        f"the register {broken} cannot be opened or written (not a database file, or damaged); nothing was verified; "
        "the code is still good\n"))
    assert _verify(capsys, desk, *argv, "--register", tmp_path / "good.db")[0] == 0


def test_a_register_url_is_shown_without_its_password(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql+psycopg://clerk:s3cret-pw@127.0.0.1:1/desk"
    code, out, err = _verify(capsys, desk, "--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED,
                             "--clerk", "room=0807", "--register", url)
    assert (code, out) == (2, "")
    shown = "postgresql+psycopg://clerk:***@127.0.0.1:1/desk"
    assert err == (f"certfree: error: register_unavailable: 登记簿 {shown} 无法打开或写入（数据库错误），未核验，二维码仍可使用 / "
                   f"the register {shown} cannot be opened or written (database error (OperationalError)); "
                   "nothing was verified; the code is still good\n")


def test_a_register_that_cannot_be_written_says_the_licence_was_verified_but_not_recorded(
        desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from scenarios.register import Register

    register = tmp_path / "register.db"
    Register(register).close()
    _refusing(register, "register_entries")
    code, out, err = _verify(capsys, desk, "--text", desk.codes["hotel"], "--scenario", "hotel", "--now", SCANNED,
                             "--clerk", "room=0807", "--register", register)
    assert (code, out) == (2, TRUST_NONE + "\n")
    assert err == (f"certfree: error: register_unavailable: 登记簿 {register} 无法打开或写入（数据库错误），核验已通过，但未登记 / "
                   f"the register {register} cannot be opened or written (database error (IntegrityError)); "
                   "the licence was verified but NOT recorded\n")
    for value in ("李华", "110101199003070038"):
        assert value not in err


# ---- window matters ------------------------------------------------------------------------------------


def test_a_matter_with_every_licence_is_complete(desk: Desk, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    register = tmp_path / "window.db"
    code, out, err = _verify(capsys, desk, "--text", desk.codes["window"], "--matter", "passport_application",
                             "--now", SCANNED, "--status", desk.status, "--register", register)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == TRUST_HELD
    assert lines[1] == "通过 / ACCEPTED  居民身份证 ID card  [window]"
    assert lines[-1] == "普通护照申领 Applying for an ordinary passport: 办结条件齐全 / complete"
    [row] = _rows(register, "window")
    assert (row["licence_type"], row["matter"]) == ("id_card", "passport_application")
    assert row["recorded_at"] == dt.datetime(2026, 1, 10, 2, 0, 5, tzinfo=UTC)


def test_a_matter_missing_a_licence_says_which(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["window"], "--matter", "minor_passport_application",
                           "--now", SCANNED, "--status", desk.status)
    assert code == 1
    assert out.splitlines()[-1] == "未成年人普通护照申领 Ordinary passport for a minor: 缺少：户口簿 / Missing: household register book"


def test_a_matter_json_lists_what_is_verified_refused_and_missing(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _verify(capsys, desk, "--text", desk.codes["window"], "--text", "CF1:NOT-A-CODE",
                             "--matter", "employment_registration", "--now", SCANNED, "--json",
                             "--status", desk.status)
    assert code == 1 and err == TRUST_HELD + "\n"
    body = json.loads(out)
    assert (body["ok"], body["matter"], body["missing"]) == (False, "employment_registration", [])
    assert body["missing_one_of"] == [["household_book", "residence_permit"]]
    assert [(r["type"], r["scenario"]) for r in body["verified"]] == [("id_card", "window")]
    assert [f["code"] for f in body["failures"]] == [MalformedInput.code]
    assert out.startswith('{\n  "ok": false,\n  "matter": "employment_registration",\n')  # indented by two
    assert "\\u" not in out and '"name": "李华"' in out  # Chinese as it is
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["window"], "--text", desk.household_window,
                           "--matter", "minor_passport_application", "--now", SCANNED, "--json",
                           "--status", desk.status)
    body = json.loads(out)
    assert (code, body["ok"], body["missing"], body["missing_one_of"], body["failures"]) == (0, True, [], [], [])
    assert sorted(r["type"] for r in body["verified"]) == ["household_book", "id_card"]


def test_a_matter_with_a_refused_code_is_not_complete_even_if_its_licences_are_there(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, desk, "--text", desk.codes["window"], "--text", "CF1:NOT-A-CODE",
                           "--matter", "passport_application", "--now", SCANNED, "--status", desk.status)
    assert code == 1
    lines = out.splitlines()
    assert lines[1] == "通过 / ACCEPTED  居民身份证 ID card  [window]"
    assert "未通过 / REJECTED" in lines
    assert lines[-1] == ("普通护照申领 Applying for an ordinary passport: 普通护照申领：材料齐全 / "
                         "Applying for an ordinary passport: all required licences presented")


# ---- what only the renderer sees --------------------------------------------------------------------


def test_a_false_claim_reads_no_and_an_unlabelled_one_its_name(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    """No packaged policy shows a false predicate or a claim without a label (an under-age
    code is refused at the internet cafe): the renderer still says them plainly."""
    verifier = verify_cli.load_verifier(desk.keys)
    result = verifier.verify(desk.codes["internet_cafe"], scenario="internet_cafe", now=parse_time(SCANNED))
    shown = dataclasses.replace(result, claims={**result.claims, "age_over_18": False, "extra": "x"}, warnings=())
    lines = verify_cli.render_result(shown).splitlines()
    assert "  已满18周岁 18 or older: 否 no" in lines and lines[-1] == "  extra extra: x"


def test_help_names_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        app.main(["verify", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option, says in [
        ("file", "a file holding a credential JWS or QR text"),
        ("--image IMAGE", "QR image (PNG/JPEG); may repeat with --matter"),
        ("--text TEXT", "QR text or JWS; may repeat with --matter"),
        ("--keys KEYS", "folder with trust_list.jws and root.jwk.json"),
        ("--matter MATTER", "window matter id: check the set of presentations against it"),
        ("--replay-db REPLAY_DB", "SQLite file remembering scanned codes (default: memory)"),
        ("--status STATUS", "folder of signed status lists (certfree status publish / sync)"),
        ("--register REGISTER", "the desk's register (SQLite file) to record accepted presentations"),
        ("--clerk FIELD=VALUE", "clerk entry for the register, e.g. room=0807"),
        ("--now NOW", "verify as of this ISO time (audits, tests)"),
    ]:
        assert f"{option} {says}" in text, option
    assert "--scenario {hotel," in text and "--json" in text
    with pytest.raises(SystemExit):
        app.main(["--help"])
    listed = " ".join(capsys.readouterr().out.split())  # the command's name, then its help
    assert "verify verify a QR image, QR text or credential file, offline " in listed
