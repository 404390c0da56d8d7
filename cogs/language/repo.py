"""SQL of the ``guild_languages`` table: a moderator's choice of the language of the bot's posts.

Read for every public post, so the store remembers it (:data:`GUILD_LANGUAGE`); the one
writer names it, so this process sees a change at once.
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select

from bot.store import ReadConnection, Store, dialect_insert
from bot.store.memo import Recalled
from bot.store.schema import guild_languages

#: Read for every public post and settings page: built once.
_LANGUAGE_OF = select(guild_languages.c.language).where(guild_languages.c.guild_id == bindparam("guild_id"))


async def fetch_guild_language(conn: ReadConnection, guild_id: int) -> str | None:
    value = await conn.scalar(_LANGUAGE_OF, {"guild_id": guild_id})
    return None if value is None else str(value)


#: A server's chosen language (None: none chosen), remembered by the store
#: (``store.recall(GUILD_LANGUAGE, guild_id)``); the write below names it.
GUILD_LANGUAGE: Recalled[int, str | None] = Recalled("guild language", fetch_guild_language)


async def write_guild_language(store: Store, guild_id: int, language: str | None) -> None:
    """None: follow the server's language in Discord again."""
    async with store.transaction(GUILD_LANGUAGE.of(guild_id)) as conn:
        if language is None:
            await conn.execute(delete(guild_languages).where(guild_languages.c.guild_id == guild_id))
            return
        insert = dialect_insert(conn, guild_languages).values(guild_id=guild_id, language=language)
        await conn.execute(
            insert.on_conflict_do_update(index_elements=["guild_id"], set_={"language": insert.excluded.language})
        )
