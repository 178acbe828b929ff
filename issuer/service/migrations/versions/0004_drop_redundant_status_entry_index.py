"""status_entries: drop the index on list_id alone

The unique constraint on (list_id, idx) is an index whose first column is list_id, so it
already serves every lookup by list; the second index only cost a write per status entry
(six per licence with its views).

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_entries_list_id"))


def downgrade() -> None:
    with op.batch_alter_table("status_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_entries_list_id"), ["list_id"], unique=False)
