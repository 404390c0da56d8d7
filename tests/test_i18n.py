"""The translation layer: one English catalog now, any language later, no missing keys."""

from __future__ import annotations

import re
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot import i18n
from bot.i18n import CatalogTranslator, Counted, catalog, cmd, language_of, t

ROOT = Path(__file__).parents[1]
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
