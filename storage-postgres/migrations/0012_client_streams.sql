-- The offline queue's stream owners (hearth_core::offline): one row per client stream, naming the
-- principal that wrote its first action. The commit of every action upserts it, and the foreign key
-- from client_actions (client_id, principal) makes the store refuse an action of another principal
-- in the same statement — two users racing the first push of a fresh client id cannot both write.

CREATE TABLE client_streams (
    client_id    uuid PRIMARY KEY,
    principal    text NOT NULL,
    at           timestamptz NOT NULL,
    CONSTRAINT client_streams_owner UNIQUE (client_id, principal)
);

-- Existing streams: the principal of their first action owns them.
INSERT INTO client_streams (client_id, principal, at)
SELECT DISTINCT ON (client_id) client_id, principal, at FROM client_actions ORDER BY client_id, seq;

-- NOT VALID: rows written before this migration by a racing second principal stay readable (their
-- answers are refused to anyone but their writer); every new row is checked.
ALTER TABLE client_actions ADD CONSTRAINT client_actions_stream_owner
    FOREIGN KEY (client_id, principal) REFERENCES client_streams (client_id, principal) NOT VALID;
