"""The release watch's findings (``release_watch_findings``): each thing TVmaze said, proposed once.

A finding is claimed (its unique key inserted) before its proposal is posted, so two
processes, or one restarted, never post it twice: whoever inserts the key posts. A claim
whose process died before posting is taken over after :data:`CLAIM_STALE_AFTER`. An owner's
decision moves a proposed finding on once (compare and set), so two clicks decide once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, select, update

from bot.store import ReadConnection, Store, dialect_insert
from bot.store.schema import release_watch_findings as findings
from cogs.countdown.watch import Finding

State = Literal["claimed", "proposed", "confirmed", "estimated", "dismissed", "superseded"]
Decision = Literal["confirmed", "estimated", "dismissed"]

#: A claim not followed by a posted proposal within this long is taken to be a dead process's.
CLAIM_STALE_AFTER = dt.timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class StoredFinding:
    id: int
    finding: Finding
    state: State
    message_id: int | None
    decided_by: int | None


def _stored(row: Row[Any]) -> StoredFinding:
    values = row._mapping
    return StoredFinding(
        id=int(values["id"]),
        finding=Finding(
            show_id=int(values["show_id"]),
            season=int(values["season"]),
            day=values["premiere_date"],
            airstamp=values["airstamp"],
            retrieved_at=values["retrieved_at"],
            url=None,
        ),
        state=values["state"],
        message_id=values["message_id"],
        decided_by=values["decided_by"],
    )


async def fetch_by_key(conn: ReadConnection, key: str) -> StoredFinding | None:
    row = (await conn.execute(select(findings).where(findings.c.finding_key == key))).first()
    return None if row is None else _stored(row)


async def fetch_finding(conn: ReadConnection, finding_id: int) -> StoredFinding | None:
    row = (await conn.execute(select(findings).where(findings.c.id == finding_id))).first()
    return None if row is None else _stored(row)


async def fetch_findings(conn: ReadConnection) -> list[StoredFinding]:
    """Every finding, oldest first (for tests and operators)."""
    return [_stored(row) for row in await conn.execute(select(findings).order_by(findings.c.id))]


async def claim(store: Store, finding: Finding, now: dt.datetime) -> StoredFinding | None:
    """This process's right to propose ``finding``, or None when it is already known (proposed,
    decided, or being posted by another process). A new finding supersedes the proposals still
    open for the same season: their buttons then say TVmaze has changed since."""
    async with store.transaction() as conn:
        inserted = await conn.execute(
            dialect_insert(conn, findings)
            .values(
                finding_key=finding.key,
                show_id=finding.show_id,
                season=finding.season,
                premiere_date=finding.day,
                airstamp=finding.airstamp,
                retrieved_at=finding.retrieved_at,
                state="claimed",
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=[findings.c.finding_key])
            .returning(findings.c.id)
        )
        new_id = inserted.scalar_one_or_none()
        if new_id is not None:
            await conn.execute(
                update(findings)
                .where(findings.c.show_id == finding.show_id, findings.c.season == finding.season)
                .where(findings.c.state == "proposed", findings.c.id != new_id)
                .values(state="superseded")
            )
            return StoredFinding(int(new_id), finding, "claimed", None, None)
        known = await fetch_by_key(conn, finding.key)
        if known is None or known.state != "claimed":
            return None
        taken = await conn.execute(
            update(findings)
            .where(findings.c.id == known.id, findings.c.state == "claimed")
            .where(findings.c.claimed_at < now - CLAIM_STALE_AFTER)
            .values(claimed_at=now, retrieved_at=finding.retrieved_at)
        )
        if taken.rowcount != 1:
            return None
        return StoredFinding(known.id, finding, "claimed", None, None)


async def mark_proposed(store: Store, finding_id: int, channel_id: int, message_id: int) -> None:
    async with store.transaction() as conn:
        await conn.execute(
            update(findings)
            .where(findings.c.id == finding_id, findings.c.state == "claimed")
            .values(state="proposed", channel_id=channel_id, message_id=message_id)
        )


async def release_claim(store: Store, finding_id: int) -> None:
    """The proposal could not be posted: forget the claim, so a later look proposes it again."""
    async with store.transaction() as conn:
        await conn.execute(findings.delete().where(findings.c.id == finding_id, findings.c.state == "claimed"))


async def decide(store: Store, finding_id: int, decision: Decision, by: int, now: dt.datetime) -> bool:
    """Move a proposed finding to ``decision``; False when it was not open (decided meanwhile)."""
    async with store.transaction() as conn:
        result = await conn.execute(
            update(findings)
            .where(findings.c.id == finding_id, findings.c.state == "proposed")
            .values(state=decision, decided_by=by, decided_at=now)
        )
    return bool(result.rowcount == 1)


async def reopen(store: Store, finding_id: int, decision: Decision) -> None:
    """Undo :func:`decide` when the recording it led to failed (the owner may press again)."""
    async with store.transaction() as conn:
        await conn.execute(
            update(findings)
            .where(findings.c.id == finding_id, findings.c.state == decision)
            .values(state="proposed", decided_by=None, decided_at=None)
        )
