"""desk_replay: the central service's replay cache, shared by its workers and machines

One row per holder proof (or spent desk result) seen, until it expires; the index on the
expiry lets each prune delete a bounded batch of the oldest (see desk/replay.py).

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_replay",
        sa.Column("k", sa.LargeBinary(32), primary_key=True),
        sa.Column("exp", sa.Double(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_desk_replay_exp", "desk_replay", ["exp"])


def downgrade() -> None:
    op.drop_index("ix_desk_replay_exp", table_name="desk_replay")
    op.drop_table("desk_replay")
