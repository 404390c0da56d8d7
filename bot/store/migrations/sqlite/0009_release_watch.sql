-- The release watch (issue #25): what TVmaze said about the awaited season's premiere, each
-- distinct statement once (finding_key: show, season, date and time). A row is claimed before
-- its proposal is posted, so two processes or a restart never propose the same finding twice;
-- a dismissed finding keeps its row, and so stays dismissed until TVmaze says something else.
-- No guild_id: the proposals go to the operator's channel, not to any fan server.

CREATE TABLE release_watch_findings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_key   TEXT    NOT NULL UNIQUE,
    show_id       INTEGER NOT NULL,
    season        INTEGER NOT NULL,
    premiere_date TEXT    NOT NULL,
    airstamp      TEXT,
    retrieved_at  TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('claimed', 'proposed', 'confirmed', 'estimated', 'dismissed', 'superseded')),
    claimed_at    TEXT    NOT NULL,
    channel_id    INTEGER,
    message_id    INTEGER,
    decided_by    INTEGER,
    decided_at    TEXT
);

CREATE INDEX release_watch_findings_state ON release_watch_findings (state);
