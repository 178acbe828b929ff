"""Debian's Chromium driven by Playwright, for the browser tests: skipped locally when
either is missing, a failure in CI (``service_fixtures.require_in_ci``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from service_fixtures import require_in_ci

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def playwright_session() -> Iterator[Any]:
    """Playwright (for a fixture to yield from), once Chromium and the package are there."""
    if not Path(CHROMIUM).exists():
        require_in_ci(CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_in_ci("the playwright package")
    with sync_playwright() as p:
        yield p


def launch(playwright: Any, *extra: str) -> Any:
    """Chromium headless with the tests' arguments and ``extra`` ones (a fake camera...)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra], headless=True)
