"""The record tables of a database the command line made (``certfree issue --db FILE``),
brought up to this program's. The service's own database is the migrations' (``certfree
serve`` upgrades it); this only touches a database without them."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from .models import Base

# The status marks of the licences already revoked or suspended (migration 0011 writes the
# same into the service's database).
_MARKS_OF_LICENCES_NOT_VALID = text(
    "INSERT INTO status_marks (list_id, idx, value)"
    " SELECT se.list_id, se.idx, CASE l.state WHEN 'revoked' THEN 1 WHEN 'suspended' THEN 2 END"
    " FROM licences l JOIN status_entries se ON se.licence_id = l.id"
    " WHERE l.state IN ('revoked', 'suspended')"
)


def create_records(engine: Engine) -> None:
    """Create the record tables that are missing; in a database made before them, add
    ``status_lists.revision`` and write the status marks of the licences not valid, so its
    status lists still show every revocation. A database under the service's migrations
    is left to them."""
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables:
        return
    columns = {c["name"] for c in inspector.get_columns("status_lists")} if "status_lists" in tables else set()
    with engine.begin() as conn:
        Base.metadata.create_all(conn)
        if "status_lists" in tables and "revision" not in columns:
            conn.execute(text("ALTER TABLE status_lists ADD COLUMN revision INTEGER NOT NULL DEFAULT 0"))
        if "licences" in tables and "status_marks" not in tables:
            conn.execute(_MARKS_OF_LICENCES_NOT_VALID)
