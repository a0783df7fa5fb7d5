-- The offline queue's stream owners (hearth_core::offline): one row per client stream, naming the
-- principal that wrote its first action. The commit of every action inserts it if absent, and the
-- trigger refuses an action whose principal is not the stream's owner, in the same transaction.

CREATE TABLE client_streams (
    client_id    TEXT PRIMARY KEY,
    principal    TEXT NOT NULL,
    at           INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Existing streams: the principal of their first action owns them.
INSERT INTO client_streams (client_id, principal, at)
SELECT a.client_id, a.principal, a.at FROM client_actions a
WHERE a.seq = (SELECT min(b.seq) FROM client_actions b WHERE b.client_id = a.client_id);

CREATE TRIGGER client_actions_stream_owner BEFORE INSERT ON client_actions
WHEN NOT EXISTS (SELECT 1 FROM client_streams s WHERE s.client_id = NEW.client_id AND s.principal = NEW.principal)
BEGIN
    SELECT RAISE(ABORT, 'client_actions_stream_owner');
END;
