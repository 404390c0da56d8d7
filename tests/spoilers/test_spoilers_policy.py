"""Where spoilers are open, from plain ids, and how the store keeps the list."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.shards import EVERY_SHARD, Ownership, shard_of
from bot.spoilers.policy import (
    MAX_SPOILER_CHANNELS,
    ChannelPlace,
    refusal_for_kind,
    shows_spoilers_openly,
)
from bot.spoilers.repo import (
    AddResult,
    add_spoiler_channel,
    fetch_spoiler_channel_ids,
    fetch_spoiler_channels,
    forget_channels_except,
    forget_missing,
    remove_spoiler_channel,
)
from bot.store import Store
from tests.support.stores import read_with

GUILD, OTHER_GUILD = 1, 2
GENERAL, CATEGORY, IN_CATEGORY, THREAD, FORUM, POST = 10, 20, 21, 30, 40, 41
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("place", "listed", "openly"),
    [
        (ChannelPlace(GENERAL), {GENERAL}, True),
        (ChannelPlace(GENERAL), set(), False),
        (ChannelPlace(GENERAL), {CATEGORY}, False),
        (ChannelPlace(IN_CATEGORY, category_id=CATEGORY), {CATEGORY}, True),
        (ChannelPlace(THREAD, parent_id=GENERAL), {GENERAL}, True),
        (ChannelPlace(THREAD, parent_id=GENERAL), {THREAD - 1}, False),
        (ChannelPlace(THREAD, parent_id=IN_CATEGORY, category_id=CATEGORY), {CATEGORY}, True),
        (ChannelPlace(POST, parent_id=FORUM), {FORUM}, True),
        (ChannelPlace(None), {GENERAL}, False),
    ],
    ids=[
        "listed channel",
        "nothing listed",
        "channel outside the listed category",
        "channel in a listed category",
        "thread under a listed channel",
        "thread under an ordinary channel",
        "thread in a channel of a listed category",
        "forum post in a listed forum",
        "no channel (DM)",
    ],
)
def test_a_place_is_open_when_it_its_parent_or_its_category_is_listed(
    place: ChannelPlace, listed: set[int], openly: bool
) -> None:
    assert shows_spoilers_openly(place, listed) is openly


def test_only_text_places_and_categories_can_be_listed() -> None:
    for kind in ("text", "news", "forum", "media", "category"):
        assert refusal_for_kind(kind) is None  # type: ignore[arg-type]
    assert refusal_for_kind("voice") == "spoilers.settings.kind_refused"
    assert refusal_for_kind("stage") == "spoilers.settings.kind_refused"
    assert refusal_for_kind("other") == "spoilers.settings.kind_refused"
    assert refusal_for_kind("thread") == "spoilers.settings.thread_refused"


async def add(store: Store, channel_id: int, guild_id: int = GUILD) -> AddResult:
    return await add_spoiler_channel(store, guild_id=guild_id, channel_id=channel_id, added_by=99, now=NOW)


async def test_a_guilds_list_is_its_own(store: Store) -> None:
    assert await add(store, GENERAL) is AddResult.ADDED
    assert await add(store, CATEGORY, OTHER_GUILD) is AddResult.ADDED
    assert await read_with(store, fetch_spoiler_channel_ids, GUILD) == {GENERAL}
    rows = await read_with(store, fetch_spoiler_channels, GUILD)
    assert [(r.channel_id, r.added_by, r.added_at) for r in rows] == [(GENERAL, 99, NOW)]


async def test_adding_twice_or_beyond_the_limit_changes_nothing(store: Store) -> None:
    assert await add(store, GENERAL) is AddResult.ADDED
    assert await add(store, GENERAL) is AddResult.ALREADY_LISTED
    for channel_id in range(1000, 1000 + MAX_SPOILER_CHANNELS - 1):
        assert await add(store, channel_id) is AddResult.ADDED
    assert await add(store, 5000) is AddResult.LIST_FULL
    assert len(await read_with(store, fetch_spoiler_channel_ids, GUILD)) == MAX_SPOILER_CHANNELS


async def test_removing_says_whether_it_was_listed(store: Store) -> None:
    await add(store, GENERAL)
    assert await remove_spoiler_channel(store, guild_id=GUILD, channel_id=GENERAL) is True
    assert await remove_spoiler_channel(store, guild_id=GUILD, channel_id=GENERAL) is False
    assert await read_with(store, fetch_spoiler_channel_ids, GUILD) == frozenset()


async def test_catching_up_drops_deleted_channels_only_in_the_guilds_it_names(store: Store) -> None:
    await add(store, GENERAL)
    await add(store, CATEGORY)
    await add(store, FORUM, OTHER_GUILD)  # a guild the bot is not in (here): the guild keeper's
    await add(store, POST, 3)  # a guild whose channels are not known yet (unavailable)

    dropped = await forget_missing(store, {GUILD: {GENERAL, IN_CATEGORY}}, EVERY_SHARD)

    assert dropped == {GUILD: [CATEGORY]}
    assert await read_with(store, fetch_spoiler_channel_ids, GUILD) == {GENERAL}
    assert await read_with(store, fetch_spoiler_channel_ids, OTHER_GUILD) == {FORUM}
    assert await read_with(store, fetch_spoiler_channel_ids, 3) == {POST}
    assert await forget_channels_except(store, GUILD, {GENERAL}, EVERY_SHARD) == []


async def test_catching_up_never_touches_a_guild_of_another_shard(store: Store) -> None:
    """Even named with no channels, a guild on a shard this process does not run is left alone."""
    theirs = 1 << 22  # shard 1 of 2
    assert shard_of(theirs, 2) == 1
    await add(store, GENERAL, theirs)
    mine = Ownership.of(2, [0])
    assert await forget_missing(store, {theirs: set()}, mine) == {}
    assert await forget_channels_except(store, theirs, set(), mine) == []
    assert await read_with(store, fetch_spoiler_channel_ids, theirs) == {GENERAL}
