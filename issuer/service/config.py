"""Configuration: defaults, then the instance file or environment, then the test config."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from keys.files import create_once

#: Environment variables read by the factory (besides the instance file ``config.py``).
ENV_KEYS = {
    "CERTFREE_DATABASE_URL": "DATABASE_URL",
    "CERTFREE_KEYS_DIR": "KEYS_DIR",
    "CERTFREE_KEY_PASSPHRASE": "KEY_PASSPHRASE",
    "CERTFREE_SECRET_KEY": "SECRET_KEY",
    "CERTFREE_POLICIES_DIR": "POLICIES_DIR",
    "CERTFREE_DESK_REPLAY": "DESK_REPLAY",
}
MAX_UPLOAD_BYTES = 12 * 1024 * 1024

def defaults(instance: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": f"sqlite:///{instance / 'certfree.db'}",
        "KEYS_DIR": str(instance / "keys"),
        "KEY_PASSPHRASE": None,
        "SECRET_KEY": None,  # None: read or create instance/secret_key
        "POLICIES_DIR": None,  # None: the packaged scenario policies
        "DESK_REGISTER": str(instance / "desk-register.db"),
        # The desk's replay cache: None (the SQLite file DESK_REPLAY_DB, one machine's
        # workers), a SQLite path, "database" (the service's database: every machine) or
        # "memory" (one process only); see desk/replay.py.
        "DESK_REPLAY": None,
        "DESK_REPLAY_DB": str(instance / "desk-replay.db"),
        "DESK_STATUS_REFRESH_SECONDS": 30,
        "MAX_CONTENT_LENGTH": MAX_UPLOAD_BYTES + 64 * 1024,
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_WINDOW_SECONDS": 15 * 60,
        # Untrusted clients (no device cookie for the account): delays after this many
        # failures on an account, doubling from the base up to the max (issuer/service/throttle.py).
        "LOGIN_UNTRUSTED_FREE": 10,
        "LOGIN_UNTRUSTED_BASE_DELAY": 2,
        "LOGIN_UNTRUSTED_MAX_DELAY": 60,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_NAME": "certfree_session",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        "PUBLIC_MAX_AGE": 300,
        "STATUS_MAX_AGE": 60,
        # A status list is re-signed when its content changes, or when its token is this
        # old (far below the strictest scenario's staleness limit, 6 h at a fuel counter).
        "STATUS_RESIGN_SECONDS": 900,
    }

def load(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    instance = Path(app.instance_path)
    app.config.from_mapping(defaults(instance))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        for env, key in ENV_KEYS.items():
            value = os.environ.get(env)
            if value:
                app.config[key] = value
        if os.environ.get("CERTFREE_INSECURE_COOKIES") == "1":  # plain http on 127.0.0.1 (make run)
            app.config["SESSION_COOKIE_SECURE"] = False
    else:
        app.config.from_mapping(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")

def _instance_secret(path: Path) -> str:
    """A per-installation random secret, created once (mode 600) and reused by every worker."""
    return create_once(path, secrets.token_urlsafe(48).encode("ascii")).decode("ascii").strip()


def passphrase(app: Flask) -> bytes | None:
    value = app.config.get("KEY_PASSPHRASE")
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode("utf-8")

__all__ = ["load", "defaults", "passphrase", "ENV_KEYS", "MAX_UPLOAD_BYTES"]
