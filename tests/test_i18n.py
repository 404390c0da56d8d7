"""The translation layer: one English catalog now, any language later, no missing keys."""

from __future__ import annotations

import re
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot import i18n
from bot.i18n import CatalogTranslator, catalog, cmd, language_of, t

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
    assert t("errors.cooldown", discord.Locale.korean, seconds=3) == "Slow down a little: try again in 3 seconds."
    assert t("errors.cooldown", "pt-BR", seconds=5).endswith("5 seconds.")


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
