"""Who reads which language: answers follow the member, the bot's own posts the server.

An interaction's answer is written in the member's ``locale``. What the bot posts on
its own (scheduled countdowns, release news, poll messages and their results) is read
by everyone there, so it uses the server's language: a moderator's choice from
``/settings language`` (table guild_languages), else the server's ``guild_locale``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.i18n import Locale, language_name, languages, t
from bot.store import ReadConnection, dialect_insert
from bot.store.schema import guild_languages

if TYPE_CHECKING:
    from bot.client import HyosanBot


#: Read for every public post and settings page: built once.
_LANGUAGE_OF = select(guild_languages.c.language).where(guild_languages.c.guild_id == bindparam("guild_id"))


async def read_guild_language(conn: ReadConnection, guild_id: int) -> str | None:
    value = await conn.scalar(_LANGUAGE_OF, {"guild_id": guild_id})
    return None if value is None else str(value)


async def write_guild_language(conn: AsyncConnection, guild_id: int, language: str | None) -> None:
    """None: follow the server's language in Discord again. Runs inside the caller's transaction."""
    if language is None:
        await conn.execute(delete(guild_languages).where(guild_languages.c.guild_id == guild_id))
        return
    insert = dialect_insert(conn, guild_languages).values(guild_id=guild_id, language=language)
    await conn.execute(
        insert.on_conflict_do_update(index_elements=["guild_id"], set_={"language": insert.excluded.language})
    )


def server_locale(bot: HyosanBot, guild_id: int) -> str | None:
    """The server's language as Discord reports it (guild_locale), if the server is cached."""
    guild = bot.get_guild(guild_id)
    return str(guild.preferred_locale) if guild is not None else None


async def public_locale(bot: HyosanBot, guild_id: int) -> str | None:
    """The language of the bot's own posts in a server; a choice of a language since removed is ignored."""
    async with bot.store.read() as conn:
        chosen = await read_guild_language(conn, guild_id)
    if chosen is not None and chosen in languages():
        return chosen
    return server_locale(bot, guild_id)


async def describe_public_language(bot: HyosanBot, guild_id: int, locale: Locale) -> str:
    """One line for settings pages: the posts' language and whether a moderator chose it."""
    async with bot.store.read() as conn:
        chosen = await read_guild_language(conn, guild_id)
    shown = language_name(await public_locale(bot, guild_id))
    if chosen is not None and chosen in languages():
        return t("language.public_chosen", locale, language=shown)
    return t("language.public_server", locale, language=shown)
