"""The data pack in Korean: translations sit beside the English they translate, are checked
like it, and a missing one is reported as one line while readers get that field in English."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.datapack import DataPack, DataPackError, load_data_pack, missing_translations, translation_languages
from bot.spoilers import SpoilerContext
from cogs.characters.render import character_embed

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
HANGUL = re.compile(r"[가-힣]")


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), "utf-8")


def test_korean_is_the_one_translation_language_so_far() -> None:
    assert translation_languages() == ("ko",)


def test_a_translation_reaches_the_reader_of_its_language_only() -> None:
    pack = load_data_pack(DATA_DIR)
    on_jo = pack.character("nam-on-jo")
    assert on_jo.tr("description", "ko") == "효산고등학교 학생이자 이 드라마의 주인공 중 한 명입니다."
    assert on_jo.tr("description", "en-US") == on_jo.description
    assert on_jo.tr("description", "ja") == on_jo.description
    assert on_jo.tr("name", "ko") == "남온조"  # the pack's Hangul is the Korean name
    assert on_jo.tr("actor", "ko") == "박지후"
    assert on_jo.series_fate is not None
    assert on_jo.series_fate.tr("label", "ko") == "시즌 1 결말"
    assert pack.release.window.tr("label", "ko") == "2027년 초"
    assert (pack.show.show.tr("writer", "ko"), pack.show.show.tr("director", "ko")) == ("천성일", "이재규")


def test_a_missing_translation_is_one_line_and_that_field_falls_back_to_english(pack_copy: Path) -> None:
    characters = pack_copy / "characters.toml"
    replace_once(characters, 'description = "감염의 원인을 조사하는 형사입니다."\n', "")
    pack = load_data_pack(pack_copy)
    assert missing_translations(pack, pack_copy) == [
        f'{characters}: character "song-jae-ik": ko.description: no 한국어 translation; readers get the English'
    ]
    detective = pack.character("song-jae-ik")
    embed = character_embed(detective, {s.id: s for s in pack.sources}, SpoilerContext(openly=False, locale="ko"), "ko")
    assert embed.description == detective.description  # English for that field only
    fields = {field.name: field.value for field in embed.fields}
    assert fields["배우"] == "이규형 (Lee Kyu Hyung)"
    assert "넷플릭스의 출연진 발표에는 이 인물의 이름이 없습니다." in fields["시즌 2에 돌아오나요?"]


def test_a_translation_is_checked_like_the_english(pack_copy: Path) -> None:
    survivors = pack_copy / "survivors.toml"
    replace_once(survivors, 'text = "주요 학생 일행과 함께 탈출했습니다."', 'text = "  "')
    with pytest.raises(DataPackError) as caught:
        load_data_pack(pack_copy)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f'{survivors}: survivors series "yang-dae-su": ')
    assert "ko.text: String should have at least 1 character" in message
    replace_once(survivors, 'text = "  "', 'text = "주요 학생 일행과 함께 탈출했습니다."')
    replace_once(survivors, 'topic = "조연들"', 'topic = "' + "가" * 81 + '"')
    with pytest.raises(DataPackError, match=r"ko\.topic: String should have at most 80 characters"):
        load_data_pack(pack_copy)


def test_a_translation_of_nothing_is_refused(pack_copy: Path) -> None:
    characters = pack_copy / "characters.toml"
    replace_once(characters, 'description = "감염의 원인을 조사하는 형사입니다."', 'webtoon_fate.label = "웹툰 결말"')
    with pytest.raises(DataPackError, match=r'character "song-jae-ik": ko\.webtoon_fate: translates nothing'):
        load_data_pack(pack_copy)


def test_a_translation_for_a_language_without_a_catalog_is_a_typo(pack_copy: Path) -> None:
    replace_once(pack_copy / "release.toml", "[ko]\n", "[ja]\n")
    with pytest.raises(DataPackError, match=r"release\.toml: release: ja: Extra inputs are not permitted"):
        load_data_pack(pack_copy)


def test_the_whole_pack_is_translated_into_korean() -> None:
    pack = load_data_pack(DATA_DIR)
    assert missing_translations(pack, DATA_DIR) == []


def test_translations_survive_the_store_round_trip() -> None:
    pack = load_data_pack(DATA_DIR)
    again = DataPack.model_validate_json(pack.model_dump_json())
    assert again == pack
    assert again.release.tr("awaited", "ko") == pack.release.tr("awaited", "ko") != pack.release.awaited
