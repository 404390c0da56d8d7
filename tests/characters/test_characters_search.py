"""The character index: what fans type (typos, spacing, Hangul, name orders, actors)
finds the right character first, and free text resolves only when it clearly means one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.datapack import Character, DataPack, load_data_pack
from cogs.characters.query import QUERY_LIMIT, check_query
from cogs.characters.search import (
    RESOLVE_THRESHOLD,
    CharacterIndex,
    FaqIndex,
    match_key,
    name_variants,
    romanization_fold,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def pack() -> DataPack:
    return load_data_pack(DATA_DIR)


@pytest.fixture(scope="module")
def index(pack: DataPack) -> CharacterIndex:
    return CharacterIndex.build(pack.characters)


def top(index: CharacterIndex, query: str) -> str:
    suggestions = index.suggest(query)
    assert suggestions, f"no suggestion for {query!r}"
    return suggestions[0].id


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # spacing and hyphenation
        ("Cheong-san", "lee-cheong-san"),
        ("cheongsan", "lee-cheong-san"),
        ("cheong san", "lee-cheong-san"),
        ("CHEONG SAN", "lee-cheong-san"),
        # typos
        ("chenog san", "lee-cheong-san"),
        ("cheongsna", "lee-cheong-san"),
        ("su hyuk", "lee-su-hyeok"),
        ("nam ohn jo", "nam-on-jo"),
        ("hyoryung", "seo-hyo-ryung"),
        # Hangul, whole and partial
        ("청산", "lee-cheong-san"),
        ("이청산", "lee-cheong-san"),
        ("청", "lee-cheong-san"),
        ("남라", "choi-nam-ra"),
        # family name first, family name last, given name only
        ("Lee Su Hyeok", "lee-su-hyeok"),
        ("Su Hyeok Lee", "lee-su-hyeok"),
        ("su hyeok", "lee-su-hyeok"),
        ("Nam Ra Choi", "choi-nam-ra"),
        ("on jo", "nam-on-jo"),
        # actors, in either order and in Hangul
        ("Park Solomon", "lee-su-hyeok"),
        ("Solomon Park", "lee-su-hyeok"),
        ("solomon", "lee-su-hyeok"),
        ("박솔로몬", "lee-su-hyeok"),
        ("Yoon Chan-young", "lee-cheong-san"),
        ("cho yi hyun", "choi-nam-ra"),
        # prefixes while typing
        ("cheo", "lee-cheong-san"),
        ("dae", "yang-dae-su"),
        ("science", "lee-byeong-chan"),
    ],
)
def test_what_fans_type_finds_the_character_first(index: CharacterIndex, query: str, expected: str) -> None:
    assert top(index, query) == expected


def test_an_actor_name_offers_the_character_it_plays(index: CharacterIndex) -> None:
    best = index.suggest("Park Solomon")[0]
    assert best.id == "lee-su-hyeok"
    assert best.via_actor
    assert best.score == 100.0


def test_an_empty_query_lists_every_character_in_roster_order(pack: DataPack, index: CharacterIndex) -> None:
    assert [m.id for m in index.suggest("")] == [c.id for c in pack.characters]
    assert [m.id for m in index.suggest("   ")] == [c.id for c in pack.characters]


def test_suggestions_are_capped_and_unique(pack: DataPack) -> None:
    many = [
        Character.model_validate(
            {
                "id": f"student-{n}",
                "name": f"Student Number {n}",
                "name_sources": ["s"],
                "role": "student",
                "group": "students",
                "description": "A student.",
                "description_source": "s",
                "season_2": {"status": "unknown", "source": "s"},
            }
        )
        for n in range(60)
    ]
    suggestions = CharacterIndex.build(many).suggest("student", limit=25)
    assert len(suggestions) == 25
    assert len({m.id for m in suggestions}) == 25
    assert len(CharacterIndex.build(many).suggest("")) == 25


def test_nonsense_suggests_nothing(index: CharacterIndex) -> None:
    assert index.suggest("zzzzqx") == []
    assert index.resolve("zzzzqx").match is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [("cheong san", "lee-cheong-san"), ("chenog san", "lee-cheong-san"), ("Park Solomon", "lee-su-hyeok")],
)
def test_free_text_resolves_to_a_clear_best_match(index: CharacterIndex, query: str, expected: str) -> None:
    resolution = index.resolve(query)
    assert resolution.match is not None
    assert resolution.match.id == expected
    assert resolution.match.score >= RESOLVE_THRESHOLD


@pytest.mark.parametrize("query", ["Lee", "Park", "Kim", "nam"])
def test_a_shared_family_name_is_ambiguous_not_a_guess(index: CharacterIndex, query: str) -> None:
    resolution = index.resolve(query)
    assert resolution.match is None
    assert resolution.ambiguous
    assert 2 <= len(resolution.suggestions) <= 3


def test_a_single_letter_does_not_resolve(index: CharacterIndex) -> None:
    resolution = index.resolve("c")
    assert resolution.match is None
    assert len(resolution.suggestions) <= 3


def test_name_variants_cover_name_orders() -> None:
    assert name_variants("Lee Cheong San") == ("Cheong San", "Cheong San Lee")
    assert name_variants("이청산") == ("청산",)
    assert name_variants("Lomon") == ()


def test_match_key_ignores_case_spacing_hyphens_and_accents() -> None:
    assert match_key("Cheong-san") == match_key("cheong san") == match_key("CheongSan")
    assert match_key("Sŏ") == match_key("so")
    assert match_key("청산") != match_key("청사")
    assert romanization_fold("suhyeok") == romanization_fold("suhyuk")


def test_faq_topics_are_found_by_title_keyword_and_typo(pack: DataPack) -> None:
    faq = FaqIndex.build(pack.faq)
    assert faq.suggest("release date")[0].id == "release-date"
    assert faq.suggest("netflix")[0].id == "where-to-watch"
    assert faq.suggest("delayed")[0].id == "delay"
    assert faq.suggest("webtoon")[0].id == "webtoon"
    assert faq.suggest("survivers")[0].id == "survivors"
    assert faq.resolve("Who are the survivors of season 1?").match is not None
    assert faq.resolve("pizza recipe").match is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_any_text_gives_at_most_25_known_suggestions(index: CharacterIndex, text: str) -> None:
    suggestions = index.suggest(text)
    assert len(suggestions) <= 25
    assert {m.id for m in suggestions} <= set(index.ids)
    assert [m.score for m in suggestions] == sorted((m.score for m in suggestions), reverse=True)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   \t ", "empty"),
        ("x" * QUERY_LIMIT, "too_long"),
        ("@everyone", "markup"),
        ("<@123456789012345678>", "markup"),
        ("<@&123456789012345678>", "markup"),
        ("||Cheong San||", "markup"),
        ("`Cheong San`", "markup"),
        ("**Cheong San**", "markup"),
        ("[Cheong](https://example.com)", "markup"),
        ("Cheong-san", None),
        ("이청산", None),
        ("x" * (QUERY_LIMIT - 1), None),
    ],
)
def test_bad_queries_are_named(text: str, problem: str | None) -> None:
    assert check_query(text) == problem
