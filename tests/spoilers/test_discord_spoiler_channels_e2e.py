"""Discord's own spoiler channels end to end: the channel flag IS_SPOILER_CHANNEL counts.

The story: a moderator marks #general a spoiler channel in Discord's channel settings
(not with the bot). From then on /survivors shows fates openly there and in the thread
under it, exactly as in a channel listed with /settings spoilers add; /settings spoilers
list shows it as set in Discord, and /settings spoilers remove says it cannot undo that.
When the flag is turned off (CHANNEL_UPDATE) the fates hide again at once. An NSFW
channel with the flag stays an ordinary channel, as Discord ignores the flag there.
"""

from __future__ import annotations

from typing import Any

import pytest

from localdiscord.state import Channel
from tests.support.harness import Harness
from tests.support.spoilers import reveal_buttons, shown_and_hidden
from tests.support.stores import fetch_rows


async def survivors_in(h: Harness, channel: Channel) -> Any:
    record = await h.slash(h.member, channel, "survivors")
    assert record.answered
    assert not record.ephemeral
    return record


def opens_fates(record: Any) -> bool:
    """True when the answer shows its fates openly; False when they are all behind bars with a Reveal button."""
    shown, hidden = shown_and_hidden(record.embeds)
    if not hidden:
        assert reveal_buttons(record.original) == []
        assert "Nam On Jo" in shown
        return True
    assert "Nam On Jo" not in shown
    assert reveal_buttons(record.original) == ["spoiler:reveal:survivors:series"]
    return False


@pytest.mark.both_stores
async def test_a_channel_marked_in_discord_and_its_thread_show_fates_until_the_flag_goes(harness: Harness) -> None:
    h = harness
    assert not opens_fates(await survivors_in(h, h.general))
    h.guild.set_spoiler_channel(h.general)
    await h.settle()

    assert opens_fates(await survivors_in(h, h.general))
    assert opens_fates(await survivors_in(h, h.thread))
    assert not opens_fates(await survivors_in(h, h.in_category))

    listed = await h.slash(h.moderator, h.in_category, "settings spoilers list")
    assert listed.ephemeral
    description = listed.embeds[0]["description"]
    assert f"<#{h.general.id}> (set in Discord" in description
    refused = await h.slash(h.moderator, h.in_category, "settings spoilers remove", channel=h.general)
    assert refused.ephemeral
    assert "cannot remove it" in refused.content
    assert "<@" not in refused.content

    h.guild.set_spoiler_channel(h.general, on=False)
    await h.settle()
    assert not opens_fates(await survivors_in(h, h.general))
    assert not opens_fates(await survivors_in(h, h.thread))
    listed = await h.slash(h.moderator, h.in_category, "settings spoilers list")
    assert "set in Discord" not in listed.embeds[0]["description"]
    # Discord's setting is read from the channel, never copied into the bot's list.
    assert (
        await fetch_rows(h.bot.store, "SELECT channel_id FROM spoiler_channels WHERE guild_id = :g", g=h.guild.id) == []
    )


@pytest.mark.both_stores
async def test_a_forum_marked_in_discord_opens_its_posts_and_the_flag_on_an_nsfw_channel_counts_for_nothing(
    harness: Harness,
) -> None:
    h = harness
    h.guild.set_spoiler_channel(h.forum)
    adults = h.guild.add_channel("after-dark")
    adults.nsfw = True
    h.guild.set_spoiler_channel(adults)
    await h.settle()

    assert opens_fates(await survivors_in(h, h.forum_post))
    assert not opens_fates(await survivors_in(h, adults))
    listed = await h.slash(h.moderator, h.general, "settings spoilers list")
    description = listed.embeds[0]["description"]
    assert f"<#{h.forum.id}> (set in Discord" in description
    assert f"<#{adults.id}>" not in description

    # A Korean moderator reads the same list in Korean.
    korean = await h.slash(h.moderator, h.general, "settings spoilers list", locale="ko")
    assert (
        f"<#{h.forum.id}> (디스코드 채널 설정에서 지정됨: 이 명령어가 아니라 디스코드의 채널 설정에서 끌 수 있습니다)"
        in korean.embeds[0]["description"]
    )
