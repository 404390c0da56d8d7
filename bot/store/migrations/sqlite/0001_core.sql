-- Core tables: small key/value state of the bot itself and the show data pack.

CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The show data pack, one row per entry; rewritten from data/ at every start.
-- kind is the entry type (character, faq, ...), key its id, data its validated JSON.
CREATE TABLE pack_entries (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)),
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
