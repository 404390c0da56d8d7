"""Who sees a poll, end to end (issue 21): the real bot and store against the fake Discord.

The story: the staff of a server vote in #staff-room and in a thread under it, where
nobody else may look. A moderator of #general (Manage Messages there and everywhere) and
plain members type /poll commands in #general. They must never read, export or close a
staff poll, whether its channel is cached, an archived thread (dropped from discord.py's
cache and fetched over REST), a private thread, or deleted; the staff, on the other hand,
keep using their polls from anywhere. And /poll create only posts, as the bot, where the
member may write themselves.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pytest

from cogs.polls import repo
from cogs.polls.access import AUTOCOMPLETE_FETCHES
from localdiscord import Overwrite, Permission, wait_until
from localdiscord.state import PRIVATE_THREAD, TEXT, Channel, Member, Role
from tests.support.harness import Harness
from tests.support.polls import create, embed_text, poll_count, poll_id_of, poll_messages, vote

CANNOT_VIEW = "is in a channel you can't see (View Channel)"
UNREACHABLE = "I can't reach the channel of poll"
QUESTION = "Who returns in season 2?"


@dataclass
class Staff:
    role: Role
    room: Channel
    thread: Channel
    staffer: Member


async def staff_room(h: Harness, *, room_perms: int = 0) -> Staff:
    """#staff-room: only the Staff role (and the bot) may view it; a thread under it; a staffer.

    ``room_perms``: what Staff is allowed in the room besides viewing it (e.g. Manage Messages).
    """
    role = h.guild.add_role("Staff", 0)
    assert h.guild.bot_role is not None
    view = int(Permission.VIEW_CHANNEL)
    room = h.guild.add_channel(
        "staff-room",
        TEXT,
        overwrites=[
            Overwrite(id=h.guild.id, type=0, deny=view),
            Overwrite(id=role.id, type=0, allow=view | room_perms),
            Overwrite(id=h.guild.bot_role.id, type=0, allow=view),
        ],
    )
    thread = h.guild.add_thread("staff vote", room.id)
    staffer = h.guild.add_member(name="staffer", roles=[role])
    guild = h.bot.get_guild(h.guild.id)
    assert guild is not None
    assert await wait_until(lambda: guild.get_thread(thread.id) is not None and guild.get_role(role.id) is not None)
    return Staff(role, room, thread, staffer)


async def archive(h: Harness, thread: Channel) -> None:
    """Discord archives the thread; discord.py drops it from its cache."""
    h.guild.archive_thread(thread)
    guild = h.bot.get_guild(h.guild.id)
    assert guild is not None
    assert await wait_until(lambda: guild.get_thread(thread.id) is None)


async def staff_poll(h: Harness, staff: Staff, channel: Channel, **options: Any) -> int:
    _, message = await create(h, member=staff.staffer, channel=channel, **options)
    await vote(h, staff.staffer, message, 0, channel=channel)
    return poll_id_of(message)


def csv_uploads(h: Harness) -> list[Any]:
    return [u for u in h.fake.uploads.values() if u.filename.endswith(".csv")]


# -- export and close: the permissions of the poll's own channel ---------------------------------


async def test_a_moderator_of_general_cannot_export_a_poll_of_an_archived_staff_thread(h: Harness) -> None:
    staff = await staff_room(h)
    poll_id = await staff_poll(h, staff, staff.thread)
    await archive(h, staff.thread)

    record = await h.slash(h.moderator, h.general, "poll export", poll=str(poll_id))

    assert record.ephemeral
    assert CANNOT_VIEW in record.content
    assert csv_uploads(h) == []


async def test_a_moderator_of_general_cannot_close_a_poll_of_an_archived_staff_thread(h: Harness) -> None:
    staff = await staff_room(h)
    poll_id = await staff_poll(h, staff, staff.thread)
    await archive(h, staff.thread)

    record = await h.slash(h.moderator, h.general, "poll close", poll=str(poll_id))

    assert record.ephemeral
    assert CANNOT_VIEW in record.content
    async with h.bot.store.read() as conn:
        poll = await repo.fetch_poll(conn, poll_id)
    assert poll is not None
    assert poll.is_open


async def test_staff_with_manage_messages_in_their_room_export_its_archived_thread_poll_from_general(
    h: Harness,
) -> None:
    """The archived thread is fetched over REST and takes its parent's overwrites."""
    staff = await staff_room(h, room_perms=int(Permission.MANAGE_MESSAGES))
    poll_id = await staff_poll(h, staff, staff.thread)
    await archive(h, staff.thread)

    record = await h.slash(staff.staffer, h.general, "poll export", poll=str(poll_id))

    assert await record.wait_followups(), record.content
    [upload] = csv_uploads(h)
    rows = list(csv.DictReader(io.StringIO(upload.data.decode())))
    assert [row["user_id"] for row in rows] == [str(staff.staffer.id)]
    fetched = [r for r in h.fake.requests if r.method == "GET" and r.path.endswith(f"/channels/{staff.thread.id}")]
    assert len(fetched) == 1


async def test_exporting_names_the_permission_and_the_channel_it_is_needed_in(h: Harness) -> None:
    staff = await staff_room(h)
    poll_id = await staff_poll(h, staff, staff.room)

    record = await h.slash(staff.staffer, h.general, "poll export", poll=str(poll_id))

    assert record.ephemeral
    assert f"Manage Messages permission in its channel, <#{staff.room.id}>" in record.content
    assert csv_uploads(h) == []


# -- reads: list, results, autocomplete, reveal ---------------------------------------------------


async def test_poll_list_leaves_out_polls_of_channels_the_member_cannot_see(h: Harness) -> None:
    staff = await staff_room(h)
    await staff_poll(h, staff, staff.room, question="Who gets promoted?")
    await create(h, question="Best episode?")

    seen = await h.slash(h.member, h.general, "poll list")
    staff_seen = await h.slash(staff.staffer, h.general, "poll list")

    text = embed_text({"embeds": seen.embeds})
    assert "Best episode?" in text
    assert "promoted" not in text
    assert "Open polls: 1" in text
    assert "promoted" in embed_text({"embeds": staff_seen.embeds})


async def test_poll_results_of_a_staff_poll_are_refused_to_a_member_of_general(h: Harness) -> None:
    staff = await staff_room(h)
    poll_id = await staff_poll(h, staff, staff.room, question="Who gets promoted?")

    record = await h.slash(h.member, h.general, "poll results", poll=str(poll_id))

    assert record.ephemeral
    assert CANNOT_VIEW in record.content
    assert "promoted" not in record.content + embed_text({"embeds": record.embeds})


async def test_the_autocomplete_offers_only_polls_the_member_may_see(h: Harness) -> None:
    staff = await staff_room(h)
    hidden = await staff_poll(h, staff, staff.room, question="Who gets promoted?")
    archived = await staff_poll(h, staff, staff.thread, question="Who gets demoted?")
    await archive(h, staff.thread)
    _, message = await create(h, question="Best episode?")
    shown = poll_id_of(message)

    for command in ("poll results", "poll export", "poll close"):
        member_choices = await h.autocomplete(h.member, h.general, command, focused="poll")
        assert [c["value"] for c in member_choices] == [str(shown)], command
    staff_choices = await h.autocomplete(staff.staffer, h.general, "poll results", focused="poll")
    assert {c["value"] for c in staff_choices} == {str(shown), str(hidden), str(archived)}


async def test_the_autocomplete_fetches_few_uncached_channels_and_still_hides_their_polls(h: Harness) -> None:
    """Five archived staff threads: at most three are fetched within the 3 s; none is shown to a member."""
    staff = await staff_room(h)
    threads = [h.guild.add_thread(f"vote {n}", staff.room.id) for n in range(5)]
    guild = h.bot.get_guild(h.guild.id)
    assert guild is not None
    assert await wait_until(lambda: all(guild.get_thread(t.id) is not None for t in threads))
    for thread in threads:
        await staff_poll(h, staff, thread)
        await archive(h, thread)
    _, message = await create(h, question="Best episode?")
    fetches_before = len([r for r in h.fake.requests if r.method == "GET" and "/channels/" in r.path])

    choices = await h.autocomplete(h.member, h.general, "poll results", focused="poll")

    assert [c["value"] for c in choices] == [str(poll_id_of(message))]
    fetched = [r for r in h.fake.requests if r.method == "GET" and "/channels/" in r.path][fetches_before:]
    assert len(fetched) == AUTOCOMPLETE_FETCHES


async def test_a_private_thread_poll_is_seen_from_elsewhere_only_with_manage_threads(h: Harness) -> None:
    thread = h.guild.add_thread("secret plans", h.general.id, type=PRIVATE_THREAD, owner_id=h.member2.id)
    guild = h.bot.get_guild(h.guild.id)
    assert guild is not None
    assert await wait_until(lambda: guild.get_thread(thread.id) is not None)
    _, message = await create(h, member=h.member2, channel=thread)
    poll_id = poll_id_of(message)

    outsider = await h.slash(h.member, h.general, "poll results", poll=str(poll_id))
    owner = await h.slash(h.member2, h.general, "poll results", poll=str(poll_id))
    inside = await h.slash(h.member, thread, "poll results", poll=str(poll_id))

    assert CANNOT_VIEW in outsider.content
    assert QUESTION in embed_text({"embeds": owner.embeds})
    assert QUESTION in embed_text({"embeds": inside.embeds})  # Discord let them in: its answer counts


async def test_a_poll_whose_channel_was_deleted_is_refused_clearly_not_shown(h: Harness) -> None:
    room = h.guild.add_channel("old-room", TEXT)
    guild = h.bot.get_guild(h.guild.id)
    assert guild is not None
    assert await wait_until(lambda: guild.get_channel(room.id) is not None)
    _, message = await create(h, channel=room)
    poll_id = poll_id_of(message)
    await h.fake.delete_channel(room)
    assert await wait_until(lambda: guild.get_channel(room.id) is None)

    record = await h.slash(h.moderator, h.general, "poll results", poll=str(poll_id))

    assert record.ephemeral
    assert UNREACHABLE in record.content
    assert f"<#{room.id}>" in record.content
    assert record.embeds == []


async def test_reveal_privately_is_refused_once_the_member_may_no_longer_see_the_poll(h: Harness) -> None:
    staff = await staff_room(h)
    poll_id = await staff_poll(h, staff, staff.room, spoiler=True)
    results = await h.slash(staff.staffer, h.general, "poll results", poll=str(poll_id))
    reveal = f"spoiler:reveal:poll:{poll_id}"
    assert results.ephemeral
    assert reveal in [c.get("custom_id") for row in results.components for c in row["components"]]

    h.guild.remove_role_from_member(staff.staffer, staff.role)
    record = await h.click(staff.staffer, h.general, results.original, reveal)

    assert record.ephemeral
    assert CANNOT_VIEW in record.content
    assert "On-jo" not in record.content + embed_text({"embeds": record.embeds})


# -- create: the member must be allowed to write where the poll goes ------------------------------


@pytest.mark.parametrize("in_thread", [False, True], ids=["channel", "thread"])
async def test_create_refuses_where_the_member_may_not_send_messages(h: Harness, in_thread: bool) -> None:
    """Like #rules: members read, only the bot (and staff) write."""
    bit = Permission.SEND_MESSAGES_IN_THREADS if in_thread else Permission.SEND_MESSAGES
    h.guild.set_overwrite(h.general, h.guild.everyone, deny=int(bit))
    h.guild.set_bot_overwrite(h.general, allow=int(bit))
    cached = h.bot.get_channel(h.general.id)
    assert cached is not None
    assert await wait_until(lambda: len(cached.overwrites) == 2)  # type: ignore[union-attr]
    where = h.thread if in_thread else h.general

    record = await h.slash(h.member, where, "poll create", question=QUESTION, options="Yes | No")

    assert record.ephemeral
    permission = "Send Messages in Threads" if in_thread else "Send Messages"
    assert f"You can't send messages in {'the thread ' if in_thread else ''}<#{where.id}> ({permission})" in (
        record.content
    )
    assert poll_messages(h, where) == []
    assert await poll_count(h) == 0


async def test_create_refusal_for_sending_is_in_korean_too(h: Harness) -> None:
    h.guild.set_overwrite(h.general, h.guild.everyone, deny=int(Permission.SEND_MESSAGES))
    h.guild.set_bot_overwrite(h.general, allow=int(Permission.SEND_MESSAGES))
    cached = h.bot.get_channel(h.general.id)
    assert cached is not None
    assert await wait_until(lambda: len(cached.overwrites) == 2)  # type: ignore[union-attr]

    record = await h.slash(h.member, h.general, "poll create", locale="ko", question=QUESTION, options="Yes | No")

    assert record.ephemeral
    assert "메시지 보내기 권한" in record.content
    assert await poll_count(h) == 0
