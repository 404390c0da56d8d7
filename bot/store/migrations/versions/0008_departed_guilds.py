"""Departed guilds: when the bot left a guild whose settings it keeps for a grace period.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from bot.store.ddl import apply

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

POSTGRESQL = [
    "CREATE TABLE departed_guilds (guild_id BIGINT PRIMARY KEY, left_at TIMESTAMPTZ NOT NULL)",
    "CREATE INDEX departed_guilds_left_at ON departed_guilds (left_at)",
]


def upgrade() -> None:
    apply(revision, POSTGRESQL)
