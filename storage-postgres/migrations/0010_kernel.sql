-- hearth Postgres schema, version 10: the kernel. Entity rows are written and read by column name
-- from each entity's declaration (hearth_core::kernel); these columns complete the declarations.
-- SQLite's 0010 makes the same change (and renames its columns to these names).

-- A resident's room is replaced in place: versioned like every other such row.
ALTER TABLE resident_rooms ADD COLUMN version BIGINT NOT NULL DEFAULT 1 CONSTRAINT resident_rooms_version CHECK (version >= 1);

-- A processed webhook delivery is an append-only entity with a key of its own. Nullable: deliveries
-- recorded before have none (they are still found by gateway and provider transaction id).
ALTER TABLE payment_confirmations ADD COLUMN id UUID CONSTRAINT payment_confirmations_id UNIQUE;

-- An interest names the request's owner, who may read it.
ALTER TABLE job_interest ADD COLUMN civilian_id UUID;
UPDATE job_interest j SET civilian_id = s.civilian_id FROM service_requests s WHERE s.id = j.job_id;
ALTER TABLE job_interest ALTER COLUMN civilian_id SET NOT NULL;

-- Transfers are read in insertion order (the ledger's `seq`, as in SQLite). Existing rows are
-- numbered in heap order, which for this append-only table is the order they were inserted in.
-- No UNIQUE index: an identity is unique by construction, and every index entry costs a transfer.
ALTER TABLE ledger_transfers ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
DROP INDEX ledger_transfers_debit;
DROP INDEX ledger_transfers_credit;
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, seq) WHERE result = 'ok';
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, seq) WHERE result = 'ok';
