"""/countdown for everyone, /settings countdown for moderators, /release update for owners.

Parse, call, render, respond: the rules live in window.py, slots.py, record.py,
planning.py and render.py, the SQL in repo/ (a module per table), the scheduled sending
in posting.py.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import HyosanBot
from bot.errors import Trusted, UserError, guarded_autocomplete
from bot.i18n import cmd, localized_options, permission_names, t
from bot.installs import installed_guild_id, offered_everywhere, server_only_group_options
from bot.language import describe_public_language
from bot.moderation import SettingsSubgroup
from bot.store.schema import countdown_events, countdown_options, countdown_posts, countdown_schedules
from cogs.countdown import repo
from cogs.countdown.events import PremiereEvents
from cogs.countdown.notify import NotifyButton, notify_role_problem, role_facts
from cogs.countdown.planning import next_slot_for, plan_next_slot
from cogs.countdown.posting import CountdownPosts, card_embed, log_already_posted, missing_permissions
from cogs.countdown.proposals import ReleaseWatch, answer_press
from cogs.countdown.record import ReleaseRecord, check_owner_update, pack_replaces, split_source
from cogs.countdown.recording import owner_record, record_release
from cogs.countdown.render import (
    Card,
    instant_timestamp,
    pack_wording,
    render_countdown_card,
    render_history_card,
    window_label,
)
from cogs.countdown.repo.findings import Decision
from cogs.countdown.slots import (
    CADENCES,
    PostingRule,
    Slot,
    SlotError,
    load_zone,
    local_date,
    parse_local_time,
    suggest_zones,
)
from cogs.countdown.tvmaze import TvmazeClient
from cogs.countdown.views import ProposalButton
from cogs.countdown.window import Confidence, ReleaseWindow, WindowError, parse_window

log = logging.getLogger(__name__)

POSTABLE_CHANNELS = (discord.ChannelType.text, discord.ChannelType.news)
COUNT_ZONE_DEFAULT = "UTC"
#: /countdown cards kept, by (record, day, zone, language): the card is a function of those
#: alone (the pack is fixed for the process), and rendering it was a tenth of the command.
CARD_CACHE_SIZE = 256

OptionValue = TypeVar("OptionValue", bound=str)


def window_error(exc: WindowError) -> UserError:
    return UserError(f"countdown.window.{exc.reason}", **exc.values)


def slot_error(exc: SlotError) -> UserError:
    return UserError(f"countdown.settings.{exc.reason}", **exc.values)


def offered(value: str, choices: tuple[OptionValue, ...]) -> OptionValue:
    """``value`` as one of the choices a command offers (the tree refuses any other value)."""
    for choice in choices:
        if choice == value:
            return choice
    raise ValueError(f"{value!r} is none of {choices}")


def pack_record(bot: HyosanBot, now: dt.datetime) -> ReleaseRecord:
    """The data pack's release entry as a record version."""
    release = bot.pack.release
    window = release.window
    source = bot.pack.source(window.source)
    return ReleaseRecord(
        awaited=release.awaited,
        window=ReleaseWindow(window.precision, window.start, window.end, window.label),
        confidence=window.confidence,
        source_title=source.title,
        source_url=source.url,
        source_date=window.source_date,
        origin="pack",
        recorded_at=now,
    )


class PostableChannelOption(app_commands.Transformer):
    """A channel option offering text and announcement channels; the command checks the rest
    itself so a wrong channel gets a specific answer, not a generic "bad option"."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return list(POSTABLE_CHANNELS)

    async def transform(self, interaction: discord.Interaction[Any], value: Any, /) -> Any:
        return value


PostableChannel = app_commands.Transform[Any, PostableChannelOption]

CADENCE_CHOICES = [
    app_commands.Choice(name=cmd(f"countdown.settings.cadence_{value}"), value=value) for value in CADENCES
]
MODE_CHOICES = [app_commands.Choice(name=cmd(f"countdown.settings.mode_{value}"), value=value) for value in repo.MODES]
WEEKDAY_CHOICES = [app_commands.Choice(name=cmd(f"countdown.weekdays.d{day}"), value=day) for day in range(7)]
CONFIDENCES: tuple[Confidence, ...] = ("confirmed", "estimated", "rumored")
STATE_CHOICES = [
    app_commands.Choice(name=cmd(f"countdown.premiere.state_{value}"), value=value) for value in ("on", "off")
]
CONFIDENCE_CHOICES = [
    app_commands.Choice(name=cmd(f"countdown.release.confidence_{value}"), value=value) for value in CONFIDENCES
]


class CountdownSettingsGroup(SettingsSubgroup):
    """``/settings countdown``: where, when and how often the countdown is posted."""

    def __init__(self, cog: CountdownCog) -> None:
        super().__init__(name=cmd("countdown.settings.name"), description=cmd("countdown.settings.description"))
        self.cog = cog
        self.bot = cog.bot

    @app_commands.command(
        name=cmd("countdown.settings.set_name"), description=cmd("countdown.settings.set_description")
    )
    @localized_options("countdown.settings", "channel", "time", "timezone", "cadence", "mode", "weekday")
    @app_commands.choices(cadence=CADENCE_CHOICES, mode=MODE_CHOICES)
    @app_commands.choices(weekday=WEEKDAY_CHOICES)
    async def set_(
        self,
        interaction: discord.Interaction[Any],
        channel: PostableChannel,
        time: app_commands.Range[str, 1, 10],
        timezone: app_commands.Range[str, 1, 64],
        cadence: str,
        mode: str,
        weekday: int | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        locale = interaction.locale
        if getattr(channel, "guild_id", guild.id) != guild.id:
            raise UserError("countdown.settings.other_guild")
        target = guild.get_channel_or_thread(channel.id)
        if target is None:
            raise UserError("countdown.settings.unknown_channel")
        if target.type not in POSTABLE_CHANNELS:
            raise UserError("countdown.settings.not_text", channel=Trusted(target.mention))
        try:
            at = parse_local_time(time)
            zone = load_zone(timezone)
        except SlotError as exc:
            raise slot_error(exc) from None
        missing = missing_permissions(target, guild.me)
        if missing:
            raise UserError(
                "countdown.settings.bot_missing",
                channel=Trusted(target.mention),
                permissions=Trusted(permission_names(missing, locale)),
            )
        now = self.bot.clock()
        rule = PostingRule(
            at=at,
            zone=zone.key,
            cadence=offered(cadence, CADENCES),
            weekday=weekday if weekday is not None else local_date(now, zone).weekday(),
        )
        slot, passed = await self.save_planned(
            guild.id, target.id, rule, offered(mode, repo.MODES), by=interaction.user.id, now=now
        )
        log_already_posted(guild.id, passed, f"by the new schedule of {interaction.user.id}")
        self.bot.scheduler.wake()
        next_text = (
            f"{instant_timestamp(slot.due_at, 'F')} ({instant_timestamp(slot.due_at, 'R')})"
            if slot
            else t("countdown.settings.no_next", locale)
        )
        if passed and slot is not None:
            next_text = t(
                "countdown.settings.next_after_posted",
                locale,
                next=next_text,
                day=instant_timestamp(passed[-1].due_at, "D"),
            )
        await interaction.response.send_message(
            t(
                "countdown.settings.saved",
                locale,
                channel=target.mention,
                rule=self.cog.describe_rule(rule, locale),
                mode=t(f"countdown.settings.mode_text_{mode}", locale),
                next=next_text,
            ),
            ephemeral=True,
        )

    async def save_planned(
        self, guild_id: int, channel_id: int, rule: PostingRule, mode: repo.Mode, *, by: int, now: dt.datetime
    ) -> tuple[Slot | None, tuple[Slot, ...]]:
        """Save the schedule with its first slot planned against the current record: the slot,
        and the slots passed over because their local day already had its post."""
        while True:
            async with self.bot.store.read() as conn:
                record = await repo.fetch_current_record(conn)
                posted = await repo.posted_days(conn, [guild_id], now - repo.POSTED_LOOKBACK)
            slot, passed = plan_next_slot(rule, record, now, posted.get(guild_id, frozenset()))
            saved = await repo.save_schedule(
                self.bot.store,
                guild_id=guild_id,
                channel_id=channel_id,
                rule=rule,
                mode=mode,
                slot=slot,
                current_change_id=record.id if record else 0,
                by=by,
                now=now,
            )
            if saved:
                return slot, passed
            # Another process recorded a release change since the read: plan against it instead.

    @set_.autocomplete("timezone")
    @guarded_autocomplete
    async def timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=name, value=name) for name in suggest_zones(current[:64])]

    @app_commands.command(
        name=cmd("countdown.settings.off_name"), description=cmd("countdown.settings.off_description")
    )
    async def off(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild is not None
        removed = await repo.delete_schedule(self.bot.store, interaction.guild.id)
        self.bot.scheduler.wake()
        key = "countdown.settings.turned_off" if removed else "countdown.settings.was_off"
        await interaction.response.send_message(t(key, interaction.locale), ephemeral=True)

    @app_commands.command(
        name=cmd("countdown.settings.show_name"), description=cmd("countdown.settings.show_description")
    )
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        guild = interaction.guild
        assert guild is not None
        locale = interaction.locale
        async with self.bot.store.read() as conn:
            schedule = await repo.fetch_schedule(conn, guild.id)
            options = await repo.fetch_options(conn, guild.id)
            event = await repo.fetch_event(conn, guild.id)
        if schedule is None and options == repo.Options():
            await interaction.response.send_message(t("countdown.settings.none", locale), ephemeral=True)
            return
        embed = discord.Embed(title=t("countdown.settings.show_title", locale))
        if schedule is None:
            self.add_option_fields(embed, options, event, locale)
            await interaction.response.send_message(embed=embed, ephemeral=True)
            return
        embed.add_field(name=t("countdown.settings.field_channel", locale), value=f"<#{schedule.channel_id}>")
        embed.add_field(
            name=t("countdown.settings.field_when", locale), value=self.cog.describe_rule(schedule.rule, locale)
        )
        embed.add_field(
            name=t("countdown.settings.field_mode", locale),
            value=t(f"countdown.settings.mode_text_{schedule.mode}", locale),
        )
        if schedule.paused:
            next_text = t("countdown.settings.paused", locale, count=schedule.consecutive_failures)
        elif schedule.next_due_at is not None:
            next_text = (
                f"{instant_timestamp(schedule.next_due_at, 'F')} ({instant_timestamp(schedule.next_due_at, 'R')})"
            )
        else:
            next_text = t("countdown.settings.no_next", locale)
        embed.add_field(name=t("countdown.settings.field_next", locale), value=next_text, inline=False)
        if schedule.last_post_at is not None:
            link = f"https://discord.com/channels/{guild.id}/{schedule.channel_id}/{schedule.last_post_message_id}"
            last = t(
                "countdown.settings.last_post", locale, when=instant_timestamp(schedule.last_post_at, "f"), link=link
            )
        else:
            last = t("countdown.settings.never_posted", locale)
        embed.add_field(name=t("countdown.settings.field_last_post", locale), value=last, inline=False)
        if schedule.last_error is not None and schedule.last_error_at is not None:
            embed.add_field(
                name=t("countdown.settings.field_last_error", locale),
                value=t(
                    "countdown.settings.last_error",
                    locale,
                    when=instant_timestamp(schedule.last_error_at, "f"),
                    error=self.cog.describe_error(schedule.last_error, schedule.last_error_detail, locale),
                ),
                inline=False,
            )
        embed.add_field(
            name=t("countdown.settings.field_language", locale),
            value=await describe_public_language(self.bot, guild.id, locale),
            inline=False,
        )
        self.add_option_fields(embed, options, event, locale)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- the premiere event and the notify role (issue 25) ------------------------------------

    @app_commands.command(
        name=cmd("countdown.premiere.event_name"), description=cmd("countdown.premiere.event_description")
    )
    @localized_options("countdown.premiere", "state")
    @app_commands.choices(state=STATE_CHOICES)
    async def event(self, interaction: discord.Interaction[Any], state: str) -> None:
        guild = interaction.guild
        assert guild is not None
        locale = interaction.locale
        may = guild.me is not None and guild.me.guild_permissions.manage_events
        now = self.bot.clock()
        if state == "on":
            if not may:
                raise UserError("countdown.premiere.missing_manage_events")
            await repo.save_events(self.bot.store, guild.id, on=True, by=interaction.user.id, now=now)
            await repo.reset_failed_event(self.bot.store, guild.id)
            self.bot.scheduler.wake()
            record = await repo.current_record(self.bot.store)
            if self.bot.pack.release.premiere_time is None:
                text = t("countdown.premiere.on_without_time", locale)
            else:
                start = self.cog.events.target(record)
                if start is None or start <= now:
                    text = t("countdown.premiere.on_without_date", locale)
                else:
                    text = t("countdown.premiere.on_with_date", locale, when=instant_timestamp(start, "F"))
            await interaction.response.send_message(text, ephemeral=True)
            return
        was_on = await repo.save_events(self.bot.store, guild.id, on=False, by=interaction.user.id, now=now)
        self.bot.scheduler.wake()
        async with self.bot.store.read() as conn:
            made = await repo.fetch_event(conn, guild.id)
        if made is not None and made.state == "live" and not may:
            key = "countdown.premiere.off_without_permission"
        else:
            key = "countdown.premiere.off" if was_on or made is not None else "countdown.premiere.was_off"
        await interaction.response.send_message(t(key, locale), ephemeral=True)

    @app_commands.command(name=cmd("countdown.notify.role_name"), description=cmd("countdown.notify.role_description"))
    @localized_options("countdown.notify", role=("role_option", "role_description_option"))
    async def notify_role(self, interaction: discord.Interaction[Any], role: discord.Role | None = None) -> None:
        guild = interaction.guild
        assert guild is not None
        assert guild.me is not None
        locale = interaction.locale
        now = self.bot.clock()
        if role is None:
            before = await repo.save_notify_role(self.bot.store, guild.id, None, by=interaction.user.id, now=now)
            key = "countdown.notify.removed" if before is not None else "countdown.notify.was_off"
            await interaction.response.send_message(t(key, locale), ephemeral=True)
            return
        chosen = guild.get_role(role.id) or role
        problem = notify_role_problem(role_facts(chosen, guild.me))
        if problem is not None:
            values: dict[str, Any] = {"role": Trusted(chosen.mention)}
            if problem == "above_bot":
                values["top"] = Trusted(guild.me.top_role.mention)
            raise UserError(f"countdown.notify.{problem}", **values)
        await repo.save_notify_role(self.bot.store, guild.id, chosen.id, by=interaction.user.id, now=now)
        await interaction.response.send_message(
            t("countdown.notify.saved", locale, role=chosen.mention), ephemeral=True
        )

    def add_option_fields(
        self, embed: discord.Embed, options: repo.Options, event: repo.EventRow | None, locale: discord.Locale
    ) -> None:
        """The notify role and the premiere event, as /settings countdown show lists them."""
        role = f"<@&{options.notify_role_id}>" if options.notify_role_id else t("countdown.notify.show.none", locale)
        embed.add_field(name=t("countdown.notify.show.field", locale), value=role, inline=False)
        if not options.events:
            state = t("countdown.premiere.show.off", locale)
        elif event is not None and event.state == "live" and event.starts_at is not None:
            state = t("countdown.premiere.show.live", locale, when=instant_timestamp(event.starts_at, "F"))
        elif event is not None and event.state == "failed":
            if event.error == "missing_permissions":
                error = t("countdown.premiere.show.missing_manage_events", locale)
            else:
                error = t("countdown.error.rejected", locale, detail=(event.error or "").rpartition(":")[2])
            state = t("countdown.premiere.show.failed", locale, error=error)
        else:
            state = t("countdown.premiere.show.waiting", locale)
        embed.add_field(name=t("countdown.premiere.show.field", locale), value=state, inline=False)


class ReleaseGroup(app_commands.Group):
    """``/release``: owners keep the release record current (registered only in admin guilds)."""

    def __init__(self, cog: CountdownCog) -> None:
        super().__init__(
            name=cmd("countdown.release.name"),
            description=cmd("countdown.release.description"),
            guild_only=True,
            **server_only_group_options(),
        )
        self.cog = cog
        self.bot = cog.bot

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction.user.id not in self.bot.settings.owner_ids:
            raise UserError("countdown.release.not_owner")
        return True

    @app_commands.command(
        name=cmd("countdown.release.update_name"), description=cmd("countdown.release.update_description")
    )
    @localized_options("countdown.release", "window", "confidence", "source", "source_date")
    @app_commands.choices(confidence=CONFIDENCE_CHOICES)
    async def update(
        self,
        interaction: discord.Interaction[Any],
        window: app_commands.Range[str, 1, 50],
        confidence: str,
        source: app_commands.Range[str, 1, 300],
        source_date: app_commands.Range[str, 1, 20] | None = None,
    ) -> None:
        locale = interaction.locale
        now = self.bot.clock()
        today = now.astimezone(dt.UTC).date()
        try:
            parsed = parse_window(window)
            dated = today if source_date is None else parse_source_date(source_date)
            check_owner_update(parsed, dated, today)
            title, url = split_source(source)
        except WindowError as exc:
            raise window_error(exc) from None
        record = owner_record(
            self.bot,
            parsed,
            offered(confidence, CONFIDENCES),
            source_title=title,
            source_url=url,
            source_date=dated,
            by=interaction.user.id,
            now=now,
        )
        recorded = await record_release(self.bot, record, now)
        if recorded is None:
            raise UserError("countdown.release.unchanged")
        stored = recorded.record
        await interaction.response.send_message(
            t(
                "countdown.release.updated",
                locale,
                window=window_label(parsed, str(locale)),
                confidence=t(f"countdown.confidence.{stored.confidence}", locale, platform=self.cog.platform(locale)),
                count=recorded.servers,
            ),
            ephemeral=True,
        )


def parse_source_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise WindowError("bad_source_date", text=text.strip()) from None


class CountdownCog(commands.Cog):
    """The countdown: the command, its settings, the owners' updates and the scheduled posts."""

    def __init__(self, bot: HyosanBot) -> None:
        self.bot = bot
        self.settings_group = CountdownSettingsGroup(self)
        self.release_group = ReleaseGroup(self)
        self.posts = CountdownPosts(bot)
        #: The release watch (TVmaze), when RELEASE_WATCH_TVMAZE_ID turns it on.
        self.watch: ReleaseWatch | None = None
        self.events = PremiereEvents(bot)
        self._card = lru_cache(maxsize=CARD_CACHE_SIZE)(self._render_card)

    def _render_card(self, record: ReleaseRecord, today: dt.date, zone: str, locale: str) -> Card:
        """/countdown's card: a function of these alone (the pack is fixed for the process)."""
        pack = self.bot.pack
        return render_countdown_card(
            record,
            today=today,
            count_zone=zone,
            show_title=pack.show.show.tr("title", locale),
            platform=self.platform(locale),
            context=pack.release.context,
            source_dates=pack.source_dates(),
            locale=locale,
            wording=pack_wording(pack.release, locale, pack.sources),
        )

    def platform(self, locale: discord.Locale | str | None) -> str:
        """The platform's name as the pack gives it in the reader's language."""
        return str(self.bot.pack.show.platform.tr("name", locale))

    async def cog_load(self) -> None:
        now = self.bot.clock()
        seeded = await repo.seed_from_pack(
            self.bot.store,
            pack_record(self.bot, now),
            now,
            next_slot_for,
            pack_replaces,
        )
        if seeded is not None:
            log.info("release record taken from the data pack: %s (%s)", seeded.window, seeded.confidence)
        self.bot.settings_group.add_command(self.settings_group)
        admin_guilds = [discord.Object(guild_id) for guild_id in self.bot.settings.admin_guild_ids]
        if admin_guilds:
            self.bot.tree.add_command(self.release_group, guilds=admin_guilds)
        self.bot.scheduler.register(self.posts)
        self.bot.guild_keeper.keep(countdown_schedules, repo.SCHEDULE_ZONE)
        self.bot.guild_keeper.keep(countdown_posts)
        self.bot.scheduler.register(self.events)
        self.bot.guild_keeper.keep(countdown_options, repo.NOTIFY_ROLE)
        self.bot.guild_keeper.keep(countdown_events)
        self.bot.add_dynamic_items(NotifyButton)
        self.bot.add_dynamic_items(ProposalButton)
        self.start_release_watch()

    def start_release_watch(self) -> None:
        settings = self.bot.settings
        if not settings.release_watch_on:
            return
        if self.bot.pack.release.season is None:
            log.warning("release watch off: the data pack's release.toml names no season (season = 2)")
            return
        self.watch = ReleaseWatch(self.bot, TvmazeClient(settings.tvmaze_api_url, settings.tvmaze_timeout))
        self.bot.scheduler.register(self.watch)
        log.info(
            "release watch on: TVmaze show %s, season %s, every %g s",
            settings.release_watch_tvmaze_id,
            self.bot.pack.release.season,
            settings.release_watch_interval,
        )

    async def answer_proposal(self, interaction: discord.Interaction[Any], finding_id: int, decision: Decision) -> None:
        """A press on a release watch proposal (see cogs/countdown/views.py)."""
        await answer_press(self.bot, interaction, finding_id, decision)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ProposalButton)
        if self.watch is not None:
            self.bot.scheduler.unregister(self.watch.name)
            await self.watch.stop()
            self.watch = None
        self.bot.scheduler.unregister(self.posts.name)
        self.bot.guild_keeper.release(countdown_schedules)
        self.bot.guild_keeper.release(countdown_posts)
        self.bot.scheduler.unregister(self.events.name)
        self.bot.guild_keeper.release(countdown_options)
        self.bot.guild_keeper.release(countdown_events)
        self.bot.remove_dynamic_items(NotifyButton)
        await self.posts.stop()
        self.bot.settings_group.remove_command(self.settings_group.name)
        for guild_id in self.bot.settings.admin_guild_ids:
            self.bot.tree.remove_command(self.release_group.name, guild=discord.Object(guild_id))

    def describe_rule(self, rule: PostingRule, locale: discord.Locale | str | None) -> str:
        values = {
            "time": rule.at.strftime("%H:%M"),
            "zone": rule.zone,
            "weekday": t(f"countdown.weekdays.d{rule.weekday}", locale),
        }
        return t(f"countdown.settings.rule_{rule.cadence}", locale, **values)

    def describe_error(self, error: str, detail: str | None, locale: discord.Locale | str | None) -> str:
        if error == "missing_permissions" and detail and not detail.isdigit():
            return t(
                "countdown.error.missing_named_permissions",
                locale,
                permissions=permission_names(detail.split(","), locale),
            )
        return t(f"countdown.error.{error}", locale, detail=detail or "")

    async def count_zone(self, guild_id: int | None) -> str:
        """The zone the day count is made in: the server's countdown zone, else UTC."""
        if guild_id is None:
            return COUNT_ZONE_DEFAULT
        zone = await self.bot.store.recall(repo.SCHEDULE_ZONE, guild_id)
        return COUNT_ZONE_DEFAULT if zone is None else zone

    @offered_everywhere
    @app_commands.command(name=cmd("countdown.command.name"), description=cmd("countdown.command.description"))
    @localized_options("countdown.command", "history")
    async def countdown(self, interaction: discord.Interaction[Any], history: bool = False) -> None:
        locale = interaction.locale
        if history:
            async with self.bot.store.read() as conn:
                records = await repo.fetch_history(conn)
            card = render_history_card(
                records,
                platform=self.platform(locale),
                locale=str(locale),
                wording=pack_wording(self.bot.pack.release, str(locale), self.bot.pack.sources),
            )
            await interaction.response.send_message(embed=card_embed(card), ephemeral=True)
            return
        record = await repo.current_record(self.bot.store)
        if record is None:
            raise UserError("countdown.command.no_record")
        # A server where only the member added the app has no countdown settings of the bot's.
        # (Nor a premiere event: the bot only keeps events in servers that added it.)
        guild_id = installed_guild_id(interaction)
        zone = await self.count_zone(guild_id)
        today = local_date(self.bot.clock(), load_zone(zone))
        card = self._card(record, today, zone, str(locale))
        embed = card_embed(card)
        await self.add_premiere(embed, record, guild_id, locale)
        await interaction.response.send_message(embed=embed)

    async def add_premiere(
        self, embed: discord.Embed, record: ReleaseRecord, guild_id: int | None, locale: discord.Locale
    ) -> None:
        """The premiere's time (from the pack's sourced release time) and, in a server with the
        premiere event, how many members clicked Interested."""
        start = self.events.target(record)
        premiere = self.bot.pack.release.premiere_time
        if start is None or premiere is None:
            return
        lines = [
            t(
                "countdown.premiere.field_value",
                locale,
                when=instant_timestamp(start, "F"),
                relative=instant_timestamp(start, "R"),
                platform=self.platform(locale),
                source=self.bot.pack.source(premiere.source).title,
            )
        ]
        if guild_id is not None:
            interested = await self.events.interested(guild_id)
            if interested is not None:
                lines.append(t("countdown.premiere.interested", locale, count=interested))
        embed.add_field(name=t("countdown.premiere.field", locale), value="\n".join(lines), inline=False)
