"""The request pipeline: every REST call goes through one path, so every rule applies to every route.

Parse, route, auth, injected faults, the global and per-route rate limits, the limit and
OpenAPI checks, the handler, headers, recording.  Handlers see an :class:`ApiRequest`,
answer an :class:`ApiReply` or raise :class:`ApiError` (Discord's JSON error shape).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import BodyPartReader, web

from . import limits
from .core import FakeCore, Json
from .interactions import Upload
from .ratelimits import GlobalLimiter, Injection
from .state import parse_snowflake

FAKE_BODY = web.RequestKey("fake_body", object)


class RequestRecord(NamedTuple):
    """One REST call as the fake answered it."""

    method: str
    path: str
    body: Any
    status: int
    time: float


class ApiError(Exception):
    """Raised by handlers to answer with Discord's JSON error shape."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> Json:
        payload: Json = {"message": self.message, "code": self.code}
        if self.errors:
            payload["errors"] = self.errors
        return payload


def not_a_snowflake(value: object, *where: str) -> ApiError:
    """Discord's answer to an id it cannot read: 400/50035 with the field's path in ``errors``."""
    errors: Json = {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": f'Value "{value}" is not snowflake.'}]}
    for key in reversed(where):
        errors = {key: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def snowflake(value: object, *where: str) -> int:
    """The id in a path, query or body field (``where`` names it), or Discord's 400 for a malformed one."""
    number = parse_snowflake(value)
    if number is None:
        raise not_a_snowflake(value, *where)
    return number


def count(value: str, where: str, *, low: int, high: int) -> int:
    """A small integer query parameter (``limit``), held within ``low..high``; Discord's 400 when not a number."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        problem = {"code": "NUMBER_TYPE_COERCE", "message": f'Value "{value}" is not int.'}
        raise ApiError(400, 50035, "Invalid Form Body", {where: {"_errors": [problem]}})
    return max(low, min(high, int(value)))


def foreign_request(request: web.Request, port: int) -> str | None:
    """Why ``request`` does not come from this machine to the server on ``port``; None when it does.

    Both the local Discord and the preview's page bind 127.0.0.1 only, yet a page of another
    site open in the person's browser can still reach them: through a name of its own that
    resolves to 127.0.0.1 (DNS rebinding: a foreign ``Host``), or directly, by a fetch, a
    form or a WebSocket (a foreign ``Origin``; a browser always sends it on those). The bot
    and the tests send no ``Origin`` at all.
    """
    own = {f"127.0.0.1:{port}", f"localhost:{port}"}
    if request.headers.get("Host") not in own:
        return f"this server answers only at http://127.0.0.1:{port}"
    origin = request.headers.get("Origin")
    if origin is not None and origin.removeprefix("http://") not in own:
        return "cross-origin requests are refused"
    return None


@dataclass
class ApiRequest:
    """What a handler sees: route params, query, JSON body and uploaded files."""

    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    files: list[Upload] = field(default_factory=list)


@dataclass
class ApiReply:
    """A handler's answer; ``body=None`` with 204 means no content."""

    status: int = 200
    body: Any = None


Handler = Callable[[ApiRequest], Awaitable[ApiReply]]


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    bot_auth: bool
    check: str | None
    global_exempt: bool


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(f"^{pattern}$")


class RequestPipeline(FakeCore):
    """Routing, auth, limits, rate limits and faults in front of the rooms' handlers."""

    # == routing ==========================================================================

    @property
    def routes(self) -> list[tuple[str, str]]:
        """Every REST route the fake answers, as (method, template under /api/v10)."""
        return [(route.method, route.template) for route in self._routes]

    def _route(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        bot_auth: bool = True,
        check: str | None = None,
        global_exempt: bool = False,
    ) -> None:
        self._routes.append(Route(method, template, _compile(template), handler, bot_auth, check, global_exempt))

    # == the pipeline =====================================================================

    @web.middleware
    async def _only_local(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """REST, gateway and attachments serve this machine's bot, never a page of another site."""
        refused = foreign_request(request, self.port)
        if refused is not None:
            self.refused.append(f"{request.method} {request.path}: {refused}")
            return self._json(403, {"message": "403: Forbidden", "code": 0})
        return await handler(request)

    async def _handle_stray(self, request: web.Request) -> web.StreamResponse:
        """Anything outside /api/v10 (wrong API version, typo'd base URL)."""
        self.unhandled.append(f"{request.method} {request.path}")
        return self._json(404, {"message": "404: Not Found", "code": 0})

    @staticmethod
    def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        """JSON with Content-Type exactly ``application/json`` (discord.py compares it verbatim)."""
        all_headers = dict(headers or {})
        if status == 204 or body is None:
            return web.Response(status=204 if body is None else status, headers=all_headers)
        all_headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Upload]]:
        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            body: Any = None
            files: list[Upload] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name
                data = await part.read()
                if name == "payload_json":
                    body = json.loads(data)
                elif name and name.startswith("files["):
                    files.append(
                        Upload(
                            filename=part.filename or name,
                            data=bytes(data),
                            content_type=part.headers.get("Content-Type", "application/octet-stream"),
                        )
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError as exc:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from exc

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method == method:
                m = route.regex.match(path)
                if m:
                    return route, m.groupdict()
        return None

    @staticmethod
    def _major(params: Mapping[str, str]) -> str:
        for key in ("channel_id", "guild_id"):
            if key in params:
                return params[key]
        if "token" in params:
            return f"{params.get('application_id') or params.get('interaction_id')}:{params['token']}"
        return ""

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        method = request.method
        path = "/" + request.match_info["tail"]
        status = 500
        try:
            response = await self._process(request, method, path)
            status = response.status
            if self.check_own_responses and response.headers.get("Content-Type") == "application/json":
                sent = json.loads(response.body)  # type: ignore[arg-type]
                self.own_response_problems += self.openapi.validate_response(method, path, status, sent)
            return response
        finally:
            self.requests.append(RequestRecord(method, path, request.get(FAKE_BODY), status, started))

    def _too_many(
        self, retry_after: float, *, scope: str, global_: bool, via: bool, headers: Mapping[str, str]
    ) -> web.Response:
        self.rate_limit_hits += 1
        out = dict(headers)
        out.update({"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Scope": scope})
        if global_:
            out["X-RateLimit-Global"] = "true"
        if via:
            out["Via"] = "1.1 google"
        return self._json(
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_, "code": 0},
            out,
        )

    async def _process(self, request: web.Request, method: str, path: str) -> web.Response:
        matched = self._match(method, path)
        try:
            body, files = await self._read_body(request)
        except ApiError as err:
            return self._json(err.status, err.body())
        request[FAKE_BODY] = body
        if matched is None:
            self.unhandled.append(f"{method} {path}")
            return self._json(404, {"message": "404: Not Found", "code": 0})
        route, params = matched

        if route.bot_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._json(401, {"message": "401: Unauthorized", "code": 0})
        for name, raw in params.items():
            if name.endswith("_id") and parse_snowflake(raw) is None:
                return self._json(400, not_a_snowflake(raw, name).body())

        for injection in self.injections:
            if injection.matches(method, path):
                injection.hits += 1
                if injection.status == 429:
                    scope = "global" if injection.global_ else "user"
                    return self._too_many(
                        injection.retry_after, scope=scope, global_=injection.global_, via=injection.via, headers={}
                    )
                return self._json(injection.status, {"message": f"{injection.status}: Injected failure", "code": 0})

        if self.global_limiter is not None and route.bot_auth and not route.global_exempt:
            retry = self.global_limiter.check()
            if retry is not None:
                return self._too_many(retry, scope="global", global_=True, via=True, headers={})

        bucket = self.buckets.bucket_for(method, route.template, self._major(params), path)
        if not bucket.take():
            return self._too_many(bucket.reset_after(), scope="user", global_=False, via=True, headers=bucket.headers())
        rl_headers = bucket.headers()

        problems = self._check_limits(route, method, path, body)
        if problems:
            for problem in problems:
                self.violations.append(f"{method} {route.template}: {problem.describe()}")
            invalid = ApiError(400, 50035, "Invalid Form Body", limits.errors_object(problems))
            return self._json(400, invalid.body(), rl_headers)
        if body is not None and route.check is not None:
            schema_problems = self.openapi.validate(method, path, body)
            if schema_problems:
                self.violations.extend(schema_problems)
                if self.reject_schema_violations:
                    invalid = ApiError(
                        400,
                        50035,
                        "Invalid Form Body",
                        {"_errors": [{"code": "SCHEMA", "message": m} for m in schema_problems]},
                    )
                    return self._json(400, invalid.body(), rl_headers)

        api_request = ApiRequest(method, path, params, request.query, body, files)
        try:
            reply = await route.handler(api_request)
        except ApiError as err:
            return self._json(err.status, err.body(), rl_headers)
        return self._json(reply.status, reply.body, rl_headers)

    def _check_limits(self, route: Route, method: str, path: str, body: Any) -> list[limits.Violation]:
        if route.check == "message":
            return limits.check_message(body)
        if route.check == "callback":
            return limits.check_interaction_callback(body)
        if route.check == "commands":
            return limits.check_commands(body, global_="/guilds/" not in path)
        if route.check == "command":
            return limits.check_command(body)
        return []

    # == fault tools ======================================================================

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        retry_after: float = 0.2,
        global_: bool = False,
        times: int = 1,
        via: bool = True,
    ) -> Injection:
        """Answer the next ``times`` matching requests with ``status`` instead of handling them.

        ``path_regex`` is searched in the path below /api/v10, e.g.
        ``r"/interactions/\\d+/[^/]+/callback"``.  ``via=False`` mimics a
        Cloudflare ban (no ``Via`` header), which discord.py does not retry.
        """
        injection = Injection(method.upper(), re.compile(path_regex), status, retry_after, global_, times, via)
        self.injections.append(injection)
        return injection

    def global_rate_limit(self, per_second: int = 50) -> None:
        """Enforce Discord's global limit on bot-token routes (callbacks exempt).

        One window for the bot's token, shared by every client that sends it: all shards and
        all processes of the bot together, as on Discord (requests with another token get 401
        and count for nobody).
        """
        self.global_limiter = GlobalLimiter(per_second)

    def set_bucket_limit(self, method: str, path_regex: str, limit: int, per: float) -> None:
        """Give matching routes a per-route bucket, e.g. messages 5 per 5 s."""
        self.buckets.set_limit(method, path_regex, limit, per)
