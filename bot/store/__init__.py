"""The bot's store: SQLite (the embedded default) or PostgreSQL, through SQLAlchemy 2 Core.

``DATABASE_URL`` picks the database (:func:`bot.store.urls.parse_database_url`) and
:meth:`Store.open` the implementation (:mod:`bot.store.sqlite`, :mod:`bot.store.postgresql`);
the repositories build their statements from :mod:`bot.store.schema` and run them through
:meth:`Store.read` and :meth:`Store.transaction`, the same code on both databases. The
schema is one Alembic history (``bot/store/migrations``), applied at every start
(:mod:`bot.store.migrate`). The entry point opens the store and hands it to the bot.
"""

from bot.store.base import ReadConnection, ReadStream, Store, dialect_insert
from bot.store.errors import StoreError, StoreFailure, classify_failure
from bot.store.postgresql import PostgresqlStore
from bot.store.schema import from_db_time, to_db_time
from bot.store.sqlite import SqliteStore
from bot.store.urls import describe_url, parse_database_url

__all__ = [
    "PostgresqlStore",
    "ReadConnection",
    "ReadStream",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreFailure",
    "classify_failure",
    "describe_url",
    "dialect_insert",
    "from_db_time",
    "parse_database_url",
    "to_db_time",
]
