"""Alembic's entry point for the bot's one migration history (SQLite and PostgreSQL).

The bot runs it in process (:func:`bot.store.migrate`): the connection to migrate comes
in ``config.attributes["connection"]``; each revision runs in its own transaction, so
a failure leaves the database at the previous revision, never half-migrated.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
# SQLite DDL is transactional too: each revision commits whole or not at all.
context.configure(connection=connection, transaction_per_migration=True, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
