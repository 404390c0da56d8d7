"""Every /settings command refuses members without Manage Server, even where a server
loosened Discord's default: the check is in the bot too, for every subcommand there is."""

from __future__ import annotations

from typing import Any

import pytest

from localdiscord import CommandNotPermitted
from tests.support.harness import Harness

SUBCOMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10


def leaf_paths(options: list[dict[str, Any]], prefix: str) -> list[tuple[str, list[dict[str, Any]]]]:
    leaves = []
    for option in options:
        if option["type"] == GROUP:
            leaves += leaf_paths(option.get("options", []), f"{prefix} {option['name']}")
        elif option["type"] == SUBCOMMAND:
            leaves.append((f"{prefix} {option['name']}", option.get("options", [])))
    return leaves


def sample_value(option: dict[str, Any], harness: Harness) -> Any:
    if option.get("choices"):
        return option["choices"][0]["value"]
    return {
        STRING: "12:00",
        INTEGER: option.get("min_value", 1),
        NUMBER: option.get("min_value", 1),
        BOOLEAN: False,
        USER: harness.member2,
        MENTIONABLE: harness.member2,
        CHANNEL: harness.general,
        ROLE: harness.guild.roles[harness.guild.id],
    }[option["type"]]


def settings_leaves(harness: Harness) -> list[tuple[str, list[dict[str, Any]]]]:
    root = next(c for c in harness.fake.commands_for(None) if c["name"] == "settings")
    return leaf_paths(root.get("options", []), "settings")


async def test_discord_hides_settings_from_members_by_default(harness: Harness) -> None:
    path, options = settings_leaves(harness)[0]
    values = {o["name"]: sample_value(o, harness) for o in options if o.get("required")}
    with pytest.raises(CommandNotPermitted):
        await harness.slash(harness.member, harness.general, path, **values)


async def test_every_settings_command_refuses_a_member_even_when_the_server_loosened_it(harness: Harness) -> None:
    harness.fake.override_command_permissions(harness.guild, "settings", allow_everyone=True)
    leaves = settings_leaves(harness)
    assert leaves, "no /settings subcommands were synced"
    for path, options in leaves:
        values = {o["name"]: sample_value(o, harness) for o in options if o.get("required")}
        record = await harness.slash(harness.member, harness.general, path, **values)
        assert record.ephemeral, path
        assert "Manage Server" in record.callback["data"]["content"], (path, record.callback)
