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
    kyc_complete         INTEGER NOT NULL CHECK (kyc_complete IN (0, 1)),
    submission_status    TEXT CONSTRAINT resident_standings_submission CHECK (submission_status IN ('pending_review', 'under_review', 'approved', 'rejected', 'needs_revision')),
    updated_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL CHECK (version >= 1),
    -- A resident has passed the gate: approved and KYC complete.
    CONSTRAINT resident_standings_gate CHECK (role <> 'resident' OR (kyc_complete = 1 AND submission_status = 'approved'))
) STRICT;
