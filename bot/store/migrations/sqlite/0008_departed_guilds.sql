-- Guilds the bot left (issue #21): their settings are kept for a grace period, so a server
-- that re-invites the bot within it finds them as it left them; purged after it. A row
-- exists while the bot is out of the guild; re-joining deletes it.

CREATE TABLE departed_guilds (
    guild_id INTEGER PRIMARY KEY,
    left_at  TEXT    NOT NULL
);

CREATE INDEX departed_guilds_left_at ON departed_guilds (left_at);
