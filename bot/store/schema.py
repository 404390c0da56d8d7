"""The tables as SQLAlchemy Core objects: what the repositories build their statements from.

The DDL itself lives in the migrations (``bot/store/migrations``); these objects only
describe the columns and their types, so one statement works on SQLite and PostgreSQL:

- Discord ids are 64-bit integers (``BIGINT`` in PostgreSQL; SQLite's INTEGER is 64-bit).
- Times are aware datetimes in UTC: ``timestamptz`` in PostgreSQL, and in SQLite the
  fixed-width ISO-8601 text the bot has always stored (``2025-01-31T18:00:00.000000+00:00``),
  so text order is time order and databases made before SQLAlchemy read unchanged.
- Calendar dates are ``date`` in PostgreSQL and ``YYYY-MM-DD`` text in SQLite.
- Flags are ``boolean`` in PostgreSQL and 0/1 in SQLite.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Dialect,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.types import TypeDecorator, TypeEngine

metadata = MetaData()

#: A Discord snowflake or another 64-bit id. On SQLite, INTEGER (a rowid alias where it is the key).
Snowflake = BigInteger().with_variant(Integer(), "sqlite")


def to_db_time(moment: dt.datetime) -> str:
    """An aware time as SQLite's fixed-width UTC text, so SQL compares stored times as times."""
    if moment.tzinfo is None:
        raise ValueError("only timezone-aware times are stored")
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def from_db_time(text: str | None) -> dt.datetime | None:
    """SQLite's stored time text back as an aware UTC datetime (None stays None)."""
    return None if text is None else dt.datetime.fromisoformat(text).astimezone(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, always returned in UTC; naive datetimes are refused."""

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(String(32))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("only timezone-aware times are stored")
        if dialect.name == "postgresql":
            return value.astimezone(dt.UTC)
        return to_db_time(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC)
        return from_db_time(str(value))


class IsoDate(TypeDecorator[dt.date]):
    """A calendar date: ``date`` in PostgreSQL, ``YYYY-MM-DD`` text in SQLite."""

    impl = String(10)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Date())
        return dialect.type_descriptor(String(10))

    def process_bind_param(self, value: dt.date | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return value if dialect.name == "postgresql" else value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.date | None:
        if value is None or isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value))


# -- core (0001) ------------------------------------------------------------------

bot_state = Table(
    "bot_state",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

pack_entries = Table(
    "pack_entries",
    metadata,
    Column("kind", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("data", Text, nullable=False),
)

# -- spoilers (0002) ------------------------------------------------------------------

spoiler_channels = Table(
    "spoiler_channels",
    metadata,
    Column("guild_id", Snowflake, primary_key=True),
    Column("channel_id", Snowflake, primary_key=True),
    Column("added_by", Snowflake, nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
)

# -- countdown (0003) ------------------------------------------------------------------

countdown_release_history = Table(
    "countdown_release_history",
    metadata,
    Column("id", Snowflake, primary_key=True, autoincrement=True),
    Column("awaited", Text, nullable=False),
    Column("precision", Text, nullable=False),
    Column("start_date", IsoDate, nullable=False),
    Column("end_date", IsoDate, nullable=False),
    Column("label", Text, nullable=False),
    Column("confidence", Text, nullable=False),
    Column("source_title", Text),
    Column("source_url", Text),
    Column("source_date", IsoDate, nullable=False),
    Column("origin", Text, nullable=False),
    Column("changed_by", Snowflake),
    Column("recorded_at", UtcDateTime, nullable=False),
)

countdown_schedules = Table(
    "countdown_schedules",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("channel_id", Snowflake, nullable=False),
    Column("local_time", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("cadence", Text, nullable=False),
    Column("weekday", Integer, nullable=False, default=0),
    Column("mode", Text, nullable=False),
    Column("next_due_at", UtcDateTime),
    Column("next_slot_date", IsoDate),
    Column("message_id", Snowflake),
    Column("announced_change_id", Snowflake, nullable=False, default=0),
    Column("last_post_at", UtcDateTime),
    Column("last_post_message_id", Snowflake),
    Column("last_error", Text),
    Column("last_error_detail", Text),
    Column("last_error_at", UtcDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("paused", Boolean(create_constraint=False), nullable=False, default=False),
    Column("updated_by", Snowflake, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

countdown_posts = Table(
    "countdown_posts",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("slot_key", Text, primary_key=True),
    Column("channel_id", Snowflake, nullable=False),
    Column("mode", Text, nullable=False),
    Column("occasion", Text, nullable=False),
    Column("change_id", Snowflake, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("retry_at", UtcDateTime),
    Column("message_id", Snowflake),
    Column("finished_at", UtcDateTime),
)

# -- polls (0004) ------------------------------------------------------------------

polls = Table(
    "polls",
    metadata,
    Column("id", Snowflake, primary_key=True, autoincrement=True),
    Column("guild_id", Snowflake, nullable=False),
    Column("channel_id", Snowflake, nullable=False),
    Column("message_id", Snowflake, unique=True),
    Column("creator_id", Snowflake, nullable=False),
    Column("question", Text, nullable=False),
    Column("max_choices", Integer, nullable=False),
    Column("anonymous", Boolean(create_constraint=False), nullable=False),
    Column("hide_results", Boolean(create_constraint=False), nullable=False),
    Column("spoiler", Boolean(create_constraint=False), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("closes_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("close_reason", Text),
    Column("announced", Boolean(create_constraint=False), nullable=False, default=False),
    Column("tally_version", Integer, nullable=False, default=0),
    Column("rendered_version", Integer, nullable=False, default=0),
)

poll_options = Table(
    "poll_options",
    metadata,
    Column("poll_id", Snowflake, primary_key=True, autoincrement=False),
    Column("option_index", Integer, primary_key=True, autoincrement=False),
    Column("label", Text, nullable=False),
)

poll_votes = Table(
    "poll_votes",
    metadata,
    Column("poll_id", Snowflake, primary_key=True, autoincrement=False),
    Column("user_id", Snowflake, primary_key=True, autoincrement=False),
    Column("option_index", Integer, primary_key=True, autoincrement=False),
    Column("voted_at", UtcDateTime, nullable=False),
)

poll_settings = Table(
    "poll_settings",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("creator_role_id", Snowflake),
)

# -- languages (0005) ------------------------------------------------------------------

guild_languages = Table(
    "guild_languages",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("language", Text, nullable=False),
)

# -- departed guilds (0008) ------------------------------------------------------------------

departed_guilds = Table(
    "departed_guilds",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("left_at", UtcDateTime, nullable=False),
)


# -- release watch (0009) ------------------------------------------------------------------

release_watch_findings = Table(
    "release_watch_findings",
    metadata,
    Column("id", Snowflake, primary_key=True, autoincrement=True),
    Column("finding_key", Text, nullable=False, unique=True),
    Column("show_id", Snowflake, nullable=False),
    Column("season", Integer, nullable=False),
    Column("premiere_date", IsoDate, nullable=False),
    Column("airstamp", UtcDateTime),
    Column("retrieved_at", UtcDateTime, nullable=False),
    Column("state", Text, nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("channel_id", Snowflake),
    Column("message_id", Snowflake),
    Column("decided_by", Snowflake),
    Column("decided_at", UtcDateTime),
)

# -- premiere events and notify roles (0010) -----------------------------------------------------

countdown_options = Table(
    "countdown_options",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("events", Boolean(create_constraint=False), nullable=False, default=False),
    Column("notify_role_id", Snowflake),
    Column("updated_by", Snowflake, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

countdown_events = Table(
    "countdown_events",
    metadata,
    Column("guild_id", Snowflake, primary_key=True, autoincrement=False),
    Column("state", Text, nullable=False),
    Column("event_id", Snowflake),
    Column("starts_at", UtcDateTime),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("error", Text),
    Column("error_at", UtcDateTime),
)

#: Every table, parents before children (the order ``store copy`` writes them in).
TABLES: tuple[Table, ...] = tuple(metadata.sorted_tables)
