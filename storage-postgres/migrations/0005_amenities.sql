-- hearth Postgres schema, version 5: amenities, their slots and bookings (Viramah §9).
-- The capacity CHECK is also the concurrency guard of a booking's counter delta.

CREATE TABLE amenities (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL CONSTRAINT amenities_name_length CHECK (char_length(name) BETWEEN 2 AND 80),
    opens_minute   SMALLINT NOT NULL,
    closes_minute  SMALLINT NOT NULL,
    slot_minutes   SMALLINT NOT NULL,
    capacity       INTEGER NOT NULL,
    time_zone      TEXT NOT NULL,
    status         TEXT NOT NULL CONSTRAINT amenities_status CHECK (status IN ('active', 'maintenance')),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    version        BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT amenities_template CHECK (opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 1440
        AND slot_minutes BETWEEN 15 AND 240 AND capacity BETWEEN 1 AND 1000)
);

CREATE TABLE amenity_slots (
    id          UUID PRIMARY KEY,
    amenity_id  UUID NOT NULL REFERENCES amenities (id),
    date        DATE NOT NULL,
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    capacity    INTEGER NOT NULL,
    booked      INTEGER NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT amenity_slots_capacity CHECK (booked >= 0 AND booked <= capacity),
    CONSTRAINT amenity_slots_order CHECK (starts_at < ends_at),
    CONSTRAINT amenity_slots_one_per_start UNIQUE (amenity_id, starts_at)
);
CREATE INDEX amenity_slots_day ON amenity_slots (amenity_id, date, starts_at);

CREATE TABLE amenity_bookings (
    id          UUID PRIMARY KEY,
    slot_id     UUID NOT NULL REFERENCES amenity_slots (id),
    amenity_id  UUID NOT NULL REFERENCES amenities (id),
    user_id     UUID NOT NULL,
    status      TEXT NOT NULL CONSTRAINT amenity_bookings_status CHECK (status IN ('booked', 'cancelled')),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1)
);
-- One live seat per user per slot.
CREATE UNIQUE INDEX amenity_bookings_one_seat ON amenity_bookings (slot_id, user_id) WHERE status = 'booked';
CREATE INDEX amenity_bookings_amenity ON amenity_bookings (amenity_id, status);
