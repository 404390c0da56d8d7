"""The bot's store: SQLite (the embedded default) or PostgreSQL, through SQLAlchemy 2 Core.

``DATABASE_URL`` picks the database (:func:`bot.store.urls.parse_database_url`); the
repositories build their statements from :mod:`bot.store.schema` and run them through
:meth:`Store.read` and :meth:`Store.transaction`, the same code on both databases. The
schema is one Alembic history (``bot/store/migrations``), applied at every start.
"""

from bot.store.engine import Store, dialect_insert
from bot.store.errors import StoreError, StoreFailure, classify_failure
from bot.store.schema import from_db_time, to_db_time
from bot.store.urls import describe_url, parse_database_url

__all__ = [
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
