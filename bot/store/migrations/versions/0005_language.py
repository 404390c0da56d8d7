"""Languages: a moderator's choice of language for the bot's own public posts.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from bot.store.ddl import apply

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

POSTGRESQL = [
    "CREATE TABLE guild_languages ("
    " guild_id BIGINT PRIMARY KEY, language TEXT NOT NULL CHECK (char_length(language) BETWEEN 2 AND 8))",
]


def upgrade() -> None:
    apply(revision, POSTGRESQL)
