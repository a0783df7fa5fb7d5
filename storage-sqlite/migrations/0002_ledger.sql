-- hearth SQLite schema, version 2: the double-entry wallet ledger.
-- Amounts are integers of the currency's minor unit. The flag constraints double as the concurrency
-- guard of balance deltas: a delta that would overdraw fails the CHECK and core decides again.

CREATE TABLE ledger_accounts (
    id                               TEXT PRIMARY KEY,
    owner_id                         TEXT,
    kind                             TEXT NOT NULL CONSTRAINT ledger_accounts_kind CHECK (kind IN ('wallet', 'gateway_clearing', 'canteen_revenue', 'refunds', 'fees')),
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
    CONSTRAINT ledger_accounts_totals_non_negative CHECK (debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0),
    CONSTRAINT ledger_accounts_debits_within_credits CHECK (debits_must_not_exceed_credits = 0 OR debits_posted + debits_pending <= credits_posted),
    CONSTRAINT ledger_accounts_credits_within_debits CHECK (credits_must_not_exceed_debits = 0 OR credits_posted + credits_pending <= debits_posted),
    CONSTRAINT ledger_accounts_wallet_has_owner CHECK ((kind = 'wallet') = (owner_id IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX ledger_accounts_one_per_owner ON ledger_accounts (owner_id, kind, currency) WHERE owner_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_one_system ON ledger_accounts (kind, currency) WHERE owner_id IS NULL;

CREATE TABLE ledger_transfers (
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
    CONSTRAINT ledger_transfers_amount_positive CHECK (result <> 'ok' OR amount > 0),
    CONSTRAINT ledger_transfers_accounts_differ CHECK (result <> 'ok' OR debit_account_id <> credit_account_id),
    CONSTRAINT ledger_transfers_resolution_names_pending CHECK (
        result <> 'ok' OR (kind IN ('post_pending', 'void_pending', 'expire_pending')) = (pending_id IS NOT NULL))
) STRICT;
-- A pending transfer is posted, voided or expired at most once.
CREATE UNIQUE INDEX ledger_transfers_resolve_once ON ledger_transfers (pending_id) WHERE result = 'ok' AND pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, seq) WHERE result = 'ok';
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, seq) WHERE result = 'ok';
CREATE INDEX ledger_transfers_expiring ON ledger_transfers (expires_at) WHERE kind = 'pending' AND result = 'ok' AND expires_at IS NOT NULL;
CREATE TRIGGER ledger_transfers_append_only_update BEFORE UPDATE ON ledger_transfers BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END;
CREATE TRIGGER ledger_transfers_append_only_delete BEFORE DELETE ON ledger_transfers BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END;
