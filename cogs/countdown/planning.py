"""What one pass of the countdown's scheduler does, decided from plain values.

:func:`plan_pass` takes what the store holds (the current record, due retries, schedules
with news, due schedules, the days that already had their post) and how much room the
sending queue has, and returns the :class:`Plan`: which slots to claim, where schedules
move, what is announced, which retries go out and which are abandoned. No I/O: the
posting side reads, plans, then writes (``posting.CountdownPosts.run_due``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cogs.countdown.record import ReleaseRecord
from cogs.countdown.repo import Advance, Claim, Occasion, PostJob, Schedule
from cogs.countdown.slots import PostingRule, Slot, catch_up, next_open_slot

#: How long Discord is trusted to de-duplicate a nonce ("a few minutes"); no resend after it.
NONCE_GRACE = dt.timedelta(minutes=2)


def slot_nonce(guild_id: int, slot_key: str) -> str:
    """The nonce of every attempt at one slot: stable, and within Discord's 25 characters."""
    return hashlib.sha256(f"countdown:{guild_id}:{slot_key}".encode()).hexdigest()[:25]


def change_slot_key(change_id: int) -> str:
    return f"change:{change_id}"


def plan_next_slot(
    rule: PostingRule, record: ReleaseRecord | None, after: dt.datetime, posted: frozenset[dt.date] = frozenset()
) -> tuple[Slot | None, tuple[Slot, ...]]:
    """The next regular slot of ``rule`` under the current release record, and the slots
    passed over because their local day already had its post (``posted``)."""
    return next_open_slot(
        rule,
        after,
        release_start=record.window.start if record else None,
        last_day=record.release_day if record else None,
        posted=posted,
    )


def next_slot_for(
    schedule: Schedule, record: ReleaseRecord | None, after: dt.datetime, posted: frozenset[dt.date] = frozenset()
) -> Slot | None:
    """A schedule's next regular slot on a day that has not had its post yet (a ``repo.Reschedule``)."""
    return plan_next_slot(schedule.rule, record, after, posted)[0]


@dataclass(frozen=True, slots=True)
class Passed:
    """A regular slot of a due schedule that is not posted, and why: its local day already had
    its post, or the bot could only post it too late (:data:`cogs.countdown.slots.LATE_LIMIT`)."""

    guild_id: int
    slot: Slot
    reason: Literal["already_posted", "too_late"]


@dataclass(frozen=True, slots=True)
class Plan:
    """One pass: claims to write with the schedules' moves, the news marked announced and the
    retries taken (one transaction), slots to abandon, and the slots passed over (in order)."""

    claims: tuple[Claim, ...] = ()
    advances: tuple[Advance, ...] = ()
    announced: tuple[tuple[int, int], ...] = ()
    retries: tuple[tuple[int, str], ...] = ()
    abandoned: tuple[PostJob, ...] = ()
    passed: tuple[Passed, ...] = ()

    @property
    def claims_anything(self) -> bool:
        """Whether the claiming transaction has anything to write."""
        return bool(self.claims or self.advances or self.announced or self.retries)


def plan_pass(
    now: dt.datetime,
    record: ReleaseRecord | None,
    *,
    due_retries: Sequence[PostJob],
    with_news: Sequence[Schedule],
    due: Sequence[Schedule],
    posted: Mapping[int, frozenset[dt.date]],
    in_flight: Collection[tuple[int, str]],
    room: int,
) -> Plan:
    """What to do now with at most ``room`` jobs queued: retries first, then news, then due slots.

    ``due_retries`` (earliest first), ``with_news`` (by guild) and ``due`` (earliest first) are
    read with at most ``room`` each; ``posted`` holds the days that already had their post
    per guild of ``due``. A retry still being sent (``in_flight``) is left alone; one claimed
    longer than :data:`NONCE_GRACE` ago is abandoned, never resent (it may have arrived).
    """
    retries: list[tuple[int, str]] = []
    abandoned: list[PostJob] = []
    for job in due_retries[:room]:
        key = (job.claim.guild_id, job.claim.slot_key)
        if key in in_flight:
            continue
        if now - job.claimed_at > NONCE_GRACE:
            abandoned.append(job)
        else:
            retries.append(key)
    room -= len(retries)

    claims: list[Claim] = []
    announced: list[tuple[int, int]] = []
    if record is not None and room > 0:
        change_key = change_slot_key(record.id)
        for schedule in with_news[:room]:
            claims.append(_claim(schedule, change_key, "change", record.id, now))
            announced.append((schedule.guild_id, record.id))
        room -= len(claims)

    advances: list[Advance] = []
    passed: list[Passed] = []
    if room > 0:
        release_start = record.window.start if record else None
        for schedule in due[:room]:
            slot = schedule.next_slot(release_start)
            assert slot is not None, "a due schedule has a next slot"
            catchup = catch_up(
                schedule.rule,
                slot,
                now,
                release_start=release_start,
                last_day=record.release_day if record else None,
                posted=posted.get(schedule.guild_id, frozenset()),
            )
            passed += (Passed(schedule.guild_id, early, "already_posted") for early in catchup.already_posted)
            passed += (Passed(schedule.guild_id, missed, "too_late") for missed in catchup.skipped)
            advances.append(Advance(schedule.guild_id, catchup.next_slot, moves_from=slot))
            if catchup.slot is not None:
                occasion: Occasion = "milestone" if catchup.slot.milestone is not None else "scheduled"
                claims.append(
                    _claim(schedule, catchup.slot.key, occasion, record.id if record else 0, catchup.slot.due_at)
                )

    return Plan(
        claims=tuple(claims),
        advances=tuple(advances),
        announced=tuple(announced),
        retries=tuple(retries),
        abandoned=tuple(abandoned),
        passed=tuple(passed),
    )


def _claim(schedule: Schedule, slot_key: str, occasion: Occasion, change_id: int, due_at: dt.datetime) -> Claim:
    return Claim(
        schedule.guild_id,
        slot_key,
        schedule.channel_id,
        schedule.mode,
        occasion,
        change_id,
        slot_nonce(schedule.guild_id, slot_key),
        due_at,
    )
