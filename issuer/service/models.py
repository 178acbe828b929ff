"""The service's typed models. They share ``issuer.db.Base`` with the issuer's licence
records, so one Alembic migration history covers the whole database.

Personal data: a resident's licences live in the signed credentials the service holds
for them (``wallet_credentials``/``wallet_views``) until their phone fetches them; the audit log and the idempotency
records keep only licence ids; login throttling keeps a hash of the user name.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, LicenceRecord


class Resident(Base):
    """A resident with a web wallet login."""

    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random public id
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Raised by a log-out: every session cookie issued before it stops working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    devices: Mapped[list["Device"]] = relationship(back_populates="resident", order_by="Device.id")

    @property
    def device(self) -> "Device | None":
        """The active device (the one the resident's licences are bound to), if any."""
        return next((d for d in self.devices if d.removed_at is None), None)


class DeskClerk(Base):
    """A front-desk clerk who may use the desk page (verify codes, write the register)."""

    __tablename__ = "desk_clerks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Raised by a log-out: every session cookie issued before it stops working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Device(Base):
    """A resident's enrolled device: the public half of the holder key that a phone's
    browser made (Web Crypto Ed25519, non-extractable, kept in the phone's IndexedDB).
    The server never holds the private half. One device of a resident is active at a time
    (``removed_at`` is None): the issuer binds the resident's licences to its key, and a
    newer device or a removal revokes what was bound to it."""

    __tablename__ = "holder_devices"
    # One active device per resident, even for two enrolments racing each other.
    __table_args__ = (
        Index("uq_holder_devices_active", "resident_id", unique=True,
              sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resident: Mapped[Resident] = relationship(back_populates="devices")


class WalletCredential(Base):
    """A full credential the service holds for a resident (one per issued licence): bound to
    the resident's active device, or to no key while they have none."""

    __tablename__ = "wallet_credentials"

    licence_id: Mapped[str] = mapped_column(ForeignKey(LicenceRecord.id), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    licence_type: Mapped[str] = mapped_column(String(32))
    credential: Mapped[str] = mapped_column(Text)
    views: Mapped[list["WalletView"]] = relationship(back_populates="credential_row", cascade="all, delete-orphan")


class WalletView(Base):
    """One scenario view of a credential."""

    __tablename__ = "wallet_views"
    __table_args__ = (UniqueConstraint("licence_id", "scenario"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    licence_id: Mapped[str] = mapped_column(ForeignKey("wallet_credentials.licence_id"))
    scenario: Mapped[str] = mapped_column(String(32))
    jws: Mapped[str] = mapped_column(Text)
    credential_row: Mapped[WalletCredential] = relationship(back_populates="views")


class Operator(Base):
    """An issuer operator. The API token is stored only as its SHA-256 hash."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public part of the token
    name: Mapped[str] = mapped_column(String(64), unique=True)
    authority: Mapped[str] = mapped_column(String(64))
    licence_types: Mapped[list[str]] = mapped_column(JSON)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(default=False)


class IdempotencyRecord(Base):
    """A completed issue request: a retry with the same key returns the same licence."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("operator_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"))
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    licence_id: Mapped[str] = mapped_column(ForeignKey(LicenceRecord.id))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """Append-only audit log: who (actor), what (action, licence id), when. Nothing else.

    Tamper-evident: entry ``seq`` carries ``entry_hash = SHA-256(prev_hash, its fields)``
    chained to entry ``seq - 1``; ``AuditHead`` holds the last seq and hash (see
    :mod:`issuer.service.audit`)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(80))  # "operator:<id>", "resident:<id>", "system"
    action: Mapped[str] = mapped_column(String(32))
    licence_id: Mapped[str | None] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last audit entry's seq and hash (the chain's head)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed log-ins per user name (hashed), shared by every worker through the database."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(lower(username))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


__all__ = [
    "Resident", "DeskClerk", "Device", "WalletCredential", "WalletView", "Operator",
    "IdempotencyRecord", "AuditEntry", "AuditHead", "LoginThrottle", "LicenceRecord",
]
