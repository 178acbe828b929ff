"""Tap to code: how long the resident waits between tapping a scenario and seeing its QR code,
in headless Chromium (Debian's /usr/bin/chromium) at 390 x 844 with 3 device pixels per CSS
pixel (a phone's screen).

    .venv/bin/python bench/wallet_tap.py [--taps 40]            # the wallet on the phone
    .venv/bin/python bench/wallet_tap.py --taps 40 --offline    # the same with the network off
    PYTHONPATH=OLD_TREE .venv/bin/python bench/wallet_tap.py --legacy   # a server-rendered QR page

Each tap makes a fresh presentation. On the phone the time is from the tap to the code
drawn (the page's own figure for building the presentation and drawing it, and the time
the harness saw from its click to the canvas showing the new code). ``--legacy`` measures
the server-rendered QR page that the wallet had before it moved to the phone (run it with
``PYTHONPATH`` pointing at a checkout of that version: ``git worktree add OLD_TREE 4345751``):
from the tap to the page's PNG loaded. The service runs in this process on 127.0.0.1 with
the demo data; nothing leaves the machine. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCENARIOS = ("hotel", "internet_cafe", "window")


def serve() -> tuple[str, object]:
    from werkzeug.serving import make_server

    from app import create_app
    from issuer.service import db, demo

    root = Path(tempfile.mkdtemp(prefix="certfree-tap-"))
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(root / "instance"), "KEYS_DIR": str(root / "keys"),
                      "DATABASE_URL": f"sqlite:///{root / 'certfree.db'}", "SESSION_COOKIE_SECURE": False,
                      "SECRET_KEY": "bench"})
    db.upgrade(app)
    demo.prepare(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[int(0.9 * (len(values) - 1))]
    return f"median {statistics.median(values):7.1f} ms  p90 {p90:7.1f} ms  min {values[0]:6.1f}  max {values[-1]:6.1f}  (n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=40, help="taps per scenario")
    parser.add_argument("--legacy", action="store_true", help="the server-rendered QR page of an older checkout")
    parser.add_argument("--offline", action="store_true", help="the phone with its network off")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base, server = serve()
    seen: dict[str, list[float]] = {"tap to code": [], "build + draw (in page)": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True)
        page = context.new_page()
        page.goto(f"{base}/wallet/login")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", "certfree-resident")
        page.click("#login")
        page.wait_for_url(re.compile(r".*/wallet/$"))
        if not args.legacy:
            page.click("#enrol-device")
            page.wait_for_selector('li[data-type="id_card"] a[data-scenario="hotel"]')
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            if args.offline:
                context.set_offline(True)
                page.reload()
        for scenario in SCENARIOS:
            link = f'li[data-type="id_card"] a[data-scenario="{scenario}"]'
            for _ in range(args.taps):
                if args.legacy:
                    page.goto(f"{base}/wallet/")
                    page.wait_for_selector(link)
                    started = time.perf_counter()
                    page.click(link)
                    page.wait_for_function("() => { const i = document.getElementById('qr-image'); return i && i.complete && i.naturalWidth > 0; }")
                else:
                    page.evaluate("location.hash = '#/'")
                    page.wait_for_selector(link)
                    started = time.perf_counter()
                    page.click(link)
                    page.wait_for_function("() => { const c = document.getElementById('qr'); return c && !c.hidden && c.dataset.buildMs; }")
                    seen["build + draw (in page)"].append(float(page.get_attribute("#qr", "data-build-ms")))
                    page.evaluate("document.getElementById('qr').removeAttribute('data-build-ms')")
                seen["tap to code"].append((time.perf_counter() - started) * 1000)
        browser.close()
    server.shutdown()  # type: ignore[attr-defined]
    kind = "legacy server-rendered QR page" if args.legacy else ("phone wallet, offline" if args.offline else "phone wallet, online")
    print(f"{kind}: {args.taps} taps x {len(SCENARIOS)} scenarios ({', '.join(SCENARIOS)}), Chromium 390x844 @3x")
    for name, values in seen.items():
        if values:
            print(f"  {name:24} {percentiles(values)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
