"""What members see of a poll, within Discord's limits, without Discord."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from cogs.polls.export import ballots_csv, counts_csv
from cogs.polls.render import poll_embed, results_embed, vote_answer, vote_buttons
from cogs.polls.repo import Ballot, CloseReason, Poll
from cogs.polls.rules import decide_vote
from cogs.polls.tally import Tally
from cogs.polls.votes import ClickResult, ClickStatus

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# Every character the escaper doubles, so escaped labels are as long as they get.
NASTY = "*_~`|>#-+[]():@\\"


def make_poll(options: tuple[str, ...] = ("On-jo", "Su-hyeok"), **changes: object) -> Poll:
    fields: dict[str, object] = {
        "id": 12,
        "guild_id": 1,
        "channel_id": 2,
        "message_id": 3,
        "creator_id": 4,
        "question": "Who returns in season 2?",
        "options": options,
        "max_choices": 1,
        "anonymous": False,
        "hide_results": False,
        "spoiler": False,
        "created_at": NOW,
        "closes_at": NOW + timedelta(hours=2),
        "closed_at": None,
        "close_reason": None,
        "announced": False,
    }
    fields.update(changes)
    return Poll(**fields)  # type: ignore[arg-type]


def embed_length(embed_dict: dict) -> int:
    fields = embed_dict.get("fields") or []
    return (
        len(embed_dict.get("title") or "")
        + len(embed_dict.get("description") or "")
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
        + len((embed_dict.get("footer") or {}).get("text") or "")
    )


def nasty_options() -> tuple[str, ...]:
    return tuple((f"{n:02d}" + NASTY * 6)[:80] for n in range(20))


@pytest.mark.parametrize("closed", [False, True])
@pytest.mark.parametrize("spoiler", [False, True])
def test_twenty_long_markdown_options_fit_every_discord_limit(closed: bool, spoiler: bool) -> None:
    poll = make_poll(
        nasty_options(),
        question=(NASTY * 20)[:256],
        max_choices=20,
        spoiler=spoiler,
        closed_at=NOW if closed else None,
        close_reason=CloseReason.COMMAND if closed else None,
    )
    tally = Tally(tuple(range(1000, 1020)), voters=5000)
    for embed in (
        poll_embed(poll, tally, openly=False, locale=None),
        results_embed(poll, tally, openly=False, locale=None),
    ):
        data = embed.to_dict()
        assert len(data["title"]) <= 256
        assert len(data["description"]) <= 4096
        assert embed_length(data) <= 6000
        assert all(len(f["value"]) <= 1024 and len(f["name"]) <= 256 for f in data.get("fields", []))
    specs = vote_buttons(poll, openly=False)
    assert [s.row for s in specs] == [r for r in range(4) for _ in range(5)]
    assert all(1 <= len(s.label) <= 80 for s in specs)
    assert all(s.disabled for s in specs) == closed
    answer = vote_answer(poll, ClickResult(ClickStatus.APPLIED, decide_vote(range(19), 19, 20)), None)
    assert len(answer) <= 2000


def test_a_spoiler_poll_outside_spoiler_channels_numbers_its_buttons_and_bars_its_options() -> None:
    poll = make_poll(("Cheong-san lives", "Cheong-san dies"), spoiler=True)
    assert [s.label for s in vote_buttons(poll, openly=False)] == ["1", "2"]
    assert [s.label for s in vote_buttons(poll, openly=True)] == ["Cheong-san lives", "Cheong-san dies"]
    hidden = poll_embed(poll, Tally((1, 2), 3), openly=False, locale=None)
    assert "**1.** ||Cheong\\-san lives||" in (hidden.description or "")
    assert "Cheong-san" not in (hidden.title or "")
    shown = poll_embed(poll, Tally((1, 2), 3), openly=True, locale=None)
    assert "||" not in (shown.description or "")


def test_hidden_results_show_no_counts_until_closed() -> None:
    poll = make_poll(hide_results=True)
    tally = Tally((5, 7), voters=12)
    open_text = str(poll_embed(poll, tally, openly=True, locale=None).to_dict())
    assert "12 voted" in open_text
    assert "**7**" not in open_text
    assert "%" not in open_text
    results = results_embed(poll, tally, openly=True, locale=None)
    assert "hidden until it closes" in (results.description or "")
    closed = make_poll(hide_results=True, closed_at=NOW, close_reason=CloseReason.COMMAND)
    final = results_embed(closed, tally, openly=True, locale=None)
    assert "🏆 **2.** Su\\-hyeok · **7** (58%)" in (final.description or "")


def test_a_tie_names_every_winner() -> None:
    poll = make_poll(closed_at=NOW, close_reason=CloseReason.DEADLINE)
    embed = results_embed(poll, Tally((4, 4), 8), openly=True, locale=None).to_dict()
    assert {"name": "Winner", "value": "A tie: On\\-jo, Su\\-hyeok", "inline": True} in embed["fields"]


def test_the_export_of_an_anonymous_poll_holds_counts_and_no_voter() -> None:
    poll = make_poll(("=SUM(A1)", "plain"), anonymous=True)
    rows = list(csv.reader(io.StringIO(counts_csv(poll, Tally((2, 1), 3)).decode())))
    assert rows == [
        ["poll_id", "option_number", "option", "votes", "percent"],
        ["12", "1", "'=SUM(A1)", "2", "67"],
        ["12", "2", "plain", "1", "33"],
    ]
    with pytest.raises(PermissionError):
        ballots_csv(poll, [Ballot(99, 0, NOW)])


def test_the_export_of_an_open_poll_has_one_row_per_vote() -> None:
    poll = make_poll()
    rows = list(csv.DictReader(io.StringIO(ballots_csv(poll, [Ballot(99, 1, NOW)]).decode())))
    assert rows == [
        {"poll_id": "12", "user_id": "99", "option_number": "2", "option": "Su-hyeok", "voted_at": NOW.isoformat()}
    ]
