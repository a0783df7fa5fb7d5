-- hearth SQLite schema: maintenance requests (Viramah §2 Group G, §10). Every rule is core's; the
-- named constraints below are the backstop.

CREATE TABLE maintenance_categories (
    id           TEXT PRIMARY KEY,
    code         TEXT NOT NULL CONSTRAINT maintenance_categories_code_format CHECK (length(code) BETWEEN 2 AND 40 AND code GLOB '[a-z]*' AND code NOT GLOB '*[^a-z0-9_]*'),
    name         TEXT NOT NULL CONSTRAINT maintenance_categories_name_length CHECK (length(name) BETWEEN 2 AND 60),
    issue_types  TEXT NOT NULL CONSTRAINT maintenance_categories_issue_types CHECK (json_valid(issue_types) AND json_type(issue_types) = 'array' AND json_array_length(issue_types) BETWEEN 1 AND 30),
    created_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_categories_code UNIQUE (code)
) STRICT;

-- One row per hostel: the reference numbers issued so far (gap-free).
CREATE TABLE maintenance_counters (
    id         TEXT PRIMARY KEY,
    hostel_id  TEXT NOT NULL,
    issued     INTEGER NOT NULL CONSTRAINT maintenance_counters_issued CHECK (issued >= 1),
    version    INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_counters_hostel UNIQUE (hostel_id)
) STRICT;

CREATE TABLE maintenance_requests (
    id             TEXT PRIMARY KEY,
    hostel_id      TEXT NOT NULL,
    number         INTEGER NOT NULL CONSTRAINT maintenance_requests_number CHECK (number >= 1),
    reference      TEXT NOT NULL CONSTRAINT maintenance_requests_reference_format CHECK (reference GLOB 'MR-[0-9][0-9][0-9][0-9]*' AND substr(reference, 4) NOT GLOB '*[^0-9]*'),
    user_id        TEXT NOT NULL,
    category       TEXT NOT NULL REFERENCES maintenance_categories (code),
    issue_type     TEXT NOT NULL,
    description    TEXT CONSTRAINT maintenance_requests_description_length CHECK (length(description) BETWEEN 1 AND 2000),
    priority       TEXT NOT NULL CONSTRAINT maintenance_requests_priority CHECK (priority IN ('normal', 'high')),
    status         TEXT NOT NULL CONSTRAINT maintenance_requests_status CHECK (status IN
                       ('submitted', 'unassigned', 'assigned', 'in_progress', 'on_hold', 'escalated', 'resolved', 'rejected')),
    reject_reason  TEXT,
    attachments    INTEGER NOT NULL,
    escalated_at   INTEGER,
    resolved_at    INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_requests_reference UNIQUE (hostel_id, number),
    CONSTRAINT maintenance_requests_attachments CHECK (attachments BETWEEN 0 AND 5),
    CONSTRAINT maintenance_requests_rejected_has_reason CHECK ((status = 'rejected') = (reject_reason IS NOT NULL)),
    CONSTRAINT maintenance_requests_resolved_at CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
) STRICT;
CREATE INDEX maintenance_requests_user ON maintenance_requests (user_id, created_at);
CREATE INDEX maintenance_requests_open ON maintenance_requests (hostel_id, number)
    WHERE status NOT IN ('resolved', 'rejected');
CREATE INDEX maintenance_requests_sla ON maintenance_requests (created_at)
    WHERE escalated_at IS NULL AND status NOT IN ('resolved', 'rejected');

CREATE TABLE maintenance_assignments (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES maintenance_requests (id),
    staff_id     TEXT NOT NULL,
    active       INTEGER NOT NULL CHECK (active IN (0, 1)),
    assigned_by  TEXT NOT NULL,
    assigned_at  INTEGER NOT NULL,
    ended_at     INTEGER,
    version      INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_assignments_ended CHECK (active = (ended_at IS NULL))
) STRICT;
-- Viramah §10: one staff member per request at a time.
CREATE UNIQUE INDEX maintenance_assignments_one_active ON maintenance_assignments (request_id) WHERE active = 1;

-- Immutable: rows are only ever inserted.
CREATE TABLE maintenance_status_history (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES maintenance_requests (id),
    position     INTEGER NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    note         TEXT,
    changed_at   INTEGER NOT NULL,
    CONSTRAINT maintenance_status_history_position UNIQUE (request_id, position),
    CONSTRAINT maintenance_status_history_first CHECK ((position = 1) = (from_status IS NULL))
) STRICT;

CREATE TABLE maintenance_comments (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES maintenance_requests (id),
    resident_id  TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    from_staff   INTEGER NOT NULL CHECK (from_staff IN (0, 1)),
    staff_only   INTEGER NOT NULL CHECK (staff_only IN (0, 1)),
    body         TEXT NOT NULL CONSTRAINT maintenance_comments_body_length CHECK (length(body) BETWEEN 1 AND 2000),
    created_at   INTEGER NOT NULL,
    CONSTRAINT maintenance_comments_staff_only CHECK (NOT staff_only OR from_staff)
) STRICT;
CREATE INDEX maintenance_comments_request ON maintenance_comments (request_id, created_at);

CREATE TABLE maintenance_attachments (
    id            TEXT PRIMARY KEY,
    request_id    TEXT NOT NULL REFERENCES maintenance_requests (id),
    resident_id   TEXT NOT NULL,
    path          TEXT NOT NULL CONSTRAINT maintenance_attachments_path CHECK (length(path) BETWEEN 1 AND 255 AND path NOT GLOB '*[^A-Za-z0-9._/-]*'
        AND path NOT GLOB '/*' AND path NOT GLOB '*/' AND path NOT GLOB '*//*'),
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CONSTRAINT maintenance_attachments_size CHECK (size_bytes BETWEEN 1 AND 10485760),
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX maintenance_attachments_request ON maintenance_attachments (request_id, created_at);

-- The status history is immutable in the database too.
CREATE TRIGGER maintenance_status_history_append_only_update BEFORE UPDATE ON maintenance_status_history BEGIN SELECT RAISE(ABORT, 'maintenance_status_history is append-only'); END;
CREATE TRIGGER maintenance_status_history_append_only_delete BEFORE DELETE ON maintenance_status_history BEGIN SELECT RAISE(ABORT, 'maintenance_status_history is append-only'); END;
