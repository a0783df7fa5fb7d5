-- hearth Postgres schema: the ledger as TigerBeetle documents it — transfer flags (balancing and
-- closing), user data on accounts and transfers (indexed), closing holds, caller-created accounts.

-- Accounts: the caller's code and user data, the history flag, and the closing-hold counter (a
-- closing transfer adds 1, its void or expiry subtracts it: closing is a balance-like delta).
ALTER TABLE ledger_accounts
    ADD COLUMN code INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_code CHECK (code BETWEEN 0 AND 65535),
    ADD COLUMN user_data_128 UUID,
    ADD COLUMN user_data_64 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN user_data_32 BIGINT NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_user_data_32 CHECK (user_data_32 BETWEEN 0 AND 4294967295),
    ADD COLUMN history BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN closing_holds BIGINT NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_closing_holds CHECK (closing_holds IN (0, 1));
-- One wallet / system account per kind and currency among the accounts hearth opens (code 0).
DROP INDEX ledger_accounts_one_per_owner;
DROP INDEX ledger_accounts_one_system;
CREATE UNIQUE INDEX ledger_accounts_one_per_owner ON ledger_accounts (owner_id, kind, currency) WHERE owner_id IS NOT NULL AND code = 0;
CREATE UNIQUE INDEX ledger_accounts_one_system ON ledger_accounts (kind, currency) WHERE owner_id IS NULL AND code = 0;
CREATE INDEX ledger_accounts_user_data_128 ON ledger_accounts (user_data_128) WHERE user_data_128 IS NOT NULL;
CREATE INDEX ledger_accounts_user_data_64 ON ledger_accounts (user_data_64) WHERE user_data_64 <> 0;
CREATE INDEX ledger_accounts_by_code ON ledger_accounts (code, created_at);

-- Transfers: TigerBeetle's flag bits (balancing_debit 16, balancing_credit 32, closing_debit 64,
-- closing_credit 128) and user data; a closing hold (and its void or expiry) may carry 0.
ALTER TABLE ledger_transfers
    ADD COLUMN flags BIGINT NOT NULL DEFAULT 0 CONSTRAINT ledger_transfers_flags CHECK ((flags & ~240) = 0),
    ADD COLUMN user_data_128 UUID,
    ADD COLUMN user_data_64 BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN user_data_32 BIGINT NOT NULL DEFAULT 0 CONSTRAINT ledger_transfers_user_data_32 CHECK (user_data_32 BETWEEN 0 AND 4294967295);
ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_amount_positive;
ALTER TABLE ledger_transfers ADD CONSTRAINT ledger_transfers_amount_positive CHECK (
    result <> 'ok' OR amount > 0
    OR (amount = 0 AND ((flags & 192) <> 0 OR kind IN ('void_pending', 'expire_pending'))));
ALTER TABLE ledger_transfers ADD CONSTRAINT ledger_transfers_closing_is_pending CHECK (
    result <> 'ok' OR (flags & 192) = 0 OR kind = 'pending');
CREATE INDEX ledger_transfers_user_data_128 ON ledger_transfers (user_data_128) WHERE user_data_128 IS NOT NULL;
CREATE INDEX ledger_transfers_user_data_64 ON ledger_transfers (user_data_64) WHERE user_data_64 <> 0;
CREATE INDEX ledger_transfers_by_time ON ledger_transfers (created_at, seq) WHERE result = 'ok';
