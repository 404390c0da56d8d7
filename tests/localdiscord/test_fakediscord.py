"""The fake Discord itself, driven by a real discord.py bot (the bare bot).

Each test tells one story of what a bot meets on Discord: logging in, syncing
commands, answering /ping, being refused for breaking a rule, surviving a
429, a 500 or a dropped gateway.  The fake must behave like Discord in each,
otherwise the project's bot tests built on it prove nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands

from localdiscord import (
    CommandNotPermitted,
    FakeDiscord,
    Guild,
    InvalidOptions,
    OpenApiValidator,
    Permission,
    UnknownCommand,
    Upload,
    check_commands,
    check_interaction_callback,
    check_message,
    point_discord_py_at,
    skip_identify_delay,
    wait_until,
)
from localdiscord.state import Channel, Member
from tests.support.bare_bot import ANSWER_TEXT, PING_EMBED, BareBot, run_bare_bot, stop_bare_bot
from tests.support.harness import OPENAPI_SPEC

SPEC_PRESENT = OPENAPI_SPEC is not None
needs_spec = pytest.mark.skipif(not SPEC_PRESENT, reason="shared/discord-openapi.json is absent")


class World:
    """A guild with a text channel, a plain member, an admin and the owner."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.guild: Guild = fake.add_guild("Hyosan High")
        self.channel: Channel = self.guild.add_channel("general")
        self.member: Member = self.guild.add_member(name="onjo")
        admin_role = self.guild.add_role("Admin", Permission.ADMINISTRATOR)
        self.admin: Member = self.guild.add_member(name="namra", roles=[admin_role])
        self.owner: Member = self.guild.members[self.guild.owner_id]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake; a test that provoked violations on purpose clears them."""
    server = FakeDiscord(OPENAPI_SPEC)
    await server.start()
    restore = point_discord_py_at(server)
    try:
        yield server
    finally:
        restore()
        await server.close()
    assert server.violations == [], server.violations
    assert server.unhandled == [], server.unhandled


@pytest_asyncio.fixture
async def world(fake: FakeDiscord) -> World:
    return World(fake)


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, commands: Iterable[Any] = ()) -> AsyncIterator[BareBot]:
    """A ready bare bot (plus scenario commands), closed afterwards."""
    bot, task = await run_bare_bot(fake, extra_commands=commands)
    try:
        yield bot
    finally:
        await stop_bare_bot(bot, task)


def command(name: str, callback: Callable[..., Any], **kwargs: Any) -> app_commands.Command[Any, ..., Any]:
    """Build a scenario command for the bare bot."""
    return app_commands.Command(name=name, description=f"test command {name}", callback=callback, **kwargs)


# -- login, READY, sync --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_bot_logs_in_identifies_and_sees_its_guild(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        assert fake.requests[0][:2] == ("GET", "/users/@me")
        assert ("GET", "/oauth2/applications/@me") in [r[:2] for r in fake.requests]
        assert fake.identify_count == 1
        assert fake.identify_payloads[0]["intents"] == discord.Intents(guilds=True).value
        assert bot.user is not None
        assert bot.user.id == fake.bot_user.id
        assert bot.application_id == fake.application_id
        guild = bot.get_guild(world.guild.id)
        assert guild is not None
        assert not guild.unavailable
        assert guild.get_channel(world.channel.id) is not None
        assert guild.me is not None
        assert guild.me.guild_permissions.send_messages
        assert not guild.default_role.permissions.manage_guild


@pytest.mark.asyncio
async def test_command_sync_is_a_recorded_put_of_valid_commands(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake):
        assert len(fake.command_syncs) == 1
        scope, payload = fake.command_syncs[0]
        assert scope is None
        assert [c["name"] for c in payload] == ["ping"]
        assert check_commands(payload, global_=True) == []
        assert fake.commands[None][0]["application_id"] == str(fake.application_id)


@pytest.mark.asyncio
async def test_every_json_reply_has_exactly_application_json(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base_url}/users/@me", headers=headers) as ok:
            assert ok.status == 200
            assert ok.headers["Content-Type"] == "application/json"
            assert "X-RateLimit-Bucket" in ok.headers
        async with session.get(f"{fake.api_base_url}/users/@me", headers={"Authorization": "Bot wrong"}) as denied:
            assert denied.status == 401
            assert denied.headers["Content-Type"] == "application/json"
        async with session.get(f"{fake.api_base_url}/voice/regions", headers=headers) as unknown:
            assert unknown.status == 404
            assert (await unknown.json())["message"] == "404: Not Found"
    assert fake.unhandled == ["GET /voice/regions"]
    fake.unhandled.clear()


@pytest.mark.asyncio
async def test_a_wrong_token_fails_login(fake: FakeDiscord) -> None:
    bot = BareBot()
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()


# -- /ping and Discord's interaction rules ----------------------------------------------------


@pytest.mark.asyncio
async def test_ping_answers_the_fixed_embed_with_a_button(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake):
        record = await fake.slash(world.guild, world.channel, world.member, "ping")
        assert record.answered
        assert record.callback_type == 4
        assert record.embeds[0]["title"] == PING_EMBED["title"]
        assert not record.ephemeral
        assert record.latency is not None
        assert record.latency < 1.0
        button = record.components[0]["components"][0]
        assert button["custom_id"] == "bare:ack:1"
        assert fake.channel_messages(world.channel.id) == [record.original]


@pytest.mark.asyncio
async def test_a_second_callback_is_refused_with_40060(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake):
        record = await fake.slash(world.guild, world.channel, world.member, "ping")
        url = f"{fake.api_base_url}/interactions/{record.id}/{record.token}/callback"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"type": 4, "data": {"content": "again"}}) as resp,
        ):
            assert resp.status == 400
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["code"] == 40060
        assert record.rejected_callbacks == [(400, 40060)]
        assert record.embeds[0]["title"] == "Pong"


@pytest.mark.asyncio
async def test_a_callback_after_three_seconds_is_an_unknown_interaction(fake: FakeDiscord, world: World) -> None:
    fake.interaction_timeout = 0.0  # every callback arrives "after 3 s"
    async with running_bot(fake) as bot:
        record = await fake.slash(world.guild, world.channel, world.member, "ping", wait=False)
        assert await wait_until(lambda: bool(record.rejected_callbacks))
        assert not record.answered
        assert record.rejected_callbacks == [(404, 10062)]
        assert await wait_until(lambda: bool(bot.command_errors))
        cause = bot.command_errors[0].__cause__
        assert isinstance(cause, discord.NotFound)
        assert cause.code == 10062


@pytest.mark.asyncio
async def test_deferred_then_edit_original_and_follow_up(fake: FakeDiscord, world: World) -> None:
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content="done")
        await interaction.followup.send("and one more thing", ephemeral=True)

    async with running_bot(fake, [command("slow", slow)]):
        record = await fake.slash(world.guild, world.channel, world.member, "slow")
        assert record.callback_type == 5
        assert record.ephemeral
        assert await record.wait_edits(1)
        assert await record.wait_followups(1)
        assert record.original is not None
        assert record.original["content"] == "done"
        assert not record.original["flags"] & (1 << 7), "editing clears the loading flag"
        assert record.followups[0]["content"] == "and one more thing"
        assert fake.channel_messages(world.channel.id) == [], "ephemeral messages are not in the channel"


@pytest.mark.asyncio
async def test_the_first_follow_up_after_a_deferral_replaces_the_thinking_message(
    fake: FakeDiscord, world: World
) -> None:
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("the answer")
        await interaction.followup.send("a second message")

    async with running_bot(fake, [command("slow", slow)]):
        record = await fake.slash(world.guild, world.channel, world.member, "slow")
        assert await record.wait_followups(2)
    shown = fake.channel_messages(world.channel.id)
    assert [m["content"] for m in shown] == ["the answer", "a second message"]
    assert record.original is not None
    assert shown[0]["id"] == record.original["id"]
    assert not shown[0]["flags"] & (1 << 7), "no longer thinking"
    assert shown[0]["edited_timestamp"] is None


@pytest.mark.asyncio
async def test_clicking_the_persistent_button_is_acknowledged_with_a_deferred_update(
    fake: FakeDiscord, world: World
) -> None:
    async with running_bot(fake) as bot:
        ping = await fake.slash(world.guild, world.channel, world.member, "ping")
        assert ping.original is not None
        click = await fake.click(world.guild, world.channel, world.member, ping.original, "bare:ack:1")
        assert click.callback == {"type": 6}
        assert bot.acks == [1]
        assert click.payload["message"]["id"] == ping.original["id"]


@pytest.mark.asyncio
async def test_the_second_button_answers_privately_as_a_vote_does(fake: FakeDiscord, world: World) -> None:
    """The benchmark's floor for a vote: the bare bot's private answer, acks untouched."""
    async with running_bot(fake) as bot:
        ping = await fake.slash(world.guild, world.channel, world.member, "ping")
        assert ping.original is not None
        ids = [button["custom_id"] for button in ping.original["components"][0]["components"]]
        assert ids == ["bare:ack:1", "bare:answer:1"]
        click = await fake.click(world.guild, world.channel, world.member, ping.original, "bare:answer:1")
        assert click.callback_type == 4
        assert click.ephemeral
        assert click.content == ANSWER_TEXT
        assert bot.acks == []


@pytest.mark.asyncio
async def test_clicks_survive_a_bot_restart(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake):
        ping = await fake.slash(world.guild, world.channel, world.member, "ping")
    async with running_bot(fake) as fresh:
        click = await fake.click(world.guild, world.channel, world.member, int(ping.original["id"]), "bare:ack:1")  # type: ignore[index]
        assert click.answered
        assert fresh.acks == [1]


@pytest.mark.asyncio
async def test_many_interactions_can_be_fired_at_once(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake):
        records = [await fake.slash(world.guild, world.channel, world.member, "ping", wait=False) for _ in range(20)]
        answered = await asyncio.gather(*(r.wait_acknowledged() for r in records))
        assert all(answered)
        assert all(r.acknowledged_at is not None and r.acknowledged_at >= r.dispatched_at for r in records)


# -- options, autocomplete, subcommands --------------------------------------------------------


@pytest.mark.asyncio
async def test_subcommand_options_are_typed_and_resolved(fake: FakeDiscord, world: World) -> None:
    settings = app_commands.Group(name="settings", description="Server settings")
    spoilers = app_commands.Group(name="spoilers", description="Spoiler channels", parent=settings)
    seen: dict[str, Any] = {}

    @spoilers.command(name="add", description="Allow spoilers in a channel")
    async def add(
        interaction: discord.Interaction, channel: discord.TextChannel, hours: int, loud: bool = False
    ) -> None:
        seen.update(channel=channel, hours=hours, loud=loud)
        await interaction.response.send_message(f"spoilers allowed in {channel.mention}", ephemeral=True)

    spoiler_room = world.guild.add_channel("spoilers")
    async with running_bot(fake, [settings]):
        record = await fake.slash(
            world.guild, world.channel, world.admin, "settings spoilers add", {"channel": spoiler_room, "hours": 3}
        )
        assert record.content == f"spoilers allowed in <#{spoiler_room.id}>"
        assert seen["channel"].id == spoiler_room.id
        assert seen["hours"] == 3
        assert seen["loud"] is False
        data = record.payload["data"]
        assert data["options"][0]["options"][0]["name"] == "add"
        assert str(spoiler_room.id) in data["resolved"]["channels"]
        with pytest.raises(InvalidOptions):
            await fake.slash(
                world.guild,
                world.channel,
                world.admin,
                "settings spoilers add",
                {"channel": spoiler_room, "hours": "3"},
            )
        with pytest.raises(UnknownCommand):
            await fake.slash(world.guild, world.channel, world.admin, "settings spoilers remove")


@pytest.mark.asyncio
async def test_autocomplete_returns_the_bots_choices(fake: FakeDiscord, world: World) -> None:
    names = ["Cheong-san", "On-jo", "Nam-ra", "Su-hyeok"]

    async def who(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n.lower()]

    cmd = command("character", who)
    cmd.autocomplete("name")(suggest)
    async with running_bot(fake, [cmd]):
        choices = await fake.autocomplete(
            world.guild, world.channel, world.member, "character", focused="name", value="che"
        )
        assert choices == [{"name": "Cheong-san", "value": "Cheong-san"}]


# -- permissions ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_default_member_permissions_hide_admin_commands_until_overridden(fake: FakeDiscord, world: World) -> None:
    async def purge(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("purged", ephemeral=True)

    guarded = app_commands.default_permissions(manage_guild=True)(command("purge", purge))
    guarded = app_commands.checks.has_permissions(manage_guild=True)(guarded)  # the bot's own guard

    async with running_bot(fake, [guarded]) as bot:
        with pytest.raises(CommandNotPermitted):
            await fake.slash(world.guild, world.channel, world.member, "purge")
        assert (await fake.slash(world.guild, world.channel, world.admin, "purge")).answered
        assert (await fake.slash(world.guild, world.channel, world.owner, "purge")).answered

        fake.override_command_permissions(world.guild, "purge", allow_everyone=True)
        record = await fake.slash(world.guild, world.channel, world.member, "purge", wait=False)
        assert await wait_until(lambda: len(bot.command_errors) == 1)
        assert not record.answered, "the bot's own check must refuse"
        assert isinstance(bot.command_errors[-1], app_commands.MissingPermissions)


@pytest.mark.asyncio
async def test_channel_messages_check_the_bots_permissions(fake: FakeDiscord, world: World) -> None:
    muted = world.guild.add_channel("announcements")
    hidden = world.guild.add_channel("staff")
    world.guild.set_bot_overwrite(muted, deny=Permission.SEND_MESSAGES)
    world.guild.set_bot_overwrite(hidden, deny=Permission.VIEW_CHANNEL)
    async with running_bot(fake) as bot:
        sent = await bot.get_partial_messageable(world.channel.id).send("hello")
        assert [m["id"] for m in fake.channel_messages(world.channel.id)] == [str(sent.id)]
        with pytest.raises(discord.Forbidden) as no_send:
            await bot.get_partial_messageable(muted.id).send("hello")
        assert no_send.value.code == 50013
        with pytest.raises(discord.Forbidden) as no_view:
            await bot.get_partial_messageable(hidden.id).send("hello")
        assert no_view.value.code == 50001
        with pytest.raises(discord.NotFound) as gone:
            await bot.get_partial_messageable(12345).send("hello")
        assert gone.value.code == 10003
        world.guild.set_bot_overwrite(world.channel, deny=Permission.EMBED_LINKS)
        with pytest.raises(discord.Forbidden):
            await bot.get_partial_messageable(world.channel.id).send(embed=discord.Embed(title="x"))


@pytest.mark.asyncio
async def test_a_user_deleting_a_message_removes_it(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        sent = await bot.get_partial_messageable(world.channel.id).send("soon gone")
        await fake.user_deletes_message(world.channel.id, sent.id)
        assert fake.channel_messages(world.channel.id) == []
        assert fake.deleted_messages[0]["id"] == str(sent.id)
        with pytest.raises(discord.NotFound) as missing:
            await sent.edit(content="edited")
        assert missing.value.code == 10008


# -- limits and schema ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_oversized_message_is_refused_and_recorded(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        with pytest.raises(discord.HTTPException) as refused:
            await bot.get_partial_messageable(world.channel.id).send("x" * 2001)
        assert refused.value.status == 400
        assert refused.value.code == 50035
        assert any("content" in v and "2000" in v for v in fake.violations)
        assert fake.channel_messages(world.channel.id) == []
    fake.violations.clear()


def test_limits_catch_what_discord_rejects() -> None:
    too_many_fields = {"embeds": [{"title": "t", "fields": [{"name": "n", "value": "v"}] * 26}]}
    assert [v.path for v in check_message(too_many_fields)] == [("embeds", 0, "fields")]
    huge = {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2500}]}
    assert any(v.code == "MESSAGE_EMBEDS_TOO_LARGE" for v in check_message(huge))
    rows = {
        "components": [
            {"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"b{i}"} for i in range(6)]}
        ]
    }
    assert check_message(rows)[0].path == ("components", 0, "components")
    assert check_message({"components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": ""}]}]})
    choices = {"type": 8, "data": {"choices": [{"name": "n", "value": "v" * 101}]}}
    assert check_interaction_callback(choices)[0].path == ("data", "choices", 0, "value")
    shouting = [{"name": "Ping", "description": "d", "type": 1}]
    assert check_commands(shouting, global_=True)[0].code == "APPLICATION_COMMAND_INVALID_NAME"
    ok = [{"name": "팬-아트_2", "description": "d", "type": 1, "options": []}]
    assert check_commands(ok, global_=True) == []


@needs_spec
def test_openapi_validation_rejects_a_bad_body() -> None:
    validator = OpenApiValidator(OPENAPI_SPEC)
    problems = validator.validate("POST", "/interactions/1/token/callback", {"type": 4, "data": {"content": 42}})
    assert problems
    assert "data.content" in problems[0]
    assert (
        validator.validate("POST", "/channels/1/messages", {"content": "hi", "allowed_mentions": {"users": [123]}})
        == []
    )


def test_openapi_validation_is_skipped_without_the_spec(tmp_path: Path) -> None:
    validator = OpenApiValidator(tmp_path / "missing.json")
    assert not validator.available
    assert validator.validate("POST", "/channels/1/messages", {"content": 42}) == []


@needs_spec
@pytest.mark.asyncio
async def test_discord_py_bodies_pass_the_openapi_schema(fake: FakeDiscord, world: World) -> None:
    async def rich(interaction: discord.Interaction) -> None:
        view = discord.ui.View()
        view.add_item(discord.ui.Select(custom_id="pick", options=[discord.SelectOption(label="a", value="a")]))
        embed = discord.Embed(title="t", description="d").add_field(name="n", value="v").set_footer(text="f")
        await interaction.response.send_message("hi", embed=embed, view=view, ephemeral=True)
        await interaction.followup.send(file=discord.File(__file__, filename="proof.py"))
        await interaction.edit_original_response(
            content="edited", allowed_mentions=discord.AllowedMentions(users=[interaction.user])
        )

    async with running_bot(fake, [command("rich", rich)]) as bot:
        record = await fake.slash(world.guild, world.channel, world.member, "rich")
        assert await record.wait_followups(1)
        assert await record.wait_edits(1)
        assert record.followups[0]["attachments"][0]["filename"] == "proof.py"
        await bot.get_partial_messageable(world.channel.id).send("plain", embed=discord.Embed(title="x"))
    validator = OpenApiValidator(OPENAPI_SPEC)
    checked = [r for r in fake.requests if isinstance(r.body, (dict, list))]
    assert len(checked) >= 5
    for request in checked:
        assert validator.validate(request.method, request.path, request.body) == [], request


# -- faults ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_429_on_the_callback_is_retried_and_succeeds(fake: FakeDiscord, world: World) -> None:
    injection = fake.inject("POST", r"/interactions/\d+/[^/]+/callback", status=429, retry_after=0.1)
    async with running_bot(fake):
        record = await fake.slash(world.guild, world.channel, world.member, "ping")
        assert record.answered
        assert injection.hits == 1
        statuses = [r.status for r in fake.requests if r.path.endswith("/callback")]
        assert statuses == [429, 200]
        assert fake.rate_limit_hits == 1


@pytest.mark.asyncio
async def test_a_429_and_a_500_on_channel_messages_are_retried(fake: FakeDiscord, world: World) -> None:
    fake.inject("POST", r"/channels/\d+/messages$", status=500)  # discord.py sleeps 1 s before retrying
    fake.inject("POST", r"/channels/\d+/messages$", status=429, retry_after=0.05)
    async with running_bot(fake) as bot:
        await bot.get_partial_messageable(world.channel.id).send("eventually")
        statuses = [r.status for r in fake.requests if r.path.endswith("/messages")]
        assert statuses == [500, 429, 200]
        assert [m["content"] for m in fake.channel_messages(world.channel.id)] == ["eventually"]


@pytest.mark.asyncio
async def test_a_429_without_via_is_a_cloudflare_ban_and_not_retried(fake: FakeDiscord, world: World) -> None:
    fake.inject("POST", r"/channels/\d+/messages$", status=429, via=False)
    async with running_bot(fake) as bot:
        with pytest.raises(discord.HTTPException) as banned:
            await bot.get_partial_messageable(world.channel.id).send("nope")
        assert banned.value.status == 429


@pytest.mark.asyncio
async def test_the_global_rate_limit_slows_but_does_not_lose_messages(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        fake.global_rate_limit(per_second=5)
        channel = bot.get_partial_messageable(world.channel.id)
        await asyncio.gather(*(channel.send(f"m{i}") for i in range(8)))
        assert len(fake.channel_messages(world.channel.id)) == 8
        assert fake.rate_limit_hits >= 1
        assert (await fake.slash(world.guild, world.channel, world.member, "ping")).answered, "callbacks are exempt"


@pytest.mark.asyncio
async def test_a_dropped_gateway_resumes_and_replays_missed_events(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        await fake.drop_gateway()
        late_channel = world.guild.add_channel("created-while-offline")
        await fake.wait_ready()
        assert await wait_until(lambda: fake.resume_count == 1)
        assert fake.identify_count == 1
        assert await wait_until(lambda: bot.get_channel(late_channel.id) is not None)
        assert fake.gateway.connections[-1].path == "/resume-gateway"
        assert (await fake.slash(world.guild, world.channel, world.member, "ping")).answered


@pytest.mark.asyncio
async def test_an_invalid_session_forces_a_fresh_identify(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        skip_identify_delay(bot)  # discord.py otherwise sleeps 5 s before re-identifying
        await fake.invalidate_session()
        assert await wait_until(lambda: fake.identify_count == 2)
        await fake.wait_ready()
        assert fake.resume_count == 0
        assert (await fake.slash(world.guild, world.channel, world.member, "ping")).answered


@pytest.mark.asyncio
async def test_guild_and_channel_removal_reach_the_bot(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        await fake.delete_channel(world.channel)
        assert await wait_until(lambda: bot.get_channel(world.channel.id) is None)
        fake.remove_guild(world.guild)
        assert await wait_until(lambda: bot.get_guild(world.guild.id) is None)


class FeedbackModal(discord.ui.Modal, title="Your theory"):
    """A one-field modal, answered ephemerally with what the member typed."""

    theory: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(label="Theory", custom_id="theory")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.theory.value}", ephemeral=True)


class FeedbackView(discord.ui.View):
    """A select that rewrites its message (type 7) and a button that opens a modal (type 9)."""

    @discord.ui.select(
        custom_id="episode", options=[discord.SelectOption(label=f"Episode {n}", value=str(n)) for n in (1, 2)]
    )
    async def episode(self, interaction: discord.Interaction, select: discord.ui.Select[FeedbackView]) -> None:
        await interaction.response.edit_message(content=f"episode {select.values[0]} picked")

    @discord.ui.button(label="Share a theory", custom_id="theory-button")
    async def share(self, interaction: discord.Interaction, button: discord.ui.Button[FeedbackView]) -> None:
        await interaction.response.send_modal(FeedbackModal())


@pytest.mark.asyncio
async def test_select_edits_the_message_and_a_modal_round_trips(fake: FakeDiscord, world: World) -> None:
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pick an episode", view=FeedbackView())

    async with running_bot(fake, [command("feedback", feedback)]):
        prompt = await fake.slash(world.guild, world.channel, world.member, "feedback")
        assert prompt.original is not None
        picked = await fake.select(world.guild, world.channel, world.member, prompt.original, "episode", ["2"])
        assert picked.callback_type == 7
        assert fake.channel_messages(world.channel.id)[0]["content"] == "episode 2 picked"
        with pytest.raises(InvalidOptions):
            await fake.select(world.guild, world.channel, world.member, prompt.original, "episode", ["3"])

        opened = await fake.click(world.guild, world.channel, world.member, prompt.original, "theory-button")
        assert opened.callback_type == 9
        assert opened.data["title"] == "Your theory"
        submitted = await fake.submit_modal(
            world.guild, world.channel, world.member, opened, {"theory": "Cheong-san lives"}
        )
        assert submitted.content == "noted: Cheong-san lives"
        assert submitted.ephemeral


@pytest.mark.asyncio
async def test_an_attachment_option_can_be_downloaded_by_the_bot(fake: FakeDiscord, world: World) -> None:
    async def read_back(interaction: discord.Interaction, file: discord.Attachment) -> None:
        text = (await file.read()).decode()
        await interaction.response.send_message(f"{file.filename}: {text}")

    async with running_bot(fake, [command("read-back", read_back)]):
        record = await fake.slash(
            world.guild, world.channel, world.member, "read-back", {"file": Upload("theory.txt", b"the cure is near")}
        )
        assert record.content == "theory.txt: the cure is near"


@pytest.mark.asyncio
async def test_without_the_members_intent_only_the_bot_member_is_cached(fake: FakeDiscord, world: World) -> None:
    async with running_bot(fake) as bot:
        guild = bot.get_guild(world.guild.id)
        assert guild is not None
        assert [m.id for m in guild.members] == [fake.bot_user.id]
        assert guild.member_count == len(world.guild.members)


@needs_spec
@pytest.mark.asyncio
async def test_the_fakes_own_replies_match_discords_response_schemas(fake: FakeDiscord, world: World) -> None:
    fake.check_own_responses = True

    async def later(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("follow-up", embed=discord.Embed(title="t"))
        await interaction.edit_original_response(content="edited")

    thread = world.guild.add_thread("theories", world.channel.id)
    async with running_bot(fake, [command("later", later)]) as bot:
        ping = await fake.slash(world.guild, world.channel, world.member, "ping")
        await fake.click(world.guild, world.channel, world.member, ping.original, "bare:ack:1")  # type: ignore[arg-type]
        deferred = await fake.slash(world.guild, world.channel, world.member, "later")
        assert await deferred.wait_edits(1)
        sent = await bot.get_partial_messageable(thread.id).send("in a thread")
        await sent.edit(content="edited in a thread")
        await bot.fetch_channel(world.channel.id)
        await bot.fetch_guild(world.guild.id)
        await bot.tree.fetch_commands()
        with pytest.raises(discord.NotFound):
            await bot.fetch_channel(1)
    assert fake.own_response_problems == []


@pytest.mark.asyncio
async def test_an_enforced_nonce_returns_the_first_message_instead_of_posting_twice(
    fake: FakeDiscord, world: World
) -> None:
    async with running_bot(fake) as bot:
        channel = bot.get_partial_messageable(world.channel.id)
        first = await channel.send("daily countdown", nonce="slot-1")  # discord.py adds enforce_nonce
        again = await channel.send("daily countdown", nonce="slot-1")
        assert again.id == first.id
        other = await channel.send("daily countdown", nonce="slot-2")
        assert other.id != first.id
        assert len(fake.channel_messages(world.channel.id)) == 2
        assert fake.requests[-2].body["enforce_nonce"] is True
