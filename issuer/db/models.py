"""Typed models of the issuer's records. Personal data stays in the signed credential the
resident holds; the issuer keeps the licence id, its type, its key and its status entries.

Status: every licence has one :class:`StatusEntry` for its full credential and one per
scenario view, each at a random free index of its authority's current
:class:`StatusList` (never reused, so unlinkable across desks and silent about issuance
order). The licence's ``state`` is the one truth: all its entries show it when the lists
are published.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


def utc(ts: float) -> dt.datetime:
    """A Unix time as the timezone-aware datetime the ``DateTime(timezone=True)`` columns hold."""
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def unix(value: dt.datetime) -> int:
    """The Unix time of a ``DateTime(timezone=True)`` column's value (SQLite hands it back
    without its zone, which is UTC)."""
    return int((value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp())


class StatusList(Base):
    """One status list: an id (short, random), the authority that signs it, its size."""

    __tablename__ = "status_lists"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    open: Mapped[bool] = mapped_column(default=True)  # still allocating new indexes
    # Counts the changes of state of the licences with an entry in this list: a signed
    # token of another revision no longer says what the list holds (SignedStatusList).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class StatusMark(Base):
    """An entry of a status list that is not valid: its list, its index and its 2-bit value
    (1 revoked, 2 suspended). Written with the licence's state (``issuer.records.set_status``)
    so that a list's marks are read from the list alone: before, they were found from
    every licence of the city that is not valid, whatever its list."""

    __tablename__ = "status_marks"

    list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class SignedStatusList(Base):
    """The newest signed token of a status list, kept for every web worker and process.

    ``lst`` is the list's compressed bit array (base64url, as in the token) for
    ``revision``: compressing a list of a million entries takes about a second, signing
    it again with a new ``iat`` (the list aged, or its authority's key changed) about
    0.1 ms. See ``issuer.records.status_list_token``."""

    __tablename__ = "signed_status_lists"

    list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)  # the list's revision the token shows
    lst: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(String(64))  # the key that signed the token
    base: Mapped[str] = mapped_column(Text)  # the public URL its ``sub`` starts with
    signed_at: Mapped[int] = mapped_column(Integer)  # the token's iat
    token: Mapped[str] = mapped_column(Text)


class LicenceRecord(Base):
    """One issued licence (the full credential's ``jti``) and where its status lives."""

    __tablename__ = "licences"
    __table_args__ = (
        UniqueConstraint("status_list", "status_idx"),
        # Only the licences that are not valid (revoked, suspended): an operator's list of
        # its revoked or suspended licences reads these few, not every licence of the city.
        Index("ix_licences_not_valid", "state", sqlite_where=text("state != 'valid'"),
              postgresql_where=text("state <> 'valid'")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the credential's jti
    licence_type: Mapped[str] = mapped_column(String(32), index=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    kid: Mapped[str] = mapped_column(String(64), index=True)
    holder: Mapped[str | None] = mapped_column(String(64), index=True)  # holder key thumbprint
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status_list: Mapped[str | None] = mapped_column(String(64))  # the full credential's entry
    status_idx: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="valid")  # valid | revoked | suspended
    reason: Mapped[str | None] = mapped_column(String(32))
    state_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # SHA-256 (base64url) of the credential as issued: lets the issuer re-sign a credential a
    # holder hands back (key compromise) without keeping the personal data itself.
    credential_sha256: Mapped[str | None] = mapped_column(String(64))
    replaces: Mapped[str | None] = mapped_column(String(32))  # re-issued from this licence id

    entries: Mapped[list["StatusEntry"]] = relationship(back_populates="licence", cascade="all, delete-orphan")


class StatusEntry(Base):
    """One index in a status list: the full credential's (``scope`` "credential") or one
    scenario view's (``scope`` = scenario name)."""

    __tablename__ = "status_entries"
    __table_args__ = (UniqueConstraint("list_id", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # no index of its own: the unique (list_id, idx) index serves lookups by list
    list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    idx: Mapped[int] = mapped_column(Integer)
    licence_id: Mapped[str] = mapped_column(ForeignKey("licences.id"), index=True)
    scope: Mapped[str] = mapped_column(String(32))

    licence: Mapped[LicenceRecord] = relationship(back_populates="entries")
