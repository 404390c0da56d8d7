"""The translation layer: one English catalog now, any language later, no missing keys."""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot import i18n
from bot.i18n import (
    CatalogTranslator,
    Counted,
    catalog,
    cmd,
    format_day,
    format_month,
    format_quarter,
    language_name,
    language_of,
    languages,
    permission_names,
    t,
)

ROOT = Path(__file__).parents[2]
LITERAL_KEY = re.compile(r"""\b(?:t|cmd|UserError)\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")


def test_every_literal_catalog_key_in_the_code_exists_in_english() -> None:
    english = catalog("en")
    missing = []
    for path in sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("cogs/**/*.py")]):
        for key in LITERAL_KEY.findall(path.read_text("utf-8")):
            if key not in english:
                missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert missing == []


def test_text_falls_back_to_english_and_fills_placeholders() -> None:
    seconds = Counted("units.seconds", 5)
    assert t("errors.cooldown", "pt-BR", seconds=seconds) == "Slow down a little: try again in 5 seconds."


@pytest.mark.parametrize(
    ("count", "english"),
    [(0, "0 days"), (1, "1 day"), (2, "2 days"), (21, "21 days"), (1234, "1,234 days")],
)
def test_english_plural_forms_follow_cldr(count: int, english: str) -> None:
    assert t("units.days", "en-US", count=count) == english


@pytest.mark.parametrize(
    ("count", "english"),
    [
        (0, "…and 0 older changes."),
        (1, "…and 1 older change."),
        (2, "…and 2 older changes."),
        (21, "…and 21 older changes."),
    ],
)
def test_a_whole_sentence_can_have_plural_forms(count: int, english: str) -> None:
    assert t("countdown.history.more", "en-GB", count=count) == english


def test_counted_nouns_fill_any_placeholder() -> None:
    text = t(
        "polls.invalid.question_too_long",
        "en-US",
        length=Counted("units.characters", 1),
        limit=Counted("units.characters", 256),
    )
    assert text == "The question is 1 character long; the most is 256 characters."


def test_a_plural_entry_without_a_count_is_a_bug() -> None:
    with pytest.raises(TypeError, match=r"units\.days"):
        t("units.days", "en-US")


@pytest.mark.parametrize(
    ("locale", "language"),
    [(discord.Locale.american_english, "en"), (discord.Locale.korean, "ko"), ("zh-TW", "zh"), (None, "en")],
)
def test_discord_locales_map_to_catalog_languages(locale: discord.Locale | str | None, language: str) -> None:
    assert language_of(locale) == language


def test_a_key_defined_in_two_catalogs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "cogs" / "feature" / "locales").mkdir(parents=True)
    (tmp_path / "bot" / "xx.toml").write_text('[errors]\nunexpected = "a"\n')
    (tmp_path / "cogs" / "feature" / "locales" / "xx.toml").write_text('[errors]\nunexpected = "b"\n')
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path / "bot")
    monkeypatch.setattr(i18n, "COGS_DIR", tmp_path / "cogs")
    catalog.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"errors\.unexpected"):
            catalog("xx")
    finally:
        catalog.cache_clear()


async def test_a_second_language_reaches_discord_through_the_translator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = cmd("meta.about.name")
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "ko.toml").write_text('[meta.about]\nname = "정보"\n')
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path / "bot")
    monkeypatch.setattr(i18n, "COGS_DIR", tmp_path / "cogs")
    catalog.cache_clear()
    try:
        translator = CatalogTranslator()
        context = app_commands.TranslationContext(app_commands.TranslationContextLocation.command_name, None)
        assert await translator.translate(name, discord.Locale.korean, context) == "정보"
        assert await translator.translate(name, discord.Locale.american_english, context) is None
        assert await translator.translate(name, discord.Locale.japanese, context) is None
    finally:
        catalog.cache_clear()


# -- every language is complete ---------------------------------------------------------


def placeholders(entry: str | Mapping[str, str]) -> set[str]:
    forms = entry.values() if isinstance(entry, Mapping) else [entry]
    return {name for form in forms for _, name, _, _ in string.Formatter().parse(form) if name}


@pytest.mark.parametrize("language", [language for language in languages() if language != "en"])
def test_every_key_exists_in_every_language_with_the_same_placeholders(language: str) -> None:
    english, other = catalog("en"), catalog(language)
    assert sorted(english.keys() - other.keys()) == [], f"missing in {language}"
    assert sorted(other.keys() - english.keys()) == [], f"only in {language}"
    differing = [key for key in english if placeholders(english[key]) != placeholders(other[key])]
    assert differing == []


@pytest.mark.parametrize("language", languages())
def test_plural_entries_give_exactly_the_forms_cldr_has_for_the_language(language: str) -> None:
    wanted = frozenset(i18n.babel_locale(language).plural_form.tags) | {"other"}  # what CLDR has
    plural = {key: entry for key, entry in catalog(language).items() if isinstance(entry, Mapping)}
    assert plural, "the counted nouns are plural entries"
    assert {key: set(entry) for key, entry in plural.items() if set(entry) != wanted} == {}
    # A text in one language is a plural entry in every language.
    assert plural.keys() == {key for key, entry in catalog("en").items() if isinstance(entry, Mapping)}


def test_korean_is_a_catalog_language_with_its_own_name() -> None:
    assert languages()[:2] == ["en", "ko"]
    assert language_name("ko") == "한국어"
    assert language_name(discord.Locale.american_english) == "English"
    assert language_name("ja") == "English"  # no Japanese catalog: the posts would be English


@pytest.mark.parametrize("count", [0, 1, 2, 21])
def test_korean_counts_use_counters_and_have_one_form(count: int) -> None:
    assert t("units.days", "ko", count=count) == f"{count}일"
    assert t("countdown.release.updated", "ko", count=count, window="w", confidence="c").endswith(
        f"서버 {count}곳에 변경을 알립니다."
    )
    assert t("polls.message.voters", "ko", count=count) == f"{count}명 참여"


def test_numbers_and_dates_follow_the_reader() -> None:
    assert t("units.votes", "en-US", count=12345) == "12,345 votes"
    assert t("units.votes", "ko", count=12345) == "12,345표"
    day = dt.date(2025, 9, 18)
    assert format_day(day, "en-GB") == "September 18, 2025"
    assert format_day(day, discord.Locale.korean) == "2025년 9월 18일"
    assert format_quarter(dt.date(2027, 1, 1), "ko") == "2027년 1분기"
    assert format_month(dt.date(2027, 3, 1), "en-US") == "March 2027"


def test_permissions_are_named_in_the_readers_language() -> None:
    assert permission_names(["manage_guild", "send_messages"], "en-US") == "Manage Server, Send Messages"
    assert permission_names(["manage_guild", "send_messages"], "ko") == "서버 관리하기, 메시지 보내기"


async def test_a_third_language_is_only_catalog_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copy every English catalog as "ja" (with a Japanese word or two): nothing in the code changes."""
    (tmp_path / "bot").mkdir()
    for language in ("en", "ko"):
        (tmp_path / "bot" / f"{language}.toml").write_bytes((i18n.LOCALES_DIR / f"{language}.toml").read_bytes())
    for path in i18n.COGS_DIR.glob("*/locales/*.toml"):
        target = tmp_path / "cogs" / path.parent.parent.name / "locales" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    for english in [tmp_path / "bot" / "en.toml", *(tmp_path / "cogs").glob("*/locales/en.toml")]:
        text = english.read_text("utf-8").replace('name = "English"', 'name = "日本語"')
        text = text.replace('name = "about"', 'name = "情報"').replace('one = "{count} day"\n', "")
        english.with_name("ja.toml").write_text(text.replace('other = "{count} days"', 'other = "{count}日"'), "utf-8")
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path / "bot")
    monkeypatch.setattr(i18n, "COGS_DIR", tmp_path / "cogs")
    catalog.cache_clear()
    try:
        assert languages() == ["en", "ja", "ko"]
        assert language_name(discord.Locale.japanese) == "日本語"
        assert t("units.days", discord.Locale.japanese, count=21) == "21日"
        context = app_commands.TranslationContext(app_commands.TranslationContextLocation.command_name, None)
        name = cmd("meta.about.name")
        assert await CatalogTranslator().translate(name, discord.Locale.japanese, context) == "情報"
        assert await CatalogTranslator().translate(name, discord.Locale.korean, context) == "정보"
    finally:
        catalog.cache_clear()
