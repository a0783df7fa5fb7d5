-- hearth Postgres schema: maintenance requests (Viramah §2 Group G, §10). Every rule is core's; the
-- named constraints below are the backstop.

CREATE TABLE maintenance_categories (
    id           UUID PRIMARY KEY,
    code         TEXT NOT NULL CONSTRAINT maintenance_categories_code_format CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name         TEXT NOT NULL CONSTRAINT maintenance_categories_name_length CHECK (char_length(name) BETWEEN 2 AND 60),
    issue_types  TEXT[] NOT NULL CONSTRAINT maintenance_categories_issue_types CHECK (cardinality(issue_types) BETWEEN 1 AND 30),
    created_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_categories_code UNIQUE (code)
);

-- One row per hostel: the reference numbers issued so far (gap-free).
CREATE TABLE maintenance_counters (
    id         UUID PRIMARY KEY,
    hostel_id  UUID NOT NULL,
    issued     BIGINT NOT NULL CONSTRAINT maintenance_counters_issued CHECK (issued >= 1),
    version    BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_counters_hostel UNIQUE (hostel_id)
);

CREATE TABLE maintenance_requests (
    id             UUID PRIMARY KEY,
    hostel_id      UUID NOT NULL,
    number         BIGINT NOT NULL CONSTRAINT maintenance_requests_number CHECK (number >= 1),
    reference      TEXT NOT NULL CONSTRAINT maintenance_requests_reference_format CHECK (reference ~ '^MR-[0-9]{4,}$'),
    user_id        UUID NOT NULL,
    category       TEXT NOT NULL REFERENCES maintenance_categories (code),
    issue_type     TEXT NOT NULL,
    description    TEXT CONSTRAINT maintenance_requests_description_length CHECK (char_length(description) BETWEEN 1 AND 2000),
    priority       TEXT NOT NULL CONSTRAINT maintenance_requests_priority CHECK (priority IN ('normal', 'high')),
    status         TEXT NOT NULL CONSTRAINT maintenance_requests_status CHECK (status IN
                       ('submitted', 'unassigned', 'assigned', 'in_progress', 'on_hold', 'escalated', 'resolved', 'rejected')),
    reject_reason  TEXT,
    attachments    INTEGER NOT NULL,
    escalated_at   TIMESTAMPTZ,
    resolved_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    version        BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_requests_reference UNIQUE (hostel_id, number),
    CONSTRAINT maintenance_requests_attachments CHECK (attachments BETWEEN 0 AND 5),
    CONSTRAINT maintenance_requests_rejected_has_reason CHECK ((status = 'rejected') = (reject_reason IS NOT NULL)),
    CONSTRAINT maintenance_requests_resolved_at CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE INDEX maintenance_requests_user ON maintenance_requests (user_id, created_at);
CREATE INDEX maintenance_requests_open ON maintenance_requests (hostel_id, number)
    WHERE status NOT IN ('resolved', 'rejected');
CREATE INDEX maintenance_requests_sla ON maintenance_requests (created_at)
    WHERE escalated_at IS NULL AND status NOT IN ('resolved', 'rejected');

CREATE TABLE maintenance_assignments (
    id           UUID PRIMARY KEY,
    request_id   UUID NOT NULL REFERENCES maintenance_requests (id),
    staff_id     UUID NOT NULL,
    active       BOOLEAN NOT NULL,
    assigned_by  UUID NOT NULL,
    assigned_at  TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ,
    version      BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT maintenance_assignments_ended CHECK (active = (ended_at IS NULL))
);
-- Viramah §10: one staff member per request at a time.
CREATE UNIQUE INDEX maintenance_assignments_one_active ON maintenance_assignments (request_id) WHERE active;

-- Immutable: rows are only ever inserted.
CREATE TABLE maintenance_status_history (
    id           UUID PRIMARY KEY,
    request_id   UUID NOT NULL REFERENCES maintenance_requests (id),
    position     BIGINT NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    note         TEXT,
    changed_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT maintenance_status_history_position UNIQUE (request_id, position),
    CONSTRAINT maintenance_status_history_first CHECK ((position = 1) = (from_status IS NULL))
);

CREATE TABLE maintenance_comments (
    id           UUID PRIMARY KEY,
    request_id   UUID NOT NULL REFERENCES maintenance_requests (id),
    resident_id  UUID NOT NULL,
    author_id    UUID NOT NULL,
    from_staff   BOOLEAN NOT NULL,
    staff_only   BOOLEAN NOT NULL,
    body         TEXT NOT NULL CONSTRAINT maintenance_comments_body_length CHECK (char_length(body) BETWEEN 1 AND 2000),
    created_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT maintenance_comments_staff_only CHECK (NOT staff_only OR from_staff)
);
CREATE INDEX maintenance_comments_request ON maintenance_comments (request_id, created_at);

CREATE TABLE maintenance_attachments (
    id            UUID PRIMARY KEY,
    request_id    UUID NOT NULL REFERENCES maintenance_requests (id),
    resident_id   UUID NOT NULL,
    path          TEXT NOT NULL CONSTRAINT maintenance_attachments_path CHECK (path ~ '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$' AND char_length(path) <= 255),
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL CONSTRAINT maintenance_attachments_size CHECK (size_bytes BETWEEN 1 AND 10485760),
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX maintenance_attachments_request ON maintenance_attachments (request_id, created_at);

-- The status history is immutable in the database too.
CREATE TRIGGER maintenance_status_history_append_only BEFORE UPDATE OR DELETE ON maintenance_status_history
    FOR EACH ROW EXECUTE FUNCTION hearth_append_only();
CREATE TRIGGER maintenance_status_history_no_truncate BEFORE TRUNCATE ON maintenance_status_history
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_append_only();
