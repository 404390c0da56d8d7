"""A fake Discord (REST ``/api/v10`` + gateway) for driving a real discord.py 2.7 bot.

The bot runs in the test's event loop and talks HTTP/websocket to 127.0.0.1;
nothing inside discord.py is mocked.  What it meets is what discord.py's own
source (gateway.py, http.py, state.py, interactions.py, webhook/async_.py)
parses, and every request is checked against Discord's rules so a bot that
passes here is not relying on leniency Discord lacks.

Start and aim the bot::

    fake = FakeDiscord(spec_path)             # Discord's OpenAPI spec to validate against; None (default): no validation
    await fake.start()                        # fake.api_base_url, fake.gateway_url, fake.token
    restore = point_discord_py_at(fake)       # sets Route.BASE and DEFAULT_GATEWAY (undo with restore())
    ... run the bot with fake.token ...
    await fake.wait_ready(timeout=5)          # IDENTIFY/RESUME done, all GUILD_CREATEs sent
    await fake.close()

World (plain dataclasses, see :mod:`.state`)::

    g = fake.add_guild(name, owner_id=None)   # @everyone role id == guild id, no manage_guild; bot member + bot role
    role = g.add_role(name, permissions)      # Permission flags in .permissions
    ch = g.add_channel(name, type=0, parent_id=None, overwrites=[])  # 0 text, 2 voice, 4 category, 5 news, 15 forum
    th = g.add_thread(name, parent_id)
    m = g.add_member(user_id=None, name="alice", roles=[role])
    g.set_bot_overwrite(ch, allow=0, deny=Permission.SEND_MESSAGES)   # per-channel bot permissions
    g.set_overwrite(ch, role_or_member, allow=..., deny=...)
    fake.remove_guild(g)                      # GUILD_DELETE
    fake.rejoin_guild(g)                      # GUILD_CREATE: added back
    await fake.delete_channel(ch)             # CHANNEL_DELETE / THREAD_DELETE
    fake.bot_user (id, username), fake.application_id

Gateway: ``await fake.dispatch(event, data)``; ``fake.identify_payloads`` (intents in each);
``fake.identify_count``; ``fake.resume_count``; ``await fake.drop_gateway(code=4000)`` (bot
RESUMEs at ``resume_gateway_url``, missed events replayed); ``await fake.invalidate_session()``
(op 9, fresh IDENTIFY; discord.py sleeps 5 s first unless ``skip_identify_delay(client)``);
``await fake.request_reconnect()`` (op 7); ``fake.gateway.heartbeat_interval_ms`` (HELLO's interval;
heartbeats are ACKed one short round trip later, as on Discord).  Events the bot's intents
do not cover (MESSAGE_CREATE without GUILD_MESSAGES, ...) are not sent, as on Discord.

Shards: ``fake.recommended_shards`` and ``fake.max_concurrency`` (GET /gateway/bot, both 1 by
default); ``fake.add_guild(name, shard=(1, 2))`` mints a guild id on shard 1 of 2. IDENTIFY's
``shard: [id, count]`` opens that shard's session (``fake.gateway.sessions[id]``): READY and
GUILD_CREATE carry only its guilds, each guild's events and interactions go to its shard,
events of no guild to shard 0. A bad shard is closed with 4010; more than
``fake.max_guilds_per_shard`` guilds (2,500, as Discord; None: no limit) with 4011.
``drop_gateway(shard_id=1)`` drops one shard; a client closing with 1000/1001 ends its session.

Interactions (built from the commands the bot synced; global + that guild's)::

    rec = await fake.slash(g, ch, member, "settings spoilers add", options={"channel": ch}, locale="en-US")
    choices = await fake.autocomplete(g, ch, member, "character", focused="name", value="che", options={})
    rec = await fake.click(g, ch, member, message, custom_id)
    rec = await fake.select(g, ch, member, message, custom_id, values=["a"])
    rec = await fake.submit_modal(g, ch, member, modal_record, {"field_custom_id": "text"})
    rec = await fake.slash(..., wait=False)   # non-waiting; or fake.dispatch_interaction(raw_payload)
    await rec.wait_acknowledged(timeout) / rec.wait_followups(n) / rec.wait_edits(n)   # -> bool

``InteractionRecord``: ``payload``, ``callback`` (type + data), ``callback_type``, ``content``,
``embeds``, ``components``, ``choices``, ``attachments``, ``flags``, ``ephemeral``, ``original``
(current message dict), ``original_edits``, ``followups``, ``rejected_callbacks`` ((status, code)),
``dispatched_at``/``acknowledged_at`` (perf_counter), ``latency``, ``answered``, ``age(seconds)``.
Discord's rules apply: one initial callback (then 400/40060), 3 s to answer (``fake.interaction_timeout``;
then 404/10062), webhook token valid 15 min, ``default_member_permissions`` enforced
(:class:`CommandNotPermitted`; loosen with ``fake.override_command_permissions(g, "settings",
allow_everyone=True)``).

Where people use the app (interaction ``context``, ``authorizing_integration_owners`` and
``app_permissions`` as Discord sends them)::

    fake.install_for_user(member)                       # the member adds the app to their account
    other = fake.add_outside_guild("Other Fans")        # a server that never added the app
    rec = await fake.slash(other, ch, someone, "character", {"name": "onjo"})   # owners {"1": user}
    dm = fake.open_dm(member)                           # the bot's DM (context 1); open_dm(a, b): context 2
    group = fake.open_group_dm("watch party", a, b)     # context 2
    rec = await fake.slash(None, dm, member.user, "countdown")

A command is refused (:class:`CommandNotPermitted`) where its ``contexts`` or ``integration_types``
do not allow it; in an outside server a member without Use External Apps gets every answer ephemeral
(``rec.forced_ephemeral``); the bot may not read or post in an outside server's channels or in others'
DMs (403/50001). ``guild.set_spoiler_channel(ch)`` / ``guild.set_channel_flags(ch, flags)`` change a
channel's ``flags`` (CHANNEL_UPDATE).

REST state and recording: ``fake.channel_messages(channel_id)``, ``fake.get_message(id)``,
``fake.messages_seen_by(channel_id, user_id)`` (the channel plus that person's ephemeral answers),
``fake.deleted_messages``, ``await fake.user_sends_message(ch, member, text)``,
``await fake.user_deletes_message(channel_id, message_id)``, ``fake.commands``,
``fake.command_syncs`` ([(guild_id|None, payload)]), ``fake.requests`` ([RequestRecord(method,
path, body, status, time)]), ``fake.unhandled`` (routes the fake does not know: 404),
``fake.violations`` (limit and OpenAPI failures, each also answered 400/50035), ``fake.uploads``.

Discord behaviours worth knowing: a nonce sent with ``enforce_nonce`` (discord.py always adds it)
returns the first message instead of posting twice; without the GUILD_MEMBERS intent GUILD_CREATE
carries only the bot's member; without MESSAGE_CONTENT other people's messages arrive blank;
categories and forums refuse messages (50008) and commands; ``fake.check_own_responses = True``
validates the fake's own replies against the spec (``fake.own_response_problems``).

Faults: ``fake.inject(method, path_regex, status=429, retry_after=0.2, global_=False, times=1,
via=True)`` (also 5xx), ``fake.global_rate_limit(per_second=50)``, ``fake.set_bucket_limit(...)``,
``fake.rate_limit_hits`` (429s sent).

``tests/support/bare_bot.py`` holds a minimal discord.py bot (``/ping`` + a persistent ``bare:ack:<n>`` button)
with ``run_bare_bot(fake)`` / ``stop_bare_bot(bot, task)``.
"""

from .gateway import IDENTIFY_INTERVAL
from .interactions import (
    CommandNotPermitted,
    FakeDiscordError,
    InteractionRecord,
    InteractionTimeout,
    InvalidOptions,
    UnknownCommand,
    Upload,
)
from .limits import Violation, check_commands, check_interaction_callback, check_message
from .openapi import OpenApiValidator
from .permissions import ALL_PERMISSIONS, DEFAULT_BOT_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, Overwrite, Permission
from .pipeline import RequestRecord
from .server import FakeDiscord, point_discord_py_at, skip_identify_delay, wait_until
from .state import (
    CATEGORY,
    FORUM,
    IS_SPOILER_CHANNEL,
    NEWS,
    PUBLIC_THREAD,
    TEXT,
    VOICE,
    Channel,
    Guild,
    Member,
    PrivateChannel,
    Role,
    User,
)

__all__ = [
    "ALL_PERMISSIONS",
    "CATEGORY",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "FORUM",
    "IDENTIFY_INTERVAL",
    "IS_SPOILER_CHANNEL",
    "NEWS",
    "PUBLIC_THREAD",
    "TEXT",
    "VOICE",
    "Channel",
    "CommandNotPermitted",
    "FakeDiscord",
    "FakeDiscordError",
    "Guild",
    "InteractionRecord",
    "InteractionTimeout",
    "InvalidOptions",
    "Member",
    "OpenApiValidator",
    "Overwrite",
    "Permission",
    "PrivateChannel",
    "RequestRecord",
    "Role",
    "UnknownCommand",
    "Upload",
    "User",
    "Violation",
    "check_commands",
    "check_interaction_callback",
    "check_message",
    "point_discord_py_at",
    "skip_identify_delay",
    "wait_until",
]
