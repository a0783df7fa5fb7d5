-- hearth SQLite schema, version 5: the canteen (Viramah §8) and residents' delivery rooms.
-- An order's lines are an immutable snapshot of the menu at order time, kept as a JSON array.

CREATE TABLE canteen_menu_items (
    id          TEXT PRIMARY KEY,
    date        TEXT NOT NULL,
    name        TEXT NOT NULL CONSTRAINT canteen_menu_items_name CHECK (length(name) BETWEEN 2 AND 80),
    price_minor INTEGER NOT NULL CONSTRAINT canteen_menu_items_price_positive CHECK (price_minor > 0),
    currency    TEXT NOT NULL,
    available   INTEGER NOT NULL CHECK (available IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1)
) STRICT;
CREATE INDEX canteen_menu_items_date ON canteen_menu_items (date, name);

CREATE TABLE canteen_orders (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    room         TEXT NOT NULL,
    date         TEXT NOT NULL,
    lines        TEXT NOT NULL CONSTRAINT canteen_orders_lines CHECK (json_valid(lines) AND json_array_length(lines) >= 1),
    total_minor  INTEGER NOT NULL CONSTRAINT canteen_orders_total_positive CHECK (total_minor > 0),
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL CONSTRAINT canteen_orders_status CHECK (status IN ('placed', 'confirmed', 'preparing', 'ready', 'delivered', 'completed', 'cancelled')),
    refund       TEXT CONSTRAINT canteen_orders_refund CHECK (refund IS NULL OR (status = 'cancelled' AND refund IN ('refunded', 'requested', 'denied'))),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1)
) STRICT;
CREATE INDEX canteen_orders_user ON canteen_orders (user_id, created_at);
CREATE INDEX canteen_orders_kitchen ON canteen_orders (date, room, created_at) WHERE status NOT IN ('completed', 'cancelled');

CREATE TABLE resident_rooms (
    user_id  TEXT PRIMARY KEY,
    room     TEXT NOT NULL CONSTRAINT resident_rooms_room CHECK (length(room) BETWEEN 1 AND 20)
) STRICT;
