"""The one spoiler policy every feature uses.

Moderators list spoiler channels and categories per guild (``/settings spoilers``).
In those places, in Discord's own spoiler channels (the channel flag
``IS_SPOILER_CHANNEL``), and in threads and forum posts under them, spoilers are shown
openly; everywhere else each spoiler fact is escaped, wrapped in ``||…||`` after a
visible label of what it spoils, and the message carries a "Reveal privately"
button whose ephemeral answer is unwrapped.

Rules for features:

* Render every spoiler through a :class:`SpoilerContext`; never build ``||…||`` yourself.
* Spoilers never go where Discord cannot hide them: embed titles, author names,
  footers, autocomplete choices, select option labels, button labels. Labels (what
  a spoiler is about) may go there; fates and answers may not.
* Give a spoiler line the room it really has (``limit=``: 2000 message content,
  4096 embed description, 1024 field value); the text is cut, the bars stay balanced.
  To put several lines in one place use :func:`join_lines_within`, which drops whole lines.
* Register a reveal provider for your kind in ``cog_load`` and unregister it in
  ``cog_unload``. The button's custom_id holds only ``spoiler:reveal:<kind>:<key>``
  (100 characters in all); the provider looks the key up in the pack or the store,
  so the button keeps working after a restart.

Example (a cog)::

    from bot.spoilers import Reveal, SpoilerContext, register_reveal_provider, spoilers_for

    async def reveal_character(bot, key, locale):              # kind "character", key = character id
        character = find_character(bot.pack, key)
        if character is None:
            return None                                         # "this is no longer available"
        return Reveal(embeds=(character_embed(character, SpoilerContext.revealed(locale)),))

    class CharacterCog(commands.Cog):
        async def cog_load(self):
            register_reveal_provider("character", reveal_character)

        async def cog_unload(self):
            unregister_reveal_provider("character")

        @app_commands.command(...)
        async def character(self, interaction, name: str):
            spoilers = await spoilers_for(self.bot, interaction)
            embed = discord.Embed(title=character.name)         # never a spoiler in the title
            embed.description = spoilers.fact(character.series_fate, limit=4096)
            field = spoilers.field("season 1 ending", "…")     # EmbedField(name, value, inline)
            embed.add_field(name=field.name, value=field.value, inline=field.inline)
            view = spoilers.reveal_view("character", character.id)   # empty in spoiler channels
            await interaction.response.send_message(embed=embed, view=view)

With a view of your own (poll buttons), add ``spoilers.reveal_button(kind, key)``
to it when it is not None. Answers to an interaction ask ``spoilers_for(bot, interaction)``:
where the bot is not a member (a member's own install) everything is behind bars. Away from an interaction (a scheduled post) call
``spoiler_view_for(bot, channel, guild_locale)`` with the channel you post in.
"""

from bot.spoilers.context import SpoilerContext, place_of, spoiler_view_for, spoilers_for
from bot.spoilers.policy import ChannelPlace, shows_spoilers_openly
from bot.spoilers.render import (
    EMBED_DESCRIPTION_LIMIT,
    FIELD_VALUE_LIMIT,
    MESSAGE_LIMIT,
    EmbedField,
    LabelledText,
    escape_markdown_strict,
    join_lines_within,
    render_fact,
    render_open_text,
    render_spoiler,
    spoiler_field,
    wrap_spoiler,
)
from bot.spoilers.reveal import (
    Reveal,
    RevealButton,
    RevealProvider,
    register_reveal_provider,
    unregister_reveal_provider,
)

__all__ = [
    "EMBED_DESCRIPTION_LIMIT",
    "FIELD_VALUE_LIMIT",
    "MESSAGE_LIMIT",
    "ChannelPlace",
    "EmbedField",
    "LabelledText",
    "Reveal",
    "RevealButton",
    "RevealProvider",
    "SpoilerContext",
    "escape_markdown_strict",
    "join_lines_within",
    "place_of",
    "register_reveal_provider",
    "render_fact",
    "render_open_text",
    "render_spoiler",
    "shows_spoilers_openly",
    "spoiler_field",
    "spoiler_view_for",
    "spoilers_for",
    "unregister_reveal_provider",
    "wrap_spoiler",
]
