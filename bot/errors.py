"""The one error path for slash commands, autocomplete, buttons, selects and modals.

A user's mistake (:class:`UserError`, a failed check, a bad option value) gets a
specific ephemeral answer. Anything else is logged with its traceback and a short
reference id, and the user gets an ephemeral "something went wrong" quoting that id.
No interaction is left unanswered.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import discord
from discord import app_commands

from bot.i18n import Counted, permission_names, t
from bot.observability import metrics_of
from bot.observability.logs import bind_interaction
from bot.observability.metrics import Outcome
from bot.store import StoreFailure, classify_failure
from bot.usertext import quote_user_text

log = logging.getLogger(__name__)


class Trusted(str):
    """Text the bot built itself (a channel or role mention, a list it formatted):
    placed in an error message as is. Every other string value is user text."""

    __slots__ = ()


class UserError(app_commands.AppCommandError):
    """A mistake the user can fix; ``key`` names the catalog text shown to them.

    String values are quoted as user text (controls dropped, markdown and mentions
    made inert, kept short) unless wrapped in :class:`Trusted`, so no caller can
    forget to escape what a user typed when it is echoed back.
    """

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = {
            name: quote_user_text(value) if isinstance(value, str) and not isinstance(value, Trusted) else value
            for name, value in values.items()
        }

    def render(self, locale: discord.Locale | str | None) -> str:
        return t(self.key, locale, **self.values)


#: What a member reads when the store refused their write; nothing was changed in each case.
STORE_FAILURE_TEXT = {
    StoreFailure.BUSY: "errors.store_busy",
    StoreFailure.UNAVAILABLE: "errors.store_unavailable",
    StoreFailure.FULL: "errors.store_full",
}


def new_reference() -> str:
    """A short id that appears both in the log and in the user's error message."""
    return secrets.token_hex(4)


def describe_user_error(error: Exception, locale: discord.Locale | str | None) -> str | None:
    """The message for an error the user caused or can wait out, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserError):
        return error.render(locale)
    failure = classify_failure(error)
    if failure is not None:
        return t(STORE_FAILURE_TEXT[failure], locale)
    if isinstance(error, app_commands.MissingPermissions | app_commands.BotMissingPermissions):
        perms = permission_names(error.missing_permissions, locale)
        key = (
            "errors.missing_permissions"
            if isinstance(error, app_commands.MissingPermissions)
            else ("errors.bot_missing_permissions")
        )
        return t(key, locale, permissions=perms)
    if isinstance(error, app_commands.NoPrivateMessage):
        return t("errors.guild_only", locale)
    if isinstance(error, app_commands.CommandOnCooldown):
        return t("errors.cooldown", locale, seconds=Counted("units.seconds", max(round(error.retry_after), 1)))
    if isinstance(error, app_commands.TransformerError):
        return t("errors.bad_option", locale)
    if isinstance(error, app_commands.CheckFailure):
        return t("errors.not_allowed", locale)
    return None


async def send_ephemeral(interaction: discord.Interaction[Any], content: str) -> None:
    """Answer privately, whether or not the interaction was already acknowledged."""
    if interaction.type is discord.InteractionType.autocomplete:
        if not interaction.response.is_done():
            await interaction.response.autocomplete([])
        return
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True)
    else:
        await interaction.response.send_message(content, ephemeral=True)


def log_unexpected(interaction: discord.Interaction[Any], error: Exception) -> str:
    """Log a bug with its traceback under a fresh reference id, and return the id."""
    original = getattr(error, "original", error)
    reference = new_reference()
    command = interaction.command.qualified_name if interaction.command else None
    # A button press may be a vote in an anonymous poll: who pressed it is never logged.
    user = "hidden" if interaction.type is discord.InteractionType.component else interaction.user.id
    log.error(
        "unexpected error [ref %s] in %s interaction (command=%s, guild=%s, user=%s)",
        reference,
        interaction.type.name,
        command,
        interaction.guild_id,
        user,
        exc_info=(type(original), original, original.__traceback__),
        extra={"reference": reference},
    )
    return reference


#: Discord's "Unknown interaction": the answer came after the interaction's 3 seconds.
UNKNOWN_INTERACTION = 10062


def answered_too_late(error: Exception) -> bool:
    original = getattr(error, "original", error)
    return isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION


def interaction_label(interaction: discord.Interaction[Any]) -> str:
    """What the metrics call an interaction: its command's name, else its kind (component, modal_submit)."""
    if interaction.type is discord.InteractionType.component:
        return "component"  # a button or select: no command to look up
    command = interaction.command
    return command.qualified_name if command is not None else interaction.type.name


async def report_interaction_error(interaction: discord.Interaction[Any], error: Exception) -> None:
    """The single place where an interaction's failure becomes a reply and a log line."""
    bind_interaction(interaction)
    metrics = metrics_of(interaction.client)
    if answered_too_late(error):
        metrics.count_interaction(interaction_label(interaction), "late")
        # Not a bug in the code that answered, and nothing can be sent any more: the token
        # is gone. What the work committed stays committed (a vote is kept).
        waited = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        log.warning(
            "answered a %s interaction too late (%.1f s after it was made); Discord had dropped it",
            interaction.type.name,
            waited,
        )
        return
    message = describe_user_error(error, interaction.locale)
    outcome: Outcome = "user_error" if message is not None else "unexpected_error"
    if message is None:
        message = t("errors.unexpected", interaction.locale, reference=log_unexpected(interaction, error))
    elif (failure := classify_failure(original := getattr(error, "original", error))) is not None:
        # Not a bug, so no traceback; but a full disk does not fix itself: the operator must hear of it.
        level = logging.ERROR if failure is StoreFailure.FULL else logging.WARNING
        log.log(level, "could not save for a %s interaction (%s): %s", interaction.type.name, failure.value, original)
    try:
        await send_ephemeral(interaction, message)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)
    metrics.count_interaction(interaction_label(interaction), outcome, interaction.id)


def shown_name(name: str, localized: app_commands.locale_str | None, locale: discord.Locale) -> str:
    """An option's or choice's name as the member's client shows it (its catalog key, if any)."""
    key = localized.extras.get("key") if localized is not None else None
    return t(key, locale) if key else name


class BotCommandTree(app_commands.CommandTree[Any]):
    """Every slash command error goes through :func:`report_interaction_error`."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Discord's client only offers an option's choices, but nothing stops a modified
        client from sending another value, and discord.py passes it on: refuse it here."""
        bind_interaction(interaction)
        if interaction.type is not discord.InteractionType.application_command:
            return True
        command = interaction.command
        if not isinstance(command, app_commands.Command):
            return True
        for parameter in command.parameters:
            if not parameter.choices:
                continue
            value = getattr(interaction.namespace, parameter.display_name, None)
            if value is not None and value not in {choice.value for choice in parameter.choices}:
                locale = interaction.locale
                names = ", ".join(
                    shown_name(choice.name, getattr(choice, "_locale_name", None), locale)
                    for choice in parameter.choices
                )
                option = shown_name(parameter.display_name, parameter.locale_name, locale)
                error = UserError("errors.not_a_choice", option=Trusted(option), choices=Trusted(names))
                await report_interaction_error(interaction, error)
                return False
        return True

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        await report_interaction_error(interaction, error)


P = ParamSpec("P")
ChoiceT = TypeVar("ChoiceT", str, int, float)


def guarded_autocomplete(
    func: Callable[P, Coroutine[Any, Any, list[app_commands.Choice[ChoiceT]]]],
) -> Callable[P, Coroutine[Any, Any, list[app_commands.Choice[ChoiceT]]]]:
    """discord.py drops autocomplete exceptions and leaves the interaction unanswered;
    this logs bugs with a reference id and answers with no choices instead."""

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> list[app_commands.Choice[ChoiceT]]:
        try:
            return await func(*args, **kwargs)
        except Exception as exc:
            if describe_user_error(exc, None) is None:
                interaction = next(a for a in args if isinstance(a, discord.Interaction))
                log_unexpected(interaction, exc)
            return []

    return wrapper


class GuardedItem:
    """Mixin for buttons and selects (also DynamicItem ones): errors take the one path.

    Subclasses implement ``on_press``; discord.py would only log a DynamicItem's error.
    """

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bind_interaction(interaction)
        try:
            await self.on_press(interaction)
        except Exception as exc:
            await report_interaction_error(interaction, exc)
        else:
            metrics_of(interaction.client).count_interaction(interaction_label(interaction), "answered", interaction.id)


class BotView(discord.ui.View):
    """A view whose item errors go through the one error path."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any], /
    ) -> None:
        await report_interaction_error(interaction, error)
