"""/character, /cast and /faq end to end: a member types, the real bot answers through the fake Discord.

Stories: fans find characters however they spell them (typos, hyphens, Hangul, name
order, the actor's name); a lookup hides fates outside spoiler channels and reveals
them privately; /cast pages only for whoever ran it, also after a restart, and says
clearly when the list is out of date; /faq hides spoiler answers by the same policy;
bad input gets a private explanation that pings nobody and echoes nothing raw.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import Harness

DATA_DIR = Path(__file__).resolve().parents[2] / "data"

EPHEMERAL = 64
UPDATE_MESSAGE = 7
FATES = (
    "His fate remains unclear after his final fight.",
    "Not among the webtoon's survivors",
    "Survived the bombing",
    "One of only three survivors",
)


def embed_text(embed: dict[str, Any]) -> str:
    parts = [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
    for field in embed.get("fields", []):
        parts += [field["name"], field["value"]]
    return "\n".join(parts)


def outside_bars(text: str) -> str:
    return "".join(text.split("||")[::2])


def assert_within_discord_limits(body: dict[str, Any]) -> None:
    """The message body rules Discord enforces (the fake checks them too; this says which)."""
    assert len(body.get("content") or "") <= 2000
    embeds = body.get("embeds") or []
    assert len(embeds) <= 10
    for embed in embeds:
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        assert len(embed.get("fields", [])) <= 25
        for field in embed.get("fields", []):
            assert len(field["name"]) <= 256
            assert len(field["value"]) <= 1024
        assert len(embed.get("footer", {}).get("text", "")) <= 2048
        total = len(embed.get("title", "")) + len(embed.get("description", ""))
        total += len(embed.get("footer", {}).get("text", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
        assert total <= 6000


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components") or [] for c in row.get("components") or []]


def button(message: dict[str, Any], suffix: str) -> dict[str, Any]:
    for row in message.get("components") or []:
        for component in row.get("components") or []:
            if component.get("custom_id", "").endswith(suffix):
                return component
    raise AssertionError(f"no button ending in {suffix!r}")


async def choices_for(h: Harness, command: str, option: str, value: str) -> list[dict[str, Any]]:
    choices = await h.autocomplete(h.member, h.general, command, focused=option, value=value)
    assert len(choices) <= 25
    for choice in choices:
        assert 1 <= len(choice["name"]) <= 100
        assert 1 <= len(str(choice["value"])) <= 100
    return choices


# ---------------------------------------------------------------------------
# /character autocomplete
# ---------------------------------------------------------------------------


VARIANTS = [
    ("Cheong-san", "lee-cheong-san", "hyphenated"),
    ("cheongsan", "lee-cheong-san", "run together"),
    ("cheong san", "lee-cheong-san", "spaced"),
    ("cheonsgan", "lee-cheong-san", "a typo"),
    ("청산", "lee-cheong-san", "Hangul"),
    ("Nam Ra Choi", "choi-nam-ra", "family name last"),
    ("Lee Su Hyeok", "lee-su-hyeok", "family name first"),
    ("su hyeok", "lee-su-hyeok", "given name only"),
    ("Park Solomon", "lee-su-hyeok", "the actor"),
    ("Lomon", "lee-su-hyeok", "the actor's credit in the English press"),
    ("lomon", "lee-su-hyeok", "the actor's credit, lower case"),
    ("Ha Seung-ri", "jang-ha-ri", "an actor of the two students added from Den of Geek"),
    ("mi-jin", "park-mi-jin", "a student added from Den of Geek"),
]


async def test_autocomplete_offers_the_character_first_however_it_is_typed(harness: Harness) -> None:
    for typed, expected, kind in VARIANTS:
        choices = await choices_for(harness, "character", "name", typed)
        assert choices, f"nothing offered for {kind} {typed!r}"
        assert choices[0]["value"] == expected, f"{kind} {typed!r} offered {choices[0]}"


async def test_typing_the_actor_offers_the_character_with_names_only(harness: Harness) -> None:
    choices = await choices_for(harness, "character", "name", "Park Solomon")
    assert choices[0] == {"name": "Lee Su Hyeok · 이수혁 — Lomon", "value": "lee-su-hyeok"}


async def test_autocomplete_labels_never_carry_a_spoiler(harness: Harness) -> None:
    pack = harness.bot.pack
    secrets = [f.text for c in pack.characters for f in (c.series_fate, c.webtoon_fate, *c.spoilers) if f]
    labels = [f.label for c in pack.characters for f in (c.series_fate, c.webtoon_fate, *c.spoilers) if f]
    choices = await choices_for(harness, "character", "name", "")
    assert len(choices) == len(pack.characters)
    for choice in choices:
        assert not any(secret in choice["name"] for secret in secrets)
        assert not any(label in choice["name"] for label in labels)


async def test_autocomplete_with_nonsense_or_markup_offers_nothing(harness: Harness) -> None:
    assert await choices_for(harness, "character", "name", "qqqqzzzz") == []
    assert await choices_for(harness, "character", "name", "@everyone") == []


# ---------------------------------------------------------------------------
# /character lookups
# ---------------------------------------------------------------------------


async def test_a_chosen_character_shows_everything_with_fates_hidden_and_a_private_reveal(harness: Harness) -> None:
    h = harness
    record = await h.slash(h.member, h.general, "character", name="lee-cheong-san")

    assert not record.ephemeral
    assert_within_discord_limits(record.data)
    embed = record.embeds[0]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert embed["title"] == "Lee Cheong San · 이청산"
    assert fields["Actor"] == "Yoon Chan Young (윤찬영)"
    assert fields["Role"] == "Student"
    # Back in season 2 would answer his open fate: hidden like the fate, under its label.
    assert fields["Back in season 2?"].startswith("Spoiler, season 1 ending: ||Confirmed, according to")
    assert "Confirmed" not in outside_bars(fields["Back in season 2?"])
    assert fields["Fate in the series"].startswith("Spoiler, season 1 ending: ||")
    assert fields["Fate in the webtoon"].startswith("Spoiler, webtoon ending: ||")
    shown = outside_bars(embed_text(embed))
    assert not any(fate in shown for fate in FATES)
    assert custom_ids(record.data) == ["spoiler:reveal:character:lee-cheong-san"]

    reveal = await h.click(h.member2, h.general, record.original, "spoiler:reveal:character:lee-cheong-san")
    assert reveal.ephemeral
    revealed = reveal.embeds[0]
    assert "||" not in embed_text(revealed)
    assert "His fate remains unclear after his final fight." in embed_text(revealed)
    assert "Confirmed, according to" in embed_text(revealed)
    assert_within_discord_limits(reveal.data)


@pytest.mark.both_stores
async def test_the_reveal_button_still_works_after_a_restart(harness: Harness) -> None:
    h = harness
    record = await h.slash(h.member, h.general, "character", name="lee-su-hyeok")
    await h.restart()
    reveal = await h.click(h.member, h.general, record.original, "spoiler:reveal:character:lee-su-hyeok")
    assert reveal.ephemeral
    assert "Survived the bombing" in embed_text(reveal.embeds[0])


async def test_free_text_with_a_typo_finds_the_character(harness: Harness) -> None:
    record = await harness.slash(harness.member, harness.general, "character", name="chenog san")
    assert not record.ephemeral
    assert record.embeds[0]["title"] == "Lee Cheong San · 이청산"


async def test_free_text_actor_name_finds_the_character(harness: Harness) -> None:
    record = await harness.slash(harness.member, harness.general, "character", name="Solomon Park")
    assert record.embeds[0]["title"] == "Lee Su Hyeok · 이수혁"


async def test_an_unknown_name_is_answered_privately_with_what_to_do(harness: Harness) -> None:
    h = harness
    record = await h.slash(h.member, h.general, "character", name="Zzyzx Qwv")
    assert record.ephemeral
    assert record.content.startswith("No character matches 'Zzyzx Qwv'.")
    assert "/cast" in record.content
    assert h.fake.channel_messages(h.general.id) == []


async def test_a_near_miss_suggests_up_to_three_names(harness: Harness) -> None:
    record = await harness.slash(harness.member, harness.general, "character", name="su")
    assert record.ephemeral
    assert record.content == (
        "No character matches 'su'. Did you mean 'Lee Su Hyeok', 'Yang Dae Su' or 'Ju Ran'? "
        "Pick a name from the list as you type."
    )


async def test_a_shared_family_name_asks_which_one(harness: Harness) -> None:
    record = await harness.slash(harness.member, harness.general, "character", name="Lee")
    assert record.ephemeral
    assert record.content.startswith("'Lee' could be ")
    assert "'Lee Cheong San'" in record.content


BAD_NAMES = [
    ("   ", "Type a character's or actor's name"),
    ("x" * 120, "That name is too long (120 characters)"),
    ("@everyone", "without mentions"),
    ("@here Cheong San", "without mentions"),
    ("<@{member}>", "without mentions"),
    ("<@&{role}>", "without mentions"),
    ("||Cheong San||", "without mentions, spoiler bars"),
    ("`Cheong San`", "code"),
    ("**Cheong San**", "formatting"),
]


async def test_bad_names_get_a_private_hint_that_pings_nobody_and_echoes_nothing(harness: Harness) -> None:
    h = harness
    for template, says in BAD_NAMES:
        typed = template.format(member=h.member2.id, role=h.guild.id)
        record = await h.slash(h.member, h.general, "character", name=typed)
        assert record.ephemeral, typed
        assert says in record.content, (typed, record.content)
        if typed.strip():
            assert typed.strip() not in record.content, "the raw text is not echoed"
        assert "@everyone" not in record.content
        assert "@here" not in record.content
        assert record.data.get("allowed_mentions") == {"parse": []}
        assert_within_discord_limits(record.data)
    assert h.fake.channel_messages(h.general.id) == [], "nothing was posted publicly"


# ---------------------------------------------------------------------------
# /cast
# ---------------------------------------------------------------------------


async def test_cast_lists_everyone_with_actors_in_groups_without_fates(harness: Harness) -> None:
    h = harness
    first = await h.slash(h.member, h.general, "cast")
    assert not first.ephemeral
    assert_within_discord_limits(first.data)
    page_one = first.embeds[0]
    assert [f["name"] for f in page_one["fields"]] == ["Students"]
    assert "**Lee Su Hyeok** (이수혁) — Lomon" in page_one["fields"][0]["value"]
    assert page_one["footer"]["text"] == "Page 1 of 3 · 17 characters"
    assert button(first.data, ":prev")["disabled"] is True

    next_id = button(first.data, ":next")["custom_id"]
    turned = await h.click(h.member, h.general, first.original, next_id)
    assert turned.callback_type == UPDATE_MESSAGE
    assert_within_discord_limits(turned.data)
    page_two = turned.embeds[0]
    assert [f["name"] for f in page_two["fields"]] == ["Students (continued)", "Teachers", "Others"]
    assert "Song Jae Ik" in page_two["fields"][2]["value"]
    assert page_two["footer"]["text"] == "Page 2 of 3 · 17 characters"

    current = h.fake.get_message(int(first.original["id"]))
    last = await h.click(h.member, h.general, current, button(turned.data, ":next")["custom_id"])
    page_three = last.embeds[0]
    assert [f["name"] for f in page_three["fields"]] == ["New in season 2"]
    assert "**Han Du Seok** (한두석) — Roh Jae Won · National Intelligence Service" in page_three["fields"][0]["value"]
    assert button(last.data, ":next")["disabled"] is True

    everything = embed_text(page_one) + embed_text(page_two) + embed_text(page_three)
    assert "||" not in everything
    for character in h.bot.pack.characters:
        assert character.name in everything
        for fate in (character.series_fate, character.webtoon_fate, *character.spoilers):
            if fate is not None:
                assert fate.text not in everything


async def test_only_the_member_who_ran_cast_can_turn_its_pages(harness: Harness) -> None:
    h = harness
    first = await h.slash(h.member, h.general, "cast")
    next_id = button(first.data, ":next")["custom_id"]

    refused = await h.click(h.member2, h.general, first.original, next_id)
    assert refused.ephemeral
    assert refused.content == f"Only <@{h.member.id}> can turn these pages. Run /cast to get a list of your own."
    assert refused.data.get("allowed_mentions") == {"parse": []}
    stored = h.fake.get_message(int(first.original["id"]))
    assert stored["embeds"][0]["footer"]["text"].startswith("Page 1 of 3")


@pytest.mark.both_stores
async def test_cast_pages_still_turn_after_a_restart(harness: Harness) -> None:
    h = harness
    first = await h.slash(h.member, h.general, "cast")
    next_id = button(first.data, ":next")["custom_id"]
    await h.restart()
    turned = await h.click(h.member, h.general, first.original, next_id)
    assert turned.callback_type == UPDATE_MESSAGE
    assert turned.embeds[0]["footer"]["text"].startswith("Page 2 of 3")
    back = await h.click(h.member, h.general, first.original, button(turned.data, ":prev")["custom_id"])
    assert back.embeds[0]["footer"]["text"].startswith("Page 1 of 3")


async def test_a_cast_list_from_an_older_data_pack_says_it_expired(harness: Harness, tmp_path: Path) -> None:
    h = harness
    first = await h.slash(h.member, h.general, "cast")
    next_id = button(first.data, ":next")["custom_id"]

    edited = tmp_path / "data"
    shutil.copytree(DATA_DIR, edited)
    characters = edited / "characters.toml"
    characters.write_text(characters.read_text("utf-8").replace('actor = "Lomon"', 'actor = "Lomon Jr"'), "utf-8")
    await h.restart(data_dir=edited)

    expired = await h.click(h.member, h.general, first.original, next_id)
    assert expired.ephemeral
    assert expired.content.startswith("This cast list has expired")
    choices = await choices_for(h, "character", "name", "Lomon Jr")
    assert choices[0]["value"] == "lee-su-hyeok", "the index was rebuilt from the changed pack"


# ---------------------------------------------------------------------------
# /faq
# ---------------------------------------------------------------------------


async def test_faq_autocomplete_finds_topics_by_keyword(harness: Harness) -> None:
    choices = await choices_for(harness, "faq", "topic", "netflix")
    assert choices[0] == {"name": "Where can I watch it?", "value": "where-to-watch"}
    everything = await choices_for(harness, "faq", "topic", "")
    assert [c["value"] for c in everything] == [e.id for e in harness.bot.pack.faq]


async def test_faq_where_to_watch_cites_its_source_and_date(harness: Harness) -> None:
    record = await harness.slash(harness.member, harness.general, "faq", topic="where-to-watch")
    assert not record.ephemeral
    embed = record.embeds[0]
    assert "Netflix" in embed["description"]
    assert "hour" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "September 18, 2025" in fields["Source"]
    assert record.components == []
    assert_within_discord_limits(record.data)


async def test_a_spoiler_faq_is_hidden_in_an_ordinary_channel_and_revealed_privately(harness: Harness) -> None:
    h = harness
    record = await h.slash(h.member, h.general, "faq", topic="survivors")
    embed = record.embeds[0]
    assert embed["description"].startswith("Spoiler, season 1 ending: ||")
    assert "Nam On Jo" not in outside_bars(embed_text(embed))
    assert "September 18, 2025" in {f["name"]: f["value"] for f in embed["fields"]}["Source"]
    assert custom_ids(record.data) == ["spoiler:reveal:faq:survivors"]

    reveal = await h.click(h.member2, h.general, record.original, "spoiler:reveal:faq:survivors")
    assert reveal.ephemeral
    assert "||" not in reveal.embeds[0]["description"]
    assert "Nam On Jo" in reveal.embeds[0]["description"]


async def test_a_spoiler_faq_is_shown_openly_in_a_spoiler_channel(harness: Harness) -> None:
    h = harness
    added = await h.slash(h.moderator, h.general, "settings spoilers add", channel=h.in_category)
    assert added.ephemeral
    record = await h.slash(h.member, h.in_category, "faq", topic="webtoon")
    embed = record.embeds[0]
    assert "||" not in embed["description"]
    assert embed["description"].startswith("webtoon and season 1 endings: ")
    assert "only On Jo, Su Hyeok and Nam Ra" in embed["description"]
    assert record.components == []
    assert_within_discord_limits(record.data)


async def test_a_character_in_a_spoiler_channel_shows_fates_openly_without_a_button(harness: Harness) -> None:
    h = harness
    await h.slash(h.moderator, h.general, "settings spoilers add", channel=h.category)
    record = await h.slash(h.member, h.in_category, "character", name="Cheong San")
    text = embed_text(record.embeds[0])
    assert "||" not in text
    assert "His fate remains unclear after his final fight." in text
    # The season 2 status answers his fate, so it is open here as the fate is.
    assert "season 1 ending: Confirmed, according to" in text
    assert record.components == []


async def test_the_faq_answer_naming_the_returning_cast_is_hidden_with_a_reveal(harness: Harness) -> None:
    h = harness
    record = await h.slash(h.member, h.general, "faq", topic="cast")
    embed = record.embeds[0]
    assert embed["title"] == "Who is in the cast of All of Us Are Dead season 2?"
    assert embed["description"].startswith("Spoiler, season 1 ending and who returns in season 2: ||")
    assert "Yoon Chan Young" not in outside_bars(embed["description"])
    assert custom_ids(record.data) == ["spoiler:reveal:faq:cast"]
    reveal = await h.click(h.member2, h.general, record.original, "spoiler:reveal:faq:cast")
    assert reveal.ephemeral
    assert "Yoon Chan Young as Lee Cheong San" in reveal.embeds[0]["description"]


async def test_free_text_faq_topic_resolves_and_unknown_topics_say_what_to_do(harness: Harness) -> None:
    h = harness
    found = await h.slash(h.member, h.general, "faq", topic="release date")
    assert found.embeds[0]["title"] == "When does All of Us Are Dead season 2 come out?"

    unknown = await h.slash(h.member, h.general, "faq", topic="pizza recipes")
    assert unknown.ephemeral
    assert unknown.content.startswith("There is no FAQ topic 'pizza recipes'. Pick a topic from the list")

    pinged = await h.slash(h.member, h.general, "faq", topic="@everyone release")
    assert pinged.ephemeral
    assert "@everyone" not in pinged.content
    assert len(h.fake.channel_messages(h.general.id)) == 1, "only the answer was posted publicly"
