"""The "Reveal privately" button: answers the presser, ephemerally, with the spoilers unwrapped.

The button carries no spoiler text, only ``spoiler:reveal:<kind>:<key>``. A feature
registers a provider for its kind; on a press the provider looks the key up (in the
pack or the store) and returns the unwrapped content, so the button keeps working
after a restart and always shows current facts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import GuardedItem, UserError
from bot.i18n import t

if TYPE_CHECKING:
    from bot.client import HyosanBot

log = logging.getLogger(__name__)

CUSTOM_ID_PREFIX = "spoiler:reveal:"
CUSTOM_ID_LIMIT = 100
_KIND = r"[a-z][a-z0-9_]{0,31}"
TEMPLATE = re.compile(rf"^spoiler:reveal:(?P<kind>{_KIND}):(?P<key>\S+)$")


@dataclass(frozen=True, slots=True)
class Reveal:
    """What the presser sees privately: text and/or embeds, already rendered openly."""

    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()

    def __post_init__(self) -> None:
        if not self.content and not self.embeds:
            raise ValueError("a reveal needs content or embeds")


RevealProvider = Callable[["HyosanBot", str, "discord.Locale | str | None"], Awaitable[Reveal | None]]
"""``provider(bot, key, locale)``: the unwrapped content, or None when the key is gone."""

_providers: dict[str, RevealProvider] = {}

#: The press a provider is answering, for a provider whose answer depends on who pressed
#: where (a poll is revealed only to a member who may see its channel now).
revealing_for: ContextVar[discord.Interaction[Any] | None] = ContextVar("revealing_for", default=None)


def register_reveal_provider(kind: str, provider: RevealProvider) -> None:
    """Let reveal buttons of ``kind`` be answered by ``provider`` (a cog calls this in cog_load)."""
    if not re.fullmatch(_KIND, kind):
        raise ValueError(f"reveal kind {kind!r} must match {_KIND}")
    _providers[kind] = provider


def unregister_reveal_provider(kind: str) -> None:
    """Forget a kind's provider (cog_unload); presses then say the content is gone."""
    _providers.pop(kind, None)


def reveal_custom_id(kind: str, key: str) -> str:
    """The button's custom_id; raises ValueError if it would not fit Discord's 100 characters."""
    custom_id = f"{CUSTOM_ID_PREFIX}{kind}:{key}"
    if len(custom_id) > CUSTOM_ID_LIMIT or TEMPLATE.match(custom_id) is None:
        raise ValueError(f"cannot make a reveal button for kind {kind!r} and key {key!r}")
    return custom_id


class RevealButton(GuardedItem, discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    """A persistent button; only kind and key live in its custom_id."""

    def __init__(self, kind: str, key: str, *, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or t("spoilers.reveal_button"),
                style=discord.ButtonStyle.secondary,
                custom_id=reveal_custom_id(kind, key),
            )
        )
        self.kind = kind
        self.key = key

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RevealButton:
        return cls(match["kind"], match["key"])

    async def on_press(self, interaction: discord.Interaction[Any]) -> None:
        provider = _providers.get(self.kind)
        pressing = revealing_for.set(interaction)
        try:
            reveal = await provider(interaction.client, self.key, interaction.locale) if provider else None
        finally:
            revealing_for.reset(pressing)
        if reveal is None:
            raise UserError("spoilers.reveal_gone")
        await interaction.response.send_message(content=reveal.content, embeds=list(reveal.embeds), ephemeral=True)
