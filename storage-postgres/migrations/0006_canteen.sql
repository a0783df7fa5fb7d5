-- hearth Postgres schema, version 6: the canteen (Viramah §8) and residents' delivery rooms.
-- An order's lines are an immutable snapshot of the menu at order time, kept as a JSONB array.

CREATE TABLE canteen_menu_items (
    id          UUID PRIMARY KEY,
    date        DATE NOT NULL,
    name        TEXT NOT NULL CONSTRAINT canteen_menu_items_name CHECK (char_length(name) BETWEEN 2 AND 80),
    price       NUMERIC(14, 3) NOT NULL CONSTRAINT canteen_menu_items_price_positive CHECK (price > 0),
    currency    CHAR(3) NOT NULL,
    available   BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1)
);
CREATE INDEX canteen_menu_items_date ON canteen_menu_items (date, name);

CREATE TABLE canteen_orders (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL,
    room        TEXT NOT NULL,
    date        DATE NOT NULL,
    lines       JSONB NOT NULL CONSTRAINT canteen_orders_lines CHECK (jsonb_typeof(lines) = 'array' AND jsonb_array_length(lines) >= 1),
    total       NUMERIC(16, 3) NOT NULL CONSTRAINT canteen_orders_total_positive CHECK (total > 0),
    currency    CHAR(3) NOT NULL,
    status      TEXT NOT NULL CONSTRAINT canteen_orders_status CHECK (status IN ('placed', 'confirmed', 'preparing', 'ready', 'delivered', 'completed', 'cancelled')),
    refund      TEXT CONSTRAINT canteen_orders_refund CHECK (refund IS NULL OR (status = 'cancelled' AND refund IN ('refunded', 'requested', 'denied'))),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1)
);
CREATE INDEX canteen_orders_user ON canteen_orders (user_id, created_at);
CREATE INDEX canteen_orders_kitchen ON canteen_orders (date, room, created_at) WHERE status NOT IN ('completed', 'cancelled');

CREATE TABLE resident_rooms (
    user_id  UUID PRIMARY KEY,
    room     TEXT NOT NULL CONSTRAINT resident_rooms_room CHECK (char_length(room) BETWEEN 1 AND 20)
);
