"""Engine set-up: SQLite files get WAL mode and foreign keys; other URLs are used as given."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from keys import private_file

DEFAULT_URL = "sqlite:///instance/certfree.db"


def _url(url_or_path: str | Path) -> str:
    text = str(url_or_path)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


def make_engine(url_or_path: str | Path = DEFAULT_URL, *, busy_timeout_ms: int = 10000, **kwargs: Any) -> Engine:
    """The engine; for SQLite, ``busy_timeout_ms`` is how long a writer waits for a lock."""
    url = _url(url_or_path)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        private_file(Path(url[len("sqlite:///"):]))
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        pragmas = _sqlite_pragmas(int(busy_timeout_ms))
        event.listen(engine, "connect", pragmas)
    return engine


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    return on_connect


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
