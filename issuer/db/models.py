"""Typed models of the issuer's records. Personal data stays in the signed credential the
resident holds; the issuer keeps the licence id, its type, its key and its status entry."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class LicenceRecord(Base):
    """One issued licence (the full credential's ``jti``) and where its status lives."""

    __tablename__ = "licences"
    __table_args__ = (UniqueConstraint("status_list", "status_idx"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the credential's jti
    licence_type: Mapped[str] = mapped_column(String(32), index=True)
    authority: Mapped[str] = mapped_column(String(64), index=True)
    kid: Mapped[str] = mapped_column(String(64), index=True)
    holder: Mapped[str | None] = mapped_column(String(64), index=True)  # holder key thumbprint
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status_list: Mapped[str | None] = mapped_column(String(64))
    status_idx: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="valid")  # valid | revoked | suspended
    reason: Mapped[str | None] = mapped_column(String(32))
