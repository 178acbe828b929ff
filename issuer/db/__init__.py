"""The issuer's records (SQLAlchemy 2.0): what was issued, to whom, and its status.

SQLite in WAL mode by default (one file on a laptop); the same models run on PostgreSQL
given a URL. Services take a ``Session``; the caller (CLI, app) owns the transaction.
"""

from .engine import DEFAULT_URL, make_engine, session_factory
from .models import Base, LicenceRecord, StatusEntry, StatusList, unix, utc

__all__ = ["Base", "LicenceRecord", "StatusEntry", "StatusList", "make_engine", "session_factory", "DEFAULT_URL", "unix", "utc"]
