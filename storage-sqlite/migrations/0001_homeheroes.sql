-- hearth SQLite schema, version 1: HomeHeroes (seed 000) plus the audit log, outbox and idempotency.
-- Rules live in hearth-core; the named constraints here are the last line of defence.
-- Timestamps are integer microseconds since the Unix epoch (UTC); ids are UUID text.

CREATE TABLE profiles (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CONSTRAINT profiles_role CHECK (role IN ('civilian', 'hero')),
    full_name   TEXT CONSTRAINT profiles_full_name_length CHECK (full_name IS NULL OR length(full_name) BETWEEN 1 AND 100),
    phone       TEXT CONSTRAINT profiles_phone_e164 CHECK (phone IS NULL OR (phone GLOB '+[1-9]*' AND length(phone) BETWEEN 3 AND 16)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL CONSTRAINT profiles_version CHECK (version >= 1)
) STRICT;

CREATE TABLE civilian_profiles (
    id            TEXT PRIMARY KEY,
    profile_id    TEXT NOT NULL UNIQUE REFERENCES profiles (id),
    address       TEXT CONSTRAINT civilian_profiles_address_length CHECK (address IS NULL OR length(address) BETWEEN 1 AND 300),
    notify_push   INTEGER NOT NULL CHECK (notify_push IN (0, 1)),
    notify_email  INTEGER NOT NULL CHECK (notify_email IN (0, 1)),
    notify_sms    INTEGER NOT NULL CHECK (notify_sms IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1)
) STRICT;

CREATE TABLE hero_profiles (
    id                 TEXT PRIMARY KEY,
    profile_id         TEXT NOT NULL UNIQUE REFERENCES profiles (id),
    skills             TEXT NOT NULL CONSTRAINT hero_profiles_skills_array CHECK (json_valid(skills) AND json_type(skills) = 'array'),
    hourly_rate        TEXT,
    rate_currency      TEXT,
    availability       TEXT NOT NULL CONSTRAINT hero_profiles_availability_object CHECK (json_valid(availability) AND json_type(availability) = 'object'),
    rating_count       INTEGER NOT NULL CONSTRAINT hero_profiles_rating_count CHECK (rating_count >= 0),
    rating_total       INTEGER NOT NULL CONSTRAINT hero_profiles_rating_range CHECK (rating_total BETWEEN rating_count AND 5 * rating_count),
    completed_jobs     INTEGER NOT NULL CONSTRAINT hero_profiles_completed_jobs CHECK (completed_jobs >= 0),
    profile_image_url  TEXT CONSTRAINT hero_profiles_image_https CHECK (profile_image_url IS NULL OR profile_image_url GLOB 'https://?*'),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    version            INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT hero_profiles_rate_range CHECK (hourly_rate IS NULL OR CAST(hourly_rate AS REAL) BETWEEN 10 AND 500),
    CONSTRAINT hero_profiles_rate_currency CHECK ((hourly_rate IS NULL) = (rate_currency IS NULL)),
    CONSTRAINT hero_profiles_ready_has_skills CHECK (hourly_rate IS NULL OR json_array_length(skills) >= 1)
) STRICT;

CREATE TABLE service_requests (
    id                        TEXT PRIMARY KEY,
    civilian_id               TEXT NOT NULL REFERENCES profiles (id),
    hero_id                   TEXT REFERENCES profiles (id),
    title                     TEXT NOT NULL CONSTRAINT service_requests_title_length CHECK (length(title) BETWEEN 5 AND 100),
    description               TEXT NOT NULL CONSTRAINT service_requests_description_length CHECK (length(description) BETWEEN 10 AND 1000),
    category                  TEXT NOT NULL CONSTRAINT service_requests_category CHECK (category IN ('cleaning', 'repairs', 'delivery', 'tutoring', 'other')),
    address                   TEXT NOT NULL,
    city                      TEXT NOT NULL,
    state                     TEXT NOT NULL,
    zip_code                  TEXT NOT NULL,
    latitude                  REAL NOT NULL CONSTRAINT service_requests_latitude CHECK (latitude BETWEEN -90 AND 90),
    longitude                 REAL NOT NULL CONSTRAINT service_requests_longitude CHECK (longitude BETWEEN -180 AND 180),
    scheduled_at              INTEGER NOT NULL,
    estimated_duration_hours  INTEGER NOT NULL CONSTRAINT service_requests_duration CHECK (estimated_duration_hours BETWEEN 1 AND 24),
    currency                  TEXT NOT NULL,
    budget_min_minor          INTEGER NOT NULL CONSTRAINT service_requests_budget_positive CHECK (budget_min_minor > 0),
    budget_max_minor          INTEGER NOT NULL,
    status                    TEXT NOT NULL CONSTRAINT service_requests_status CHECK (status IN ('pending', 'assigned', 'active', 'completed', 'cancelled')),
    cancel_reason             TEXT,
    rating                    INTEGER CONSTRAINT service_requests_rating CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    assigned_at               INTEGER,
    completed_at              INTEGER,
    cancelled_at              INTEGER,
    version                   INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT service_requests_budget_order CHECK (budget_max_minor >= budget_min_minor),
    CONSTRAINT service_requests_hero_matches_status CHECK (
        (status = 'pending' AND hero_id IS NULL)
        OR (status IN ('assigned', 'active', 'completed') AND hero_id IS NOT NULL)
        OR status = 'cancelled'),
    CONSTRAINT service_requests_assigned_at CHECK ((hero_id IS NULL) = (assigned_at IS NULL)),
    CONSTRAINT service_requests_completed_at CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CONSTRAINT service_requests_cancelled_at CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CONSTRAINT service_requests_rated_when_completed CHECK (rating IS NULL OR status = 'completed')
) STRICT;

CREATE INDEX service_requests_civilian ON service_requests (civilian_id, created_at DESC, id DESC);
CREATE INDEX service_requests_hero ON service_requests (hero_id, created_at DESC, id DESC);
CREATE INDEX service_requests_status ON service_requests (status, created_at DESC, id DESC);
CREATE INDEX service_requests_completed ON service_requests (hero_id, completed_at) WHERE status = 'completed';

CREATE TABLE job_interest (
    id            TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL REFERENCES service_requests (id),
    hero_user_id  TEXT NOT NULL REFERENCES profiles (id),
    source        TEXT NOT NULL CONSTRAINT job_interest_source CHECK (source IN ('app', 'sms')),
    status        TEXT NOT NULL CONSTRAINT job_interest_status CHECK (status IN ('interested', 'withdrawn', 'selected', 'rejected')),
    phone         TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT job_interest_one_per_hero UNIQUE (job_id, hero_user_id),
    CONSTRAINT job_interest_sms_phone CHECK (source = 'app' OR phone IS NOT NULL)
) STRICT;
CREATE UNIQUE INDEX job_interest_one_selected ON job_interest (job_id) WHERE status = 'selected';

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    entity_kind  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    before       TEXT,
    after        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    at           INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_log_entity ON audit_log (entity_kind, entity_id, seq);
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE outbox (
    position     INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    topic        TEXT NOT NULL,
    entity_kind  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    payload      TEXT NOT NULL,
    audience     TEXT NOT NULL,
    at           INTEGER NOT NULL
) STRICT;

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    command      TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    response     TEXT NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
