"""Real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against the
running service: the demo resident's live QR page, decoded from a screenshot with zxing-cpp
and verified with the SDK, then uploaded on the desk page; and the page renewing its code
once the freshness window has passed. Locally these skip without chromium; in CI they fail.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from chromium import launch, playwright_session
from service_fixtures import make_app

SHORT_FRESHNESS = 10  # the policy loader's minimum; the page renews 3 s before it ends


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    for p in playwright_session():
        b = launch(p)
        yield b
        b.close()


def _short_policies(folder: Path) -> Path:
    from scenarios.policy import POLICIES_DIR

    shutil.copytree(POLICIES_DIR, folder)
    cafe = folder / "internet_cafe.toml"
    cafe.write_text(re.sub(r"(?m)^freshness_seconds = \d+", f"freshness_seconds = {SHORT_FRESHNESS}", cafe.read_text("utf-8")), "utf-8")
    return folder


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The service with the demo data (``make run``'s), served on 127.0.0.1 in a thread."""
    from werkzeug.serving import make_server

    from issuer.service import demo

    root = tmp_path_factory.mktemp("live")
    app = make_app(root, root / "keys", POLICIES_DIR=str(_short_policies(root / "policies")))
    info = demo.prepare(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "app": app, "info": info}
    server.shutdown()


def _sdk_verifier(app: Any) -> Any:
    from keys import KeyDir
    from scenarios import load_policies
    from verifier import MemoryReplayCache, Verifier, load_trust_list

    store = KeyDir(app.config["KEYS_DIR"])
    return Verifier(load_trust_list(store.trust_list(), store.root_public_jwk()), replay_cache=MemoryReplayCache(),
                    policies=load_policies(app.config["POLICIES_DIR"]))


def _decode(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert results, "no QR code found in the screenshot"
    return str(results[0].text)


def _open_cafe_qr(page: Any, base: str) -> None:
    from issuer.service.demo import DEMO_PASSWORD, DEMO_USER

    page.goto(f"{base}/wallet/login")
    page.fill("input[name=username]", DEMO_USER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/wallet/$"))
    page.click('li[data-type="id_card"] a[data-scenario="internet_cafe"]')
    page.wait_for_selector("#qr-image")


def test_qr_page_screenshot_verifies_and_the_desk_accepts_it(browser: Any, live: dict[str, Any], tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 800, "height": 1100})
    _open_cafe_qr(page, live["url"])
    assert "居民身份证" in page.inner_text("#licence-name")
    assert int(page.inner_text("#countdown")) <= SHORT_FRESHNESS
    shot = page.screenshot(full_page=True)
    (tmp_path / "qr-page.png").write_bytes(shot)
    text = _decode(shot)
    result = _sdk_verifier(live["app"]).verify(text, scenario="internet_cafe")
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


def test_qr_page_renews_after_the_freshness_window(browser: Any, live: dict[str, Any]) -> None:
    page = browser.new_page(viewport={"width": 800, "height": 1100})
    _open_cafe_qr(page, live["url"])
    first_at = int(page.get_attribute("#qr-image", "data-presented-at") or 0)
    first_text = _decode(page.screenshot())
    time.sleep(max(0.0, first_at + SHORT_FRESHNESS + 1 - time.time()))  # past the window
    second_at = int(page.get_attribute("#qr-image", "data-presented-at") or 0)
    second_text = _decode(page.screenshot())
    assert second_at > first_at and second_text != first_text
    assert 0 < int(page.inner_text("#countdown")) <= SHORT_FRESHNESS
    verifier = _sdk_verifier(live["app"])
    assert verifier.verify(second_text, scenario="internet_cafe").licence_type == "id_card"
    from verifier import VerificationFailed

    skew = verifier.policies["internet_cafe"].clock_skew_seconds
    with pytest.raises(VerificationFailed) as stale:  # the first code, once its window (and skew) has passed
        verifier.verify(first_text, scenario="internet_cafe", now=first_at + SHORT_FRESHNESS + skew + 1)
    assert any("stale" in code for code in stale.value.codes)
    page.close()


def test_qr_page_asks_to_log_in_again_once_the_session_has_ended(browser: Any, live: dict[str, Any]) -> None:
    """A log-out in another tab ends the QR page's session: at its next renewal the page
    stops, hides the stale code and says so, with a link to the log-in page."""
    context = browser.new_context(viewport={"width": 800, "height": 1100})
    page = context.new_page()
    _open_cafe_qr(page, live["url"])
    assert page.is_hidden("#qr-ended")
    other = context.new_page()  # another tab: its log-out ends every session of the demo resident (so this test runs last)
    other.goto(f"{live['url']}/wallet/")
    other.click("header form button[type=submit]")
    other.wait_for_url(re.compile(r".*/wallet/login$"))
    page.wait_for_selector("#qr-ended", state="visible", timeout=(SHORT_FRESHNESS + 5) * 1000)
    assert "请重新登录 / please log in again" in page.inner_text("#qr-ended")
    assert "/wallet/login" in (page.get_attribute("#qr-ended a", "href") or "")
    assert page.is_hidden("#qr-image")
    fetches: list[str] = []
    page.on("request", lambda request: fetches.append(request.url) if "qr.json" in request.url else None)
    page.wait_for_timeout(3000)
    assert fetches == []  # it stopped asking
    context.close()
