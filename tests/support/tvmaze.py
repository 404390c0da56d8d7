"""A local TVmaze: real HTTP on 127.0.0.1 (aiohttp) answering ``/shows/{id}/seasons`` and
``/seasons/{id}/episodes`` in the JSON shapes TVmaze documents (https://www.tvmaze.com/api).

A test changes what it says (:meth:`LocalTvmaze.announce`) and how it fails: 429 with a
Retry-After, 500, an answer slower than the bot's timeout, an HTML page (labelled as such or as JSON), JSON
without the fields, a date that is no date (:meth:`LocalTvmaze.fail`). Every request is recorded with
its User-Agent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

SHOW_ID = 43_387
SEASON_IDS = {1: 118_873, 2: 160_001}

Fault = Literal["rate_limited", "server_error", "slow", "html", "not_json", "missing_fields", "bad_date"]


@dataclass(frozen=True)
class Request:
    path: str
    user_agent: str
    at: float


def season_json(number: int, premiere: dt.date | None, episode_order: int | None) -> dict[str, Any]:
    season_id = SEASON_IDS[number]
    return {
        "id": season_id,
        "url": f"https://www.tvmaze.com/seasons/{season_id}/all-of-us-are-dead-season-{number}",
        "number": number,
        "name": "",
        "episodeOrder": episode_order,
        "premiereDate": premiere.isoformat() if premiere else None,
        "endDate": premiere.isoformat() if premiere else None,
        "network": None,
        "webChannel": {"id": 1, "name": "Netflix", "country": None, "officialSite": "https://www.netflix.com/"},
        "image": None,
        "summary": None,
        "_links": {"self": {"href": f"https://api.tvmaze.com/seasons/{season_id}"}},
    }


def episode_json(season: int, number: int, airstamp: dt.datetime | None, airdate: dt.date | None) -> dict[str, Any]:
    episode_id = season * 10_000 + number
    return {
        "id": episode_id,
        "url": f"https://www.tvmaze.com/episodes/{episode_id}/all-of-us-are-dead-{season}x{number:02d}-episode-{number}",
        "name": f"Episode {number}",
        "season": season,
        "number": number,
        "type": "regular",
        "airdate": airdate.isoformat() if airdate else "",
        "airtime": "",
        "airstamp": airstamp.isoformat() if airstamp else None,
        "runtime": 60,
        "rating": {"average": None},
        "image": None,
        "summary": None,
        "_links": {"self": {"href": f"https://api.tvmaze.com/episodes/{episode_id}"}},
    }


@dataclass
class LocalTvmaze:
    """What TVmaze says about the show (season 1 premiered 2022-01-28; season 2 as announced)."""

    show_id: int = SHOW_ID
    requests: list[Request] = field(default_factory=list)
    season_two: dt.date | None = None
    first_episode_at: dt.datetime | None = None
    fault: Fault | None = None
    fault_times: int = 0
    retry_after: int | None = None
    slow_seconds: float = 5.0
    _runner: web.AppRunner | None = None
    url: str = ""

    def announce(self, day: dt.date | None, first_episode_at: dt.datetime | None = None) -> None:
        """TVmaze now gives season 2 this premiere (None: no date), and its first episode's instant."""
        self.season_two = day
        self.first_episode_at = first_episode_at

    def fail(self, fault: Fault | None, times: int = 1_000_000, *, retry_after: int | None = None) -> None:
        """The next ``times`` requests fail so (None: answer properly again)."""
        self.fault, self.fault_times, self.retry_after = fault, times if fault else 0, retry_after

    def seasons(self) -> list[dict[str, Any]]:
        return [
            season_json(1, dt.date(2022, 1, 28), 12),
            season_json(2, self.season_two, 8 if self.first_episode_at else None),
        ]

    def episodes(self, number: int) -> list[dict[str, Any]]:
        if number == 1:
            start = dt.datetime(2022, 1, 28, 8, tzinfo=dt.UTC)
            return [episode_json(1, n, start, start.date()) for n in range(1, 13)]
        if self.first_episode_at is None:
            return []
        return [episode_json(2, n, self.first_episode_at, self.season_two) for n in range(1, 9)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Request(request.path, request.headers.get("User-Agent", ""), time.time()))
        if self.fault is not None and self.fault_times > 0:
            self.fault_times -= 1
            fault = self.fault
            if self.fault_times == 0:
                self.fault = None
            return await self._faulty(fault, request)
        return web.json_response(self._body(request))

    def _body(self, request: web.Request) -> Any:
        parts = request.path.strip("/").split("/")
        if parts[0] == "shows" and parts[2:] == ["seasons"] and parts[1] == str(self.show_id):
            return self.seasons()
        if parts[0] == "seasons" and parts[2:] == ["episodes"]:
            number = {str(v): k for k, v in SEASON_IDS.items()}.get(parts[1])
            if number is not None:
                return self.episodes(number)
        raise web.HTTPNotFound(text=json.dumps({"name": "Not Found", "status": 404}), content_type="application/json")

    async def _faulty(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        if fault == "rate_limited":
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
            return web.json_response({"name": "Too Many Requests", "status": 429}, status=429, headers=headers)
        if fault == "server_error":
            return web.Response(status=500, text="<html><body>Internal Server Error</body></html>", content_type="text/html")
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
            return web.json_response(self._body(request))
        if fault == "html":
            return web.Response(text="<!DOCTYPE html><html><body>TVmaze</body></html>", content_type="text/html")
        if fault == "not_json":  # labelled JSON, but an error page (a proxy's, say)
            return web.Response(text="<html><body>Bad Gateway</body></html>", content_type="application/json")
        body = self._body(request)
        if fault == "missing_fields" and isinstance(body, list):
            body = [{k: v for k, v in entry.items() if k != "number"} for entry in body]
        if fault == "bad_date" and isinstance(body, list):
            body = [{**entry, "premiereDate": "2027-02-30"} for entry in body]
        return web.json_response(body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def looks(self) -> int:
        """How many looks the bot made (each starts with the seasons)."""
        return sum(1 for r in self.requests if r.path.endswith("/seasons"))
