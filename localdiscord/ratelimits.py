"""Rate-limit bookkeeping and fault injection for the fake REST API.

discord.py's limiter trusts ``X-RateLimit-*`` headers: it pre-emptively waits
when a bucket is exhausted and retries a 429 only when it carries ``Via``
(Cloudflare bans have none).  The fake hands out consistent headers per bucket,
enforces them, and lets tests inject 429/5xx answers or Discord's global
50 requests/second limit.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Bucket:
    """A fixed-window bucket: ``limit`` requests per ``per`` seconds."""

    key: str
    limit: int
    per: float
    used: int = 0
    window_start: float = field(default_factory=time.monotonic)

    @property
    def hash(self) -> str:
        """Stable opaque id, like Discord's X-RateLimit-Bucket."""
        return hashlib.sha1(self.key.split(":", 1)[0].encode()).hexdigest()[:16]

    def _roll(self, now: float) -> None:
        if now - self.window_start >= self.per:
            self.window_start = now
            self.used = 0

    def take(self) -> bool:
        """Count one request; False when the bucket is already exhausted."""
        now = time.monotonic()
        self._roll(now)
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def reset_after(self) -> float:
        return max(0.0, self.per - (time.monotonic() - self.window_start))

    def headers(self) -> dict[str, str]:
        """The X-RateLimit-* headers for the current window."""
        reset_after = self.reset_after()
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.hash,
        }


@dataclass
class BucketRule:
    """Overrides the default bucket size for matching routes."""

    method: str
    path: re.Pattern[str]
    limit: int
    per: float


class BucketBook:
    """Buckets keyed by route template and its major parameter."""

    def __init__(self, *, default_limit: int = 50, default_per: float = 1.0) -> None:
        self.default_limit = default_limit
        self.default_per = default_per
        self.rules: list[BucketRule] = []
        self._buckets: dict[str, Bucket] = {}

    def set_limit(self, method: str, path_regex: str, limit: int, per: float) -> None:
        """E.g. ``("POST", r"/channels/\\d+/messages", 5, 5.0)`` for Discord's real message limit."""
        self.rules.insert(0, BucketRule(method.upper(), re.compile(path_regex), limit, per))

    def bucket_for(self, method: str, template: str, major: str, path: str) -> Bucket:
        key = f"{method} {template}:{major}"
        bucket = self._buckets.get(key)
        if bucket is None:
            limit, per = self.default_limit, self.default_per
            for rule in self.rules:
                if rule.method in (method, "*") and rule.path.search(path):
                    limit, per = rule.limit, rule.per
                    break
            bucket = self._buckets[key] = Bucket(key=key, limit=limit, per=per)
        return bucket


@dataclass
class Injection:
    """A canned failure answered instead of the real handler ``times`` times."""

    method: str
    path: re.Pattern[str]
    status: int
    retry_after: float
    global_: bool
    times: int
    via: bool
    hits: int = 0

    @property
    def remaining(self) -> int:
        return self.times - self.hits

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method in (method, "*") and bool(self.path.search(path))


class GlobalLimiter:
    """Discord's global limit: ``per_second`` requests per bot token, sliding window."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self._stamps: deque[float] = deque()

    def check(self) -> float | None:
        """Record a request; return retry_after seconds when over the limit."""
        now = time.monotonic()
        while self._stamps and now - self._stamps[0] >= 1.0:
            self._stamps.popleft()
        if len(self._stamps) >= self.per_second:
            return max(0.001, 1.0 - (now - self._stamps[0]))
        self._stamps.append(now)
        return None
