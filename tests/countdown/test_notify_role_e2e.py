"""The role fans opt into, through the real bot and the local Discord: a moderator sets it (or
is told exactly why not), posts carry "Notify me", and release news pings that role alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cogs.countdown import repo
from cogs.countdown.notify import NOTIFY_CUSTOM_ID
from localdiscord import Permission, wait_until
from tests.support.countdown import messages, set_daily, tick
from tests.support.premiere import confirm_date, fan_role_below_bot, grant_bot, revoke_bot
from tests.support.stores import read_with


def buttons(message: dict[str, Any]) -> list[str]:
    return [c.get("custom_id", "") for row in message.get("components", []) for c in row.get("components", [])]


async def test_each_role_the_bot_cannot_hand_out_is_refused_with_its_reason(harness: Any) -> None:
    h = harness
    everyone = await h.slash(h.moderator, h.general, "settings countdown notify_role", role=h.guild.everyone)
    assert "the bot never pings everyone" in everyone.content
    managed = await h.slash(h.moderator, h.general, "settings countdown notify_role", role=h.guild.bot_role)
    assert "managed by an integration" in managed.content

    fans = await fan_role_below_bot(h)
    no_permission = await h.slash(h.moderator, h.general, "settings countdown notify_role", role=fans)
    assert "missing the **Manage Roles** permission" in no_permission.content
    assert f"<@&{fans.id}>" in no_permission.content

    await grant_bot(h, Permission.MANAGE_ROLES)
    above = h.guild.add_role("Above the bot", 0)
    h.guild.set_role_position(above, h.guild.bot_role.position + 1)
    assert await wait_until(
        lambda: getattr(h.bot.get_guild(h.guild.id).get_role(above.id), "position", 0) == above.position
    )
    too_high = await h.slash(h.moderator, h.general, "settings countdown notify_role", role=above)
    assert "not below my highest role" in too_high.content
    assert f"<@&{h.guild.bot_role.id}>" in too_high.content

    quiet = h.guild.add_role("Quiet fans", 0)
    h.guild.set_role_position(h.guild.bot_role, quiet.position + 1)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id).get_role(quiet.id) is not None)
    assert await wait_until(
        lambda: h.bot.get_guild(h.guild.id).get_role(quiet.id) < h.bot.get_guild(h.guild.id).me.top_role
    )
    unheard = await h.slash(h.moderator, h.general, "settings countdown notify_role", role=quiet)
    assert "Allow anyone to @mention this role" in unheard.content

    for refused in (everyone, managed, no_permission, too_high, unheard):
        assert refused.ephemeral
        assert "nothing was saved" in refused.content
    assert (await read_with(h.bot.store, repo.fetch_options, h.guild.id)).notify_role_id is None


@pytest.mark.both_stores
async def test_fans_opt_in_and_release_news_pings_that_role_alone(harness: Any) -> None:
    h = harness
    await grant_bot(h, Permission.MANAGE_ROLES)
    fans = await fan_role_below_bot(h)
    saved = await h.slash(h.moderator, h.general, "settings countdown notify_role", role=fans)
    assert saved.ephemeral
    assert "Notify role set" in saved.content
    await set_daily(h)
    await tick(h, dt.timedelta(hours=1))  # 13:00: the day's post carries "Notify me" and pings nobody
    [post] = messages(h, h.general)
    assert buttons(post) == [NOTIFY_CUSTOM_ID]
    assert post["content"] == ""
    assert (post["mention_roles"], post["mention_everyone"]) == ([], False)

    joined = await h.click(h.member, h.general, post, NOTIFY_CUSTOM_ID)
    assert joined.ephemeral
    assert "you will be pinged when season 2's date changes" in joined.content
    assert fans.id in h.guild.members[h.member.id].roles
    left = await h.click(h.member, h.general, post, NOTIFY_CUSTOM_ID)
    assert "you will no longer be pinged" in left.content
    assert fans.id not in h.guild.members[h.member.id].roles
    await h.click(h.member2, h.general, post, NOTIFY_CUSTOM_ID)

    await confirm_date(h)
    await tick(h)
    news = messages(h, h.general)[-1]
    assert news["content"] == f"<@&{fans.id}>"
    assert news["mention_roles"] == [str(fans.id)]
    assert news["mention_everyone"] is False
    sent = next(r.body for r in reversed(h.fake.requests) if r.method == "POST" and r.path.endswith("/messages"))
    assert sent["allowed_mentions"]["parse"] == []
    assert [int(r) for r in sent["allowed_mentions"]["roles"]] == [fans.id]
    assert buttons(news) == [NOTIFY_CUSTOM_ID]

    removed = await h.slash(h.moderator, h.general, "settings countdown notify_role")
    assert "Notify role removed" in removed.content
    gone = await h.click(h.member2, h.general, post, NOTIFY_CUSTOM_ID)
    assert "no notify role now" in gone.content
    assert fans.id in h.guild.members[h.member2.id].roles  # nothing taken without a role set


async def test_a_notify_role_the_bot_can_no_longer_hand_out_or_that_was_deleted_pings_nobody(harness: Any) -> None:
    h = harness
    await grant_bot(h, Permission.MANAGE_ROLES)
    fans = await fan_role_below_bot(h)
    await h.slash(h.moderator, h.general, "settings countdown notify_role", role=fans)
    await set_daily(h)
    await tick(h, dt.timedelta(hours=1))
    [post] = messages(h, h.general)
    await revoke_bot(h, Permission.MANAGE_ROLES)
    refused = await h.click(h.member, h.general, post, NOTIFY_CUSTOM_ID)
    assert refused.ephemeral
    assert "I can't give or take" in refused.content
    assert fans.id not in h.guild.members[h.member.id].roles

    h.guild.delete_role(fans)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id).get_role(fans.id) is None)
    await confirm_date(h)
    await tick(h)
    news = messages(h, h.general)[-1]
    assert (news["content"], news["mention_roles"], buttons(news)) == ("", [], [])


async def test_a_korean_moderator_reads_the_refusal_in_korean(harness: Any) -> None:
    h = harness
    refused = await h.slash(
        h.moderator, h.general, "settings countdown notify_role", role=h.guild.everyone, locale="ko"
    )
    assert "봇은 서버 전체에 알림을 보내지 않습니다" in refused.content
    assert "아무것도 저장하지 않았습니다" in refused.content


async def test_without_a_role_posts_carry_no_button_and_ping_nobody(harness: Any) -> None:
    h = harness
    await set_daily(h)
    await confirm_date(h)
    await tick(h)
    [news] = messages(h, h.general)
    assert buttons(news) == []
    assert (news["content"], news["mention_roles"], news["mention_everyone"]) == ("", [], False)
