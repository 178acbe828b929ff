"""Fixtures for the real-browser tests: Debian's /usr/bin/chromium driven by Playwright
(``tests/chromium.py``), and
the service with the demo data (``make run``'s) served on 127.0.0.1 in a thread, its
internet-café freshness window cut to SHORT_FRESHNESS seconds. Locally the browser tests
skip without chromium; in CI they fail.

Use with ``from browser_fixtures import browser, live``.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
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
    yield {"url": f"http://127.0.0.1:{server.server_port}", "app": app, "info": info, "root": root}
    server.shutdown()


def read_qr(png: bytes) -> str:
    """The text of the one QR code in a screenshot, read by zxing-cpp."""
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, "expected exactly one QR code in the screenshot"
    return str(found[0].text)


def log_in_resident(page: Any, base: str) -> None:
    """Log the demo resident in on the wallet page's own form."""
    from issuer.service.demo import DEMO_PASSWORD, DEMO_USER

    page.goto(f"{base}/wallet/")
    page.fill("input[name=username]", DEMO_USER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("#login")
    page.wait_for_url(re.compile(r".*/wallet/$"))


def sdk_verifier(app: Any, status_dir: Path | None = None, policies_dir: str | None = None) -> Any:
    """An offline desk: the SDK with the service's trust list, and the status lists a desk
    synced into ``status_dir`` and the policies in ``policies_dir`` when given."""
    from keys import KeyDir
    from scenarios import load_policies
    from verifier import MemoryReplayCache, Verifier, load_status_lists, load_trust_list

    store = KeyDir(app.config["KEYS_DIR"])
    trust = load_trust_list(store.trust_list(), store.root_public_jwk())
    status = load_status_lists(status_dir, trust) if status_dir else None
    return Verifier(trust, replay_cache=MemoryReplayCache(), status=status, policies=load_policies(policies_dir))
