"""DATABASE_URL: which database the store opens, and how it is shown without its password."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.store.errors import StoreError

#: What an operator may write, and the driver each one runs on.
DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
EXAMPLES = "sqlite:///var/hyosan.db or postgresql://user:password@host:5432/database"


def sqlite_url(path: str | Path) -> URL:
    """The URL of an SQLite file (or ``:memory:``)."""
    return URL.create("sqlite+aiosqlite", database=str(path))


def parse_database_url(text: str | Path, *, setting: str = "DATABASE_URL") -> URL:
    """An operator's URL as SQLAlchemy's async URL; a path without a scheme is an SQLite file.

    Errors name ``setting`` and never show a password.
    """
    if isinstance(text, Path):
        return sqlite_url(text)
    text = text.strip()
    if not text:
        raise StoreError(f"{setting}: empty; use {EXAMPLES}")
    if "://" not in text:
        return sqlite_url(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme not in DRIVERS:
        raise StoreError(f"{setting}: unknown scheme {scheme!r}; use {EXAMPLES}")
    try:
        url = make_url(text)
    except ArgumentError:
        raise StoreError(f"{setting}: not a database URL; use {EXAMPLES}") from None
    url = url.set(drivername=DRIVERS[scheme])
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise StoreError(f"{setting}: names no SQLite file; use sqlite:///path/to/file.db")
    elif not url.database:
        raise StoreError(f"{setting}: names no PostgreSQL database; add it after the host, e.g. postgresql://user@host:5432/hyosan")
    return url


def describe_url(url: URL) -> str:
    """The URL as logs and messages show it: the password, if any, is replaced by ***."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
