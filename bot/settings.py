"""Settings read from the environment and from .env; built once by the entry point.

Nothing here runs at import time: the entry point calls :func:`load_settings` and
passes the result to the bot, so tests build their own ``Settings`` directly.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL

from bot.store.errors import StoreError
from bot.store.urls import parse_database_url

DISCORD_API_BASE_URL = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_DATABASE_PATH = Path("var/hyosan.db")
DEFAULT_DATA_DIR = Path("data")
#: Days a guild's settings are kept after the bot leaves it.
DEFAULT_GUILD_GRACE_DAYS = 7.0
DEFAULT_TVMAZE_API_URL = "https://api.tvmaze.com"
#: The release watch looks at TVmaze every 6 hours by default, at most every 5 minutes.
DEFAULT_RELEASE_WATCH_INTERVAL = 6 * 3600.0
MIN_RELEASE_WATCH_INTERVAL = 5 * 60.0
MAX_RELEASE_WATCH_INTERVAL = 7 * 86_400.0
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
#: A guard against typos such as 0-40000000 (no bot runs that many shards in one process).
MAX_SHARD_RANGE = 100_000

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]
IdList = Annotated[tuple[int, ...], NoDecode]
ShardIdList = Annotated[tuple[int, ...] | None, NoDecode]


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the setting."""


class Settings(BaseSettings):
    """Every setting of the bot; README and .env.example list the same names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    discord_token: SecretStr | None = None
    database_path: Path = DEFAULT_DATABASE_PATH
    #: sqlite:///path or postgresql://...; when set it wins over database_path. Secret: it may hold a password.
    database_url: SecretStr | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    log_level: LogLevel = "INFO"
    owner_ids: IdList = ()
    dev_guild_id: int | None = Field(default=None, gt=0)
    admin_guild_ids: IdList = ()
    discord_api_base_url: str = DISCORD_API_BASE_URL
    discord_gateway_url: str = DISCORD_GATEWAY_URL
    #: None: Discord's recommendation from GET /gateway/bot (discord.py's AutoShardedBot default).
    shard_count: int | None = Field(default=None, gt=0)
    #: None: every shard of shard_count. Must come after shard_count (its validator reads it).
    shard_ids: ShardIdList = None
    #: None: the share of this process's shards (bot/pacing.py); else a fraction in (0, 1].
    rest_rate_share: float | None = None
    #: Days a guild's settings are kept after the bot leaves it (re-invited within them, they come back).
    guild_grace_days: float = Field(default=DEFAULT_GUILD_GRACE_DAYS, ge=0, le=3650)
    #: A member creates at most one poll per this many seconds in a server (0: no wait).
    poll_create_cooldown_seconds: float = Field(default=30.0, ge=0, le=86_400)
    #: A server has at most this many open polls at a time.
    poll_open_limit: int = Field(default=25, ge=1, le=10_000)
    #: A closed poll forgets who voted for what after this many days (its counts stay).
    poll_vote_retention_days: int = Field(default=180, ge=1, le=36_500)
    # -- release watch (issue 25): declared in this order, the channel's validator reads the others.
    #: The show's TVmaze id; set, the bot looks at TVmaze for the awaited season's premiere.
    release_watch_tvmaze_id: int | None = Field(default=None, gt=0)
    #: TVmaze's API (tests point it at a local server).
    tvmaze_api_url: str = DEFAULT_TVMAZE_API_URL
    #: Seconds between two looks (written as 6h, 30m, 300 or 300s); at least five minutes.
    release_watch_interval: float = DEFAULT_RELEASE_WATCH_INTERVAL
    #: The first look comes a random 0..this many seconds after the bot is ready (tests: 0).
    release_watch_start_jitter: float = Field(default=30.0, ge=0, le=60)
    #: After a failed look (TVmaze down, slow or garbled), the next comes this many seconds later,
    #: doubling at each failure in a row up to the interval (tests: a second or two).
    release_watch_retry_seconds: float = Field(default=60.0, ge=1, le=3600)
    #: How long one request to TVmaze may take, in seconds.
    tvmaze_timeout: float = Field(default=10.0, ge=1, le=60)
    #: Where proposals are posted: a channel in one of ADMIN_GUILD_IDS.
    release_watch_channel_id: int | None = Field(default=None, gt=0, validate_default=True)
    #: The application's id, for `python -m bot invite` without a token (the token names it otherwise).
    application_id: int | None = Field(default=None, gt=0, lt=2**64)
    #: The port of /metrics, /livez and /readyz (bot/observability); None: not served.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: The address it listens on: this computer only unless an operator says otherwise.
    metrics_host: str = "127.0.0.1"
    #: "text" for people (the default) or "json": one object a line for journald, Loki or a shipper.
    log_format: LogFormat = "text"

    @field_validator("discord_token", mode="before")
    @classmethod
    def _empty_token_is_missing(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _empty_url_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                parse_database_url(value.get_secret_value())
            except StoreError as exc:
                raise ValueError(str(exc).removeprefix("DATABASE_URL: ")) from None
        return value

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _empty_port_is_off(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("metrics_host", mode="before")
    @classmethod
    def _empty_host_is_loopback(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or "127.0.0.1"
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or "text"
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("dev_guild_id", "application_id", mode="before")
    @classmethod
    def _empty_guild_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("shard_count", mode="before")
    @classmethod
    def _empty_count_is_auto(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("guild_grace_days", mode="before")
    @classmethod
    def _empty_grace_is_default(cls, value: object) -> object:
        return DEFAULT_GUILD_GRACE_DAYS if isinstance(value, str) and not value.strip() else value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _parse_shard_ids(cls, value: object) -> object:
        """Accept "0-3", "0,2" or "0-1,4"; empty means every shard."""
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            return value
        return parse_shard_ids(value)

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids_within_count(cls, value: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        if value is None:
            return None
        if "shard_count" not in info.data:
            return value  # SHARD_COUNT itself is bad and reported on its own
        count = info.data["shard_count"]
        if count is None:
            raise ValueError("needs SHARD_COUNT: set the total number of shards of the bot as well")
        outside = [shard for shard in value if shard >= count]
        if outside:
            raise ValueError(f"shard {outside[0]} is out of range: SHARD_COUNT={count} allows 0..{count - 1}")
        return value

    @field_validator("rest_rate_share", mode="before")
    @classmethod
    def _parse_share(cls, value: object) -> object:
        """A fraction of Discord's global limit, e.g. 0.5; empty means the share of SHARD_IDS."""
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number: give a fraction in (0, 1], e.g. 0.5") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if not 0 < value <= 1:  # also refuses NaN
            raise ValueError(f"{value:g} is outside (0, 1]: give this process's fraction of the limit, e.g. 0.5")
        return float(value)

    @field_validator("owner_ids", "admin_guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept "1, 2,3" as in .env; every part must be a positive Discord id."""
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            return value
        ids: list[int] = []
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or int(part) <= 0:
                raise ValueError(f"{part!r} is not a Discord id (digits only, comma-separated)")
            ids.append(int(part))
        return tuple(ids)

    @field_validator("discord_api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
            raise ValueError("must be an http:// or https:// URL, e.g. https://discord.com/api/v10")
        refuse_token_in_the_clear(value, plain="http", secure="https")
        return value

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("ws://", "wss://")) or len(value) <= len("wss://"):
            raise ValueError("must be a ws:// or wss:// URL, e.g. wss://gateway.discord.gg/")
        refuse_token_in_the_clear(value, plain="ws", secure="wss")
        return value

    @field_validator("release_watch_tvmaze_id", "release_watch_channel_id", mode="before")
    @classmethod
    def _empty_id_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tvmaze_api_url")
    @classmethod
    def _tvmaze_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
            raise ValueError("must be an http:// or https:// URL, e.g. https://api.tvmaze.com")
        return value

    @field_validator("release_watch_interval", mode="before")
    @classmethod
    def _parse_interval(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    @field_validator("release_watch_interval")
    @classmethod
    def _interval_bounds(cls, value: float) -> float:
        if not MIN_RELEASE_WATCH_INTERVAL <= value <= MAX_RELEASE_WATCH_INTERVAL:
            raise ValueError(
                f"{value:g} seconds is outside 5 minutes to 7 days: TVmaze is asked at most every 5 minutes "
                "(write e.g. 6h, 30m or 300)"
            )
        return value

    @field_validator("release_watch_channel_id")
    @classmethod
    def _watch_has_a_channel(cls, value: int | None, info: ValidationInfo) -> int | None:
        """The watch needs a channel for its proposals and owners in an admin guild to decide them."""
        if info.data.get("release_watch_tvmaze_id") is None:
            return value
        if value is None:
            raise ValueError(
                "needed with RELEASE_WATCH_TVMAZE_ID: the channel (in one of ADMIN_GUILD_IDS) where proposals go"
            )
        if not info.data.get("admin_guild_ids"):
            raise ValueError("needs ADMIN_GUILD_IDS: the proposals' channel must be in one of the admin guilds")
        if not info.data.get("owner_ids"):
            raise ValueError("needs OWNER_IDS: only owners may record or dismiss a proposal")
        return value

    @property
    def release_watch_on(self) -> bool:
        return self.release_watch_tvmaze_id is not None and self.release_watch_channel_id is not None

    @property
    def store_url(self) -> URL:
        """The database the store opens: DATABASE_URL, else the SQLite file at DATABASE_PATH."""
        if self.database_url is None:
            return parse_database_url(self.database_path)
        url = self.database_url
        return parse_database_url(url.get_secret_value() if isinstance(url, SecretStr) else str(url))

    @property
    def token(self) -> str | None:
        return self.discord_token.get_secret_value() if self.discord_token else None


def refuse_token_in_the_clear(url: str, *, plain: str, secure: str) -> None:
    """Every REST call carries the bot's token, and so does the gateway's IDENTIFY: a plain
    ``http``/``ws`` URL may only name this computer (127.0.0.0/8, ::1 or localhost), as the
    tests and the preview do; anywhere else needs TLS."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        raise ValueError(f"has no valid host; e.g. {secure}://host/...") from None
    if not host:
        raise ValueError(f"names no host; e.g. {secure}://host/...")
    if parts.scheme == plain and not is_loopback(host):
        raise ValueError(
            f"{plain}:// would send the bot's token unencrypted to {host}; use {secure}:// "
            f"({plain}:// is only for this computer: 127.0.0.1, ::1 or localhost)"
        )


def is_loopback(host: str) -> bool:
    """``localhost`` or an address of 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_shard_ids(text: str) -> tuple[int, ...] | None:
    """``"0-3"`` → (0, 1, 2, 3); ``"0,2"`` → (0, 2); sorted, each once; ``""`` → None (all)."""
    if not text.strip():
        return None
    ids: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        first, last = first.strip(), last.strip()
        if not (first.isascii() and first.isdigit()) or (dash and not (last.isascii() and last.isdigit())):
            raise ValueError(f"{part!r} is not a shard id or range (e.g. 0-3 or 0,2)")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"{part!r} is an empty range (write the lower id first)")
        if high - low >= MAX_SHARD_RANGE:
            raise ValueError(f"{part!r} spans more than {MAX_SHARD_RANGE} shards")
        ids.update(range(low, high + 1))
    return tuple(sorted(ids)) or None


def parse_duration(text: str) -> float:
    """``"6h"`` → 21600.0; ``"30m"``, ``"90s"``, ``"1d"`` or plain seconds (``"300"``)."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        return DEFAULT_RELEASE_WATCH_INTERVAL
    unit = _DURATION_UNITS.get(cleaned[-1])
    number = cleaned[:-1] if unit is not None else cleaned
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a duration: write e.g. 6h, 30m or 300 (seconds)") from None
    if amount != amount or amount in (float("inf"), float("-inf")):  # NaN or infinite
        raise ValueError(f"{text.strip()!r} is not a duration: write e.g. 6h, 30m or 300 (seconds)")
    return amount * (unit or 1)


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Build settings from the environment and ``env_file``; bad values raise SettingsError."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per bad setting, named as the operator writes it (OWNER_IDS, not owner_ids)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"][:1]).upper() or "SETTINGS"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"setting {name}: {message}")
    return "; ".join(lines)
