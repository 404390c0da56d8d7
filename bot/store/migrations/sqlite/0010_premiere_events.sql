-- Premiere events and notify roles (issue #25). countdown_options: per server, whether the
-- bot keeps the premiere in the server's Events list, and the role fans opt into (pinged by
-- release news and the release-day post only). countdown_events: the ledger of that one
-- event, claimed before Discord is asked to create it, so a crash never makes a second one.

CREATE TABLE countdown_options (
    guild_id       INTEGER PRIMARY KEY,
    events         INTEGER NOT NULL DEFAULT 0 CHECK (events IN (0, 1)),
    notify_role_id INTEGER,
    updated_by     INTEGER NOT NULL,
    updated_at     TEXT    NOT NULL
);

CREATE TABLE countdown_events (
    guild_id   INTEGER PRIMARY KEY,
    state      TEXT    NOT NULL CHECK (state IN ('creating', 'live', 'failed')),
    event_id   INTEGER,
    starts_at  TEXT,
    claimed_at TEXT    NOT NULL,
    error      TEXT,
    error_at   TEXT
);
