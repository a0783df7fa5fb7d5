-- hearth SQLite schema, version 10: the kernel (same change as Postgres 0010).
-- Entity rows are written and read by column name from each entity's declaration, so every table
-- uses the Postgres column names. Money stays INTEGER minor units in SQLite (no exact decimal type);
-- only the names change. `RENAME COLUMN` also rewrites the CHECKs and indexes that name a column.
-- payment_confirmations.amount_minor has the same name in both dialects and stays.

ALTER TABLE service_requests RENAME COLUMN budget_min_minor TO budget_min;
ALTER TABLE service_requests RENAME COLUMN budget_max_minor TO budget_max;
ALTER TABLE payment_intents RENAME COLUMN amount_minor TO amount;
ALTER TABLE canteen_menu_items RENAME COLUMN price_minor TO price;
ALTER TABLE canteen_orders RENAME COLUMN total_minor TO total;
ALTER TABLE bed_reservations RENAME COLUMN charge_minor TO charge;
ALTER TABLE khedma_quotes RENAME COLUMN amount_minor TO amount;
ALTER TABLE khedma_bookings RENAME COLUMN amount_minor TO amount;

-- A resident's room is replaced in place: versioned like every other such row.
ALTER TABLE resident_rooms ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);

-- A processed webhook delivery is an append-only entity with a key of its own: the UUIDv5 of
-- `<gateway>:<provider_txn_id>`, which SQL cannot compute, so hearth-sqlite fills it for existing
-- rows in the same transaction, right after this script (`migrate.rs`).
ALTER TABLE payment_confirmations ADD COLUMN id TEXT;
CREATE UNIQUE INDEX payment_confirmations_id ON payment_confirmations (id);
-- Its status was stored as a JSON string (`"succeeded"`); it is the plain wire name, as in Postgres.
UPDATE payment_confirmations SET status = json_extract(status, '$')
    WHERE json_valid(status) AND json_type(status) = 'text';

-- An interest names the request's owner, who may read it.
ALTER TABLE job_interest ADD COLUMN civilian_id TEXT;
UPDATE job_interest SET civilian_id = (SELECT civilian_id FROM service_requests s WHERE s.id = job_interest.job_id);
