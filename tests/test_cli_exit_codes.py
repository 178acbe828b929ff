"""The command line's exit codes, called in process (so that `make mutate` reaches them).

0 valid, 1 not valid, 2 a usage error (a mistake on the command line, a missing file or
folder, a key store or database that cannot be used), 3 an internal error. A window's
script branches on these numbers, so each is held here to the case that gives it, with
the line the person at the desk reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import app
from desk import verify_cli

NOW = "2026-06-01T10:00:00+08:00"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key store, a wallet and one ID card issued by the command line, in process."""
    root = tmp_path_factory.mktemp("cli-exit")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CERTFREE_KEY_PASSPHRASE", "a long issuer passphrase")
        env.setenv("CERTFREE_WALLET_PASSPHRASE", "the phone owner passphrase")
        env.chdir(root)
        assert app.main(["keys", "init", "--dir", "keys", "--now", "2026-01-01T00:00:00+08:00"]) == 0
        assert app.main(["wallet", "init", "--dir", "phone"]) == 0
        claims = root / "id.json"
        from issuer.schemas.examples import example

        claims.write_text(json.dumps(example("id_card")), "utf-8")
        assert app.main(["issue", "id_card", "--keys", "keys", "--claims", str(claims), "--wallet", "phone",
                         "--out", "id.jws", "--db", "issuer.db", "--now", "2026-01-02T00:00:00+08:00"]) == 0
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = app.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_valid_licence_exits_0(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "verify", str(store / "id.jws"), "--keys", str(store / "keys"), "--now", NOW)
    assert code == 0, err
    assert "未通过" not in out and err == ""


def test_a_refused_licence_exits_1_naming_the_check(store: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (store / "id.jws").read_text("ascii").strip()
    forged = tmp_path / "forged.jws"
    forged.write_text(text[:-6] + ("AAAAAA" if not text.endswith("AAAAAA") else "BBBBBB"), "ascii")
    code, out, _ = _run(capsys, "verify", str(forged), "--keys", str(store / "keys"), "--now", NOW)
    assert code == 1
    assert "\n未通过 / REJECTED\n  x signature_invalid: 签发机关签名无效" in out
    code, out, _ = _run(capsys, "verify", str(store / "id.jws"), "--keys", str(store / "keys"), "--now", "2030-01-01T00:00:00+08:00")
    assert code == 1 and "expired" in out


def test_one_refused_among_several_exits_1(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = (store / "id.jws").read_text("ascii").strip()
    code, _, _ = _run(capsys, "verify", "--text", good, "--text", "CF1:not-a-code", "--keys", str(store / "keys"), "--now", NOW)
    assert code == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("verify", "--keys", "{keys}"), "certfree: error: give --image PNG, --text TEXT or a FILE / 请给出 --image 图片、--text 文本或文件\n"),
        (("verify", "--image", "{root}/absent.png", "--keys", "{keys}"), "certfree: error: --image {root}/absent.png: no such file / 没有这个文件\n"),
        (("verify", "{root}/id.jws", "--keys", "{root}"), "certfree: error: --keys: cannot read the trust list or root key in {root} / 无法读取信任列表或根公钥\n"),
        (("verify", "{root}/id.jws", "--keys", "{keys}", "--now", "yesterday"), "certfree: error: --now: not an ISO 8601 time: 'yesterday' / 不是 ISO 8601 时间\n"),
        (("qr", "{root}/absent.jws", "--out", "{root}/x.png"), "certfree: error: {root}/absent.jws: No such file or directory / 文件或文件夹无法读写\n"),
    ],
    ids=["no-input", "no-image", "no-trust-list", "bad-time", "no-file"],
)
def test_a_usage_error_exits_2_with_its_line(store: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], says: str) -> None:
    fill = {"root": str(store), "keys": str(store / "keys")}
    code, out, err = _run(capsys, *(a.format(**fill) for a in argv))
    assert (code, out, err) == (2, "", says.format(**fill))


def test_a_key_store_that_is_not_there_exits_2(store: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "keys", "rotate", "--dir", str(tmp_path / "none"), "--authority", sorted(_authorities())[0])
    assert code == 2
    assert err.startswith("certfree: error: ") and "Traceback" not in err


def _authorities() -> set[str]:
    from keys.authorities import AUTHORITIES

    return set(AUTHORITIES)


def test_a_damaged_database_exits_2_naming_the_cause_not_its_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    damaged = tmp_path / "issuer.db"
    damaged.write_bytes(b"this is not a database, only 62 bytes of plain text in a file.")
    code, out, err = _run(capsys, "status", "list", "--db", str(damaged))
    assert code == 2 and out == ""
    assert "(not a database file, or damaged)" in err and "不是数据库文件或已损坏" in err, err


def test_a_bug_exits_3_with_its_type_and_place_only(store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("王小明 110101199001011234")  # a bug whose text holds personal data

    monkeypatch.setattr(verify_cli, "cmd_verify", broken)
    code, out, err = _run(capsys, "verify", "--text", "x", "--keys", str(store / "keys"))
    assert code == 3 and out == ""
    assert err.startswith("certfree: 内部错误 / internal error: RuntimeError at test_cli_exit_codes.py:")
    assert err.endswith("; 请将此行报告给技术支持 / please report this line\n")
    assert "王小明" not in err and "110101" not in err


def test_a_command_line_argparse_refuses_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        app.main(["verify", "--scenario", "casino"])
    assert info.value.code == 2
    assert "invalid choice: 'casino'" in capsys.readouterr().err


def test_a_setting_that_cannot_be_used_exits_2_naming_it(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a session secret from a file\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CERTFREE_SECRET_KEY", "a session secret")
    monkeypatch.setenv("CERTFREE_SECRET_KEY_FILE", str(secret))
    monkeypatch.setenv("CERTFREE_DESK_PASSWORD", "a long clerk password 1")
    code, out, err = _run(capsys, "desk-clerk", "add", "--username", "clerk1")
    assert (code, out) == (2, "")
    assert err == ("certfree: error: both CERTFREE_SECRET_KEY and CERTFREE_SECRET_KEY_FILE are set: keep one / "
                   "CERTFREE_SECRET_KEY 与 CERTFREE_SECRET_KEY_FILE 只能设置一个\n")
