"""Configuration: defaults, then the instance file or environment, then the test config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from keys.files import secret_from_env

from .dbfail import DEFAULTS as DATABASE_DEFAULTS

#: Environment variables read by the factory (besides the instance file ``config.py``).
#: Each secret may instead be read from a file: ``CERTFREE_SECRET_KEY_FILE`` etc.
ENV_KEYS = {
    "CERTFREE_DATABASE_URL": "DATABASE_URL",
    "CERTFREE_KEYS_DIR": "KEYS_DIR",
    "CERTFREE_KEY_PASSPHRASE": "KEY_PASSPHRASE",
    "CERTFREE_SECRET_KEY": "SECRET_KEY",
    "CERTFREE_POLICIES_DIR": "POLICIES_DIR",
    "CERTFREE_DESK_REPLAY": "DESK_REPLAY",
    "CERTFREE_DATABASE_POOLER": "DATABASE_POOLER",
}
SECRET_ENV = ("CERTFREE_SECRET_KEY", "CERTFREE_KEY_PASSPHRASE", "CERTFREE_DATABASE_URL")
#: Numbers (seconds, days) read from the environment.
NUMBER_ENV = {f"CERTFREE_{key}": key for key in (*DATABASE_DEFAULTS, "READY_TRUST_MIN_DAYS")}


class ConfigError(ValueError):
    """A setting that cannot be used (both a value and a ``*_FILE``, an unreadable file, not a number)."""


MAX_UPLOAD_BYTES = 12 * 1024 * 1024

def defaults(instance: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": f"sqlite:///{instance / 'certfree.db'}",
        "KEYS_DIR": str(instance / "keys"),
        "KEY_PASSPHRASE": None,
        "SECRET_KEY": None,  # None: not set; `serve` refuses to start and /readyz says so
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
        # A session ends PERMANENT_SESSION_LIFETIME after its log-in whatever the cookie
        # says (logins.session_account_id), so re-signing the cookie on every answer would
        # extend nothing: it is sent when the session changes, not after every desk scan.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "PUBLIC_MAX_AGE": 300,
        "STATUS_MAX_AGE": 60,
        # A status list is re-signed when its content changes, or when its token is this
        # old (far below the strictest scenario's staleness limit, 6 h at a fuel counter).
        "STATUS_RESIGN_SECONDS": 900,
        **DATABASE_DEFAULTS,
        # None: the service connects to PostgreSQL itself; "pgbouncer": through a pooler
        # (issuer/service/dbfail.py POOLERS; the timeouts then set on the role)
        "DATABASE_POOLER": None,
        # /readyz fails when an authority's newest trusted key ends within this many days
        "READY_TRUST_MIN_DAYS": 30,
    }

def load(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    instance = Path(app.instance_path)
    app.config.from_mapping(defaults(instance))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        for env, key in ENV_KEYS.items():
            value = from_environment(env)
            if value:
                app.config[key] = value
        for env, key in NUMBER_ENV.items():
            if os.environ.get(env):
                app.config[key] = _number(env)
        if os.environ.get("CERTFREE_INSECURE_COOKIES") == "1":  # plain http on 127.0.0.1 (make run)
            app.config["SESSION_COOKIE_SECURE"] = False
    else:
        app.config.from_mapping(test_config)


def from_environment(name: str) -> str | None:
    """``$NAME``, or for a secret the content of the file ``$NAME_FILE`` (one trailing
    newline dropped), as container secrets are mounted; never both."""
    if name not in SECRET_ENV:
        return os.environ.get(name)
    try:
        return secret_from_env(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _number(env: str) -> float:
    try:
        value = float(os.environ[env])
    except ValueError:
        raise ConfigError(f"{env} is not a number / {env} 不是数字") from None
    if not value > 0:
        raise ConfigError(f"{env} must be above 0 / {env} 必须大于 0")
    return value


def passphrase(app: Flask) -> bytes | None:
    value = app.config.get("KEY_PASSPHRASE")
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode("utf-8")

__all__ = ["load", "defaults", "passphrase", "from_environment", "ConfigError", "ENV_KEYS", "SECRET_ENV",
           "NUMBER_ENV", "MAX_UPLOAD_BYTES"]
