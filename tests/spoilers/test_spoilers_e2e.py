"""Spoiler channels end to end: the real bot, its real store, the fake Discord.

The story: nobody has listed a spoiler channel yet, so /survivors hides every fate
behind bars and offers a private reveal; a moderator lists #general, the forum or a
whole category, and there (and in threads and posts under them) the same facts show
openly. Members without Manage Server cannot change that, whatever the server's
command permissions say.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.spoilers import register_reveal_provider, unregister_reveal_provider
from cogs.spoilers.cog import reveal_survivors
from localdiscord import CommandNotPermitted, InvalidOptions
from localdiscord.state import Channel
from tests.support.harness import Harness
from tests.support.spoilers import discord_display
from tests.support.stores import fetch_rows

SERIES_FATES = (
    "Escaped Hyosan High and reached the quarantine zone safely.",
    "Left her friends because of her half-zombie condition but was confirmed alive.",
    "His fate remains unclear after his final fight, leaving fans curious.",
)
SURVIVOR_NAMES = (
    "Nam On Jo",
    "Lee Su Hyeok",
    "Choi Nam Ra",
    "Yang Dae Su",
    "Seo Hyo Ryung",
    "Jang Ha Ri",
    "Park Mi Jin",
)
REVEAL_SERIES = "spoiler:reveal:survivors:series"


def embed_text(embed: dict[str, Any]) -> list[str]:
    """Every place in an embed a reader can see text."""
    texts = [embed.get("title") or "", embed.get("description") or ""]
    for field in embed.get("fields") or []:
        texts += [field["name"], field["value"]]
    texts.append((embed.get("footer") or {}).get("text") or "")
    texts.append((embed.get("author") or {}).get("name") or "")
    return texts


def visible_and_hidden(embed: dict[str, Any]) -> tuple[str, str]:
    """(what shows without clicking a spoiler, what is behind bars) across the whole embed."""
    shown, hidden = [], []
    for text in embed_text(embed):
        outside, spoilers = discord_display(text)
        shown.append(outside)
        hidden += [discord_display(spoiler)[0] for spoiler in spoilers]
    return "\n".join(shown), "\n".join(hidden)


def button_ids(message: dict[str, Any]) -> list[str]:
    return [
        component["custom_id"]
        for row in message.get("components") or []
        for component in row.get("components") or []
        if component.get("type") == 2
    ]


def assert_fates_hidden(record: Any) -> None:
    assert not record.ephemeral
    shown, hidden = visible_and_hidden(record.embeds[0])
    for fate in SERIES_FATES:
        assert fate not in shown
        assert fate in hidden
    for name in SURVIVOR_NAMES:
        assert name not in shown, f"{name}'s survival must not show outside the bars"
    assert "Spoiler, season 1 ending" in shown
    assert button_ids(record.original) == [REVEAL_SERIES]


def assert_fates_open(record: Any) -> None:
    assert not record.ephemeral
    shown, hidden = visible_and_hidden(record.embeds[0])
    assert hidden == ""
    for fate in SERIES_FATES:
        assert fate in shown
    for name in SURVIVOR_NAMES:
        assert name in shown
    assert button_ids(record.original) == []


async def survivors_in(h: Harness, channel: Channel, **options: Any) -> Any:
    record = await h.slash(h.member, channel, "survivors", **options)
    assert record.answered
    return record


async def add_spoiler_channel(h: Harness, channel: Channel) -> Any:
    record = await h.slash(h.moderator, h.general, "settings spoilers add", channel=channel)
    assert record.ephemeral
    return record


async def listed_ids(h: Harness) -> set[int]:
    rows = await fetch_rows(h.bot.store, "SELECT channel_id FROM spoiler_channels WHERE guild_id = :g", g=h.guild.id)
    return {int(row.channel_id) for row in rows}


async def test_with_no_spoiler_channels_survivors_hides_every_fate_and_offers_a_private_reveal(
    harness: Harness,
) -> None:
    h = harness
    record = await survivors_in(h, h.general)

    assert_fates_hidden(record)
    embed = record.embeds[0]
    assert embed["title"] == "Who made it through season 1: the series"
    assert embed["fields"][0]["name"] == "The students"

    reveal = await h.click(h.member2, h.general, record.original, REVEAL_SERIES)
    assert reveal.ephemeral
    shown, hidden = visible_and_hidden(reveal.embeds[0])
    assert hidden == ""
    for fate in (*SERIES_FATES, *SURVIVOR_NAMES):
        assert fate in shown
    assert reveal.components == []


async def test_a_spoiler_channel_and_its_threads_show_fates_openly_while_ordinary_ones_hide_them(
    harness: Harness,
) -> None:
    h = harness
    added = await add_spoiler_channel(h, h.general)
    assert added.content == f"Spoilers are now shown openly in <#{h.general.id}>."
    ordinary_thread = h.guild.add_thread("talk in the category", h.in_category.id)
    await h.settle()

    assert_fates_open(await survivors_in(h, h.general))
    assert_fates_open(await survivors_in(h, h.thread))
    assert_fates_hidden(await survivors_in(h, h.in_category))
    assert_fates_hidden(await survivors_in(h, ordinary_thread))
    assert_fates_hidden(await survivors_in(h, h.forum_post))


async def test_a_spoiler_category_covers_its_channels_and_a_spoiler_forum_its_posts(harness: Harness) -> None:
    h = harness
    added = await add_spoiler_channel(h, h.category)
    assert "every channel of the **Spoiler zone** category" in added.content
    await add_spoiler_channel(h, h.forum)
    thread_in_category = h.guild.add_thread("theories in the category", h.in_category.id)
    await h.settle()

    assert_fates_open(await survivors_in(h, h.in_category))
    assert_fates_open(await survivors_in(h, thread_in_category))
    assert_fates_open(await survivors_in(h, h.forum_post))
    assert_fates_hidden(await survivors_in(h, h.general))
    assert_fates_hidden(await survivors_in(h, h.thread))


async def test_the_webtoon_and_the_comparison_follow_the_same_policy(harness: Harness) -> None:
    h = harness
    webtoon = await survivors_in(h, h.general, version="webtoon")
    shown, hidden = visible_and_hidden(webtoon.embeds[0])
    assert "Survives in the original webtoon." in hidden
    assert "Nam On Jo" not in shown
    assert "Lee Cheong San" not in shown + hidden  # the webtoon list has only the three survivors
    assert button_ids(webtoon.original) == ["spoiler:reveal:survivors:webtoon"]

    compare = await survivors_in(h, h.general, version="compare")
    shown, hidden = visible_and_hidden(compare.embeds[0])
    assert "Who survives in each" in shown  # topics are spoiler-free headings
    assert "only On Jo, Su Hyeok and Nam Ra survive" in hidden
    assert "only On Jo" not in shown

    await add_spoiler_channel(h, h.general)
    compare_open = await survivors_in(h, h.general, version="compare")
    shown, hidden = visible_and_hidden(compare_open.embeds[0])
    assert hidden == ""
    assert "only On Jo, Su Hyeok and Nam Ra survive" in shown


@pytest.mark.both_stores
@pytest.mark.parametrize("kill", [False, True], ids=["clean restart", "crash"])
async def test_the_reveal_button_keeps_working_after_a_restart(harness: Harness, kill: bool) -> None:
    h = harness
    record = await survivors_in(h, h.in_category)
    before = await h.click(h.member2, h.in_category, record.original, REVEAL_SERIES)
    assert before.ephemeral

    await h.restart(kill=kill)

    after = await h.click(h.member2, h.in_category, record.original, REVEAL_SERIES)
    assert after.ephemeral
    assert after.embeds == before.embeds


@pytest.mark.both_stores
async def test_spoiler_settings_survive_a_restart(harness: Harness) -> None:
    h = harness
    await add_spoiler_channel(h, h.general)
    await h.restart()
    assert_fates_open(await survivors_in(h, h.general))


async def test_a_member_without_manage_server_is_refused_even_when_the_server_loosened_settings(
    harness: Harness,
) -> None:
    h = harness
    with pytest.raises(CommandNotPermitted):
        await h.slash(h.member, h.general, "settings spoilers add", channel=h.general)

    h.fake.override_command_permissions(h.guild, "settings", allow_everyone=True)
    for command, options in (
        ("settings spoilers add", {"channel": h.general}),
        ("settings spoilers remove", {"channel": h.general}),
        ("settings spoilers list", {}),
    ):
        refused = await h.slash(h.member, h.general, command, **options)
        assert refused.ephemeral
        assert refused.content == "Only members with the Manage Server permission can change the bot's settings here."

    assert await listed_ids(h) == set()
    assert_fates_hidden(await survivors_in(h, h.general))


async def test_bad_input_is_explained_privately_and_changes_nothing(harness: Harness) -> None:
    h = harness
    await add_spoiler_channel(h, h.general)

    again = await add_spoiler_channel(h, h.general)
    assert again.content == f"<#{h.general.id}> is already a spoiler channel; nothing changed."

    missing = await h.slash(h.moderator, h.general, "settings spoilers remove", channel=h.in_category)
    assert missing.ephemeral
    assert missing.content == f"<#{h.in_category.id}> is not a spoiler channel, so there is nothing to remove."

    # Discord's picker offers only text channels, forums and categories ...
    with pytest.raises(InvalidOptions):
        await h.slash(h.moderator, h.general, "settings spoilers add", channel=h.voice)
    # ... and a client that ignores that hint still gets a clear answer from the bot.
    loosen_channel_types(h, "add")
    voice = await add_spoiler_channel(h, h.voice)
    assert voice.content == (
        f"<#{h.voice.id}> is not a text channel, forum or category, so it can't be a spoiler channel; nothing changed."
    )
    thread = await add_spoiler_channel(h, h.thread)
    assert thread.content.startswith(f"<#{h.thread.id}> is a thread: threads follow their parent channel.")

    assert await listed_ids(h) == {h.general.id}


async def test_removing_a_spoiler_channel_hides_fates_there_again(harness: Harness) -> None:
    h = harness
    await add_spoiler_channel(h, h.general)
    removed = await h.slash(h.moderator, h.general, "settings spoilers remove", channel=h.general)
    assert removed.ephemeral
    assert removed.content == f"Spoilers are hidden again in <#{h.general.id}>."
    assert_fates_hidden(await survivors_in(h, h.general))


async def test_the_list_names_channels_and_categories_and_drops_deleted_ones(harness: Harness) -> None:
    h = harness
    empty = await h.slash(h.moderator, h.general, "settings spoilers list")
    assert empty.ephemeral
    assert "There are no spoiler channels here yet" in empty.embeds[0]["description"]

    await add_spoiler_channel(h, h.general)
    await add_spoiler_channel(h, h.category)
    await add_spoiler_channel(h, h.forum)
    await h.fake.delete_channel(h.forum)
    await h.settle()
    assert await listed_ids(h) == {h.general.id, h.category.id}

    listing = await h.slash(h.moderator, h.general, "settings spoilers list")
    description = listing.embeds[0]["description"]
    assert f"• <#{h.general.id}>" in description
    assert "• **Spoiler zone** (category: every channel in it)" in description
    assert str(h.forum.id) not in description


@pytest.mark.both_stores
async def test_a_channel_deleted_while_the_bot_was_offline_is_dropped_at_start(harness: Harness) -> None:
    h = harness
    await add_spoiler_channel(h, h.in_category)
    await h.stop()
    h.guild.channels.pop(h.in_category.id)  # deleted while nobody listened
    await h.start()
    await h.settle()
    assert await listed_ids(h) == set()


def loosen_channel_types(h: Harness, subcommand: str) -> None:
    """Drop channel_types from the synced option, as a client that ignores the picker hint would."""
    commands = h.fake.commands[None]
    settings = next(c for c in commands if c["name"] == "settings")
    loosened = copy.deepcopy(settings)
    spoilers = next(o for o in loosened["options"] if o["name"] == "spoilers")
    command = next(o for o in spoilers["options"] if o["name"] == subcommand)
    for option in command["options"]:
        option.pop("channel_types", None)
    commands[commands.index(settings)] = loosened


async def test_a_reveal_whose_content_is_gone_says_so_privately(harness: Harness) -> None:
    h = harness
    record = await survivors_in(h, h.general)
    unregister_reveal_provider("survivors")  # as when the feature that posted it is unloaded
    try:
        gone = await h.click(h.member2, h.general, record.original, REVEAL_SERIES)
    finally:
        register_reveal_provider("survivors", reveal_survivors)
    assert gone.ephemeral
    assert gone.content == "This is no longer available. Run the command again to see it."
