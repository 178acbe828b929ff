"""The command line speaks both languages for every mistake it reports, names the file or
option, never prints a raw errno, keeps keys out of the source tree, and creates the files
holding proofs, registers or keys readable by their owner alone."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def _certfree(*args: str, cwd: Path, passphrase: str | None = "a long issuer passphrase") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CERTFREE_WALLET_PASSPHRASE": "the phone owner passphrase"}
    env.pop("CERTFREE_KEY_PASSPHRASE", None)
    if passphrase is not None:
        env["CERTFREE_KEY_PASSPHRASE"] = passphrase
    return subprocess.run([str(Path(sys.executable).parent / "certfree"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-errors")
    assert _certfree("keys", "init", "--dir", "k", cwd=folder).returncode == 0
    assert _certfree("wallet", "init", "--dir", "phone", cwd=folder).returncode == 0
    (folder / "id.json").write_text(_certfree("example", "id_card", cwd=folder).stdout, "utf-8")
    return folder


@pytest.mark.parametrize("args, passphrase, names", [
    (("keys", "init", "--dir", "fresh"), None, "CERTFREE_KEY_PASSPHRASE"),          # no passphrase
    (("keys", "init", "--dir", "k"), "a long issuer passphrase", "k"),              # over existing keys
    (("issue", "id_card", "--keys", "k", "--claims", "id.json", "--wallet", "phone"), "a wrong passphrase!", ".key.pem"),
    (("verify", "--keys", "nowhere", "--image", "id.json"), "x" * 12, "nowhere"),   # --keys: a missing folder
    (("status", "publish", "--keys", "nowhere", "--out", "st"), "x" * 12, "nowhere"),
    (("issue", "id_card", "--keys", "k", "--claims", "missing.json", "--wallet", "phone"), "a long issuer passphrase", "missing.json"),
    (("verify", "--keys", "k", "--image", "missing.png"), None, "missing.png"),
    (("keys", "init", "--dir", str(ROOT / "keys" / "private")), "a long issuer passphrase", "keys/"),  # the source tree
    (("wallet", "init", "--dir", str(ROOT / "wallet" / "phone")), None, "wallet/"),
])
def test_a_mistake_is_named_in_both_languages_with_no_errno(work: Path, args: tuple[str, ...], passphrase: str | None,
                                                            names: str) -> None:
    done = _certfree(*args, cwd=work, passphrase=passphrase)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    message = done.stderr.strip()
    assert message.startswith("certfree: error:") and names in message, message
    assert CJK.search(message) and re.search(r"[A-Za-z]{4,}", message), message
    assert "Errno" not in message and "Traceback" not in message
    assert not (ROOT / "keys" / "private").exists() and not (ROOT / "wallet" / "phone").exists()


def test_files_holding_proofs_registers_and_keys_are_the_owner_s_alone(work: Path) -> None:
    old = os.umask(0o022)
    try:
        issued = _certfree("issue", "id_card", "--keys", "k", "--claims", "id.json", "--wallet", "phone", cwd=work)
        assert issued.returncode == 0, issued.stderr
        shown = _certfree("present", "--wallet", "phone", "--scenario", "hotel", "--out", "hotel.png", cwd=work)
        assert shown.returncode == 0, shown.stderr
        checked = _certfree("verify", "--image", "hotel.png", "--keys", "k", "--scenario", "hotel", "--replay-db", "desk.db",
                            "--register", "hotel.db", "--clerk", "room=0807", cwd=work)
        assert checked.returncode == 0, checked.stderr
    finally:
        os.umask(old)
    private = [work / "desk.db", work / "hotel.db", work / "hotel.png", *(work / "k").rglob("*.key.pem"),
               *(work / "phone").rglob("*.pem"), *(work / "phone" / "licences").glob("*.json")]
    assert len(private) >= 8
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
