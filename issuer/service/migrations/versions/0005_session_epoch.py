"""residents, desk_clerks: session_epoch, raised by a log-out

The session lives in a signed cookie; a log-out used only to delete the browser's copy,
so a cookie copied before it kept working. The account's epoch is written into the
cookie at log-in and compared on every request; a log-out raises it.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("residents", "desk_clerks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in ("residents", "desk_clerks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("session_epoch")
