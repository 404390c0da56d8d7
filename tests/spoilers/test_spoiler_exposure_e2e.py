"""Nothing a reader sees without clicking states a fate, whatever the command or the button.

The story: in an ordinary channel (no spoiler channels listed), a member runs every
command of every feature with every choice, every character and every FAQ topic, types
into every autocomplete, and presses every button the answers carry except "Reveal
privately" (that press is the reader's choice to see). The same plan, as far as Discord
offers it there, runs where the bot is not a member: in a server that never added it (a
member's own install) and in the bot's DM. Everything that reaches Discord
is read the way Discord shows it: text between ``||`` bars is hidden only where Discord
hides it (message content, embed descriptions and field values); titles, field names,
footers, button labels, select options, autocomplete choices and the command picker
(names, descriptions, fixed choices) show everything.

What must not show is derived from the pack, not listed here: every spoiler fact's text
(and its distinctive clauses), every spoiler FAQ answer, and the words of the fate
statuses the pack model knows. The same run repeats with a scratch copy of the pack
whose spoiler texts use other words, so the test does not lean on today's wording. A
command that is synced but missing from the plan below fails the test, so a new
feature has to be added here to pass.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import shutil
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import pytest

from bot.datapack import PACK_FILES, DataPack, FateStatus, iter_spoiler_texts, load_data_pack
from bot.i18n import languages, t
from bot.spoilers.repo import add_spoiler_channel
from cogs.characters.roster import paginate_roster
from localdiscord import CommandNotPermitted, Permission
from localdiscord.interactions import InteractionRecord
from localdiscord.state import Channel, Guild, Member, PrivateChannel, User
from tests.support.countdown import tick
from tests.support.harness import Harness
from tests.support.premiere import fan_role_below_bot, grant_bot
from tests.support.spoilers import discord_display
from tests.support.stores import fetch_rows

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
REVEAL_PREFIX = "spoiler:reveal:"
DEFERRED = 5
#: Fragments shorter than this many words are too common to be a spoiler's own words.
MIN_FRAGMENT_WORDS = 3


# ---------------------------------------------------------------------------
# What must not show
# ---------------------------------------------------------------------------


def normalised(text: str) -> str:
    """Text as a reader compares it: markdown escapes and invisible pads gone, case and spaces folded."""
    text = unicodedata.normalize("NFKC", text).replace("\u200b", "")
    text = re.sub(r"\\(.)", r"\1", text)
    return " ".join(text.casefold().split())


def fragments(text: str) -> set[str]:
    """The whole text and each clause of it long enough to be distinctive."""
    clauses = re.split(r"[.;:!?\n•—()\"]+|,? (?:and|but|so) ", text)
    found = {normalised(text)}
    for clause in clauses:
        clause = normalised(clause).strip(" ,")
        if len(clause.split()) >= MIN_FRAGMENT_WORDS:
            found.add(clause)
    return found


def open_pack_texts(pack: DataPack) -> str:
    """Everything the pack itself states openly: a clause found here cannot be a secret."""
    hidden = {text for language in languages() for _, _, text in iter_spoiler_texts(pack, language)}
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if value not in hidden:
                texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(pack.model_dump(mode="json"))
    return "\n".join(normalised(text) for text in texts)


@dataclass(frozen=True)
class Secrets:
    """What the pack hides, as the reader would recognise it."""

    fragments: dict[str, str]  # normalised fragment -> where in the pack it comes from
    status_words: tuple[str, ...]

    @classmethod
    def of(cls, pack: DataPack, locale: str = "en-US") -> Secrets:
        open_text = open_pack_texts(pack)
        found: dict[str, str] = {}
        for where, _label, text in iter_spoiler_texts(pack, locale):
            for fragment in fragments(text):
                if fragment not in open_text:
                    found.setdefault(fragment, where)
        statuses = tuple(status.replace("_", " ") for status in get_args(FateStatus))
        return cls(fragments=found, status_words=statuses)

    def leaks(self, shown: str) -> list[str]:
        text = normalised(shown)
        leaked = [f"{where}: {fragment!r}" for fragment, where in self.fragments.items() if fragment in text]
        leaked += [f"fate status {word!r}" for word in self.status_words if re.search(rf"\b{re.escape(word)}\b", text)]
        return leaked


# ---------------------------------------------------------------------------
# What a reader sees
# ---------------------------------------------------------------------------


def outside_bars(markdown: str) -> str:
    return discord_display(markdown)[0]


def shown_in_message(message: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(place, visible text) for every part of a message body a reader sees without a click."""
    if message.get("content"):
        yield "content", outside_bars(message["content"])
    for embed in message.get("embeds") or []:
        yield "embed title", embed.get("title") or ""
        yield "embed description", outside_bars(embed.get("description") or "")
        yield "embed author", (embed.get("author") or {}).get("name") or ""
        yield "embed footer", (embed.get("footer") or {}).get("text") or ""
        for item in embed.get("fields") or []:
            yield "field name", item["name"]
            yield "field value", outside_bars(item["value"])
    for component in walk_components(message.get("components") or []):
        yield "component label", component.get("label") or ""
        yield "component placeholder", component.get("placeholder") or ""
        for option in component.get("options") or []:
            yield "select option", f"{option.get('label', '')} {option.get('description', '')}"
    poll = message.get("poll")
    if poll:
        yield "poll question", (poll.get("question") or {}).get("text") or ""
        for answer in poll.get("answers") or []:
            yield "poll answer", (answer.get("poll_media") or {}).get("text") or ""


def walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for component in components:
        yield component
        yield from walk_components(component.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from walk_components([component[key]])


@dataclass
class Reading:
    """Every answer collected while a member uses the bot, and what each showed."""

    secrets: Secrets
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (what, place, text)
    problems: list[str] = field(default_factory=list)

    def message(self, what: str, body: dict[str, Any] | None) -> None:
        if body:
            for place, text in shown_in_message(body):
                self.seen.append((what, place, text))

    def record(self, what: str, record: InteractionRecord) -> None:
        assert record.answered, f"{what} was not answered"
        self.message(what, record.data)
        for choice in record.choices:
            self.seen.append((what, "autocomplete choice", choice["name"]))
        for edit in record.original_edits:
            self.message(f"{what} (edited)", edit)
        for followup in record.followups:
            self.message(f"{what} (follow-up)", followup)

    def leaks(self) -> list[str]:
        return self.problems + [
            f"{what} / {place}: {leak} in {text!r}"
            for what, place, text in self.seen
            for leak in self.secrets.leaks(text)
        ]


# ---------------------------------------------------------------------------
# A scratch pack whose secrets use other words
# ---------------------------------------------------------------------------

SCRATCH_WORDS = (
    "amber",
    "lantern",
    "quiver",
    "meadow",
    "copper",
    "violet",
    "harbour",
    "pebble",
    "thistle",
    "orbit",
    "saffron",
    "glacier",
)


def scratch_words(index: int) -> str:
    picked = [SCRATCH_WORDS[(index * 5 + step * 7) % len(SCRATCH_WORDS)] for step in range(6)]
    return f"Scratch {index}: the {picked[0]} {picked[1]} {picked[2]} by the {picked[3]} {picked[4]} {picked[5]}."


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def dump_toml(doc: dict[str, Any]) -> str:
    """Enough TOML for the pack files: top-level keys, [tables] and [[arrays of tables]]."""
    lines = [f"{key} = {toml_value(value)}" for key, value in doc.items() if not isinstance(value, dict | list)]
    lines += [
        f"{key} = {toml_value(value)}"
        for key, value in doc.items()
        if isinstance(value, list) and not all(isinstance(item, dict) for item in value)
    ]
    for key, value in doc.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]", *(f"{k} = {toml_value(v)}" for k, v in value.items())]
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                lines += ["", f"[[{key}]]", *(f"{k} = {toml_value(v)}" for k, v in item.items())]
    return "\n".join(lines) + "\n"


def write_scratch_pack(target: Path) -> DataPack:
    """A copy of the pack with every hidden text replaced by other words (the same text, the same words)."""
    pack = load_data_pack(DATA_DIR)
    replacements: dict[str, str] = {}
    for _, _, text in iter_spoiler_texts(pack):
        replacements.setdefault(text.strip(), scratch_words(len(replacements)))

    def replace(value: Any) -> Any:
        if isinstance(value, str):
            return replacements.get(value.strip(), value)
        if isinstance(value, dict):
            return {key: replace(item) for key, item in value.items()}
        if isinstance(value, list):
            return [replace(item) for item in value]
        return value

    shutil.copytree(DATA_DIR, target)
    for name in PACK_FILES:
        doc = tomllib.loads((DATA_DIR / name).read_text("utf-8"))
        (target / name).write_text(dump_toml(replace(doc)), "utf-8")
    scratch = load_data_pack(target)
    hidden = {text for _, _, text in iter_spoiler_texts(scratch)}
    assert hidden == set(replacements.values()), "every hidden text of the scratch pack uses other words"
    return scratch


# ---------------------------------------------------------------------------
# Every command, every option, every button
# ---------------------------------------------------------------------------


def leaf_commands(commands: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Every synced slash command path ("settings spoilers add") with its options."""
    found: dict[str, list[dict[str, Any]]] = {}

    def visit(path: str, options: list[dict[str, Any]]) -> None:
        subs = [o for o in options if o.get("type") in (1, 2)]
        if not subs:
            found[path] = options
        for sub in subs:
            visit(f"{path} {sub['name']}", sub.get("options") or [])

    for command in commands:
        if command.get("type", 1) == 1:
            visit(command["name"], command.get("options") or [])
    return found


def command_picker_texts(commands: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """What Discord's command picker shows: names, descriptions and fixed choices of every option."""

    def visit(path: str, node: dict[str, Any]) -> Iterator[tuple[str, str]]:
        yield path, f"{node.get('name', '')} {node.get('description', '')}"
        for choice in node.get("choices") or []:
            yield f"{path} choice", choice["name"]
        for option in node.get("options") or []:
            yield from visit(f"{path} {option['name']}", option)

    for command in commands:
        yield from visit(f"/{command['name']}", command)


async def press_every_button(h: Harness, reading: Reading, what: str, record: InteractionRecord) -> None:
    """Press each enabled button of a public answer (not Reveal privately), as another member would."""
    message = record.original
    if message is None or record.ephemeral:
        return
    for component in list(walk_components(message.get("components") or [])):
        custom_id = component.get("custom_id") or ""
        if component.get("type") != 2 or component.get("disabled") or custom_id.startswith(REVEAL_PREFIX):
            continue
        current = h.fake.get_message(int(message["id"])) or message
        pressed = await h.click(h.member, h.general, current, custom_id)
        reading.record(f"{what} → button {component.get('label')!r}", pressed)
        if pressed.original is not None:
            reading.message(f"{what} → button (message)", pressed.original)
    for component in list(walk_components(message.get("components") or [])):
        if component.get("type") == 3 and component.get("options"):
            current = h.fake.get_message(int(message["id"])) or message
            value = component["options"][0]["value"]
            picked = await h.fake.select(
                h.guild, h.general, h.member, current, component["custom_id"], [value], locale=h.locale
            )
            reading.record(f"{what} → select {value!r}", picked)


@dataclass
class Plan:
    """What the run covered, to compare with what is synced."""

    ran: set[str] = field(default_factory=set)  # command paths
    typed: set[tuple[str, str]] = field(default_factory=set)  # (command path, option) autocompleted


def synced_choices(synced: dict[str, list[dict[str, Any]]], path: str, option: str) -> list[Any]:
    """The fixed choices Discord offers for an option, as synced (so a new choice is run too)."""
    found = next(o for o in synced[path] if o["name"] == option)
    return [choice["value"] for choice in found.get("choices") or []]


async def use_everything(h: Harness, pack: DataPack, reading: Reading, synced: dict[str, list[dict[str, Any]]]) -> Plan:
    """Run the plan in #general; returns what it covered."""
    plan = Plan()

    async def run(who: Any, path: str, **options: Any) -> InteractionRecord:
        record = await h.slash(who, h.general, path, **options)
        if record.callback_type == DEFERRED:
            assert await record.wait_followups(1), f"/{path} deferred and never answered"
        what = f"/{path} {options}" if options else f"/{path}"
        reading.record(what, record)
        await press_every_button(h, reading, what, record)
        plan.ran.add(path)
        return record

    async def typed(path: str, option: str, values: list[str], who: Any = None) -> None:
        plan.typed.add((path, option))
        for value in values:
            choices = await h.autocomplete(who or h.member, h.general, path, focused=option, value=value)
            reading.seen.extend((f"/{path} {option}={value!r}", "autocomplete choice", c["name"]) for c in choices)

    names = [name for c in pack.characters for name in (*c.names(), *c.actor_names())]
    await typed("character", "name", ["", *names])
    for character in pack.characters:
        record = await run(h.member, "character", name=character.id)
        returning = character.season_2_spoiler()
        if returning is not None:
            # The rendered status ("Confirmed") answers the fate as well as the note does.
            status = t(f"characters.return_status.{returning.status}", h.locale)
            visible = " ".join(text for _, text in shown_in_message(record.data))
            if re.search(rf"\b{status}\b", visible):
                reading.problems.append(f"/character {character.id}: its season 2 status {status!r} shows")
    await typed("faq", "topic", ["", *(word for entry in pack.faq for word in entry.tr("keywords", h.locale))])
    for entry in pack.faq:
        await run(h.member, "faq", topic=entry.id)
    cast = await run(h.member, "cast")
    reading.problems += roster_sorts_by_fate(pack, await roster_order(h, cast), h.locale)
    for version in synced_choices(synced, "survivors", "version"):
        await run(h.member, "survivors", version=version)
    await run(h.member, "survivors")
    await run(h.member, "countdown")
    await run(h.member, "countdown", history=True)
    await run(h.member, "about")

    for language in synced_choices(synced, "settings language set", "language"):
        await run(h.moderator, "settings language set", language=language)
    await run(h.moderator, "settings language set", language="server")
    await run(h.moderator, "settings language show")
    await run(h.moderator, "settings spoilers add", channel=h.in_category)
    await run(h.moderator, "settings spoilers list")
    await run(h.moderator, "settings spoilers remove", channel=h.in_category)
    await typed("settings countdown set", "timezone", ["", "Asia/Se"], who=h.moderator)
    countdown = {"channel": h.general, "time": "13:00", "timezone": "UTC"}
    for cadence in synced_choices(synced, "settings countdown set", "cadence"):
        for mode in synced_choices(synced, "settings countdown set", "mode"):
            await run(h.moderator, "settings countdown set", cadence=cadence, mode=mode, **countdown)
    for confidence in synced_choices(synced, "release update", "confidence"):
        await run(h.owner, "release update", window="early 2027", confidence=confidence, source="Fan article")
    await run(h.moderator, "settings countdown set", cadence="daily", mode="post", **countdown)
    await run(h.moderator, "settings countdown show")
    await run(h.moderator, "settings countdown event", state="on")  # refused: no Manage Events yet
    await run(h.moderator, "settings countdown notify_role", role=h.guild.everyone)  # refused
    await grant_bot(h, Permission.MANAGE_EVENTS)
    await grant_bot(h, Permission.MANAGE_ROLES)
    await run(h.moderator, "settings countdown event", state="on")
    await run(h.moderator, "settings countdown notify_role", role=await fan_role_below_bot(h))
    await tick(h, dt.timedelta(hours=1))  # the scheduled post
    await run(h.owner, "release update", window="2027-03-14", confidence="rumored", source="A fan forum")
    await tick(h)  # the post that announces the change
    await run(h.member, "countdown")
    await run(h.moderator, "settings countdown off")
    await run(h.moderator, "settings countdown event", state="off")
    await run(h.moderator, "settings countdown notify_role")
    scheduled = [m for m in h.fake.channel_messages(h.general) if "interaction_metadata" not in m]
    assert len(scheduled) >= 2, "the scheduled countdown and the change announcement were posted"

    role = h.guild.add_role("Pollsters", 0)
    await run(h.moderator, "settings polls creator_role", role=role)
    await run(h.moderator, "settings polls creator_role")
    await run(h.member, "poll create", question="Which season 1 episode is best?", options="Episode 1 | Episode 12")
    await run(h.member, "poll create", question="Best scene?", options="The roof | The gym", spoiler=True)
    polls = [str(poll_id) for poll_id in await poll_ids(h)]
    await typed("poll results", "poll", [""])
    await typed("poll close", "poll", [""])
    await typed("poll export", "poll", [""])
    await run(h.member, "poll list")
    for poll_id in polls:
        await run(h.member, "poll results", poll=poll_id)
        await run(h.moderator, "poll export", poll=poll_id)
        await run(h.member, "poll close", poll=poll_id)
    await h.settle()
    for message in h.fake.channel_messages(h.general):
        reading.message(f"message in #general {message.get('id')}", message)
    return plan


async def roster_order(h: Harness, first: InteractionRecord) -> list[str]:
    """The characters /cast lists, page after page in the order shown (ids, read from the names)."""
    assert first.original is not None
    text = embed_fields_text(first.data)  # page 1; the buttons may have turned the message since
    while True:
        message = h.fake.get_message(int(first.original["id"]))
        text += embed_fields_text(message)
        nexts = [
            c for c in walk_components(message.get("components") or []) if c.get("custom_id", "").endswith(":next")
        ]
        if not nexts or nexts[0].get("disabled"):
            break
        await h.click(h.member, h.general, message, nexts[0]["custom_id"])
    names = {f"**{c.tr('name', h.locale)}**": c.id for c in h.bot.pack.characters}
    found = sorted((text.find(name), cid) for name, cid in names.items() if name in text)
    return [cid for _, cid in found]


def embed_fields_text(body: dict[str, Any] | None) -> str:
    return "\n".join(f["value"] for e in (body or {}).get("embeds") or [] for f in e.get("fields") or [])


def roster_sorts_by_fate(pack: DataPack, order: list[str], locale: str | None) -> list[str]:
    """The roster's membership and order must answer no "who survived" (they are shown openly).

    Everyone in the pack is listed (so leaving the dead out fails), the season 1 characters
    listed do not all share one fate, and they are not grouped by fate (survivors first).
    """
    problems = []
    missing = {c.id for c in pack.characters} - set(order)
    if missing:
        problems.append(f"/cast ({locale}) leaves out {sorted(missing)}: who is listed answers who survived")
    fates = [f.status for cid in order if (f := pack.character(cid).series_fate) is not None]
    if len(set(fates)) < 2:
        problems.append(f"/cast ({locale}) lists only characters whose season 1 fate is {set(fates)}")
    changes = sum(1 for a, b in itertools.pairwise(fates) if a != b)
    if len(set(fates)) >= 2 and changes == len(set(fates)) - 1:
        problems.append(f"/cast ({locale}) lists season 1 characters grouped by fate: {fates}")
    return problems


def test_a_roster_of_survivors_only_fails_the_plan() -> None:
    """The check itself: survivors only, or survivors first, answer "who survived"."""
    pack = load_data_pack(DATA_DIR)
    survivors = [e.character for e in pack.survivors.series]
    others = [c.id for c in pack.characters if c.id not in survivors]
    assert roster_sorts_by_fate(pack, survivors, "en-US")
    assert roster_sorts_by_fate(pack, survivors + others, "en-US")
    roster = [
        c.id for page in paginate_roster(pack.characters) for section in page.sections for c in section.characters
    ]
    assert roster_sorts_by_fate(pack, roster, "en-US") == []


async def poll_ids(h: Harness) -> list[int]:
    rows = await fetch_rows(h.bot.store, "SELECT id FROM polls WHERE guild_id = :g ORDER BY id", g=h.guild.id)
    return [int(row.id) for row in rows]


@pytest.mark.parametrize("variant", ["pack as it is", "scratch pack", "in Korean"])
async def test_nothing_shown_without_a_click_states_a_fate(harness: Harness, tmp_path: Path, variant: str) -> None:
    """In Korean: Korean members in a Korean server, and the pack's Korean texts are the secrets."""
    h = harness
    if variant == "scratch pack":
        pack = write_scratch_pack(tmp_path / "scratch")
        await h.restart(data_dir=tmp_path / "scratch")
    else:
        pack = h.bot.pack
    if variant == "in Korean":
        h.locale = "ko"
        h.fake.set_guild_locale(h.guild, "ko")
        await h.settle(0.1)
    assert h.bot.pack == pack
    secrets = Secrets.of(pack, h.locale)
    assert len(secrets.fragments) > 20, "the pack hides something to look for"
    reading = Reading(secrets)

    synced = leaf_commands(h.fake.commands_for(h.guild))
    plan = await use_everything(h, pack, reading, synced)

    for what, text in command_picker_texts(h.fake.commands_for(h.guild)):
        reading.seen.append((what, "command picker", text))
    assert set(synced) - plan.ran == set(), "a command is not in this test's plan: add it to use_everything"
    autocompleted = {(path, o["name"]) for path, options in synced.items() for o in options if o.get("autocomplete")}
    assert autocompleted - plan.typed == set(), "an autocomplete is not typed into: add it to use_everything"
    assert len(reading.seen) > 500
    if variant == "in Korean":
        titles = [
            text for what, place, text in reading.seen if what.startswith("/character") and place == "embed title"
        ]
        assert titles
        no_hangul = {c.name for c in pack.characters if not c.hangul}  # the pack has no Korean name for them
        assert [title for title in titles if not re.search("[가-힣]", title) and title not in no_hangul] == []
    assert reading.leaks() == []


def test_the_reader_model_sees_what_discord_shows() -> None:
    """The checker itself: a fate in a footer or a field name shows, behind bars in a value it does not."""
    pack = load_data_pack(DATA_DIR)
    secrets = Secrets.of(pack)
    fate = pack.character("lee-cheong-san").series_fate
    assert fate is not None
    hidden_value = {"embeds": [{"fields": [{"name": "Fate", "value": f"Spoiler: ||{fate.text}||"}]}]}
    in_footer = {"embeds": [{"footer": {"text": f"||{fate.text}||"}}]}
    heading = {"embeds": [{"fields": [{"name": "Fate unclear", "value": "||Lee Cheong San||"}]}]}
    escaped = {"content": fate.text.replace(" ", " ").replace(".", "\\.")}
    assert not any(secrets.leaks(text) for _, text in shown_in_message(hidden_value))
    assert any(secrets.leaks(text) for _, text in shown_in_message(in_footer))
    assert any(secrets.leaks(text) for _, text in shown_in_message(heading))
    assert any(secrets.leaks(text) for _, text in shown_in_message(escaped))
    # A clause of a hidden text gives it away on its own.
    assert secrets.leaks("Did you know? Left her friends because of her half-zombie condition.")
    assert secrets.leaks("Lee Cheong San is not among the webtoon's survivors.")


# ---------------------------------------------------------------------------
# Where the bot is not a member: a server that never added it, and DMs
# ---------------------------------------------------------------------------


@dataclass
class Elsewhere:
    """A place reached through a member's own install, and who uses the app there."""

    guild: Guild | None
    channel: Channel | PrivateChannel
    who: Member | User
    context: int


async def where_the_bot_is_not_a_member(h: Harness, variant: str) -> Elsewhere:
    if variant == "server without the bot":
        other = h.fake.add_outside_guild("Zombie Drama Club")
        chat = other.add_channel("chat")
        fan = other.add_member(name="visiting-fan")
        h.fake.install_for_user(fan)
        # A spoiler channel the bot kept from when the server had it, and Discord's own flag:
        # neither may open anything while the bot is not a member there.
        await add_spoiler_channel(h.bot.store, guild_id=other.id, channel_id=chat.id, added_by=fan.id, now=h.clock())
        other.set_spoiler_channel(chat)
        return Elsewhere(other, chat, fan, 0)
    fan_user = h.member.user
    h.fake.install_for_user(fan_user)
    return Elsewhere(None, h.fake.open_dm(fan_user), fan_user, 1)


def offered_at(commands: list[dict[str, Any]], context: int) -> set[str]:
    """The commands Discord offers a member's own install in ``context``."""
    return {
        c["name"] for c in commands if context in (c.get("contexts") or []) and 1 in (c.get("integration_types") or [])
    }


async def use_what_is_offered(h: Harness, pack: DataPack, reading: Reading, place: Elsewhere) -> Plan:
    """The plan's commands that Discord offers there, every choice, every button but Reveal privately."""
    plan = Plan()

    async def run(path: str, **options: Any) -> None:
        record = await h.fake.slash(place.guild, place.channel, place.who, path, options or None, locale=h.locale)
        assert record.payload["context"] == place.context
        what = f"/{path} {options}" if options else f"/{path}"
        reading.record(what, record)
        message = record.original
        for component in list(walk_components((message or {}).get("components") or [])):
            custom_id = component.get("custom_id") or ""
            if component.get("type") == 2 and not component.get("disabled") and not custom_id.startswith(REVEAL_PREFIX):
                current = h.fake.get_message(int(message["id"])) or message
                pressed = await h.fake.click(place.guild, place.channel, place.who, current, custom_id, locale=h.locale)
                reading.record(f"{what} → button {component.get('label')!r}", pressed)
        plan.ran.add(path)

    async def typed(path: str, option: str, values: list[str]) -> None:
        plan.typed.add((path, option))
        for value in values:
            choices = await h.fake.autocomplete(
                place.guild, place.channel, place.who, path, option, value, locale=h.locale
            )
            reading.seen.extend((f"/{path} {option}={value!r}", "autocomplete choice", c["name"]) for c in choices)

    await typed("character", "name", ["", *(name for c in pack.characters for name in c.names())])
    for character in pack.characters:
        await run("character", name=character.id)
    await typed("faq", "topic", ["", *(word for entry in pack.faq for word in entry.tr("keywords", h.locale))])
    for entry in pack.faq:
        await run("faq", topic=entry.id)
    await run("cast")
    for version in synced_choices(leaf_commands(h.fake.commands_for(place.guild)), "survivors", "version"):
        await run("survivors", version=version)
    await run("survivors")
    await run("countdown")
    await run("countdown", history=True)
    await run("about")
    return plan


@pytest.mark.parametrize("variant", ["server without the bot", "bot DM in Korean"])
async def test_where_the_bot_is_not_a_member_nothing_shown_without_a_click_states_a_fate(
    harness: Harness, variant: str
) -> None:
    """A member's own install: no spoiler channel exists there, so nothing may open; the
    server commands are not offered at all."""
    h = harness
    if variant.endswith("in Korean"):
        h.locale = "ko"
    place = await where_the_bot_is_not_a_member(h, variant)
    pack = h.bot.pack
    reading = Reading(Secrets.of(pack, h.locale))
    requests_before = len(h.fake.requests)

    plan = await use_what_is_offered(h, pack, reading, place)

    commands = h.fake.commands_for(place.guild)
    offered = offered_at(commands, place.context)
    assert {path.split()[0] for path in plan.ran} == offered, "the plan runs every command offered there"
    synced = leaf_commands(commands)
    for path, options in synced.items():
        if path.split()[0] in offered:
            typed = {o["name"] for o in options if o.get("autocomplete")}
            assert {(path, name) for name in typed} <= plan.typed
            continue
        with pytest.raises(CommandNotPermitted):
            await h.fake.slash(place.guild, place.channel, place.who, path, None, locale=h.locale)
    assert len(reading.seen) > 200
    assert reading.leaks() == []
    await h.settle()
    assert [r.path for r in h.fake.requests[requests_before:] if r.path.startswith("/channels/")] == []
