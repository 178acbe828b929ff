"""Demo data for ``make run``: keys, the schema, one operator per authority, and a demo
resident holding all six licences (issued through the same code path as the API). The
licences wait, bound to no key, until the resident's browser enrols as their device."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from issuer import LICENCE_TYPES, example
from scenarios import SCENARIOS
from keys import AUTHORITIES, KeyDir, atomic_write
from keys.files import create_once

from . import config, db, issuing, residents
from .models import DeskClerk, Operator, Resident

DEMO_USER = "demo"
DEMO_PASSWORD = "certfree-resident"
OTHER_USER = "demo2"  # a second resident with no licences, to try the 404s
DESK_USER = "desk"
DESK_PASSWORD = "certfree-clerk"
DEMO_DESK = "演示核验台 Demo desk"


def prepare(app: Flask) -> dict[str, Any]:
    """Create whatever is missing; return the log-ins and tokens to print. Idempotent."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = demo_secret(secret_key_file(app))
    keys_dir = Path(app.config["KEYS_DIR"])
    if not (keys_dir / "registry.json").exists():
        insecure = config.passphrase(app) is None
        KeyDir.init(keys_dir, passphrase=config.passphrase(app), insecure_dev=insecure)
    keys = KeyDir(keys_dir, passphrase=config.passphrase(app))
    db.upgrade(app)
    tokens_file = Path(app.instance_path) / "demo-operator-tokens.json"
    tokens: dict[str, str] = json.loads(tokens_file.read_text("utf-8")) if tokens_file.exists() else {}
    with app.app_context():
        from .context import now

        moment = now()
        with db.sessions(app)() as session:
            for authority in AUTHORITIES:
                name = f"demo-{authority}"
                if session.scalar(select(Operator).where(Operator.name == name)) is None:
                    _op, tokens[authority] = issuing.create_operator(session, name, authority, now=moment)
            session.flush()
            for username in (DEMO_USER, OTHER_USER):
                if session.scalar(select(Resident).where(Resident.username == username)) is None:
                    residents.enrol(session, username, DEMO_PASSWORD, now=moment)
            clerk = session.scalar(select(DeskClerk).where(DeskClerk.username == DESK_USER))
            if clerk is None:
                clerk = residents.add_clerk(session, DESK_USER, DESK_PASSWORD, now=moment)
            _demo_desk(session, clerk, moment)
            session.flush()
            demo = session.scalar(select(Resident).where(Resident.username == DEMO_USER))
            assert demo is not None
            held = {c.licence_type for c, _r in residents.licences_of(session, demo.id)}
            for licence_type, lt in LICENCE_TYPES.items():
                if licence_type in held:
                    continue
                op = session.scalar(select(Operator).where(Operator.name == f"demo-{lt.authority}"))
                assert op is not None
                issuing.issue_for_resident(session, keys, op, demo, licence_type, example(licence_type),
                                           idempotency_key=f"demo-{demo.id}-{licence_type}",
                                           body_hash="demo", now=moment)
            session.commit()
            resident_ids = {r.username: r.id for r in session.scalars(select(Resident))
                            if r.username in (DEMO_USER, OTHER_USER)}
    atomic_write(tokens_file, json.dumps(tokens, indent=2).encode(), mode=0o600)
    return {"tokens": tokens, "residents": resident_ids, "password": DEMO_PASSWORD, "insecure_keys": keys.insecure_dev}


def secret_key_file(app: Flask) -> Path:
    """The demo's session secret, ``instance/secret_key``: made here on purpose, for the demo
    only (a production service is given ``CERTFREE_SECRET_KEY`` or ``..._FILE``)."""
    return Path(app.instance_path) / "secret_key"


def demo_secret(path: Path) -> str:
    """A random secret in ``path``, created once (mode 600) and read by every worker."""
    return create_once(path, secrets.token_urlsafe(48).encode("ascii")).decode("ascii").strip()


def _demo_desk(session: Any, clerk: DeskClerk, moment: float) -> None:
    """The demo clerk works at a demo desk that may verify every scenario (a real desk is
    bound to its place: ``certfree desk add``)."""
    from desk.accounts import add_desk, assign, desk_of, find_desk

    if desk_of(session, clerk.id) is None:
        desk = find_desk(session, DEMO_DESK) or add_desk(session, DEMO_DESK, SCENARIOS, now=moment)
        assign(session, clerk, desk)


def banner(info: dict[str, Any], base_url: str) -> str:
    lines = [
        "certfree demo service 免证城市演示服务",
        f"  home 首页        {base_url}/",
        (f"  wallet 居民钱包  {base_url}/wallet/   log in 登录: {DEMO_USER} / {info['password']}"
         f"  (also {OTHER_USER}, no licences)"),
        "                   then tap 在本机启用 Enable on this phone: the browser makes its own device key",
        f"  desk 核验台      {base_url}/desk/   log in 登录: {DESK_USER} / {DESK_PASSWORD}",
        f"  public keys      {base_url}/.well-known/jwks.json  {base_url}/trust-list.jws  {base_url}/status/index.json",
        "  issuer API operator tokens (Authorization: Bearer ...):",
    ]
    lines += [f"    {authority:24} {token}" for authority, token in info["tokens"].items()]
    lines.append(f"  demo resident id for POST /api/v1/licences: {info['residents'].get(DEMO_USER)}")
    if info.get("insecure_keys"):
        lines.append("  WARNING: demo keys are UNENCRYPTED (no CERTFREE_KEY_PASSPHRASE); development only.")
    if os.environ.get("CERTFREE_INSECURE_COOKIES") == "1":
        lines.append("  NOTE: cookies without the Secure flag (plain http on 127.0.0.1); never in production.")
    return "\n".join(lines)
