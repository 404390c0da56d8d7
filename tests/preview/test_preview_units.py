"""The preview's plain parts: its world, the command list the page offers, the bot's environment."""

from __future__ import annotations

from pathlib import Path

from bot.preview.command import PreviewOptions, bot_environment, fresh_scratch_store
from bot.preview.web import client_locales, flatten_commands, permission_names
from bot.preview.world import build_world
from localdiscord import FakeDiscord, Permission


def test_the_world_has_the_same_ids_at_every_start_so_a_kept_store_still_fits() -> None:
    first, second = build_world(FakeDiscord(openapi_path=None)), build_world(FakeDiscord(openapi_path=None))
    assert first.guild.id == second.guild.id
    assert [c.id for c in (first.general, first.spoilers, first.thread, first.announcements)] == [
        c.id for c in (second.general, second.spoilers, second.thread, second.announcements)
    ]
    assert [p.member.id for p in first.personas] == [p.member.id for p in second.personas]


def test_the_world_has_a_moderator_a_member_and_the_owner_to_act_as() -> None:
    world = build_world(FakeDiscord(openapi_path=None))
    by_key = {p.key: p.member for p in world.personas}
    assert list(by_key) == ["you", "moderator", "member", "owner"]
    assert world.guild.guild_permissions(by_key["moderator"]) & Permission.MANAGE_GUILD
    assert not world.guild.guild_permissions(by_key["member"]) & Permission.MANAGE_GUILD
    assert not world.guild.guild_permissions(by_key["you"]) & Permission.MANAGE_GUILD
    assert by_key["owner"].id == world.guild.owner_id
    assert world.thread.parent_id == world.general.id


def test_messages_made_after_the_world_get_fresh_ids_not_the_worlds() -> None:
    fake = FakeDiscord(openapi_path=None)
    world = build_world(fake)
    later = fake.new_id()
    assert later > max(world.guild.channels) + (1 << 32), "time-based, far above the world's stable ids"


def test_the_page_offers_every_invocable_path_with_its_leaf_options() -> None:
    commands = [
        {"name": "about", "type": 1, "description": "About"},
        {
            "name": "settings",
            "type": 1,
            "description": "Settings",
            "options": [
                {
                    "name": "spoilers",
                    "type": 2,
                    "description": "Spoiler channels",
                    "options": [
                        {
                            "name": "add",
                            "type": 1,
                            "description": "Add one",
                            "options": [{"name": "channel", "type": 7, "description": "Where", "required": True}],
                        },
                        {"name": "list", "type": 1, "description": "List them"},
                    ],
                }
            ],
        },
        {"name": "Report", "type": 3},
    ]
    offered = flatten_commands(commands)
    assert [(c["path"], c["root"]) for c in offered] == [
        ("about", "about"),
        ("settings spoilers add", "settings"),
        ("settings spoilers list", "settings"),
    ]
    assert offered[1]["options"] == [{"name": "channel", "description": "Where", "type": 7, "required": True}]


def test_permissions_are_named_as_discords_client_names_them() -> None:
    assert permission_names(int(Permission.MANAGE_GUILD)) == "Manage Server"
    assert permission_names(int(Permission.MANAGE_GUILD | Permission.KICK_MEMBERS)) == "Kick Members, Manage Server"


def test_the_client_languages_are_the_bots_catalogs() -> None:
    assert {"code": "en-US", "name": "American English"} in client_locales()


def test_the_bot_gets_the_local_discord_and_keeps_the_rest_of_the_environment(tmp_path: Path) -> None:
    fake = FakeDiscord(openapi_path=None, token="local-token")
    world = build_world(fake)
    env = bot_environment(fake, world, PreviewOptions(env_file=Path(".env")))
    assert env["DISCORD_TOKEN"] == "local-token"
    assert env["DISCORD_API_BASE_URL"] == fake.api_base_url
    assert env["DISCORD_GATEWAY_URL"] == fake.gateway_url
    assert env["DATABASE_URL"] == str(Path("var/preview.db"))  # wins over an operator's DATABASE_PATH or DATABASE_URL
    assert env["OWNER_IDS"] == str(world.owner.id)
    assert env["ADMIN_GUILD_IDS"] == str(world.guild.id)
    assert env["DEV_GUILD_ID"] == ""
    assert env.get("PATH") is not None


def test_a_fresh_scratch_store_leaves_no_old_file_or_journal(tmp_path: Path) -> None:
    store = tmp_path / "preview.db"
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"preview.db{suffix}").write_bytes(b"old")
    fresh_scratch_store(store)
    assert list(tmp_path.iterdir()) == []
