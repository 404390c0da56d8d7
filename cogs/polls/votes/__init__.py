"""The vote path: what a batch of clicks does to the votes, the same on either database.

The rule, stated once here (in Python it is :func:`cogs.polls.rules.decide_vote`; on
PostgreSQL the function ``poll_apply_clicks`` of revisions 0006 and 0007):

The clicks of a batch are applied in arrival order in ONE transaction, each judged on
what the clicks before it left; the results are committed when :func:`apply_clicks`
returns. Each click gets a status:

- ``unknown_poll``: no posted poll has that id (a poll whose message is not posted yet
  takes no votes);
- ``closed``: the poll is closed, or its deadline is at or before the batch's time
  (the scheduler may not have closed it yet);
- ``unknown_option``: the poll has no option of that index;
- ``applied``: the click's transition (the member's choices before and after) says what
  it did: ``retracted`` (a chosen option is unchosen), ``voted`` (a free slot, fewer than
  max_choices held, takes the vote), ``moved`` (one choice allowed and taken: the vote
  moves to the clicked option), ``refused_limit`` (several allowed, none free: nothing
  changes).

The rows a batch leaves are those its clicks leave one after the other. Each poll whose
votes a batch changed (the net change: a vote and its retraction change nothing) gets its
``tally_version`` bumped once, so a message showing an older tally is noticed, even after
a crash. The schema's triggers refuse a double vote, a vote beyond max_choices and a vote
on a closed poll, whatever the code above them does.

Each database applies the rule its own fastest way, one module each: :mod:`.sqlite`
decides in Python on the store's synchronous connection, :mod:`.postgresql` runs the
whole batch on the server in one round trip. ``tests/test_polls_votes.py`` runs random
click sequences through both and holds them to the same results and rows.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from bot.store import Store
from cogs.polls.votes import postgresql, sqlite
from cogs.polls.votes.clicks import Click, ClickResult, ClickStatus

__all__ = ["Click", "ClickResult", "ClickStatus", "apply_clicks"]

ApplyClicks = Callable[[Store, Sequence[Click], datetime], Coroutine[Any, Any, list[ClickResult]]]

_APPLY_ON: dict[str, ApplyClicks] = {"sqlite": sqlite.apply_clicks, "postgresql": postgresql.apply_clicks}


def apply_clicks(store: Store, clicks: Sequence[Click], now: datetime) -> Coroutine[Any, Any, list[ClickResult]]:
    """Apply ``clicks`` in order in one transaction (the rule above); await the results.

    Returns the store's database's own coroutine, so the vote path costs no frame here.
    """
    return _APPLY_ON[store.dialect](store, clicks, now)
