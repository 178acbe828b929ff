"""Screenshots of the wallet for docs/screenshots/: a 390 x 844 phone (log-in, enrolment,
licences, a code with the network off) and a 1280 x 800 desktop, from the service with the
demo data, in headless Chromium. Run from the repository root:

    .venv/bin/python wallet/web/tools/screenshots.py

Look at every picture before committing it.
"""

from __future__ import annotations

import re
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from app import create_app
    from issuer.service import db, demo

    root = Path(tempfile.mkdtemp(prefix="certfree-shots-"))
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(root / "instance"), "KEYS_DIR": str(root / "keys"),
                      "DATABASE_URL": f"sqlite:///{root / 'certfree.db'}", "SESSION_COOKIE_SECURE": False,
                      "SECRET_KEY": "screenshots"})
    db.upgrade(app)
    demo.prepare(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True)
        page = phone.new_page()
        page.goto(f"{base}/wallet/")
        page.screenshot(path=OUT / "wallet-login.png")
        page.fill("input[name=username]", demo.DEMO_USER)
        page.fill("input[name=password]", demo.DEMO_PASSWORD)
        page.click("#login")
        page.wait_for_url(re.compile(r".*/wallet/$"))
        page.wait_for_selector("#enrol-device", state="visible")
        page.screenshot(path=OUT / "wallet-enrol.png")
        page.click("#enrol-device")
        page.wait_for_selector('li[data-type="id_card"]')
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.screenshot(path=OUT / "wallet-licences.png")
        phone.set_offline(True)
        page.reload()
        page.goto(f"{base}/wallet/#/id_card/hotel")
        page.wait_for_selector("#qr", state="visible")
        page.screenshot(path=OUT / "wallet-code-offline.png")
        desktop = browser.new_context(viewport={"width": 1280, "height": 800})
        page = desktop.new_page()
        page.goto(f"{base}/wallet/")
        page.fill("input[name=username]", demo.DEMO_USER)
        page.fill("input[name=password]", demo.DEMO_PASSWORD)
        page.click("#login")
        page.wait_for_selector("#enrol-device", state="visible")
        page.click("#enrol-device")
        page.wait_for_selector('li[data-type="id_card"]')
        page.goto(f"{base}/wallet/#/ebike_registration/ebike_check")
        page.wait_for_selector("#qr", state="visible")
        page.screenshot(path=OUT / "wallet-code-desktop.png")
        browser.close()
    server.shutdown()
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("wallet-*.png"))))


if __name__ == "__main__":
    main()
