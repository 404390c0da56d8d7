"""One small translation layer for everything users read.

Catalogs live in ``bot/locales/<language>.toml`` and, for each feature, in
``cogs/<feature>/locales/<language>.toml``; a language is a set of catalog files,
nothing in the code. Cogs call :func:`t` with a key and the reader's locale. A
catalog entry is a text, or a table of CLDR plural forms (``one``, ``other``, …)
chosen by Babel's plural rules from the ``count`` value. Numbers are formatted by
Babel in the reader's language, dates by :func:`format_day`. Command names and
descriptions are ``locale_str`` objects carrying their catalog key, which
:class:`CatalogTranslator` resolves for Discord's per-locale command names.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import babel
import babel.dates
import babel.numbers
import discord
from discord import app_commands

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LOCALES_DIR = Path(__file__).with_name("locales")
COGS_DIR = Path(__file__).parent.parent / "cogs"
DEFAULT_LANGUAGE = "en"
#: The categories CLDR plural rules can choose; "other" is in every language.
PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})

Locale = discord.Locale | str | None
#: A catalog entry: a text, or plural forms by CLDR category.
Entry = str | Mapping[str, str]


def _is_plural(table: Mapping[str, Any]) -> bool:
    return "other" in table and table.keys() <= PLURAL_CATEGORIES and all(isinstance(v, str) for v in table.values())


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Entry]:
    flat: dict[str, Entry] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and _is_plural(value):
            flat[name] = dict(value)
        elif isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def catalog_files(language: str) -> list[Path]:
    return [LOCALES_DIR / f"{language}.toml", *sorted(COGS_DIR.glob(f"*/locales/{language}.toml"))]


def languages() -> list[str]:
    """Every language that has a core catalog, English first."""
    found = sorted(path.stem for path in LOCALES_DIR.glob("*.toml"))
    return sorted(found, key=lambda language: language != DEFAULT_LANGUAGE)


def language_name(locale: Locale) -> str:
    """A language by its own name ("English", "한국어"), from its catalog; one without a catalog shows as English."""
    language = language_of(locale)
    if language not in languages():
        language = DEFAULT_LANGUAGE
    name = catalog(language).get("language.name")
    return name if isinstance(name, str) else language


@cache
def catalog(language: str) -> Mapping[str, Entry]:
    """The merged catalog of one language; a key defined twice is a bug."""
    merged: dict[str, Entry] = {}
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


def language_of(locale: Locale) -> str:
    """Discord locales are like "en-US" or "ko"; catalogs are per language."""
    if locale is None:
        return DEFAULT_LANGUAGE
    return str(locale.value if isinstance(locale, discord.Locale) else locale).split("-")[0].lower()


@cache
def babel_locale(language: str) -> babel.Locale:
    """Babel's data for a catalog language; one CLDR does not know falls back to English."""
    try:
        return babel.Locale.parse(language)
    except (babel.UnknownLocaleError, ValueError):
        return babel.Locale.parse(DEFAULT_LANGUAGE)


def format_percent(value: float, locale: Locale) -> str:
    """A share (0.25) as the reader's language writes a percentage."""
    return babel.numbers.format_percent(value, locale=babel_locale(language_of(locale)))


def format_day(day: dt.date, locale: Locale) -> str:
    """A calendar date written as text in the reader's language ("September 18, 2025", "2025년 9월 18일")."""
    return babel.dates.format_date(day, format="long", locale=babel_locale(language_of(locale)))


def format_month(day: dt.date, locale: Locale) -> str:
    """A month of a year ("March 2027", "2027년 3월")."""
    return babel.dates.format_skeleton("yMMMM", day, locale=babel_locale(language_of(locale)))


def format_quarter(day: dt.date, locale: Locale) -> str:
    """The quarter a date falls in ("Q1 2027", "2027년 1분기")."""
    return babel.dates.format_skeleton("yQQQ", day, locale=babel_locale(language_of(locale)))


def format_year(day: dt.date, locale: Locale) -> str:
    return babel.dates.format_skeleton("y", day, locale=babel_locale(language_of(locale)))


@dataclass(frozen=True, slots=True)
class Counted:
    """A number with its noun, rendered by the plural entry ``unit``: Counted("units.days", 3) is "3 days", "3일"."""

    unit: str
    count: int


def _shown(value: Any, language: str) -> Any:
    """Numbers and dates go through Babel, counted nouns through their plural entry; ids are passed as str."""
    if isinstance(value, Counted):
        return t(value.unit, language, count=value.count)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return format_day(value, language)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return babel.numbers.format_decimal(value, locale=babel_locale(language))


def t(key: str, locale: Locale = None, /, **values: Any) -> str:
    """The text for ``key`` in the reader's language, falling back to English.

    A plural entry needs ``count``: Babel's CLDR rules for the language choose the form.
    Every number and date among ``values`` is formatted for the language; pass ids as ``str``.
    """
    language = language_of(locale)
    entry = catalog(language).get(key)
    if entry is None:
        language = DEFAULT_LANGUAGE
        entry = catalog(DEFAULT_LANGUAGE).get(key)
    if entry is None:
        log.error("missing translation key %s", key)
        return key
    if isinstance(entry, Mapping):
        count = values.get("count")
        if not isinstance(count, int | float) or isinstance(count, bool):
            raise TypeError(f"{key} has plural forms and needs a number as count, got {count!r}")
        category = babel_locale(language).plural_form(abs(count))
        template = entry.get(category) or entry["other"]
    else:
        template = entry
    if not values:
        return template
    return template.format(**{name: _shown(value, language) for name, value in values.items()})


def permission_names(flags: Iterable[str], locale: Locale) -> str:
    """Discord permissions (discord.py flag names) as Discord's client names them in the reader's language."""
    names = []
    for flag in flags:
        entry = catalog(language_of(locale)).get(f"permissions.{flag}") or catalog(DEFAULT_LANGUAGE).get(
            f"permissions.{flag}"
        )
        names.append(entry if isinstance(entry, str) else flag.replace("_", " ").title())
    return t("permissions.separator", locale).join(names)


def cmd(key: str) -> app_commands.locale_str:
    """A command name, description or choice: English from the catalog, other languages via the translator."""
    english = catalog(DEFAULT_LANGUAGE).get(key)
    if not isinstance(english, str):
        raise KeyError(f"command text {key!r} is in no English catalog (bot/locales/en.toml, cogs/*/locales/en.toml)")
    return app_commands.locale_str(english, key=key)


def localized_options(prefix: str, /, *names: str, **keyed: tuple[str, str]) -> Callable[[F], F]:
    """``@app_commands.rename`` and ``@app_commands.describe`` in one, both from the catalog.

    Option ``x`` in ``names`` is named by ``{prefix}.x_option`` and described by
    ``{prefix}.x_description``; an option whose keys differ (wording shared by several
    commands) gives them, after ``{prefix}.``, as ``x=("name_key", "description_key")``.
    """
    keys = {name: (f"{name}_option", f"{name}_description") for name in names} | keyed
    rename = app_commands.rename(**{name: cmd(f"{prefix}.{key}") for name, (key, _) in keys.items()})
    describe = app_commands.describe(**{name: cmd(f"{prefix}.{key}") for name, (_, key) in keys.items()})

    def localize(func: F) -> F:
        return rename(describe(func))

    return localize


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
        text = catalog(language).get(key)
        return text if isinstance(text, str) else None
