"""Alembic environment: the metadata is ``issuer.db.Base`` with the service's models.

Run from code (``issuer.service.db.upgrade``, which hands over a connection) or from the
command line: ``alembic -c issuer/service/migrations/alembic.ini upgrade head`` with
``CERTFREE_DATABASE_URL`` set.
"""

from __future__ import annotations

import os

from alembic import context

from issuer.db import Base, make_engine
from issuer.service import models  # noqa: F401  (registers the models on Base.metadata)
from desk import models as desk_models  # noqa: F401  (the desks and their clerks)

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("CERTFREE_DATABASE_URL") or config.get_main_option("sqlalchemy.url") or ""
    engine = make_engine(url)  # a new SQLite file is made 600, as the service makes it
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
