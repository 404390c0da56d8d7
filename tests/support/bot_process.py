"""``python -m bot`` run to its end as a real process: for the tests of what it prints when it stops."""

# ruff: noqa: ASYNC109 - the helper takes a `timeout` like asyncio.wait_for.

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finished:
    """How a bot process ended: its exit code and everything it printed."""

    returncode: int
    stdout: str
    stderr: str


async def run_bot_to_exit(workdir: Path, env: dict[str, str], *args: str, timeout: float = 60) -> Finished:
    """``python -m bot *args`` in ``workdir`` with exactly ``env``, waited for (at most ``timeout`` seconds)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"))
