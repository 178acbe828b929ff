"""Database handling: one engine per app, one session per request (``db_session()``),
closed at teardown. Views commit; the functions they call only take a ``session``.
The schema comes from the Alembic migrations (``upgrade``)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from issuer.db import make_engine, session_factory

from . import audit as _audit  # noqa: F401  (registers the audit hash chain)
from .models import AuditEntry

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def init_app(app: Flask) -> None:
    # hide_parameters: an error's log line shows the SQL without its values (names,
    # password hashes, licence data are personal data; logs are not for them)
    from .dbfail import engine_options  # connect, statement and busy timeouts

    engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=True, hide_parameters=True, **engine_options(app.config))
    app.extensions["certfree.engine"] = engine
    app.extensions["certfree.sessions"] = session_factory(engine)
    app.teardown_appcontext(_close_session)


def engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["certfree.engine"]


def sessions(app: Flask | None = None) -> sessionmaker[Session]:
    return (app or current_app).extensions["certfree.sessions"]


def db_session() -> Session:
    """The request's session (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = sessions()()
    return g.db_session  # type: ignore[no-any-return]


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` through the Alembic migrations."""
    from alembic import command

    cfg = alembic_config(app.config["DATABASE_URL"])
    with engine(app).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _audit_is_append_only(*_args: object) -> None:
    raise PermissionError("the audit log is append-only")
