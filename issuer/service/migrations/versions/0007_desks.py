"""desks, desk_memberships: a desk is bound to its place and its scenarios

A clerk belongs to one desk; the desk names the scenarios (and, for a window, the
matters) it may verify (see desk/models.py).

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("scenarios", sa.JSON(), nullable=False),
        sa.Column("matters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "desk_memberships",
        sa.Column("clerk_id", sa.String(32), sa.ForeignKey("desk_clerks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("desk_id", sa.Integer(), sa.ForeignKey("desks.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_desk_memberships_desk_id", "desk_memberships", ["desk_id"])


def downgrade() -> None:
    op.drop_index("ix_desk_memberships_desk_id", table_name="desk_memberships")
    op.drop_table("desk_memberships")
    op.drop_table("desks")
