"""TVmaze's public API as the release watch uses it: the only module that talks to TVmaze.

Keyless, JSON over HTTPS (https://www.tvmaze.com/api). Every request names the bot in its
User-Agent, has a timeout, and any failure is one of two exceptions: :class:`TvmazeUnavailable`
(rate limited, a server error, a timeout, no connection: try again later) or
:class:`watch.BadAnswer` (an answer that is not the documented JSON: never proposed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import aiohttp

from bot import __version__
from cogs.countdown.watch import BadAnswer, parse_retry_after

USER_AGENT = f"hyosan-bot/{__version__} (Discord bot for All of Us Are Dead fans; release watch)"

Outage = Literal["rate_limited", "server_error", "timeout", "network"]


@dataclass
class TvmazeUnavailable(Exception):
    """TVmaze did not answer usefully this time; ``retry_after`` is its Retry-After, if it gave one."""

    kind: Outage
    detail: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.kind} ({self.detail})"


class TvmazeClient:
    """GETs of TVmaze's JSON with one aiohttp session, made on first use (inside the running loop)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def seasons(self, show_id: int) -> object:
        """``/shows/{id}/seasons``: every season TVmaze lists for the show."""
        return await self.get_json(f"/shows/{show_id}/seasons")

    async def episodes(self, season_id: int) -> object:
        """``/seasons/{id}/episodes``: a season's episodes with their ``airdate`` and ``airstamp``."""
        return await self.get_json(f"/seasons/{season_id}/episodes")

    async def get_json(self, path: str) -> object:
        try:
            async with self._open().get(self.base_url + path) as response:
                if response.status == 429:
                    raise TvmazeUnavailable(
                        "rate_limited", "HTTP 429", parse_retry_after(response.headers.get("Retry-After"))
                    )
                if response.status >= 500:
                    raise TvmazeUnavailable(
                        "server_error",
                        f"HTTP {response.status}",
                        parse_retry_after(response.headers.get("Retry-After")),
                    )
                if response.status != 200:
                    raise BadAnswer(f"HTTP {response.status} for {path}")
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if kind != "application/json":
                    raise BadAnswer(f"{kind or 'no content type'} instead of JSON for {path}")
                body = await response.read()
        except TimeoutError:
            raise TvmazeUnavailable("timeout", f"no answer within {self.timeout.total:g} s") from None
        except aiohttp.ClientError as exc:
            raise TvmazeUnavailable("network", type(exc).__name__) from None
        try:
            return json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise BadAnswer(f"unreadable JSON for {path}") from None
