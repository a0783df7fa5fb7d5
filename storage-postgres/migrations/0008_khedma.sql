-- hearth schema: Khedma requests, quotes and bookings (seed 001).

CREATE TABLE khedma_requests (
    id           UUID PRIMARY KEY,
    client_id    UUID NOT NULL,
    title        TEXT NOT NULL CONSTRAINT khedma_requests_title CHECK (char_length(title) BETWEEN 5 AND 100),
    description  TEXT NOT NULL CONSTRAINT khedma_requests_description CHECK (char_length(description) BETWEEN 1 AND 1000),
    status       TEXT NOT NULL CONSTRAINT khedma_requests_status CHECK (status IN ('open', 'booked', 'closed')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT NOT NULL CHECK (version >= 1)
);
CREATE INDEX khedma_requests_client ON khedma_requests (client_id, created_at);

CREATE TABLE khedma_quotes (
    id           UUID PRIMARY KEY,
    request_id   UUID NOT NULL REFERENCES khedma_requests (id),
    provider_id  UUID NOT NULL,
    amount       NUMERIC(14, 3) NOT NULL CONSTRAINT khedma_quotes_amount_positive CHECK (amount > 0),
    currency     TEXT NOT NULL,
    message      TEXT NOT NULL,
    valid_until  TIMESTAMPTZ NOT NULL,
    status       TEXT NOT NULL CONSTRAINT khedma_quotes_status CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT NOT NULL CHECK (version >= 1)
);
-- One pending quote per provider per request; one accepted quote per request.
CREATE UNIQUE INDEX khedma_quotes_one_pending ON khedma_quotes (request_id, provider_id) WHERE status = 'pending';
CREATE UNIQUE INDEX khedma_quotes_one_accepted ON khedma_quotes (request_id) WHERE status = 'accepted';

CREATE TABLE khedma_bookings (
    id           UUID PRIMARY KEY,
    request_id   UUID NOT NULL UNIQUE REFERENCES khedma_requests (id),
    quote_id     UUID NOT NULL UNIQUE REFERENCES khedma_quotes (id),
    client_id    UUID NOT NULL,
    provider_id  UUID NOT NULL,
    amount       NUMERIC(14, 3) NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CONSTRAINT khedma_bookings_status CHECK (status IN ('pending', 'confirmed', 'in_progress', 'completed', 'cancelled', 'declined')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT khedma_bookings_participants CHECK (client_id <> provider_id)
);
CREATE INDEX khedma_bookings_client ON khedma_bookings (client_id);
CREATE INDEX khedma_bookings_provider ON khedma_bookings (provider_id);
