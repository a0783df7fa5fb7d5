-- hearth Postgres schema, version 1: HomeHeroes (seed 000) plus the audit log, outbox and idempotency.
-- Rules live in hearth-core; the named constraints here are the last line of defence.

CREATE TABLE profiles (
    id          UUID PRIMARY KEY,
    role        TEXT NOT NULL CONSTRAINT profiles_role CHECK (role IN ('civilian', 'hero')),
    full_name   TEXT CONSTRAINT profiles_full_name_length CHECK (full_name IS NULL OR char_length(full_name) BETWEEN 1 AND 100),
    phone       TEXT CONSTRAINT profiles_phone_e164 CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{1,14}$'),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL CONSTRAINT profiles_version CHECK (version >= 1)
);

CREATE TABLE civilian_profiles (
    id            UUID PRIMARY KEY,
    profile_id    UUID NOT NULL UNIQUE REFERENCES profiles (id),
    address       TEXT CONSTRAINT civilian_profiles_address_length CHECK (address IS NULL OR char_length(address) BETWEEN 1 AND 300),
    notify_push   BOOLEAN NOT NULL,
    notify_email  BOOLEAN NOT NULL,
    notify_sms    BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    version       BIGINT NOT NULL CHECK (version >= 1)
);

CREATE TABLE hero_profiles (
    id                 UUID PRIMARY KEY,
    profile_id         UUID NOT NULL UNIQUE REFERENCES profiles (id),
    skills             TEXT[] NOT NULL,
    hourly_rate        NUMERIC(12, 3),
    rate_currency      CHAR(3),
    availability       JSONB NOT NULL CONSTRAINT hero_profiles_availability_object CHECK (jsonb_typeof(availability) = 'object'),
    rating_count       INTEGER NOT NULL CONSTRAINT hero_profiles_rating_count CHECK (rating_count >= 0),
    rating_total       INTEGER NOT NULL,
    completed_jobs     INTEGER NOT NULL CONSTRAINT hero_profiles_completed_jobs CHECK (completed_jobs >= 0),
    profile_image_url  TEXT CONSTRAINT hero_profiles_image_https CHECK (profile_image_url IS NULL OR profile_image_url LIKE 'https://_%'),
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    version            BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT hero_profiles_rating_range CHECK (rating_total BETWEEN rating_count AND 5 * rating_count),
    CONSTRAINT hero_profiles_rate_range CHECK (hourly_rate IS NULL OR hourly_rate BETWEEN 10 AND 500),
    CONSTRAINT hero_profiles_rate_currency CHECK ((hourly_rate IS NULL) = (rate_currency IS NULL)),
    CONSTRAINT hero_profiles_ready_has_skills CHECK (hourly_rate IS NULL OR cardinality(skills) >= 1)
);

CREATE TABLE service_requests (
    id                        UUID PRIMARY KEY,
    civilian_id               UUID NOT NULL REFERENCES profiles (id),
    hero_id                   UUID REFERENCES profiles (id),
    title                     TEXT NOT NULL CONSTRAINT service_requests_title_length CHECK (char_length(title) BETWEEN 5 AND 100),
    description               TEXT NOT NULL CONSTRAINT service_requests_description_length CHECK (char_length(description) BETWEEN 10 AND 1000),
    category                  TEXT NOT NULL CONSTRAINT service_requests_category CHECK (category IN ('cleaning', 'repairs', 'delivery', 'tutoring', 'other')),
    address                   TEXT NOT NULL,
    city                      TEXT NOT NULL,
    state                     TEXT NOT NULL,
    zip_code                  TEXT NOT NULL,
    latitude                  DOUBLE PRECISION NOT NULL CONSTRAINT service_requests_latitude CHECK (latitude BETWEEN -90 AND 90),
    longitude                 DOUBLE PRECISION NOT NULL CONSTRAINT service_requests_longitude CHECK (longitude BETWEEN -180 AND 180),
    scheduled_at              TIMESTAMPTZ NOT NULL,
    estimated_duration_hours  SMALLINT NOT NULL CONSTRAINT service_requests_duration CHECK (estimated_duration_hours BETWEEN 1 AND 24),
    currency                  CHAR(3) NOT NULL,
    budget_min                NUMERIC(14, 3) NOT NULL CONSTRAINT service_requests_budget_positive CHECK (budget_min > 0),
    budget_max                NUMERIC(14, 3) NOT NULL,
    status                    TEXT NOT NULL CONSTRAINT service_requests_status CHECK (status IN ('pending', 'assigned', 'active', 'completed', 'cancelled')),
    cancel_reason             TEXT,
    rating                    SMALLINT CONSTRAINT service_requests_rating CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL,
    assigned_at               TIMESTAMPTZ,
    completed_at              TIMESTAMPTZ,
    cancelled_at              TIMESTAMPTZ,
    version                   BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT service_requests_budget_order CHECK (budget_max >= budget_min),
    CONSTRAINT service_requests_hero_matches_status CHECK (
        (status = 'pending' AND hero_id IS NULL)
        OR (status IN ('assigned', 'active', 'completed') AND hero_id IS NOT NULL)
        OR status = 'cancelled'),
    CONSTRAINT service_requests_assigned_at CHECK ((hero_id IS NULL) = (assigned_at IS NULL)),
    CONSTRAINT service_requests_completed_at CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CONSTRAINT service_requests_cancelled_at CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CONSTRAINT service_requests_rated_when_completed CHECK (rating IS NULL OR status = 'completed')
);

-- Seed 000 §12: civilian_id, hero_id and status are query filters; created_at is the sort order.
CREATE INDEX service_requests_civilian ON service_requests (civilian_id, created_at DESC, id DESC);
CREATE INDEX service_requests_hero ON service_requests (hero_id, created_at DESC, id DESC);
CREATE INDEX service_requests_status ON service_requests (status, created_at DESC, id DESC);
CREATE INDEX service_requests_completed ON service_requests (hero_id, completed_at) WHERE status = 'completed';

CREATE TABLE job_interest (
    id            UUID PRIMARY KEY,
    job_id        UUID NOT NULL REFERENCES service_requests (id),
    hero_user_id  UUID NOT NULL REFERENCES profiles (id),
    source        TEXT NOT NULL CONSTRAINT job_interest_source CHECK (source IN ('app', 'sms')),
    status        TEXT NOT NULL CONSTRAINT job_interest_status CHECK (status IN ('interested', 'withdrawn', 'selected', 'rejected')),
    phone         TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    version       BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT job_interest_one_per_hero UNIQUE (job_id, hero_user_id),
    CONSTRAINT job_interest_sms_phone CHECK (source = 'app' OR phone IS NOT NULL)
);
CREATE UNIQUE INDEX job_interest_one_selected ON job_interest (job_id) WHERE status = 'selected';

CREATE TABLE audit_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    entity_kind  TEXT NOT NULL,
    entity_id    UUID NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    before       JSONB,
    after        JSONB NOT NULL,
    version      BIGINT NOT NULL,
    at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_kind, entity_id, seq);

CREATE FUNCTION hearth_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION hearth_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

CREATE TABLE outbox (
    position     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    topic        TEXT NOT NULL,
    entity_kind  TEXT NOT NULL,
    entity_id    UUID NOT NULL,
    payload      JSONB NOT NULL,
    audience     UUID[] NOT NULL,
    at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    command      TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    response     JSONB NOT NULL,
    at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
