-- Spoiler channels (issue #3): where moderators let spoilers be shown openly.
-- One row per listed channel or category of a guild; threads and forum posts follow
-- their parent, channels their category (bot/spoilers/policy.py).
-- Ids are Discord snowflakes (INTEGER); added_at is UTC ISO-8601 TEXT.
-- Rows are deleted when the bot leaves the guild or the channel is deleted.

CREATE TABLE spoiler_channels (
    guild_id   INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    added_by   INTEGER NOT NULL,
    added_at   TEXT    NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
) WITHOUT ROWID;
