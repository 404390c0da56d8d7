"""Settings: read from the environment and .env, one clear line per bad value."""

from __future__ import annotations

from pathlib import Path

import discord.gateway
import discord.http
import pytest

from bot.endpoints import apply_discord_endpoints
from bot.settings import Settings, SettingsError, load_settings

SETTING_NAMES = [
    "DISCORD_TOKEN",
    "DATABASE_PATH",
    "DATABASE_URL",
    "DATA_DIR",
    "LOG_LEVEL",
    "OWNER_IDS",
    "ADMIN_GUILD_IDS",
    "DEV_GUILD_ID",
    "DISCORD_API_BASE_URL",
    "DISCORD_GATEWAY_URL",
    "SHARD_COUNT",
    "SHARD_IDS",
    "GUILD_GRACE_DAYS",
    "REST_RATE_SHARE",
    "POLL_CREATE_COOLDOWN_SECONDS",
    "POLL_OPEN_LIMIT",
    "POLL_VOTE_RETENTION_DAYS",
    "RELEASE_WATCH_TVMAZE_ID",
    "TVMAZE_API_URL",
    "RELEASE_WATCH_INTERVAL",
    "RELEASE_WATCH_START_JITTER",
    "RELEASE_WATCH_RETRY_SECONDS",
    "TVMAZE_TIMEOUT",
    "RELEASE_WATCH_CHANNEL_ID",
    "APPLICATION_ID",
    "METRICS_PORT",
    "METRICS_HOST",
    "LOG_FORMAT",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_no_environment(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.env")
    assert settings.token is None
    assert settings.database_path == Path("var/hyosan.db")
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.discord_gateway_url == "wss://gateway.discord.gg/"
    assert settings.owner_ids == ()


def test_env_file_is_read_and_ids_are_comma_separated(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("DISCORD_TOKEN=abc.def\nOWNER_IDS=123, 456,\nLOG_LEVEL=debug\nDEV_GUILD_ID=\n")
    settings = load_settings(env)
    assert settings.token == "abc.def"
    assert settings.owner_ids == (123, 456)
    assert settings.log_level == "DEBUG"
    assert settings.dev_guild_id is None


def test_environment_wins_over_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("LOG_LEVEL=INFO\n")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert load_settings(env).log_level == "WARNING"


def test_token_is_never_shown_in_repr() -> None:
    settings = Settings(discord_token="super-secret-token")
    assert "super-secret-token" not in repr(settings)
    assert "super-secret-token" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OWNER_IDS", "12, abc", "setting OWNER_IDS: 'abc' is not a Discord id"),
        ("ADMIN_GUILD_IDS", "-5", "setting ADMIN_GUILD_IDS: '-5' is not a Discord id"),
        ("LOG_LEVEL", "loud", "setting LOG_LEVEL:"),
        ("DEV_GUILD_ID", "guild", "setting DEV_GUILD_ID:"),
        ("DISCORD_API_BASE_URL", "ftp://example", "setting DISCORD_API_BASE_URL: must be an http://"),
        ("DISCORD_GATEWAY_URL", "https://gateway", "setting DISCORD_GATEWAY_URL: must be a ws://"),
        ("SHARD_COUNT", "0", "setting SHARD_COUNT: Input should be greater than 0"),
        ("SHARD_COUNT", "two", "setting SHARD_COUNT:"),
        ("SHARD_IDS", "0-1", "setting SHARD_IDS: needs SHARD_COUNT"),
        ("REST_RATE_SHARE", "0", "setting REST_RATE_SHARE: 0 is outside (0, 1]"),
        ("REST_RATE_SHARE", "1.5", "setting REST_RATE_SHARE: 1.5 is outside (0, 1]"),
        ("REST_RATE_SHARE", "-0.5", "setting REST_RATE_SHARE: -0.5 is outside (0, 1]"),
        ("REST_RATE_SHARE", "nan", "setting REST_RATE_SHARE: nan is outside (0, 1]"),
        ("REST_RATE_SHARE", "50%", "setting REST_RATE_SHARE: '50%' is not a number: give a fraction in (0, 1]"),
    ],
)
def test_a_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings(tmp_path / "none.env")
    message = str(raised.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_shards_default_to_discords_recommendation_and_every_shard(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.env")
    assert settings.shard_count is None
    assert settings.shard_ids is None


@pytest.mark.parametrize(
    ("text", "ids"),
    [("0-3", (0, 1, 2, 3)), ("0,2", (0, 2)), (" 4, 0-1 ,", (0, 1, 4)), ("1-1,1", (1,)), ("", None)],
)
def test_shard_ids_take_ranges_and_lists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, ids: tuple[int, ...] | None
) -> None:
    monkeypatch.setenv("SHARD_COUNT", "8")
    monkeypatch.setenv("SHARD_IDS", text)
    settings = load_settings(tmp_path / "none.env")
    assert settings.shard_count == 8
    assert settings.shard_ids == ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-4", "setting SHARD_IDS: shard 4 is out of range: SHARD_COUNT=4 allows 0..3"),
        ("7", "setting SHARD_IDS: shard 7 is out of range: SHARD_COUNT=4 allows 0..3"),
        ("-1", "setting SHARD_IDS: '-1' is not a shard id or range (e.g. 0-3 or 0,2)"),
        ("3-1", "setting SHARD_IDS: '3-1' is an empty range (write the lower id first)"),
        ("0-99999999", "setting SHARD_IDS: '0-99999999' spans more than 100000 shards"),
        ("one", "setting SHARD_IDS: 'one' is not a shard id or range (e.g. 0-3 or 0,2)"),
        ("²", "setting SHARD_IDS: '²' is not a shard id or range (e.g. 0-3 or 0,2)"),
    ],
)
def test_a_bad_shard_id_names_the_setting_and_the_range(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, expected: str
) -> None:
    monkeypatch.setenv("SHARD_COUNT", "4")
    monkeypatch.setenv("SHARD_IDS", text)
    with pytest.raises(SettingsError) as raised:
        load_settings(tmp_path / "none.env")
    assert str(raised.value) == expected


def test_a_bad_shard_count_is_reported_once_not_as_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHARD_COUNT", "-2")
    monkeypatch.setenv("SHARD_IDS", "0")
    with pytest.raises(SettingsError) as raised:
        load_settings(tmp_path / "none.env")
    assert str(raised.value) == "setting SHARD_COUNT: Input should be greater than 0"


@pytest.mark.parametrize(("text", "share"), [("", None), ("0.5", 0.5), (" 1 ", 1.0), ("0.125", 0.125)])
def test_the_rate_share_is_a_fraction_or_left_to_the_shards(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, share: float | None
) -> None:
    monkeypatch.setenv("REST_RATE_SHARE", text)
    assert load_settings(tmp_path / "none.env").rest_rate_share == share


def test_endpoints_are_applied_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )
    settings = Settings(
        discord_api_base_url="http://127.0.0.1:8080/api/v10/", discord_gateway_url="ws://127.0.0.1:8081/"
    )
    apply_discord_endpoints(settings)
    route = discord.http.Route("POST", "/interactions/{id}/{token}/callback", id=1, token="t")
    assert route.url == "http://127.0.0.1:8080/api/v10/interactions/1/t/callback"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:8081/"


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name in SETTING_NAMES:
        assert f"\n{name}=" in example, name
        assert f"`{name}`" in readme, name
    assert {name.lower() for name in SETTING_NAMES} == set(Settings.model_fields)
