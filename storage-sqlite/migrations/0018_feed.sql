-- hearth SQLite schema: the change feed (same change as Postgres 0018).
-- Each event keeps everyone entitled to it (users, roles and their tenant, every signed-in user) as
-- JSON; events written before carry NULL and read back as their `audience` users.
ALTER TABLE outbox ADD COLUMN readers TEXT;

-- Retention: the last event pruned. A reader whose cursor is older gets `cursor_expired`.
-- SQLite has one writer at a time, so positions are commit order and the cursor's tx is 0.
CREATE TABLE feed_horizon (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    tx        INTEGER NOT NULL CHECK (tx >= 0),
    position  INTEGER NOT NULL CHECK (position >= 0)
) STRICT;
CREATE INDEX outbox_at ON outbox (at);
