"""The log scanner itself: it must find a planted secret (else the end-of-run scan proves nothing)."""

from __future__ import annotations

import logging
from pathlib import Path

from logscan import LOG_FILE, scan
from issuer.schemas import example


def test_scanner_finds_a_planted_id_number(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text(f"INFO fine\nWARNING resident {example('id_card')['id_number']} checked in\n", "utf-8")
    assert scan(log) == ["x.log:2: demo ID number"]


def test_run_log_is_being_written() -> None:
    logging.getLogger("certfree.test").warning("log scan probe")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "log scan probe" in LOG_FILE.read_text("utf-8")
