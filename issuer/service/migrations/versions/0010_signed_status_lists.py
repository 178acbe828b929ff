"""signed_status_lists and status_lists.revision: a status list signed once for every worker

Before, each web worker compressed and signed every status list in its own memory, inside
a request: about a second for a list of a million entries, and every list again when a
worker started. Now the newest token of each list is kept in the database with its
compressed bit array; ``status_lists.revision`` counts the state changes of its licences,
so a token of an older revision is known stale without reading the list's entries.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("status_lists", sa.Column("revision", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.create_table(
        "signed_status_lists",
        sa.Column("list_id", sa.String(length=16), sa.ForeignKey("status_lists.id"), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("lst", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("base", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.Integer(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("signed_status_lists")
    with op.batch_alter_table("status_lists") as batch:
        batch.drop_column("revision")
