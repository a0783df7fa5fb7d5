-- hearth Postgres schema, version 7: rooms and bed reservations (Viramah §5 step 3).
-- The beds CHECK is also the concurrency guard of a reservation's counter delta.

CREATE TABLE rooms (
    id        UUID PRIMARY KEY,
    number    TEXT NOT NULL UNIQUE CONSTRAINT rooms_number CHECK (char_length(number) BETWEEN 1 AND 20),
    beds      INTEGER NOT NULL CONSTRAINT rooms_beds CHECK (beds BETWEEN 1 AND 12),
    reserved  INTEGER NOT NULL,
    version   BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT rooms_reserved_within_beds CHECK (reserved >= 0 AND reserved <= beds)
);

CREATE TABLE bed_reservations (
    id                 UUID PRIMARY KEY,
    room_id            UUID NOT NULL REFERENCES rooms (id),
    user_id            UUID NOT NULL,
    status             TEXT NOT NULL CONSTRAINT bed_reservations_status CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    lunchbox           BOOLEAN NOT NULL,
    charge             NUMERIC(14, 3) NOT NULL,
    currency           CHAR(3) NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    version            BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT bed_reservations_lunchbox_charge CHECK (lunchbox = (charge > 0) AND charge >= 0)
);
-- One live (held or confirmed) reservation per resident.
CREATE UNIQUE INDEX bed_reservations_one_live ON bed_reservations (user_id) WHERE status IN ('held', 'confirmed');
CREATE INDEX bed_reservations_lapsing ON bed_reservations (expires_at) WHERE status = 'held';
CREATE INDEX bed_reservations_room ON bed_reservations (room_id, status);
