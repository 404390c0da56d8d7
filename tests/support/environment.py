"""The environment an operator gives a `python -m bot` process in the tests."""

from __future__ import annotations

import os
from pathlib import Path

from localdiscord import FakeDiscord

REPO = Path(__file__).parents[2]


def bot_environment(fake: FakeDiscord, workdir: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "OWNER_", "LOG_"))}
    env.update(
        PYTHONPATH=str(REPO),
        DISCORD_TOKEN=token,
        DATABASE_PATH=str(workdir / "bot.db"),
        DATA_DIR=str(REPO / "data"),
        LOG_LEVEL="DEBUG",
        DISCORD_API_BASE_URL=fake.api_base_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
    )
    return env
