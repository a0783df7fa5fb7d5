-- hearth schema: Khedma requests, quotes and bookings (seed 001).

CREATE TABLE khedma_requests (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL,
    title        TEXT NOT NULL CONSTRAINT khedma_requests_title CHECK (length(title) BETWEEN 5 AND 100),
    description  TEXT NOT NULL CONSTRAINT khedma_requests_description CHECK (length(description) BETWEEN 1 AND 1000),
    status       TEXT NOT NULL CONSTRAINT khedma_requests_status CHECK (status IN ('open', 'booked', 'closed')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1)
) STRICT;
CREATE INDEX khedma_requests_client ON khedma_requests (client_id, created_at);

CREATE TABLE khedma_quotes (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES khedma_requests (id),
    provider_id  TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CONSTRAINT khedma_quotes_amount_positive CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    message      TEXT NOT NULL,
    valid_until  INTEGER NOT NULL,
    status       TEXT NOT NULL CONSTRAINT khedma_quotes_status CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1)
) STRICT;
-- One pending quote per provider per request; one accepted quote per request.
CREATE UNIQUE INDEX khedma_quotes_one_pending ON khedma_quotes (request_id, provider_id) WHERE status = 'pending';
CREATE UNIQUE INDEX khedma_quotes_one_accepted ON khedma_quotes (request_id) WHERE status = 'accepted';

CREATE TABLE khedma_bookings (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL UNIQUE REFERENCES khedma_requests (id),
    quote_id     TEXT NOT NULL UNIQUE REFERENCES khedma_quotes (id),
    client_id    TEXT NOT NULL,
    provider_id  TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CONSTRAINT khedma_bookings_status CHECK (status IN ('pending', 'confirmed', 'in_progress', 'completed', 'cancelled', 'declined')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT khedma_bookings_participants CHECK (client_id <> provider_id)
) STRICT;
CREATE INDEX khedma_bookings_client ON khedma_bookings (client_id);
CREATE INDEX khedma_bookings_provider ON khedma_bookings (provider_id);
