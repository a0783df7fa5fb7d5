-- hearth SQLite schema, version 6: rooms and bed reservations (Viramah §5 step 3).
-- The beds CHECK is also the concurrency guard of a reservation's counter delta.

CREATE TABLE rooms (
    id        TEXT PRIMARY KEY,
    number    TEXT NOT NULL UNIQUE CONSTRAINT rooms_number CHECK (length(number) BETWEEN 1 AND 20),
    beds      INTEGER NOT NULL CONSTRAINT rooms_beds CHECK (beds BETWEEN 1 AND 12),
    reserved  INTEGER NOT NULL,
    version   INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT rooms_reserved_within_beds CHECK (reserved >= 0 AND reserved <= beds)
) STRICT;

CREATE TABLE bed_reservations (
    id                 TEXT PRIMARY KEY,
    room_id            TEXT NOT NULL REFERENCES rooms (id),
    user_id            TEXT NOT NULL,
    status             TEXT NOT NULL CONSTRAINT bed_reservations_status CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    lunchbox           INTEGER NOT NULL CHECK (lunchbox IN (0, 1)),
    charge_minor       INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    expires_at         INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    version            INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT bed_reservations_lunchbox_charge CHECK ((lunchbox = 1) = (charge_minor > 0) AND charge_minor >= 0)
) STRICT;
-- One live (held or confirmed) reservation per resident.
CREATE UNIQUE INDEX bed_reservations_one_live ON bed_reservations (user_id) WHERE status IN ('held', 'confirmed');
CREATE INDEX bed_reservations_lapsing ON bed_reservations (expires_at) WHERE status = 'held';
CREATE INDEX bed_reservations_room ON bed_reservations (room_id, status);
