-- hearth SQLite schema: the ledger's accounts API as TigerBeetle documents it — caller-created
-- accounts (`create_accounts`, kind 'ledger'), linked and imported flags, balance history rows for
-- accounts with `history`, and the import cursors that keep imported timestamps increasing.

-- Accounts: rebuilt, because the kind CHECK changes (SQLite cannot alter a CHECK); every row is
-- copied. The migration runs with foreign keys off (payment intents name wallets) and checks them
-- before it commits (see `migrate.rs`).
CREATE TABLE ledger_accounts_next (
    id                               TEXT PRIMARY KEY,
    owner_id                         TEXT,
    kind                             TEXT NOT NULL CONSTRAINT ledger_accounts_kind CHECK (kind IN ('wallet', 'gateway_clearing', 'canteen_revenue', 'refunds', 'fees', 'ledger')),
    currency                         TEXT NOT NULL,
    debits_must_not_exceed_credits   INTEGER NOT NULL CHECK (debits_must_not_exceed_credits IN (0, 1)),
    credits_must_not_exceed_debits   INTEGER NOT NULL CHECK (credits_must_not_exceed_debits IN (0, 1)),
    frozen                           INTEGER NOT NULL CHECK (frozen IN (0, 1)),
    closed                           INTEGER NOT NULL CHECK (closed IN (0, 1)),
    debits_pending                   INTEGER NOT NULL,
    debits_posted                    INTEGER NOT NULL,
    credits_pending                  INTEGER NOT NULL,
    credits_posted                   INTEGER NOT NULL,
    created_at                       INTEGER NOT NULL,
    version                          INTEGER NOT NULL CHECK (version >= 1),
    code                             INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_code CHECK (code BETWEEN 0 AND 65535),
    user_data_128                    TEXT,
    user_data_64                     INTEGER NOT NULL DEFAULT 0,
    user_data_32                     INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_user_data_32 CHECK (user_data_32 BETWEEN 0 AND 4294967295),
    history                          INTEGER NOT NULL DEFAULT 0 CHECK (history IN (0, 1)),
    closing_holds                    INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_closing_holds CHECK (closing_holds IN (0, 1)),
    linked                           INTEGER NOT NULL DEFAULT 0 CHECK (linked IN (0, 1)),
    imported                         INTEGER NOT NULL DEFAULT 0 CHECK (imported IN (0, 1)),
    -- Balance history rows written for the account: a counter moved by the same delta as the totals.
    history_len                      INTEGER NOT NULL DEFAULT 0 CONSTRAINT ledger_accounts_history_len CHECK (history_len >= 0),
    CONSTRAINT ledger_accounts_totals_non_negative CHECK (debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0),
    CONSTRAINT ledger_accounts_debits_within_credits CHECK (debits_must_not_exceed_credits = 0 OR debits_posted + debits_pending <= credits_posted),
    CONSTRAINT ledger_accounts_credits_within_debits CHECK (credits_must_not_exceed_debits = 0 OR credits_posted + credits_pending <= debits_posted),
    CONSTRAINT ledger_accounts_wallet_has_owner CHECK ((kind = 'wallet') = (owner_id IS NOT NULL)),
    CONSTRAINT ledger_accounts_limits_exclusive CHECK (NOT (debits_must_not_exceed_credits = 1 AND credits_must_not_exceed_debits = 1)),
    CONSTRAINT ledger_accounts_ledger_code CHECK (kind <> 'ledger' OR code > 0)
) STRICT;
INSERT INTO ledger_accounts_next (id, owner_id, kind, currency, debits_must_not_exceed_credits,
    credits_must_not_exceed_debits, frozen, closed, debits_pending, debits_posted, credits_pending,
    credits_posted, created_at, version, code, user_data_128, user_data_64, user_data_32, history, closing_holds)
SELECT id, owner_id, kind, currency, debits_must_not_exceed_credits,
    credits_must_not_exceed_debits, frozen, closed, debits_pending, debits_posted, credits_pending,
    credits_posted, created_at, version, code, user_data_128, user_data_64, user_data_32, history, closing_holds
FROM ledger_accounts;
DROP TABLE ledger_accounts;
ALTER TABLE ledger_accounts_next RENAME TO ledger_accounts;
CREATE UNIQUE INDEX ledger_accounts_one_per_owner ON ledger_accounts (owner_id, kind, currency) WHERE owner_id IS NOT NULL AND code = 0;
CREATE UNIQUE INDEX ledger_accounts_one_system ON ledger_accounts (kind, currency) WHERE owner_id IS NULL AND code = 0;
CREATE INDEX ledger_accounts_user_data_128 ON ledger_accounts (user_data_128) WHERE user_data_128 IS NOT NULL;
CREATE INDEX ledger_accounts_user_data_64 ON ledger_accounts (user_data_64) WHERE user_data_64 <> 0;
CREATE INDEX ledger_accounts_by_code ON ledger_accounts (code, created_at);
-- `query_accounts` reads by creation time; imports read the newest.
CREATE INDEX ledger_accounts_by_time ON ledger_accounts (created_at, id);

-- Transfers: TigerBeetle's `flags.imported` (the caller's timestamp is `created_at`).
ALTER TABLE ledger_transfers ADD COLUMN imported INTEGER NOT NULL DEFAULT 0 CHECK (imported IN (0, 1));
CREATE INDEX ledger_transfers_by_code ON ledger_transfers (code, seq) WHERE result = 'ok';

-- One row per transfer that moved an account with `history`: the balance after it. Append-only.
CREATE TABLE ledger_account_balances (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    position         INTEGER NOT NULL CONSTRAINT ledger_account_balances_position_positive CHECK (position >= 1),
    transfer_id      TEXT NOT NULL,
    debit            INTEGER NOT NULL CHECK (debit IN (0, 1)),
    code             TEXT NOT NULL,
    user_data_128    TEXT,
    user_data_64     INTEGER NOT NULL,
    user_data_32     INTEGER NOT NULL CONSTRAINT ledger_account_balances_user_data_32 CHECK (user_data_32 BETWEEN 0 AND 4294967295),
    debits_pending   INTEGER NOT NULL,
    debits_posted    INTEGER NOT NULL,
    credits_pending  INTEGER NOT NULL,
    credits_posted   INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    CONSTRAINT ledger_account_balances_totals_non_negative CHECK (debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0)
) STRICT;
-- Two commits that read one history length cannot both write the next position.
CREATE UNIQUE INDEX ledger_account_balances_position ON ledger_account_balances (account_id, position);
CREATE INDEX ledger_account_balances_by_time ON ledger_account_balances (account_id, created_at);
CREATE TRIGGER ledger_account_balances_append_only_update BEFORE UPDATE ON ledger_account_balances BEGIN SELECT RAISE(ABORT, 'ledger_account_balances is append-only'); END;
CREATE TRIGGER ledger_account_balances_append_only_delete BEFORE DELETE ON ledger_account_balances BEGIN SELECT RAISE(ABORT, 'ledger_account_balances is append-only'); END;

-- The newest imported timestamp per stream (accounts, transfers): imports advance it with a
-- versioned write, so racing imports cannot both pass "must not regress".
CREATE TABLE ledger_import_cursors (
    id        TEXT PRIMARY KEY,
    stream    TEXT NOT NULL CONSTRAINT ledger_import_cursors_stream CHECK (stream IN ('accounts', 'transfers')),
    last_at   INTEGER NOT NULL,
    version   INTEGER NOT NULL CHECK (version >= 1)
) STRICT;
