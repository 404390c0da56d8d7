-- Languages (issue #13): a moderator's choice of language for the bot's own public posts
-- (scheduled countdowns, release news, poll messages). No row: the server's language in
-- Discord (guild_locale). The value is a catalog language such as 'en' or 'ko'.

CREATE TABLE guild_languages (
    guild_id INTEGER PRIMARY KEY,
    language TEXT    NOT NULL CHECK (length(language) BETWEEN 2 AND 8)
);
