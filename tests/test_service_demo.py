"""Demo data (``make run``), the CLI hooks, and the server's own secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from service_fixtures import *  # noqa: F403
from service_fixtures import Phone, login, make_app

from issuer import LICENCE_TYPES


def test_demo_data_is_idempotent_and_holds_six_licences(tmp_path: Path) -> None:
    from issuer.service import db, demo, residents
    from issuer.service.models import Operator, Resident

    app = make_app(tmp_path, tmp_path / "keys")  # no keys yet: demo.prepare makes them
    first = demo.prepare(app)
    second = demo.prepare(app)
    assert first["tokens"] == second["tokens"] and len(first["tokens"]) == 3
    with db.sessions(app)() as session:
        assert len(list(session.scalars(select(Operator)))) == 3
        resident = session.scalar(select(Resident).where(Resident.username == demo.DEMO_USER))
        assert resident is not None
        assert len(residents.licences_of(session, resident.id)) == 6
    client = app.test_client()
    assert login(client, demo.DEMO_USER, demo.DEMO_PASSWORD).status_code == 302
    phone = Phone(client).enrol()  # the demo resident's phone: one click in the browser
    assert sorted(item["type"] for item in phone.licences) == sorted(LICENCE_TYPES)
    assert all(item["views"] and item["state"] == "valid" for item in phone.licences)
    assert demo.prepare(app)["tokens"] == first["tokens"]  # a re-run keeps the re-bound licences
    with db.sessions(app)() as session:
        assert len(residents.licences_of(session, resident.id)) == 6
    text = demo.banner(first, "http://127.0.0.1:8000")
    assert "http://127.0.0.1:8000/wallet/" in text and demo.DEMO_PASSWORD in text


def test_cli_has_serve_and_demo_data() -> None:
    import app
    from issuer import service_cli

    parser = app.build_parser()
    args = parser.parse_args(["serve", "--bind", "127.0.0.1:9000", "--workers", "3"])
    assert args.func is service_cli.cmd_serve and args.workers == 3
    assert parser.parse_args(["demo-data"]).func is service_cli.cmd_demo_data


def test_server_secrets_are_created_once_even_by_racing_workers(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from issuer.service.demo import demo_secret

    secret_path = tmp_path / "instance" / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        secrets_seen = set(pool.map(lambda _: demo_secret(secret_path), range(32)))
    assert len(secrets_seen) == 1 and len(secrets_seen.pop()) >= 48
