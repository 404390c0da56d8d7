"""A click on a vote button and what it did: the plain values of the vote path."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cogs.polls.rules import VoteTransition


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
