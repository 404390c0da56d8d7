"""One small translation layer for everything users read.

Catalogs live in ``bot/locales/<language>.toml`` and, for each feature, in
``cogs/<feature>/locales/<language>.toml`` (English now; Korean is planned).
Cogs call :func:`t` with a key and the interaction's locale; command names and
descriptions are ``locale_str`` objects carrying their catalog key, which
:class:`CatalogTranslator` resolves for Discord's per-locale command names.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).with_name("locales")
COGS_DIR = Path(__file__).parent.parent / "cogs"
DEFAULT_LANGUAGE = "en"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def catalog_files(language: str) -> list[Path]:
    return [LOCALES_DIR / f"{language}.toml", *sorted(COGS_DIR.glob(f"*/locales/{language}.toml"))]


@cache
def catalog(language: str) -> Mapping[str, str]:
    """The merged catalog of one language; a key defined twice is a bug."""
    merged: dict[str, str] = {}
    for path in catalog_files(language):
        if not path.exists():
            continue
        with path.open("rb") as handle:
            entries = _flatten(tomllib.load(handle))
        clash = merged.keys() & entries.keys()
        if clash:
            raise ValueError(f"{path}: keys already defined elsewhere: {sorted(clash)}")
        merged.update(entries)
    return merged


def language_of(locale: discord.Locale | str | None) -> str:
    """Discord locales are like "en-US" or "ko"; catalogs are per language."""
    if locale is None:
        return DEFAULT_LANGUAGE
    return str(locale.value if isinstance(locale, discord.Locale) else locale).split("-")[0].lower()


def t(key: str, locale: discord.Locale | str | None = None, /, **values: Any) -> str:
    """The text for ``key`` in the reader's language, falling back to English."""
    template = catalog(language_of(locale)).get(key) or catalog(DEFAULT_LANGUAGE).get(key)
    if template is None:
        log.error("missing translation key %s", key)
        return key
    return template.format(**values) if values else template


def cmd(key: str) -> app_commands.locale_str:
    """A command name, description or choice: English from the catalog, other languages via the translator."""
    english = catalog(DEFAULT_LANGUAGE).get(key)
    if english is None:
        raise KeyError(f"command text {key!r} is in no English catalog (bot/locales/en.toml, cogs/*/locales/en.toml)")
    return app_commands.locale_str(english, key=key)


class CatalogTranslator(app_commands.Translator):
    """Gives Discord each command text in every language that has a catalog entry for it."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        language = language_of(locale)
        if key is None or language == DEFAULT_LANGUAGE:
            return None
        return catalog(language).get(key)
