"""A pytest plugin: every log record of the whole test run goes to one file, and at the
end the run fails if any line holds a secret or a full ID number.

The secrets are the ones the suite itself uses: the demo resident's and the minor's ID
numbers, the key and wallet passphrases, and PEM private-key markers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

LOG_FILE = Path(__file__).resolve().parent.parent / ".pytest-logs" / "run.log"


def secrets() -> dict[str, str]:
    from conftest import PASSPHRASE
    from issuer.schemas import example, minor_example

    found = {
        "demo ID number": str(example("id_card")["id_number"]),
        "minor ID number": str(minor_example()["id_number"]),
        "key passphrase": PASSPHRASE.decode(),
        "CLI key passphrase": "cli test passphrase",
        "private key": "PRIVATE KEY-----",
    }
    return found


def scan(path: Path) -> list[str]:
    """The lines of ``path`` that hold a secret, named by what they hold (not echoed)."""
    hits = []
    needles = secrets()
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            for what, needle in needles.items():
                if needle in line:
                    hits.append(f"{path.name}:{number}: {what}")
    return hits


_handler: logging.Handler | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _handler
    LOG_FILE.parent.mkdir(exist_ok=True)
    _handler = logging.FileHandler(LOG_FILE, mode="w", encoding="utf-8")
    _handler.setLevel(logging.DEBUG)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(_handler)
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is None:
        return
    logging.getLogger().removeHandler(_handler)
    _handler.close()
    hits = scan(LOG_FILE)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.ensure_newline()
    if hits:
        if reporter:
            reporter.write_line(f"LOG SCAN FAILED: {len(hits)} log lines hold secrets or ID numbers:", red=True)
            for hit in hits[:20]:
                reporter.write_line("  " + hit, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        size = LOG_FILE.stat().st_size
        reporter.write_line(f"log scan: {LOG_FILE.name} ({size} bytes) holds no secrets or ID numbers")
