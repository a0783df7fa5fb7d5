-- hearth Postgres schema: Viramah notifications and residents (seed 002 §2 Groups A–C and E, §3–§6).
-- Every rule is core's; the named constraints are the backstop.

-- Group E: a notification is for one user or one role's shared inbox (one record, one read_at).
CREATE TABLE notifications (
    id              UUID PRIMARY KEY,
    recipient_user  UUID,
    recipient_role  TEXT,
    kind            TEXT NOT NULL CONSTRAINT notifications_kind CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
    title           TEXT NOT NULL CONSTRAINT notifications_title_length CHECK (char_length(title) BETWEEN 1 AND 120),
    body            TEXT NOT NULL CONSTRAINT notifications_body_length CHECK (char_length(body) <= 2000),
    subject_kind    TEXT NOT NULL,
    subject_id      UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    read_at         TIMESTAMPTZ,
    version         BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT notifications_one_recipient CHECK ((recipient_user IS NULL) <> (recipient_role IS NULL)),
    CONSTRAINT notifications_read_after_created CHECK (read_at IS NULL OR read_at >= created_at)
);
CREATE INDEX notifications_user ON notifications (recipient_user, created_at DESC) WHERE recipient_user IS NOT NULL;
CREATE INDEX notifications_role ON notifications (recipient_role, created_at DESC) WHERE recipient_role IS NOT NULL;
CREATE INDEX notifications_subject ON notifications (subject_kind, subject_id);

-- §3: the resident role, onboarding_complete, kyc_complete and the latest submission's status, in
-- one row per user so the KYC gate reads one record.
CREATE TABLE resident_standings (
    user_id              UUID PRIMARY KEY,
    role                 TEXT NOT NULL CONSTRAINT resident_standings_role CHECK (role IN ('pending_resident', 'resident')),
    onboarding_complete  BOOLEAN NOT NULL,
    last_completed_step  INTEGER NOT NULL CONSTRAINT resident_standings_step CHECK (last_completed_step BETWEEN 0 AND 4),
    kyc_complete         BOOLEAN NOT NULL,
    submission_status    TEXT CONSTRAINT resident_standings_submission CHECK (submission_status IN ('pending_review', 'under_review', 'approved', 'rejected', 'needs_revision')),
    updated_at           TIMESTAMPTZ NOT NULL,
    version              BIGINT NOT NULL CHECK (version >= 1),
    -- A resident has passed the gate: approved and KYC complete.
    CONSTRAINT resident_standings_gate CHECK (role <> 'resident' OR (kyc_complete AND submission_status = 'approved'))
);

-- §4: inquiries (sales agents and admins read them), the dedup index whose key is derived from
-- the normalised value (one row per email and per phone), attempts per IP, device fingerprints.
CREATE TABLE inquiries (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL CONSTRAINT inquiries_name_length CHECK (char_length(name) BETWEEN 2 AND 100),
    email       TEXT NOT NULL CONSTRAINT inquiries_email_normalised CHECK (email = lower(btrim(email)) AND position('@' IN email) > 1),
    phone       TEXT NOT NULL CONSTRAINT inquiries_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    message     TEXT NOT NULL CONSTRAINT inquiries_message_length CHECK (char_length(message) <= 1000),
    ip          TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX inquiries_email_key ON inquiries (email);
CREATE UNIQUE INDEX inquiries_phone_key ON inquiries (phone);
CREATE INDEX inquiries_created ON inquiries (created_at DESC);

CREATE TABLE inquiry_dedup_index (
    id          UUID PRIMARY KEY,
    kind        TEXT NOT NULL CONSTRAINT inquiry_dedup_index_kind CHECK (kind IN ('email', 'phone')),
    value       TEXT NOT NULL,
    inquiry_id  UUID NOT NULL REFERENCES inquiries (id),
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT inquiry_dedup_index_value_key UNIQUE (kind, value)
);

CREATE TABLE inquiry_attempts (
    id         UUID PRIMARY KEY,
    ip         TEXT NOT NULL,
    duplicate  BOOLEAN NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX inquiry_attempts_ip ON inquiry_attempts (ip, at);

CREATE TABLE device_fingerprints (
    id          UUID PRIMARY KEY,
    hash        TEXT NOT NULL CONSTRAINT device_fingerprints_hash CHECK (hash ~ '^[0-9a-f]{64}$'),
    first_seen  TIMESTAMPTZ NOT NULL,
    CONSTRAINT device_fingerprints_hash_key UNIQUE (hash)
);

-- §5: one draft per user and step (JSON, validated by core on save), the permanent record the
-- final submission copies them into, and the submission the approval machine moves.
CREATE TABLE onboarding_drafts (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL,
    step        INTEGER NOT NULL CONSTRAINT onboarding_drafts_step CHECK (step BETWEEN 1 AND 4),
    data        JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT onboarding_drafts_step_key UNIQUE (user_id, step)
);

CREATE TABLE resident_profiles (
    user_id                 UUID PRIMARY KEY,
    full_name               TEXT NOT NULL,
    id_document_path        TEXT NOT NULL CONSTRAINT resident_profiles_document_is_path CHECK (id_document_path !~ '://'),
    guardian_name           TEXT NOT NULL,
    guardian_phone          TEXT NOT NULL CONSTRAINT resident_profiles_guardian_phone_e164 CHECK (guardian_phone ~ '^\+[1-9][0-9]{6,14}$'),
    guardian_relation       TEXT NOT NULL CONSTRAINT resident_profiles_relation CHECK (guardian_relation IN ('parent', 'guardian', 'sibling', 'other')),
    guardian_document_path  TEXT NOT NULL CONSTRAINT resident_profiles_guardian_document_is_path CHECK (guardian_document_path !~ '://'),
    reservation_id          UUID NOT NULL REFERENCES bed_reservations (id),
    lunchbox                BOOLEAN NOT NULL,
    charge                  NUMERIC(14, 3) NOT NULL,
    currency                CHAR(3) NOT NULL,
    diet                    TEXT NOT NULL CONSTRAINT resident_profiles_diet CHECK (diet IN ('veg', 'non_veg', 'vegan')),
    notes                   TEXT NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    version                 BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT resident_profiles_lunchbox_charge CHECK (lunchbox = (charge > 0) AND charge >= 0)
);

CREATE TABLE onboarding_submissions (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL,
    status          TEXT NOT NULL CONSTRAINT onboarding_submissions_status CHECK (status IN ('pending_review', 'under_review', 'approved', 'rejected', 'needs_revision')),
    reviewer        UUID,
    reason          TEXT,
    flagged_fields  TEXT[] NOT NULL,
    attempt         INTEGER NOT NULL CHECK (attempt >= 1),
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    version         BIGINT NOT NULL CHECK (version >= 1),
    CONSTRAINT onboarding_submissions_user_key UNIQUE (user_id),
    CONSTRAINT onboarding_submissions_reviewed CHECK (status IN ('pending_review') OR reviewer IS NOT NULL),
    CONSTRAINT onboarding_submissions_rejected_reason CHECK (status <> 'rejected' OR reason IS NOT NULL)
);
CREATE INDEX onboarding_submissions_queue ON onboarding_submissions (status, updated_at);
