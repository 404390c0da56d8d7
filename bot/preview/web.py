"""The preview's web page and the small JSON API it talks to, on 127.0.0.1 only.

The page is a Discord client for one person: every command, click and pick goes through
the local Discord exactly as a Discord client's would (the fake builds the interaction
from the commands the bot synced), and what the page shows is what the bot sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import discord
from aiohttp import web

from bot.i18n import LOCALES_DIR
from localdiscord import (
    CommandNotPermitted,
    FakeDiscord,
    FakeDiscordError,
    InteractionRecord,
    InteractionTimeout,
    Permission,
    UnknownCommand,
)
from localdiscord.interactions import MODAL, command_allowed, find_command
from localdiscord.pipeline import foreign_request
from localdiscord.state import NEWS, THREAD_TYPES, Channel, Member, parse_snowflake

from .world import PreviewWorld

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
#: How long the page waits for the bot's first answer before saying it did not respond (Discord: 3 s).
ANSWER_WAIT = 5.0
Json = dict[str, Any]
SNOWFLAKE_OPTIONS = (6, 7, 8, 9)


class PageError(Exception):
    """Something the page shows the person as a notice (never a bot answer)."""


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


def page_id(body: Json, key: str, missing: str) -> int:
    """The id the page sent under ``key`` (a snowflake string, as every id on the page is)."""
    number = parse_snowflake(body.get(key))
    if number is None:
        raise PageError(missing)
    return number


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
            try:
                return web.json_response(await handler(body))
            except PageError as exc:
                return web.json_response({"error": str(exc)}, status=400)
            except FakeDiscordError as exc:
                # What a Discord client would refuse to send, said plainly.
                return web.json_response({"error": str(exc)}, status=400)

        return endpoint

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    def _member(self, body: Json) -> Member:
        member = self.world.guild.members.get(page_id(body, "member", "pick who you are acting as"))
        if member is None or self.world.persona(member.id) is None:
            raise PageError("pick who you are acting as")
        return member

    def _channel(self, body: Json) -> Channel:
        channel = self.world.guild.channels.get(page_id(body, "channel", "pick a channel"))
        if channel is None:
            raise PageError("pick a channel")
        return channel

    def _locale(self, body: Json) -> str:
        locale = str(body.get("locale") or "en-US")
        if locale not in {loc["code"] for loc in client_locales()}:
            raise PageError(f"the bot has no catalog for {locale}")
        return locale

    # -- what the page shows -------------------------------------------------------------

    async def _state(self, body: Json) -> Json:
        guild = self.world.guild
        member = self._member(body) if body.get("member") else self.world.personas[0].member
        channels = [self.world.general, self.world.thread, self.world.spoilers, self.world.announcements]
        usable = []
        for command in self.fake.commands_for(guild):
            allowed = command_allowed(
                command,
                member_permissions=guild.guild_permissions(member),
                override=self.fake.command_overrides.get((guild.id, command["name"])),
                member=member,
            )
            if allowed:
                usable.append(command)
        return {
            "ready": self.fake.gateway.ready.is_set() and bool(self.fake.commands_for(None)),
            "bot": {"id": str(self.fake.bot_user.id), "name": self.fake.bot_user.username},
            "guild": {"id": str(guild.id), "name": guild.name},
            "channels": [
                {
                    "id": str(c.id),
                    "name": c.name,
                    "kind": "thread" if c.type in THREAD_TYPES else "announcements" if c.type == NEWS else "text",
                    "topic": c.topic,
                    "parent": str(c.parent_id) if c.parent_id else None,
                    "last_message_id": str(c.last_message_id) if c.last_message_id else None,
                }
                for c in channels
            ],
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
            "commands": flatten_commands(usable),
            "names": {
                "users": {str(m.id): m.user.global_name or m.user.username for m in guild.members.values()},
                "channels": {str(c.id): c.name for c in guild.channels.values()},
                "roles": {str(r.id): r.name for r in guild.roles.values()},
            },
        }

    async def _messages(self, body: Json) -> Json:
        channel = self._channel(body)
        member = self._member(body)
        return {"messages": self.fake.messages_seen_by(channel.id, member.id)}

    # -- what the person does ---------------------------------------------------------------

    def _typed_options(self, command: str, raw: Any) -> Json:
        """The page sends text; type each value by the option the bot registered."""
        if not isinstance(raw, dict):
            raise PageError("options must be an object")
        _, _, leaf = find_command(self.fake.commands_for(self.world.guild), command)
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
                    typed[name] = page_id(raw, name, f"{name}: {value!r} is not an id")
                else:
                    typed[name] = str(value)
            except ValueError:
                raise PageError(f"{name}: {value!r} is not a number") from None
        return typed

    async def _command(self, body: Json) -> Json:
        channel, member, locale = self._channel(body), self._member(body), self._locale(body)
        command = " ".join(str(body.get("command") or "").removeprefix("/").split())
        try:
            options = self._typed_options(command, body.get("options") or {})
        except UnknownCommand:
            return {"notice": f"There is no /{command} on this server."}
        try:
            record = await self.fake.slash(
                self.world.guild, channel, member, command, options, locale=locale, timeout=ANSWER_WAIT
            )
        except CommandNotPermitted:
            # Not an error of the page: Discord's client simply does not offer the command.
            root = find_command(self.fake.commands_for(self.world.guild), command)[0]
            needed = int(root.get("default_member_permissions") or 0)
            return {
                "notice": f"Discord does not offer /{root['name']} to {member.user.username}: "
                f"it needs {permission_names(needed) or 'a permission they lack'}."
            }
        return self._outcome(record)

    async def _autocomplete(self, body: Json) -> Json:
        channel, member, locale = self._channel(body), self._member(body), self._locale(body)
        command = " ".join(str(body.get("command") or "").split())
        focused = str(body.get("focused") or "")
        options = self._typed_options(command, body.get("options") or {})
        options.pop(focused, None)
        try:
            choices = await self.fake.autocomplete(
                self.world.guild,
                channel,
                member,
                command,
                focused=focused,
                value=str(body.get("value") or ""),
                options=options,
                locale=locale,
                timeout=ANSWER_WAIT,
            )
        except InteractionTimeout:
            return {"choices": [], "notice": "The bot did not answer the autocomplete in time."}
        return {"choices": choices}

    async def _click(self, body: Json) -> Json:
        channel, member, locale = self._channel(body), self._member(body), self._locale(body)
        record = await self.fake.click(
            self.world.guild,
            channel,
            member,
            page_id(body, "message", "that message is gone"),
            str(body.get("custom_id") or ""),
            locale=locale,
            timeout=ANSWER_WAIT,
        )
        return self._outcome(record)

    async def _select(self, body: Json) -> Json:
        channel, member, locale = self._channel(body), self._member(body), self._locale(body)
        values = body.get("values")
        if not isinstance(values, list):
            raise PageError("values must be a list")
        record = await self.fake.select(
            self.world.guild,
            channel,
            member,
            page_id(body, "message", "that message is gone"),
            str(body.get("custom_id") or ""),
            [str(v) for v in values],
            locale=locale,
            timeout=ANSWER_WAIT,
        )
        return self._outcome(record)

    async def _modal(self, body: Json) -> Json:
        channel, member, locale = self._channel(body), self._member(body), self._locale(body)
        opened = self._records.get(page_id(body, "interaction", "that form is no longer open"))
        values = body.get("values")
        if opened is None or not isinstance(values, dict):
            raise PageError("that form is no longer open")
        record = await self.fake.submit_modal(
            self.world.guild,
            channel,
            member,
            opened,
            {str(k): str(v) for k, v in values.items()},
            locale=locale,
            timeout=ANSWER_WAIT,
        )
        return self._outcome(record)

    def _outcome(self, record: InteractionRecord) -> Json:
        """What the person sees next: nothing special, a form to fill, or Discord's own complaint."""
        if not record.answered:
            return {"notice": "The application did not respond."}
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
