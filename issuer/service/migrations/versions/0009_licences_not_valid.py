"""ix_licences_not_valid: the licences that are not valid, for building status lists

A status list is the few licences revoked or suspended among its entries; without this
partial index, finding them read every licence of the list (seconds at 100,000 licences,
see docs/benchmarks.md, "Status lists at city scale"). Valid licences are not in it, so
issuing one does not write to it.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_licences_not_valid", "licences", ["state"], sqlite_where=sa.text("state != 'valid'"),
                    postgresql_where=sa.text("state <> 'valid'"))


def downgrade() -> None:
    op.drop_index("ix_licences_not_valid", table_name="licences")
