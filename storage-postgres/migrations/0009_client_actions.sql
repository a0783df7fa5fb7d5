-- The offline queue's per-client action records (hearth_core::offline). One row per applied or
-- rejected action, written in the same statement as the action's effects. The primary key makes
-- each (client, seq) happen once; a client's last_seq is its highest row.

CREATE TABLE client_actions (
    client_id    uuid NOT NULL,
    seq          bigint NOT NULL CONSTRAINT client_actions_seq_positive CHECK (seq >= 1),
    principal    text NOT NULL,
    action       text NOT NULL,
    fingerprint  text NOT NULL,
    outcome      jsonb NOT NULL,
    at           timestamptz NOT NULL,
    PRIMARY KEY (client_id, seq)
);
