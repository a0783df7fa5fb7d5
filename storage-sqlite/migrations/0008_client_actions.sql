-- hearth SQLite schema, version 8: the offline queue's per-client action records (hearth_core::offline).
-- One row per applied or rejected action, written in the same transaction as the action's effects.
-- The primary key makes each (client, seq) happen once; a client's last_seq is its highest row.

CREATE TABLE client_actions (
    client_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL CONSTRAINT client_actions_seq_positive CHECK (seq >= 1),
    principal    TEXT NOT NULL,
    action       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    outcome      TEXT NOT NULL CONSTRAINT client_actions_outcome_json CHECK (json_valid(outcome)),
    at           INTEGER NOT NULL,
    PRIMARY KEY (client_id, seq)
) STRICT, WITHOUT ROWID;
