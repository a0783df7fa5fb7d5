//! Background jobs: enqueued **inside the business commit**, claimed by workers under a lease,
//! retried with exponential backoff and jitter, kept with their last error when dead.
//!
//! Thorbis' seed ("Background Job System", Option 2) keeps a `job_queue` table with a type, a JSON
//! payload, a priority, `retry_count`/`max_retries`, `scheduled_at` and `error_message`, polled by an
//! edge function. hearth keeps that table (`jobs`, in both SQL schemas and in the memory store) and
//! moves every decision into core:
//!
//! - **What a job is** ([`JobDecl`]): a domain declares each kind it enqueues next to its model —
//!   the namespaced kind (`maintenance.sla_sweep`), the payload's validation, default priority,
//!   attempts and backoff — and lists them in its `JOBS`, registered once in [`crate::domains`]. A
//!   kind that is not registered is an error wherever it is met, never a fallback.
//! - **Enqueue in the commit** ([`crate::kernel::Decide::enqueue`], [`new_job`]): the job is part of
//!   the [`ChangeSet`](crate::kernel::store::ChangeSet), so it exists if and only if the change it
//!   belongs to committed. A job with a **unique key** exists once while pending (`available` or
//!   `running`): enqueuing the key again is a no-op, never an error, so it never fails the business
//!   commit it rides in (the stores' `ON CONFLICT DO NOTHING` over the partial unique index
//!   `jobs_unique_key`; the memory store by the same rule). A job whose **id** is taken is skipped
//!   the same way: a schedule's occurrence has an id derived from its unique key
//!   ([`schedule::Schedule::occurrence`]), so an occurrence is enqueued once for good, however many
//!   schedulers race and whenever a late one arrives.
//! - **Claims, leases and rescue** ([`JobQueue`]): a claim moves up to `limit` due jobs of the given
//!   kinds from `available` to `running` for one worker until `lease_until`, in priority order
//!   (higher first), then `run_at`, then id. Every later step (heartbeat, completion, failure,
//!   release) names its [`Lease`] — worker and attempt — and is refused with
//!   [`StoreError::LeaseLost`] unless the job is still running under it: a job rescued from a killed
//!   worker and claimed again is never completed by the dead worker's late answer.
//! - **After a failure** ([`after_failure`]): attempt `n` failed → run again at `now + backoff(n)`
//!   (capped exponential, equal jitter from the [`IdSource`]) or, after `max_attempts`, `dead` with
//!   the error; a handler's fatal error is dead at once. A rescued job (its lease ran out: the
//!   worker died or hung) counts as a failed attempt, so a job that kills its workers dies too.
//!
//! What needs a runtime — worker tasks, heartbeats, the rescuer and the scheduler loop — is in the
//! `hearth-runtime` crate; it only drives these calls.
//!
//! Jobs are infrastructure, like the outbox and idempotency records: a job's row is its own history
//! (attempts, last error, timestamps); its state changes write no audit record.

pub mod schedule;
pub(crate) mod table;

use crate::actor::Actor;
use crate::error::{Error, ErrorCode};
use crate::id::{IdSource, JobId};
use crate::kernel::store::{MaybeSendSync, StoreResult};
use crate::time::Timestamp;
use crate::validate::{parse_json, ValidationErrors, Validator, Violation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use crate::kernel::store::StoreError;

/// Lowest priority a job may have.
pub const PRIORITY_MIN: i16 = -100;
/// Highest priority a job may have (claimed first).
pub const PRIORITY_MAX: i16 = 100;
/// Most attempts a job may be given.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;
/// Longest unique key, in bytes (printable ASCII).
pub const UNIQUE_KEY_MAX_BYTES: usize = 255;
/// Largest payload, in bytes of its JSON.
pub const PAYLOAD_MAX_BYTES: usize = 64 * 1024;
/// Longest error kept on a job, in characters (longer ones are cut, marked with `…`).
pub const ERROR_MAX_CHARS: usize = 2_000;
/// Longest worker id, in bytes.
pub const WORKER_ID_MAX_BYTES: usize = 255;

/// How long to wait before attempt `n + 1` after attempt `n` failed: `base · 2^(n−1)` capped at
/// `cap`, with equal jitter (half of it fixed, half random), so failing jobs spread out instead of
/// retrying in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// The first ceiling, in milliseconds.
    pub base_ms: u64,
    /// The largest ceiling, in milliseconds.
    pub cap_ms: u64,
}

impl Backoff {
    /// 1 s, 2 s, 4 s, … up to an hour.
    pub const DEFAULT: Backoff = Backoff { base_ms: 1_000, cap_ms: 3_600_000 };

    /// The delay after failed attempt `attempt` (1 = the first), in milliseconds: within
    /// `[ceiling / 2, ceiling]`, `jitter` choosing where.
    pub fn delay_ms(&self, attempt: u32, jitter: u64) -> u64 {
        let doublings = attempt.saturating_sub(1).min(40);
        let ceiling = self.base_ms.saturating_mul(1u64 << doublings).min(self.cap_ms.max(self.base_ms));
        let half = ceiling / 2;
        half + splitmix(jitter) % (ceiling - half + 1)
    }
}

/// SplitMix64's finaliser: spreads the bits of an id into a uniform jitter.
fn splitmix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A jitter value drawn from the id source (the only randomness core uses is what it is handed).
pub fn jitter(ids: &dyn IdSource) -> u64 {
    let (high, low) = ids.new_uuid().as_u64_pair();
    splitmix(high ^ low)
}

/// A job kind, declared by the domain that enqueues it (a `static` next to its model) and listed in
/// the domain's `JOBS`, registered in [`crate::domains`].
#[derive(Debug)]
pub struct JobDecl {
    /// Namespaced kind, `<domain>.<job>` (`maintenance.sla_sweep`): stored on the job, and what
    /// workers register handlers for.
    pub kind: &'static str,
    /// Checks a payload (a JSON object): every field error at once. [`payload_as`] is the usual
    /// body: deserialize into the payload type, refusing unknown fields.
    pub validate: fn(&serde_json::Value) -> Result<(), ValidationErrors>,
    /// Priority when the enqueuer gives none (higher is claimed first).
    pub priority: i16,
    /// Attempts when the enqueuer gives none.
    pub max_attempts: u32,
    /// The delays between attempts.
    pub backoff: Backoff,
}

impl JobDecl {
    /// The registered declaration of `kind`; an unregistered kind is `internal` (a job the
    /// library does not know how to validate is never run on a guess).
    pub fn lookup(kind: &str) -> Result<&'static JobDecl, Error> {
        crate::domains::job_kind(kind).ok_or_else(|| Error::internal(format!("job kind `{kind}` is not registered")))
    }
}

/// Parses a payload into `P` (a JSON object, through the same field-error path as every input:
/// `wrong_type`, `required`, `not_allowed` on the JSON path). Payload types refuse unknown fields
/// (`#[serde(deny_unknown_fields)]`), so a misspelt field is an error, not a silent default.
pub fn payload_as<P: DeserializeOwned>(payload: &serde_json::Value) -> Result<P, ValidationErrors> {
    parse_json(&payload.to_string())
}

/// A payload with no fields: `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoPayload {}

/// [`JobDecl::validate`] for kinds that take no payload (`{}`).
pub fn validate_no_payload(payload: &serde_json::Value) -> Result<(), ValidationErrors> {
    payload_as::<NoPayload>(payload).map(|_| ())
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `run_at`, then for a worker (new, or failed and waiting to retry).
    Available,
    /// Claimed by a worker whose lease runs until `lease_until`.
    Running,
    /// Done.
    Completed,
    /// Failed its last attempt (or fatally): kept with its last error.
    Dead,
    /// Cancelled before it completed.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 5] =
        [JobState::Available, JobState::Running, JobState::Completed, JobState::Dead, JobState::Cancelled];
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }
    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
    /// True while the job may still run (the states a unique key is unique in).
    pub fn is_pending(self) -> bool {
        matches!(self, JobState::Available | JobState::Running)
    }
}

/// A job to insert, as a change set carries it (built by [`new_job`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Its id.
    pub id: JobId,
    /// Its registered kind.
    pub kind: String,
    /// Its payload (a JSON object the kind validated).
    pub payload: serde_json::Value,
    /// Higher is claimed first.
    pub priority: i16,
    /// Not claimed before this instant.
    pub run_at: Timestamp,
    /// Attempts before it is dead.
    pub max_attempts: u32,
    /// At most one pending job holds this key.
    pub unique_key: Option<String>,
    /// When enqueued.
    pub created_at: Timestamp,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Its registered kind.
    pub kind: String,
    /// Its payload.
    pub payload: serde_json::Value,
    /// Higher is claimed first.
    pub priority: i16,
    /// Its state.
    pub state: JobState,
    /// Attempts begun so far (the running one included).
    pub attempt: u32,
    /// Attempts before it is dead.
    pub max_attempts: u32,
    /// Not claimed before this instant (for a retry: when it is due again).
    pub run_at: Timestamp,
    /// Its unique key, if any.
    pub unique_key: Option<String>,
    /// The worker holding it (while `running`).
    pub locked_by: Option<String>,
    /// Until when that worker's lease runs (while `running`).
    pub lease_until: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When enqueued.
    pub created_at: Timestamp,
    /// When the last attempt began.
    pub attempted_at: Option<Timestamp>,
    /// When it completed, died or was cancelled.
    pub finished_at: Option<Timestamp>,
}

impl Job {
    /// The lease the job is running under, if it is running.
    pub fn lease(&self) -> Option<Lease> {
        match (&self.state, &self.locked_by) {
            (JobState::Running, Some(worker)) => {
                Some(Lease { job: self.id, worker: worker.clone(), attempt: self.attempt })
            }
            _ => None,
        }
    }
    /// The job as [`new_job`] would have inserted it.
    pub fn inserted(new: NewJob) -> Self {
        Job {
            id: new.id,
            kind: new.kind,
            payload: new.payload,
            priority: new.priority,
            state: JobState::Available,
            attempt: 0,
            max_attempts: new.max_attempts,
            run_at: new.run_at,
            unique_key: new.unique_key,
            locked_by: None,
            lease_until: None,
            last_error: None,
            created_at: new.created_at,
            attempted_at: None,
            finished_at: None,
        }
    }
}

/// Who holds a running job: the worker and the attempt it claimed. Every step after the claim
/// names it, and the store refuses the step unless the job is still running under it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The job.
    pub job: JobId,
    /// The worker that claimed it.
    pub worker: String,
    /// The attempt it claimed (the job's `attempt` after the claim).
    pub attempt: u32,
}

/// A claim: up to `limit` due jobs of `kinds` for `worker`, leased until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claiming worker (unique per worker: a lease names it).
    pub worker: String,
    /// The kinds it runs (at least one).
    pub kinds: Vec<String>,
    /// Most jobs to claim.
    pub limit: u32,
    /// Jobs with `run_at <= now` are due.
    pub now: Timestamp,
    /// The lease's end.
    pub lease_until: Timestamp,
}

impl Claim {
    /// Checks a claim: a worker id of 1–255 bytes, at least one kind, a limit of 1–1000, and a
    /// lease that ends after `now`.
    pub fn check(&self) -> Result<(), Error> {
        if self.worker.is_empty() || self.worker.len() > WORKER_ID_MAX_BYTES {
            return Err(Error::internal("a worker id has 1–255 bytes"));
        }
        if self.kinds.is_empty() {
            return Err(Error::internal("a claim names at least one job kind"));
        }
        if !(1..=1_000).contains(&self.limit) {
            return Err(Error::internal("a claim takes 1–1000 jobs"));
        }
        if self.lease_until <= self.now {
            return Err(Error::internal("a lease ends after it begins"));
        }
        Ok(())
    }
}

/// How a running job ends its attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Settle {
    /// Done: `completed`.
    Complete,
    /// Failed; due again at `at` (`available`), keeping `error`.
    Retry {
        /// When it is due again.
        at: Timestamp,
        /// The failure.
        error: String,
    },
    /// Failed for the last time (or fatally): `dead`, keeping `error`.
    Dead {
        /// The failure.
        error: String,
    },
    /// Not run (the worker is shutting down): back to `available` at once, and the attempt does
    /// not count.
    Release,
}

/// What a handler's failure was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// May succeed later: retried while attempts remain.
    Transient(String),
    /// Will never succeed (a payload the handler cannot use): dead at once.
    Fatal(String),
}

impl Failure {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Failure::Transient(m) | Failure::Fatal(m) => m,
        }
    }
}

/// The decision after attempt `job.attempt` of `job` failed at `now`: retry at `now + backoff` while
/// attempts remain and the failure is not fatal, else dead — with the error, cut to
/// [`ERROR_MAX_CHARS`]. `backoff` is the kind's; `jitter` from [`jitter`].
pub fn after_failure(job: &Job, backoff: Backoff, failure: &Failure, now: Timestamp, jitter: u64) -> Settle {
    let error = clip_error(failure.message());
    if matches!(failure, Failure::Fatal(_)) || job.attempt >= job.max_attempts {
        return Settle::Dead { error };
    }
    let delay = backoff.delay_ms(job.attempt, jitter);
    let delay = chrono::Duration::milliseconds(i64::try_from(delay).unwrap_or(i64::MAX));
    match now.checked_add(delay) {
        Some(at) => Settle::Retry { at, error },
        None => Settle::Dead { error },
    }
}

/// The decision for a running job whose lease ran out at `now` (its worker stopped heartbeating): a
/// failed attempt, decided like any other by [`after_failure`], with its kind's backoff. A job of
/// an unregistered kind is dead (never retried on a guess).
pub fn after_lease_expired(job: &Job, now: Timestamp, jitter: u64) -> Settle {
    let worker = job.locked_by.as_deref().unwrap_or("?");
    let failure = Failure::Transient(format!("lease expired: worker `{worker}` stopped before finishing"));
    match JobDecl::lookup(&job.kind) {
        Ok(decl) => after_failure(job, decl.backoff, &failure, now, jitter),
        Err(e) => Settle::Dead { error: clip_error(&e.message) },
    }
}

/// `error`, cut to [`ERROR_MAX_CHARS`] characters.
pub fn clip_error(error: &str) -> String {
    if error.chars().count() <= ERROR_MAX_CHARS {
        return error.to_owned();
    }
    let mut cut: String = error.chars().take(ERROR_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// How a job is enqueued; every field defaults to the kind's declaration (`run_at`: now).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnqueueOptions {
    /// Not before this instant (default: now; an instant in the past means now).
    pub run_at: Option<Timestamp>,
    /// Priority, [`PRIORITY_MIN`]–[`PRIORITY_MAX`].
    pub priority: Option<i16>,
    /// Attempts, 1–[`MAX_ATTEMPTS_LIMIT`].
    pub max_attempts: Option<u32>,
    /// At most one pending job holds this key (1–255 bytes of printable ASCII).
    pub unique_key: Option<String>,
    /// The job's id (default: a new one). Enqueuing an id that exists is a no-op.
    pub id: Option<JobId>,
}

/// Builds the job `decl` enqueues with `payload` at `now`, validating everything: the kind is
/// registered (and is this declaration), the payload is what the kind accepts (field errors under
/// `payload.`), and the options are in range (`priority`, `max_attempts`, `unique_key`).
pub fn new_job(
    decl: &'static JobDecl,
    payload: serde_json::Value,
    options: EnqueueOptions,
    now: Timestamp,
    ids: &dyn IdSource,
) -> Result<NewJob, Error> {
    let registered = JobDecl::lookup(decl.kind)?;
    if !std::ptr::eq(registered, decl) {
        return Err(Error::internal(format!("job kind `{}` is declared twice", decl.kind)));
    }
    let mut v = Validator::new();
    match serde_json::to_vec(&payload) {
        Ok(bytes) if bytes.len() > PAYLOAD_MAX_BYTES => {
            v.push("payload", Violation::TooLong { max: PAYLOAD_MAX_BYTES as u32 })
        }
        Ok(_) => {
            if let Err(e) = (decl.validate)(&payload) {
                for f in e.prefixed("payload").into_errors() {
                    v.push(&f.field, f.violation);
                }
            }
        }
        Err(e) => return Err(Error::internal(format!("payload: {e}"))),
    }
    let priority = options.priority.unwrap_or(decl.priority);
    if !(PRIORITY_MIN..=PRIORITY_MAX).contains(&priority) {
        v.push("priority", Violation::OutOfRange { min: PRIORITY_MIN.into(), max: PRIORITY_MAX.into() });
    }
    let max_attempts = options.max_attempts.unwrap_or(decl.max_attempts);
    if !(1..=MAX_ATTEMPTS_LIMIT).contains(&max_attempts) {
        v.push("max_attempts", Violation::OutOfRange { min: 1, max: MAX_ATTEMPTS_LIMIT.into() });
    }
    if let Some(key) = &options.unique_key {
        if let Err(violation) = check_unique_key(key) {
            v.push("unique_key", violation);
        }
    }
    v.finish(|| Some(())).map_err(Error::from)?;
    let run_at = options.run_at.filter(|at| *at > now).unwrap_or(now);
    Ok(NewJob {
        id: options.id.unwrap_or_else(|| JobId::generate(ids)),
        kind: decl.kind.to_owned(),
        payload,
        priority,
        run_at,
        max_attempts,
        unique_key: options.unique_key,
        created_at: now,
    })
}

fn check_unique_key(key: &str) -> Result<(), Violation> {
    if key.is_empty() {
        return Err(Violation::Required);
    }
    if key.len() > UNIQUE_KEY_MAX_BYTES {
        return Err(Violation::TooLong { max: UNIQUE_KEY_MAX_BYTES as u32 });
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Violation::InvalidFormat { expected: "printable_ascii".into() });
    }
    Ok(())
}

/// Which jobs a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only in this state.
    pub state: Option<JobState>,
    /// Only of this kind.
    pub kind: Option<String>,
    /// Only with this unique key.
    pub unique_key: Option<String>,
}

impl JobFilter {
    /// Every job.
    pub fn all() -> Self {
        Self::default()
    }
    /// Jobs in `state`.
    pub fn state(state: JobState) -> Self {
        Self { state: Some(state), ..Self::default() }
    }
    /// Jobs of `kind`.
    pub fn kind(kind: &str) -> Self {
        Self { kind: Some(kind.to_owned()), ..Self::default() }
    }
    /// Whether `job` passes.
    pub fn admits(&self, job: &Job) -> bool {
        self.state.is_none_or(|s| s == job.state)
            && self.kind.as_deref().is_none_or(|k| k == job.kind)
            && self.unique_key.as_deref().is_none_or(|k| Some(k) == job.unique_key.as_deref())
    }
}

/// The queue operations every store implements beside [`Store::commit`](crate::kernel::Store)
/// (which inserts the jobs a change set carries). Times are passed in: stores never read a clock.
///
/// The conformance suite (`testing::jobs`) holds the three stores to the same answers.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait JobQueue: MaybeSendSync {
    /// Moves up to `claim.limit` due `available` jobs of `claim.kinds` to `running` under a lease for
    /// `claim.worker` (attempt + 1), highest priority first, then earliest `run_at`, then id; jobs
    /// another worker is claiming at the same moment are skipped, never waited for or taken twice.
    /// Returns them in that order.
    async fn claim_jobs(&self, claim: &Claim) -> StoreResult<Vec<Job>>;
    /// Extends a lease to `lease_until`; [`StoreError::LeaseLost`] when the job is no longer running
    /// under `lease` (rescued, cancelled, or settled).
    async fn heartbeat_job(&self, lease: &Lease, lease_until: Timestamp) -> StoreResult<()>;
    /// Ends the attempt `lease` holds with `outcome` at `now`; [`StoreError::LeaseLost`] when the
    /// job is no longer running under it.
    async fn settle_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()>;
    /// Running jobs whose lease ended at or before `now`, earliest first.
    async fn expired_jobs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Job>>;
    /// [`JobQueue::settle_job`] for a job whose lease ended at or before `now` (the rescuer's step):
    /// refused with [`StoreError::LeaseLost`] if the worker heartbeated meanwhile, or the job moved on.
    async fn rescue_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()>;
    /// Cancels a job that is `available` or `running` (a running job's worker then loses its
    /// lease); returns the job as it is after, or `None` when there is no such job.
    async fn cancel_job(&self, id: JobId, now: Timestamp) -> StoreResult<Option<Job>>;
    /// One job.
    async fn job(&self, id: JobId) -> StoreResult<Option<Job>>;
    /// Jobs passing `filter`, oldest first (`created_at`, then id), at most `limit`.
    async fn find_jobs(&self, filter: &JobFilter, limit: u32) -> StoreResult<Vec<Job>>;
    /// How many jobs pass `filter`.
    async fn count_jobs(&self, filter: &JobFilter) -> StoreResult<u64>;
    /// Deletes up to `limit` `completed` and `cancelled` jobs finished before `before` (dead jobs are
    /// kept for people to read); returns how many.
    async fn prune_jobs(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
}

/// Cancels job `id` (administrators and the system): `not_found` when there is none, and
/// `invalid_transition` when it already completed, died or was cancelled.
pub async fn cancel<Q: JobQueue + ?Sized>(queue: &Q, actor: &Actor, id: JobId, now: Timestamp) -> Result<Job, Error> {
    crate::kernel::require(
        actor,
        crate::authz::Decision::when(
            matches!(actor, Actor::System) || actor.is_admin(),
            "only administrators cancel jobs",
        ),
    )?;
    let before = queue.job(id).await?.ok_or_else(|| Error::not_found("job"))?;
    if !before.state.is_pending() {
        return Err(finished(&before));
    }
    let after = queue.cancel_job(id, now).await?.ok_or_else(|| Error::not_found("job"))?;
    match after.state {
        JobState::Cancelled => Ok(after),
        // It finished between the read and the cancel.
        _ => Err(finished(&after)),
    }
}

fn finished(job: &Job) -> Error {
    Error::new(ErrorCode::InvalidTransition, format!("the job is already {}", job.state.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn job(attempt: u32, max_attempts: u32) -> Job {
        let now = Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap();
        let mut j = Job::inserted(NewJob {
            id: JobId::from_uuid(uuid::Uuid::from_u128(1)),
            kind: "testing.echo".into(),
            payload: serde_json::json!({}),
            priority: 0,
            run_at: now,
            max_attempts,
            unique_key: None,
            created_at: now,
        });
        j.attempt = attempt;
        j.state = JobState::Running;
        j.locked_by = Some("w".into());
        j
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let b = Backoff { base_ms: 1_000, cap_ms: 8_000 };
        for (n, ceiling) in [(1, 1_000), (2, 2_000), (3, 4_000), (4, 8_000), (5, 8_000), (30, 8_000)] {
            let delays: Vec<u64> = (0..2_000).map(|j| b.delay_ms(n, j)).collect();
            assert!(delays.iter().all(|d| (ceiling / 2..=ceiling).contains(d)), "attempt {n}");
            // The jitter spreads them over the whole range.
            assert!(delays.iter().any(|d| *d < ceiling * 6 / 10) && delays.iter().any(|d| *d > ceiling * 9 / 10));
        }
        assert_eq!(Backoff { base_ms: 0, cap_ms: 0 }.delay_ms(5, 9), 0);
        assert_eq!(b.delay_ms(u32::MAX, u64::MAX), b.delay_ms(u32::MAX, u64::MAX), "deterministic for a jitter");
    }

    #[test]
    fn retry_until_the_last_attempt_then_dead() {
        let now = Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap();
        let b = Backoff { base_ms: 1_000, cap_ms: 60_000 };
        let f = Failure::Transient("boom".into());
        match after_failure(&job(1, 3), b, &f, now, 5) {
            Settle::Retry { at, error } => {
                let delay = at.unix_micros() - now.unix_micros();
                assert!((500_000..=1_000_000).contains(&delay), "{delay}");
                assert_eq!(error, "boom");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(after_failure(&job(3, 3), b, &f, now, 5), Settle::Dead { error: "boom".into() });
        assert_eq!(
            after_failure(&job(1, 3), b, &Failure::Fatal("no".into()), now, 5),
            Settle::Dead { error: "no".into() }
        );
        let long = "é".repeat(ERROR_MAX_CHARS + 10);
        let Settle::Dead { error } = after_failure(&job(3, 3), b, &Failure::Transient(long), now, 5) else { panic!() };
        assert_eq!(error.chars().count(), ERROR_MAX_CHARS);
        assert!(error.ends_with('…'));
    }

    #[test]
    fn an_unregistered_kind_is_dead_when_rescued() {
        let now = Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap();
        let mut j = job(1, 3);
        j.kind = "nowhere.nothing".into();
        let Settle::Dead { error } = after_lease_expired(&j, now, 1) else { panic!() };
        assert!(error.contains("not registered"), "{error}");
    }

    proptest! {
        #[test]
        fn delays_stay_within_half_and_full_ceiling(attempt in 1u32..200, jitter: u64, base in 1u64..100_000, cap in 1u64..10_000_000) {
            let b = Backoff { base_ms: base, cap_ms: cap };
            let d = b.delay_ms(attempt, jitter);
            let ceiling = base.saturating_mul(1u64 << (attempt - 1).min(40)).min(cap.max(base));
            prop_assert!(d >= ceiling / 2 && d <= ceiling);
        }
    }
}
