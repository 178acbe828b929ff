"""The clerk and desk of a desk request, loaded once per session instead of once per scan.

At the first desk request after log-in the clerk's desk (its id, name, scenarios and
matters) is read and kept in the session (the signed cookie; it holds nothing secret).
Every request after that reads one small row on the primary key: the clerk's session
epoch and the id of the desk the clerk works at now. That query runs on the pooled
connection's own driver cursor, its SQL compiled once per database driver (SQLAlchemy's
execution machinery cost a scan about 85 µs more than the query itself); a driver error is
raised as SQLAlchemy's, so the service still answers 503 ``database_unavailable``. So

* a log-out anywhere (it raises the epoch, migration 0005) or a removed clerk (no row)
  ends the session on its next request, as :func:`issuer.service.logins.current` does;
* a clerk moved to another desk (``certfree desk clerk``), or whose desk was removed,
  works at the new desk (or at none) from the next request: the desk is read again
  whenever the id differs from the one kept.

A desk's name, scenarios and matters are set when it is made (``certfree desk add``)
and nothing changes them afterwards; a desk that must verify other scenarios is a new
desk, and its clerks are moved to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import session
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError

from issuer.service import db, logins
from issuer.service.models import DeskClerk

from .models import Desk, DeskMembership

SESSION_KEY = "desk_clerk_id"
#: the session key of the clerk's desk as read at the first desk request
DESK_KEY = f"{SESSION_KEY}:desk"
_clerks, _members, _desks = DeskClerk.__table__, DeskMembership.__table__, Desk.__table__
_CHECK = (select(_clerks.c.session_epoch, _members.c.desk_id)
          .select_from(_clerks.outerjoin(_members, _members.c.clerk_id == _clerks.c.id))
          .where(_clerks.c.id == bindparam("clerk")))
_DESK = select(_desks.c.id, _desks.c.name, _desks.c.scenarios, _desks.c.matters).where(_desks.c.id == bindparam("desk"))


@dataclass(frozen=True)
class DeskView:
    """What the pages need of a desk: its id, name, scenarios and (a window's) matters."""

    id: int
    name: str
    scenarios: tuple[str, ...]
    matters: tuple[str, ...]  # empty: every matter


@dataclass(frozen=True)
class Clerk:
    """The logged-in clerk of this request, and the desk the clerk works at (None: none)."""

    id: str
    desk: DeskView | None


def current_clerk() -> Clerk | None:
    """The clerk this browser's session is logged in as, with the desk; None if the
    session has no clerk or has ended (log-out, removed clerk, past its lifetime)."""
    clerk_id = logins.session_account_id(SESSION_KEY)
    if clerk_id is None:
        return None
    engine = db.engine()
    row = _check(engine, clerk_id)
    if row is None:
        return None
    epoch, desk_id = row
    if session.get(f"{SESSION_KEY}:epoch") != (epoch or 0):
        return None
    kept = session.get(DESK_KEY)
    if desk_id is None:
        desk = None
    elif isinstance(kept, list) and kept and kept[0] == desk_id:
        desk = _view(kept)
    else:
        with engine.connect() as connection:
            found = connection.execute(_DESK, {"desk": desk_id}).first()
        desk = _view(list(found)) if found is not None else None
        if desk is not None:
            session[DESK_KEY] = [desk.id, desk.name, list(desk.scenarios), list(desk.matters)]
    return Clerk(clerk_id, desk)


_compiled: dict[tuple[str, str, str], tuple[str, bool]] = {}  # (dialect, driver, paramstyle) -> (SQL, positional)


def _check(engine: Engine, clerk_id: str) -> tuple[Any, Any] | None:
    """(session epoch, desk id) of the clerk, or None: ``_CHECK`` on the pooled connection's
    driver cursor. A driver error, from the pool's connect or from the statement, is raised
    as SQLAlchemy's (``DBAPIError.instance``: a lock or a statement timeout is its
    ``OperationalError``), as ``Engine.connect`` would, never as the driver's own."""
    dialect = engine.dialect
    kind = (dialect.name, dialect.driver, dialect.paramstyle)
    if kind not in _compiled:
        compiled = _CHECK.compile(dialect=dialect)
        _compiled[kind] = (str(compiled), bool(compiled.positional))
    sql, positional = _compiled[kind]
    params: Any = (clerk_id,) if positional else {"clerk": clerk_id}
    connection = None
    try:
        connection = engine.raw_connection()  # the pool's own connect raises the driver's error too
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as exc:
        gone = connection is not None and dialect.is_disconnect(exc, connection.dbapi_connection, None)
        if gone:
            connection.invalidate(exc)  # type: ignore[union-attr]
        raise DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  connection_invalidated=gone, dialect=dialect) from None
    finally:
        if connection is not None:
            connection.close()  # back to the pool, which rolls back what the driver began
    return (row[0], row[1]) if row is not None else None


def _view(kept: list[Any]) -> DeskView:
    desk_id, name, scenarios, matters = kept
    return DeskView(int(desk_id), str(name), tuple(scenarios), tuple(matters or ()))


__all__ = ["Clerk", "DeskView", "SESSION_KEY", "current_clerk"]
