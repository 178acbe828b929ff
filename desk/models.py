"""Desks and which clerk works at which desk. They share ``issuer.db.Base`` with the
service's other tables (one Alembic history, migration 0007), and a stand-alone station
creates the same tables in the SQLite file of its data folder.

A desk is a place: a name ("Hotel Haishu 0807 front desk"), the scenarios it may verify
and, for a window, the matters. A clerk belongs to one desk (``desk_memberships``, a
table of its own so that the clerk accounts stay as they are)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Double, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db import Base
# desk_memberships.clerk_id references desk_clerks, which that module defines: imported
# here, the metadata is whole whichever of the two a process imports first.
from issuer.service import models as _service_models  # noqa: F401

MAX_DESK_NAME = 128


class Desk(Base):
    """A desk: its name, the scenarios it may verify and (for a window) its matters."""

    __tablename__ = "desks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(MAX_DESK_NAME), unique=True)
    scenarios: Mapped[list[str]] = mapped_column(JSON)
    matters: Mapped[list[str]] = mapped_column(JSON)  # empty: every matter (a window only)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DeskMembership(Base):
    """The desk a clerk works at (one per clerk)."""

    __tablename__ = "desk_memberships"

    clerk_id: Mapped[str] = mapped_column(ForeignKey("desk_clerks.id", ondelete="CASCADE"), primary_key=True)
    desk_id: Mapped[int] = mapped_column(ForeignKey("desks.id", ondelete="CASCADE"), index=True)


class ReplayEntry(Base):
    """A holder proof (or a spent desk result) the central service's desks have seen, kept
    until it expires: the replay cache of every worker and machine (desk/replay.py)."""

    __tablename__ = "desk_replay"
    __table_args__ = {"sqlite_with_rowid": False}  # as verifier.SqliteReplayCache: rows in key order

    key: Mapped[bytes] = mapped_column("k", LargeBinary(32), primary_key=True)  # SHA-256
    expires_at: Mapped[float] = mapped_column("exp", Double, index=True)  # Unix time


__all__ = ["Desk", "DeskMembership", "ReplayEntry", "MAX_DESK_NAME"]
