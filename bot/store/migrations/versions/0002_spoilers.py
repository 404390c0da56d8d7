"""Spoiler channels: where moderators let spoilers be shown openly.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from bot.store.ddl import apply

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

POSTGRESQL = [
    "CREATE TABLE spoiler_channels ("
    " guild_id BIGINT NOT NULL, channel_id BIGINT NOT NULL, added_by BIGINT NOT NULL,"
    " added_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (guild_id, channel_id))",
]


def upgrade() -> None:
    apply(revision, POSTGRESQL)
