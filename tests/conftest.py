"""Shared fixtures: real keys on disk, a real wallet, a verifier with a fixed clock."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest

from issuer import example, issue
from keys import KeyDir
from verifier import MemoryReplayCache, Verifier, load_trust_list
from verifier.testing import FixedClock
from wallet import Wallet, png_bytes

pytest_plugins = ["logscan"]  # fails the run if any log line holds a secret


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs a worker per core) each worker gets a PostgreSQL
    database of its own, made beside the one CERTFREE_TEST_POSTGRES_URL names (the tests
    drop and re-create the schema they use, so two workers cannot share one)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("CERTFREE_TEST_POSTGRES_URL")
    if worker and url:
        os.environ["CERTFREE_TEST_POSTGRES_URL"] = _worker_database(url, worker)


def _worker_database(url: str, worker: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)

CHINA = dt.timezone(dt.timedelta(hours=8))
NOW = int(dt.datetime(2026, 11, 24, 10, 0, tzinfo=CHINA).timestamp())
PASSPHRASE = b"correct horse battery staple"
WALLET_PASSPHRASE = b"wallet pass"
LICENCE_TYPES = (
    "id_card",
    "household_book",
    "residence_permit",
    "driving_license",
    "vehicle_license",
    "ebike_registration",
)


@pytest.fixture(scope="session")
def now() -> int:
    return NOW


@pytest.fixture(scope="session")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> KeyDir:
    return KeyDir.init(tmp_path_factory.mktemp("keys"), passphrase=PASSPHRASE, now=NOW - 3 * 365 * 86400)


@pytest.fixture(scope="session")
def trust_text(keydir: KeyDir) -> str:
    return keydir.trust_list()


@pytest.fixture(scope="session")
def root_jwk(keydir: KeyDir) -> dict[str, str]:
    return keydir.root_public_jwk()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def verifier(keydir: KeyDir, clock: FixedClock) -> Verifier:
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    return Verifier(trust, clock=clock, replay_cache=MemoryReplayCache())


@pytest.fixture(scope="session")
def holder(tmp_path_factory: pytest.TempPathFactory, keydir: KeyDir) -> Wallet:
    """A wallet holding all six licences of the demo resident, issued at NOW."""
    w = Wallet.init(tmp_path_factory.mktemp("wallet"), passphrase=WALLET_PASSPHRASE)
    for licence_type in LICENCE_TYPES:
        issued = issue(keydir, licence_type, example(licence_type), holder_jwk=w.device_jwk(), now=NOW - 3600)
        w.store(licence_type, issued.jti, issued.credential, issued.views)
    return w


@pytest.fixture
def scan() -> Callable[[str], bytes]:
    """Render QR text as a real PNG: what a desk's camera or upload hands the verifier."""
    return png_bytes


def load_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))
