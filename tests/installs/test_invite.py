"""`python -m bot invite`: the two install links a newcomer pastes, and the permissions they ask for."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord
import pytest

from bot.__main__ import describe_application
from bot.invite import (
    BOT_PERMISSIONS,
    NeededPermission,
    application_id_from_token,
    bot_permissions,
    install_links,
)
from bot.settings import Settings
from cogs.countdown.posting import REQUIRED_PERMISSIONS

REPO = Path(__file__).parents[2]
APPLICATION = 1_234_567_890_123_456_789


def token_of(application_id: int) -> str:
    """A token shaped like Discord's: the application id in base64, a timestamp, an HMAC."""
    first = base64.b64encode(str(application_id).encode()).decode().rstrip("=")
    return f"{first}.GaBcDe.{'x' * 38}"


def invite(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "APPLICATION_"))}
    clean.update(env, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "bot", "invite"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def links_in(output: str) -> dict[str, dict[str, list[str]]]:
    """The printed links by integration_type ("0" server, "1" user), as their query strings."""
    found = {}
    for word in output.split():
        if word.startswith("https://discord.com/oauth2/authorize?"):
            query = parse_qs(urlsplit(word).query)
            found[query["integration_type"][0]] = query
    return found


def test_invite_prints_a_server_link_with_the_listed_permissions_and_a_user_link(tmp_path: Path) -> None:
    result = invite(tmp_path, DISCORD_TOKEN=token_of(APPLICATION), APPLICATION_ID="")
    assert result.returncode == 0, result.stderr
    links = links_in(result.stdout)
    assert set(links) == {"0", "1"}
    server, user = links["0"], links["1"]
    assert server["client_id"] == user["client_id"] == [str(APPLICATION)]
    assert server["scope"] == ["bot applications.commands"]
    assert user["scope"] == ["applications.commands"]
    assert "permissions" not in user, "a user install has no bot, so it asks for no permissions"
    asked = int(server["permissions"][0])
    one_by_one = [discord.Permissions(**{permission.name: True}).value for permission in BOT_PERMISSIONS]
    assert asked == sum(one_by_one), "exactly the listed permissions, each once"
    for permission in BOT_PERMISSIONS:
        assert f"{permission.title}: {permission.why}" in result.stdout
    assert "User Install" in result.stdout


def test_offline_the_application_id_comes_from_the_setting_and_without_either_it_says_what_to_set(
    tmp_path: Path,
) -> None:
    offline = invite(tmp_path, APPLICATION_ID="987654321098765432")
    assert offline.returncode == 0, offline.stderr
    assert links_in(offline.stdout)["1"]["client_id"] == ["987654321098765432"]
    assert "from APPLICATION_ID" in offline.stdout

    neither = invite(tmp_path)
    assert neither.returncode == 2
    assert "APPLICATION_ID" in neither.stderr
    assert "Traceback" not in neither.stderr


def test_every_permission_named_is_discords_and_adding_one_changes_the_link() -> None:
    names = set(discord.Permissions.VALID_FLAGS)  # with discord.py's aliases (view_channel)
    for permission in BOT_PERMISSIONS:
        assert permission.name in names
        assert permission.why
    assert set(REQUIRED_PERMISSIONS) <= {permission.name for permission in BOT_PERMISSIONS}, (
        "the countdown checks a permission the invite does not ask for"
    )
    more = (*BOT_PERMISSIONS, NeededPermission("attach_files", "a feature that uploads files"))
    assert bot_permissions(more).value == bot_permissions().value | discord.Permissions(attach_files=True).value
    link = install_links(APPLICATION, bot_permissions(more)).server
    assert f"permissions={bot_permissions(more).value}" in link
    assert NeededPermission("send_messages_in_threads", "").title == "Send Messages in Threads"
    assert NeededPermission("view_channel", "").title == "View Channels"


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (token_of(APPLICATION), APPLICATION),
        ("fake-bot-token", None),
        ("", None),
        ("bm90LWEtbnVtYmVy.x.y", None),  # base64 of "not-a-number"
        ("!!!.x.y", None),
    ],
)
def test_the_application_id_is_read_from_a_token_or_not_at_all(token: str, expected: int | None) -> None:
    assert application_id_from_token(token) == expected


def test_check_names_the_application_and_where_its_id_came_from() -> None:
    def described(**values: object) -> str:
        return describe_application(Settings(_env_file=None, **values))  # type: ignore[call-arg]

    assert described().startswith("not known (set DISCORD_TOKEN or APPLICATION_ID")
    assert described(application_id=42).startswith("42 (from APPLICATION_ID)")
    from_token = described(discord_token=token_of(APPLICATION), application_id=42)
    assert from_token.startswith(f"{APPLICATION} (from DISCORD_TOKEN; APPLICATION_ID 42 is another application's)")
    assert "python -m bot invite" in from_token
