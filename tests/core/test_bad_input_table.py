"""Bad input, as a table: every command and setting, one row per input.

Each row names the command, its options, who runs it, where, and a fragment of the
specific message it must get. For every row the bot must answer privately with that
message, log no error, allow no mention (``allowed_mentions`` parse empty) and quote
no mention or text-direction override from the input, post nothing publicly, and
leave every table of the store exactly as it was (nothing half-written).

Rows already covered by the feature tests are not repeated here (see
test_characters_e2e.BAD_NAMES, test_countdown_e2e, test_spoilers_e2e, test_polls_e2e and
test_settings_permissions_e2e, which tries every /settings leaf as a member). The
table adds the owner command (/release update) and the Manage Messages checks of
/poll close and /poll export, refused even where a server loosened the command.

Rows that set nothing up only read, so they share one bot (``shared_harness``, per worker):
each proves it left the store, the public channels, the fake's record and the log as they
were. A row with a set-up (a role, an overwrite, a loosened command, polls) changes the
server, so it gets a bot of its own, as every row did before.

A row that shows a bug not fixed yet is marked xfail(strict=True) with a reason saying
what is wrong and where; when the bug is fixed the strict xfail fails and the mark
comes off. (The bugs this table found when it was written are fixed.)
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.spoilers.repo import add_spoiler_channel
from localdiscord import InteractionRecord, Permission, wait_until
from localdiscord.state import TEXT, Channel, Member
from tests.support.harness import Harness, local_discord, running_harness
from tests.support.stores import fetch_rows, migrated_sqlite

APPLICATION_COMMAND = 2
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
EPHEMERAL = 64

#: Mentions that would ping if allowed: users, roles, @everyone and @here.
PINGING = re.compile(r"<@!?\d{15,21}>|<@&\d{15,21}>|@everyone|@here")
#: How the polls' refusals name the mass mentions themselves (not a quote of the input).
MASS_MENTION_WORDING = "@everyone or @here"
#: Embedding and override controls that reorder the rest of a line (not the harmless marks U+200E/U+200F).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")

ZW = "\u200b"  # zero-width space: not whitespace to str.strip()
RLO = "\u202e"  # right-to-left override


@dataclass(frozen=True)
class Ref:
    """An option value that is one of the harness's channels (resolved per test)."""

    name: str


@dataclass(frozen=True)
class Row:
    id: str
    command: str
    options: dict[str, Any]
    #: A fragment of the answer; a leading ^ means the answer starts with it.
    expected: str
    who: str = "member"
    where: str = "general"
    setup: tuple[str, ...] = ()
    xfail: str | None = None
    #: Options changed in the payload after the fake built it, as a modified client would send them.
    crafted: dict[str, Any] = field(default_factory=dict)


COUNTDOWN = {"channel": Ref("general"), "time": "09:00", "timezone": "UTC", "cadence": "daily", "mode": "post"}
RELEASE = {"window": "2027-03-14", "confidence": "confirmed", "source": "Netflix Tudum"}
POLL = {"question": "Who returns in season 2?", "options": "On-jo | Su-hyeok | Nam-ra"}


def countdown(**options: Any) -> dict[str, Any]:
    return {**COUNTDOWN, **options}


def release(**options: Any) -> dict[str, Any]:
    return {**RELEASE, **options}


def poll(**options: Any) -> dict[str, Any]:
    return {**POLL, **options}


NOT_SAVED = "nothing was saved"
BAD_TIME = "is not a time I can use. Write it as 24-hour HH:MM"
BAD_ZONE = "is not a time zone I know. Pick one from the list"
NOT_TEXT = "is not a text or announcement channel, so I can't post the countdown there"
NOT_OWNER = "Only the bot's owners can change the release information."
UNREADABLE = "as a date or window. Use 2027-03-14"
NO_SUCH_DATE = "is not a real date; nothing was saved."
BAD_SOURCE_DATE = "is not a date; write the source's date as YYYY-MM-DD."
NO_POLL = "I can't find a poll"
NAME_MARKUP = "Type just a name, without mentions, spoiler bars, code or other formatting"
TOPIC_MARKUP = "Type just a few words, without mentions, spoiler bars, code or other formatting"
CLOSE_REFUSED = "Only the poll's creator or members with the Manage Messages permission in <#"
EXPORT_REFUSED = "needs the Manage Messages permission in its channel, <#"
CANNOT_VIEW = "is in a channel you can't see (View Channel)"

ROWS: list[Row] = [
    # -- /character (the feature test covers blank, 120 characters, mentions, bars, code, bold) --
    Row("character/zero-width only", "character", {"name": ZW * 2}, "Type a character's or actor's name"),
    Row("character/masked link", "character", {"name": "[Cheong San](https://example.com)"}, NAME_MARKUP),
    Row("character/channel mention", "character", {"name": "<#{general}>"}, NAME_MARKUP),
    Row("character/nickname mention in a thread", "character", {"name": "<@!{member2}>"}, NAME_MARKUP, where="thread"),
    Row("character/newline and @here", "character", {"name": "Cheong\nSan\n@here"}, NAME_MARKUP),
    Row("character/200 Hangul characters", "character", {"name": "청" * 200}, "That name is too long (200 characters)"),
    Row("character/right-to-left override", "character", {"name": RLO + "Nobody here"}, "No character matches"),
    # -- /faq --------------------------------------------------------------------------------
    Row("faq/blank", "faq", {"topic": "   "}, "^Pick a topic from the list as you type, for example"),
    Row("faq/zero-width only", "faq", {"topic": ZW}, "^Pick a topic from the list as you type, for example"),
    Row("faq/300 characters", "faq", {"topic": "x" * 300}, "That topic is too long (300 characters)"),
    Row("faq/user mention", "faq", {"topic": "<@{member2}> release"}, TOPIC_MARKUP),
    Row("faq/role mention in a forum post", "faq", {"topic": "<@&{everyone}>"}, TOPIC_MARKUP, where="forum_post"),
    Row("faq/spoiler bars", "faq", {"topic": "||release||"}, TOPIC_MARKUP),
    Row("faq/backticks", "faq", {"topic": "`release`"}, TOPIC_MARKUP),
    Row("faq/masked link", "faq", {"topic": "[release](https://example.com)"}, TOPIC_MARKUP),
    # -- /survivors: a choice Discord's client would never send ---------------------------------
    Row(
        "survivors/version outside the choices",
        "survivors",
        {"version": "series"},
        "`version` must be one of: ",
        crafted={"version": "zombies"},
    ),
    # -- /settings countdown set (the feature test covers 25:99, 7pm, Mars/Olympus, Embed Links) --
    Row("countdown set/time 24:00", "settings countdown set", countdown(time="24:00"), BAD_TIME, who="moderator"),
    Row("countdown set/time 12:60", "settings countdown set", countdown(time="12:60"), BAD_TIME, who="moderator"),
    Row("countdown set/time without minutes", "settings countdown set", countdown(time="9"), BAD_TIME, who="moderator"),
    Row(
        "countdown set/time with seconds",
        "settings countdown set",
        countdown(time="09:00:00"),
        BAD_TIME,
        who="moderator",
    ),
    Row(
        "countdown set/time in Arabic-Indic digits",
        "settings countdown set",
        countdown(time="٠٩:٠٠"),
        BAD_TIME,
        who="moderator",
    ),
    Row("countdown set/time blank", "settings countdown set", countdown(time="   "), '"" ' + BAD_TIME, who="moderator"),
    Row(
        "countdown set/time in backticks from a thread",
        "settings countdown set",
        countdown(time="`09:00`"),
        BAD_TIME,
        who="moderator",
        where="thread",
    ),
    Row(
        "countdown set/time @everyone", "settings countdown set", countdown(time="@everyone"), BAD_TIME, who="moderator"
    ),
    Row(
        "countdown set/time with right-to-left override",
        "settings countdown set",
        countdown(time=RLO + "25:00"),
        BAD_TIME,
        who="moderator",
    ),
    Row(
        "countdown set/zone as UTC offset",
        "settings countdown set",
        countdown(timezone="UTC+9"),
        BAD_ZONE,
        who="moderator",
    ),
    Row(
        "countdown set/zone as a path",
        "settings countdown set",
        countdown(timezone="../../etc/passwd"),
        BAD_ZONE,
        who="moderator",
    ),
    Row(
        "countdown set/zone in lower case",
        "settings countdown set",
        countdown(timezone="asia/seoul"),
        BAD_ZONE,
        who="moderator",
    ),
    Row("countdown set/zone blank", "settings countdown set", countdown(timezone="   "), BAD_ZONE, who="moderator"),
    Row(
        "countdown set/zone in spoiler bars",
        "settings countdown set",
        countdown(timezone="||UTC||"),
        BAD_ZONE,
        who="moderator",
    ),
    Row(
        "countdown set/zone a user mention",
        "settings countdown set",
        countdown(timezone="<@{member2}>"),
        BAD_ZONE,
        who="moderator",
    ),
    Row(
        "countdown set/a forum",
        "settings countdown set",
        countdown(channel=Ref("forum")),
        NOT_TEXT,
        who="moderator",
        setup=("loosen countdown channel types",),
    ),
    Row(
        "countdown set/a category",
        "settings countdown set",
        countdown(channel=Ref("category")),
        NOT_TEXT,
        who="moderator",
        setup=("loosen countdown channel types",),
    ),
    Row(
        "countdown set/a thread",
        "settings countdown set",
        countdown(channel=Ref("thread")),
        NOT_TEXT,
        who="moderator",
        setup=("loosen countdown channel types",),
    ),
    Row(
        "countdown set/a channel the bot cannot see",
        "settings countdown set",
        countdown(channel=Ref("in_category")),
        "I'm missing View Channel",
        who="moderator",
        setup=("bot cannot see in_category",),
    ),
    Row(
        "countdown set/a channel id of another guild",
        "settings countdown set",
        countdown(),
        "this server. Pick",
        who="moderator",
        crafted={"channel": "other guild channel"},
    ),
    Row(
        "countdown set/cadence outside the choices",
        "settings countdown set",
        countdown(),
        "`cadence` must be one of: ",
        who="moderator",
        crafted={"cadence": "hourly"},
    ),
    Row(
        "countdown set/weekday out of range",
        "settings countdown set",
        countdown(weekday=1),
        "`weekday` must be one of: ",
        who="moderator",
        crafted={"weekday": 9},
    ),
    # -- /settings as a member with Manage Messages but not Manage Server, the server loosened ----
    Row(
        "settings spoilers add/Manage Messages is not enough",
        "settings spoilers add",
        {"channel": Ref("general")},
        "Only members with the Manage Server permission",
        who="member",
        setup=("member has Manage Messages", "loosen settings"),
    ),
    Row(
        "settings countdown off/Manage Messages is not enough, from a thread",
        "settings countdown off",
        {},
        "Only members with the Manage Server permission",
        who="member",
        where="thread",
        setup=("member has Manage Messages", "loosen settings"),
    ),
    # -- /settings spoilers add: one more than the most a server may list ------------------------
    Row(
        "spoilers add/51st channel",
        "settings spoilers add",
        {"channel": Ref("general")},
        "already has 50 spoiler channels and categories, the most I keep",
        who="moderator",
        setup=("50 spoiler channels",),
    ),
    # -- /release update: owners only, whatever the server allows ---------------------------------
    Row(
        "release update/member where the server loosened it",
        "release update",
        release(),
        NOT_OWNER,
        who="member",
        setup=("loosen release",),
    ),
    Row(
        "release update/Manage Messages member",
        "release update",
        release(),
        NOT_OWNER,
        who="member",
        setup=("member has Manage Messages", "loosen release"),
    ),
    Row("release update/window year 0", "release update", release(window="0000"), NO_SUCH_DATE, who="owner"),
    Row(
        "release update/window month of year 0", "release update", release(window="0000-05"), NO_SUCH_DATE, who="owner"
    ),
    Row(
        "release update/window season of year 0",
        "release update",
        release(window="early 0000"),
        NO_SUCH_DATE,
        who="owner",
    ),
    Row("release update/window month 13", "release update", release(window="2027-13"), NO_SUCH_DATE, who="owner"),
    Row(
        "release update/window 29 February 2027",
        "release update",
        release(window="2027-02-29"),
        NO_SUCH_DATE,
        who="owner",
    ),
    Row("release update/window quarter 5", "release update", release(window="2027-Q5"), UNREADABLE, who="owner"),
    Row(
        "release update/window winter",
        "release update",
        release(window="winter 2027"),
        '"winter" is not a part of the year I know',
        who="owner",
    ),
    Row(
        "release update/window wider than a season",
        "release update",
        release(window="2027-01-01..2028-06-30"),
        "A custom window can span at most 123 days",
        who="owner",
    ),
    Row("release update/window blank", "release update", release(window="   "), "Give a date or window", who="owner"),
    Row("release update/window in spoiler bars", "release update", release(window="||2027||"), UNREADABLE, who="owner"),
    Row("release update/window @here", "release update", release(window="@here"), UNREADABLE, who="owner"),
    Row("release update/source blank", "release update", release(source="   "), "Give a source", who="owner"),
    Row("release update/source zero-width only", "release update", release(source=ZW), "Give a source", who="owner"),
    Row(
        "release update/source link with spaces",
        "release update",
        release(source="https://exa mple.com/x"),
        "is not a usable link",
        who="owner",
    ),
    Row(
        "release update/source link with a mention",
        "release update",
        release(source="https://<@{member2}>.x"),
        "is not a usable link",
        who="owner",
    ),
    Row(
        "release update/source date 30 February",
        "release update",
        release(source_date="2027-02-30"),
        BAD_SOURCE_DATE,
        who="owner",
    ),
    Row(
        "release update/source date in words",
        "release update",
        release(source_date="yesterday"),
        BAD_SOURCE_DATE,
        who="owner",
    ),
    Row(
        "release update/source date year 0",
        "release update",
        release(source_date="0000-01-01"),
        BAD_SOURCE_DATE,
        who="owner",
    ),
    # -- /poll create (the feature test covers counts, lengths, 0m, 40d, soon, 0, 4, @everyone, ||) --
    Row("poll create/question blank", "poll create", poll(question="   "), "The question is empty"),
    Row("poll create/question zero-width only", "poll create", poll(question=ZW), "The question is empty"),
    Row(
        "poll create/question @HERE in a forum post",
        "poll create",
        poll(question="@HERE who returns?"),
        "can't contain @everyone or @here",
        where="forum_post",
    ),
    Row("poll create/options a lone bar", "poll create", poll(options="|"), "Option 1 is empty"),
    Row(
        "poll create/options in spoiler bars",
        "poll create",
        poll(options="||Cheong-san|| | Nam-ra"),
        "Option 1 is empty. Check for a doubled or trailing |",
    ),
    Row("poll create/options zero-width only", "poll create", poll(options=f"{ZW} | {ZW * 2}"), "Option 1 is empty"),
    Row(
        "poll create/options equal but for a zero-width space",
        "poll create",
        poll(options=f"Yes | Ye{ZW}s"),
        "is the same as option 1",
    ),
    Row(
        "poll create/options equal after case folding",
        "poll create",
        poll(options="Straße | STRASSE"),
        "is the same as option 1",
    ),
    Row(
        "poll create/option @everyone",
        "poll create",
        poll(options="Yes | @everyone"),
        "Option 2 contains @everyone or @here",
    ),
    Row(
        "poll create/options equal role mentions",
        "poll create",
        poll(options="<@&{everyone}> | <@&{everyone}>"),
        "is the same as option 1",
    ),
    Row(
        "poll create/duration a mention",
        "poll create",
        poll(duration="<@{member2}>"),
        "I don't understand the duration",
    ),
    Row(
        "poll create/duration 5000 characters",
        "poll create",
        poll(duration="x" * 5000),
        "I don't understand the duration \"" + "x" * 32 + '"',
    ),
    Row("poll create/duration negative", "poll create", poll(duration="-5m"), "I don't understand the duration"),
    Row("poll create/duration without a unit", "poll create", poll(duration="5"), "I don't understand the duration"),
    Row("poll create/duration 999999 weeks", "poll create", poll(duration="999999w"), "at most 31 days"),
    Row(
        "poll create/duration 999999 weeks 700 times", "poll create", poll(duration="999999w " * 700), "at most 31 days"
    ),
    Row(
        "poll create/where the member may not send messages",
        "poll create",
        poll(),
        "You can't send messages in <#",
        setup=("members cannot send in general",),
    ),
    Row("poll create/max_choices negative", "poll create", poll(max_choices=-5), "max_choices must be at least 1"),
    Row(
        "poll create/max_choices 2**53",
        "poll create",
        poll(max_choices=2**53),
        "max_choices is 9007199254740992, but the poll has only 3 options",
    ),
    # -- /poll results, close, export: ids that are not this server's polls ----------------------
    Row("poll results/superscript two", "poll results", {"poll": "²"}, NO_POLL),
    Row("poll close/superscript three", "poll close", {"poll": "³"}, NO_POLL, who="moderator"),
    Row("poll results/zero", "poll results", {"poll": "0"}, NO_POLL),
    Row("poll results/20 digits", "poll results", {"poll": "99999999999999999999"}, NO_POLL),
    Row("poll results/negative", "poll results", {"poll": "-1"}, NO_POLL),
    Row("poll results/blank", "poll results", {"poll": "   "}, NO_POLL),
    Row("poll results/spoiler bars", "poll results", {"poll": "||1||"}, NO_POLL),
    Row("poll results/5000 digits", "poll results", {"poll": "1" * 5000}, NO_POLL),
    Row("poll results/id with trailing text", "poll results", {"poll": "#{poll}x"}, NO_POLL, setup=("a poll",)),
    Row("poll results/a user mention", "poll results", {"poll": "<@{member2}>"}, NO_POLL),
    Row(
        "poll results/another guild's poll",
        "poll results",
        {"poll": "{other_poll}"},
        NO_POLL,
        setup=("a poll in another guild",),
    ),
    Row(
        "poll close/another guild's poll",
        "poll close",
        {"poll": "{other_poll}"},
        NO_POLL,
        who="moderator",
        setup=("a poll in another guild",),
    ),
    Row(
        "poll export/another guild's poll",
        "poll export",
        {"poll": "#{other_poll}"},
        NO_POLL,
        who="moderator",
        setup=("a poll in another guild",),
    ),
    Row(
        "poll close/already closed",
        "poll close",
        {"poll": "{poll}"},
        "is already closed",
        who="member2",
        setup=("a closed poll",),
    ),
    # -- Manage Messages checks, where the poll is, not where the command runs ---------------------
    Row(
        "poll export/its creator without Manage Messages",
        "poll export",
        {"poll": "{poll}"},
        EXPORT_REFUSED,
        who="member2",
        setup=("a poll",),
    ),
    Row(
        "poll results/a poll in a channel the member cannot see",
        "poll results",
        {"poll": "{poll}"},
        CANNOT_VIEW,
        setup=("a poll in a staff channel",),
    ),
    Row(
        "poll export/a staff channel's poll, Manage Messages everywhere else",
        "poll export",
        {"poll": "{poll}"},
        CANNOT_VIEW,
        who="moderator",
        setup=("a poll in a staff channel",),
    ),
    Row(
        "poll close/Manage Messages only in another channel",
        "poll close",
        {"poll": "{poll}"},
        CLOSE_REFUSED,
        where="in_category",
        setup=("a poll", "member has Manage Messages in in_category"),
    ),
    Row(
        "poll export/Manage Messages only in another channel",
        "poll export",
        {"poll": "{poll}"},
        EXPORT_REFUSED,
        where="in_category",
        setup=("a poll", "member has Manage Messages in in_category"),
    ),
]


# -- set-ups a row can ask for --------------------------------------------------------------

Setup = Callable[[Harness, dict[str, Any]], Awaitable[None]]


async def create_poll(h: Harness, guild: Any, channel: Channel, member: Member) -> int:
    record = await h.fake.slash(guild, channel, member, "poll create", dict(POLL))
    assert await record.wait_followups(), record.callback
    match = re.search(r"Poll #(\d+) is up", record.followups[0]["content"])
    assert match is not None, record.followups[0]["content"]
    return int(match.group(1))


async def setup_poll(h: Harness, ids: dict[str, Any]) -> None:
    ids["poll"] = await create_poll(h, h.guild, h.general, h.member2)


async def setup_closed_poll(h: Harness, ids: dict[str, Any]) -> None:
    ids["poll"] = await create_poll(h, h.guild, h.general, h.member2)
    closed = await h.slash(h.member2, h.general, "poll close", poll=str(ids["poll"]))
    assert await closed.wait_followups()


async def setup_other_guild_poll(h: Harness, ids: dict[str, Any]) -> None:
    other = h.fake.add_guild("Another server")
    channel = other.add_channel("general", TEXT)
    member = other.add_member(name="elsewhere")
    assert await wait_until(lambda: h.bot.get_guild(other.id) is not None)
    ids["other_poll"] = await create_poll(h, other, channel, member)


async def setup_staff_channel_poll(h: Harness, ids: dict[str, Any]) -> None:
    """#staff: hidden from @everyone (the member and the moderator), open to its creator and the bot."""
    assert h.guild.bot_role is not None
    view = int(Permission.VIEW_CHANNEL)
    staff = h.guild.add_channel(
        "staff",
        TEXT,
        overwrites=[
            {"id": h.guild.id, "type": 0, "deny": view},
            {"id": h.member2.id, "type": 1, "allow": view},
            {"id": h.guild.bot_role.id, "type": 0, "allow": view},
        ],
    )
    assert await wait_until(lambda: h.bot.get_channel(staff.id) is not None)
    ids["poll"] = await create_poll(h, h.guild, staff, h.member2)


async def setup_members_cannot_send_in_general(h: Harness, ids: dict[str, Any]) -> None:
    """Like #rules: members read, only the bot writes."""
    h.guild.set_overwrite(h.general, h.guild.everyone, deny=int(Permission.SEND_MESSAGES))
    h.guild.set_bot_overwrite(h.general, allow=int(Permission.SEND_MESSAGES))
    channel = h.bot.get_channel(h.general.id)
    assert channel is not None
    assert await wait_until(lambda: len(channel.overwrites) == 2)  # type: ignore[union-attr]


async def setup_full_spoiler_list(h: Harness, ids: dict[str, Any]) -> None:
    for n in range(50):
        await add_spoiler_channel(
            h.bot.store, guild_id=h.guild.id, channel_id=10**17 + n, added_by=h.moderator.id, now=h.clock()
        )


async def setup_loosen_countdown_channels(h: Harness, ids: dict[str, Any]) -> None:
    """Drop channel_types from the synced option, as a client that ignores the picker hint would."""
    commands = h.fake.commands[None]
    settings = next(c for c in commands if c["name"] == "settings")
    loosened = copy.deepcopy(settings)
    group = next(o for o in loosened["options"] if o["name"] == "countdown")
    command = next(o for o in group["options"] if o["name"] == "set")
    for option in command["options"]:
        option.pop("channel_types", None)
    commands[commands.index(settings)] = loosened


async def setup_bot_blind_in_category(h: Harness, ids: dict[str, Any]) -> None:
    h.guild.set_bot_overwrite(h.in_category, deny=int(Permission.VIEW_CHANNEL))
    channel = h.bot.get_channel(h.in_category.id)
    assert channel is not None
    assert await wait_until(lambda: not channel.permissions_for(channel.guild.me).view_channel)


async def setup_member_manages_messages(h: Harness, ids: dict[str, Any]) -> None:
    helpers = h.guild.add_role("Helpers", int(Permission.MANAGE_MESSAGES))
    h.guild.add_role_to_member(h.member, helpers)
    assert await wait_until(lambda: h.bot.get_guild(h.guild.id).get_role(helpers.id) is not None)  # type: ignore[union-attr]


async def setup_member_manages_messages_in_category(h: Harness, ids: dict[str, Any]) -> None:
    h.guild.set_overwrite(h.in_category, h.member, allow=int(Permission.MANAGE_MESSAGES))
    channel = h.bot.get_channel(h.in_category.id)
    assert channel is not None
    assert await wait_until(lambda: len(channel.overwrites) > 0)  # type: ignore[union-attr]


async def setup_loosen_settings(h: Harness, ids: dict[str, Any]) -> None:
    h.fake.override_command_permissions(h.guild, "settings", allow_everyone=True)


async def setup_loosen_release(h: Harness, ids: dict[str, Any]) -> None:
    h.fake.override_command_permissions(h.guild, "release", allow_everyone=True)


SETUPS: dict[str, Setup] = {
    "a poll": setup_poll,
    "a closed poll": setup_closed_poll,
    "a poll in another guild": setup_other_guild_poll,
    "a poll in a staff channel": setup_staff_channel_poll,
    "members cannot send in general": setup_members_cannot_send_in_general,
    "50 spoiler channels": setup_full_spoiler_list,
    "loosen countdown channel types": setup_loosen_countdown_channels,
    "bot cannot see in_category": setup_bot_blind_in_category,
    "member has Manage Messages": setup_member_manages_messages,
    "member has Manage Messages in in_category": setup_member_manages_messages_in_category,
    "loosen settings": setup_loosen_settings,
    "loosen release": setup_loosen_release,
}


# -- running a row ----------------------------------------------------------------------------


def resolve(value: Any, h: Harness, ids: dict[str, Any]) -> Any:
    if isinstance(value, Ref):
        return getattr(h, value.name)
    if isinstance(value, str) and "{" in value:
        return value.format_map(ids)
    return value


def set_option(options: list[dict[str, Any]], name: str, value: Any) -> bool:
    """Replace a typed option's value anywhere in the nested option tree."""
    for option in options:
        if option["name"] == name and "value" in option:
            option["value"] = value
            return True
        if set_option(option.get("options", []), name, value):
            return True
    return False


async def crafted_slash(
    h: Harness, member: Member, channel: Channel, row: Row, options: dict[str, Any], locale: str = "en-US"
) -> InteractionRecord:
    """The command as a modified client could send it: built by the fake, then altered."""
    root, data = h.fake._command_data(h.guild, channel, member, row.command, options)
    for name, value in row.crafted.items():
        if value == "other guild channel":
            other = h.fake.add_guild("Elsewhere")
            foreign = other.add_channel("elsewhere", TEXT)
            resolved = data["resolved"]["channels"]
            picked = resolved.pop(next(iter(resolved)))
            picked.update(id=str(foreign.id), guild_id=str(other.id), name=foreign.name)
            resolved[str(foreign.id)] = picked
            value = str(foreign.id)
        assert set_option(data["options"], name, value), name
    payload = h.fake._interaction_base(h.guild, channel, member, APPLICATION_COMMAND, data, locale)
    record = await h.fake.dispatch_interaction(payload, command_name=root["name"])
    await record.wait_acknowledged(5)
    return record


async def snapshot(h: Harness) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove nothing was written."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for table in await h.bot.store.table_names():
        rows = await fetch_rows(h.bot.store, f'SELECT * FROM "{table}"')
        state[table] = sorted((tuple(row) for row in rows), key=repr)
    return state


def public_messages(h: Harness) -> list[int]:
    return [
        int(message["id"])
        for channel_id in h.guild.channels
        for message in h.fake.channel_messages(channel_id)
        if not int(message.get("flags") or 0) & EPHEMERAL
    ]


def sent_body(h: Harness, record: InteractionRecord) -> dict[str, Any]:
    """The message body the bot sent as its answer: the callback's, or the follow-up's after a deferral."""
    if record.callback_type == CHANNEL_MESSAGE:
        return record.data
    assert record.callback_type == DEFERRED_CHANNEL_MESSAGE, record.callback
    assert record.ephemeral, "the deferral was public"
    followups = [
        r.body for r in h.fake.requests if r.method == "POST" and r.path.endswith(record.token) and r.status < 300
    ]
    assert followups, "deferred but never answered"
    return followups[0] or {}


def typed_text(options: dict[str, Any]) -> list[str]:
    return [value for value in options.values() if isinstance(value, str)]


def row_params(rows: list[Row]) -> list[Any]:
    params = []
    for row in rows:
        marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
        params.append(pytest.param(row, id=row.id, marks=marks))
    return params


#: Rows that change the server first get a bot of their own; the others share one.
OWN_BOT = [row for row in ROWS if row.setup]
SHARED_BOT = [row for row in ROWS if not row.setup]


@pytest.fixture
async def own_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A bot for one row, on SQLite (a feature's test; see tests/support/stores.py)."""
    async with local_discord() as fake, running_harness(fake, await migrated_sqlite(tmp_path / "bot.db")) as h:
        yield h


@pytest_asyncio.fixture(scope="class", loop_scope="class")
async def shared_harness(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    """One bot for the rows that set nothing up, on SQLite."""
    url = await migrated_sqlite(tmp_path_factory.mktemp("bad-input") / "bot.db")
    async with local_discord() as fake, running_harness(fake, url) as h:
        yield h


@pytest.fixture
def shared(shared_harness: Harness) -> Iterator[Harness]:
    """The shared bot for one row: what the fake recorded as wrong during the row fails that row."""
    fake = shared_harness.fake
    violations, unhandled = len(fake.violations), len(fake.unhandled)
    yield shared_harness
    assert fake.violations[violations:] == [], "requests broke Discord's limits or schema"
    assert fake.unhandled[unhandled:] == [], "the bot called routes the fake does not know"


def test_the_table_is_large_and_covers_every_command() -> None:
    assert len(ROWS) >= 60
    assert len({row.id for row in ROWS}) == len(ROWS)
    commands = {row.command for row in ROWS}
    for command in (
        "character",
        "faq",
        "survivors",
        "settings countdown set",
        "settings spoilers add",
        "release update",
        "poll create",
        "poll results",
        "poll close",
        "poll export",
    ):
        assert command in commands, command


@pytest.mark.parametrize("row", row_params(OWN_BOT))
async def test_bad_input_gets_a_private_specific_answer_and_changes_nothing(own_harness: Harness, row: Row) -> None:
    await bad_input_gets_a_private_specific_answer_and_changes_nothing(own_harness, row)


async def bad_input_gets_a_private_specific_answer_and_changes_nothing(h: Harness, row: Row) -> None:
    ids: dict[str, Any] = {
        "member2": h.member2.id,
        "everyone": h.guild.id,
        "general": h.general.id,
    }
    for name in row.setup:
        await SETUPS[name](h, ids)
    await h.settle()
    member: Member = getattr(h, row.who)
    channel: Channel = getattr(h, row.where)
    options = {name: resolve(value, h, ids) for name, value in row.options.items()}
    errors_before = len(h.errors.records)
    before = await snapshot(h)
    public_before = public_messages(h)

    if row.crafted:
        record = await crafted_slash(h, member, channel, row, options)
    else:
        record = await h.slash(member, channel, row.command, **options)
    if record.callback_type == DEFERRED_CHANNEL_MESSAGE:
        await record.wait_followups(1, timeout=5)
    await h.settle()

    # Checked here, not at teardown, so a row that provokes an error fails (or xfails) as itself.
    h.expect_errors()
    logged = [r.getMessage() for r in h.errors.records[errors_before:]]
    assert record.answered, "the interaction was never answered"
    body = sent_body(h, record)
    content = body.get("content") or ""
    assert int(body.get("flags") or 0) & EPHEMERAL, f"answered publicly: {content!r}"
    if row.expected.startswith("^"):
        assert content.startswith(row.expected[1:]), content
    else:
        assert row.expected in content, content
    assert logged == [], "an unhandled error was logged"
    assert body.get("allowed_mentions") == {"parse": []}, body.get("allowed_mentions")
    own_words = content.replace(MASS_MENTION_WORDING, "")
    for text in typed_text(options):
        for mention in PINGING.findall(text):
            assert mention not in own_words, f"the typed mention {mention!r} is quoted unescaped"
        if BIDI_CONTROLS.search(text):
            assert not BIDI_CONTROLS.search(content), "a typed text-direction override is quoted back"
    assert public_messages(h) == public_before, "something was posted publicly"
    assert await snapshot(h) == before, "the store changed"


HANGUL = re.compile(r"[가-힣]")


@pytest.mark.parametrize("row", [row for row in OWN_BOT if not row.xfail], ids=lambda row: row.id)
async def test_a_korean_member_gets_every_refusal_in_korean(own_harness: Harness, row: Row) -> None:
    """The same rows from a Korean client: the answer is private and Korean, not the English one."""
    await a_korean_member_gets_every_refusal_in_korean(own_harness, row)


@pytest.mark.asyncio(loop_scope="class")
class TestOnASharedBot:
    """The rows that set nothing up, on one bot: the same two tests."""

    @pytest.mark.parametrize("row", row_params(SHARED_BOT))
    async def test_bad_input_gets_a_private_specific_answer_and_changes_nothing(
        self, shared: Harness, row: Row
    ) -> None:
        await bad_input_gets_a_private_specific_answer_and_changes_nothing(shared, row)

    @pytest.mark.parametrize("row", [row for row in SHARED_BOT if not row.xfail], ids=lambda row: row.id)
    async def test_a_korean_member_gets_every_refusal_in_korean(self, shared: Harness, row: Row) -> None:
        await a_korean_member_gets_every_refusal_in_korean(shared, row)


async def a_korean_member_gets_every_refusal_in_korean(h: Harness, row: Row) -> None:
    ids: dict[str, Any] = {"member2": h.member2.id, "everyone": h.guild.id, "general": h.general.id}
    for name in row.setup:
        await SETUPS[name](h, ids)
    await h.settle()
    member: Member = getattr(h, row.who)
    channel: Channel = getattr(h, row.where)
    options = {name: resolve(value, h, ids) for name, value in row.options.items()}
    if row.crafted:
        record = await crafted_slash(h, member, channel, row, options, locale="ko")
    else:
        record = await h.slash(member, channel, row.command, locale="ko", **options)
    if record.callback_type == DEFERRED_CHANNEL_MESSAGE:
        await record.wait_followups(1, timeout=5)
    await h.settle()
    h.expect_errors()
    body = sent_body(h, record)
    content = body.get("content") or ""
    assert int(body.get("flags") or 0) & EPHEMERAL, f"answered publicly: {content!r}"
    assert HANGUL.search(content), content
    english = row.expected.removeprefix("^")
    if re.search(r"[A-Za-z]{3,} [A-Za-z]{3,}", english):  # a fragment of English wording, not an echo of the input
        assert english not in content, content
