-- hearth Postgres schema, version 3: payment intents and processed webhook deliveries.

CREATE TABLE payment_intents (
    id                 UUID PRIMARY KEY,
    user_id            UUID NOT NULL,
    wallet_account_id  UUID NOT NULL REFERENCES ledger_accounts (id),
    amount             NUMERIC(20, 3) NOT NULL CONSTRAINT payment_intents_amount_positive CHECK (amount > 0),
    currency           CHAR(3) NOT NULL,
    gateway            TEXT NOT NULL CONSTRAINT payment_intents_gateway CHECK (gateway IN ('phonepe', 'stripe')),
    status             TEXT NOT NULL CONSTRAINT payment_intents_status CHECK (status IN ('initiated', 'pending', 'succeeded', 'failed', 'expired')),
    provider_order_id  TEXT,
    flags              TEXT[] NOT NULL,
    review             TEXT CONSTRAINT payment_intents_review CHECK (review IS NULL OR review IN ('held', 'approved', 'rejected')),
    transfer_id        UUID,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    version            BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT payment_intents_credit_when_succeeded CHECK ((transfer_id IS NOT NULL) = (status = 'succeeded'))
);
CREATE INDEX payment_intents_user ON payment_intents (user_id, created_at);
CREATE INDEX payment_intents_open ON payment_intents (expires_at) WHERE status IN ('initiated', 'pending');

CREATE TABLE payment_confirmations (
    gateway          TEXT NOT NULL,
    provider_txn_id  TEXT NOT NULL,
    intent_id        UUID,
    amount_minor     BIGINT NOT NULL,
    currency         CHAR(3),
    status           TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    transfer_id      UUID,
    received_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT payment_confirmations_once PRIMARY KEY (gateway, provider_txn_id)
);
CREATE INDEX payment_confirmations_intent ON payment_confirmations (intent_id);

CREATE INDEX ledger_transfers_refunds ON ledger_transfers (reference) WHERE code = 'refund' AND result = 'ok';
