"""A desk station started the way a desk starts it: keys and licences made by the issuer's
code, the trust list and status lists copied to a folder (a USB stick), ``certfree sync``
into the station's folder, desks and clerks set up with ``certfree desk add|clerk``, and
``certfree desk serve`` run as its own process. No issuer service runs anywhere.

Import with ``from desk_station_fixtures import *``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from local_servers import free_port, wait_until_answers

KEY_PASSPHRASE = b"desk station test passphrase"
CLERK_PASSWORD = "desk-clerk-password-1"
HOTEL_DESK = "Hotel Haishu 0807 front desk"
WINDOW_DESK = "Haishu household registration window 3"
PATROL_DESK = "Haishu patrol 3"
CERTFREE = str(Path(sys.executable).with_name("certfree"))


def certfree(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CERTFREE, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CERTFREE_DESK_PASSWORD": CLERK_PASSWORD, **env})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


class Station:
    """The station's URL and folder, and the resident's wallet (fresh codes on demand)."""

    def __init__(self, url: str, data: Path, wallet: Any) -> None:
        self.url, self.data, self.wallet = url, data, wallet

    def code(self, scenario: str, licence_type: str) -> str:
        from wallet import present

        return str(present(self.wallet, scenario, licence_type=licence_type).text)

    def png(self, scenario: str, licence_type: str, path: Path) -> Path:
        from wallet import write

        return write(self.code(scenario, licence_type), path)


def _issue(root: Path) -> tuple[Path, Any]:
    """Keys, a wallet holding an ID card and a household book, and the published lists in
    ``root/usb`` (the layout ``certfree sync --from FOLDER`` reads)."""
    from issuer import example
    from issuer.db import Base, make_engine, session_factory
    from issuer.records import issue_licence, publish_status_lists
    from keys import KeyDir
    from wallet import Wallet

    keys = KeyDir.init(root / "keys", passphrase=KEY_PASSPHRASE, now=int(time.time()) - 86400)
    holder = Wallet.init(root / "wallet", passphrase=b"wallet passphrase for the desk tests")
    engine = make_engine(f"sqlite:///{root / 'issuer.db'}")
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        for licence_type in ("id_card", "household_book"):
            issued = issue_licence(session, keys, licence_type, example(licence_type), holder_jwk=holder.device_jwk())
            holder.store(licence_type, issued.jti, issued.credential, issued.views)
        session.commit()
        usb = root / "usb"
        publish_status_lists(session, keys, usb / "status")
    engine.dispose()
    shutil.copy(root / "keys" / "trust_list.jws", usb / "trust_list.jws")
    return usb, Wallet(root / "wallet", passphrase=b"wallet passphrase for the desk tests")


def setup_station(root: Path) -> tuple[Path, Any]:
    """The synced station folder with a hotel desk (clerk ``front1``), a household
    registration window (clerk ``window1``, matter birth_registration only) and a patrol's
    street checks (``patrol1``)."""
    usb, holder = _issue(root)
    data = root / "station"
    certfree("sync", "--from", str(usb), "--to", str(data), "--root", str(root / "keys" / "root.jwk.json"))
    certfree("desk", "add", "--data", str(data), "--name", HOTEL_DESK, "--scenario", "hotel")
    certfree("desk", "add", "--data", str(data), "--name", WINDOW_DESK, "--scenario", "window", "--matter", "birth_registration")
    certfree("desk", "clerk", "--data", str(data), "--desk", HOTEL_DESK, "--username", "front1")
    certfree("desk", "clerk", "--data", str(data), "--desk", WINDOW_DESK, "--username", "window1")
    certfree("desk", "add", "--data", str(data), "--name", PATROL_DESK, "--scenario", "street_check")
    certfree("desk", "clerk", "--data", str(data), "--desk", PATROL_DESK, "--username", "patrol1")
    return data, holder


@contextmanager
def serving(data: Path, log_file: Path, *extra: str) -> Iterator[str]:
    """``certfree desk serve --data DATA`` (and ``extra``) on a free port, its own process,
    stopped by its pid; its URL once it answers."""
    port = free_port()
    log = open(log_file, "wb")
    proc = subprocess.Popen([CERTFREE, "desk", "serve", "--data", str(data), "--bind", f"127.0.0.1:{port}", *extra],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        # until it answers (gunicorn takes a moment to boot its worker)
        wait_until_answers(f"{url}/desk/login", proc, seconds=60, output=lambda: log_file.read_text("utf-8", "replace"))
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    """``certfree desk serve`` (gunicorn) on a synced folder."""
    root = tmp_path_factory.mktemp("desk-station")
    data, holder = setup_station(root)
    with serving(data, root / "serve.log") as url:
        yield Station(url, data, holder)


def log_in(page: Any, url: str, username: str) -> None:
    """Log in with the keyboard only: the user name, Tab, the password, Enter."""
    page.goto(f"{url}/desk/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", CLERK_PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_selector("#code")


__all__ = ["station", "Station", "serving", "setup_station", "log_in", "certfree", "CLERK_PASSWORD", "HOTEL_DESK", "WINDOW_DESK"]
