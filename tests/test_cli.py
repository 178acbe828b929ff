"""The certfree command line, run as a real subprocess where the console script matters."""

from __future__ import annotations

import datetime as dt
import json
import time
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest


ENV = {**os.environ, "CERTFREE_KEY_PASSPHRASE": "cli test passphrase", "CERTFREE_WALLET_PASSPHRASE": "cli wallet secret 7"}
CERTFREE = str(Path(sys.executable).with_name("certfree"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CERTFREE, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def runner(folder: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run``, with an issuer database of its own in ``folder``."""
    env = {**ENV, "CERTFREE_DATABASE_URL": f"sqlite:///{folder / 'issuer.db'}"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CERTFREE, *args], capture_output=True, text=True, env=env, timeout=120)

    return cli


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    ENV["CERTFREE_DATABASE_URL"] = f"sqlite:///{d / 'issuer.db'}"  # not the repository's instance/
    assert run("keys", "init", "--dir", str(d / "keys")).returncode == 0
    assert run("wallet", "init", "--dir", str(d / "wallet")).returncode == 0
    claims = run("example", "id_card")
    assert claims.returncode == 0
    (d / "id.json").write_text(claims.stdout)
    issued = run("issue", "id_card", "--keys", str(d / "keys"), "--claims", str(d / "id.json"), "--wallet", str(d / "wallet"), "--out", str(d / "id.jws"))
    assert issued.returncode == 0, issued.stderr
    return d


def test_example_is_valid_json_for_every_type() -> None:
    for t in ("id_card", "household_book", "residence_permit", "driving_license", "vehicle_license", "ebike_registration"):
        out = run("example", t)
        assert out.returncode == 0
        assert json.loads(out.stdout)["name"]


def test_issue_qr_verify_json(workdir: Path) -> None:
    out = run("qr", str(workdir / "id.jws"), "--out", str(workdir / "id.png"))
    assert out.returncode == 0 and (workdir / "id.png").stat().st_size > 0
    assert run("qr", str(workdir / "id.jws"), "--out", str(workdir / "id.svg")).returncode == 0
    assert (workdir / "id.svg").read_text().lstrip().startswith("<svg")
    res = run("verify", "--image", str(workdir / "id.png"), "--keys", str(workdir / "keys"), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    body = json.loads(res.stdout)
    assert body["ok"] is True and body["type"] == "id_card" and body["failures"] == []
    assert body["claims"]["name"] == json.loads((workdir / "id.json").read_text())["name"]


def test_verify_failure_exit_1_with_codes_in_both_languages(workdir: Path) -> None:
    token = (workdir / "id.jws").read_text().strip()
    head, payload, sig = token.split(".")
    bad = f"{head}.{payload}.{sig[:-6]}AAAAAA"
    res = run("verify", "--text", bad, "--keys", str(workdir / "keys"), "--json")
    assert res.returncode == 1
    body = json.loads(res.stdout)
    assert body["ok"] is False and body["claims"] is None
    assert [f["code"] for f in body["failures"]] == ["signature_invalid"]
    assert body["failures"][0]["message_zh"]
    human = run("verify", "--text", bad, "--keys", str(workdir / "keys"))
    assert human.returncode == 1 and "未通过 / REJECTED" in human.stdout and "signature_invalid" in human.stdout


def test_usage_errors_exit_2(workdir: Path) -> None:
    assert run("verify", "--keys", str(workdir / "keys")).returncode == 2
    assert run("verify", "--text", "x", "--keys", str(workdir / "nowhere")).returncode == 2
    assert run("verify", "--text", "x", "--keys", str(workdir / "keys"), "--now", "yesterday").returncode == 2
    assert run("example", "passport").returncode == 2


def test_issue_refuses_bad_claims_naming_the_field(workdir: Path) -> None:
    claims = json.loads((workdir / "id.json").read_text())
    claims["id_number"] = claims["id_number"][:-1] + ("0" if claims["id_number"][-1] != "0" else "1")
    (workdir / "bad.json").write_text(json.dumps(claims, ensure_ascii=False))
    res = run("issue", "id_card", "--keys", str(workdir / "keys"), "--claims", str(workdir / "bad.json"))
    assert res.returncode == 1
    assert "id_number" in res.stderr and "bad_check_digit" in res.stderr
    assert claims["id_number"] not in res.stderr


def test_present_and_verify_at_a_scenario_then_replay(workdir: Path) -> None:
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "internet_cafe", "--out", str(workdir / "p.png"))
    assert res.returncode == 0, res.stderr
    args = ["verify", "--image", str(workdir / "p.png"), "--keys", str(workdir / "keys"), "--scenario", "internet_cafe", "--replay-db", str(workdir / "replay.db"), "--json"]
    first = run(*args)
    assert first.returncode == 0, first.stdout
    assert set(json.loads(first.stdout)["claims"]) == {"name", "id_number_masked", "age_over_18"}
    again = run(*args)
    assert again.returncode == 1
    assert [f["code"] for f in json.loads(again.stdout)["failures"]] == ["replayed"]


def test_now_option_checks_as_of_another_moment(workdir: Path) -> None:
    # A moment after the licence was issued (the keys and the licence were made just now).
    start = dt.datetime.fromtimestamp(time.time() + 3600, dt.timezone(dt.timedelta(hours=8)))
    at = [(start + dt.timedelta(seconds=s)).isoformat(timespec="seconds") for s in (0, 30, 300)]
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "hotel", "--now", at[0])
    assert res.returncode == 0, res.stderr
    text = res.stdout.strip().splitlines()[-1]
    ok = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel", "--now", at[1], "--json")
    stale = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel", "--now", at[2], "--json")
    assert ok.returncode == 0, ok.stdout
    assert [f["code"] for f in json.loads(stale.stdout)["failures"]] == ["presentation_stale"]


def test_present_before_the_licence_was_issued_says_the_view_is_not_valid_yet(workdir: Path) -> None:
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "hotel", "--now", "2020-01-01T10:00:00+08:00")
    assert res.returncode == 2
    assert "not valid yet" in res.stderr and "尚未生效" in res.stderr


def test_register_records_only_policy_fields(workdir: Path) -> None:
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "hotel", "--type", "id_card")
    text = res.stdout.strip().splitlines()[-1]
    out = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel", "--register", str(workdir / "reg.db"), "--clerk", "room=0807")
    assert out.returncode == 0, out.stdout + out.stderr
    from scenarios import get_policy
    from scenarios.register import Register

    with Register(workdir / "reg.db") as reg:
        [row] = reg.rows("hotel")
    assert set(row["fields"]) == set(get_policy("hotel").register) | {"room"}


def test_demo_prints_six_valid_licences(tmp_path: Path) -> None:
    res = run("demo", "--out", str(tmp_path / "demo"), "--insecure-dev")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert sum("通过 / valid" in line for line in lines) == 6
    assert sum("拒绝 / replayed" in line for line in lines) == 6
    assert "UNENCRYPTED" in res.stdout + res.stderr


def test_register_names_a_missing_clerk_field(workdir: Path) -> None:
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "hotel", "--type", "id_card")
    text = res.stdout.strip().splitlines()[-1]
    out = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel", "--register", str(workdir / "reg2.db"))
    assert out.returncode == 2
    assert "room" in out.stderr and "必填" in out.stderr and "Traceback" not in out.stderr
    # checked before scanning: the same code still verifies once the clerk fills it in
    ok = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel", "--register", str(workdir / "reg2.db"), "--clerk", "room=0808", "--replay-db", str(workdir / "r2.db"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel", "--register", str(workdir / "reg2.db"), "--clerk", "room")
    assert bad.returncode == 2 and "FIELD=VALUE" in bad.stderr


def test_human_output_uses_the_licence_own_labels_in_field_order(workdir: Path) -> None:
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "hotel", "--type", "id_card")
    text = res.stdout.strip().splitlines()[-1]
    out = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel")
    assert out.returncode == 0, out.stdout
    lines = [line.strip() for line in out.stdout.splitlines() if line.startswith("  ") and not line.startswith("  !")]
    assert lines[0].startswith("姓名 Name:")  # an ID card's holder, not a vehicle licence's owner (车主姓名)
    assert "车主" not in out.stdout
    assert [line.split(" ", 1)[0] for line in lines] == ["姓名", "性别", "民族", "出生日期", "住址", "公民身份号码"]


def test_issue_out_is_for_the_holder_only_and_checked_before_issuing(workdir: Path) -> None:
    """The file holds the full credential (name, ID number, address): mode 600. A folder
    that does not exist is a usage error before anything is issued or recorded."""
    assert (workdir / "id.jws").stat().st_mode & 0o777 == 0o600
    missing = run("issue", "id_card", "--keys", str(workdir / "keys"), "--claims", str(workdir / "id.json"),
                  "--out", str(workdir / "no-such-folder" / "id.jws"))
    assert missing.returncode == 2 and "--out" in missing.stderr and "Traceback" not in missing.stderr


def test_a_window_matter_is_recorded_in_the_register_too(workdir: Path) -> None:
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "window", "--type", "id_card")
    text = res.stdout.strip().splitlines()[-1]
    assert run("status", "publish", "--keys", str(workdir / "keys"), "--out", str(workdir / "status")).returncode == 0
    out = run("verify", "--text", text, "--keys", str(workdir / "keys"), "--status", str(workdir / "status"),
              "--matter", "passport_application", "--register", str(workdir / "window.db"))
    assert out.returncode == 0, out.stdout + out.stderr
    from scenarios.register import Register

    with Register(workdir / "window.db") as reg:
        [row] = reg.rows("window")
    assert row["matter"] == "passport_application" and row["licence_type"] == "id_card"


@pytest.mark.parametrize("args", [
    ("verify", "--keys", "{keys}", "--matter", "no_such_matter", "--text", "x"),
    ("verify", "--keys", "{keys}", "{d}/no-such-file.txt"),
    ("qr", "{d}/no-such.jws", "--out", "{d}/x.png"),
    ("keys", "reissue", "--dir", "{d}/no-keys", "--kid=abc", "--wallet", "{d}/wallet", "--db", "{d}/issuer.db"),
    ("keys", "reissue", "--dir", "{keys}", "--kid=abc", "--wallet", "{d}/no-wallet", "--db", "{d}/issuer.db"),
    ("verify", "--keys", "{keys}", "--text", "x", "--replay-db", "{d}/no/such/folder/r.db"),
    ("audit", "verify", "--db", "{d}/no-such.db"),
    ("keys", "compromise", "--dir", "{keys}", "--kid=abc", "--since", "yesterday"),
])
def test_a_mistake_on_the_command_line_is_a_message_not_a_traceback(workdir: Path, args: tuple[str, ...]) -> None:
    out = run(*(a.format(keys=workdir / "keys", d=workdir) for a in args))
    assert out.returncode == 2 and out.stderr.startswith("certfree: error:") and "Traceback" not in out.stderr, out.stderr
    assert not (workdir / "no-such.db").exists()  # audit verify reads only: it makes no empty database


def test_wallet_init_refuses_a_short_passphrase(tmp_path: Path) -> None:
    res = subprocess.run([CERTFREE, "wallet", "init", "--dir", str(tmp_path / "w")], capture_output=True, text=True,
                         env={**ENV, "CERTFREE_WALLET_PASSPHRASE": "7"}, timeout=120)
    assert res.returncode == 2 and "at least 8 characters" in res.stderr and "至少需要 8 个字符" in res.stderr
    assert not (tmp_path / "w" / "device.key.pem").exists()


def test_renew_views_gives_a_wallet_new_views_its_desk_accepts(tmp_path: Path) -> None:
    d = tmp_path
    cli = runner(d)

    def ago(days: int) -> str:
        return dt.datetime.fromtimestamp(time.time() - days * 86400, dt.timezone.utc).isoformat()

    assert cli("keys", "init", "--dir", str(d / "keys"), "--now", ago(365)).returncode == 0
    assert cli("wallet", "init", "--dir", str(d / "wallet")).returncode == 0
    (d / "id.json").write_text(cli("example", "id_card").stdout)
    month_ago = ago(35)
    assert cli("issue", "id_card", "--keys", str(d / "keys"), "--claims", str(d / "id.json"), "--wallet", str(d / "wallet"),
               "--now", month_ago).returncode == 0
    expired = cli("present", "--wallet", str(d / "wallet"), "--scenario", "hotel")
    assert expired.returncode == 2 and "expired" in expired.stderr
    renewed = cli("renew-views", "--keys", str(d / "keys"), "--wallet", str(d / "wallet"))
    assert renewed.returncode == 0 and "1 licence(s) got new views" in renewed.stdout, renewed.stderr
    text = cli("present", "--wallet", str(d / "wallet"), "--scenario", "hotel").stdout.strip().splitlines()[-1]
    checked = cli("verify", "--text", text, "--keys", str(d / "keys"), "--scenario", "hotel", "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)["type"] == "id_card"
    again = cli("renew-views", "--keys", str(d / "keys"), "--wallet", str(d / "wallet"))
    assert "0 licence(s) got new views" in again.stdout  # fresh views are left as they are


def _hotel_code(workdir: Path) -> str:
    res = run("present", "--wallet", str(workdir / "wallet"), "--scenario", "hotel", "--type", "id_card")
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


def _personal_data(workdir: Path) -> list[str]:
    claims = json.loads((workdir / "id.json").read_text())
    return [claims["name"], claims["id_number"], claims["address"]]


def test_a_register_that_cannot_be_written_is_a_coded_message_without_personal_data(workdir: Path) -> None:
    import sqlite3

    from scenarios.register import Register

    Register(workdir / "refusing.db").close()
    db = sqlite3.connect(workdir / "refusing.db")  # every INSERT fails, as on a locked file or a full disk
    db.execute("CREATE TRIGGER refuse BEFORE INSERT ON register_entries BEGIN SELECT RAISE(ABORT, 'refused'); END")
    db.commit()
    db.close()
    out = run("verify", "--text", _hotel_code(workdir), "--keys", str(workdir / "keys"), "--scenario", "hotel",
              "--register", str(workdir / "refusing.db"), "--clerk", "room=0807")
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("certfree: error: register_unavailable:") and "Traceback" not in out.stderr
    assert "登记簿" in out.stderr and "register" in out.stderr and "refusing.db" in out.stderr
    assert "未登记" in out.stderr and "NOT recorded" in out.stderr
    for value in _personal_data(workdir):
        assert value not in out.stderr and value not in out.stdout


def test_a_bad_register_or_replay_database_never_spends_the_code(workdir: Path) -> None:
    """The register and the replay database are opened before the code is verified: a
    wrong path is a usage error, and the same code is accepted once the path is right."""
    (workdir / "not-a-db.db").write_bytes(b"this is not a database file, just some text" * 20)
    text = _hotel_code(workdir)
    common = ["verify", "--text", text, "--keys", str(workdir / "keys"), "--scenario", "hotel", "--clerk", "room=0807"]
    bad_register = run(*common, "--replay-db", str(workdir / "spend.db"), "--register", str(workdir / "not-a-db.db"))
    assert bad_register.returncode == 2, bad_register.stdout + bad_register.stderr
    assert bad_register.stderr.startswith("certfree: error: register_unavailable:") and "Traceback" not in bad_register.stderr
    assert "二维码仍可使用" in bad_register.stderr and "still good" in bad_register.stderr
    bad_replay = run(*common, "--replay-db", str(workdir / "not-a-db.db"), "--register", str(workdir / "spend-reg.db"))
    assert bad_replay.returncode == 2 and bad_replay.stderr.startswith("certfree: error: --replay-db"), bad_replay.stderr
    assert "Traceback" not in bad_replay.stderr and "已扫码记录库" in bad_replay.stderr
    good = run(*common, "--replay-db", str(workdir / "spend.db"), "--register", str(workdir / "spend-reg.db"))
    assert good.returncode == 0, good.stdout + good.stderr


@pytest.fixture(scope="module")
def bad_files(workdir: Path) -> Path:
    """Files a tired operator may name by mistake: a PNG where text is expected, a folder of
    handed-back licences holding a binary .jws and a .json that is no licence."""
    d = workdir / "bad-files"
    d.mkdir()
    (d / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (d / "binary").mkdir()
    (d / "binary" / "a.jws").write_bytes(b"\xff\xfe\x00not text")
    (d / "notjson").mkdir()
    (d / "notjson" / "a.json").write_text('{"credential": "not.a.jws"}')
    return d


@pytest.mark.parametrize("args", [
    ("verify", "{b}/photo.png", "--keys", "{keys}"),
    ("present", "--wallet", "{d}/wallet", "--scenario", "hotel", "--out", "{d}/x.jpg"),
    ("verify", "--keys", "{keys}", "--text", "x", "--replay-db", "{d}"),
    ("verify", "--keys", "{keys}", "--text", "x", "--replay-db", "{b}/photo.png"),
    ("keys", "reissue", "--dir", "{keys}", "--kid=abc", "--from", "{b}/binary", "--out", "{b}/out", "--db", "{d}/issuer.db"),
    ("keys", "reissue", "--dir", "{keys}", "--kid=abc", "--from", "{b}/notjson", "--out", "{b}/out", "--db", "{d}/issuer.db"),
    ("status", "list", "--db", "postgres://clerk:s3cret-pw@localhost/certfree"),
    ("status", "list", "--db", "{b}/photo.png"),
    ("verify", "--keys", "{keys}", "--image", "{d}/no-such-image.png"),
    ("verify", "--keys", "{keys}", "--text", "x", "--status", "{d}/no-such-status"),
])
def test_a_wrong_file_or_url_is_a_bilingual_usage_error_never_a_rejection(
        workdir: Path, bad_files: Path, args: tuple[str, ...]) -> None:
    """Exit 1 means only "not valid": a file or URL mistake is exit 2 with a message in both
    languages, never a traceback (and never a database password)."""
    out = run(*(a.format(keys=workdir / "keys", d=workdir, b=bad_files) for a in args))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith("certfree: error:") and "Traceback" not in out.stderr, out.stderr
    assert any("\u4e00" <= ch <= "\u9fff" for ch in out.stderr), out.stderr
    assert "s3cret-pw" not in out.stderr


def test_an_unsupported_database_url_says_which_forms_work(workdir: Path) -> None:
    out = subprocess.run([CERTFREE, "status", "list"], capture_output=True, text=True, timeout=120,
                         env={**ENV, "CERTFREE_DATABASE_URL": "postgres://clerk:s3cret-pw@localhost/certfree"})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "sqlite:///" in out.stderr and "postgresql+psycopg://" in out.stderr and "s3cret-pw" not in out.stderr


def test_an_unexpected_error_is_an_internal_error_exit_3_without_its_text(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import app
    import issuer.cli

    def broken(args: object) -> int:
        raise RuntimeError("李华 110101199003070038")  # an exception's text may hold personal data

    monkeypatch.setattr(issuer.cli, "cmd_example", broken)
    assert app.main(["example", "id_card"]) == 3
    err = capsys.readouterr().err
    assert "内部错误 / internal error: RuntimeError" in err
    assert "李华" not in err and "110101199003070038" not in err and "Traceback" not in err


def test_a_rejection_says_what_exactly_failed(tmp_path: Path, workdir: Path) -> None:
    picture = tmp_path / "code.tiff"  # a format the desk does not read
    from PIL import Image

    Image.new("1", (40, 40), 1).save(picture)
    res = run("verify", "--image", str(picture), "--keys", str(workdir / "keys"))
    assert res.returncode == 1
    assert "x malformed: 二维码或凭证格式错误 / the QR code or credential is malformed (not a readable image)" in res.stdout


def test_a_wallet_with_two_e_bikes_lists_them_and_presents_the_one_named(tmp_path: Path) -> None:
    """Two e-bikes of one resident: ``wallet list`` shows both plates and ids, and
    ``present --licence`` shows the bike named by its plate or its id, whichever was issued
    last; without it, the one issued last, as before."""
    d = tmp_path
    cli = runner(d)

    assert cli("keys", "init", "--dir", str(d / "keys")).returncode == 0
    assert cli("wallet", "init", "--dir", str(d / "wallet")).returncode == 0
    empty = cli("wallet", "list", "--dir", str(d / "wallet"))
    assert empty.returncode == 0 and "holds no licence" in empty.stdout and "没有证照" in empty.stdout
    bike = json.loads(cli("example", "ebike_registration").stdout)
    plates = ["京AH37021", "京AH37022"]
    for plate in plates:  # the second issued after the first: the one shown by default
        (d / "bike.json").write_text(json.dumps({**bike, "plate": plate}, ensure_ascii=False))
        issued = cli("issue", "ebike_registration", "--keys", str(d / "keys"), "--claims", str(d / "bike.json"),
                     "--wallet", str(d / "wallet"))
        assert issued.returncode == 0, issued.stderr
        time.sleep(1.1)  # a later iat
    listed = cli("wallet", "list", "--dir", str(d / "wallet"))
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line.startswith("ebike_registration")]
    assert len(lines) == 2 and [p for p in plates if any(p in line for line in lines)] == plates
    ids = {p: line.split(" id ", 1)[1].split()[0] for p in plates for line in lines if p in line}
    assert all("ebike_check" in line for line in lines)

    told: list[str] = []

    def shown(*choice: str) -> str:
        res = cli("present", "--wallet", str(d / "wallet"), "--scenario", "ebike_check", *choice)
        assert res.returncode == 0, res.stderr
        told.append(res.stderr)
        text = res.stdout.strip().splitlines()[-1]
        out = cli("verify", "--text", text, "--keys", str(d / "keys"), "--scenario", "ebike_check", "--json")
        assert out.returncode == 0, out.stdout
        return str(json.loads(out.stdout)["claims"]["plate"])

    assert shown() == plates[1]
    assert f"holds 2 ebike_registration licences: showing {plates[1]}" in told[-1] and "--licence" in told[-1]
    assert shown("--licence", plates[0]) == plates[0]
    assert "holds 2" not in told[-1]  # chosen: nothing to say
    assert shown("--licence", ids[plates[1]]) == plates[1]
    assert shown("--licence", ids[plates[0]]) == plates[0]
    unknown = cli("present", "--wallet", str(d / "wallet"), "--scenario", "ebike_check", "--licence", "京AH00000")
    assert unknown.returncode == 2 and "京AH00000" in unknown.stderr and "certfree wallet list" in unknown.stderr
    assert "Traceback" not in unknown.stderr
