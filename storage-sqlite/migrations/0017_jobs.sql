-- hearth SQLite schema: the kernel's background jobs (hearth_core::kernel::jobs; Thorbis "Background
-- Job System"'s job_queue). Every rule is core's (kinds, payloads, retries); the named constraints
-- below are the backstop. Times are integer microseconds.

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CONSTRAINT jobs_kind_format CHECK (length(kind) BETWEEN 3 AND 100 AND kind GLOB '[a-z]*.*'),
    payload       TEXT NOT NULL CONSTRAINT jobs_payload_object CHECK (json_valid(payload) AND json_type(payload) = 'object'),
    priority      INTEGER NOT NULL CONSTRAINT jobs_priority_range CHECK (priority BETWEEN -100 AND 100),
    state         TEXT NOT NULL CONSTRAINT jobs_state CHECK (state IN ('available', 'running', 'completed', 'dead', 'cancelled')),
    attempt       INTEGER NOT NULL CONSTRAINT jobs_attempt CHECK (attempt >= 0 AND attempt <= max_attempts),
    max_attempts  INTEGER NOT NULL CONSTRAINT jobs_max_attempts CHECK (max_attempts BETWEEN 1 AND 100),
    run_at        INTEGER NOT NULL,
    unique_key    TEXT CONSTRAINT jobs_unique_key_length CHECK (unique_key IS NULL OR length(unique_key) BETWEEN 1 AND 255),
    locked_by     TEXT,
    lease_until   INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    attempted_at  INTEGER,
    finished_at   INTEGER,
    -- A running job has a holder and a lease; no other state has either.
    CONSTRAINT jobs_lease CHECK ((state = 'running') = (locked_by IS NOT NULL AND lease_until IS NOT NULL)
                                 AND (state = 'running' OR (locked_by IS NULL AND lease_until IS NULL))),
    CONSTRAINT jobs_finished CHECK ((state IN ('completed', 'dead', 'cancelled')) = (finished_at IS NOT NULL))
) STRICT;

-- At most one pending job per unique key (a second enqueue is skipped: ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE state IN ('available', 'running') AND unique_key IS NOT NULL;
-- What a claim reads: due jobs, highest priority first, then run_at, then id.
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, id) WHERE state = 'available';
-- What the rescuer reads: running jobs by lease end.
CREATE INDEX jobs_lease_until ON jobs (lease_until) WHERE state = 'running';
-- What pruning reads: finished jobs by end.
CREATE INDEX jobs_finished_at ON jobs (finished_at) WHERE state IN ('completed', 'cancelled');
-- No index by kind: with one, a planner without statistics (SQLite) reads a claim's `kind IN (…)`
-- through it and sorts every pending job of the kind; listings by kind are rare and may scan.
