-- hearth SQLite schema: the ledger as TigerBeetle documents it — transfer flags (balancing and
-- closing), user data on accounts and transfers (indexed), closing holds, caller-created accounts.

-- Accounts: the caller's code and user data, the history flag, and the closing-hold counter (a
-- closing transfer adds 1, its void or expiry subtracts it: closing is a balance-like delta).
ALTER TABLE ledger_accounts ADD COLUMN code INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_code CHECK (code BETWEEN 0 AND 65535);
ALTER TABLE ledger_accounts ADD COLUMN user_data_128 TEXT;
ALTER TABLE ledger_accounts ADD COLUMN user_data_64 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_accounts ADD COLUMN user_data_32 INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_user_data_32 CHECK (user_data_32 BETWEEN 0 AND 4294967295);
ALTER TABLE ledger_accounts ADD COLUMN history INTEGER NOT NULL DEFAULT 0 CHECK (history IN (0, 1));
ALTER TABLE ledger_accounts ADD COLUMN closing_holds INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_closing_holds CHECK (closing_holds IN (0, 1));
-- One wallet / system account per kind and currency among the accounts hearth opens (code 0).
DROP INDEX ledger_accounts_one_per_owner;
DROP INDEX ledger_accounts_one_system;
CREATE UNIQUE INDEX ledger_accounts_one_per_owner ON ledger_accounts (owner_id, kind, currency) WHERE owner_id IS NOT NULL AND code = 0;
CREATE UNIQUE INDEX ledger_accounts_one_system ON ledger_accounts (kind, currency) WHERE owner_id IS NULL AND code = 0;
CREATE INDEX ledger_accounts_user_data_128 ON ledger_accounts (user_data_128) WHERE user_data_128 IS NOT NULL;
CREATE INDEX ledger_accounts_user_data_64 ON ledger_accounts (user_data_64) WHERE user_data_64 <> 0;
CREATE INDEX ledger_accounts_by_code ON ledger_accounts (code, created_at);

-- Transfers: rebuilt, because the amount CHECK changes (a closing hold, and its void or expiry, may
-- carry 0) and SQLite cannot alter a CHECK. Every row is copied with its `seq`.
CREATE TABLE ledger_transfers_next (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    debit_account_id   TEXT NOT NULL,
    credit_account_id  TEXT NOT NULL,
    amount             INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    kind               TEXT NOT NULL CONSTRAINT ledger_transfers_kind CHECK (kind IN ('single', 'pending', 'post_pending', 'void_pending', 'expire_pending')),
    pending_id         TEXT,
    timeout_secs       INTEGER NOT NULL,
    expires_at         INTEGER,
    linked             INTEGER NOT NULL CHECK (linked IN (0, 1)),
    code               TEXT NOT NULL,
    reference          TEXT,
    result             TEXT NOT NULL,
    actor              TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    -- TigerBeetle's bits: balancing_debit 16, balancing_credit 32, closing_debit 64, closing_credit 128.
    flags              INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_transfers_flags CHECK ((flags & ~240) = 0),
    user_data_128      TEXT,
    user_data_64       INTEGER NOT NULL DEFAULT 0,
    user_data_32       INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_transfers_user_data_32 CHECK (user_data_32 BETWEEN 0 AND 4294967295),
    CONSTRAINT ledger_transfers_amount_positive CHECK (
        result <> 'ok' OR amount > 0
        OR (amount = 0 AND ((flags & 192) <> 0 OR kind IN ('void_pending', 'expire_pending')))),
    CONSTRAINT ledger_transfers_accounts_differ CHECK (result <> 'ok' OR debit_account_id <> credit_account_id),
    CONSTRAINT ledger_transfers_resolution_names_pending CHECK (
        result <> 'ok' OR (kind IN ('post_pending', 'void_pending', 'expire_pending')) = (pending_id IS NOT NULL)),
    CONSTRAINT ledger_transfers_closing_is_pending CHECK (result <> 'ok' OR (flags & 192) = 0 OR kind = 'pending')
) STRICT;
INSERT INTO ledger_transfers_next (seq, id, debit_account_id, credit_account_id, amount, currency, kind, pending_id,
    timeout_secs, expires_at, linked, code, reference, result, actor, created_at)
SELECT seq, id, debit_account_id, credit_account_id, amount, currency, kind, pending_id,
    timeout_secs, expires_at, linked, code, reference, result, actor, created_at
FROM ledger_transfers ORDER BY seq;
DROP TABLE ledger_transfers;
ALTER TABLE ledger_transfers_next RENAME TO ledger_transfers;
CREATE UNIQUE INDEX ledger_transfers_resolve_once ON ledger_transfers (pending_id) WHERE result = 'ok' AND pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, seq) WHERE result = 'ok';
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, seq) WHERE result = 'ok';
CREATE INDEX ledger_transfers_expiring ON ledger_transfers (expires_at) WHERE kind = 'pending' AND result = 'ok' AND expires_at IS NOT NULL;
CREATE INDEX ledger_transfers_refunds ON ledger_transfers (reference) WHERE code = 'refund' AND result = 'ok';
CREATE INDEX ledger_transfers_user_data_128 ON ledger_transfers (user_data_128) WHERE user_data_128 IS NOT NULL;
CREATE INDEX ledger_transfers_user_data_64 ON ledger_transfers (user_data_64) WHERE user_data_64 <> 0;
CREATE INDEX ledger_transfers_by_time ON ledger_transfers (created_at, seq) WHERE result = 'ok';
CREATE TRIGGER ledger_transfers_append_only_update BEFORE UPDATE ON ledger_transfers BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END;
CREATE TRIGGER ledger_transfers_append_only_delete BEFORE DELETE ON ledger_transfers BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END;
