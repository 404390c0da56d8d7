"""/survivors as plain data, from the real data pack: who survived, and nothing shown by accident."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.datapack import DataPack, load_data_pack
from bot.spoilers import FIELD_VALUE_LIMIT, SpoilerContext
from cogs.spoilers.survivors import VERSIONS, parse_version, survivors_page
from tests.support.spoilers import discord_display

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def pack() -> DataPack:
    return load_data_pack(DATA_DIR)


def shown_and_hidden(body: str) -> tuple[str, str]:
    shown, spoilers = discord_display(body)
    return shown, "\n".join(discord_display(s)[0] for s in spoilers)


def names(pack: DataPack, ids: list[str]) -> list[str]:
    by_id = {c.id: c.name for c in pack.characters}
    return [by_id[i] for i in ids]


def test_the_series_lists_every_student_under_one_heading_and_the_adults(pack: DataPack) -> None:
    page = survivors_page(pack, "series", SpoilerContext(openly=True), notice="n")
    sections = {s.heading: s.body for s in page.sections}
    # No heading sorts the students by fate: the open fate is with the survivors.
    assert list(sections) == ["The students", "Adults who shaped the outbreak", "How it ended"]
    students = sections["The students"]
    for name in (
        "Nam On Jo",
        "Lee Su Hyeok",
        "Choi Nam Ra",
        "Yang Dae Su",
        "Seo Hyo Ryung",
        "Jang Ha Ri",
        "Park Mi Jin",
        "Lee Cheong San",
    ):
        assert name in students
    assert "…and" not in students, "every student fits"
    assert "confirmed alive" in students
    adults = sections["Adults who shaped the outbreak"]
    assert "science teacher" in adults
    assert "detective" in adults
    assert "September 18, 2025" in page.footer
    assert "Bleak Zombie K-Drama Ends" in page.footer, "the source of the two added students is named"


def test_the_webtoon_has_only_its_three_survivors(pack: DataPack) -> None:
    page = survivors_page(pack, "webtoon", SpoilerContext(openly=True), notice="n")
    (section,) = page.sections
    listed = [name for name in (c.name for c in pack.characters) if name in section.body]
    assert sorted(listed) == sorted(names(pack, [e.character for e in pack.survivors.webtoon]))
    assert sorted(listed) == ["Choi Nam Ra", "Lee Su Hyeok", "Nam On Jo"]


def test_compare_lists_every_difference_under_its_topic(pack: DataPack) -> None:
    page = survivors_page(pack, "compare", SpoilerContext(openly=False), notice="n")
    (section,) = page.sections
    shown, hidden = shown_and_hidden(section.body)
    for difference in pack.survivors.differences:
        assert difference.topic in shown
        assert difference.text not in shown
        assert difference.text in hidden


@pytest.mark.parametrize("version", VERSIONS)
def test_outside_spoiler_channels_no_fate_and_no_survivor_name_shows(pack: DataPack, version: str) -> None:
    chosen = parse_version(version)
    assert chosen is not None
    page = survivors_page(pack, chosen, SpoilerContext(openly=False), notice="n")
    shown = page.title + page.notice + page.footer
    for section in page.sections:
        assert len(section.body) <= FIELD_VALUE_LIMIT
        shown += section.heading + shown_and_hidden(section.body)[0]
    survivors = pack.survivors
    for entry in (*survivors.series, *survivors.unclear, *survivors.webtoon):
        assert entry.text not in shown
        assert names(pack, [entry.character])[0] not in shown
    for fact in (*survivors.differences, *survivors.aftermath):
        assert fact.text not in shown
    for note in survivors.adults:
        if note.spoiler_label is not None:
            assert note.text not in shown


def test_an_unknown_version_is_refused() -> None:
    assert parse_version("movie") is None
    assert parse_version(None) == "series"
