-- hearth SQLite schema: Viramah notifications and residents (seed 002 §2 Groups A–C and E, §3–§6).
-- Every rule is core's; the named constraints are the backstop.

-- Group E: a notification is for one user or one role's shared inbox (one record, one read_at).
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    recipient_user  TEXT,
    recipient_role  TEXT,
    kind            TEXT NOT NULL CONSTRAINT notifications_kind CHECK (length(kind) BETWEEN 1 AND 64 AND kind NOT GLOB '*[^a-z0-9_.]*' AND kind GLOB '[a-z]*'),
    title           TEXT NOT NULL CONSTRAINT notifications_title_length CHECK (length(title) BETWEEN 1 AND 120),
    body            TEXT NOT NULL CONSTRAINT notifications_body_length CHECK (length(body) <= 2000),
    subject_kind    TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    read_at         INTEGER,
    version         INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT notifications_one_recipient CHECK ((recipient_user IS NULL) <> (recipient_role IS NULL)),
    CONSTRAINT notifications_read_after_created CHECK (read_at IS NULL OR read_at >= created_at)
) STRICT;
CREATE INDEX notifications_user ON notifications (recipient_user, created_at DESC) WHERE recipient_user IS NOT NULL;
CREATE INDEX notifications_role ON notifications (recipient_role, created_at DESC) WHERE recipient_role IS NOT NULL;
CREATE INDEX notifications_subject ON notifications (subject_kind, subject_id);

-- §3: the resident role, onboarding_complete, kyc_complete and the latest submission's status, in
-- one row per user so the KYC gate reads one record.
CREATE TABLE resident_standings (
    user_id              TEXT PRIMARY KEY,
    role                 TEXT NOT NULL CONSTRAINT resident_standings_role CHECK (role IN ('pending_resident', 'resident')),
    onboarding_complete  INTEGER NOT NULL CHECK (onboarding_complete IN (0, 1)),
    last_completed_step  INTEGER NOT NULL CONSTRAINT resident_standings_step CHECK (last_completed_step BETWEEN 0 AND 4),
    kyc_complete         INTEGER NOT NULL CHECK (kyc_complete IN (0, 1)),
    submission_status    TEXT CONSTRAINT resident_standings_submission CHECK (submission_status IN ('pending_review', 'under_review', 'approved', 'rejected', 'needs_revision')),
    updated_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL CHECK (version >= 1),
    -- A resident has passed the gate: approved and KYC complete.
    CONSTRAINT resident_standings_gate CHECK (role <> 'resident' OR (kyc_complete = 1 AND submission_status = 'approved'))
) STRICT;

-- §4: inquiries (sales agents and admins read them), the dedup index whose key is derived from
-- the normalised value (one row per email and per phone), attempts per IP, device fingerprints.
CREATE TABLE inquiries (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL CONSTRAINT inquiries_name_length CHECK (length(name) BETWEEN 2 AND 100),
    email       TEXT NOT NULL CONSTRAINT inquiries_email_normalised CHECK (email = lower(trim(email)) AND instr(email, '@') > 1),
    phone       TEXT NOT NULL CONSTRAINT inquiries_phone_e164 CHECK (phone GLOB '+[1-9]*' AND substr(phone, 2) NOT GLOB '*[^0-9]*' AND length(phone) BETWEEN 8 AND 16),
    message     TEXT NOT NULL CONSTRAINT inquiries_message_length CHECK (length(message) <= 1000),
    ip          TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX inquiries_email_key ON inquiries (email);
CREATE UNIQUE INDEX inquiries_phone_key ON inquiries (phone);
CREATE INDEX inquiries_created ON inquiries (created_at DESC);

CREATE TABLE inquiry_dedup_index (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CONSTRAINT inquiry_dedup_index_kind CHECK (kind IN ('email', 'phone')),
    value       TEXT NOT NULL,
    inquiry_id  TEXT NOT NULL REFERENCES inquiries (id),
    created_at  INTEGER NOT NULL,
    CONSTRAINT inquiry_dedup_index_value_key UNIQUE (kind, value)
) STRICT;

CREATE TABLE inquiry_attempts (
    id         TEXT PRIMARY KEY,
    ip         TEXT NOT NULL,
    duplicate  INTEGER NOT NULL CHECK (duplicate IN (0, 1)),
    at         INTEGER NOT NULL
) STRICT;
CREATE INDEX inquiry_attempts_ip ON inquiry_attempts (ip, at);

CREATE TABLE device_fingerprints (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL CONSTRAINT device_fingerprints_hash CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
    first_seen  INTEGER NOT NULL,
    CONSTRAINT device_fingerprints_hash_key UNIQUE (hash)
) STRICT;

-- §5: one draft per user and step (JSON, validated by core on save), the permanent record the
-- final submission copies them into, and the submission the approval machine moves.
CREATE TABLE onboarding_drafts (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    step        INTEGER NOT NULL CONSTRAINT onboarding_drafts_step CHECK (step BETWEEN 1 AND 4),
    data        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT onboarding_drafts_step_key UNIQUE (user_id, step)
) STRICT;

CREATE TABLE resident_profiles (
    user_id                 TEXT PRIMARY KEY,
    full_name               TEXT NOT NULL,
    id_document_path        TEXT NOT NULL CONSTRAINT resident_profiles_document_is_path CHECK (instr(id_document_path, '://') = 0),
    guardian_name           TEXT NOT NULL,
    guardian_phone          TEXT NOT NULL CONSTRAINT resident_profiles_guardian_phone_e164 CHECK (guardian_phone GLOB '+[1-9]*' AND substr(guardian_phone, 2) NOT GLOB '*[^0-9]*'),
    guardian_relation       TEXT NOT NULL CONSTRAINT resident_profiles_relation CHECK (guardian_relation IN ('parent', 'guardian', 'sibling', 'other')),
    guardian_document_path  TEXT NOT NULL CONSTRAINT resident_profiles_guardian_document_is_path CHECK (instr(guardian_document_path, '://') = 0),
    reservation_id          TEXT NOT NULL REFERENCES bed_reservations (id),
    lunchbox                INTEGER NOT NULL CHECK (lunchbox IN (0, 1)),
    charge                  INTEGER NOT NULL,
    currency                TEXT NOT NULL,
    diet                    TEXT NOT NULL CONSTRAINT resident_profiles_diet CHECK (diet IN ('veg', 'non_veg', 'vegan')),
    notes                   TEXT NOT NULL,
    updated_at              INTEGER NOT NULL,
    version                 INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT resident_profiles_lunchbox_charge CHECK ((lunchbox = 1) = (charge > 0) AND charge >= 0)
) STRICT;

CREATE TABLE onboarding_submissions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    status          TEXT NOT NULL CONSTRAINT onboarding_submissions_status CHECK (status IN ('pending_review', 'under_review', 'approved', 'rejected', 'needs_revision')),
    reviewer        TEXT,
    reason          TEXT,
    flagged_fields  TEXT NOT NULL,
    attempt         INTEGER NOT NULL CHECK (attempt >= 1),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    CONSTRAINT onboarding_submissions_user_key UNIQUE (user_id),
    CONSTRAINT onboarding_submissions_reviewed CHECK (status IN ('pending_review') OR reviewer IS NOT NULL),
    CONSTRAINT onboarding_submissions_rejected_reason CHECK (status <> 'rejected' OR reason IS NOT NULL)
) STRICT;
CREATE INDEX onboarding_submissions_queue ON onboarding_submissions (status, updated_at);
