"""The show data pack: the real pack states the article's facts, broken packs fail in one line,
and syncing into SQLite is idempotent and touches nothing but the pack's own rows.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest
from sqlalchemy import text as sql

from bot.datapack import (
    Character,
    DataPack,
    DataPackError,
    FaqEntry,
    Release,
    ShowMeta,
    Source,
    Survivors,
    is_stale,
    iter_spoiler_facts,
    load_data_pack,
    name_key,
    newest_source_date,
    referenced_sources,
    source_audit,
)
from bot.packstore import (
    FINGERPRINT_KEY,
    KIND_CHARACTER,
    KIND_FAQ,
    KIND_RELEASE,
    KIND_SHOW,
    KIND_SOURCE,
    KIND_SURVIVORS,
    SINGLETON_KEY,
    PackStoreError,
    fetch_pack_entries,
    fetch_pack_entry,
    sync_data_pack,
)
from bot.store import Store
from tests.support.stores import fetch_rows, read_with

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
ARTICLE = "article-2025-09-18"
ANNOUNCEMENT = "netflix-cast-2025-07-23"


@pytest.fixture(scope="module")
def pack() -> DataPack:
    return load_data_pack(DATA_DIR)


def faq_entry(pack: DataPack, faq_id: str) -> FaqEntry:
    """The pack's FAQ entry ``faq_id`` (the bot reads them by id from its catalog)."""
    return next(entry for entry in pack.faq if entry.id == faq_id)


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    """A writable copy of the real pack to break or edit."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def edit(directory: Path, name: str, change: Callable[[str], str]) -> Path:
    path = directory / name
    before = path.read_text("utf-8")
    after = change(before)
    assert after != before, "the edit did not change the file"
    path.write_text(after, "utf-8")
    return path


def sub_once(pattern: str, replacement: str) -> Callable[[str], str]:
    return lambda text: re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)


# ---------------------------------------------------------------------------
# The real pack states the article's facts
# ---------------------------------------------------------------------------


def test_article_source_is_dated(pack: DataPack) -> None:
    article = pack.source(ARTICLE)
    assert article.date == dt.date(2025, 9, 18)
    assert article.title == ("All of Us Are Dead Season 2: release, delay, cast and survivors (fan article)")
    assert pack.show.pack.as_of == dt.date(2025, 9, 18)


def test_release_context_dates(pack: DataPack) -> None:
    premiere = pack.release.fact("season-1-premiere")
    assert (premiere.date, premiere.precision, premiere.confidence) == (
        dt.date(2022, 1, 28),
        "day",
        "confirmed",
    )
    renewal = pack.release.fact("season-2-renewal")
    assert (renewal.date, renewal.precision) == (dt.date(2022, 6, 1), "month")
    filming = pack.release.fact("filming-end")
    assert (filming.date, filming.precision, filming.confidence) == (
        dt.date(2026, 2, 1),
        "month",
        "estimated",
    )
    assert "2026" in pack.release.fact("not-on-2026-slate").text
    not_cancelled = pack.release.fact("not-cancelled").text
    assert "not because of a cancellation" in not_cancelled
    # "It's about time and quality" is the article's view, never a confirmed fact.
    assert "time and quality" not in not_cancelled


def test_release_window_is_early_2027_estimate(pack: DataPack) -> None:
    """The article says "early 2027": a named season, whose bounds are the bot's reading."""
    window = pack.release.window
    assert pack.release.awaited == "Season 2"
    assert (window.precision, window.start, window.end) == (
        "season",
        dt.date(2027, 1, 1),
        dt.date(2027, 3, 31),
    )
    assert window.label == "early 2027"
    assert window.confidence == "estimated"
    assert window.source == ARTICLE
    assert window.source_date == dt.date(2025, 9, 18) == pack.source(window.source).date


def test_the_delay_faq_gives_every_reason_of_the_article(pack: DataPack) -> None:
    answer = faq_entry(pack, "delay").answer
    for reason in (
        "Bigger scale",
        "post-production",
        "rebuilt",
        "Script revisions",
        "Cast scheduling",
        "Squid Game",
    ):
        assert reason in answer
    # The article names creators "including" these two: never the complete list.
    assert "creators, including Chun Sung Il and Joo Dong Geun" in answer


def test_the_open_delay_faq_shows_no_plot_point_the_story_faq_hides(pack: DataPack) -> None:
    """What season 2 is about is behind the spoiler bars of FAQ "story", never open in "delay"."""
    story = faq_entry(pack, "story")
    assert story.spoiler
    delay = faq_entry(pack, "delay").answer
    for plot_point in ("National Intelligence Service", "beyond the school", "college"):
        assert plot_point in story.answer
        assert plot_point not in delay


@pytest.mark.parametrize(
    ("character_id", "actor"),
    [
        ("nam-on-jo", "Park Ji Hu"),
        ("lee-cheong-san", "Yoon Chan Young"),
        ("choi-nam-ra", "Cho Yi Hyun"),
        ("lee-su-hyeok", "Lomon"),
    ],
)
def test_announced_actors_return(pack: DataPack, character_id: str, actor: str) -> None:
    character = pack.character(character_id)
    assert character.actor == actor
    assert ANNOUNCEMENT in character.actor_sources
    assert character.season_2.status == "confirmed"
    assert character.season_2.source == ANNOUNCEMENT


def test_lomon_is_his_stage_name_and_park_solomon_still_finds_him(pack: DataPack) -> None:
    su_hyeok = pack.character("lee-su-hyeok")
    assert (su_hyeok.actor, su_hyeok.actor_hangul) == ("Lomon", "로몬")
    assert {"Park Solomon", "박솔로몬"} <= set(su_hyeok.actor_aliases)
    assert "Lim Jae-hyuk" in pack.character("yang-dae-su").actor_aliases


def test_other_characters_do_not_claim_a_return(pack: DataPack) -> None:
    returning = {c.id for c in pack.characters if c.season_2.status != "unknown" and c.group != "season_2"}
    assert returning == {"nam-on-jo", "lee-cheong-san", "choi-nam-ra", "lee-su-hyeok"}


def test_every_season_2_status_is_as_of_a_dated_source(pack: DataPack) -> None:
    for character in pack.characters:
        assert pack.source(character.season_2.source).date is not None, character.id


def test_the_new_season_2_cast_is_as_announced(pack: DataPack) -> None:
    new = {c.id: c for c in pack.characters if c.group == "season_2"}
    assert {(c.actor_hangul, c.hangul) for c in new.values()} == {
        ("이민재", "마루"),
        ("김시은", "주란"),
        ("노재원", "한두석"),
        ("윤가이", None),  # the stored wire story ends at her name: no Hangul for her role
    }
    assert all(c.season_2.status == "confirmed" and c.series_fate is None for c in new.values())
    source = pack.source(ANNOUNCEMENT)
    assert (source.date, source.url) == (dt.date(2025, 7, 23), "https://v.daum.net/v/20250723080753223")


def test_park_chul_soo_has_only_what_the_article_says(pack: DataPack) -> None:
    character = pack.character("park-chul-soo")
    assert character.actor is None
    assert character.hangul is None
    assert character.name_sources == (ARTICLE,)
    assert [fact.text for fact in character.spoilers] == ["His decisions affected rescue efforts during the crisis."]


def test_creators_and_platform(pack: DataPack) -> None:
    show = pack.show.show
    assert show.title == "All of Us Are Dead"
    assert (show.writer, show.webtoon_author, show.director) == ("Chun Sung Il", "Joo Dong Geun", "Lee Jae Kyoo")
    assert show.creators_source == ANNOUNCEMENT
    # The article has no Hangul title, so it is not cited for one.
    assert ARTICLE not in show.title_sources[1:]
    platform = pack.show.platform
    assert platform.name == "Netflix"
    assert platform.exclusive
    assert platform.many_countries
    assert platform.subtitles_and_dubbing
    assert platform.season_1_available
    assert "one hour" in platform.episode_length
    assert pack.show.show.title in pack.show.bot.description


def test_series_survivors_and_unclear_fates(pack: DataPack) -> None:
    series = [entry.character for entry in pack.survivors.series]
    assert series == [
        "nam-on-jo",
        "lee-su-hyeok",
        "choi-nam-ra",
        "yang-dae-su",
        "seo-hyo-ryung",
        "jang-ha-ri",
        "park-mi-jin",
    ]
    # The article's five, then the two a named review of the finale adds.
    assert {entry.source for entry in pack.survivors.series[5:]} == {"denofgeek-finale-2022"}
    assert pack.character("jang-ha-ri").actor == "Ha Seung Ri"
    assert pack.character("park-mi-jin").actor == "Lee Eun Saem"
    assert [entry.character for entry in pack.survivors.unclear] == ["lee-cheong-san"]
    cheong_san = pack.character("lee-cheong-san")
    assert cheong_san.series_fate is not None
    assert cheong_san.series_fate.status == "unclear"
    for character_id in series:
        fate = pack.character(character_id).series_fate
        assert fate is not None
        assert fate.status == "survived"


def test_webtoon_survivors_are_exactly_three(pack: DataPack) -> None:
    webtoon = {entry.character for entry in pack.survivors.webtoon}
    assert webtoon == {"nam-on-jo", "lee-su-hyeok", "choi-nam-ra"}
    survived = {c.id for c in pack.characters if c.webtoon_fate is not None and c.webtoon_fate.status == "survived"}
    assert survived == webtoon


def test_adults_and_differences(pack: DataPack) -> None:
    adults = {note.character: note for note in pack.survivors.adults}
    assert set(adults) == {"park-chul-soo", "lee-byeong-chan", "song-jae-ik"}
    assert "experiment started the virus outbreak" in adults["lee-byeong-chan"].text
    assert adults["lee-byeong-chan"].spoiler_label is not None
    assert "detective" in adults["song-jae-ik"].text
    texts = " ".join(d.text for d in pack.survivors.differences)
    assert "Bare Su" in texts
    assert "Dae Su and Hyo Ryung" in texts
    aftermath = " ".join(f.text for f in pack.survivors.aftermath)
    assert "military quarantine camp" in aftermath
    assert "bombed" in aftermath


def test_every_source_reference_resolves(pack: DataPack) -> None:
    known = {source.id for source in pack.sources}
    used = set(referenced_sources(pack))
    assert used <= known
    assert ARTICLE in used
    assert len(known) == len(pack.sources)


def test_every_spoiler_fact_has_a_label(pack: DataPack) -> None:
    facts = list(iter_spoiler_facts(pack))
    assert len(facts) > 10
    for where, fact in facts:
        assert fact.label.strip(), where
        assert fact.text.strip(), where


def test_faq_topics(pack: DataPack) -> None:
    ids = [entry.id for entry in pack.faq]
    assert set(ids) >= {
        "release-date",
        "delay",
        "cast",
        "survivors",
        "webtoon",
        "where-to-watch",
        "watch-season-1",
    }
    assert [entry.position for entry in pack.faq] == list(range(len(pack.faq)))
    spoilers = {entry.id for entry in pack.faq if entry.spoiler}
    # Who returns in season 2 answers season 1 fates, so "cast" is a spoiler too.
    assert {"survivors", "webtoon", "cast"} <= spoilers
    assert not {"release-date", "delay", "where-to-watch", "watch-season-1"} & spoilers
    for entry in pack.faq:
        assert len(entry.title) <= 100
        assert (entry.spoiler_label is not None) == entry.spoiler
        assert pack.source(entry.source).date is not None


def test_spoiler_faq_titles_do_not_name_fates(pack: DataPack) -> None:
    """Titles show in autocomplete; a character's name next to a fate word would spoil it."""
    names = {name_key(n) for c in pack.characters for n in c.names()}
    for entry in pack.faq:
        if entry.spoiler:
            words = {name_key(w) for w in re.split(r"\W+", entry.title + " " + entry.question) if w}
            assert not words & names, entry.id


def test_release_faq_states_the_estimate(pack: DataPack) -> None:
    answer = faq_entry(pack, "release-date").answer
    assert "early 2027" in answer
    assert "estimate" in answer
    assert "February 2026" in answer


def test_character_lookup_by_variants(pack: DataPack) -> None:
    for query in (
        "Cheong-san",
        "cheongsan",
        "Cheong San",
        "Lee Cheong-san",
        "Cheong San Lee",
        "청산",
        "이청산",
    ):
        found = pack.find_character(query)
        assert found is not None, query
        assert found.id == "lee-cheong-san"
    found = pack.find_character("Lomon")
    assert found is not None
    assert found.id == "lee-su-hyeok"
    assert pack.find_character("Lomon", include_actors=False) is None
    assert pack.find_character("nobody") is None
    assert pack.find_character("  -- ") is None


def test_groups_and_roles(pack: DataPack) -> None:
    groups = {c.id: c.group for c in pack.characters}
    assert groups["lee-byeong-chan"] == "teachers"
    assert groups["song-jae-ik"] == "others"
    assert all(c.role == "student" for c in pack.characters if c.group == "students")


def test_fingerprint_is_stable_and_models_are_frozen(pack: DataPack) -> None:
    again = load_data_pack(DATA_DIR)
    assert again == pack
    assert again.fingerprint() == pack.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", pack.fingerprint())
    with pytest.raises(pydantic.ValidationError):
        pack.characters[0].name = "changed"


def test_fingerprint_changes_with_content(pack: DataPack, pack_copy: Path) -> None:
    edit(pack_copy, "faq.toml", lambda t: t.replace("Where can I watch it?", "Where do I watch it?"))
    assert load_data_pack(pack_copy).fingerprint() != pack.fingerprint()


def test_unknown_lookups_raise_key_error(pack: DataPack) -> None:
    with pytest.raises(KeyError):
        pack.source("nope")
    with pytest.raises(KeyError):
        pack.character("nope")


# ---------------------------------------------------------------------------
# Broken packs fail with one line naming file, entry and field
# ---------------------------------------------------------------------------

BROKEN = [
    pytest.param(
        "characters.toml",
        sub_once(r'^actor = "Yoon Chan Young"$', "actor = 42"),
        'character "lee-cheong-san": actor: Input should be a valid string',
        id="wrong-type",
    ),
    pytest.param(
        "characters.toml",
        sub_once(r"^description = .*\n", ""),
        'character "nam-on-jo": description: Field required',
        id="missing-field",
    ),
    pytest.param(
        "faq.toml",
        sub_once(r'^id = "delay"$', 'id = "delay"\nspoilr = true'),
        'faq "delay": spoilr: Extra inputs are not permitted',
        id="unknown-key",
    ),
    pytest.param(
        "characters.toml",
        sub_once(r'^role = "teacher"$', 'role = "techer"'),
        'character "lee-byeong-chan": role: Input should be',
        id="bad-enum",
    ),
    pytest.param(
        "release.toml",
        sub_once(r'^source = "article-2025-09-18"$', 'source = "article-2025-09-19"'),
        'release: window.source: unknown source "article-2025-09-19"',
        id="bad-source-reference",
    ),
    pytest.param(
        "characters.toml",
        sub_once(
            r'^actor_sources = \["radiotimes-ending-2022-02-02", "kowiki-series"\]$', 'actor_sources = ["kowiki"]'
        ),
        'character "yang-dae-su": actor_sources[0]: unknown source "kowiki"',
        id="bad-source-in-list",
    ),
    pytest.param(
        "survivors.toml",
        sub_once(r'^character = "yang-dae-su"$', 'character = "yang-dae-soo"'),
        'survivors series "yang-dae-soo": character: unknown character "yang-dae-soo"',
        id="bad-character-reference",
    ),
    pytest.param(
        "faq.toml",
        sub_once(r'^characters = \["nam-on-jo"', 'characters = ["nam-onjo"'),
        'faq "cast": characters[0]: unknown character "nam-onjo"',
        id="bad-character-in-faq",
    ),
    pytest.param(
        "release.toml",
        sub_once(r"^end = 2027-03-31$", "end = 2026-12-31"),
        "release: window: end 2026-12-31 is before start 2027-01-01",
        id="end-before-start",
    ),
    pytest.param(
        "release.toml",
        sub_once(r"^end = 2027-03-31$", "end = 2027-06-30"),
        "release: window: 2027-01-01..2027-06-30 is not a single season",
        id="window-wider-than-a-season",
    ),
    pytest.param(
        "release.toml",
        sub_once(r"^source_date = 2025-09-18$", "source_date = 2025-09-19"),
        'release: window.source_date: 2025-09-19 differs from the date of source "article-2025-09-18"',
        id="source-date-mismatch",
    ),
    pytest.param(
        "faq.toml",
        sub_once(r'^id = "cancelled"$', 'id = "delay"'),
        'faq "delay": id: duplicate id (first used by entry #2)',
        id="duplicate-id",
    ),
    pytest.param(
        "faq.toml",
        sub_once(r'^spoiler_label = "season 1 ending"\n', ""),
        'faq "survivors": a spoiler entry needs a spoiler_label',
        id="spoiler-without-label",
    ),
    pytest.param(
        "faq.toml",
        sub_once(r'^title = "Where can I watch it\?"$', 'title = "' + "x" * 101 + '"'),
        'faq "where-to-watch": title: String should have at most 100 characters',
        id="title-too-long",
    ),
    pytest.param(
        "faq.toml",
        sub_once(r'^id = "delay"$', 'id = "delay"\nposition = 3'),
        'faq "delay": position: set from the order in the file',
        id="position-written-by-hand",
    ),
    pytest.param(
        "characters.toml",
        sub_once(r'^aliases = \["Cheong San",', 'aliases = ["On-Jo", "Cheong San",'),
        'character "lee-cheong-san": aliases[0]: "On-Jo" is also a name of character "nam-on-jo"',
        id="ambiguous-alias",
    ),
    pytest.param(
        "characters.toml",
        sub_once(r', label = "season 1 ending" \}$', " }"),
        'character "nam-on-jo": season_2: the season 1 fate is a spoiler, so the season 2 status is one too',
        id="return-of-a-spoiler-fate-without-label",
    ),
    pytest.param(
        "show.toml",
        sub_once(r"^exclusive = true$", 'exclusive = "maybe"'),
        "show: platform.exclusive: Input should be a valid boolean",
        id="nested-wrong-type",
    ),
    pytest.param(
        "sources.toml",
        sub_once(r'^kind = "article"$', 'kind = "blog"'),
        'source "article-2025-09-18": kind: Input should be',
        id="source-kind",
    ),
]


def assert_one_line(message: str, path: Path, expected: str) -> None:
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


@pytest.mark.parametrize(("name", "change", "expected"), BROKEN)
def test_broken_pack_reports_file_entry_field(
    pack_copy: Path, name: str, change: Callable[[str], str], expected: str
) -> None:
    path = edit(pack_copy, name, change)
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(str(info.value), path, expected)


def test_survivor_lists_must_agree_with_fates(pack_copy: Path) -> None:
    """Fates are written in characters.toml and survivors.toml; a mismatch is reported in the list."""
    edit(
        pack_copy,
        "characters.toml",
        sub_once(
            r'^(webtoon_fate = \{ status = )"did_not_survive"(, label = "webtoon ending", '
            r"text = \"Not among the webtoon's survivors: the article says only On Jo, Su Hyeok "
            r'and Nam Ra survive in the original\.")',
            r'\1"survived"\2',
        ),
    )
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(
        str(info.value),
        pack_copy / "survivors.toml",
        'survivors: webtoon: "lee-cheong-san" has webtoon_fate status "survived" but is not listed here',
    )


def test_toml_syntax_error_names_the_line(pack_copy: Path) -> None:
    path = edit(pack_copy, "faq.toml", lambda t: t + "\nthis is not toml\n")
    line = path.read_text("utf-8").splitlines().index("this is not toml") + 1
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(str(info.value), path, "TOML syntax error")
    assert f"line {line}" in str(info.value)


def test_missing_file(pack_copy: Path) -> None:
    (pack_copy / "release.toml").unlink()
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(str(info.value), pack_copy / "release.toml", "file is missing")


def test_unreadable_file(pack_copy: Path) -> None:
    """A directory where a file should be cannot be read, even by root (chmod would not do)."""
    path = pack_copy / "survivors.toml"
    path.unlink()
    path.mkdir()
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(str(info.value), path, "cannot read file")


def test_file_that_is_not_utf8(pack_copy: Path) -> None:
    path = pack_copy / "show.toml"
    path.write_bytes(b'[pack]\nnote = "\xff\xfe"\n')
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(str(info.value), path, "not valid UTF-8")


def test_unexpected_file_is_reported(pack_copy: Path) -> None:
    shutil.copy(pack_copy / "characters.toml", pack_copy / "charcters.toml")
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(str(info.value), pack_copy / "charcters.toml", "unexpected file")


def test_wrong_top_level_key(pack_copy: Path) -> None:
    path = edit(
        pack_copy, "faq.toml", lambda t: t.replace("[[faq]]", "[[fqa]]", 1).replace("\n[faq.ko]", "\n[fqa.ko]", 1)
    )
    with pytest.raises(DataPackError) as info:
        load_data_pack(pack_copy)
    assert_one_line(str(info.value), path, 'unknown top-level key "fqa"')


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataPackError, match="directory not found"):
        load_data_pack(tmp_path / "nope")


def test_reference_checks_only_while_loading(pack: DataPack) -> None:
    """Read-back from the store has no context: models still validate, references are not re-checked."""
    data = pack.faq[0].model_dump(mode="json") | {"source": "elsewhere"}
    assert FaqEntry.model_validate(data).source == "elsewhere"
    with pytest.raises(pydantic.ValidationError):
        FaqEntry.model_validate(data, context={"sources": {}})


# ---------------------------------------------------------------------------
# Syncing into the store (both databases)
# ---------------------------------------------------------------------------


async def all_rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await fetch_rows(store, sql)]


@pytest.mark.asyncio
async def test_sync_is_idempotent_and_reads_back(pack: DataPack, store_url: str) -> None:
    store = await Store.open(store_url)
    try:
        first = await sync_data_pack(store, pack)
        assert first.changed
        assert first.previous_fingerprint is None
        assert first.counts == {
            KIND_SOURCE: len(pack.sources),
            KIND_CHARACTER: len(pack.characters),
            KIND_FAQ: len(pack.faq),
            KIND_SHOW: 1,
            KIND_RELEASE: 1,
            KIND_SURVIVORS: 1,
        }
        assert first.inserted == sum(first.counts.values())
        second = await sync_data_pack(store, pack)
        assert not second.changed
        assert (second.inserted, second.updated, second.deleted) == (0, 0, 0)
        assert second.previous_fingerprint == second.fingerprint == pack.fingerprint()
        assert await all_rows(store, f"SELECT value FROM bot_state WHERE key = '{FINGERPRINT_KEY}'") == [
            (pack.fingerprint(),)
        ]

        characters = await read_with(store, fetch_pack_entries, KIND_CHARACTER, Character)
        assert characters == list(pack.characters)
        assert await read_with(store, fetch_pack_entries, KIND_FAQ, FaqEntry) == list(pack.faq)
        sources = await read_with(store, fetch_pack_entries, KIND_SOURCE, Source)
        assert {s.id for s in sources} == {s.id for s in pack.sources}
        assert await read_with(store, fetch_pack_entry, KIND_RELEASE, SINGLETON_KEY, Release) == pack.release
        assert await read_with(store, fetch_pack_entry, KIND_SHOW, SINGLETON_KEY, ShowMeta) == pack.show
        assert await read_with(store, fetch_pack_entry, KIND_SURVIVORS, SINGLETON_KEY, Survivors) == pack.survivors
        assert await read_with(store, fetch_pack_entry, KIND_CHARACTER, "lee-cheong-san", Character) == (
            pack.character("lee-cheong-san")
        )
        assert await read_with(store, fetch_pack_entry, KIND_CHARACTER, "nobody", Character) is None
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_removed_entry_is_deleted_and_others_untouched(pack: DataPack, pack_copy: Path, store_url: str) -> None:
    store = await Store.open(store_url)
    try:
        async with store.transaction() as conn:
            await conn.execute(sql("CREATE TABLE other (x TEXT)"))
            await conn.execute(sql("INSERT INTO other VALUES ('keep me')"))
            await conn.execute(sql("INSERT INTO bot_state VALUES ('someone_else', 'keep')"))
            await conn.execute(sql("INSERT INTO pack_entries VALUES ('note', 'n1', '{\"a\": 1}')"))
        await sync_data_pack(store, pack)

        edit(pack_copy, "faq.toml", lambda t: t[: t.index('[[faq]]\nid = "watch-season-1"')].rstrip() + "\n")
        smaller = load_data_pack(pack_copy)
        assert len(smaller.faq) == len(pack.faq) - 1
        summary = await sync_data_pack(store, smaller)
        assert summary.changed
        assert summary.deleted == 1
        assert summary.inserted == summary.updated == 0
        assert summary.counts[KIND_FAQ] == len(pack.faq) - 1
        assert await read_with(store, fetch_pack_entry, KIND_FAQ, "watch-season-1", FaqEntry) is None
        assert await all_rows(store, f"SELECT value FROM bot_state WHERE key = '{FINGERPRINT_KEY}'") == [
            (smaller.fingerprint(),)
        ]

        assert await all_rows(store, "SELECT x FROM other") == [("keep me",)]
        assert await all_rows(store, "SELECT value FROM bot_state WHERE key = 'someone_else'") == [("keep",)]
        assert await all_rows(store, "SELECT kind, key FROM pack_entries WHERE kind = 'note'") == [("note", "n1")]
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_changed_entry_is_updated(pack: DataPack, pack_copy: Path, store_url: str) -> None:
    store = await Store.open(store_url)
    try:
        await sync_data_pack(store, pack)
        edit(pack_copy, "faq.toml", lambda t: t.replace("Where can I watch it?", "Where do I watch it?"))
        summary = await sync_data_pack(store, load_data_pack(pack_copy))
        assert summary.changed
        assert (summary.inserted, summary.updated, summary.deleted) == (0, 1, 0)
        entry = await read_with(store, fetch_pack_entry, KIND_FAQ, "where-to-watch", FaqEntry)
        assert entry is not None
        assert entry.title == "Where do I watch it?"
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_stale_row_that_no_longer_fits_is_reported(store_url: str) -> None:
    store = await Store.open(store_url)
    try:
        async with store.transaction() as conn:
            await conn.execute(
                sql("INSERT INTO pack_entries VALUES (:kind, 'old', :data)"),
                {"kind": KIND_FAQ, "data": '{"id": "old"}'},
            )
        with pytest.raises(PackStoreError, match="faq/old does not fit FaqEntry"):
            await read_with(store, fetch_pack_entries, KIND_FAQ, FaqEntry)
    finally:
        await store.close()


# ---------------------------------------------------------------------------
# How current the pack is
# ---------------------------------------------------------------------------


def test_the_newest_source_dates_the_pack(pack: DataPack) -> None:
    assert newest_source_date(pack) == dt.date(2025, 9, 18)


@pytest.mark.parametrize(
    ("newest", "today", "stale"),
    [
        (dt.date(2025, 9, 18), dt.date(2026, 3, 18), False),  # six months to the day
        (dt.date(2025, 9, 18), dt.date(2026, 3, 19), True),
        (dt.date(2025, 8, 31), dt.date(2026, 2, 28), False),  # no 31 February: the month's last day
        (dt.date(2025, 8, 31), dt.date(2026, 3, 1), True),
        (dt.date(2025, 9, 18), dt.date(2025, 9, 1), False),  # a source from the future is not stale
        (None, dt.date(2026, 1, 1), True),  # no dated source: nothing says how current it is
    ],
)
def test_a_pack_is_stale_more_than_six_months_after_its_newest_source(
    newest: dt.date | None, today: dt.date, stale: bool
) -> None:
    assert is_stale(newest, today) is stale


# ---------------------------------------------------------------------------
# The pack says no more than its sources
# ---------------------------------------------------------------------------


def pack_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in pack_strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in pack_strings(item)]
    return []


def test_the_creators_are_never_given_as_the_complete_list(pack: DataPack) -> None:
    """The article says "the show's creators, including Chun Sung Il and Joo Dong Geun"."""
    for text in pack_strings(pack.model_dump(mode="json")):
        assert "creators, Chun Sung Il" not in text
        assert "creators Chun Sung Il" not in text
        if "creators" in text and "Chun Sung Il" in text:
            assert "creators, including Chun Sung Il and Joo Dong Geun" in text, text


def test_the_bare_su_quote_is_as_printed(pack: DataPack) -> None:
    quote = '"Minor characters like Bare Su may also be developed further if the story expands."'
    assert quote in faq_entry(pack, "webtoon").answer
    assert any(quote in d.text for d in pack.survivors.differences)


def test_park_ji_hus_role_is_credited_to_the_announcement(pack: DataPack) -> None:
    on_jo = pack.character("nam-on-jo")
    assert on_jo.season_2.note is not None
    assert "Park Ji Hu back as On Jo" in on_jo.season_2.note
    cast = faq_entry(pack, "cast")
    assert cast.source == ANNOUNCEMENT
    assert "Park Ji Hu as Nam On Jo" in cast.answer


def test_time_sensitive_answers_say_as_of_when(pack: DataPack) -> None:
    assert "as of 2025-09-18, filming was still going on" in faq_entry(pack, "cancelled").answer
    assert faq_entry(pack, "release-date").answer.startswith("As of 2025-09-18, Netflix had not announced")
    assert "As of 2025-09-18, all episodes of season 1 were available" in faq_entry(pack, "watch-season-1").answer


def test_the_finale_survivors_the_article_leaves_out_come_from_a_named_source(pack: DataPack) -> None:
    source = pack.source("denofgeek-finale-2022")
    assert source.publisher == "Den of Geek"
    assert "How Netflix's Bleak Zombie K-Drama Ends" in source.title
    assert source.url is not None
    assert source.retrieved is not None
    for character_id in ("jang-ha-ri", "park-mi-jin"):
        character = pack.character(character_id)
        assert character.series_fate is not None
        assert character.series_fate.source == source.id
        assert character.actor_sources == ("radiotimes-ending-2022-02-02", "kowiki-series")
    answer = faq_entry(pack, "survivors").answer
    assert "Den of Geek" in answer
    assert "Jang Ha Ri and Park Mi Jin" in answer


def test_labels_name_both_endings_where_a_webtoon_fate_reveals_the_series_too(pack: DataPack) -> None:
    for character_id in ("yang-dae-su", "seo-hyo-ryung"):
        fate = pack.character(character_id).webtoon_fate
        assert fate is not None
        assert "Netflix adaptation" in fate.text
        assert fate.label == "webtoon and season 1 endings"


def test_the_source_audit_names_each_undated_unaddressed_or_old_entry(pack: DataPack) -> None:
    """What `python -m bot check` lists: per file and entry, so the fix is one edit away."""
    data = Path("data")
    today = dt.date(2026, 12, 6)
    lines = source_audit(pack, data, today)
    assert f'{data / "sources.toml"}: source "kowiki-series": no date: facts from it show no "as of"' in lines
    assert f'{data / "sources.toml"}: source "kowiki-series": no address: a reader cannot check it' in lines
    assert f'{data / "sources.toml"}: source "article-2025-09-18": no address: a reader cannot check it' in lines
    assert not any('source "netflix-cast-2025-07-23"' in line for line in lines), "dated, with an address"
    assert (
        f'{data / "survivors.toml"}: survivors series "jang-ha-ri": only undated sources (denofgeek-finale-2022)'
        in lines
    )
    old = f'{data / "faq.toml"}: faq "setting": newest source 2025-07-23 is more than 6 months old'
    assert old in lines
    # A month after the announcement nothing is old yet; sources still lack what they lack.
    fresh = source_audit(pack, data, dt.date(2025, 10, 1))
    assert old not in fresh
    assert not any("months old" in line for line in fresh)
    assert len([line for line in fresh if ": source " in line]) == len([line for line in lines if ": source " in line])
