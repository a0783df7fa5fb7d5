-- hearth Postgres schema: the ledger's accounts API as TigerBeetle documents it — caller-created
-- accounts (`create_accounts`, kind 'ledger'), linked and imported flags, balance history rows for
-- accounts with `history`, and the import cursors that keep imported timestamps increasing.

-- Accounts created through `create_accounts` are of kind 'ledger' and carry a code (0 marks the
-- accounts hearth opens itself); the two limit flags exclude each other.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind
    CHECK (kind IN ('wallet', 'gateway_clearing', 'canteen_revenue', 'refunds', 'fees', 'ledger'));
ALTER TABLE ledger_accounts
    ADD COLUMN linked BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN imported BOOLEAN NOT NULL DEFAULT false,
    -- Balance history rows written for the account: a counter moved by the same delta as the totals.
    ADD COLUMN history_len BIGINT NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_history_len CHECK (history_len >= 0),
    ADD CONSTRAINT ledger_accounts_limits_exclusive CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
    ADD CONSTRAINT ledger_accounts_ledger_code CHECK (kind <> 'ledger' OR code > 0);
-- `query_accounts` reads by creation time; imports read the newest.
CREATE INDEX ledger_accounts_by_time ON ledger_accounts (created_at, id);

-- Transfers: TigerBeetle's `flags.imported` (the caller's timestamp is `created_at`).
ALTER TABLE ledger_transfers ADD COLUMN imported BOOLEAN NOT NULL DEFAULT false;
-- `query_transfers` and `get_account_transfers` filter on code; by user data (0011) and time.
CREATE INDEX ledger_transfers_by_code ON ledger_transfers (code, seq) WHERE result = 'ok';

-- One row per transfer that moved an account with `history`: the balance after it. Append-only.
CREATE TABLE ledger_account_balances (
    id               UUID PRIMARY KEY,
    account_id       UUID NOT NULL,
    position         BIGINT NOT NULL CONSTRAINT ledger_account_balances_position_positive CHECK (position >= 1),
    transfer_id      UUID NOT NULL,
    debit            BOOLEAN NOT NULL,
    code             TEXT NOT NULL,
    user_data_128    UUID,
    user_data_64     BIGINT NOT NULL,
    user_data_32     BIGINT NOT NULL CONSTRAINT ledger_account_balances_user_data_32 CHECK (user_data_32 BETWEEN 0 AND 4294967295),
    debits_pending   BIGINT NOT NULL,
    debits_posted    BIGINT NOT NULL,
    credits_pending  BIGINT NOT NULL,
    credits_posted   BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT ledger_account_balances_totals_non_negative CHECK (debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0)
);
-- Two commits that read one history length cannot both write the next position.
CREATE UNIQUE INDEX ledger_account_balances_position ON ledger_account_balances (account_id, position);
CREATE INDEX ledger_account_balances_by_time ON ledger_account_balances (account_id, created_at);
CREATE TRIGGER ledger_account_balances_append_only BEFORE UPDATE OR DELETE ON ledger_account_balances
    FOR EACH ROW EXECUTE FUNCTION hearth_append_only();
CREATE TRIGGER ledger_account_balances_no_truncate BEFORE TRUNCATE ON ledger_account_balances
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_account_balances FROM PUBLIC;

-- The newest imported timestamp per stream (accounts, transfers): imports advance it with a
-- versioned write, so racing imports cannot both pass "must not regress".
CREATE TABLE ledger_import_cursors (
    id        UUID PRIMARY KEY,
    stream    TEXT NOT NULL CONSTRAINT ledger_import_cursors_stream CHECK (stream IN ('accounts', 'transfers')),
    last_at   TIMESTAMPTZ NOT NULL,
    version   BIGINT NOT NULL CHECK (version >= 1)
);
