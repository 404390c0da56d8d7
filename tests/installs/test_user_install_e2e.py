"""The app added to a member's own account, end to end: the real bot, the local Discord.

The story: the show lookups are offered to servers and to members' accounts, in servers,
the bot's DM and other private channels; a server's settings, polls and the release
window stay a server's own. A fan who added the app uses /character in a server whose
moderators never added the bot: the fate hides behind bars with a Reveal privately
button that works there, in the fan's language, and nothing but the interaction's own
answer reaches that server. Discord does not even offer /settings or /poll there or in
a DM. Where that server turned external apps off for the fan, every answer is private
and still works. In a server that did add the bot, the fan's own install changes nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Table

from bot.spoilers.repo import add_spoiler_channel
from bot.store import schema
from localdiscord import CommandNotPermitted, Permission
from localdiscord.state import Channel, Guild, Member, PrivateChannel, User
from tests.support.harness import Harness
from tests.support.spoilers import reveal_buttons, shown_and_hidden
from tests.support.stores import fetch_rows

EVERYWHERE = ([0, 1], [0, 1, 2])
SERVER_ONLY = ([0], [0])
CHARACTER = "lee-cheong-san"
HANGUL = re.compile("[가-힣]")


def offered(commands: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[int]]]:
    return {c["name"]: (c["integration_types"], c["contexts"]) for c in commands}


async def rows_naming(h: Harness, guild_id: int) -> list[str]:
    """Every row of every per-guild table that names ``guild_id``."""
    found = []
    for table in schema.metadata.tables.values():
        if isinstance(table, Table) and "guild_id" in table.c:
            rows = await fetch_rows(h.bot.store, f"SELECT * FROM {table.name} WHERE guild_id = :g", g=guild_id)
            found += [f"{table.name}: {tuple(row)}" for row in rows]
    return found


def fate_texts(h: Harness, locale: str) -> str:
    fate = h.bot.pack.character(CHARACTER).series_fate
    assert fate is not None
    return str(fate.tr("text", locale))


def assert_fate_hidden(h: Harness, record: Any, locale: str = "en-US") -> None:
    shown, hidden = shown_and_hidden(record.embeds)
    fate = fate_texts(h, locale)
    assert fate not in shown
    assert any(fate.split()[0] in spoiler for spoiler in hidden), "the fate is behind bars"
    assert reveal_buttons(record.original if record.original is not None else record.data) == [
        f"spoiler:reveal:character:{CHARACTER}"
    ]


async def reveal(
    h: Harness,
    guild: Guild | None,
    channel: Channel | PrivateChannel,
    who: Member | User,
    record: Any,
    locale: str = "en-US",
) -> Any:
    message = record.original
    pressed = await h.fake.click(guild, channel, who, message, reveal_buttons(message)[0], locale=locale)
    assert pressed.ephemeral
    shown, hidden = shown_and_hidden(pressed.embeds)
    assert hidden == []
    assert fate_texts(h, locale) in shown
    return pressed


def outside_server(h: Harness) -> tuple[Guild, Channel, Member]:
    """A server that never added the app, and a fan there who added it to their own account."""
    other = h.fake.add_outside_guild("Zombie Drama Club")
    chat = other.add_channel("chat")
    other.add_thread("episode 12", chat.id)
    fan = other.add_member(name="visiting-fan")
    h.fake.install_for_user(fan)
    return other, chat, fan


async def test_the_synced_payload_offers_the_lookups_everywhere_and_the_server_commands_only_to_servers(
    harness: Harness,
) -> None:
    h = harness
    assert offered(h.fake.commands[None]) == {
        "character": EVERYWHERE,
        "cast": EVERYWHERE,
        "faq": EVERYWHERE,
        "countdown": EVERYWHERE,
        "survivors": EVERYWHERE,
        "about": EVERYWHERE,
        "settings": SERVER_ONLY,
        "poll": SERVER_ONLY,
    }
    assert offered(h.fake.commands[h.guild.id]) == {"release": SERVER_ONLY}
    synced_global = [body for scope, body in h.fake.command_syncs if scope is None][-1]
    assert {c["name"]: c["integration_types"] for c in synced_global} == {
        name: installs for name, (installs, _) in offered(h.fake.commands[None]).items()
    }


async def test_in_a_server_without_the_bot_a_fan_sees_fates_hidden_and_reveals_them_privately(
    harness: Harness,
) -> None:
    h = harness
    other, chat, fan = outside_server(h)
    # Settings the bot kept for this server when it was removed from it count for nothing now.
    await add_spoiler_channel(h.bot.store, guild_id=other.id, channel_id=chat.id, added_by=fan.id, now=h.clock())
    other.set_spoiler_channel(chat)  # and the bot hears nothing of Discord's setting there
    requests_before = len(h.fake.requests)

    record = await h.fake.slash(other, chat, fan, "character", {"name": CHARACTER})
    assert record.payload["authorizing_integration_owners"] == {"1": str(fan.id)}
    assert record.payload["context"] == 0
    assert not record.ephemeral
    assert_fate_hidden(h, record)
    neighbour = other.add_member(name="neighbour")  # never added the app, presses the button all the same
    await reveal(h, other, chat, neighbour, record)
    survivors = await h.fake.slash(other, chat, fan, "survivors")
    shown, hidden = shown_and_hidden(survivors.embeds)
    assert hidden
    assert "Nam On Jo" not in shown

    korean = await h.fake.slash(other, chat, fan, "character", {"name": CHARACTER}, locale="ko")
    assert HANGUL.search(korean.embeds[0]["title"])
    assert_fate_hidden(h, korean, "ko")
    pressed = await reveal(h, other, chat, fan, korean, "ko")
    assert HANGUL.search(pressed.embeds[0]["title"])

    for command in ("countdown", "cast", "about"):
        answered = await h.fake.slash(other, chat, fan, command)
        assert answered.answered
        assert not answered.ephemeral
    for refused in ("settings spoilers list", "settings language show", "poll list"):
        with pytest.raises(CommandNotPermitted, match="not offered"):
            await h.fake.slash(other, chat, fan, refused)
    with pytest.raises(CommandNotPermitted, match="not offered"):
        await h.fake.slash(other, chat, neighbour, "character", {"name": CHARACTER})

    await h.settle()
    sent = [
        r
        for r in h.fake.requests[requests_before:]
        if not r.path.startswith(("/interactions/", "/webhooks/"))
    ]
    assert sent == [], "only interaction answers reach a server that never added the bot"
    assert [row for row in await rows_naming(h, other.id) if not row.startswith("spoiler_channels")] == []


async def test_where_the_server_forces_private_answers_and_where_it_has_the_bot_everything_still_works(
    harness: Harness,
) -> None:
    h = harness
    other, chat, fan = outside_server(h)
    other.set_overwrite(chat, other.everyone, deny=Permission.USE_EXTERNAL_APPS)
    record = await h.fake.slash(other, chat, fan, "character", {"name": CHARACTER})
    assert record.forced_ephemeral
    assert record.ephemeral
    assert_fate_hidden(h, record)
    await reveal(h, other, chat, fan, record)
    assert (await h.fake.slash(other, chat, fan, "survivors")).ephemeral

    # In the bot's own server a member's own install is one more owner: a spoiler channel still opens.
    h.fake.install_for_user(h.member)
    await h.slash(h.moderator, h.general, "settings spoilers add", channel=h.in_category)
    opened = await h.slash(h.member, h.in_category, "character", name=CHARACTER)
    assert opened.payload["authorizing_integration_owners"] == {"0": str(h.guild.id), "1": str(h.member.id)}
    shown, hidden = shown_and_hidden(opened.embeds)
    assert hidden == []
    assert fate_texts(h, "en-US") in shown
    assert_fate_hidden(h, await h.slash(h.member, h.general, "character", name=CHARACTER))


async def test_in_dms_the_lookups_answer_and_server_commands_are_not_offered(harness: Harness) -> None:
    h = harness
    fan = h.member.user
    h.fake.install_for_user(fan)
    dm = h.fake.open_dm(fan)
    group = h.fake.open_group_dm("watch party", fan, h.member2.user)

    countdown = await h.fake.slash(None, dm, fan, "countdown")
    assert countdown.payload["context"] == 1
    assert "guild_id" not in countdown.payload
    assert countdown.answered
    assert not countdown.ephemeral
    assert countdown.embeds
    survivors = await h.fake.slash(None, dm, fan, "survivors", locale="ko")
    shown, hidden = shown_and_hidden(survivors.embeds)
    assert hidden
    assert HANGUL.search(shown)
    pressed = await h.fake.click(None, dm, fan, survivors.original, reveal_buttons(survivors.original)[0], locale="ko")
    assert pressed.ephemeral
    assert shown_and_hidden(pressed.embeds)[1] == []

    in_group = await h.fake.slash(None, group, fan, "character", {"name": CHARACTER})
    assert in_group.payload["context"] == 2
    assert in_group.payload["authorizing_integration_owners"] == {"1": str(fan.id)}
    assert_fate_hidden(h, in_group)
    await reveal(h, None, group, h.member2.user, in_group)

    for place in (dm, group):
        for refused in ("settings spoilers list", "poll create"):
            with pytest.raises(CommandNotPermitted, match="not available"):
                await h.fake.slash(None, place, fan, refused)
    h.fake.uninstall_for_user(fan)
    with pytest.raises(CommandNotPermitted, match="not offered"):
        await h.fake.slash(None, group, fan, "character", {"name": CHARACTER})
