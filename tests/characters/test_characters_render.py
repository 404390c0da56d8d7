"""Character and FAQ embeds and the cast roster: spoilers only behind the shared policy,
nothing over Discord's limits, every character on exactly one roster page.
"""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from bot.datapack import Character, DataPack, FaqEntry, load_data_pack
from bot.spoilers import SpoilerContext
from cogs.characters.render import CHOICE_LIMIT, character_embed, choice_label, faq_embed
from cogs.characters.roster import PER_PAGE, paginate_roster, roster_embed

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
HIDDEN = SpoilerContext(openly=False, locale="en-US")
OPEN = SpoilerContext(openly=True, locale="en-US")


@pytest.fixture(scope="module")
def pack() -> DataPack:
    return load_data_pack(DATA_DIR)


def faq_entry(pack: DataPack, faq_id: str) -> FaqEntry:
    """The pack's FAQ entry ``faq_id`` (the bot reads them by id from its catalog)."""
    return next(entry for entry in pack.faq if entry.id == faq_id)


@pytest.fixture(scope="module")
def sources(pack: DataPack) -> dict:
    return {s.id: s for s in pack.sources}


def assert_within_embed_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("fields", [])) <= 25
    for field in data.get("fields", []):
        assert 0 < len(field["name"]) <= 256
        assert 0 < len(field["value"]) <= 1024
    assert len(data.get("footer", {}).get("text", "")) <= 2048
    assert len(embed) <= 6000


def visible_text(embed: discord.Embed) -> str:
    """What Discord shows openly: everything outside ||…|| bars."""
    data = embed.to_dict()
    parts = [data.get("title", ""), data.get("description", ""), data.get("footer", {}).get("text", "")]
    for field in data.get("fields", []):
        parts += [field["name"], field["value"]]
    text = "\n".join(parts)
    outside = text.split("||")[::2]
    return "".join(outside)


def test_every_character_embed_hides_its_fates_outside_spoiler_channels(pack: DataPack, sources: dict) -> None:
    for character in pack.characters:
        embed = character_embed(character, sources, HIDDEN, "en-US")
        assert_within_embed_limits(embed)
        shown = visible_text(embed)
        for fate in (character.series_fate, character.webtoon_fate, *character.spoilers):
            if fate is not None:
                assert fate.text not in shown
                assert fate.label in shown, "the label says what is hidden"


def test_the_same_embed_shows_fates_openly_in_a_spoiler_channel(pack: DataPack, sources: dict) -> None:
    character = pack.character("lee-cheong-san")
    embed = character_embed(character, sources, OPEN, "en-US")
    assert_within_embed_limits(embed)
    text = str(embed.to_dict())
    assert "||" not in text
    assert "final fight" in text
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Actor"] == "Yoon Chan Young (윤찬영)"
    assert fields["Role"] == "Student"
    assert fields["Back in season 2?"].startswith("season 1 ending: Confirmed, according to")
    assert "July 23, 2025" in fields["Back in season 2?"]
    assert embed.title == "Lee Cheong San · 이청산"


def test_a_return_that_answers_a_season_1_fate_is_hidden_behind_its_label(pack: DataPack, sources: dict) -> None:
    """Back in season 2 means alive (or an open fate settled): hidden wherever the fate is."""
    for character in pack.characters:
        value = {f.name: f.value for f in character_embed(character, sources, HIDDEN, "en-US").fields}[
            "Back in season 2?"
        ]
        if character.series_fate is None:
            assert "||" not in value, character.id
            continue
        assert value.startswith("Spoiler, season 1 ending: ||"), character.id
        assert value.endswith("||")
        status = {"confirmed": "Confirmed", "unknown": "Unknown", "expected": "Expected"}[character.season_2.status]
        assert status not in value.split("||")[0] + value.split("||")[2]
    jae_ik = {f.name: f.value for f in character_embed(pack.character("song-jae-ik"), sources, HIDDEN, "en-US").fields}
    assert jae_ik["Back in season 2?"].startswith("Unknown, according to")


def test_a_character_without_actor_or_fates_says_so(pack: DataPack, sources: dict) -> None:
    embed = character_embed(pack.character("park-chul-soo"), sources, HIDDEN, "en-US")
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Actor"] == "Not known"
    assert fields["Fate in the series"] == "Not recorded."
    assert fields["Back in season 2?"].startswith("Unknown")
    assert "||" in fields["More spoilers"]


def test_huge_pack_texts_still_fit_one_embed(pack: DataPack, sources: dict) -> None:
    base = pack.character("lee-su-hyeok")
    fate = base.series_fate
    assert fate is not None
    huge = base.model_copy(
        update={
            "description": "d" * 5000,
            "series_fate": fate.model_copy(update={"text": "|| `x` " * 800}),
            "webtoon_fate": fate.model_copy(update={"text": "w" * 3000}),
            "spoilers": tuple(fate.model_copy(update={"text": "s" * 900}) for _ in range(10)),
        }
    )
    for spoilers in (HIDDEN, OPEN):
        embed = character_embed(huge, sources, spoilers, "en-US")
        assert_within_embed_limits(embed)
        if not spoilers.openly:
            for field in embed.fields:
                assert str(field.value).count("||") % 2 == 0


def test_choice_labels_are_names_only_and_fit(pack: DataPack) -> None:
    for character in pack.characters:
        label = choice_label(character, "en-US")
        assert 0 < len(label) <= CHOICE_LIMIT
        for fate in (character.series_fate, character.webtoon_fate, *character.spoilers):
            if fate is not None:
                assert fate.text not in label
                assert fate.label not in label
    assert choice_label(pack.character("lee-su-hyeok"), "en-US") == "Lee Su Hyeok · 이수혁 — Lomon"
    assert choice_label(pack.character("park-chul-soo"), "en-US") == "Park Chul Soo"


def test_spoiler_faq_answer_is_hidden_and_cites_source_and_date(pack: DataPack, sources: dict) -> None:
    entry = faq_entry(pack, "survivors")
    hidden = faq_embed(entry, sources, HIDDEN, "en-US")
    assert_within_embed_limits(hidden)
    assert "Nam On Jo" not in visible_text(hidden)
    assert hidden.description is not None
    assert hidden.description.startswith("Spoiler, season 1 ending: ||")
    fields = {f.name: f.value for f in hidden.fields}
    assert "September 18, 2025" in fields["Source"]
    opened = faq_embed(entry, sources, OPEN, "en-US")
    assert "||" not in (opened.description or "")
    assert "Nam On Jo" in (opened.description or "")


def test_plain_faq_answers_are_shown(pack: DataPack, sources: dict) -> None:
    for entry in pack.faq:
        embed = faq_embed(entry, sources, HIDDEN, "en-US")
        assert_within_embed_limits(embed)
        if not entry.spoiler:
            assert "||" not in (embed.description or "")
    watch = faq_embed(faq_entry(pack, "where-to-watch"), sources, HIDDEN, "en-US")
    assert "Netflix" in (watch.description or "")


def test_the_roster_has_every_character_once_grouped_and_without_fates(pack: DataPack) -> None:
    pages = paginate_roster(pack.characters)
    assert len(pages) >= 2
    listed = [c.id for page in pages for section in page.sections for c in section.characters]
    assert sorted(listed) == sorted(c.id for c in pack.characters)
    groups = [section.group for page in pages for section in page.sections]
    assert groups == sorted(groups, key=("students", "teachers", "others", "season_2").index)
    for page in pages:
        assert sum(len(s.characters) for s in page.sections) <= PER_PAGE
        embed = roster_embed(page, len(pages), len(pack.characters), "en-US")
        assert_within_embed_limits(embed)
        text = str(embed.to_dict())
        assert "||" not in text
        for character in pack.characters:
            for fate in (character.series_fate, character.webtoon_fate, *character.spoilers):
                if fate is not None:
                    assert fate.text not in text
    first = roster_embed(pages[0], len(pages), len(pack.characters), "en-US")
    assert "**Lee Su Hyeok** (이수혁) — Lomon" in str(first.fields[0].value)
    assert first.footer.text == f"Page 1 of {len(pages)} · {len(pack.characters)} characters"


def test_a_group_larger_than_a_page_is_continued(pack: DataPack) -> None:
    student = pack.character("nam-on-jo")
    crowd = [student.model_copy(update={"id": f"s-{n}", "name": f"Student {n}"}) for n in range(20)]
    teacher: Character = pack.character("lee-byeong-chan")
    pages = paginate_roster([*crowd, teacher], per_page=8)
    assert [sum(len(s.characters) for s in p.sections) for p in pages] == [8, 8, 5]
    assert [s.continued for s in pages[1].sections] == [True]
    assert pages[2].sections[-1].group == "teachers"
    embed = roster_embed(pages[1], len(pages), 21, "en-US")
    assert embed.fields[0].name == "Students (continued)"
