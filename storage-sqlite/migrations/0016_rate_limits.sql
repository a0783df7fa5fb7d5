-- hearth SQLite schema: rate-limit buckets (`hearth_core::limits`, GCRA). One row per policy and
-- subject: the bucket's theoretical arrival time in µs since the Unix epoch. The id is derived from
-- the policy and the subject (an email, an IP, a user), which are not stored. A take is ONE
-- statement, `INSERT … ON CONFLICT (id) DO UPDATE SET tat_us = max(tat_us, now) + cost … WHERE …
-- <= window`, in the commit of the change it guards. A bucket whose `tat_us` has passed is the
-- same as no bucket, so rows may be deleted once `tat_us < now` at any time.
CREATE TABLE rate_limit_buckets (
    id       TEXT PRIMARY KEY,
    policy   TEXT NOT NULL CONSTRAINT rate_limit_buckets_policy CHECK (length(policy) BETWEEN 3 AND 64 AND policy GLOB '[a-z]*.[a-z]*' AND policy NOT GLOB '*[^a-z0-9_.]*'),
    tat_us   INTEGER NOT NULL,
    version  INTEGER NOT NULL CHECK (version >= 1)
) STRICT;
CREATE INDEX rate_limit_buckets_tat ON rate_limit_buckets (tat_us);
