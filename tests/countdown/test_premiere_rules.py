"""The premiere event's and the notify role's rules, as plain values (no Discord, no store)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.datapack.release import PremiereTime
from cogs.countdown.notify import RoleFacts, notify_role_problem
from cogs.countdown.premiere import event_step, premiere_start
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.repo.events import EventRow
from cogs.countdown.window import ReleaseWindow

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
PACIFIC_MIDNIGHT = PremiereTime(time=dt.time(0, 0), zone="America/Los_Angeles", source="netflix-help-release-time")
START = dt.datetime(2027, 3, 14, 8, tzinfo=dt.UTC)


def record(window: ReleaseWindow, confidence: str = "confirmed") -> ReleaseRecord:
    return ReleaseRecord(
        awaited="Season 2",
        window=window,
        confidence=confidence,  # type: ignore[arg-type]
        source_title="Netflix",
        source_url=None,
        source_date=dt.date(2026, 12, 1),
        origin="owner",
        recorded_at=NOW,
    )


DAY = ReleaseWindow("day", dt.date(2027, 3, 14), dt.date(2027, 3, 14), "2027-03-14")
QUARTER = ReleaseWindow("quarter", dt.date(2027, 1, 1), dt.date(2027, 3, 31), "2027-Q1")


def test_the_premiere_starts_at_the_sourced_time_in_its_own_zone() -> None:
    assert premiere_start(record(DAY), PACIFIC_MIDNIGHT) == START  # PST: DST begins at 02:00 that day
    summer = ReleaseWindow("day", dt.date(2027, 7, 2), dt.date(2027, 7, 2), "2027-07-02")
    assert premiere_start(record(summer), PACIFIC_MIDNIGHT) == dt.datetime(2027, 7, 2, 7, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("rec", "time"),
    [
        (record(QUARTER), PACIFIC_MIDNIGHT),  # no single day
        (record(DAY, "estimated"), PACIFIC_MIDNIGHT),  # a day nobody confirmed
        (record(DAY), None),  # no sourced time of day: never guessed
        (None, PACIFIC_MIDNIGHT),
    ],
)
def test_there_is_no_premiere_time_without_a_confirmed_day_and_a_sourced_time(
    rec: ReleaseRecord | None, time: PremiereTime | None
) -> None:
    assert premiere_start(rec, time) is None


def row(enabled: bool = True, state: str | None = None, starts_at: dt.datetime | None = None) -> EventRow:
    return EventRow(1, enabled, state, 9 if state == "live" else None, starts_at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "target", "step"),
    [
        (row(), START, "create"),
        (row(), None, None),
        (row(enabled=False), START, None),
        (row(state="creating", starts_at=START), START, "recover"),
        (row(enabled=False, state="creating"), START, "recover"),
        (row(state="live", starts_at=START), START, None),
        (row(state="live", starts_at=START), START + dt.timedelta(days=3), "edit"),
        (row(state="live", starts_at=START), None, "delete"),
        (row(enabled=False, state="live", starts_at=START), START, "delete"),
        (row(state="failed", starts_at=START), START, None),
        (row(state="failed", starts_at=START), START + dt.timedelta(days=1), "retry"),
        (row(state="failed", starts_at=START), None, "forget"),
        (row(), NOW - dt.timedelta(hours=1), None),  # past: Discord refuses events in the past
        (row(state="live", starts_at=START), NOW - dt.timedelta(hours=1), None),
    ],
)
def test_each_server_gets_the_step_that_makes_its_event_match(
    event: EventRow, target: dt.datetime | None, step: str | None
) -> None:
    assert event_step(event, target, NOW) == step


def facts(**changes: bool) -> RoleFacts:
    values = {"is_everyone": False, "managed": False, "bot_may_manage_roles": True, "below_bot_top_role": True}
    values.update(changes)
    return RoleFacts(**values)


@pytest.mark.parametrize(
    ("role", "problem"),
    [
        (facts(), None),
        (facts(is_everyone=True), "everyone"),
        (facts(is_everyone=True, managed=True, bot_may_manage_roles=False), "everyone"),
        (facts(managed=True), "managed"),
        (facts(bot_may_manage_roles=False), "no_manage_roles"),
        (facts(below_bot_top_role=False), "above_bot"),
        (facts(pings=False), "not_mentionable"),
        (RoleFacts(False, False, True, False, bot_owns_server=True), None),
    ],
)
def test_a_notify_role_is_refused_for_its_first_problem(role: RoleFacts, problem: str | None) -> None:
    assert notify_role_problem(role) == problem
