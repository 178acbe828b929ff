"""status_marks: a status list's entries that are not valid, read from the list alone

A list's entries that are not valid were found from every licence of the city that is not
valid (the partial index ix_licences_not_valid), whatever its list: 110-174 ms a list at
1,000,000 licences with 1 % revoked, growing with the city (docs/benchmarks.md). Each
change of state now writes its entries' marks, and a list reads its own by their primary
key. The marks of the licences already revoked or suspended are written here.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_marks",
        sa.Column("list_id", sa.String(length=16), sa.ForeignKey("status_lists.id"), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    op.execute(
        "INSERT INTO status_marks (list_id, idx, value)"
        " SELECT se.list_id, se.idx, CASE l.state WHEN 'revoked' THEN 1 WHEN 'suspended' THEN 2 END"
        " FROM licences l JOIN status_entries se ON se.licence_id = l.id"
        " WHERE l.state IN ('revoked', 'suspended')"
    )
    # Every signed token is signed again from the marks (the same content, checked anew).
    op.execute("UPDATE status_lists SET revision = revision + 1")


def downgrade() -> None:
    op.drop_table("status_marks")
