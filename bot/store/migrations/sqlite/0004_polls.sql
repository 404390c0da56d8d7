-- Polls (issue #6): a poll, its options and its votes; plus who may create polls per guild.
-- Ids are Discord snowflakes (INTEGER). Times are UTC ISO-8601 TEXT of fixed width
-- ("2025-01-31T18:00:00.000000+00:00"), so comparing the text compares the times.
-- The schema itself refuses a double vote, a vote beyond max_choices and a vote on a
-- closed poll, so no interleaving of clicks can get one past cogs/polls/repo.py.

CREATE TABLE polls (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    channel_id       INTEGER NOT NULL,
    -- NULL only while /poll create is posting the message; such a row is never shown.
    message_id       INTEGER UNIQUE,
    creator_id       INTEGER NOT NULL,
    question         TEXT    NOT NULL CHECK (length(question) BETWEEN 1 AND 256),
    max_choices      INTEGER NOT NULL CHECK (max_choices BETWEEN 1 AND 20),
    anonymous        INTEGER NOT NULL CHECK (anonymous IN (0, 1)),
    hide_results     INTEGER NOT NULL CHECK (hide_results IN (0, 1)),
    spoiler          INTEGER NOT NULL CHECK (spoiler IN (0, 1)),
    created_at       TEXT    NOT NULL,
    closes_at        TEXT    CHECK (closes_at IS NULL OR closes_at > created_at),
    closed_at        TEXT,
    close_reason     TEXT    CHECK (close_reason IN ('deadline', 'command', 'message_deleted')),
    -- 1 once the closed poll's message was finalised and its results posted (or could not be).
    announced        INTEGER NOT NULL DEFAULT 0 CHECK (announced IN (0, 1)),
    -- Bumped by every vote change; the message shows rendered_version. Unequal after a
    -- crash means the message is stale and is refreshed at start-up.
    tally_version    INTEGER NOT NULL DEFAULT 0,
    rendered_version INTEGER NOT NULL DEFAULT 0,
    CHECK ((closed_at IS NULL) = (close_reason IS NULL)),
    CHECK (announced = 0 OR closed_at IS NOT NULL)
);

CREATE INDEX polls_open_in_guild ON polls (guild_id, id) WHERE closed_at IS NULL;
CREATE INDEX polls_open_deadlines ON polls (closes_at) WHERE closed_at IS NULL AND closes_at IS NOT NULL;
CREATE INDEX polls_unannounced ON polls (closed_at) WHERE closed_at IS NOT NULL AND announced = 0;

CREATE TABLE poll_options (
    poll_id      INTEGER NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    option_index INTEGER NOT NULL CHECK (option_index BETWEEN 0 AND 19),
    label        TEXT    NOT NULL CHECK (length(label) BETWEEN 1 AND 80),
    PRIMARY KEY (poll_id, option_index),
    -- NOCASE folds ASCII only; the Python check folds all of Unicode first.
    UNIQUE (poll_id, label COLLATE NOCASE)
) WITHOUT ROWID;

-- One row per (poll, member, option): the primary key is what makes a double vote impossible.
CREATE TABLE poll_votes (
    poll_id      INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    option_index INTEGER NOT NULL,
    voted_at     TEXT    NOT NULL,
    PRIMARY KEY (poll_id, user_id, option_index),
    FOREIGN KEY (poll_id, option_index) REFERENCES poll_options (poll_id, option_index) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX poll_votes_by_option ON poll_votes (poll_id, option_index);

CREATE TRIGGER poll_votes_only_while_open
BEFORE INSERT ON poll_votes
WHEN (SELECT closed_at FROM polls WHERE id = NEW.poll_id) IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'poll is closed');
END;

CREATE TRIGGER poll_votes_within_max_choices
BEFORE INSERT ON poll_votes
WHEN (SELECT count(*) FROM poll_votes WHERE poll_id = NEW.poll_id AND user_id = NEW.user_id)
     >= (SELECT max_choices FROM polls WHERE id = NEW.poll_id)
BEGIN
    SELECT RAISE(ABORT, 'vote exceeds max_choices');
END;

-- Per guild: the role a member needs to create polls (no row, or NULL: anyone may).
CREATE TABLE poll_settings (
    guild_id        INTEGER PRIMARY KEY,
    creator_role_id INTEGER
) WITHOUT ROWID;
