"""The resident's wallet on the phone, in real headless Chromium (Debian's /usr/bin/chromium
driven by Playwright) against the running service with the demo data (``make run``'s).

The phone's browser enrols itself with one click, keeps its key and views, and shows a code
for any scenario with the network off; the code, read from a screenshot by zxing-cpp, is
accepted by the SDK, refused when scanned twice (``replayed``) and once too old
(``presentation_stale``). A second browser gets no code until it enrols, and its enrolment
revokes the first one's codes at a desk that syncs. Nothing on the service's side holds a
device's private key. Locally these skip without chromium; in CI they fail.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import SHORT_FRESHNESS, browser, live, log_in_resident, read_qr, sdk_verifier  # noqa: F401  (fixtures)

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}


def _enrol(page: Any) -> None:
    """The resident's whole enrolment: one click on the one button."""
    page.wait_for_selector("#enrol-device", state="visible")
    page.click("#enrol-device")
    page.wait_for_selector('li[data-type="id_card"] a[data-scenario="hotel"]')
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def _phone(browser: Any, base: str) -> tuple[Any, Any]:
    """A new phone (a browser context: its own IndexedDB), logged in as the demo resident
    and enrolled, which makes it the resident's one active device."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    log_in_resident(page, base)
    _enrol(page)
    return context, page


def _listed(page: Any) -> list[str]:
    """The licence types of the cards on the list, in the order shown."""
    return list(page.eval_on_selector_all("li[data-type]", "items => items.map((li) => li.dataset.type)"))


def _wallet_db(page: Any, body: str) -> Any:
    """Run ``body`` on the phone: JavaScript given ``db``, the wallet's IndexedDB database,
    and ``ask``, which turns a request into a promise of its result; its return value."""
    return page.evaluate(f"""async () => {{
        const ask = (request) => new Promise((done, fail) => {{
            request.onsuccess = () => done(request.result);
            request.onerror = () => fail(request.error);
        }});
        const db = await ask(indexedDB.open("certfree-wallet"));
        {body}
    }}""")


def _kept(page: Any, store: str) -> int:
    """How many records the phone keeps in ``store`` ("device", "licences", "meta")."""
    return int(_wallet_db(page, f'return ask(db.transaction("{store}").objectStore("{store}").count());'))


def _wait_started(page: Any) -> None:
    """Until the wallet page has read the phone's storage and drawn what it holds."""
    page.wait_for_function("() => document.getElementById('app').dataset.ready === '1'")


def _code(page: Any, base: str, licence_type: str, scenario: str) -> tuple[str, int]:
    """Open the bookmarkable code page and read the code from a screenshot of it."""
    page.goto(f"{base}/wallet/#/{licence_type}/{scenario}")
    page.wait_for_selector("#qr", state="visible")
    presented_at = int(page.get_attribute("#qr", "data-presented-at"))
    return read_qr(page.screenshot()), presented_at


def _sync_desk(base: str, app: Any, folder: Path) -> Path:
    """The desk's sync: trust list and status lists fetched from the service and verified."""
    from keys import KeyDir
    from keys.sync import sync

    sync(base, folder, KeyDir(app.config["KEYS_DIR"]).root_public_jwk())
    return folder / "status"


def test_offline_phone_shows_codes_the_desk_accepts_once_and_not_when_stale(browser: Any, live: dict[str, Any]) -> None:
    from verifier import VerificationFailed

    base, app = live["url"], live["app"]
    context, page = _phone(browser, base)
    context.set_offline(True)
    page.reload()  # the service worker serves the page; the phone's storage the licences
    page.wait_for_selector('li[data-type="id_card"]')
    assert "离线 Offline" in page.inner_text("#net")
    assert page.evaluate("fetch('/wallet/api/devices').then(() => 'online', () => 'offline')") == "offline"
    desk = sdk_verifier(app)
    for scenario in ("hotel", "internet_cafe"):
        text, presented_at = _code(page, base, "id_card", scenario)
        result = desk.verify(text, scenario=scenario)
        assert result.licence_type == "id_card" and result.scenario == scenario
        if scenario == "internet_cafe":
            assert result.claims["age_over_18"] is True and "birth_date" not in result.claims
        with pytest.raises(VerificationFailed) as again:
            desk.verify(text, scenario=scenario)
        assert again.value.codes == ["replayed"]
        policy = desk.policies[scenario]
        too_late = presented_at + policy.freshness_seconds + policy.clock_skew_seconds + 1
        with pytest.raises(VerificationFailed) as stale:  # the same screenshot, scanned later by another desk
            sdk_verifier(app).verify(text, scenario=scenario, now=too_late)
        assert "presentation_stale" in stale.value.codes
    context.close()


def test_the_phone_makes_a_new_code_before_the_freshness_window_ends(browser: Any, live: dict[str, Any]) -> None:
    """The internet café's window is SHORT_FRESHNESS seconds here: the page counts down and
    draws a new code (a new proof) before the desk would refuse the old one, offline too."""
    base, app = live["url"], live["app"]
    context, page = _phone(browser, base)
    context.set_offline(True)
    first, first_at = _code(page, base, "id_card", "internet_cafe")
    assert 0 < int(page.inner_text("#countdown")) <= SHORT_FRESHNESS
    page.wait_for_function("(at) => document.getElementById('qr').dataset.presentedAt !== at", arg=str(first_at),
                           timeout=(SHORT_FRESHNESS + 5) * 1000)
    second_at = int(page.get_attribute("#qr", "data-presented-at"))
    second = read_qr(page.screenshot())
    assert second != first and first_at < second_at < first_at + SHORT_FRESHNESS  # renewed before the end
    desk = sdk_verifier(app)
    assert desk.verify(second, scenario="internet_cafe").presented_at == second_at
    assert desk.verify(first, scenario="internet_cafe", now=second_at).presented_at == first_at  # still fresh then
    context.close()


def test_a_phone_not_enabled_says_what_to_do_offline_and_shows_the_log_in_once_online(
    browser: Any, live: dict[str, Any]
) -> None:
    """A resident who logged in but never tapped Enable, then lost the signal: the kept
    shell says the phone holds no licences yet and what to do, and the network coming back
    brings the live page (its log-in form) without a tap."""
    base = live["url"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    log_in_resident(page, base)
    page.wait_for_selector("#enrol-device", state="visible")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#offline-section", state="visible")
    text = page.inner_text("#offline-section")
    assert "本机尚未启用证照" in text and "Enable on this phone" in text
    assert not page.is_visible("#enrol-section") and not page.is_visible("#list-section")
    assert "离线 Offline" in page.inner_text("#net")
    context.set_offline(False)  # the browser's online event: the live page, no tap needed
    page.wait_for_selector("#enrol-device", state="visible")
    assert not page.is_visible("#offline-section")
    context.close()


def test_a_code_page_left_before_its_first_code_is_drawn_draws_nothing_afterwards(
    browser: Any, live: dict[str, Any]
) -> None:
    """Two routes in quick succession (a tap while the page is still drawing, or a sync
    ending just then): the page left must not keep a timer that later draws its own code,
    a code of another place, under the title of the page shown."""
    base, app = live["url"], live["app"]
    context, page = _phone(browser, base)
    # A slow phone: the device key's signature takes 300 ms (the real one, later). The café
    # page (SHORT_FRESHNESS: renewed within seconds) starts drawing; the hotel's is asked
    # for while the café's code is still being signed.
    page.evaluate("""() => {
        const sign = crypto.subtle.sign.bind(crypto.subtle);
        crypto.subtle.sign = (...args) => new Promise((done) => setTimeout(done, 300)).then(() => sign(...args));
        location.hash = "#/id_card/internet_cafe";
        setTimeout(() => { location.hash = "#/id_card/hotel"; }, 100);
    }""")
    page.wait_for_function("() => location.hash === '#/id_card/hotel' && !document.getElementById('qr').hidden")
    page.wait_for_timeout(1000)  # both signatures done
    first_at = page.get_attribute("#qr", "data-presented-at")
    page.wait_for_timeout((SHORT_FRESHNESS + 2) * 1000)  # the café page's renewal would have come by now
    assert page.get_attribute("#qr", "data-presented-at") == first_at  # the hotel code lives 60 s
    text = read_qr(page.screenshot())
    result = sdk_verifier(app).verify(text, scenario="hotel")
    assert result.scenario == "hotel" and "hotel" in page.inner_text("#code-scenario").lower()
    context.close()


def test_the_screen_stays_on_while_a_code_is_shown_and_may_dim_again_after(browser: Any, live: dict[str, Any]) -> None:
    """A clerk may take a while to aim the scanner: the code page holds a screen wake lock,
    asks for it again when the page comes back into view (the browser drops it when the
    page is hidden), and lets it go on the way back to the list."""
    context = browser.new_context(**PHONE)
    # observe the real locks the browser grants (the request itself is the browser's own)
    context.add_init_script("""
        window.__locks = [];
        if (navigator.wakeLock) {
            const request = navigator.wakeLock.request.bind(navigator.wakeLock);
            navigator.wakeLock.request = (type) => request(type).then((lock) => { window.__locks.push(lock); return lock; });
        }""")
    page = context.new_page()
    log_in_resident(page, live["url"])
    _enrol(page)
    held = "window.__locks.filter((lock) => !lock.released).length"
    assert page.evaluate(held) == 0  # the list: the screen dims as usual
    page.click('li[data-type="id_card"] a[data-scenario="hotel"]')
    page.wait_for_selector("#qr", state="visible")
    page.wait_for_function(f"() => {held} === 1")
    page.evaluate("window.__locks[0].release()")  # what the browser does when the page is hidden
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # ... and back in view
    page.wait_for_function(f"() => {held} === 1 && window.__locks.length === 2")
    page.click("#code-section a.back")
    page.wait_for_selector("#list-section", state="visible")
    page.wait_for_function(f"() => {held} === 0")
    assert page.evaluate("window.__locks.length") == 2
    context.close()


def test_an_enabled_phone_asks_the_browser_to_keep_its_key_and_licences(browser: Any, live: dict[str, Any]) -> None:
    """Safari clears a site's storage after seven days without a visit unless it is kept:
    the phone asks for persistent storage when it is enabled, and again at each start
    until the browser says yes. (Chromium answers by its own rules, so what is observed
    here is the asking.)"""
    context = browser.new_context(**PHONE)
    context.add_init_script("""
        window.__persist = 0;
        const persist = navigator.storage.persist.bind(navigator.storage);
        navigator.storage.persist = () => { window.__persist += 1; return persist(); };""")
    page = context.new_page()
    log_in_resident(page, live["url"])
    page.wait_for_selector("#enrol-device", state="visible")
    assert page.evaluate("window.__persist") == 0  # nothing to keep yet
    _enrol(page)
    assert page.evaluate("window.__persist") == 1
    page.reload()
    _wait_started(page)
    assert page.evaluate("window.__persist") == (0 if page.evaluate("navigator.storage.persisted()") else 1)
    context.close()


def test_another_resident_logging_in_on_the_phone_never_sees_the_first_one_s_licences(
    browser: Any, live: dict[str, Any]
) -> None:
    """A family's shared phone, or one handed on: the demo resident enabled it and their
    session ended (no log-out, which would have cleared the phone); the second resident
    logs in. The first one's key and licences leave the phone before the page draws
    anything, and the page says why it asks to enable the phone."""
    from issuer.service.demo import DEMO_PASSWORD, OTHER_USER

    context, page = _phone(browser, live["url"])
    assert "id_card" in _listed(page)
    context.clear_cookies()  # the session ended
    page.goto(f"{live['url']}/wallet/login")
    page.fill("input[name=username]", OTHER_USER)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("#login")
    _wait_started(page)
    assert _listed(page) == []  # not even for a moment before the sync
    assert page.is_visible("#enrol-device")
    assert "另一位居民" in page.inner_text("#enrol-error")
    assert _kept(page, "licences") == 0
    context.close()


def test_logging_out_takes_the_licences_off_the_phone_once_the_service_has_logged_out(
    browser: Any, live: dict[str, Any]
) -> None:
    """A resident who logs out expects the phone to show no one's codes after, lent or handed
    on: asked first, and done only once the service answered (not with no network). The
    service removes the phone's device with the log-out: it lists no phone that holds no key."""
    from issuer.service.demo import DEMO_PASSWORD, DEMO_USER
    from service_fixtures import login

    context, page = _phone(browser, live["url"])
    mine = _wallet_db(page, 'return (await ask(db.transaction("device").objectStore("device").get("current"))).thumbprint;')
    service = live["app"].test_client()
    login(service, DEMO_USER, DEMO_PASSWORD)

    def this_phone() -> dict[str, Any]:
        return next(d for d in service.get("/wallet/api/devices").json["devices"] if d["thumbprint"] == mine)

    assert this_phone()["active"]
    asked: list[str] = []

    def answer(accept: bool) -> None:
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept() if accept else dialog.dismiss()))

    answer(False)
    page.click("#logout")
    assert "清除" in asked[0] and "id_card" in _listed(page)  # changed their mind: nothing happens
    context.set_offline(True)
    answer(True)
    page.click("#logout")
    page.wait_for_function("() => document.getElementById('net').textContent.includes('退出失败')")
    assert "id_card" in _listed(page)  # no network: still logged in, the licences still here
    assert this_phone()["active"] and this_phone()["removed_at"] is None
    context.set_offline(False)
    answer(True)
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/wallet/login$"))
    assert _kept(page, "licences") == 0
    assert _kept(page, "device") == 0
    login(service, DEMO_USER, DEMO_PASSWORD)  # the log-out ended every session of the resident
    assert this_phone()["removed_at"] is not None and not this_phone()["active"]
    page.goto(f"{live['url']}/wallet/")
    _wait_started(page)
    assert _listed(page) == [] and page.is_visible("#login-form")
    context.close()


def test_a_phone_enabled_before_it_recorded_its_resident_keeps_its_licences(browser: Any, live: dict[str, Any]) -> None:
    """The phone's device record from before it kept the resident's id: the resident
    logged in keeps the licences, and the record takes their id."""
    context, page = _phone(browser, live["url"])
    account = page.get_attribute("#app", "data-account")
    assert account
    _wallet_db(page, """const store = db.transaction("device", "readwrite").objectStore("device");
        const { account, ...older } = await ask(store.get("current"));
        await ask(store.put(older, "current"));""")
    page.reload()
    _wait_started(page)
    assert "id_card" in _listed(page)
    assert _wallet_db(page, 'return (await ask(db.transaction("device").objectStore("device").get("current"))).account;') == account
    context.close()


def test_a_resident_with_two_e_bikes_shows_each_one_s_own_code(browser: Any, live: dict[str, Any]) -> None:
    """A resident may hold two licences of one type (two e-bikes, two cars): each card's
    code is that licence's, and the code page names it by its plate."""
    from issuer import example
    from service_fixtures import PASSWORD, enrol, issue_via_api

    app = live["app"]
    resident = enrol(app, "two-bikes")
    client = app.test_client()
    for n, plate in enumerate(["京AH37021", "京AH37022"]):
        claims = {**example("ebike_registration"), "plate": plate}
        issued = issue_via_api(client, live["info"]["tokens"]["police_station"], resident, "ebike_registration",
                               f"two-bikes-{n:04d}", claims)
        assert issued.status_code == 201, issued.json
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live['url']}/wallet/")
    page.fill("input[name=username]", "two-bikes")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login")
    page.click("#enrol-device")
    cards = page.locator('li[data-type="ebike_registration"]')
    cards.nth(1).wait_for()
    plates = [cards.nth(i).locator(".number").inner_text() for i in range(2)]
    assert sorted(plates) == ["京AH37021", "京AH37022"]
    desk = sdk_verifier(app)
    for i, plate in enumerate(plates):
        cards.nth(i).locator('a[data-scenario="ebike_check"]').click()
        page.wait_for_selector("#qr", state="visible")
        assert page.inner_text("#code-number") == plate
        assert desk.verify(read_qr(page.screenshot()), scenario="ebike_check").claims["plate"] == plate
        page.click("#code-section a.back")
        page.wait_for_selector("#list-section", state="visible")
    # a bookmark of a licence no longer held (re-issued under a new id): said so, no other bike's code
    page.goto(f"{live['url']}/wallet/#/ebike_registration/ebike_check/AAAAAAAAAAAAAAAAAAAAAA")
    page.wait_for_selector("#code-problem", state="visible")
    assert "已没有这张证照" in page.inner_text("#code-problem") and not page.is_visible("#qr")
    context.close()


def test_the_licences_keep_their_order_and_come_before_the_log_in_when_the_session_ended(
    browser: Any, live: dict[str, Any]
) -> None:
    """The phone lists its licences in the service's order (the ID card first) whether the
    list comes from a sync or from the phone's storage with no network; and when the
    resident's session has ended, the licences, whose codes still work, come first and the
    log-in form (to renew them) under them."""
    base = live["url"]
    context, page = _phone(browser, base)
    order = _listed(page)
    assert order[0] == "id_card" and len(order) == 6
    context.set_offline(True)
    page.reload()
    page.wait_for_selector('li[data-type="id_card"]')
    assert _listed(page) == order
    context.set_offline(False)
    context.clear_cookies()  # the session ended
    page.reload()
    page.wait_for_selector('li[data-type="id_card"]')
    page.wait_for_selector("#login-form", state="visible")
    assert _listed(page) == order
    assert page.locator("#list-section").bounding_box()["y"] < page.locator("#login-section").bounding_box()["y"]
    assert "codes still work" in page.inner_text("#net")
    text, _ = _code(page, base, "id_card", "hotel")  # and a code, logged out
    assert sdk_verifier(live["app"]).verify(text, scenario="hotel").licence_type == "id_card"
    context.close()


def test_a_second_phone_gets_no_code_until_it_enrols_and_then_the_first_one_s_are_revoked(
    browser: Any, live: dict[str, Any], tmp_path: Path
) -> None:
    from verifier import VerificationFailed

    base, app = live["url"], live["app"]
    first, old_phone = _phone(browser, base)
    old_text, _ = _code(old_phone, base, "id_card", "hotel")
    assert sdk_verifier(app, _sync_desk(base, app, tmp_path / "before")).verify(old_text, scenario="hotel").licence_type == "id_card"

    second = browser.new_context(**PHONE)
    new_phone = second.new_page()
    log_in_resident(new_phone, base)
    assert new_phone.is_visible("#enrol-device") and new_phone.locator("#enrol-device").count() == 1
    new_phone.goto(f"{base}/wallet/#/id_card/hotel")  # logged in, not enrolled: no code at all
    new_phone.wait_for_selector("#code-problem", state="visible")
    assert not new_phone.is_visible("#qr") and "本机尚未启用" in new_phone.inner_text("#code-problem")
    new_phone.goto(f"{base}/wallet/")
    _enrol(new_phone)

    later_old_text, _ = _code(old_phone, base, "id_card", "hotel")  # the old phone still draws codes from its copy
    new_text, _ = _code(new_phone, base, "id_card", "hotel")
    desk = sdk_verifier(app, _sync_desk(base, app, tmp_path / "after"))
    with pytest.raises(VerificationFailed) as refused:
        desk.verify(later_old_text, scenario="hotel")
    assert "revoked" in refused.value.codes
    assert desk.verify(new_text, scenario="hotel").licence_type == "id_card"

    old_phone.goto(f"{base}/wallet/")  # online again, the old phone learns it was replaced
    old_phone.wait_for_selector("#enrol-error", state="visible")
    assert "取代" in old_phone.inner_text("#enrol-error") and old_phone.locator('li[data-type="id_card"]').count() == 0
    first.close()
    second.close()


def test_the_device_key_never_leaves_the_browser(browser: Any, live: dict[str, Any]) -> None:
    """The browser refuses to export the private key; what it sent the service holds only
    public members; and nothing in the service's database or instance folder is a private
    key of an enrolled device (every 32-byte value found, raw, hex or base64, is tried as an
    Ed25519 seed against every enrolled public key)."""
    base, app = live["url"], live["app"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if "/wallet/api/" in r.url else None)
    log_in_resident(page, base)
    _enrol(page)
    _wallet_db(page, 'window.__device = await ask(db.transaction("device").objectStore("device").get("current"));')
    exported = page.evaluate("""async () => {
        const key = window.__device.keyPair.privateKey;
        const out = {extractable: key.extractable, usages: key.usages};
        for (const format of ["pkcs8", "jwk", "raw"]) {
            try { await crypto.subtle.exportKey(format, key); out[format] = "exported"; }
            catch (e) { out[format] = e.name; }
        }
        return out;
    }""")
    assert exported["extractable"] is False and exported["usages"] == ["sign"]
    assert exported["pkcs8"] == exported["jwk"] == "InvalidAccessError" and exported["raw"] != "exported"
    bodies = [json.loads(body) for body in sent if body]
    assert bodies and all(set(body.get("jwk", {})) <= {"crv", "kty", "x"} for body in bodies)
    context.close()
    _assert_no_device_private_key(app)


def _assert_no_device_private_key(app: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from sqlalchemy import inspect, select, text

    from issuer.service import db
    from issuer.service.models import Device
    from keys.jose import b64url_decode

    values: list[Any] = []
    with db.sessions(app)() as session:
        devices = list(session.scalars(select(Device)))
        public = {b64url_decode(d.public_jwk["x"]) for d in devices}
        assert devices and all(set(d.public_jwk) == {"crv", "kty", "x"} for d in devices)
        for table in inspect(session.get_bind()).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                values.extend(v for v in row if v is not None)
    instance = Path(app.instance_path)
    files = [p for p in instance.rglob("*") if p.is_file() and not p.name.startswith("certfree.db")]
    values.extend(p.read_bytes() for p in files)  # the database's own files are read above, row by row
    assert files and not (instance / "wallet-server.key").exists()

    candidates: set[bytes] = set()
    for value in values:
        raw = value if isinstance(value, bytes) else (json.dumps(value) if not isinstance(value, str) else value).encode()
        assert b"PRIVATE KEY" not in raw and b'"d"' not in raw, "a private key file or a JWK with its private member"
        if isinstance(value, bytes) and len(value) <= 4096:
            candidates.update(value[i:i + 32] for i in range(len(value) - 31))
        for token in re.findall(rb"[A-Za-z0-9_-]{43}", raw):
            try:
                candidates.add(b64url_decode(token.decode()))
            except ValueError:
                pass
        for token in re.findall(rb"[A-Za-z0-9+/]{43}=", raw):
            candidates.add(base64.b64decode(token))
        for token in re.findall(rb"[0-9a-fA-F]{64}", raw):
            candidates.add(bytes.fromhex(token.decode()))
    assert candidates  # the scan did look at something
    for seed in candidates:
        if len(seed) == 32:
            derived = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            assert derived not in public, "a device's private key is stored by the service"
