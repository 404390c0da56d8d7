"""Korean as a Korean fan writes it: every Korean string, catalogs and pack, held to the glossary.

The rules are general (they read every string, not a list of today's strings), so a key
another feature adds later is checked too. The glossary is bot/locales/glossary/ko.toml.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bot.datapack import DataPack, Translated, load_data_pack
from bot.i18n import catalog

ROOT = Path(__file__).parents[2]
GLOSSARY = tomllib.loads((ROOT / "bot/locales/glossary/ko.toml").read_text("utf-8"))
HANGUL = re.compile("[가-힣]")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
#: A particle standing alone after a space ("/출연진 을"); 이 and 가 are left out (이 is "this").
LONE_PARTICLE = re.compile(r"(?<=\S) (을|를|은|는|의|에서|으로|로|과|와)(?=[\s.,:;!?)'\"]|$)")
#: A particle glued to a placeholder whose last sound the catalog cannot know ("{name}을").
GLUED_PARTICLE = re.compile(r"\}(을|를|은|는|이|가|과|와|으로|로)(?![(가-힣])")
NAME_KEY = re.compile(r"(?:^|\.)(?:name|[a-z_]+_name|[a-z_]+_option)$")


def texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from texts(item)


def catalog_strings(language: str) -> dict[str, str]:
    """Every catalog text of a language by key (each plural form under its own key)."""
    found: dict[str, str] = {}
    for key, entry in catalog(language).items():
        if isinstance(entry, Mapping):
            found.update({f"{key}[{form}]": text for form, text in entry.items()})
        else:
            found[key] = entry
    return found


def pack_translations(pack: DataPack) -> Iterator[tuple[str, str, str]]:
    """(where, English, Korean) for every translated text of the pack."""

    def walk(model: BaseModel, where: str) -> Iterator[tuple[str, str, str]]:
        if isinstance(model, Translated):
            for item in model.translations:
                if item.language == "ko":
                    english = getattr(model, item.field)
                    for en, ko in zip(texts(english), texts(item.text), strict=False):
                        yield f"{where}.{item.field}", en, ko
        for name in type(model).model_fields:
            value = getattr(model, name)
            items = value if isinstance(value, tuple) else (value,)
            for index, item in enumerate(items):
                if isinstance(item, BaseModel):
                    yield from walk(item, f"{where}.{name}[{index}]" if isinstance(value, tuple) else f"{where}.{name}")

    yield from walk(pack, "pack")


@pytest.fixture(scope="module")
def korean() -> dict[str, str]:
    """Every Korean string a reader can see: the catalogs' and the pack's."""
    strings = {f"catalog {key}": text for key, text in catalog_strings("ko").items()}
    pack = load_data_pack(ROOT / "data")
    strings.update({f"{where} ({n})": ko for n, (where, _, ko) in enumerate(pack_translations(pack))})
    return {where: text for where, text in strings.items() if HANGUL.search(text)}


def test_there_is_korean_to_check(korean: dict[str, str]) -> None:
    assert len(korean) > 500
    assert any(where.startswith("pack") for where in korean)


def test_no_iso_date_inside_a_korean_sentence(korean: dict[str, str]) -> None:
    """ "2025년 9월 18일", not 2025-09-18; an ISO date only where it shows what to type."""
    examples = {f"catalog {key}" for key in GLOSSARY["input_format"]["keys"]}
    found = {where: text for where, text in korean.items() if ISO_DATE.search(text) and where not in examples}
    assert found == {}


def test_no_particle_stands_apart_from_its_word(korean: dict[str, str]) -> None:
    found = {where: match.group(0) for where, text in korean.items() if (match := LONE_PARTICLE.search(text))}
    assert found == {}


def test_no_particle_is_glued_to_a_placeholder(korean: dict[str, str]) -> None:
    found = {where: match.group(0) for where, text in korean.items() if (match := GLUED_PARTICLE.search(text))}
    assert found == {}


@pytest.mark.parametrize("rule", GLOSSARY["avoid"], ids=lambda rule: rule["pattern"])
def test_words_the_glossary_avoids(korean: dict[str, str], rule: dict[str, str]) -> None:
    pattern = re.compile(rule["pattern"])
    found = {where: text for where, text in korean.items() if pattern.search(text)}
    assert found == {}, f"write {rule['use']}"


def test_a_missing_permission_says_who_lacks_it(korean: dict[str, str]) -> None:
    subjects = GLOSSARY["permission_subject"]["words"]
    found = {
        where: sentence
        for where, text in korean.items()
        for sentence in re.split(r"(?<=[.!?])\s+", text)
        if re.search(r"권한이 (없|부족)", sentence) and not any(word in sentence for word in subjects)
    }
    assert found == {}


@pytest.mark.parametrize("term", GLOSSARY["show"], ids=lambda term: term["en"])
def test_the_pack_uses_the_show_terms_in_both_languages(term: dict[str, str]) -> None:
    pack = load_data_pack(ROOT / "data")
    found = {
        where: ko
        for where, en, ko in pack_translations(pack)
        if term["en"].casefold() in en.casefold() and term["ko"] not in ko
    }
    assert found == {}, f"{term['en']} is {term['ko']}"


@pytest.mark.parametrize("term", GLOSSARY["bot"], ids=lambda term: term["en"])
def test_the_catalogs_use_the_bot_terms_in_both_languages(term: dict[str, str]) -> None:
    english, korean = catalog_strings("en"), catalog_strings("ko")
    found = {
        key: korean.get(key)
        for key, text in english.items()
        if re.search(rf"\b{re.escape(term['en'])}\b", text, re.IGNORECASE)
        and key in korean
        and not NAME_KEY.search(key)
        and term["ko"] not in korean[key]
    }
    assert found == {}, f"{term['en']} is {term['ko']}"


@pytest.mark.parametrize("language", ["en", "ko"])
def test_command_and_option_names_are_spelled_one_way(language: str) -> None:
    """One word each: no hyphen ("creator_role", "생성역할"), so every name reads alike."""
    names = {key: text for key, text in catalog_strings(language).items() if NAME_KEY.search(key)}
    assert len(names) > 20
    assert {key: text for key, text in names.items() if "-" in text} == {}


def test_every_source_is_named_in_korean_for_a_korean_reader() -> None:
    """An English title in a Korean embed says nothing to its reader: each source has a Korean one."""
    pack = load_data_pack(ROOT / "data")
    assert [source.id for source in pack.sources if not HANGUL.search(source.tr("title", "ko"))] == []
