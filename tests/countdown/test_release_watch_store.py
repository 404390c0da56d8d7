"""The release watch's findings in the store (cogs/countdown/repo/findings.py), on SQLite and PostgreSQL:
a finding is claimed by one process only, a dead claim is taken over, a proposal is decided once."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.store import Store
from cogs.countdown.repo import findings
from cogs.countdown.watch import Finding
from tests.support.stores import read_with

NOW = dt.datetime(2026, 12, 6, 15, tzinfo=dt.UTC)
MARCH_14 = Finding(43_387, 2, dt.date(2027, 3, 14), None, NOW, None)
MARCH_14_AT_8 = Finding(43_387, 2, dt.date(2027, 3, 14), dt.datetime(2027, 3, 14, 8, tzinfo=dt.UTC), NOW, None)


async def test_two_processes_claiming_one_finding_at_once_get_one_claim(store_url: str) -> None:
    stores = [await Store.open(store_url) for _ in range(2)]
    try:
        claims = await asyncio.gather(*(findings.claim(s, MARCH_14, NOW) for s in stores for _ in range(3)))
    finally:
        for opened in stores:
            await opened.close()
    assert len([c for c in claims if c is not None]) == 1


async def test_a_claimed_finding_is_not_claimed_again_until_its_claim_is_stale(store: Store) -> None:
    first = await findings.claim(store, MARCH_14, NOW)
    assert first is not None
    assert await findings.claim(store, MARCH_14, NOW + findings.CLAIM_STALE_AFTER) is None
    taken = await findings.claim(store, MARCH_14, NOW + findings.CLAIM_STALE_AFTER + dt.timedelta(seconds=1))
    assert taken is not None
    assert taken.id == first.id  # the same finding: its proposal is posted with the same nonce
    await findings.mark_proposed(store, first.id, channel_id=5, message_id=6)
    assert await findings.claim(store, MARCH_14, NOW + dt.timedelta(days=30)) is None


async def test_a_proposal_is_decided_once_and_a_new_finding_supersedes_the_open_one(store: Store) -> None:
    first = await findings.claim(store, MARCH_14, NOW)
    assert first is not None
    await findings.mark_proposed(store, first.id, channel_id=5, message_id=6)
    decided = await asyncio.gather(
        findings.decide(store, first.id, "confirmed", 1, NOW), findings.decide(store, first.id, "dismissed", 2, NOW)
    )
    assert sorted(decided) == [False, True]
    await findings.reopen(store, first.id, "confirmed")
    await findings.reopen(store, first.id, "dismissed")
    [row] = await read_with(store, findings.fetch_findings)
    assert row.state == "proposed"

    second = await findings.claim(store, MARCH_14_AT_8, NOW)
    assert second is not None
    states = {f.id: f.state for f in await read_with(store, findings.fetch_findings)}
    assert states == {first.id: "superseded", second.id: "claimed"}
    assert not await findings.decide(store, first.id, "confirmed", 1, NOW)


async def test_a_finding_not_posted_is_released_and_claimed_again(store: Store) -> None:
    claimed = await findings.claim(store, MARCH_14, NOW)
    assert claimed is not None
    await findings.release_claim(store, claimed.id)
    assert await read_with(store, findings.fetch_findings) == []
    again = await findings.claim(store, MARCH_14, NOW)
    assert again is not None
    stored = await read_with(store, findings.fetch_finding, again.id)
    assert stored is not None
    assert (stored.finding.day, stored.finding.airstamp, stored.state) == (MARCH_14.day, None, "claimed")
