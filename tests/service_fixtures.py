"""Fixtures for the service tests: an app on SQLite (and on PostgreSQL when
CERTFREE_TEST_POSTGRES_URL is set; in CI a missing URL fails instead of skipping),
operators with tokens, and residents with licences.

Import with ``from service_fixtures import *`` in a ``tests/test_service_*.py`` file.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from keys import KeyDir

PG_ENV = "CERTFREE_TEST_POSTGRES_URL"
KEY_PASSPHRASE = "service test passphrase"
PASSWORD = "resident-password-1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def require_in_ci(what: str) -> None:
    """Skip locally; in CI a missing prerequisite is a failure."""
    if in_ci():
        pytest.fail(f"CI is set but {what} is missing", pytrace=False)
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def service_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("service") / "keys"
    KeyDir.init(path, passphrase=KEY_PASSPHRASE.encode(), now=int(time.time()) - 86400)
    return path


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'certfree.db'}"
    url = os.environ.get(PG_ENV)
    if not url:
        require_in_ci(f"{PG_ENV} (a PostgreSQL server)")
    assert url
    _reset_postgres(url)
    return url


def make_app(tmp_path: Path, keys_dir: Path, database_url: str | None = None, **extra: Any) -> Flask:
    from app import create_app
    from issuer.service import db

    instance = tmp_path / "instance"
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'certfree.db'}",
        "KEYS_DIR": str(keys_dir),
        "KEY_PASSPHRASE": KEY_PASSPHRASE,
        "SECRET_KEY": "test secret key",
        "SESSION_COOKIE_SECURE": False,
        "DESK_STATUS_REFRESH_SECONDS": 0,
        **extra,
    }
    app = create_app(config)
    db.upgrade(app)
    return app


@pytest.fixture
def app(tmp_path: Path, service_keys: Path, database_url: str) -> Iterator[Flask]:
    from issuer.service import db

    application = make_app(tmp_path, service_keys, database_url)
    yield application
    db.engine(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def operators(app: Flask) -> dict[str, str]:
    """authority -> bearer token, one operator per authority."""
    from issuer.service import db, issuing
    from keys import AUTHORITIES

    tokens = {}
    with app.app_context(), db.sessions(app)() as session:
        for authority in AUTHORITIES:
            _op, tokens[authority] = issuing.create_operator(session, f"op-{authority}", authority, now=time.time())
        session.commit()
    return tokens


def enrol(app: Flask, username: str, password: str = PASSWORD) -> str:
    from issuer.service import db, residents

    with app.app_context(), db.sessions(app)() as session:
        resident = residents.enrol(session, username, password, now=time.time())
        session.commit()
        return resident.id


def auth(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def issue_via_api(client: FlaskClient, token: str, resident_id: str, licence_type: str, key: str, claims: Any = None) -> Any:
    from issuer import example

    body = {"resident_id": resident_id, "licence_type": licence_type,
            "claims": claims if claims is not None else example(licence_type)}
    return client.post("/api/v1/licences", json=body, headers=auth(token, key))


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf(client, "/wallet/login")
    return client.post("/wallet/login", data={"username": username, "password": password, "csrf_token": token})


class Phone:
    """A resident's phone, as the tests play it: an Ed25519 device key made here (as the
    browser makes one), enrolled through the wallet API with a signed challenge, the views
    it fetched with another, and presentations built from them by ``wallet.present_view``
    (which tests/test_wallet_js.py holds byte-equal to the browser's code)."""

    def __init__(self, client: FlaskClient) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from keys import public_jwk

        self.client = client
        self.key = Ed25519PrivateKey.generate()
        self.jwk = public_jwk(self.key.public_key())
        self.licences: list[dict[str, Any]] = []

    def proven(self, path: str, purpose: str, **fields: Any) -> Any:
        """POST ``path`` with a fresh challenge signed as the protocol says: the bytes
        ``certfree-device-proof/v1`` LF purpose LF challenge."""
        from keys.jose import b64url_encode

        got = self.client.get("/wallet/api/challenge")
        assert got.status_code == 200, got.get_data(as_text=True)
        challenge = got.json["challenge"]
        message = b"certfree-device-proof/v1\n" + purpose.encode() + b"\n" + challenge.encode()
        body = {"jwk": self.jwk, **fields, "challenge": challenge, "signature": b64url_encode(self.key.sign(message))}
        return self.client.post(path, json=body, headers={"X-CSRF-Token": got.json["csrf"]})

    def enrol(self, label: str = "test phone") -> "Phone":
        answer = self.proven("/wallet/api/devices", "enrol", label=label)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        answer = self.sync()
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return self

    def sync(self) -> Any:
        answer = self.proven("/wallet/api/sync", "sync")
        if answer.status_code == 200:
            self.licences = answer.json["licences"]
        return answer

    def licence(self, id_or_type: str) -> dict[str, Any]:
        found = [item for item in self.licences if id_or_type in (item["id"], item["type"])]
        assert found, f"the phone holds no licence {id_or_type}"
        return found[-1]

    def code(self, id_or_type: str, scenario: str, now: int | None = None) -> str:
        """A fresh presentation's QR text, as the phone would show it."""
        from wallet import present_view

        item = self.licence(id_or_type)
        return present_view(item["views"][scenario], self.key, licence_type=item["type"], scenario=scenario, now=now).text


def current_licence(app: Flask, licence_id: str) -> str:
    """The licence that stands for ``licence_id`` now: enrolling a phone re-binds a
    resident's licences, and each new one records the one it ``replaces``."""
    from sqlalchemy import select

    from issuer.service import db
    from issuer.service.models import LicenceRecord

    with app.app_context(), db.sessions(app)() as session:
        while True:
            newer = session.scalar(select(LicenceRecord.id).where(LicenceRecord.replaces == licence_id))
            if newer is None:
                return licence_id
            licence_id = newer


def wallet_code(client: FlaskClient, licence_id: str, scenario: str, now: int | None = None) -> str:
    """The QR text that the phone of this logged-in resident client shows for the licence
    ``licence_id`` at ``scenario``. The phone is enrolled at first use (which re-binds the
    licences issued before it: the id is followed to the licence that replaced it)."""
    phone: Phone | None = getattr(client, "certfree_phone", None)
    if phone is None:
        phone = Phone(client).enrol()
        setattr(client, "certfree_phone", phone)
    target = current_licence(client.application, licence_id)
    if not any(item["id"] == target for item in phone.licences):
        assert phone.sync().status_code == 200
    return phone.code(target, scenario, now)


def phone_of(app: Flask, username: str, password: str = PASSWORD) -> Phone:
    """A logged-in test client of ``username`` with its phone enrolled (and synced)."""
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    return Phone(client).enrol()


__all__ = [
    "service_keys", "database_url", "app", "client", "operators", "make_app", "enrol", "auth",
    "issue_via_api", "csrf", "login", "in_ci", "require_in_ci", "PASSWORD", "KEY_PASSPHRASE", "PG_ENV",
    "Phone", "phone_of", "wallet_code", "current_licence",
]


TEST_DESK = "测试核验台 Test desk"


def add_clerk(app: Flask, username: str = "clerk", password: str = PASSWORD, *, desk: str = TEST_DESK,
              scenarios: tuple[str, ...] | None = None, matters: tuple[str, ...] = ()) -> str:
    """A clerk working at ``desk`` (created if new; by default it may verify every scenario)."""
    from desk.accounts import add_desk, assign, find_desk
    from issuer.service import db, residents
    from scenarios import SCENARIOS

    with app.app_context(), db.sessions(app)() as session:
        clerk = residents.add_clerk(session, username, password, now=time.time())
        place = find_desk(session, desk) or add_desk(session, desk, scenarios or SCENARIOS, matters, now=time.time())
        assign(session, clerk, place)
        session.commit()
        return clerk.id


def desk_login(client: FlaskClient, username: str = "clerk", password: str = PASSWORD) -> Any:
    token = csrf(client, "/desk/login")
    return client.post("/desk/login", data={"username": username, "password": password, "csrf_token": token})
