"""Alembic's environment: always run by kamrules.history.store with an open connection whose
transaction (and, for SQLite, write lock) the store already holds, so a migration is all or
nothing and two processes never migrate at once."""
from __future__ import annotations

from alembic import context

from kamrules.history.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True,
                  transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
