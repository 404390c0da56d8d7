"""Real databases for tests: an SQLite file in tmp_path, or a fresh PostgreSQL database.

Which store a test runs on (:func:`backends_for`, the one rule):

* a test that takes ``store`` or ``store_url`` without starting a bot tests the store
  itself (its SQL, migrations, locks): it runs on SQLite **and** PostgreSQL;
* a test that starts a bot (the ``harness`` fixture) tests a feature: SQLite only,
  unless it is marked ``both_stores`` because the store is its subject (votes, the post
  ledger, restarts, crashes, caches, the guild keeper, shards sharing one store);
* ``sqlite_only`` / ``postgresql_only`` narrow either to one store, and
  ``--store=sqlite`` or ``--store=postgresql`` runs one backend only (quicker while working).

Every database is already migrated: an SQLite file is a copy of a template migrated once
per run (per xdist worker); PostgreSQL is the real server at ``TEST_DATABASE_URL``
(default: the project machines' server, ``postgresql://postgres@127.0.0.1:5432/test``),
where each test gets its own database, created from a template migrated once per run
(per worker), and dropped afterwards. Both templates' names are unique to the process.
When no server answers, the PostgreSQL runs are skipped with one reason, except
with ``CI=true``, where they fail: CI must not pass without having run them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import Row, text
from sqlalchemy.engine import make_url

from bot.store import Store

T = TypeVar("T")

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
#: Databases this run created start with this, so a crashed run's leftovers are easy to find.
PREFIX = "hyosan_test_"


def test_database_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)


class PostgresServer:
    """The test server: checked once, a migrated template made once, a database per test."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url).set(drivername="postgresql")
        self.template = f"{PREFIX}template_{os.getpid()}_{secrets.token_hex(3)}"
        self.problem: str | None = None
        self._template_ready = False

    def _dsn(self, database: str | None = None) -> str:
        url = self.url if database is None else self.url.set(database=database)
        return url.render_as_string(hide_password=False)

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._dsn(), timeout=5)

    async def check(self) -> str | None:
        """None when the server answers, else why not (the skip reason)."""
        try:
            conn = await self._admin()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            shown = self.url.render_as_string(hide_password=True)
            return f"PostgreSQL at {shown} (TEST_DATABASE_URL) does not answer: {exc}"
        await conn.close()
        return None

    async def create_database(self) -> str:
        """A new database with every migration applied; returns its URL."""
        if not self._template_ready:
            await self._create_template()
        return await self._create(f"{PREFIX}{secrets.token_hex(6)}", template=self.template)

    async def create_empty_database(self) -> str:
        return await self._create(f"{PREFIX}{secrets.token_hex(6)}")

    async def _create(self, name: str, *, template: str | None = None) -> str:
        conn = await self._admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        finally:
            await conn.close()
        return self._dsn(name)

    async def _create_template(self) -> None:
        await self._create(self.template)
        store = await Store.open(self._dsn(self.template))
        await store.close()
        self._template_ready = True

    async def drop_database(self, url: str) -> None:
        name = make_url(url).database
        assert name is not None
        assert name.startswith(PREFIX), name
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def drop_template(self) -> None:
        if self._template_ready:
            await self.drop_database(self._dsn(self.template))


_server: PostgresServer | None = None


async def postgres_server() -> PostgresServer:
    """The run's server, checked on first use; skips (or fails under CI=true) when it is down."""
    global _server
    if _server is None:
        _server = PostgresServer(test_database_url())
        _server.problem = await _server.check()
    if _server.problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{_server.problem}; CI=true needs the PostgreSQL tests to run", pytrace=False)
        pytest.skip(_server.problem)
    return _server


def cleanup_server() -> Iterator[None]:
    yield
    _sqlite_template.cleanup()
    if _server is not None and _server.problem is None:
        asyncio.run(_server.drop_template())


@pytest.fixture(scope="session", autouse=True)
def _postgres_template_cleanup() -> Iterator[None]:
    yield from cleanup_server()


def selected_backends(config: pytest.Config) -> tuple[str, ...]:
    chosen = config.getoption("--store")
    return BACKENDS if chosen in (None, "both") else (chosen,)


#: Fixtures that start a whole bot on the test's database (a feature's test unless marked).
BOT_FIXTURES = ("harness",)


def backends_for(metafunc: pytest.Metafunc) -> tuple[str, ...]:
    """The stores a test that takes ``store_url`` runs on (the rule in this module's docstring)."""
    backends = selected_backends(metafunc.config)
    marked = metafunc.definition.get_closest_marker
    only = [name for name in BACKENDS if marked(f"{name}_only")]
    if not only and any(name in metafunc.fixturenames for name in BOT_FIXTURES) and not marked("both_stores"):
        only = ["sqlite"]
    if only:
        backends = tuple(name for name in backends if name in only)
    return backends


class SqliteTemplate:
    """One SQLite file migrated once per process; each test gets a copy (a file copy is
    several times quicker than running every migration on a new file)."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._path: Path | None = None

    async def copy_to(self, target: Path) -> None:
        if self._path is None:
            self._folder = tempfile.TemporaryDirectory(prefix=f"{PREFIX}sqlite_{os.getpid()}_")
            path = Path(self._folder.name) / "template.db"
            opened = await Store.open(str(path))
            await opened.close()
            # Closed cleanly, everything is in the one file (its migration lock file is not data).
            journals = [p.name for p in path.parent.glob("template.db-*")]
            journals = [name for name in journals if not name.endswith("-migration.lock")]
            assert journals == [], f"the closed template left {journals}"
            self._path = path
        shutil.copyfile(self._path, target)

    def cleanup(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
        self._folder = self._path = None


_sqlite_template = SqliteTemplate()


async def migrated_sqlite(path: Path) -> str:
    """A migrated SQLite database at ``path`` (a copy of the run's template); returns its URL."""
    await _sqlite_template.copy_to(path)
    return str(path)


@pytest.fixture
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL for one test: a migrated SQLite file, or a fresh, migrated PostgreSQL database."""
    backend: str = request.param
    if backend == "sqlite":
        yield await migrated_sqlite(tmp_path / "bot.db")
        return
    server = await postgres_server()
    url = await server.create_database()
    try:
        yield url
    finally:
        await server.drop_database(url)


@pytest.fixture
async def empty_postgres_url() -> AsyncIterator[str]:
    """A PostgreSQL database with nothing in it (for migrations and ``store copy``)."""
    server = await postgres_server()
    url = await server.create_empty_database()
    try:
        yield url
    finally:
        await server.drop_database(url)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """The bot's store on a fresh database of each backend."""
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


async def fetch_rows(store: Store, sql: str, **params: object) -> list[Row[Any]]:
    """A test's own look at the tables (``:name`` parameters), on either database."""
    async with store.read() as conn:
        return list(await conn.execute(text(sql), params))


async def execute_sql(store: Store, sql: str, **params: object) -> int:
    """A test's own write, in one transaction; returns the rows it touched."""
    async with store.transaction() as conn:
        return int((await conn.execute(text(sql), params)).rowcount)


async def read_with(store: Store, reader: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Call a repository read function with a connection of its own: ``read_with(store, fetch_x, 1)``."""
    async with store.read() as conn:
        return await reader(conn, *args, **kwargs)
