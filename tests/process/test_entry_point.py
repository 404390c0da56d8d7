"""`python -m bot` and `python -m bot check` as an operator meets them: clear words, exit 2."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.__main__ import check
from bot.client import discover_cogs
from bot.datapack import is_stale, load_data_pack, newest_source_date
from bot.settings import Settings

REPO = Path(__file__).parents[2]


def run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the entry point in an empty directory with only the given settings."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "OWNER_", "LOG_", "SHARD_"))
    }
    clean.update(env)
    clean["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "data", tmp_path / "data")
    return tmp_path


def test_without_a_token_it_explains_how_to_get_one(workdir: Path) -> None:
    result = run_bot(workdir)
    assert result.returncode == 2
    assert "DISCORD_TOKEN is not set" in result.stderr
    assert ".env" in result.stderr
    assert "python -m bot preview" in result.stderr, "a newcomer learns how to try it without Discord"
    assert "Traceback" not in result.stderr


def test_check_needs_no_token_and_loads_everything(workdir: Path) -> None:
    result = run_bot(workdir, "check")
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    assert "character" in result.stdout
    assert f"{len(discover_cogs())} cogs" in result.stdout
    assert "languages:    en, ko; data pack translations complete" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr  # nothing the cogs started outlives the check
    assert "never retrieved" not in result.stderr, result.stderr
    with sqlite3.connect(workdir / "var" / "hyosan.db") as conn:
        assert conn.execute("SELECT count(*) FROM pack_entries WHERE kind = 'character'").fetchone()[0] > 0
    again = run_bot(workdir, "check")
    assert again.returncode == 0
    assert "unchanged" in again.stdout


def test_check_lists_each_missing_translation_on_one_line(workdir: Path) -> None:
    show = workdir / "data" / "show.toml"
    show.write_text(show.read_text("utf-8").replace('genre = "좀비 스릴러"\n', ""), "utf-8")
    result = run_bot(workdir, "check")
    assert result.returncode == 0, result.stderr
    assert "data pack translations incomplete, missing: 1 (listed below)" in result.stdout
    assert (
        "  warning: data/show.toml: show: ko.show.genre: no 한국어 translation; readers get the English"
        in result.stdout
    )


def test_a_bad_setting_is_one_line_naming_it(workdir: Path) -> None:
    result = run_bot(workdir, "check", OWNER_IDS="12,me")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: setting OWNER_IDS: 'me' is not a Discord id (digits only, comma-separated)"
    ]


@pytest.mark.parametrize("command", ["check", "run"])
def test_a_shard_id_out_of_range_is_one_line_naming_it(workdir: Path, command: str) -> None:
    result = run_bot(workdir, command, DISCORD_TOKEN="never-used", SHARD_COUNT="2", SHARD_IDS="0-2")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: setting SHARD_IDS: shard 2 is out of range: SHARD_COUNT=2 allows 0..1"
    ]
    assert not (workdir / "var").exists(), "nothing was touched"


def test_check_tells_which_shards_this_process_runs(workdir: Path) -> None:
    default = run_bot(workdir, "check")
    assert "shards:       as many as Discord recommends; this process runs every shard" in default.stdout
    some = run_bot(workdir, "check", SHARD_COUNT="4", SHARD_IDS="0,2")
    assert some.returncode == 0, some.stderr
    assert "shards:       4 in total; this process runs 0, 2" in some.stdout
    assert "rest rate:    23.5 requests/s for paced sends (2/4 of 47/s" in some.stdout
    assert "rest rate:    47 requests/s for paced sends (all of 47/s" in default.stdout
    chosen = run_bot(workdir, "check", SHARD_COUNT="4", SHARD_IDS="0,2", REST_RATE_SHARE="0.1")
    assert "rest rate:    4.7 requests/s for paced sends (REST_RATE_SHARE=0.1 of 47/s)" in chosen.stdout


def test_a_broken_data_pack_names_file_entry_and_field(workdir: Path) -> None:
    characters = workdir / "data" / "characters.toml"
    characters.write_text(characters.read_text().replace('role = "student"', 'role = "zombie"', 1))
    result = run_bot(workdir, "check")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert "characters.toml" in line
    assert "role" in line
    assert "Traceback" not in result.stderr


def test_a_newer_database_is_refused_and_kept(workdir: Path) -> None:
    (workdir / "var").mkdir()
    db = workdir / "var" / "hyosan.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE votes (x)")
        conn.execute("INSERT INTO votes VALUES (1)")
        conn.execute("PRAGMA user_version = 500")
    result = run_bot(workdir, "check")
    assert result.returncode == 2
    assert "newer than this bot knows" in result.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM votes").fetchone()[0] == 1


def test_a_database_that_is_not_sqlite_is_refused(workdir: Path) -> None:
    (workdir / "notes.txt").write_text("not a database\n" * 50)
    result = run_bot(workdir, "check", DATABASE_PATH="notes.txt")
    assert result.returncode == 2
    assert "not a usable SQLite database" in result.stderr
    assert (workdir / "notes.txt").read_text() == "not a database\n" * 50


def test_check_warns_but_passes_when_the_newest_source_is_over_six_months_old(workdir: Path) -> None:
    """Today is long after the article of 2025-09-18: the operator hears of it, the check passes."""
    pack = load_data_pack(workdir / "data")
    newest = newest_source_date(pack)
    assert newest is not None
    result = run_bot(workdir, "check")
    assert result.returncode == 0, result.stderr
    assert f"pack sources: newest source {newest.isoformat()}" in result.stdout
    warned = "warning: the data pack's newest source is more than 6 months old" in result.stdout
    assert warned is is_stale(newest, dt.datetime.now(dt.UTC).date())
    # The source audit names what to fix, per file and entry.
    assert "source audit: " in result.stdout
    assert 'sources.toml: source "kowiki-series": no address: a reader cannot check it' in result.stdout


@pytest.mark.parametrize(
    ("today", "warned"),
    [(dt.date(2026, 3, 18), False), (dt.date(2026, 3, 19), True)],
)
async def test_check_judges_the_pack_age_on_the_clock_it_is_given(workdir: Path, today: dt.date, warned: bool) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_path=workdir / "var" / "check.db",
        data_dir=workdir / "data",
    )
    summary = await check(settings, clock=lambda: dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC))
    assert "configuration OK" in summary
    warning = [line for line in summary.splitlines() if line.startswith("warning:")]
    if warned:
        assert warning == [
            "warning: the data pack's newest source is more than 6 months old (2025-09-18, today 2026-03-19): "
            f"its facts may be out of date; add newer sources to {workdir / 'data'}"
        ]
    else:
        assert warning == []


def test_check_names_the_database_of_database_url_without_its_password(workdir: Path, store_url: str) -> None:
    if store_url.startswith("postgresql"):
        url = make_url(store_url).set(password="hunter2").render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{store_url}"
    result = run_bot(workdir, "check", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    database_line = next(line for line in result.stdout.splitlines() if "database:" in line)
    versions = Path(__file__).parents[2] / "bot" / "store" / "migrations" / "versions"
    head = max(path.name[:4] for path in versions.glob("[0-9]*.py"))
    assert f"schema revision {head}" in database_line
    assert ("(PostgreSQL)" if store_url.startswith("postgresql") else "(SQLite)") in database_line
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://root:hunter2@localhost/hyosan"}, "setting DATABASE_URL: unknown scheme 'mysql'"),
        ({"DATABASE_URL": "postgresql://bot:hunter2@127.0.0.1:1/hyosan"}, "DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:1"),
    ],
)
def test_a_bad_database_setting_is_one_line_and_a_non_zero_exit(workdir: Path, env: dict[str, str], message: str) -> None:
    result = run_bot(workdir, "check", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "hunter2" not in result.stderr + result.stdout
    assert not (workdir / "var").exists() or not any((workdir / "var").iterdir())


async def test_store_copy_moves_an_sqlite_store_into_an_empty_postgresql(
    workdir: Path, empty_postgres_url: str
) -> None:
    """Through the command, as an operator runs it: the bot made the SQLite store, then the copy."""
    assert run_bot(workdir, "check").returncode == 0
    made = await asyncio.to_thread(run_bot, workdir, "store", "copy", "--to", empty_postgres_url)
    assert made.returncode == 0, made.stderr
    assert "row counts verified" in made.stdout
    assert "pack_entries:" in made.stdout
    again = await asyncio.to_thread(run_bot, workdir, "store", "copy", "--to", empty_postgres_url)
    assert again.returncode == 2
    assert "already holds data" in again.stderr
    moved = await asyncio.to_thread(run_bot, workdir, "check", DATABASE_URL=empty_postgres_url)
    assert moved.returncode == 0, moved.stderr
    assert "data pack:" in moved.stdout
    assert "unchanged" in moved.stdout


def test_store_copy_refuses_a_target_that_is_not_postgresql(workdir: Path) -> None:
    result = run_bot(workdir, "store", "copy", "--to", "sqlite:///other.db")
    assert result.returncode == 2
    assert "--to must be a postgresql:// URL" in result.stderr
    assert not (workdir / "other.db").exists()


def test_check_tells_how_long_a_removed_server_keeps_its_settings(workdir: Path) -> None:
    default = run_bot(workdir, "check")
    assert "left servers: settings kept 7 days after removal (GUILD_GRACE_DAYS)" in default.stdout
    chosen = run_bot(workdir, "check", GUILD_GRACE_DAYS="0.5")
    assert "left servers: settings kept 0.5 days after removal (GUILD_GRACE_DAYS)" in chosen.stdout
    bad = run_bot(workdir, "check", GUILD_GRACE_DAYS="-1")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["error: setting GUILD_GRACE_DAYS: Input should be greater than or equal to 0"]


def test_check_says_whether_the_release_watch_is_on_and_refuses_it_without_a_channel(workdir: Path) -> None:
    off = run_bot(workdir, "check")
    assert off.returncode == 0, off.stderr
    assert "release watch: off (set RELEASE_WATCH_TVMAZE_ID and RELEASE_WATCH_CHANNEL_ID" in off.stdout
    watch = {"RELEASE_WATCH_TVMAZE_ID": "43387", "OWNER_IDS": "2", "ADMIN_GUILD_IDS": "1"}
    on = run_bot(workdir, "check", **watch, RELEASE_WATCH_CHANNEL_ID="5", RELEASE_WATCH_INTERVAL="30m")
    assert on.returncode == 0, on.stderr
    assert (
        "release watch: on: TVmaze show 43387, season 2, at https://api.tvmaze.com, every 30m; "
        "proposals in channel 5 (must be in one of ADMIN_GUILD_IDS)"
    ) in on.stdout
    refused = run_bot(workdir, "check", **watch)
    assert refused.returncode == 2
    assert "setting RELEASE_WATCH_CHANNEL_ID: needed with RELEASE_WATCH_TVMAZE_ID" in refused.stderr
