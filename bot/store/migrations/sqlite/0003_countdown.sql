-- Release countdown: the release record with its history, per-guild schedules, and
-- the ledger that makes each scheduled post happen exactly once.
-- Times are UTC ISO-8601 TEXT ("2027-01-01T09:00:00+00:00"), calendar dates are
-- "YYYY-MM-DD" TEXT, Discord ids are INTEGER.

-- Every version of the release record; the current one is the row with the highest id.
CREATE TABLE countdown_release_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    awaited      TEXT NOT NULL,
    precision    TEXT NOT NULL CHECK (precision IN ('day', 'month', 'quarter', 'season', 'year')),
    start_date   TEXT NOT NULL,
    end_date     TEXT NOT NULL CHECK (end_date >= start_date),
    label        TEXT NOT NULL,
    confidence   TEXT NOT NULL CHECK (confidence IN ('confirmed', 'estimated', 'rumored')),
    source_title TEXT,
    source_url   TEXT,
    source_date  TEXT NOT NULL,
    origin       TEXT NOT NULL CHECK (origin IN ('pack', 'owner')),
    changed_by   INTEGER,
    recorded_at  TEXT NOT NULL,
    CHECK (source_title IS NOT NULL OR source_url IS NOT NULL)
);

-- One schedule per guild. next_due_at/next_slot_date name the next regular slot
-- (NULL: nothing left to post but record changes). announced_change_id is the last
-- release history row announced here.
CREATE TABLE countdown_schedules (
    guild_id             INTEGER PRIMARY KEY,
    channel_id           INTEGER NOT NULL,
    local_time           TEXT NOT NULL,
    timezone             TEXT NOT NULL,
    cadence              TEXT NOT NULL CHECK (cadence IN ('daily', 'weekly', 'milestones')),
    weekday              INTEGER NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6),
    mode                 TEXT NOT NULL CHECK (mode IN ('post', 'edit')),
    next_due_at          TEXT,
    next_slot_date       TEXT,
    message_id           INTEGER,
    announced_change_id  INTEGER NOT NULL DEFAULT 0,
    last_post_at         TEXT,
    last_post_message_id INTEGER,
    last_error           TEXT,
    last_error_detail    TEXT,
    last_error_at        TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    paused               INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    updated_by           INTEGER NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE INDEX countdown_schedules_due ON countdown_schedules (paused, next_due_at);

-- The exactly-once ledger: a slot is claimed (one row, UNIQUE per guild and slot)
-- before anything is sent. state: claimed (being sent or waiting for a retry at
-- retry_at), sent, failed, abandoned (unconfirmed and too old to resend safely).
-- nonce is the message nonce every attempt of this slot uses.
CREATE TABLE countdown_posts (
    guild_id    INTEGER NOT NULL,
    slot_key    TEXT NOT NULL,
    channel_id  INTEGER NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('post', 'edit')),
    occasion    TEXT NOT NULL CHECK (occasion IN ('scheduled', 'milestone', 'change')),
    change_id   INTEGER NOT NULL,
    nonce       TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'failed', 'abandoned')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    retry_at    TEXT,
    message_id  INTEGER,
    finished_at TEXT,
    PRIMARY KEY (guild_id, slot_key)
);

CREATE INDEX countdown_posts_pending ON countdown_posts (state, retry_at);
