"""``python -m bot preview`` as a real process, for the preview's process and browser tests."""

# ruff: noqa: ASYNC109 - helpers take a `timeout` like asyncio.wait_for.

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).parents[2]
ADDRESS = re.compile(r"preview: open (http://127\.0\.0\.1:\d+/) in your browser")
LIVE = "preview: the bot is connected and its commands are synced"


@dataclass
class PreviewProcess:
    process: asyncio.subprocess.Process
    url: str = ""
    lines: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    async def wait_for_line(self, needle: str, timeout: float = 60) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for line in self.lines:
                if needle in line:
                    return line
            if self.process.returncode is not None and self._reader is not None and self._reader.done():
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"{needle!r} never printed; output:\n{self.output}")

    async def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signum)
        code = await asyncio.wait_for(self.process.wait(), timeout)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout)
        return code


def preview_environment(workdir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "OWNER_", "LOG_", "DATA_"))
    }
    env.update(PYTHONPATH=str(REPO), DATA_DIR=str(REPO / "data"), PYTHONUNBUFFERED="1", NO_COLOR="1")
    env.update(extra)
    return env


async def start_preview(workdir: Path, *args: str, **env: str) -> PreviewProcess:
    """Start the preview on a free port in ``workdir`` and wait for its address (not for the bot)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "preview",
        "--port",
        "0",
        *args,
        cwd=workdir,
        env=preview_environment(workdir, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    preview = PreviewProcess(process)
    preview._reader = asyncio.create_task(preview._read())
    try:
        line = await preview.wait_for_line("preview: open ", timeout=60)
    except AssertionError:
        await preview.stop(signal.SIGKILL)
        raise
    match = ADDRESS.search(line)
    assert match, line
    preview.url = match.group(1)
    return preview


__all__ = ["LIVE", "REPO", "PreviewProcess", "signal", "start_preview"]
