"""The desk station: the desk's pages served where the desk is, from a synced folder,
with no connection to the issuer.

::

    certfree sync --from https://certfree.example --to /var/lib/desk --root root.jwk.json
    certfree desk add --data /var/lib/desk --name "Hotel Haishu 0807 front desk" --scenario hotel
    certfree desk clerk --data /var/lib/desk --desk "Hotel Haishu 0807 front desk" --username front1
    certfree desk serve --data /var/lib/desk --bind 127.0.0.1:8080

The folder holds what ``certfree sync`` writes (``trust_list.jws``, ``root.jwk.json``,
``status/``) and the station's own files: ``desk.db`` (desks, clerks, log-in throttle),
``replay.db`` (codes already scanned), ``register.db`` (the register) and ``secret_key``.
With ``--sync-from URL`` a background thread runs the same sync every ``--sync-every``
seconds; that is the only connection the station ever opens."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from flask import Flask, redirect, url_for
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from keys.files import create_once

from .source import EXTENSION, FolderSource

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates" / "station"
DEFAULT_SYNC_SECONDS = 600


def station_tables() -> list[Any]:
    """The tables a station keeps in ``desk.db``: clerks, the log-in throttle, desks."""
    from issuer.service.models import DeskClerk, LoginThrottle

    from .models import Desk, DeskMembership

    return [DeskClerk.__table__, LoginThrottle.__table__, Desk.__table__, DeskMembership.__table__]


def open_accounts(data: Path) -> tuple[Engine, sessionmaker[Session]]:
    """The station's account database (``DIR/desk.db``), its tables created if missing."""
    from issuer.db import Base, make_engine, session_factory

    data.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{data / 'desk.db'}", hide_parameters=True)
    Base.metadata.create_all(engine, tables=station_tables())
    return engine, session_factory(engine)


def create_station(data: str | Path, *, clock: Callable[[], float] | None = None,
                   test_config: Mapping[str, Any] | None = None) -> Flask:
    """The station's Flask app on the folder ``data`` (see the module's docstring)."""
    from issuer.service import config, db, errors
    from issuer.service.security import csrf_token

    from .pages import bp

    folder = Path(data).resolve()
    for needed in ("trust_list.jws", "root.jwk.json"):
        if not (folder / needed).is_file():
            raise FileNotFoundError(2, f"not a synced desk folder (certfree sync --to {folder})", str(folder / needed))
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None, instance_path=str(folder))
    app.config.from_mapping(config.defaults(folder))
    app.config.update(
        DATABASE_URL=f"sqlite:///{folder / 'desk.db'}",
        SECRET_KEY=create_once(folder / "secret_key", secrets.token_urlsafe(48).encode("ascii")).decode("ascii").strip(),
        # The station is served on this machine (localhost): plain http, so no Secure flag;
        # its own cookie name, as cookies ignore the port (a service on :8000 beside it).
        SESSION_COOKIE_SECURE=False,
        SESSION_COOKIE_NAME="certfree_desk_station",
    )
    if test_config:
        app.config.from_mapping(test_config)
    moment = clock or time.time
    app.extensions["certfree.clock"] = moment
    app.extensions[EXTENSION] = FolderSource(folder, moment, app.config.get("POLICIES_DIR"))
    open_accounts(folder)[0].dispose()
    db.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(bp)
    errors.init_app(app)
    app.add_url_rule("/", "home", lambda: redirect(url_for("desk.page")))
    app.add_url_rule("/favicon.ico", "favicon", lambda: redirect(url_for("desk.static", filename="favicon.svg")))
    app.after_request(_headers)
    return app


def _headers(response: Any) -> Any:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
    return response


def start_background_sync(source: str, data: Path, every: float = DEFAULT_SYNC_SECONDS) -> threading.Thread:
    """Refresh the folder from ``source`` every ``every`` seconds (a daemon thread). A
    failed sync changes no file and is logged with its code only; the station keeps
    verifying with what it holds, and its banner shows how old that is."""
    from keys.sync import SyncError, sync
    from verifier import VerificationFailed

    def run() -> None:
        while True:
            try:
                root = json.loads((data / "root.jwk.json").read_text("utf-8"))
                result = sync(source, data, root)
                log.info("desk sync: trust list seq %s, %d status list(s)", result.trust_seq, len(result.lists))
            except SyncError as exc:
                log.warning("desk sync failed: %s", exc.code)
            except VerificationFailed as exc:
                log.warning("desk sync refused: %s", ", ".join(exc.codes))
            except (OSError, ValueError) as exc:
                log.warning("desk sync failed: %s", type(exc).__name__)
            time.sleep(every)

    thread = threading.Thread(target=run, name="certfree-desk-sync", daemon=True)
    thread.start()
    return thread


def running_station(data: Path, sync_from: str | None = None, every: float = DEFAULT_SYNC_SECONDS) -> Flask:
    """The station a server runs: its app, and the background sync when ``sync_from`` is
    given."""
    app = create_station(data)
    if sync_from:
        start_background_sync(sync_from, data, every)
    return app


def from_environment() -> Flask:
    """The station for gunicorn (``certfree desk serve``): the folder and the optional
    background sync come from ``CERTFREE_DESK_DATA``, ``CERTFREE_DESK_SYNC_FROM`` and
    ``CERTFREE_DESK_SYNC_SECONDS``."""
    import os

    every = float(os.environ.get("CERTFREE_DESK_SYNC_SECONDS") or DEFAULT_SYNC_SECONDS)
    return running_station(Path(os.environ["CERTFREE_DESK_DATA"]), os.environ.get("CERTFREE_DESK_SYNC_FROM"), every)


__all__ = ["create_station", "open_accounts", "start_background_sync", "running_station", "from_environment",
           "station_tables"]
