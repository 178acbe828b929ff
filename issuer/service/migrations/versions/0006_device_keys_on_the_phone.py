"""holder_devices replaces devices: the device key lives on the resident's phone

The server used to make each resident's device key and keep it sealed with a server key
(``devices.encrypted_key``). Now the phone's browser makes the key (Web Crypto Ed25519,
non-extractable) and the server keeps only its public half, with a label and the moment it
was removed; a resident may have had several devices, one active at a time.

The old rows are copied without their sealed keys and marked removed: those keys are gone,
so their holders enrol their phone again (the demo resident's is re-enrolled by the
browser's one click), which binds the licences to the new key and revokes the old ones.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "holder_devices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=32), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thumbprint"),
    )
    op.create_index("ix_holder_devices_resident_id", "holder_devices", ["resident_id"])
    op.create_index("uq_holder_devices_active", "holder_devices", ["resident_id"], unique=True,
                    sqlite_where=sa.text("removed_at IS NULL"), postgresql_where=sa.text("removed_at IS NULL"))
    removed = dt.datetime.now(dt.timezone.utc)
    op.get_bind().execute(
        sa.text("INSERT INTO holder_devices (resident_id, public_jwk, thumbprint, label, created_at, removed_at) "
                "SELECT resident_id, public_jwk, thumbprint, 'server-held key (retired)', created_at, :removed "
                "FROM devices ORDER BY id"),
        {"removed": removed},
    )
    op.drop_index("ix_devices_thumbprint", table_name="devices")
    op.drop_table("devices")


def downgrade() -> None:
    # The sealed keys are gone for good: a downgrade keeps the table's shape, not its keys.
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=32), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("encrypted_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resident_id"),
    )
    op.create_index("ix_devices_thumbprint", "devices", ["thumbprint"])
    op.drop_index("uq_holder_devices_active", table_name="holder_devices")
    op.drop_index("ix_holder_devices_resident_id", table_name="holder_devices")
    op.drop_table("holder_devices")
