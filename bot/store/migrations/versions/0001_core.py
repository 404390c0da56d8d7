"""Core tables: the bot's own key/value state and the show data pack.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from bot.store.ddl import apply

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

POSTGRESQL = [
    "CREATE TABLE bot_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # data stays text (compared byte for byte by the pack sync); the cast refuses what is not JSON.
    "CREATE TABLE pack_entries (kind TEXT NOT NULL, key TEXT NOT NULL, "
    "data TEXT NOT NULL CHECK (data::jsonb IS NOT NULL), PRIMARY KEY (kind, key))",
]


def upgrade() -> None:
    apply(revision, POSTGRESQL)
