"""Premiere events and notify roles: per-server countdown options and the event ledger.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from bot.store.ddl import apply

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

POSTGRESQL = [
    "CREATE TABLE countdown_options ("
    " guild_id BIGINT PRIMARY KEY, events BOOLEAN NOT NULL DEFAULT FALSE, notify_role_id BIGINT,"
    " updated_by BIGINT NOT NULL, updated_at TIMESTAMPTZ NOT NULL)",
    "CREATE TABLE countdown_events ("
    " guild_id BIGINT PRIMARY KEY,"
    " state TEXT NOT NULL CHECK (state IN ('creating', 'live', 'failed')),"
    " event_id BIGINT, starts_at TIMESTAMPTZ, claimed_at TIMESTAMPTZ NOT NULL, error TEXT, error_at TIMESTAMPTZ)",
]


def upgrade() -> None:
    apply(revision, POSTGRESQL)
