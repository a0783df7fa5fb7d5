-- hearth Postgres schema, version 2: the double-entry wallet ledger.
-- Amounts are BIGINT minor units. The flag constraints double as the concurrency guard of balance
-- deltas: a delta that would overdraw fails the CHECK and core decides again.

CREATE TABLE ledger_accounts (
    id                               UUID PRIMARY KEY,
    owner_id                         UUID,
    kind                             TEXT NOT NULL CONSTRAINT ledger_accounts_kind CHECK (kind IN ('wallet', 'gateway_clearing', 'canteen_revenue', 'refunds', 'fees')),
    currency                         CHAR(3) NOT NULL,
    debits_must_not_exceed_credits   BOOLEAN NOT NULL,
    credits_must_not_exceed_debits   BOOLEAN NOT NULL,
    frozen                           BOOLEAN NOT NULL,
    closed                           BOOLEAN NOT NULL,
    debits_pending                   BIGINT NOT NULL,
    debits_posted                    BIGINT NOT NULL,
    credits_pending                  BIGINT NOT NULL,
    credits_posted                   BIGINT NOT NULL,
    created_at                       TIMESTAMPTZ NOT NULL,
    version                          BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT ledger_accounts_totals_non_negative CHECK (debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0),
    CONSTRAINT ledger_accounts_debits_within_credits CHECK (NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted),
    CONSTRAINT ledger_accounts_credits_within_debits CHECK (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted),
    CONSTRAINT ledger_accounts_wallet_has_owner CHECK ((kind = 'wallet') = (owner_id IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_accounts_one_per_owner ON ledger_accounts (owner_id, kind, currency) WHERE owner_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_one_system ON ledger_accounts (kind, currency) WHERE owner_id IS NULL;

CREATE TABLE ledger_transfers (
    id                 UUID PRIMARY KEY,
    debit_account_id   UUID NOT NULL,
    credit_account_id  UUID NOT NULL,
    amount             BIGINT NOT NULL,
    currency           CHAR(3) NOT NULL,
    kind               TEXT NOT NULL CONSTRAINT ledger_transfers_kind CHECK (kind IN ('single', 'pending', 'post_pending', 'void_pending', 'expire_pending')),
    pending_id         UUID,
    timeout_secs       INTEGER NOT NULL,
    expires_at         TIMESTAMPTZ,
    linked             BOOLEAN NOT NULL,
    code               TEXT NOT NULL,
    reference          TEXT,
    result             TEXT NOT NULL,
    actor              TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT ledger_transfers_amount_positive CHECK (result <> 'ok' OR amount > 0),
    CONSTRAINT ledger_transfers_accounts_differ CHECK (result <> 'ok' OR debit_account_id <> credit_account_id),
    CONSTRAINT ledger_transfers_resolution_names_pending CHECK (
        result <> 'ok' OR (kind IN ('post_pending', 'void_pending', 'expire_pending')) = (pending_id IS NOT NULL))
);
-- A pending transfer is posted, voided or expired at most once.
CREATE UNIQUE INDEX ledger_transfers_resolve_once ON ledger_transfers (pending_id) WHERE result = 'ok' AND pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id, created_at, id) WHERE result = 'ok';
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id, created_at, id) WHERE result = 'ok';
CREATE INDEX ledger_transfers_expiring ON ledger_transfers (expires_at) WHERE kind = 'pending' AND result = 'ok' AND expires_at IS NOT NULL;
CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION hearth_append_only();
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON ledger_transfers FROM PUBLIC;
