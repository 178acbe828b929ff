"""The README's worked example runs as written: every command, in order, in a new folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def example_commands() -> list[tuple[str, int]]:
    """(command, expected exit code) for each line of the worked example's shell block; a
    line whose comment says REJECTED is expected to exit 1."""
    text = README.read_text("utf-8")
    block = text[text.index("## A worked example"):]
    block = block[block.index("```sh") + len("```sh"):]
    block = block[: block.index("```")]
    out = []
    for line in block.splitlines():
        if not line.strip() or line.startswith((".", "#", "export")):
            continue
        command, _, comment = line.partition("   #")
        out.append((command.strip(), 1 if "REJECTED" in comment else 0))
    return out


def test_worked_example(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           "CERTFREE_KEY_PASSPHRASE": "a long issuer passphrase", "CERTFREE_WALLET_PASSPHRASE": "the phone owner passphrase"}
    env.pop("CERTFREE_DATABASE_URL", None)
    commands = example_commands()
    assert len(commands) >= 15 and any(code == 1 for _, code in commands)
    last, cwd = None, tmp_path
    for command, expected in commands:
        if command.startswith("mkdir -p ") and " && cd " in command:  # the example's own working folder
            cwd = cwd / command.rsplit(" && cd ", 1)[1].strip()
            cwd.mkdir(parents=True, exist_ok=True)
            continue
        last = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert last.returncode == expected, f"{command}\n{last.stdout}\n{last.stderr}"
    assert last is not None and "办结条件齐全 / complete" in last.stdout
    assert cwd != tmp_path and sorted(p.name for p in tmp_path.iterdir()) == [cwd.name]  # all of it in "try"


def failure_table() -> dict[str, tuple[str, str]]:
    """The README's failure-code table: code -> (English, Chinese)."""
    text = README.read_text("utf-8")
    table = text[text.index("### Failure codes"):]
    table = table[: table.index("\n## ")]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_failure_code_table_is_the_verifier_s_own_text() -> None:
    """Every failure the verifier can report is in the table, word for word in both
    languages, and the table names no code the verifier does not have."""
    from verifier import ALL_ERRORS

    assert failure_table() == {cls.code: (cls.message, cls.message_zh) for cls in ALL_ERRORS}
