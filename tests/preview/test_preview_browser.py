"""The preview page in a real browser, as a person uses it: Debian's chromium, headless,
driven by Playwright (pointed at the system browser; nothing is ever downloaded).

Set ``PREVIEW_SCREENSHOT=docs/preview.png`` to also write the README's picture from the
first story, taken at the size a laptop shows it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, Route, async_playwright, expect

from tests.support.preview_process import LIVE, PreviewProcess, start_preview


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


CHROMIUM = find_chromium()
IN_CI = os.environ.get("CI") == "true"
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not IN_CI,
    reason="no chromium found (apt-get install chromium, or set CHROMIUM=/path); with CI=true this fails instead",
)
#: Answers the bot edits in later (the poll's tally is refreshed every few seconds) get this long.
SLOW_UPDATE = 20_000


@pytest_asyncio.fixture
async def preview(tmp_path: Path) -> AsyncIterator[PreviewProcess]:
    running = await start_preview(tmp_path)
    try:
        await running.wait_for_line(LIVE)
        yield running
    finally:
        assert await running.stop() == 0, running.output


@pytest_asyncio.fixture
async def page(preview: PreviewProcess) -> AsyncIterator[Page]:
    if CHROMIUM is None:
        pytest.fail("CI=true but no chromium was found: .ci/run installs it with apt-get")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Asia/Seoul")
        opened = await context.new_page()
        problems: list[str] = []
        opened.on("pageerror", lambda error: problems.append(str(error)))
        opened.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        await opened.goto(preview.url)
        await expect(opened.get_by_role("status")).to_have_text("hyosan-bot is online")
        yield opened
        await browser.close()
    assert problems == [], problems


async def run_command(page: Page, command: str, **options: str) -> None:
    """Type the command, fill its options by label and press Send, as a person would."""
    await page.get_by_role("combobox", name="Command").fill(command)
    for name, value in options.items():
        field = page.get_by_role("group", name="Options").get_by_label(name, exact=True)
        if await field.evaluate("node => node.tagName") == "SELECT":
            await field.select_option(label=value)
        else:
            await field.fill(value)
    await page.get_by_role("button", name="Send").click()


async def act_as(page: Page, who: str) -> None:
    await page.get_by_label("Acting as").select_option(label=who)


async def test_character_with_autocomplete_then_opening_a_spoiler(page: Page) -> None:
    await page.get_by_role("combobox", name="Command").fill("/charac")
    await page.get_by_role("option", name="/character").click()
    name = page.get_by_role("combobox", name="name")
    await name.press_sequentially("cheong")
    await page.get_by_role("option", name=re.compile("^Lee Cheong San")).click()
    await expect(name).to_have_value(re.compile("^Lee Cheong San"))
    await page.get_by_role("button", name="Send").click()

    card = page.get_by_role("listitem").filter(has_text="You used /character")
    await expect(card.get_by_text("Lee Cheong San", exact=False).first).to_be_visible()
    await expect(card.get_by_text("Yoon Chan Young").first).to_be_visible()
    fate = card.get_by_text("His fate remains unclear after his final fight.")
    await expect(fate).to_be_hidden()
    spoilers = card.get_by_role("button", name="Spoiler, press to show")
    hidden_before = await spoilers.count()
    shot = os.environ.get("PREVIEW_SCREENSHOT")
    if shot:  # the README's picture, every spoiler still closed: a reader of the README is not spoiled
        await page.screenshot(path=shot)
    await spoilers.filter(has_text="His fate remains unclear").click()  # the others stay closed
    await expect(fate).to_be_visible()
    await expect(spoilers).to_have_count(hidden_before - 1)


async def test_a_poll_vote_changes_the_tally_everyone_sees(page: Page) -> None:
    await run_command(page, "/poll create", question="Who returns first?", options="On-jo | Su-hyeok | Nam-ra")
    poll = page.get_by_role("listitem").filter(has=page.get_by_role("button", name="Su-hyeok"))
    await expect(poll.get_by_text("0 voted")).to_be_visible()
    await poll.get_by_role("button", name="Su-hyeok").click()
    thanks = page.get_by_role("listitem").filter(has_text="Only you can see this").filter(has_text="is counted")
    await expect(thanks).to_be_visible()
    await expect(poll.get_by_text("1 voted")).to_be_visible(timeout=SLOW_UPDATE)
    await act_as(page, "Member")
    await expect(thanks).to_have_count(0)  # the thank-you was only for the voter
    await expect(poll.get_by_text("1 voted")).to_be_visible()


async def test_settings_are_refused_to_a_member_and_done_for_the_moderator_privately(page: Page) -> None:
    await act_as(page, "Member")
    await page.get_by_role("combobox", name="Command").fill("/nope")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_have_text("There is no /nope on this server.")
    await page.get_by_role("combobox", name="Command").fill("/settings spoilers add")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Discord does not offer /settings to member: it needs Manage Server."
    )

    await act_as(page, "Moderator")
    await run_command(page, "/settings spoilers add", channel="#spoilers")
    answer = page.get_by_role("listitem").filter(has_text="Spoilers are now shown openly in #spoilers.")
    await expect(answer).to_be_visible()
    await expect(answer.get_by_text("Only you can see this")).to_be_visible()
    await expect(page.get_by_role("alert")).to_be_hidden()

    await act_as(page, "You")
    await expect(answer).to_have_count(0)


async def test_the_page_is_usable_with_the_keyboard_on_a_phone_sized_window(page: Page) -> None:
    await page.set_viewport_size({"width": 390, "height": 780})
    command = page.get_by_role("combobox", name="Command")
    await command.focus()
    await command.press_sequentially("/abou")
    await command.press("ArrowDown")
    await command.press("Enter")
    await expect(command).to_have_value("/about")
    await page.keyboard.press("Enter")
    about = page.get_by_role("listitem").filter(has_text="You used /about")
    await expect(about).to_be_visible()
    await expect(about.get_by_text("Gateway latency")).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("announcements"))).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "nothing runs off a phone's screen"


async def test_reveal_privately_and_turning_cast_pages(page: Page) -> None:
    await run_command(page, "/character", name="Lee Cheong San")
    card = page.get_by_role("listitem").filter(has_text="You used /character")
    await card.get_by_role("button", name="Reveal privately").click()
    private = (
        page.get_by_role("listitem")
        .filter(has_text="Only you can see this")
        .filter(has_text="His fate remains unclear after his final fight.")
    )
    await expect(private).to_be_visible()

    await run_command(page, "/cast")
    cast = page.get_by_role("listitem").filter(has_text="You used /cast")
    await expect(cast.get_by_text("Page 1 of 3", exact=False)).to_be_visible()
    await cast.get_by_role("button", name="Next").click()
    await expect(cast.get_by_text("Page 2 of 3", exact=False)).to_be_visible()


async def test_an_owners_release_update_is_announced_where_a_moderator_scheduled_posts(page: Page) -> None:
    await act_as(page, "Moderator")
    await run_command(
        page,
        "/settings countdown set",
        channel="#announcements",
        time="13:00",
        timezone="UTC",
        cadence="daily",
        mode="post a new message",
    )
    await expect(page.get_by_role("listitem").filter(has_text="Only you can see this").last).to_be_visible()
    await act_as(page, "Owner")
    await run_command(
        page, "/release update", window="2027-03-14", confidence="confirmed", source="Netflix Tudum (preview test)"
    )
    await expect(page.get_by_text("Release information updated", exact=False)).to_be_visible()
    announcements = page.get_by_role("button", name="announcements (announcements), new messages")
    await expect(announcements).to_be_visible(timeout=SLOW_UPDATE)
    await announcements.click()
    await expect(page.get_by_text("The release information changed", exact=False)).to_be_visible()


async def test_a_timestamp_past_what_a_date_holds_shows_as_typed_and_the_page_keeps_working(page: Page) -> None:
    """Discord shows ``<t:…>`` beyond ±8.64e12 s as the text typed; the page did the same, and stayed up."""
    far, near = "<t:99999999999999999:R>", "<t:1767225600:D>"

    async def with_far_timestamps(route: Route) -> None:
        response = await route.fetch()
        data = await response.json()
        data["messages"].append(
            {
                "id": "9000000000000000001",
                "author": {"id": "9000000000000000002", "username": "visitor", "bot": False},
                "timestamp": "2026-01-01T00:00:00+00:00",
                "flags": 0,
                "content": f"See you {far}, or on {near}",
                "embeds": [{"description": f"Ends {far}", "timestamp": "+999999-01-01T00:00:00Z"}],
                "components": [],
                "attachments": [],
            }
        )
        await route.fulfill(response=response, json=data)

    await page.route("**/api/messages?*", with_far_timestamps)
    visit = page.get_by_role("listitem").filter(has_text="See you")
    await expect(visit).to_contain_text(f"See you {far}, or on")
    await expect(visit.locator("time.stamp")).to_have_count(1)  # the date in range still renders as one
    await expect(visit.get_by_text(f"Ends {far}")).to_be_visible()
    await page.unroute("**/api/messages?*")
    await run_command(page, "/poll create", question="Still here?", options="Yes | No")
    await expect(page.get_by_role("button", name="Yes")).to_be_visible()


async def test_discords_own_spoiler_channel_a_server_without_the_bot_and_a_dm_in_both_languages(page: Page) -> None:
    channels = page.get_by_role("navigation", name="Channels")
    fate_text = "His fate remains unclear after his final fight."
    # A channel marked as a spoiler channel in Discord's own settings: the fate shows openly.
    await channels.get_by_role("button", name="spoiler-room (spoiler channel in Discord)").click()
    await run_command(page, "/character", name="Lee Cheong San")
    card = page.get_by_role("listitem").filter(has_text="You used /character")
    await expect(card.get_by_text(fate_text)).to_be_visible()
    await expect(card.get_by_role("button", name="Reveal privately")).to_have_count(0)

    # A server that never added the bot, where You added the app to your own account.
    await channels.get_by_role("button", name="chat", exact=True).click()
    await expect(page.get_by_role("heading", name="Zombie Drama Club", level=1)).to_be_visible()
    await expect(page.get_by_text("The app is not in this server", exact=False).first).to_be_visible()
    await run_command(page, "/character", name="Lee Cheong San")
    card = page.get_by_role("listitem").filter(has_text="You used /character")
    await expect(card.get_by_text(fate_text)).to_be_hidden()
    await card.get_by_role("button", name="Reveal privately").click()
    private = page.get_by_role("listitem").filter(has_text="Only you can see this").filter(has_text=fate_text)
    await expect(private).to_be_visible()
    await page.get_by_role("combobox", name="Command").fill("/poll list")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Discord does not offer /poll here: it is a server's own command, for servers that added the bot."
    )
    await act_as(page, "Member")  # never added the app
    await page.get_by_role("combobox", name="Command").fill("/countdown")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Discord does not offer /countdown to member here: they have not added the app to their account."
    )
    await act_as(page, "You")

    # The DM with the bot, then the whole page in Korean, as Discord's client would be.
    await channels.get_by_role("button", name="DM with hyosan-bot").click()
    await run_command(page, "/countdown")
    await expect(page.get_by_role("listitem").filter(has_text="You used /countdown")).to_be_visible()
    await page.get_by_label("Language").select_option(label="Korean")
    await expect(page.get_by_role("heading", name="다이렉트 메시지", level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name="채널", level=2)).to_be_visible()
    await expect(page.get_by_role("button", name="보내기")).to_be_visible()
    await run_command_named(page, "보내기", "/survivors")
    answer = page.get_by_role("listitem").filter(has_text="/survivors을(를) 사용했습니다")
    await expect(answer).to_be_visible()
    await expect(answer.get_by_role("button", name="스포일러, 눌러서 보기").first).to_be_visible()
    await page.get_by_role("combobox", name="명령어").fill("/settings spoilers list")
    await page.get_by_role("button", name="보내기").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "디스코드는 여기에서 /settings 명령어를 보여 주지 않습니다. 봇을 추가한 서버에서만 쓸 수 있는 서버 명령어입니다."
    )


async def run_command_named(page: Page, send: str, command: str) -> None:
    """Type a command without options and press the Send button by its name in the page's language."""
    await page.get_by_role("combobox", name=re.compile("Command|명령어")).fill(command)
    await page.get_by_role("button", name=send).click()
async def test_the_premiere_appears_in_the_events_list_once_the_day_is_confirmed(page: Page) -> None:
    events = page.get_by_role("complementary", name="Members").get_by_role("list").last
    await expect(events).to_have_text("No events")
    await act_as(page, "Moderator")
    await run_command(page, "/settings countdown event", state="on")
    await expect(page.get_by_text("Premiere event on").first).to_be_visible()
    await act_as(page, "Owner")
    await run_command(page, "/release update", window="2027-03-14", confidence="confirmed", source="Netflix")
    await expect(events.get_by_text(re.compile("Season 2"))).to_be_visible(timeout=SLOW_UPDATE)
    await expect(events.get_by_text("0 interested")).to_be_visible()
