"""The packages ship py.typed, so their type hints are a promise: mypy must accept them."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_accepts_the_packages() -> None:
    out, err, status = api.run(
        ["--ignore-missing-imports", "--no-error-summary", "--cache-dir", str(ROOT / ".mypy_cache"),
         *(str(ROOT / p) for p in ("keys", "verifier", "wallet", "issuer", "scenarios", "desk", "app.py"))]
    )
    assert status == 0, out + err
