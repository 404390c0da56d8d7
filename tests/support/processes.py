"""The bot as a real `python -m bot` process against the local Discord: start, SIGKILL, read its database."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from localdiscord import FakeDiscord, InteractionRecord, wait_until
from localdiscord.state import Channel, Guild, Member
from tests.support.environment import bot_environment

TOKEN = "MTIzNDU2Nzg5.kill-test.never-log-this-token"


@dataclass
class BotProcess:
    """Starts, kills and restarts `python -m bot` against the fake; all output goes to one log file."""

    fake: FakeDiscord
    workdir: Path
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    log_level: str = "INFO"  # DEBUG would make the bot spend a vote burst writing logs
    extra_env: dict[str, str] = field(default_factory=dict)
    _log: IO[bytes] | None = field(default=None, repr=False)

    async def start(self, within: float = 30.0) -> None:
        identified = self.fake.identify_count
        env = bot_environment(self.fake, self.workdir, TOKEN)
        env["LOG_LEVEL"] = self.log_level
        env.update(self.extra_env)
        self._log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=self.workdir, env=env, stdout=self._log, stderr=asyncio.subprocess.STDOUT
        )
        self.starts += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        # The gateway's ready flag still shows the killed session until the new one identifies.
        while self.fake.identify_count == identified or not self.fake.commands_for(None):
            if self.process.returncode is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode}: {self.log()[-3000:]}")
            if loop.time() > deadline:
                raise AssertionError(f"the bot did not identify within {within} s: {self.log()[-3000:]}")
            await asyncio.sleep(0.02)
        await self.fake.wait_ready(within)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(self.process.wait(), 10) == -signal.SIGKILL
        self._close_log()

    async def stop(self) -> int:
        """SIGTERM and wait: the clean shutdown."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), 30)
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    async def end(self) -> str:
        """Kill the bot if a test left it running; its whole log (empty if it never started)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._close_log()
        return self.log() if self.log_path.exists() else ""


def read_db(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A reader of its own, as an operator's sqlite3 would be (the bot may be running)."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def embed_text(message: dict[str, Any]) -> str:
    return "\n".join(
        [e.get("description") or "" for e in message.get("embeds") or []]
        + [f["value"] for e in message.get("embeds") or [] for f in e.get("fields") or []]
    )


async def create_poll_of_choices(
    fake: FakeDiscord, guild: Guild, channel: Channel, creator: Member, options: int
) -> None:
    """/poll create "Who returns?" with ``options`` choices, every one of which a member may choose."""
    created = await fake.slash(
        guild,
        channel,
        creator,
        "poll create",
        {
            "question": "Who returns?",
            "options": " | ".join(f"Choice {n}" for n in range(options)),
            "max_choices": options,
        },
        timeout=10,
    )
    assert await created.wait_followups(1, timeout=10)


async def click_until_killed(
    fake: FakeDiscord,
    bot: BotProcess,
    guild: Guild,
    channel: Channel,
    voters: list[Member],
    message_id: int,
    poll_id: int,
    burst: list[tuple[int, int]],
    kill_after: float,
    *,
    once_acknowledged: bool = False,
) -> tuple[dict[tuple[int, int], InteractionRecord], float]:
    """Click the burst, three at a time a few ms apart; SIGKILL the bot ``kill_after`` seconds in,
    whatever the clicks are doing then. ``once_acknowledged``: not before the first click of
    the burst is acknowledged either (on a busy machine 0.15 s may pass before any is, and a
    kill then would test no acknowledged vote). Returns the clicks and the moment of the kill
    (perf_counter, as the records' times)."""
    message = fake.get_message(message_id)
    assert message is not None
    records: dict[tuple[int, int], InteractionRecord] = {}
    killed = asyncio.Event()

    async def click() -> None:
        for start in range(0, len(burst), 3):
            for voter, option in burst[start : start + 3]:
                if killed.is_set():
                    return
                records[(voters[voter].id, option)] = await fake.click(
                    guild, channel, voters[voter], message, f"poll:vote:{poll_id}:{option}", wait=False
                )
            await asyncio.sleep(0.003)

    clicker = asyncio.create_task(click())
    await asyncio.sleep(kill_after)
    if once_acknowledged:
        assert await wait_until(lambda: any(counted(r) for r in records.values()), timeout=ACKNOWLEDGED_WITHIN), (
            f"no click of the burst acknowledged within {ACKNOWLEDGED_WITHIN} s"
        )
    killed_at = time.perf_counter()
    await bot.kill()
    killed.set()
    await clicker
    return records, killed_at

#: How long ``click_until_killed(once_acknowledged=True)`` waits for the first acknowledged click.
ACKNOWLEDGED_WITHIN = 15.0


def counted(record: InteractionRecord) -> bool:
    return record.answered and "is counted" in (record.content or "")


def slow_replies(fake: FakeDiscord, method: str, template: str, seconds: float) -> None:
    """Discord has done what the route asks but its answer is still on the way: the window in
    which a crash leaves the thing made but not recorded, widened so that kills fall into it."""
    for index, route in enumerate(fake._routes):
        if route.method == method and route.template == template:
            create = route.handler

            async def done_then_slow(request: Any, create: Any = create) -> Any:
                reply = await create(request)
                await asyncio.sleep(seconds)
                return reply

            fake._routes[index] = dataclasses.replace(route, handler=done_then_slow)
