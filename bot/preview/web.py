"""The preview's web page and the small JSON API it talks to, on 127.0.0.1 only.

The page is a Discord client for one person: every command, click and pick goes through
the local Discord exactly as a Discord client's would (the fake builds the interaction
from the commands the bot synced), and what the page shows is what the bot sent. The
page's own words (headers, hints, notices) follow the language picked for the client, as
Discord's client does: they are the ``preview.page`` entries of the bot's catalogs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
from aiohttp import web

from bot.i18n import LOCALES_DIR, catalog, language_of, t
from localdiscord import (
    IS_SPOILER_CHANNEL,
    CommandNotPermitted,
    FakeDiscord,
    FakeDiscordError,
    InteractionRecord,
    InteractionTimeout,
    Permission,
    UnknownCommand,
)
from localdiscord.interactions import MODAL, find_command
from localdiscord.pipeline import foreign_request
from localdiscord.state import NEWS, THREAD_TYPES, Channel, Guild, Member, PrivateChannel, User, parse_snowflake

from .world import PreviewWorld

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
#: How long the page waits for the bot's first answer before saying it did not respond (Discord: 3 s).
ANSWER_WAIT = 5.0
Json = dict[str, Any]
SNOWFLAKE_OPTIONS = (6, 7, 8, 9)


#: The catalog entries of the page's own words.
PAGE_WORDS = "preview.page."


class PageError(Exception):
    """Something the page shows the person as a notice (never a bot answer): a ``preview.page`` key."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def text(self, locale: str) -> str:
        return t(PAGE_WORDS + self.key, locale, **self.values)


def page_words(locale: str) -> dict[str, str]:
    """The page's own words in the client's language (templates with ``{name}`` placeholders)."""
    english = catalog("en")
    chosen = catalog(language_of(locale))
    return {
        key.removeprefix(PAGE_WORDS): str(chosen.get(key, value))
        for key, value in english.items()
        if key.startswith(PAGE_WORDS)
    }


def client_locales() -> list[Json]:
    """One Discord client language per catalog the bot has (English now; Korean once it exists)."""
    found = []
    for path in sorted(LOCALES_DIR.glob("*.toml")):
        language = path.stem
        locale = next(
            (loc for loc in discord.Locale if loc.value == language or loc.value.startswith(f"{language}-")), None
        )
        if locale is not None:
            found.append({"code": locale.value, "name": locale.name.replace("_", " ").title()})
    return found


def flatten_commands(commands: list[Json]) -> list[Json]:
    """Every invocable path ("poll create", "settings spoilers add") with its leaf options."""
    found: list[Json] = []

    def walk(node: Json, path: str, root: Json) -> None:
        children = [o for o in node.get("options") or [] if o.get("type") in (1, 2)]
        if not children:
            found.append(
                {
                    "path": path,
                    "root": root["name"],
                    "description": node.get("description", ""),
                    "options": [_option_view(o) for o in node.get("options") or []],
                }
            )
            return
        for child in children:
            walk(child, f"{path} {child['name']}", root)

    for command in commands:
        if command.get("type", 1) == 1:
            walk(command, command["name"], command)
    return sorted(found, key=lambda c: c["path"])


def _option_view(option: Json) -> Json:
    keys = (
        *("name", "description", "type", "required", "autocomplete", "choices", "channel_types"),
        *("min_value", "max_value", "min_length", "max_length"),
    )
    return {k: option[k] for k in keys if k in option}


def permission_names(bits: int) -> str:
    """ "Manage Server" for MANAGE_GUILD, as Discord's client names it."""
    names = {Permission.MANAGE_GUILD: "Manage Server", Permission.MANAGE_MESSAGES: "Manage Messages"}
    return ", ".join(names.get(flag, (flag.name or "").replace("_", " ").title()) for flag in Permission if bits & flag)


def page_id(body: Json, key: str, missing: str, **values: Any) -> int:
    """The id the page sent under ``key`` (a snowflake string, as every id on the page is);
    else the notice ``missing`` (a ``preview.page`` key)."""
    number = parse_snowflake(body.get(key))
    if number is None:
        raise PageError(missing, **values)
    return number


Place = tuple[Guild | None, Channel | PrivateChannel]


class PreviewSite:
    """Serves the page and turns its requests into what a Discord client would send."""

    def __init__(self, fake: FakeDiscord, world: PreviewWorld) -> None:
        self.fake = fake
        self.world = world
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._records: dict[int, InteractionRecord] = {}

    # -- lifecycle --------------------------------------------------------------------

    async def start(self, port: int) -> None:
        """Bind 127.0.0.1 only (``port`` 0 picks a free one); OSError when the port is taken."""
        app = web.Application(middlewares=[self._guard], client_max_size=1024 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR)
        app.router.add_get("/api/state", self._api(self._state))
        app.router.add_get("/api/messages", self._api(self._messages))
        app.router.add_post("/api/command", self._api(self._command))
        app.router.add_post("/api/autocomplete", self._api(self._autocomplete))
        app.router.add_post("/api/click", self._api(self._click))
        app.router.add_post("/api/select", self._api(self._select))
        app.router.add_post("/api/modal", self._api(self._modal))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # -- plumbing ----------------------------------------------------------------------

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Only this machine's browser: a page elsewhere cannot reach the API by DNS rebinding, a fetch or a form post."""
        refused = foreign_request(request, self.port)
        if refused is not None:
            return web.Response(status=403, text=refused)
        if request.method == "POST" and request.content_type != "application/json":
            return web.Response(status=415, text="the API takes application/json")
        response = await handler(request)
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _api(self, handler: Callable[[Json], Awaitable[Json]]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            body: Json = dict(request.query)
            if request.method == "POST":
                try:
                    posted = await request.json()
                except ValueError:
                    return web.json_response({"error": "the request body is not JSON"}, status=400)
                if isinstance(posted, dict):
                    body.update(posted)
            locale = self._known_locale(body)
            try:
                return web.json_response(await handler(body))
            except PageError as exc:
                return web.json_response({"error": exc.text(locale)}, status=400)
            except FakeDiscordError as exc:
                # What a Discord client would refuse to send, said plainly.
                return web.json_response({"error": t(PAGE_WORDS + "refused", locale, reason=str(exc))}, status=400)

        return endpoint

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    def _member(self, body: Json) -> Member:
        """The persona acted as (their member of the preview's first server)."""
        member = self.world.guild.members.get(page_id(body, "member", "pick_member"))
        if member is None or self.world.persona(member.id) is None:
            raise PageError("pick_member")
        return member

    def _place(self, body: Json, member: Member) -> Place:
        """The server (None: a DM) and the channel the page is in; a DM only the persona's own."""
        channel_id = page_id(body, "channel", "pick_channel")
        for guild in (self.world.guild, self.world.club):
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return guild, channel
        dm = self.world.dms.get(member.id)
        if dm is not None and dm.id == channel_id:
            return None, dm
        raise PageError("pick_channel")

    def _where(self, body: Json) -> tuple[Guild | None, Channel | PrivateChannel, Member | User, str]:
        """Where, as whom (their member of that server, or their user in a DM) and in which language."""
        member = self._member(body)
        guild, channel = self._place(body, member)
        actor: Member | User = guild.members[member.id] if guild is not None else member.user
        return guild, channel, actor, self._locale(body)

    @staticmethod
    def _known_locale(body: Json) -> str:
        locale = str(body.get("locale") or "en-US")
        return locale if locale in {loc["code"] for loc in client_locales()} else "en-US"

    def _locale(self, body: Json) -> str:
        locale = str(body.get("locale") or "en-US")
        if locale not in {loc["code"] for loc in client_locales()}:
            raise PageError("no_catalog", locale=locale)
        return locale

    # -- what the page shows -------------------------------------------------------------

    @staticmethod
    def _channel_view(channel: Channel | PrivateChannel, name: str) -> Json:
        if isinstance(channel, PrivateChannel):
            kind = "dm"
        else:
            kind = "thread" if channel.type in THREAD_TYPES else "announcements" if channel.type == NEWS else "text"
        return {
            "id": str(channel.id),
            "name": name,
            "kind": kind,
            "topic": getattr(channel, "topic", None),
            "parent": str(channel.parent_id) if isinstance(channel, Channel) and channel.parent_id else None,
            "last_message_id": str(channel.last_message_id) if channel.last_message_id else None,
            "spoiler_channel": isinstance(channel, Channel) and bool(channel.flags & IS_SPOILER_CHANNEL) and not channel.nsfw,
        }

    async def _state(self, body: Json) -> Json:
        guild = self.world.guild
        member = self._member(body) if body.get("member") else self.world.personas[0].member
        locale = self._known_locale(body)
        try:
            place_guild, place = self._place(body, member) if body.get("channel") else (guild, self.world.general)
        except PageError:
            place_guild, place = guild, self.world.general
        actor: Member | User = place_guild.members[member.id] if place_guild is not None else member.user
        usable = [
            command
            for command in self.fake.commands_for(place_guild)
            if self.fake.offers(place_guild, place, actor, command) is None
        ]
        dm = self.world.dms[member.id]
        words = page_words(locale)
        places = [
            {
                "id": str(guild.id),
                "name": guild.name,
                "installed": True,
                "channels": [
                    self._channel_view(c, c.name)
                    for c in (
                        self.world.general,
                        self.world.thread,
                        self.world.spoilers,
                        self.world.announcements,
                        self.world.spoiler_room,
                    )
                ],
            },
            {
                "id": str(self.world.club.id),
                "name": self.world.club.name,
                "installed": False,
                "channels": [self._channel_view(self.world.club_chat, self.world.club_chat.name)],
            },
            {
                "id": "dms",
                "name": words["direct_messages"],
                "installed": True,
                "channels": [self._channel_view(dm, self.fake.bot_user.username)],
            },
        ]
        everyone = {**self.world.club.members, **guild.members}
        channels = {**self.world.club.channels, **guild.channels}
        return {
            "ready": self.fake.gateway.ready.is_set() and bool(self.fake.commands_for(None)),
            "bot": {"id": str(self.fake.bot_user.id), "name": self.fake.bot_user.username},
            "guild": {"id": str(guild.id), "name": guild.name},
            "places": places,
            "channels": places[0]["channels"],
            "members": [
                {
                    "id": str(p.member.id),
                    "key": p.key,
                    "name": p.label,
                    "about": p.about,
                    "roles": [guild.roles[r].name for r in p.member.roles if r in guild.roles],
                }
                for p in self.world.personas
            ],
            # The server's Events list, as Discord's client shows it: name, start, place, who is interested.
            "events": [
                {
                    "id": str(e.id),
                    "name": e.name,
                    "start": e.start.isoformat(),
                    "location": e.location,
                    "interested": len(e.interested),
                }
                for e in sorted(guild.scheduled_events.values(), key=lambda e: e.start)
            ],
            "locales": client_locales(),
            "words": words,
            "commands": flatten_commands(usable),
            "names": {
                "users": {str(m.id): m.user.global_name or m.user.username for m in everyone.values()},
                "channels": {str(c.id): c.name for c in channels.values()},
                "roles": {str(r.id): r.name for r in guild.roles.values()},
            },
        }

    async def _messages(self, body: Json) -> Json:
        member = self._member(body)
        _, channel = self._place(body, member)
        return {"messages": self.fake.messages_seen_by(channel.id, member.id)}

    # -- what the person does ---------------------------------------------------------------

    def _typed_options(self, guild: Guild | None, command: str, raw: Any) -> Json:
        """The page sends text; type each value by the option the bot registered."""
        if not isinstance(raw, dict):
            raise PageError("bad_options")
        _, _, leaf = find_command(self.fake.commands_for(guild), command)
        schemas = {o["name"]: o for o in leaf}
        typed: Json = {}
        for name, value in raw.items():
            schema = schemas.get(name)
            if schema is None or value in (None, ""):
                continue
            kind = schema["type"]
            try:
                if kind == 4:
                    typed[name] = int(str(value))
                elif kind == 10:
                    typed[name] = float(str(value))
                elif kind == 5:
                    typed[name] = value if isinstance(value, bool) else str(value).lower() == "true"
                elif kind in SNOWFLAKE_OPTIONS:
                    typed[name] = page_id(raw, name, "not_an_id", option=name, value=repr(value))
                else:
                    typed[name] = str(value)
            except ValueError:
                raise PageError("not_a_number", option=name, value=repr(value)) from None
        return typed

    async def _command(self, body: Json) -> Json:
        guild, channel, actor, locale = self._where(body)
        command = " ".join(str(body.get("command") or "").removeprefix("/").split())
        try:
            options = self._typed_options(guild, command, body.get("options") or {})
        except UnknownCommand:
            key = "no_command_here" if guild is not None else "no_command_dm"
            return {"notice": t(PAGE_WORDS + key, locale, command=command)}
        try:
            record = await self.fake.slash(guild, channel, actor, command, options, locale=locale, timeout=ANSWER_WAIT)
        except CommandNotPermitted as refused:
            # Not an error of the page: Discord's client simply does not offer the command.
            return {"notice": self._not_offered(guild, command, actor, refused, locale)}
        return self._outcome(record, locale)

    def _not_offered(
        self, guild: Guild | None, command: str, actor: Member | User, refused: CommandNotPermitted, locale: str
    ) -> str:
        root = find_command(self.fake.commands_for(guild), command)[0]
        name = (actor.user if isinstance(actor, Member) else actor).username
        if refused.reason == "context":
            return t(PAGE_WORDS + "not_offered_here", locale, command=root["name"])
        if refused.reason == "install":
            return t(PAGE_WORDS + "not_offered_install", locale, command=root["name"], member=name)
        needed = int(root.get("default_member_permissions") or 0)
        return t(
            PAGE_WORDS + "not_offered_permission",
            locale,
            command=root["name"],
            member=name,
            permissions=permission_names(needed) or "-",
        )

    async def _autocomplete(self, body: Json) -> Json:
        guild, channel, actor, locale = self._where(body)
        command = " ".join(str(body.get("command") or "").split())
        focused = str(body.get("focused") or "")
        options = self._typed_options(guild, command, body.get("options") or {})
        options.pop(focused, None)
        try:
            choices = await self.fake.autocomplete(
                guild,
                channel,
                actor,
                command,
                focused=focused,
                value=str(body.get("value") or ""),
                options=options,
                locale=locale,
                timeout=ANSWER_WAIT,
            )
        except InteractionTimeout:
            return {"choices": [], "notice": t(PAGE_WORDS + "autocomplete_late", locale)}
        return {"choices": choices}

    async def _click(self, body: Json) -> Json:
        guild, channel, actor, locale = self._where(body)
        record = await self.fake.click(
            guild,
            channel,
            actor,
            page_id(body, "message", "message_gone"),
            str(body.get("custom_id") or ""),
            locale=locale,
            timeout=ANSWER_WAIT,
        )
        return self._outcome(record, locale)

    async def _select(self, body: Json) -> Json:
        guild, channel, actor, locale = self._where(body)
        values = body.get("values")
        if not isinstance(values, list):
            raise PageError("bad_values")
        record = await self.fake.select(
            guild,
            channel,
            actor,
            page_id(body, "message", "message_gone"),
            str(body.get("custom_id") or ""),
            [str(v) for v in values],
            locale=locale,
            timeout=ANSWER_WAIT,
        )
        return self._outcome(record, locale)

    async def _modal(self, body: Json) -> Json:
        guild, channel, actor, locale = self._where(body)
        opened = self._records.get(page_id(body, "interaction", "form_closed"))
        values = body.get("values")
        if opened is None or not isinstance(values, dict):
            raise PageError("form_closed")
        record = await self.fake.submit_modal(
            guild,
            channel,
            actor,
            opened,
            {str(k): str(v) for k, v in values.items()},
            locale=locale,
            timeout=ANSWER_WAIT,
        )
        return self._outcome(record, locale)

    def _outcome(self, record: InteractionRecord, locale: str) -> Json:
        """What the person sees next: nothing special, a form to fill, or Discord's own complaint."""
        if not record.answered:
            return {"notice": t(PAGE_WORDS + "no_response", locale)}
        if record.callback_type == MODAL:
            self._records[record.id] = record
            return {"modal": record.data, "interaction": str(record.id)}
        return {"ok": True}


async def wait_for_bot(fake: FakeDiscord, within: float) -> bool:
    """True once the bot identified and synced its commands (the page can offer them)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if fake.gateway.ready.is_set() and fake.commands_for(None):
            return True
        await asyncio.sleep(0.1)
    return False
