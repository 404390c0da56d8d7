"""The polls feature's SQL (bot/migrations/0004_polls.sql); nothing else here touches the tables.

Every write is one ``store.transaction()``. Clicks are applied in batches
(:func:`apply_clicks`): one transaction for all clicks that queued up while the
previous one ran, each click decided by :func:`cogs.polls.rules.decide_vote`, in
arrival order. Times are stored as fixed-width UTC ISO-8601 text (:func:`to_db_time`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.shards import EVERY_SHARD, Ownership
from bot.store import Store, from_db_time, to_db_time
from cogs.polls.rules import PollSpec, VoteTransition, decide_vote
from cogs.polls.tally import Tally

#: How many polls an autocomplete shows (Discord's limit for choices).
CHOICES_LIMIT = 25


class CloseReason(enum.Enum):
    DEADLINE = "deadline"
    COMMAND = "command"
    MESSAGE_DELETED = "message_deleted"


@dataclass(frozen=True, slots=True)
class Poll:
    """A poll as stored; options never change after creation."""

    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    creator_id: int
    question: str
    options: tuple[str, ...]
    max_choices: int
    anonymous: bool
    hide_results: bool
    spoiler: bool
    created_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    close_reason: CloseReason | None
    announced: bool

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def results_visible(self) -> bool:
        """hide_results keeps counts back until the poll closes."""
        return not self.hide_results or not self.is_open


@dataclass(frozen=True, slots=True)
class PollSummary:
    """What an autocomplete choice needs."""

    id: int
    question: str
    is_open: bool


_POLL_COLUMNS = (
    "id, guild_id, channel_id, message_id, creator_id, question, max_choices, anonymous, hide_results, "
    "spoiler, created_at, closes_at, closed_at, close_reason, announced"
)


def _poll_from_row(row: aiosqlite.Row, options: Sequence[str]) -> Poll:
    return Poll(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        creator_id=row["creator_id"],
        question=row["question"],
        options=tuple(options),
        max_choices=row["max_choices"],
        anonymous=bool(row["anonymous"]),
        hide_results=bool(row["hide_results"]),
        spoiler=bool(row["spoiler"]),
        created_at=from_db_time(row["created_at"]),  # type: ignore[arg-type]
        closes_at=from_db_time(row["closes_at"]),
        closed_at=from_db_time(row["closed_at"]),
        close_reason=CloseReason(row["close_reason"]) if row["close_reason"] else None,
        announced=bool(row["announced"]),
    )


# -- creating -------------------------------------------------------------------


async def create_poll(
    store: Store, *, guild_id: int, channel_id: int, creator_id: int, spec: PollSpec, now: datetime
) -> Poll:
    """Store a poll and its options, not yet attached to a message (so not yet visible anywhere)."""
    closes_at = now + spec.duration if spec.duration is not None else None
    async with store.transaction() as conn:
        rows = await conn.execute_fetchall(
            "INSERT INTO polls (guild_id, channel_id, creator_id, question, max_choices, anonymous, "
            "hide_results, spoiler, created_at, closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                guild_id,
                channel_id,
                creator_id,
                spec.question,
                spec.max_choices,
                int(spec.anonymous),
                int(spec.hide_results),
                int(spec.spoiler),
                to_db_time(now),
                to_db_time(closes_at) if closes_at else None,
            ),
        )
        poll_id = int(next(iter(rows))[0])
        await conn.executemany(
            "INSERT INTO poll_options (poll_id, option_index, label) VALUES (?, ?, ?)",
            [(poll_id, index, label) for index, label in enumerate(spec.options)],
        )
    poll = await fetch_poll(store.conn, poll_id)
    assert poll is not None
    return poll


async def attach_message(store: Store, poll_id: int, message_id: int) -> None:
    """The poll's message is posted: from now on the poll exists for members."""
    async with store.transaction() as conn:
        await conn.execute("UPDATE polls SET message_id = ? WHERE id = ?", (message_id, poll_id))


async def discard_unposted_poll(store: Store, poll_id: int) -> None:
    """Posting the message failed: remove the poll so nothing half-created remains."""
    async with store.transaction() as conn:
        await conn.execute("DELETE FROM polls WHERE id = ? AND message_id IS NULL", (poll_id,))


async def discard_all_unposted_polls(store: Store) -> int:
    """At start-up: polls whose creation was cut short by a crash never reached anyone."""
    async with store.transaction() as conn:
        cursor = await conn.execute("DELETE FROM polls WHERE message_id IS NULL")
        return cursor.rowcount


# -- reading --------------------------------------------------------------------


async def fetch_poll(conn: aiosqlite.Connection, poll_id: int) -> Poll | None:
    rows = list(await conn.execute_fetchall(f"SELECT {_POLL_COLUMNS} FROM polls WHERE id = ?", (poll_id,)))
    if not rows:
        return None
    options = await conn.execute_fetchall(
        "SELECT label FROM poll_options WHERE poll_id = ? ORDER BY option_index", (poll_id,)
    )
    return _poll_from_row(rows[0], [row["label"] for row in options])


async def fetch_guild_poll(conn: aiosqlite.Connection, guild_id: int, poll_id: int) -> Poll | None:
    """A posted poll of this guild, or None (another guild's id is as good as unknown)."""
    poll = await fetch_poll(conn, poll_id)
    if poll is None or poll.guild_id != guild_id or poll.message_id is None:
        return None
    return poll


async def find_guild_polls(
    conn: aiosqlite.Connection, guild_id: int, search: str, *, open_only: bool
) -> list[PollSummary]:
    """Polls of a guild for autocomplete, newest first, matching a question fragment or an id."""
    pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    wanted_id = search.strip().lstrip("#")
    rows = await conn.execute_fetchall(
        "SELECT id, question, closed_at IS NULL AS is_open FROM polls "
        "WHERE guild_id = ? AND message_id IS NOT NULL AND (? = 0 OR closed_at IS NULL) "
        "AND (question LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?) ORDER BY id DESC LIMIT ?",
        (guild_id, int(open_only), pattern, wanted_id, CHOICES_LIMIT),
    )
    return [PollSummary(row["id"], row["question"], bool(row["is_open"])) for row in rows]


async def list_open_polls(conn: aiosqlite.Connection, guild_id: int, *, limit: int) -> list[Poll]:
    rows = await conn.execute_fetchall(
        "SELECT id FROM polls WHERE guild_id = ? AND closed_at IS NULL AND message_id IS NOT NULL "
        "ORDER BY id DESC LIMIT ?",
        (guild_id, limit),
    )
    polls = [await fetch_poll(conn, row["id"]) for row in rows]
    return [poll for poll in polls if poll is not None]


async def count_open_polls(conn: aiosqlite.Connection, guild_id: int) -> int:
    rows = await conn.execute_fetchall(
        "SELECT count(*) FROM polls WHERE guild_id = ? AND closed_at IS NULL AND message_id IS NOT NULL",
        (guild_id,),
    )
    return int(next(iter(rows))[0])


async def read_tally(store: Store, poll_id: int, option_count: int) -> tuple[Tally, int]:
    """The exact counts and the tally version they belong to.

    Read inside the write lock so the counts are committed ones and match the version.
    """
    async with store.transaction() as conn:
        rows = await conn.execute_fetchall(
            "SELECT option_index, count(*) FROM poll_votes WHERE poll_id = ? GROUP BY option_index "
            "UNION ALL SELECT -1, count(DISTINCT user_id) FROM poll_votes WHERE poll_id = ? "
            "UNION ALL SELECT -2, tally_version FROM polls WHERE id = ?",
            (poll_id, poll_id, poll_id),
        )
    values = [(int(row[0]), int(row[1])) for row in rows]
    special = {index: value for index, value in values if index < 0}
    counts = [(index, value) for index, value in values if index >= 0]
    return Tally.from_rows(option_count, counts, special.get(-1, 0)), special.get(-2, 0)


async def member_choices(conn: aiosqlite.Connection, poll_id: int, user_id: int) -> tuple[int, ...]:
    rows = await conn.execute_fetchall(
        "SELECT option_index FROM poll_votes WHERE poll_id = ? AND user_id = ? ORDER BY option_index",
        (poll_id, user_id),
    )
    return tuple(int(row[0]) for row in rows)


@dataclass(frozen=True, slots=True)
class Ballot:
    """One stored vote, for the export of a poll that is not anonymous."""

    user_id: int
    option_index: int
    voted_at: datetime


async def fetch_ballots(conn: aiosqlite.Connection, poll: Poll) -> list[Ballot]:
    """Who voted for what; refuses anonymous polls, whose voters never leave the store."""
    if poll.anonymous:
        raise PermissionError("the voters of an anonymous poll are never read out")
    rows = await conn.execute_fetchall(
        "SELECT user_id, option_index, voted_at FROM poll_votes WHERE poll_id = ? "
        "ORDER BY voted_at, user_id, option_index",
        (poll.id,),
    )
    return [Ballot(row[0], row[1], from_db_time(row[2])) for row in rows]  # type: ignore[arg-type]


# -- voting ---------------------------------------------------------------------


class ClickStatus(enum.Enum):
    APPLIED = "applied"  # the transition says what happened (a refusal over the limit included)
    CLOSED = "closed"
    UNKNOWN_POLL = "unknown_poll"
    UNKNOWN_OPTION = "unknown_option"


@dataclass(frozen=True, slots=True)
class Click:
    poll_id: int
    user_id: int
    option_index: int


@dataclass(frozen=True, slots=True)
class ClickResult:
    status: ClickStatus
    transition: VoteTransition | None = None


@dataclass(frozen=True, slots=True)
class _PollState:
    max_choices: int
    option_count: int
    closed: bool


async def apply_clicks(store: Store, clicks: Sequence[Click], now: datetime) -> list[ClickResult]:
    """Apply clicks in order in ONE transaction; the results are committed when this returns.

    Only the net change per member is written (deletes first, so the schema's
    max_choices trigger sees the final count); a poll whose votes changed gets its
    tally_version bumped so a stale message is noticed even after a crash.
    """
    if not clicks:
        return []
    poll_ids = sorted({click.poll_id for click in clicks})
    marks = ", ".join("?" * len(poll_ids))
    async with store.transaction() as conn:
        poll_rows = await conn.execute_fetchall(
            f"SELECT id, max_choices, (closed_at IS NOT NULL OR closes_at <= ?) AS closed, "
            f"(SELECT count(*) FROM poll_options o WHERE o.poll_id = polls.id) AS option_count "
            f"FROM polls WHERE id IN ({marks}) AND message_id IS NOT NULL",
            (to_db_time(now), *poll_ids),
        )
        polls = {
            row["id"]: _PollState(row["max_choices"], row["option_count"], bool(row["closed"])) for row in poll_rows
        }
        held: dict[tuple[int, int], set[int]] = {}
        for poll_id in polls:
            users = sorted({c.user_id for c in clicks if c.poll_id == poll_id})
            user_marks = ", ".join("?" * len(users))
            rows = await conn.execute_fetchall(
                f"SELECT user_id, option_index FROM poll_votes WHERE poll_id = ? AND user_id IN ({user_marks})",
                (poll_id, *users),
            )
            for user in users:
                held[(poll_id, user)] = set()
            for row in rows:
                held[(poll_id, row[0])].add(row[1])
        before = {key: frozenset(options) for key, options in held.items()}

        results: list[ClickResult] = []
        for click in clicks:
            poll = polls.get(click.poll_id)
            if poll is None:
                results.append(ClickResult(ClickStatus.UNKNOWN_POLL))
            elif poll.closed:
                results.append(ClickResult(ClickStatus.CLOSED))
            elif not 0 <= click.option_index < poll.option_count:
                results.append(ClickResult(ClickStatus.UNKNOWN_OPTION))
            else:
                key = (click.poll_id, click.user_id)
                transition = decide_vote(held[key], click.option_index, poll.max_choices)
                held[key] = set(transition.after)
                results.append(ClickResult(ClickStatus.APPLIED, transition))

        removed = [(p, u, i) for (p, u), now_held in held.items() for i in before[(p, u)] - now_held]
        added = [(p, u, i, to_db_time(now)) for (p, u), now_held in held.items() for i in now_held - before[(p, u)]]
        if removed:
            await conn.executemany(
                "DELETE FROM poll_votes WHERE poll_id = ? AND user_id = ? AND option_index = ?", removed
            )
        if added:
            await conn.executemany(
                "INSERT INTO poll_votes (poll_id, user_id, option_index, voted_at) VALUES (?, ?, ?, ?)", added
            )
        changed = sorted({p for p, *_ in removed} | {p for p, *_ in added})
        if changed:
            await conn.execute(
                f"UPDATE polls SET tally_version = tally_version + 1 WHERE id IN ({', '.join('?' * len(changed))})",
                changed,
            )
    return results


# -- refreshing and closing -----------------------------------------------------


async def mark_rendered(store: Store, poll_id: int, version: int) -> None:
    """The message now shows the tally of ``version`` (never moves backwards)."""
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE polls SET rendered_version = max(rendered_version, ?) WHERE id = ?", (version, poll_id)
        )


async def stale_open_polls(conn: aiosqlite.Connection, owned: Ownership = EVERY_SHARD) -> list[int]:
    """Open polls of owned guilds whose message shows an older tally than the store (after a crash)."""
    mine, shard_params = owned.sql_filter()
    rows = await conn.execute_fetchall(
        "SELECT id FROM polls WHERE closed_at IS NULL AND message_id IS NOT NULL "
        f"AND tally_version != rendered_version AND {mine} ORDER BY id",
        shard_params,
    )
    return [int(row[0]) for row in rows]


async def close_poll(store: Store, poll_id: int, now: datetime, reason: CloseReason) -> bool:
    """Close an open poll; False when it was already closed (a second close changes nothing)."""
    async with store.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE polls SET closed_at = ?, close_reason = ? WHERE id = ? AND closed_at IS NULL "
            "AND message_id IS NOT NULL",
            (to_db_time(now), reason.value, poll_id),
        )
        return cursor.rowcount == 1


async def close_expired_polls(store: Store, now: datetime, owned: Ownership = EVERY_SHARD) -> list[int]:
    """Close every open poll of an owned guild whose deadline is at or before ``now``; returns their ids."""
    mine, shard_params = owned.sql_filter()
    async with store.transaction() as conn:
        rows = await conn.execute_fetchall(
            "UPDATE polls SET closed_at = closes_at, close_reason = 'deadline' "
            "WHERE closed_at IS NULL AND message_id IS NOT NULL AND closes_at IS NOT NULL AND closes_at <= ? "
            f"AND {mine} RETURNING id",
            (to_db_time(now), *shard_params),
        )
    return sorted(int(row[0]) for row in rows)


async def unannounced_polls(conn: aiosqlite.Connection, owned: Ownership = EVERY_SHARD) -> list[int]:
    """Closed polls of owned guilds whose final message edit and results post are still to be done."""
    mine, shard_params = owned.sql_filter()
    rows = await conn.execute_fetchall(
        f"SELECT id FROM polls WHERE closed_at IS NOT NULL AND announced = 0 AND {mine} ORDER BY closed_at, id",
        shard_params,
    )
    return [int(row[0]) for row in rows]


async def mark_announced(store: Store, poll_id: int) -> None:
    async with store.transaction() as conn:
        await conn.execute("UPDATE polls SET announced = 1 WHERE id = ? AND closed_at IS NOT NULL", (poll_id,))


async def next_poll_job(conn: aiosqlite.Connection, owned: Ownership = EVERY_SHARD) -> datetime | None:
    """Over owned guilds: the earliest deadline of an open poll, or the close time of a poll
    not yet announced."""
    mine, shard_params = owned.sql_filter()
    rows = await conn.execute_fetchall(
        "SELECT min(due) FROM ("
        "SELECT min(closes_at) AS due FROM polls WHERE closed_at IS NULL AND message_id IS NOT NULL "
        f"AND closes_at IS NOT NULL AND {mine} "
        f"UNION ALL SELECT min(closed_at) FROM polls WHERE closed_at IS NOT NULL AND announced = 0 AND {mine})",
        (*shard_params, *shard_params),
    )
    return from_db_time(next(iter(rows))[0])


# -- settings -------------------------------------------------------------------


async def fetch_creator_role(conn: aiosqlite.Connection, guild_id: int) -> int | None:
    rows = list(
        await conn.execute_fetchall("SELECT creator_role_id FROM poll_settings WHERE guild_id = ?", (guild_id,))
    )
    return rows[0][0] if rows else None


async def set_creator_role(store: Store, guild_id: int, role_id: int | None) -> None:
    """Restrict poll creation to a role, or lift the restriction with None."""
    async with store.transaction() as conn:
        if role_id is None:
            await conn.execute("DELETE FROM poll_settings WHERE guild_id = ?", (guild_id,))
        else:
            await conn.execute(
                "INSERT INTO poll_settings (guild_id, creator_role_id) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET creator_role_id = excluded.creator_role_id",
                (guild_id, role_id),
            )
