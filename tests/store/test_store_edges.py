"""The store's and the settings' edges (issue 21): processes migrating one database together,
what the store's errors may show, a DATABASE_URL password with a plain @, and Discord URLs
that would send the token unencrypted."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from bot.settings import Settings, SettingsError, load_settings
from bot.store import Store, StoreError, parse_database_url
from bot.store.ddl import SQLITE_SCRIPTS
from tests.support.bot_process import run_bot_to_exit
from tests.support.stores import postgres_server, selected_backends

ROOT = Path(__file__).resolve().parents[2]
#: Every revision the bot ships, in order (one SQLite script each).
REVISIONS = tuple(sorted(script.name[:4] for script in SQLITE_SCRIPTS.glob("*.sql")))
#: The older revision the second kind of round starts from.
OLDER = "0003"

#: A process of the bot's own store, opening (and so migrating) each database named on its
#: stdin as soon as the line arrives: the test writes one line to every process at once, so
#: they start together, without the seconds of Python's start-up between them.
OPENER = """
import asyncio, logging, sys
from bot.store import Store

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")

async def open_and_close(url):
    store = await Store.open(url)
    await store.close()

print("ready", flush=True)
for line in sys.stdin:
    try:
        asyncio.run(open_and_close(line.strip()))
        print("opened", flush=True)
    except Exception as exc:
        print("failed:", type(exc).__name__, str(exc).splitlines()[0], flush=True)
    print("done", flush=True)
"""


class Openers:
    """Several real processes that each open the same database when told."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes

    async def open_together(self, url: str) -> list[list[str]]:
        """Every process opens ``url`` at once; the lines each printed for it."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"{url}\n".encode())
        await asyncio.gather(*(process.stdin.drain() for process in self.processes if process.stdin))
        return list(await asyncio.wait_for(asyncio.gather(*map(_lines_until_done, self.processes)), 30))


async def _lines_until_done(process: asyncio.subprocess.Process) -> list[str]:
    assert process.stdout is not None
    lines = []
    while (line := (await process.stdout.readline()).decode().strip()) != "done":
        assert line, "the opener exited"
        lines.append(line)
    return lines


@pytest.fixture
async def openers() -> AsyncIterator[Openers]:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OPENER,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert (await asyncio.wait_for(process.stdout.readline(), 30)).strip() == b"ready"
        yield Openers(processes)
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def applied(lines: list[str]) -> list[str]:
    """The revisions a process's store says it applied ("applied migration 0002 Spoiler ...")."""
    return [m.group(1) for line in lines if (m := re.search(r"applied migration (\d{4})", line))]


async def _open_rounds(openers: Openers, fresh_database: Callable[[], Awaitable[str]], rounds: int) -> None:
    """Round after round, the processes open a fresh database together, then one at an older
    revision: every process opens it, and every revision is applied once in all."""
    for round_number in range(rounds):
        older = round_number % 2 == 1
        url = await fresh_database()
        if older:
            store = await Store.open(url, revision=OLDER)
            await store.close()
        printed = await openers.open_together(url)
        failures = [line for lines in printed for line in lines if line.startswith("failed")]
        assert failures == [], f"round {round_number} ({'older' if older else 'fresh'}): {failures}"
        assert [lines[-1] for lines in printed] == ["opened"] * len(printed)
        expected = REVISIONS[REVISIONS.index(OLDER) + 1 :] if older else REVISIONS
        counts = Counter(revision for lines in printed for revision in applied(lines))
        assert counts == Counter(expected), f"round {round_number}: each revision once, got {counts}"
        store = await Store.open(url)
        try:
            assert await store.schema_version() == REVISIONS[-1]
            assert await store.migrate() == []
        finally:
            await store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_processes_starting_together_migrate_the_database_once(
    backend: str, openers: Openers, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Four processes opening one fresh (or older) database together: one migrates it, the
    others wait and find it done. On SQLite one start in eight failed with "table ... already
    exists" (or Alembic found the revision row moved under it), and processes that found it
    done said they had applied the revisions too."""
    if backend not in selected_backends(request.config):
        pytest.skip(f"--store={request.config.getoption('--store')}")
    if backend == "sqlite":
        files = iter(range(1000))

        async def fresh_file() -> str:
            return str(tmp_path / f"round{next(files)}.db")

        await _open_rounds(openers, fresh_file, rounds=16)
        return
    server = await postgres_server()
    made: list[str] = []

    async def fresh_database() -> str:
        made.append(await server.create_empty_database())
        return made[-1]

    try:
        await _open_rounds(openers, fresh_database, rounds=4)
    finally:
        for url in made:
            await server.drop_database(url)


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without the bot's settings, plus ``settings``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD_", "DATABASE_", "OWNER_", "LOG_", "SHARD_", "ADMIN_", "DEV_", "REST_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    return env | settings


#: A password with an @ its owner did not percent-encode; none of its parts may be shown.
AT_PASSWORD_URLS = [
    "postgresql://hyosan:s3cret@pw42@db.example:5432/hyosan",
    "postgresql://hyosan:s3cret@pw42:x@db.example:5432/hyosan",  # the rest reads as a port
    "postgres://hyosan:s3cret@pw42@db.example/hyosan",
]
SECRET_PARTS = ("s3cret", "pw42", "db.example")


@pytest.mark.parametrize("url", AT_PASSWORD_URLS)
def test_an_unencoded_at_in_the_password_is_refused_without_showing_any_of_it(url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        parse_database_url(url)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL: ")
    assert "percent-encode the password" in message
    assert not [part for part in SECRET_PARTS if part in message]
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE_URL={url}\n", "utf-8")
    with pytest.raises(SettingsError) as refused:
        load_settings(env_file)
    assert str(refused.value).startswith("setting DATABASE_URL: ")
    assert "percent-encode the password" in str(refused.value)
    assert not [part for part in SECRET_PARTS if part in str(refused.value)]


def test_a_percent_encoded_at_is_the_password_it_stands_for() -> None:
    url = parse_database_url("postgresql://hyosan:s3cret%40pw42@db.example:5432/hyosan")
    assert (url.password, url.host) == ("s3cret@pw42", "db.example")


async def test_check_refuses_an_unencoded_at_in_the_password_in_one_line(tmp_path: Path) -> None:
    finished = await run_bot_to_exit(tmp_path, clean_env(DATABASE_URL=AT_PASSWORD_URLS[0]), "check")
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "error: setting DATABASE_URL: the password holds an @ that is not percent-encoded; "
        "percent-encode the password (each @ as %40)"
    ]
    assert not [part for part in SECRET_PARTS if part in finished.stdout + finished.stderr]


#: What a member typed, bound to a statement that fails.
TYPED = "typed-by-a-member-7d1f"


async def test_a_failing_statement_does_not_show_its_parameters(store: Store) -> None:
    """Every path a statement takes (the async engine, and on SQLite the inline and the
    threaded synchronous engines) fails without the values bound to it in the error."""
    caught: list[DBAPIError] = []

    async def expect_failure(attempt: Awaitable[object]) -> None:
        with pytest.raises(DBAPIError) as failure:
            await attempt
        caught.append(failure.value)

    async def in_transaction() -> None:
        async with store.transaction() as conn:
            await conn.execute(text("INSERT INTO bot_state (key, value) VALUES ('k', :v)"), {"v": TYPED})
            await conn.execute(text("INSERT INTO bot_state (key, value) VALUES ('k', :v)"), {"v": TYPED})

    async def in_read() -> None:
        async with store.read() as conn:
            await conn.execute(text("SELECT no_such_column FROM bot_state WHERE value = :v"), {"v": TYPED})

    def work(conn: Connection) -> None:
        conn.execute(text("INSERT INTO no_such_table VALUES (:v)"), {"v": TYPED})

    await expect_failure(in_transaction())
    await expect_failure(in_read())
    await expect_failure(store.run_transaction(work))
    await expect_failure(store.run_transaction(work, small=True))
    assert len(caught) == 4
    for error in caught:
        assert "SQL parameters hidden" in str(error)
        assert TYPED not in str(error)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "DISCORD_API_BASE_URL",
            "http://proxy.example:8080/api/v10",
            "setting DISCORD_API_BASE_URL: http:// would send the bot's token unencrypted to proxy.example; "
            "use https:// (http:// is only for this computer: 127.0.0.1, ::1 or localhost)",
        ),
        (
            "DISCORD_GATEWAY_URL",
            "ws://10.0.0.7/",
            "setting DISCORD_GATEWAY_URL: ws:// would send the bot's token unencrypted to 10.0.0.7; "
            "use wss:// (ws:// is only for this computer: 127.0.0.1, ::1 or localhost)",
        ),
        ("DISCORD_API_BASE_URL", "http://localhost.example/api/v10", "unencrypted to localhost.example;"),
        ("DISCORD_API_BASE_URL", "http://0.0.0.0:8080/api/v10", "unencrypted to 0.0.0.0;"),
        ("DISCORD_GATEWAY_URL", "ws://[2001:db8::1]:8081/", "unencrypted to 2001:db8::1;"),
        ("DISCORD_API_BASE_URL", "http://:8080/api/v10", "setting DISCORD_API_BASE_URL: names no host"),
    ],
)
def test_a_plain_discord_url_off_this_computer_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings(tmp_path / "none.env")
    assert expected in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("api", "gateway"),
    [
        ("http://127.0.0.1:8080/api/v10", "ws://127.0.0.1:8081/"),
        ("http://127.8.0.1/api/v10", "ws://[::1]:8081/"),
        ("http://LocalHost:8080/api/v10", "ws://localhost/"),
        ("https://proxy.example/api/v10", "wss://gateway.example/"),
    ],
)
def test_plain_urls_of_this_computer_and_tls_anywhere_are_taken(api: str, gateway: str) -> None:
    settings = Settings(discord_api_base_url=api, discord_gateway_url=gateway)
    assert (settings.discord_api_base_url, settings.discord_gateway_url) == (api, gateway)


@pytest.mark.parametrize(
    ("command", "setting", "value"),
    [
        ("run", "DISCORD_API_BASE_URL", "http://proxy.invalid/api/v10"),
        ("check", "DISCORD_GATEWAY_URL", "ws://gateway.invalid/"),
    ],
)
async def test_the_bot_will_not_start_with_its_token_in_the_clear(
    tmp_path: Path, command: str, setting: str, value: str
) -> None:
    shutil.copytree(ROOT / "data", tmp_path / "data")  # all else is as the bot needs it
    env = clean_env(DISCORD_TOKEN="token-never-sent-9c2e", **{setting: value})
    finished = await run_bot_to_exit(tmp_path, env, command)
    assert finished.returncode == 2
    [line] = finished.stderr.strip().splitlines()
    assert line.startswith(f"error: setting {setting}: {value.split(':')[0]}:// would send the bot's token")
    assert "token-never-sent-9c2e" not in finished.stdout + finished.stderr
    assert not (tmp_path / "var").exists(), "nothing was started"
