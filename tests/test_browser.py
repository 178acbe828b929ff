"""Real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against the
running service: the demo resident's phone shows an internet-cafe code, which is decoded
from a screenshot with zxing-cpp and verified with the SDK, then uploaded on the desk page
and recorded. (The phone itself: tests/test_wallet_pwa.py.) Locally these skip without
chromium; in CI they fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from browser_fixtures import SHORT_FRESHNESS, browser, live, log_in_resident, read_qr, sdk_verifier  # noqa: F401  (fixtures)


def _open_cafe_qr(page: Any, base: str) -> None:
    log_in_resident(page, base)
    if page.is_visible("#enrol-device"):
        page.click("#enrol-device")
    page.wait_for_selector("#devices-section", state="visible")  # the list page shows the phones
    page.click('li[data-type="id_card"] a[data-scenario="internet_cafe"]')
    page.wait_for_selector("#qr", state="visible")


def test_the_phone_s_code_verifies_and_the_desk_accepts_its_screenshot(browser: Any, live: dict[str, Any], tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 800, "height": 1100})
    _open_cafe_qr(page, live["url"])
    assert "居民身份证" in page.inner_text("#code-title")
    assert int(page.inner_text("#countdown")) <= SHORT_FRESHNESS
    assert not page.is_visible("#devices-section")  # nothing under the code to tap by mistake
    shot = page.screenshot(full_page=True)
    (tmp_path / "qr-page.png").write_bytes(shot)
    text = read_qr(shot)
    result = sdk_verifier(live["app"], policies_dir=live["app"].config["POLICIES_DIR"]).verify(text, scenario="internet_cafe")
    assert result.licence_type == "id_card" and result.claims["age_over_18"] is True

    desk = browser.new_page(viewport={"width": 800, "height": 1100})
    from issuer.service.demo import DESK_PASSWORD, DESK_USER

    desk.goto(f"{live['url']}/desk/")  # the desk page asks the clerk to log in first
    desk.wait_for_url(re.compile(r".*/desk/login$"))
    desk.fill("input[name=username]", DESK_USER)
    desk.fill("input[name=password]", DESK_PASSWORD)
    desk.click("#login")
    desk.wait_for_url(re.compile(r".*/desk/$"))
    desk.select_option("#scenario", "internet_cafe")
    desk.set_input_files("#image", str(tmp_path / "qr-page.png"))
    desk.click("#verify")
    desk.wait_for_selector("#result")
    assert "通过 / accepted" in desk.inner_text("#result")
    desk.fill("input[name=terminal]", "B-12")
    desk.click("#record")
    desk.wait_for_selector("#recorded")
    page.close()
    desk.close()
