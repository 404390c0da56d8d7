"""The operating port (METRICS_PORT): ``/metrics`` for Prometheus, ``/livez`` and ``/readyz`` for
systemd, a load balancer or ``python -m bot health``.

An aiohttp server inside the bot's own event loop: ``/livez`` answering at all shows the loop
runs; ``/readyz`` asks the bot whether every shard it runs is READY and the store answers. Each
answers 200 or 503 with one line of JSON, ``{"status": ..., "reason": ...}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.observability.metrics import Metrics

log = logging.getLogger(__name__)

#: None: ready (or live); else the one-line reason it is not.
Check = Callable[[], Awaitable[str | None]]


def health_reply(reason: str | None, ok: str) -> web.Response:
    body = {"status": ok} if reason is None else {"status": "unavailable", "reason": reason}
    return web.Response(
        status=200 if reason is None else 503,
        text=json.dumps(body, ensure_ascii=False) + "\n",
        content_type="application/json",
    )


@dataclass
class OperatingServer:
    """Serves metrics and health on ``host:port`` until closed."""

    metrics: Metrics
    live: Check
    ready: Check
    host: str
    port: int
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen; an OSError (the port is taken) is the caller's to report."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, reuse_address=True).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("metrics and health on http://%s:%d (/metrics, /livez, /readyz)", self.host, self.bound_port)

    @property
    def bound_port(self) -> int:
        """The port listened on (the one asked for, or the system's choice for 0)."""
        if self._runner is None:
            return self.port
        for address in self._runner.addresses:
            return int(address[1])
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _livez(self, request: web.Request) -> web.Response:
        return health_reply(await self.live(), "live")

    async def _readyz(self, request: web.Request) -> web.Response:
        try:
            reason = await self.ready()
        except Exception as exc:  # a readiness check must answer, never fail with a 500
            log.warning("readiness check failed: %s", type(exc).__name__)
            reason = f"readiness check failed ({type(exc).__name__})"
        return health_reply(reason, "ready")
