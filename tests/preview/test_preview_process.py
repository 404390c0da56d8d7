"""`python -m bot preview` as a person runs it: no token, no network, one address, a clean stop."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.bot_process import run_bot_to_exit
from tests.support.preview_process import LIVE, REPO, PreviewProcess, preview_environment, start_preview


async def test_the_preview_prints_its_address_serves_the_page_and_stops_both_processes_on_sigint(
    tmp_path: Path,
) -> None:
    preview = await start_preview(tmp_path)
    try:
        assert preview.url.startswith("http://127.0.0.1:")
        await preview.wait_for_line(LIVE)
        async with aiohttp.ClientSession() as session:
            async with session.get(preview.url) as page:
                assert page.status == 200
                assert "<title>hyosan-bot preview</title>" in await page.text()
            async with session.get(preview.url + "static/app.js") as script:
                assert script.status == 200
            async with session.get(preview.url + "api/state") as state:
                body = await state.json()
        assert body["ready"] is True
        assert [c["name"] for c in body["channels"]] == [
            "general",
            "season-2-theories",
            "spoilers",
            "announcements",
            "spoiler-room",
        ]
        assert [p["name"] for p in body["places"]] == ["Hyosan High Fans", "Zombie Drama Club", "Direct Messages"]
        assert [m["name"] for m in body["members"]] == ["You", "Moderator", "Member", "Owner"]
        assert "character" in [c["path"] for c in body["commands"]]
        assert "settings spoilers add" not in [c["path"] for c in body["commands"]], "Discord hides it from members"
        await preview.wait_for_line("ready as hyosan-bot in 1 guilds")
    finally:
        code = await preview.stop(signal.SIGINT)
    log = preview.output
    assert code == 0, log
    # The pipe closes only when both processes have exited: the bot stopped too, cleanly.
    assert "store closed" in log
    assert log.rstrip().endswith("preview: stopped")
    assert "Traceback" not in log
    assert "Can't keep up" not in log
    assert "WARNING" not in log, "no warning a person would have to wonder about"
    with sqlite3.connect(tmp_path / "var" / "preview.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_the_page_answers_only_at_its_own_address(tmp_path: Path) -> None:
    """Another site in the same browser (DNS rebinding, a form post) cannot drive the preview."""
    preview = await start_preview(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(preview.url + "api/state", headers={"Host": "evil.example:80"}) as rebound:
                assert rebound.status == 403
            async with session.post(
                preview.url + "api/command", data="command=about", headers={"Origin": "http://evil.example"}
            ) as posted:
                assert posted.status == 403
    finally:
        assert await preview.stop() == 0


async def test_a_broken_data_pack_stops_the_preview_with_the_same_line_as_check(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    for source in (REPO / "data").glob("*.toml"):
        (pack / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    characters = pack / "characters.toml"
    characters.write_text(characters.read_text(encoding="utf-8").replace('hangul = "', 'hangul = 7 #"', 1))
    env = preview_environment(tmp_path, DATA_DIR=str(pack))
    outputs = []
    for command in (["preview", "--port", "0"], ["check"]):
        finished = await run_bot_to_exit(tmp_path, env, *command)
        assert finished.returncode == 2
        assert "preview: open" not in finished.stdout
        outputs.append(finished.stderr)
    preview_error, check_error = outputs
    assert preview_error == check_error
    assert preview_error.startswith("error: ")
    assert preview_error.count("\n") == 1
    assert "characters.toml" in preview_error


async def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        finished = await run_bot_to_exit(tmp_path, preview_environment(tmp_path), "preview", "--port", str(port))
    finally:
        server.close()
    assert finished.returncode == 2
    assert finished.stderr.startswith(f"error: cannot serve the preview on 127.0.0.1:{port}")
    assert "Traceback" not in finished.stderr


async def character_card(preview_url: str, name: str) -> dict[str, Any]:
    """Ask /character in #general as "You" through the page's API; the card the bot posted."""
    async with aiohttp.ClientSession() as session:
        async with session.get(preview_url + "api/state") as response:
            state = await response.json()
        general = next(c["id"] for c in state["channels"] if c["name"] == "general")
        you = state["members"][0]["id"]
        command = {"channel": general, "member": you, "command": "character", "options": {"name": name}}
        async with session.post(preview_url + "api/command", json=command) as response:
            assert await response.json() == {"ok": True}
        async with session.get(preview_url + f"api/messages?channel={general}&member={you}") as response:
            messages = (await response.json())["messages"]
    return messages[-1]["embeds"][0]


async def test_a_pack_author_edits_data_restarts_the_preview_and_sees_the_change(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    for source in (REPO / "data").glob("*.toml"):
        (pack / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    env = {"DATA_DIR": str(pack)}

    preview = await start_preview(tmp_path, **env)
    try:
        await preview.wait_for_line(LIVE)
        before = await character_card(preview.url, "Yang Dae Su")
    finally:
        assert await preview.stop() == 0
    assert before["description"] == "A student at Hyosan High."

    characters = pack / "characters.toml"
    text = characters.read_text(encoding="utf-8")
    start = text.index('id = "yang-dae-su"')
    edited = text[start:].replace(
        '"A student at Hyosan High."', '"A student at Hyosan High, edited by a pack author."', 1
    )
    characters.write_text(text[:start] + edited, encoding="utf-8")

    preview = await start_preview(tmp_path, **env)
    try:
        await preview.wait_for_line(LIVE)
        after = await character_card(preview.url, "Yang Dae Su")
    finally:
        assert await preview.stop() == 0
    assert after["description"] == "A student at Hyosan High, edited by a pack author."


async def test_when_the_bot_cannot_start_the_preview_says_so_and_exits_with_its_status(tmp_path: Path) -> None:
    """A store from a newer bot stops the bot at start-up; the preview does not linger."""
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        conn.execute("PRAGMA user_version = 999")
    preview = await start_preview(tmp_path, "--database", "newer.db")
    code = await asyncio.wait_for(preview.process.wait(), 60)
    await preview.wait_for_line("preview: stopped")
    assert code == 2, preview.output
    assert "has schema revision 0999, newer than this bot knows" in preview.output
    assert "preview: the bot stopped by itself (exit status 2)" in preview.output
    assert "Traceback" not in preview.output
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (999,), "a store named with --database is kept"


def can_isolate_network() -> bool:
    """Root (or user namespaces) and util-linux: a process can get a network of its own loopback only."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not can_isolate_network(), reason="needs `unshare -n` (root or user namespaces) and `ip`")
async def test_the_preview_works_with_no_network_but_its_own_loopback(tmp_path: Path) -> None:
    """In a network namespace there is no internet at all: the bot still connects and answers READY."""
    script = "ip link set lo up && exec " + " ".join(
        shlex.quote(a) for a in (sys.executable, "-m", "bot", "preview", "--port", "0")
    )
    process = await asyncio.create_subprocess_exec(
        "unshare",
        "-n",
        "sh",
        "-c",
        script,
        cwd=tmp_path,
        env=preview_environment(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    preview = PreviewProcess(process)
    preview._reader = asyncio.create_task(preview._read())
    try:
        await preview.wait_for_line("ready as hyosan-bot in 1 guilds")
    finally:
        code = await preview.stop(signal.SIGINT)
    assert code == 0, preview.output
    assert LIVE in preview.output
    assert "Traceback" not in preview.output


async def test_the_page_shows_the_servers_events_and_the_notify_role(tmp_path: Path) -> None:
    preview = await start_preview(tmp_path)
    try:
        await preview.wait_for_line(LIVE)
        async with aiohttp.ClientSession() as session:

            async def state() -> dict[str, Any]:
                async with session.get(preview.url + "api/state") as response:
                    return dict(await response.json())

            async def run(member: str, command: str, **options: str) -> None:
                body = {"channel": general, "member": member, "command": command, "options": options}
                async with session.post(preview.url + "api/command", json=body) as response:
                    assert await response.json() == {"ok": True}, command

            page = await state()
            assert page["events"] == []
            general = next(c["id"] for c in page["channels"] if c["name"] == "general")
            member = {m["name"]: m["id"] for m in page["members"]}
            fans = next(i for i, name in page["names"]["roles"].items() if name == "Season 2 news")
            await run(member["Moderator"], "settings countdown notify_role", role=fans)
            await run(member["Moderator"], "settings countdown event", state="on")
            await run(member["Owner"], "release update", window="2027-03-14", confidence="confirmed", source="Netflix")
            for _ in range(100):
                page = await state()
                if page["events"]:
                    break
                await asyncio.sleep(0.1)
        [event] = page["events"]
        assert "Season 2" in event["name"]
        assert (event["location"], event["interested"]) == ("Netflix", 0)
        assert event["start"].startswith("2027-03-14T08:00:00")
        assert all("roles" in m for m in page["members"])
    finally:
        assert await preview.stop() == 0
