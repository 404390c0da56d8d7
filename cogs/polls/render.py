"""What members see of a poll: its message, its results, the answer to a click.

Pure rendering (no I/O) within Discord's limits: 20 options are 4 rows of 5
buttons, a label is at most 80 characters, a description at most 4096. User text
is escaped by the one spoiler renderer's escaper; options of a spoiler poll go
behind bars where the channel does not show spoilers openly, and then the buttons
carry only numbers, because a button label cannot hide anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import discord

from bot.i18n import Counted, Locale, format_percent, t
from bot.spoilers import EMBED_DESCRIPTION_LIMIT, join_lines_within, render_open_text, wrap_spoiler
from cogs.polls.repo import CloseReason, Poll
from cogs.polls.rules import VoteChange
from cogs.polls.tally import OptionResult, Tally, option_results
from cogs.polls.votes import ClickResult, ClickStatus

TITLE_LIMIT = 256
BUTTON_LABEL_LIMIT = 80
BUTTONS_PER_ROW = 5
OPEN_COLOUR = discord.Colour.blurple()
CLOSED_COLOUR = discord.Colour.dark_grey()
WINNER_MARK = "🏆"
#: Room for option names in the private answer to a click (the message limit is 2000).
ANSWER_OPTION_LIMIT = 100
ANSWER_CHOICES_LIMIT = 1500


@dataclass(frozen=True, slots=True)
class VoteButtonSpec:
    """One vote button: which option, its label, its row, whether it still works."""

    index: int
    label: str
    row: int
    disabled: bool


def discord_time(moment: datetime, style: str) -> str:
    """A Discord timestamp: every reader sees it in their own time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def option_text(poll: Poll, index: int, *, openly: bool, limit: int = 400) -> str:
    """An option as shown in text: escaped, and behind bars in a spoiler poll unless shown openly."""
    return _shown_option(poll.options[index], poll.spoiler and not openly, limit)


@lru_cache(maxsize=1024)
def _shown_option(label: str, hidden: bool, limit: int) -> str:
    """Options never change, and every vote's answer names one or two: each is escaped once, not per click."""
    return wrap_spoiler(label, limit=limit) if hidden else render_open_text(label, limit=limit)


def numbered_option(poll: Poll, index: int, *, openly: bool) -> str:
    return f"**{index + 1}.** {option_text(poll, index, openly=openly)}"


def question_title(poll: Poll, locale: Locale, key: str = "polls.message.title") -> str:
    """The question as an embed title (titles can hold markdown, so it is escaped)."""
    room = TITLE_LIMIT - len(t(key, locale, question=""))
    return t(key, locale, question=render_open_text(poll.question, limit=room))


def vote_buttons(poll: Poll, *, openly: bool) -> list[VoteButtonSpec]:
    """One button per option, five to a row; numbers only where option texts are spoilers."""
    hidden = poll.spoiler and not openly
    return [
        VoteButtonSpec(
            index=index,
            label=str(index + 1) if hidden else label[:BUTTON_LABEL_LIMIT],
            row=index // BUTTONS_PER_ROW,
            disabled=not poll.is_open,
        )
        for index, label in enumerate(poll.options)
    ]


def _result_block(poll: Poll, result: OptionResult, *, openly: bool, locale: Locale) -> str:
    mark = f"{WINNER_MARK} " if result.winner and not poll.is_open else ""
    line = t(
        "polls.message.option_counted",
        locale,
        mark=mark,
        option=numbered_option(poll, result.index, openly=openly),
        count=result.count,
        percent=format_percent(result.percent / 100, locale),
    )
    return f"{line}\n`{result.bar}`"


def option_lines(poll: Poll, tally: Tally | None, *, openly: bool, locale: Locale) -> str:
    """The options, with counts, shares and bars when the tally may be shown (None: not yet)."""
    if tally is None:
        blocks = [numbered_option(poll, index, openly=openly) for index in range(len(poll.options))]
    else:
        blocks = [
            _result_block(poll, result, openly=openly, locale=locale) for result in option_results(poll.options, tally)
        ]
    return join_lines_within(
        blocks, EMBED_DESCRIPTION_LIMIT, more=lambda count: t("polls.message.more_options", locale, count=count)
    )


def _voters_line(poll: Poll, tally: Tally, locale: Locale) -> str:
    if poll.max_choices > 1 and poll.results_visible:
        return t(
            "polls.message.voters_and_votes",
            locale,
            voters=t("polls.message.voters", locale, count=tally.voters),
            votes=Counted("units.votes", tally.votes),
        )
    return t("polls.message.voters", locale, count=tally.voters)


def _closing_line(poll: Poll, locale: Locale) -> str:
    if poll.closed_at is not None:
        return discord_time(poll.closed_at, "f")
    if poll.closes_at is not None:
        return t(
            "polls.message.closes_at",
            locale,
            relative=discord_time(poll.closes_at, "R"),
            when=discord_time(poll.closes_at, "f"),
        )
    return t("polls.message.no_deadline", locale)


def _closing_name(poll: Poll, locale: Locale) -> str:
    return t("polls.message.closing" if poll.is_open else "polls.message.closed", locale)


def _footer(poll: Poll, locale: Locale) -> str:
    parts = [t("polls.message.footer_id", locale, id=str(poll.id))]
    if poll.anonymous:
        parts.append(t("polls.message.footer_anonymous", locale))
    if poll.hide_results:
        parts.append(t("polls.message.footer_hidden", locale))
    if poll.spoiler:
        parts.append(t("polls.message.footer_spoiler", locale))
    return " · ".join(parts)


def poll_embed(poll: Poll, tally: Tally, *, openly: bool, locale: Locale) -> discord.Embed:
    """The poll message: question, options (with the tally unless hidden), creator, closing time."""
    embed = discord.Embed(
        title=question_title(poll, locale),
        description=option_lines(poll, tally if poll.results_visible else None, openly=openly, locale=locale),
        colour=OPEN_COLOUR if poll.is_open else CLOSED_COLOUR,
    )
    embed.add_field(name=t("polls.message.votes", locale), value=_voters_line(poll, tally, locale))
    choices_key = "polls.message.pick_one" if poll.max_choices == 1 else "polls.message.pick_up_to"
    embed.add_field(name=t("polls.message.choices", locale), value=t(choices_key, locale, count=poll.max_choices))
    embed.add_field(name=t("polls.message.created_by", locale), value=f"<@{poll.creator_id}>")
    embed.add_field(name=_closing_name(poll, locale), value=_closing_line(poll, locale), inline=False)
    if poll.is_open and poll.hide_results:
        embed.add_field(name=t("polls.message.results", locale), value=t("polls.message.results_hidden", locale))
    embed.set_footer(text=_footer(poll, locale))
    return embed


def results_embed(poll: Poll, tally: Tally, *, openly: bool, locale: Locale) -> discord.Embed:
    """Counts, shares, bars and the winner; while hide_results holds, only the number of voters."""
    key = "polls.results.final_title" if not poll.is_open else "polls.results.title"
    embed = discord.Embed(
        title=question_title(poll, locale, key),
        colour=CLOSED_COLOUR if not poll.is_open else OPEN_COLOUR,
    )
    if poll.results_visible:
        embed.description = option_lines(poll, tally, openly=openly, locale=locale)
    else:
        embed.description = t("polls.results.hidden", locale)
    embed.add_field(name=t("polls.message.votes", locale), value=_voters_line(poll, tally, locale))
    if not poll.is_open:
        winners = [r for r in option_results(poll.options, tally) if r.winner]
        embed.add_field(name=t("polls.results.winner", locale), value=_winner_line(poll, winners, openly, locale))
    embed.add_field(name=_closing_name(poll, locale), value=_closing_line(poll, locale), inline=False)
    embed.set_footer(text=_footer(poll, locale))
    return embed


def _winner_line(poll: Poll, winners: Sequence[OptionResult], openly: bool, locale: Locale) -> str:
    if not winners:
        return t("polls.results.no_votes", locale)
    names = ", ".join(option_text(poll, w.index, openly=openly, limit=100) for w in winners)
    key = "polls.results.tie" if len(winners) > 1 else "polls.results.winner_is"
    return t(key, locale, options=names)[:1024]


def close_notice(poll: Poll, locale: Locale) -> str:
    """The line above the posted results: why the poll closed."""
    reason = poll.close_reason or CloseReason.COMMAND
    return t(f"polls.results.closed_by_{reason.value}", locale, id=str(poll.id))


def choices_text(poll: Poll, choices: Sequence[int], locale: Locale) -> str:
    """A member's choices, named; spoiler options behind bars (the answer does not know the channel)."""
    if not choices:
        return t("polls.vote.no_choices", locale)
    named = ", ".join(_answer_option(poll, index) for index in choices)
    if len(named) > ANSWER_CHOICES_LIMIT:
        named = ", ".join(f"**{index + 1}.**" for index in choices)
    return t("polls.vote.your_choices", locale, choices=named)


def _answer_option(poll: Poll, index: int) -> str:
    return f"**{index + 1}.** {option_text(poll, index, openly=not poll.spoiler, limit=ANSWER_OPTION_LIMIT)}"


def vote_answer(poll: Poll, result: ClickResult, locale: Locale) -> str:
    """The private answer to a click: what it did and the member's choices now."""
    if result.status is ClickStatus.CLOSED:
        return t("polls.vote.closed", locale)
    if result.status is not ClickStatus.APPLIED or result.transition is None:
        return t("polls.vote.gone", locale)
    transition = result.transition
    clicked = _answer_option(poll, transition.clicked)
    if transition.change is VoteChange.REFUSED_LIMIT:
        head = t("polls.vote.refused_limit", locale, count=Counted("units.options", poll.max_choices), option=clicked)
    elif transition.change is VoteChange.MOVED:
        previous = _answer_option(poll, transition.before[0])
        head = t("polls.vote.moved", locale, previous=previous, option=clicked)
    elif transition.change is VoteChange.RETRACTED:
        head = t("polls.vote.retracted", locale, option=clicked)
    else:
        head = t("polls.vote.voted", locale, option=clicked)
    return f"{head}\n{choices_text(poll, transition.after, locale)}"
