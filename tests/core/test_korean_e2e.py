"""한국어: a Korean member and a Korean server, end to end through the fake Discord.

Discord tells the bot each member's language (the interaction's ``locale``) and the
server's (``guild_locale``). Answers follow the member; what the bot posts on its own
(countdown posts, release news, poll messages) follows the server, or the language a
moderator chose with /settings language.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from localdiscord import wait_until
from localdiscord.limits import NAME_RE
from tests.support.harness import Harness

KO = "ko"
HANGUL = re.compile(r"[가-힣]")


async def tick(h: Harness, advance: dt.timedelta | None = None) -> None:
    await h.run_scheduler(advance)


def own_posts(h: Harness, channel: Any) -> list[dict[str, Any]]:
    return [m for m in h.fake.channel_messages(channel) if "interaction_metadata" not in m]


def embed_text(embeds: list[dict[str, Any]]) -> str:
    parts = []
    for embed in embeds:
        parts += [embed.get("title", ""), embed.get("description", ""), (embed.get("footer") or {}).get("text", "")]
        for field in embed.get("fields", []):
            parts += [field["name"], field["value"]]
    return "\n".join(parts)


def walk(items: list[dict[str, Any]], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every command, group, subcommand and option of a synced payload, with its path."""
    found = []
    for item in items:
        where = f"{path} {item['name']}".strip()
        found.append((where, item))
        found += walk(item.get("options") or [], where)
    return found


async def test_every_synced_command_and_option_has_a_valid_korean_name_and_description(harness: Harness) -> None:
    h = harness
    synced = [*h.fake.commands[None], *h.fake.commands[h.guild.id]]
    assert {c["name"] for c in synced} >= {"character", "cast", "faq", "countdown", "survivors", "poll", "settings"}
    missing, bad, english = [], [], []
    for where, item in walk(synced):
        names, descriptions = item.get("name_localizations") or {}, item.get("description_localizations") or {}
        if KO not in names or KO not in descriptions:
            missing.append(where)
            continue
        if not NAME_RE.match(names[KO]) or names[KO] != names[KO].lower():
            bad.append(f"{where}: {names[KO]}")
        if not HANGUL.search(names[KO]) or not HANGUL.search(descriptions[KO]) or len(descriptions[KO]) > 100:
            english.append(f"{where}: {names[KO]} / {descriptions[KO]}")
        for choice in item.get("choices") or []:
            if choice["value"] in ("en", "ko"):
                continue  # a language is offered by its own name ("English", "한국어")
            if not HANGUL.search((choice.get("name_localizations") or {}).get(KO, "")):
                missing.append(f"{where} choice {choice['name']}")
    assert missing == []
    assert bad == []
    assert english == []
    character = next(c for c in synced if c["name"] == "character")
    assert character["name_localizations"][KO] == "인물"
    assert character["options"][0]["name_localizations"][KO] == "이름"


async def test_a_korean_member_gets_the_countdown_in_korean_and_an_english_one_in_english(harness: Harness) -> None:
    h = harness
    korean = await h.slash(h.member, h.general, "countdown", locale=KO)
    shown = embed_text(korean.embeds)
    assert "**37일**" in shown
    assert "확실성" in shown
    assert "남은 날수는 UTC 기준으로 셉니다" in shown
    english = await h.slash(h.member2, h.general, "countdown", locale="en-US")
    assert "**37 days**" in embed_text(english.embeds)


async def test_refusals_and_counts_are_in_the_members_language(harness: Harness) -> None:
    h = harness
    refused = await h.slash(h.member, h.general, "character", locale=KO, name="x" * 120)
    assert refused.ephemeral
    assert refused.content.startswith("이름이 너무 깁니다(120자)")
    refused = await h.slash(h.member, h.general, "poll create", locale=KO, question="?", options="하나")
    assert refused.ephemeral
    assert "선택지 2개 이상이 필요합니다" in refused.content
    refused = await h.slash(h.member, h.general, "faq", locale=KO, topic="zzz")
    assert refused.content.startswith("'zzz'에 해당하는 질문 주제가 없습니다.")


async def test_a_korean_server_gets_korean_countdown_posts(harness: Harness) -> None:
    h = harness
    h.fake.set_guild_locale(h.guild, KO)
    await h.settle(0.1)
    options = {"channel": h.general, "time": "13:00", "timezone": "Asia/Seoul", "cadence": "daily", "mode": "post"}
    saved = await h.slash(h.moderator, h.general, "settings countdown set", locale="en-US", **options)
    assert saved.content.startswith("Countdown posts set")  # the moderator's own answer: English
    await tick(h, dt.timedelta(hours=16))  # 13:00 in Seoul the next day
    assert await wait_until(lambda: len(own_posts(h, h.general)) == 1)
    post = embed_text(own_posts(h, h.general)[0]["embeds"])
    assert "남았습니다" in post
    assert "Asia/Seoul 기준으로 셉니다" in post
    assert "days" not in post


async def test_a_moderator_overrides_the_servers_language_and_settings_show_it(harness: Harness) -> None:
    h = harness
    chosen = await h.slash(h.moderator, h.general, "settings language set", locale="en-US", language=KO)
    assert chosen.ephemeral
    assert "now in 한국어" in chosen.content
    shown = await h.slash(h.moderator, h.general, "settings language show", locale=KO)
    assert shown.content.startswith("이 서버에서 봇이 직접 올리는 글의 언어는 한국어입니다")
    assert "관리자가" in shown.content
    options = {"channel": h.general, "time": "13:00", "timezone": "UTC", "cadence": "daily", "mode": "post"}
    await h.slash(h.moderator, h.general, "settings countdown set", **options)
    settings = await h.slash(h.moderator, h.general, "settings countdown show")
    fields = {f["name"]: f["value"] for f in settings.embeds[0]["fields"]}
    assert "in 한국어, as a moderator chose" in fields["Language"]
    await tick(h, dt.timedelta(hours=1))
    assert await wait_until(lambda: len(own_posts(h, h.general)) == 1)
    assert "남았습니다" in embed_text(own_posts(h, h.general)[0]["embeds"])

    back = await h.slash(h.moderator, h.general, "settings language set", language="server")
    assert "follow the server's language in Discord again (now English)" in back.content
    await tick(h, dt.timedelta(hours=24))
    assert await wait_until(lambda: len(own_posts(h, h.general)) == 2)
    assert "days" in embed_text(own_posts(h, h.general)[1]["embeds"])


async def test_members_cannot_choose_the_servers_language(harness: Harness) -> None:
    h = harness
    h.fake.override_command_permissions(h.guild, "settings", allow_everyone=True)
    refused = await h.slash(h.member, h.general, "settings language set", locale=KO, language=KO)
    assert refused.ephemeral
    assert "서버 관리하기" in refused.content
    shown = await h.slash(h.moderator, h.general, "settings language show")
    assert "the server's language in Discord" in shown.content


async def test_a_poll_in_a_korean_server_speaks_korean_and_each_voter_gets_their_own_language(
    harness: Harness,
) -> None:
    h = harness
    h.bot.get_cog("Polls").refresher.interval = 0.05  # type: ignore[union-attr]
    h.fake.set_guild_locale(h.guild, KO)
    await h.settle(0.1)
    created = await h.slash(
        h.member, h.general, "poll create", locale="en-US", question="누가 돌아올까?", options="온조 | 청산"
    )
    assert await created.wait_followups()
    assert "Poll #1 is up" in created.followups[0]["content"]
    message = next(m for m in h.fake.channel_messages(h.general) if m.get("components"))
    shown = embed_text(message["embeds"])
    assert "0명 참여" in shown
    assert "만든 사람" in shown
    vote_id = message["components"][0]["components"][0]["custom_id"]
    korean = await h.click(h.member, h.general, message, vote_id, locale=KO)
    assert "투표했습니다" in korean.content
    english = await h.click(h.member2, h.general, message, vote_id, locale="en-GB")
    assert "is counted" in english.content
    assert await wait_until(lambda: "2명 참여" in embed_text((h.fake.get_message(int(message["id"])) or {})["embeds"]))


# -- the show's facts in Korean ----------------------------------------------------------------


def allowed_latin(h: Harness) -> set[str]:
    """Latin words a Korean reader may meet: publishers' names, the Korean titles of the
    sources (English titles are translated), the show's English title, romanized names next
    to the Hangul, and the time zone."""
    pack = h.bot.pack
    words = {"UTC"}
    texts = [source.tr("title", "ko") for source in pack.sources] + [source.publisher or "" for source in pack.sources]
    texts += [text for c in pack.characters for text in (c.name, c.actor or "")]
    texts.append(pack.show.show.title)  # the English title next to the Korean one
    for text in texts:
        words |= set(re.findall(r"[A-Za-z]+", text))
    return words


def latin_words(text: str) -> set[str]:
    """Words in Latin letters, leaving out Discord markup (timestamps, links) that clients render."""
    text = re.sub(r"<t:\d+:\w>|<[#@]&?\d+>|\]\(https?://[^)]+\)|https?://\S+", " ", text)
    return set(re.findall(r"[A-Za-z]{2,}", text))


def assert_korean(h: Harness, text: str) -> None:
    assert HANGUL.search(text), text
    assert latin_words(text) - allowed_latin(h) == set(), text


def assert_within_discord_limits(body: dict[str, Any]) -> None:
    assert len(body.get("content") or "") <= 2000
    for embed in body.get("embeds") or []:
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        for field in embed.get("fields", []):
            assert len(field["name"]) <= 256
            assert len(field["value"]) <= 1024
        total = sum(len(embed.get(k, "")) for k in ("title", "description"))
        total += len((embed.get("footer") or {}).get("text", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
        assert total <= 6000


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def test_a_korean_member_looks_up_a_character_with_korean_spoiler_labels_and_reveal(harness: Harness) -> None:
    h = harness
    record = await h.slash(h.member, h.general, "character", locale=KO, name="lee-cheong-san")
    assert not record.ephemeral
    embed = record.embeds[0]
    assert embed["title"] == "이청산 · Lee Cheong San"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["배우"] == "윤찬영 (Yoon Chan Young)"
    assert fields["역할"] == "학생"
    fate = fields["드라마 속 결말"]
    assert fate.startswith("스포일러, ")
    assert "||" in fate
    label = fate.split(": ||")[0].removeprefix("스포일러, ")
    assert HANGUL.search(label)
    hidden = h.bot.pack.character("lee-cheong-san").series_fate
    assert hidden is not None
    assert hidden.tr("text", KO) not in fate.split("||")[0]
    assert_korean(h, embed_text(record.embeds).replace(fate, "").replace(fields["웹툰 속 결말"], ""))
    assert_within_discord_limits(record.data)
    [reveal_button] = buttons(record.data)
    assert reveal_button["label"] == "나만 보기로 열기"

    reveal = await h.click(h.member2, h.general, record.original, reveal_button["custom_id"], locale=KO)
    assert reveal.ephemeral
    opened = embed_text(reveal.embeds)
    assert "||" not in opened
    assert hidden.tr("text", KO) in opened
    assert_korean(h, opened)
    assert_within_discord_limits(reveal.data)


async def test_korean_clients_get_korean_autocomplete_labels_and_hangul_queries_resolve(harness: Harness) -> None:
    h = harness
    choices = await h.autocomplete(h.member, h.general, "character", focused="name", value="청산", locale=KO)
    assert choices[0] == {"name": "이청산 · Lee Cheong San — 윤찬영", "value": "lee-cheong-san"}
    english = await h.autocomplete(h.member, h.general, "character", focused="name", value="청산", locale="en-US")
    assert english[0]["name"] == "Lee Cheong San · 이청산 — Yoon Chan Young"
    topics = await h.autocomplete(h.member, h.general, "faq", focused="topic", value="공개", locale=KO)
    assert topics
    assert all(HANGUL.search(choice["name"]) and len(choice["name"]) <= 100 for choice in topics)
    assert "release-date" in [choice["value"] for choice in topics]


async def test_survivors_and_the_faq_answer_in_korean(harness: Harness) -> None:
    h = harness
    for version in ("series", "webtoon", "compare"):
        record = await h.slash(h.member, h.general, "survivors", locale=KO, version=version)
        shown = embed_text(record.embeds) + "\n" + (record.content or "")
        outside = "".join(shown.split("||")[::2])
        assert_korean(h, outside)
        assert_within_discord_limits(record.data)
        assert [b["label"] for b in buttons(record.data)] == ["나만 보기로 열기"]
    record = await h.slash(h.member, h.general, "faq", locale=KO, topic="release-date")
    assert_korean(h, embed_text(record.embeds))
    assert_within_discord_limits(record.data)
    cast = await h.slash(h.member, h.general, "cast", locale=KO)
    assert_korean(h, embed_text(cast.embeds))
    assert [b["label"] for b in buttons(cast.data)][:2] == ["이전", "다음"]
    about = await h.slash(h.member, h.general, "about", locale=KO)
    assert_korean(h, embed_text(about.embeds).replace(h.bot.version, ""))


async def test_the_countdown_card_is_all_korean(harness: Harness) -> None:
    h = harness
    record = await h.slash(h.member, h.general, "countdown", locale=KO)
    shown = embed_text(record.embeds)
    assert "**2027년 초**" in shown
    assert_korean(h, shown)
    history = await h.slash(h.member, h.general, "countdown", locale=KO, history=True)
    assert_korean(h, embed_text(history.embeds))
