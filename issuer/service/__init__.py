"""certfree's web service: the Flask app factory (issuer API, public trust and status
endpoints, the residents' web wallet from ``wallet.web``, and the desk's pages from the
``desk`` package).

``app.create_app`` is the entry point; this package holds the internals.
"""

from __future__ import annotations

import os
import time
from typing import Any, Mapping

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config defaults, then instance ``config.py`` or ``CERTFREE_*``
    environment, then ``test_config``; then the database and the blueprints."""
    from desk.pages import bp as desk_pages
    from desk.source import EXTENSION as DESK_SOURCE, CentralSource
    from wallet.web import bp as wallet_bp

    from . import api, config, db, dbfail, errors, health, logs, metrics, public
    from .jsonout import OrjsonProvider
    from .security import csrf_token
    from .sessions import VerifiedOnceSessionInterface

    app = Flask(__name__, instance_path=_instance_path(test_config), instance_relative_config=True)
    app.json = OrjsonProvider(app)  # the same JSON answers, written by orjson
    os.makedirs(app.instance_path, exist_ok=True)
    config.load(app, test_config)
    app.extensions["certfree.clock"] = app.config.get("CLOCK") or time.time
    app.session_interface = VerifiedOnceSessionInterface()
    logs.init_app(app)  # first: the request id is set before anything else logs
    metrics.init_app(app)
    db.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(api.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(wallet_bp)
    app.extensions[DESK_SOURCE] = CentralSource()  # the desk's pages on the service's own keys and records
    app.register_blueprint(desk_pages)
    errors.init_app(app)
    dbfail.init_app(app)
    app.register_blueprint(health.bp)
    app.after_request(_security_headers)
    return app


def _instance_path(test_config: Mapping[str, Any] | None) -> str | None:
    if test_config and test_config.get("INSTANCE_PATH"):
        return str(test_config["INSTANCE_PATH"])
    return os.environ.get("CERTFREE_INSTANCE_PATH") or None


def _security_headers(response: Any) -> Any:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    )
    return response


__all__ = ["create_app"]
