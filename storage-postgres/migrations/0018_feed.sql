-- hearth Postgres schema: the change feed.
--
-- Identity positions are handed out when a transaction inserts, not when it commits, so they can
-- become visible out of order. Each event records its writing transaction (`tx`); the feed
-- releases only events whose transaction is older than the oldest still running
-- (`pg_snapshot_xmin(pg_current_snapshot())`), ordered by (tx, position): a transaction that
-- starts later gets a larger id, so no event can ever appear behind a released one.
-- Rows written before this migration all get this migration's transaction id: they are committed,
-- and their position order stands.
ALTER TABLE outbox ADD COLUMN tx BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
ALTER TABLE outbox ADD CONSTRAINT outbox_tx_non_negative CHECK (tx >= 0);
CREATE INDEX outbox_feed ON outbox (tx, position);
CREATE INDEX outbox_at ON outbox (at);

-- Everyone entitled to an event (users, roles and their tenant, every signed-in user), as JSON;
-- events written before carry NULL and read back as their `audience` users.
ALTER TABLE outbox ADD COLUMN readers JSONB;

-- Retention: the last event pruned. A reader whose cursor is older gets `cursor_expired`.
CREATE TABLE feed_horizon (
    id        SMALLINT PRIMARY KEY CHECK (id = 1),
    tx        BIGINT NOT NULL CHECK (tx >= 0),
    position  BIGINT NOT NULL CHECK (position >= 0)
);
