"""When the premiere event starts, and what each server's event needs next: pure rules.

The event exists only while the record names one day Netflix confirmed (``release_day``)
and the pack gives a sourced time of day and zone for releases: the bot never guesses a
time. It lasts :data:`EVENT_LENGTH` (Discord requires an end for an external event).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from bot.datapack.release import PremiereTime
from cogs.countdown.record import ReleaseRecord
from cogs.countdown.repo.events import EventRow

#: An external event needs an end; the premiere is a moment, marked as one hour.
EVENT_LENGTH = dt.timedelta(hours=1)

Step = Literal["create", "retry", "recover", "edit", "delete", "forget"]


def premiere_start(record: ReleaseRecord | None, premiere_time: PremiereTime | None) -> dt.datetime | None:
    """The premiere's start (UTC), or None while there is no confirmed day or no sourced time."""
    if record is None or premiere_time is None or record.release_day is None:
        return None
    return premiere_time.on(record.release_day)


def event_step(row: EventRow, target: dt.datetime | None, now: dt.datetime) -> Step | None:
    """What a server's event needs so that it matches ``target`` (None: there must be none).

    - no row: ``create`` when events are on and there is a target;
    - ``creating`` (claimed, Discord's answer never recorded): ``recover`` (look for it first);
    - events off or no target: ``delete`` a live event, ``forget`` a refused one;
    - a live event at another time: ``edit``; a refused one for another time: ``retry``;
    - a target already past: nothing new is made (Discord refuses events in the past).
    """
    wanted = row.enabled and target is not None
    if row.state is None:
        return "create" if wanted and target is not None and target > now else None
    if row.state == "creating":
        return "recover"
    if not wanted:
        return "delete" if row.state == "live" else "forget"
    if row.starts_at == target:
        return None
    if target is not None and target <= now:
        return None
    return "edit" if row.state == "live" else "retry"
