//! Job queue conformance: the same answers from every store (memory, SQLite file, Postgres).
//!
//! The seeds ran background work as a polled `job_queue` table (Thorbis, "Background Job System",
//! Option 2: `status`, `priority`, `retry_count`/`max_retries`, `scheduled_at`, `error_message`, and
//! an edge function that marks a job `processing` with a plain UPDATE — two pollers can take the
//! same job) and `pg_cron` schedules (Thorbis Option 1; Viramah §10's SLA sweep every 30 minutes).
//! These cases hold hearth's queue to what that design could not promise: a claim is taken once,
//! a dead worker's job comes back and completes once, retries stop at `max_attempts` with the last
//! error, a unique job exists once, a job exists iff its business commit did, and racing schedulers
//! enqueue each occurrence once.

use crate::actor::Actor;
use crate::error::{Error, ErrorCode};
use crate::id::{JobId, UserId};
use crate::kernel::command::Runner;
use crate::kernel::entity::{Entity, EntityRef};
use crate::kernel::jobs::schedule::{validate_occurrence, Schedule};
use crate::kernel::jobs::{
    after_failure, after_lease_expired, cancel, payload_as, Backoff, Claim, EnqueueOptions, Failure, Job, JobDecl,
    JobFilter, JobState, Lease, Settle, StoreError,
};
use crate::kernel::store::{ChangeSet, ReadExt, Reader, Store};
use crate::kernel::{Command, Decide};
use crate::notifications::{notify, NewNotification, Notification, Recipient};
use crate::system::RandomIds;
use crate::time::{Clock, ManualClock, Timestamp};
use crate::validate::ValidationErrors;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The payload of the suite's `testing.echo` jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Echo {
    /// Any number.
    pub n: u32,
}

fn validate_echo(payload: &serde_json::Value) -> Result<(), ValidationErrors> {
    payload_as::<Echo>(payload).map(|_| ())
}

/// A job that does nothing but be counted.
pub static ECHO: JobDecl = JobDecl {
    kind: "testing.echo",
    validate: validate_echo,
    priority: 0,
    max_attempts: 3,
    backoff: Backoff { base_ms: 1_000, cap_ms: 1_000 },
};

/// A job given three attempts, one second apart at most.
pub static FLAKY: JobDecl = JobDecl {
    kind: "testing.flaky",
    validate: validate_echo,
    priority: 0,
    max_attempts: 3,
    backoff: Backoff { base_ms: 1_000, cap_ms: 60_000 },
};

/// A scheduled job (its payload is the occurrence).
pub static TICK: JobDecl = JobDecl {
    kind: "testing.tick",
    validate: validate_occurrence,
    priority: 0,
    max_attempts: 3,
    backoff: Backoff { base_ms: 1_000, cap_ms: 1_000 },
};

/// The suite's job kinds (registered through `crate::domains::job_kinds` with the `testing` feature).
pub static JOBS: &[&JobDecl] = &[&ECHO, &FLAKY, &TICK];

/// How long the suite's leases last.
const LEASE: chrono::Duration = chrono::Duration::seconds(30);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(super::fixtures::epoch()))
}

fn claim(worker: &str, kinds: &[&JobDecl], limit: u32, now: Timestamp) -> Claim {
    Claim {
        worker: worker.to_owned(),
        kinds: kinds.iter().map(|k| k.kind.to_owned()).collect(),
        limit,
        now,
        lease_until: now.checked_add(LEASE).unwrap(),
    }
}

/// `n` echo jobs, enqueued at `now` in commits of 100.
async fn enqueue_echoes<S: Store>(store: &S, n: u32, now: Timestamp) -> Vec<JobId> {
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut jobs = Vec::new();
        for i in chunk {
            let payload = serde_json::json!({ "n": i });
            let job = crate::kernel::jobs::new_job(&ECHO, payload, EnqueueOptions::default(), now, &RandomIds).unwrap();
            ids.push(job.id);
            jobs.push(job);
        }
        store.commit(ChangeSet { jobs, ..ChangeSet::default() }).await.unwrap();
    }
    ids
}

/// Thorbis' processor marks a job `processing` with an UPDATE that does not check it was still
/// `pending`, so two pollers can both run it. Here 8 workers claim 2,000 jobs in batches at once:
/// every job runs exactly once, and all complete.
pub async fn eight_workers_run_2000_jobs_exactly_once<S: Store + Clone + 'static>(store: S) {
    const JOBS_N: u32 = 2_000;
    const WORKERS: usize = 8;
    let clock = clock();
    let ids = enqueue_echoes(&store, JOBS_N, clock.now()).await;
    let runs: Arc<Mutex<HashMap<JobId, u32>>> = Arc::default();
    let barrier = Arc::new(tokio::sync::Barrier::new(WORKERS));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (store, clock, runs, barrier) = (store.clone(), clock.clone(), runs.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let me = format!("worker-{w}");
                let mut ran = 0u32;
                loop {
                    let jobs = store.claim_jobs(&claim(&me, &[&ECHO], 10, clock.now())).await.unwrap();
                    if jobs.is_empty() {
                        return ran;
                    }
                    for job in jobs {
                        assert_eq!(
                            (job.state, job.attempt, job.locked_by.as_deref()),
                            (JobState::Running, 1, Some(&*me))
                        );
                        *runs.lock().unwrap().entry(job.id).or_default() += 1;
                        ran += 1;
                        let lease = job.lease().unwrap();
                        store.settle_job(&lease, &Settle::Complete, clock.now()).await.unwrap();
                    }
                }
            })
        })
        .collect();
    let mut per_worker = Vec::new();
    for w in workers {
        per_worker.push(w.await.unwrap());
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), JOBS_N as usize, "every job ran");
    assert!(runs.values().all(|n| *n == 1), "no job ran twice");
    assert!(ids.iter().all(|id| runs.contains_key(id)));
    assert_eq!(per_worker.iter().sum::<u32>(), JOBS_N);
    assert_eq!(store.count_jobs(&JobFilter::state(JobState::Completed)).await.unwrap(), u64::from(JOBS_N));
    assert_eq!(store.count_jobs(&JobFilter::all()).await.unwrap(), u64::from(JOBS_N));
    let done = store.find_jobs(&JobFilter::state(JobState::Completed), JOBS_N).await.unwrap();
    assert!(done.iter().all(|j| j.attempt == 1 && j.locked_by.is_none() && j.finished_at == Some(clock.now())));
}

/// A worker claims a job and dies (it stops heartbeating). Once its lease has run out the rescuer
/// returns the job to the queue; another worker completes it once, and the dead worker's late
/// heartbeat and completion are refused (`LeaseLost`), changing nothing.
pub async fn a_killed_workers_job_is_rescued_and_completes_once<S: Store + Clone + 'static>(store: S) {
    let clock = clock();
    let id = enqueue_echoes(&store, 1, clock.now()).await[0];
    let taken = store.claim_jobs(&claim("doomed", &[&ECHO], 5, clock.now())).await.unwrap();
    assert_eq!(taken.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    let dead_lease = taken[0].lease().unwrap();
    // Claimed jobs are not claimed again while leased.
    assert!(store.claim_jobs(&claim("other", &[&ECHO], 5, clock.now())).await.unwrap().is_empty());

    // Not expired yet: nothing to rescue, and a rescue attempt is refused.
    clock.advance(LEASE - chrono::Duration::seconds(1));
    assert!(store.expired_jobs(clock.now(), 10).await.unwrap().is_empty());
    let early = store.rescue_job(&dead_lease, &Settle::Release, clock.now()).await;
    assert_eq!(early, Err(StoreError::LeaseLost { job: id }));

    // The lease runs out: exactly at `lease_until` the job is the rescuer's.
    clock.advance(chrono::Duration::seconds(1));
    let expired = store.expired_jobs(clock.now(), 10).await.unwrap();
    assert_eq!(expired.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
    let decision = after_lease_expired(&expired[0], clock.now(), 42);
    let Settle::Retry { at, error } = &decision else { panic!("a first attempt is retried: {decision:?}") };
    assert!(error.contains("doomed"), "{error}");
    assert!(*at >= clock.now().checked_add(chrono::Duration::milliseconds(500)).unwrap());
    store.rescue_job(&expired[0].lease().unwrap(), &decision, clock.now()).await.unwrap();
    // A second rescuer racing the first finds nothing left to rescue.
    assert_eq!(store.rescue_job(&dead_lease, &decision, clock.now()).await, Err(StoreError::LeaseLost { job: id }));

    // Not due before the backoff; then another worker takes it (attempt 2) and completes it.
    assert!(store.claim_jobs(&claim("heir", &[&ECHO], 5, clock.now())).await.unwrap().is_empty());
    clock.set(*at);
    let again = store.claim_jobs(&claim("heir", &[&ECHO], 5, clock.now())).await.unwrap();
    assert_eq!((again.len(), again[0].attempt, again[0].last_error.as_deref()), (1, 2, Some(error.as_str())));
    let heir = again[0].lease().unwrap();
    store.heartbeat_job(&heir, clock.now().checked_add(LEASE).unwrap()).await.unwrap();

    // The dead worker wakes up: its heartbeat and its completion are refused.
    let late = clock.now().checked_add(LEASE).unwrap();
    assert_eq!(store.heartbeat_job(&dead_lease, late).await, Err(StoreError::LeaseLost { job: id }));
    assert_eq!(
        store.settle_job(&dead_lease, &Settle::Complete, clock.now()).await,
        Err(StoreError::LeaseLost { job: id })
    );
    // A lease naming the right worker but the old attempt is refused too.
    let stale = Lease { worker: "heir".into(), attempt: 1, ..heir.clone() };
    assert_eq!(store.settle_job(&stale, &Settle::Complete, clock.now()).await, Err(StoreError::LeaseLost { job: id }));

    store.settle_job(&heir, &Settle::Complete, clock.now()).await.unwrap();
    assert_eq!(store.settle_job(&heir, &Settle::Complete, clock.now()).await, Err(StoreError::LeaseLost { job: id }));
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempt, job.locked_by, job.lease_until), (JobState::Completed, 2, None, None));
    assert_eq!(store.count_jobs(&JobFilter::state(JobState::Completed)).await.unwrap(), 1);
    // A worker that heartbeats keeps its job: the rescuer never takes a live lease.
    let live = enqueue_echoes(&store, 1, clock.now()).await[0];
    let mine = store.claim_jobs(&claim("alive", &[&ECHO], 1, clock.now())).await.unwrap()[0].lease().unwrap();
    clock.advance(LEASE - chrono::Duration::seconds(1));
    store.heartbeat_job(&mine, clock.now().checked_add(LEASE).unwrap()).await.unwrap();
    clock.advance(chrono::Duration::seconds(2));
    assert!(store.expired_jobs(clock.now(), 10).await.unwrap().is_empty());
    assert_eq!(store.rescue_job(&mine, &Settle::Release, clock.now()).await, Err(StoreError::LeaseLost { job: live }));
    store.settle_job(&mine, &Settle::Complete, clock.now()).await.unwrap();
}

/// Thorbis' processor retries `max_retries` times ("Exponential backoff: 1min, 5min, 15min"), then
/// marks the job `failed` with `error_message`. Here a job that fails three times is retried after a
/// growing, jittered delay, then dead with its last error — and dead jobs are kept, never claimed
/// again and never pruned.
pub async fn a_job_failing_three_times_is_dead_with_its_last_error<S: Store + Clone + 'static>(store: S) {
    let clock = clock();
    let job = crate::kernel::jobs::new_job(
        &FLAKY,
        serde_json::json!({"n": 7}),
        EnqueueOptions::default(),
        clock.now(),
        &RandomIds,
    )
    .unwrap();
    let id = job.id;
    store.commit(ChangeSet { jobs: vec![job], ..ChangeSet::default() }).await.unwrap();
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        let got = store.claim_jobs(&claim("w", &[&FLAKY], 1, clock.now())).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt} is claimable");
        assert_eq!(got[0].attempt, attempt);
        let outcome = after_failure(
            &got[0],
            FLAKY.backoff,
            &Failure::Transient(format!("boom #{attempt}")),
            clock.now(),
            u64::from(attempt),
        );
        store.settle_job(&got[0].lease().unwrap(), &outcome, clock.now()).await.unwrap();
        let stored = store.job(id).await.unwrap().unwrap();
        assert_eq!(stored.last_error.as_deref(), Some(format!("boom #{attempt}").as_str()));
        match outcome {
            Settle::Retry { at, .. } => {
                assert!(attempt < 3, "the last attempt is not retried");
                assert_eq!((stored.state, stored.run_at), (JobState::Available, at));
                let delay = at.unix_micros() - clock.now().unix_micros();
                // Equal jitter: within [ceiling / 2, ceiling], the ceiling doubling from 1 s.
                let ceiling = 1_000_000i64 << (attempt - 1);
                assert!((ceiling / 2..=ceiling).contains(&delay), "attempt {attempt}: {delay} µs");
                delays.push(delay);
                // Not due a microsecond early.
                clock.set(Timestamp::from_unix_micros(at.unix_micros() - 1).unwrap());
                assert!(store.claim_jobs(&claim("w", &[&FLAKY], 1, clock.now())).await.unwrap().is_empty());
                clock.set(at);
            }
            Settle::Dead { ref error } => {
                assert_eq!((attempt, error.as_str()), (3, "boom #3"));
                assert_eq!((stored.state, stored.finished_at), (JobState::Dead, Some(clock.now())));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delays.len(), 2);
    clock.advance(chrono::Duration::days(1));
    assert!(store.claim_jobs(&claim("w", &[&FLAKY], 1, clock.now())).await.unwrap().is_empty());
    assert_eq!(store.prune_jobs(clock.now(), 100).await.unwrap(), 0, "dead jobs are kept");
    assert_eq!(store.find_jobs(&JobFilter::state(JobState::Dead), 10).await.unwrap().len(), 1);

    // A fatal failure is dead on its first attempt.
    let fatal = crate::kernel::jobs::new_job(
        &FLAKY,
        serde_json::json!({"n": 8}),
        EnqueueOptions::default(),
        clock.now(),
        &RandomIds,
    )
    .unwrap();
    store.commit(ChangeSet { jobs: vec![fatal], ..ChangeSet::default() }).await.unwrap();
    let got = store.claim_jobs(&claim("w", &[&FLAKY], 1, clock.now())).await.unwrap();
    let outcome = after_failure(&got[0], FLAKY.backoff, &Failure::Fatal("unusable payload".into()), clock.now(), 1);
    assert_eq!(outcome, Settle::Dead { error: "unusable payload".into() });
    store.settle_job(&got[0].lease().unwrap(), &outcome, clock.now()).await.unwrap();
    assert_eq!(store.count_jobs(&JobFilter::state(JobState::Dead)).await.unwrap(), 2);
}

/// A command that notifies `user` and enqueues an echo job in the same commit — or, with `refuse`,
/// enqueues and then refuses, so nothing may commit.
#[derive(Debug, Serialize)]
struct NotifyAndEnqueue {
    user: UserId,
    unique_key: Option<String>,
    refuse: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for NotifyAndEnqueue {
    const NAME: &'static str = "testing.notify_and_enqueue";
    type Valid = ();
    type Loaded = ();
    type Output = JobId;
    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, _store: &dyn Reader, _actor: &Actor, _valid: &()) -> Result<(), Error> {
        Ok(())
    }
    fn decide(&self, _actor: &Actor, _valid: &(), _loaded: (), cx: &mut Decide<'_>) -> Result<JobId, Error> {
        let subject = EntityRef { kind: Notification::kind(), id: self.user.as_uuid() };
        notify(
            cx,
            NewNotification {
                recipient: Recipient::User(self.user),
                kind: "testing.enqueued",
                title: "Your export is queued",
                body: "We will tell you when it is ready.",
                subject,
            },
        )?;
        let options = EnqueueOptions { unique_key: self.unique_key.clone(), ..EnqueueOptions::default() };
        let id = cx.enqueue(&ECHO, &Echo { n: 1 }, options)?;
        if self.refuse {
            return Err(Error::precondition("refused after enqueuing"));
        }
        Ok(id)
    }
}

/// A job is part of the change set: it exists iff the business commit did. A unique key enqueued
/// twice (two commits, or twice in one) leaves one pending job and both commits succeed; once that
/// job completed, the key is free again. Bad payloads and options are field errors.
pub async fn jobs_commit_with_their_change_and_unique_keys_dedupe<S: Store + Clone + 'static>(store: S) {
    let clock = clock();
    let runner = Runner::new(store.clone(), clock.clone(), Arc::new(RandomIds));
    let user = UserId::generate(&RandomIds);
    let system = Actor::System;
    let notes = |s: &S| {
        let s = s.clone();
        async move { s.count(crate::kernel::Query::of::<Notification>()).await.unwrap() }
    };

    // Committed: the notification and its job.
    let cmd = NotifyAndEnqueue { user, unique_key: None, refuse: false };
    let id = runner.execute(&system, None, &cmd).await.unwrap();
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (job.kind.as_str(), job.state, job.attempt, job.run_at),
        ("testing.echo", JobState::Available, 0, clock.now())
    );
    assert_eq!(job.payload, serde_json::json!({"n": 1}));
    assert_eq!(notes(&store).await, 1);

    // Refused after enqueuing: neither the notification nor the job.
    let refusing = NotifyAndEnqueue { user, unique_key: None, refuse: true };
    let refusal = runner.execute(&system, None, &refusing);
    super::fixtures::refused(&store, ErrorCode::PreconditionFailed, refusal).await;
    assert_eq!(store.count_jobs(&JobFilter::all()).await.unwrap(), 1);

    // A change set that fails at commit (a stale version) takes its jobs down with it.
    let stale = {
        let note = store.find::<Notification>(crate::kernel::Query::of::<Notification>()).await.unwrap().remove(0);
        crate::kernel::store::Write::Row {
            kind: Notification::kind(),
            id: Entity::id(&note.value),
            row: note.value.to_row(),
            expect: crate::kernel::store::Expect::Version(note.version + 3),
        }
    };
    let orphan = crate::kernel::jobs::new_job(
        &ECHO,
        serde_json::json!({"n": 2}),
        EnqueueOptions::default(),
        clock.now(),
        &RandomIds,
    )
    .unwrap();
    let failed =
        store.commit(ChangeSet { writes: vec![stale], jobs: vec![orphan.clone()], ..ChangeSet::default() }).await;
    assert!(matches!(failed, Err(StoreError::VersionConflict { .. })), "{failed:?}");
    assert_eq!(store.job(orphan.id).await.unwrap(), None);

    // Unique: twice through commands, then twice in one change set — one pending job, every commit ok.
    let keyed = || NotifyAndEnqueue { user, unique_key: Some("export:user-1".into()), refuse: false };
    let first = runner.execute(&system, None, &keyed()).await.unwrap();
    let second = runner.execute(&system, None, &keyed()).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(notes(&store).await, 3, "the second business commit went ahead");
    let by_key = JobFilter { unique_key: Some("export:user-1".into()), ..JobFilter::default() };
    let pending = store.find_jobs(&by_key, 10).await.unwrap();
    assert_eq!(pending.iter().map(|j| j.id).collect::<Vec<_>>(), [first]);
    let opts = || EnqueueOptions { unique_key: Some("export:user-1".into()), ..EnqueueOptions::default() };
    let twice: Vec<_> = (0..2)
        .map(|n| {
            crate::kernel::jobs::new_job(&ECHO, serde_json::json!({"n": n}), opts(), clock.now(), &RandomIds).unwrap()
        })
        .collect();
    store.commit(ChangeSet { jobs: twice, ..ChangeSet::default() }).await.unwrap();
    assert_eq!(store.count_jobs(&by_key).await.unwrap(), 1);
    // Still unique while running; free again once the job completed.
    let got = store.claim_jobs(&claim("w", &[&ECHO], 10, clock.now())).await.unwrap();
    assert_eq!(got.len(), 2, "the first job and the keyed one");
    runner.execute(&system, None, &keyed()).await.unwrap();
    assert_eq!(store.count_jobs(&by_key).await.unwrap(), 1);
    for j in &got {
        store.settle_job(&j.lease().unwrap(), &Settle::Complete, clock.now()).await.unwrap();
    }
    let third = runner.execute(&system, None, &keyed()).await.unwrap();
    assert_eq!(store.count_jobs(&by_key).await.unwrap(), 2);
    assert_eq!(
        store.find_jobs(&JobFilter { state: Some(JobState::Available), ..by_key }, 10).await.unwrap()[0].id,
        third
    );

    // A payload the kind refuses, and options out of range: field errors, nothing written.
    let bad = crate::kernel::jobs::new_job(
        &ECHO,
        serde_json::json!({"n": "seven"}),
        EnqueueOptions {
            priority: Some(1_000),
            max_attempts: Some(0),
            unique_key: Some(" ".into()),
            ..EnqueueOptions::default()
        },
        clock.now(),
        &RandomIds,
    )
    .unwrap_err();
    assert_eq!(bad.code, ErrorCode::Validation);
    let fields: Vec<&str> = bad.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["payload.n", "priority", "max_attempts", "unique_key"], "{bad:?}");
    // A field the payload does not have is refused too (never silently dropped).
    let extra = serde_json::json!({"n": 1, "extra": true});
    let extra =
        crate::kernel::jobs::new_job(&ECHO, extra, EnqueueOptions::default(), clock.now(), &RandomIds).unwrap_err();
    assert_eq!(extra.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["payload.extra"]);
    // An unregistered kind is refused, never run on a guess.
    static STRAY: JobDecl = JobDecl {
        kind: "testing.stray",
        validate: validate_echo,
        priority: 0,
        max_attempts: 1,
        backoff: Backoff::DEFAULT,
    };
    let stray = crate::kernel::jobs::new_job(
        &STRAY,
        serde_json::json!({"n": 1}),
        EnqueueOptions::default(),
        clock.now(),
        &RandomIds,
    );
    assert_eq!(stray.map_err(|e| e.code).err(), Some(ErrorCode::Internal));
}

/// Priority first, then `run_at`; only the kinds a worker asks for; jobs due later wait; cancel
/// takes a job out (a running job's worker loses its lease); pruning removes finished jobs only.
pub async fn claims_follow_priority_and_cancel_and_prune<S: Store + Clone + 'static>(store: S) {
    let clock = clock();
    let now = clock.now();
    let mk = |decl: &'static JobDecl, n: u32, priority: i16, run_in: i64| {
        let options = EnqueueOptions {
            priority: Some(priority),
            run_at: now.checked_add(chrono::Duration::seconds(run_in)),
            ..EnqueueOptions::default()
        };
        crate::kernel::jobs::new_job(decl, serde_json::json!({"n": n}), options, now, &RandomIds).unwrap()
    };
    let jobs =
        vec![mk(&ECHO, 0, 0, 0), mk(&ECHO, 1, 5, 0), mk(&ECHO, 2, 5, -10), mk(&ECHO, 3, 9, 60), mk(&FLAKY, 4, 50, 0)];
    let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
    store.commit(ChangeSet { jobs, ..ChangeSet::default() }).await.unwrap();
    let got = store.claim_jobs(&claim("w", &[&ECHO], 10, now)).await.unwrap();
    // Priority 5 twice (a run_at in the past is now: the id breaks the tie), then 0; priority 9 is
    // not due; the flaky job is another kind.
    let mut fives = [ids[1], ids[2]];
    fives.sort();
    assert_eq!(got.iter().map(|j| j.id).collect::<Vec<_>>(), [fives[0], fives[1], ids[0]]);
    clock.advance(chrono::Duration::seconds(60));
    let both = store.claim_jobs(&claim("w2", &[&ECHO, &FLAKY], 10, clock.now())).await.unwrap();
    assert_eq!(both.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[4], ids[3]]);

    // Cancel: a running job is cancelled and its worker's completion refused; a finished job is not.
    let admin = Actor::user(UserId::generate(&RandomIds), [crate::actor::Role::Admin]);
    let resident = Actor::user(UserId::generate(&RandomIds), [crate::actor::Role::Resident]);
    assert_eq!(
        cancel(&store, &resident, ids[3], clock.now()).await.map_err(|e| e.code).err(),
        Some(ErrorCode::Forbidden)
    );
    let cancelled = cancel(&store, &admin, ids[3], clock.now()).await.unwrap();
    assert_eq!((cancelled.state, cancelled.finished_at), (JobState::Cancelled, Some(clock.now())));
    let lost = store.settle_job(&both[1].lease().unwrap(), &Settle::Complete, clock.now()).await;
    assert_eq!(lost, Err(StoreError::LeaseLost { job: ids[3] }));
    assert_eq!(
        cancel(&store, &admin, ids[3], clock.now()).await.map_err(|e| e.code).err(),
        Some(ErrorCode::InvalidTransition)
    );
    assert_eq!(
        cancel(&store, &Actor::System, JobId::generate(&RandomIds), clock.now()).await.map_err(|e| e.code).err(),
        Some(ErrorCode::NotFound)
    );

    // Release (a worker shutting down): back to available at once, the attempt not counted.
    let released = &got[2];
    store.settle_job(&released.lease().unwrap(), &Settle::Release, clock.now()).await.unwrap();
    let back = store.job(released.id).await.unwrap().unwrap();
    assert_eq!((back.state, back.attempt, back.run_at, back.locked_by), (JobState::Available, 0, clock.now(), None));

    // Prune: completed and cancelled jobs finished before the cut go; the rest stay.
    for j in [&got[0], &got[1], &both[0]] {
        store.settle_job(&j.lease().unwrap(), &Settle::Complete, clock.now()).await.unwrap();
    }
    assert_eq!(store.prune_jobs(clock.now(), 100).await.unwrap(), 0, "nothing finished before now");
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(store.prune_jobs(clock.now(), 2).await.unwrap(), 2, "at most the limit");
    assert_eq!(store.prune_jobs(clock.now(), 100).await.unwrap(), 2);
    let left: Vec<JobId> = store.find_jobs(&JobFilter::all(), 10).await.unwrap().iter().map(|j| j.id).collect();
    assert_eq!(left, [released.id]);
}

/// Two schedulers (Viramah §10's sweep every 30 minutes, here every minute for two hours) race over
/// the same occurrences: one job per occurrence, keyed `schedule:<name>:<instant>`. A third scheduler
/// arriving after some occurrences completed enqueues nothing again.
pub async fn two_schedulers_enqueue_each_occurrence_once<S: Store + Clone + 'static>(store: S) {
    let clock = clock();
    let schedule = Arc::new(Schedule::parse("testing.tick", "* * * * *", "Asia/Kolkata", &TICK).unwrap());
    let from = clock.now();
    let upto = from.checked_add(chrono::Duration::hours(2)).unwrap();
    let occurrences = schedule.between(from, upto, 1_000);
    assert_eq!(occurrences.len(), 120);
    let scheduler = |store: S, barrier: Arc<tokio::sync::Barrier>, schedule: Arc<Schedule>| {
        let occurrences = occurrences.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            // One commit per occurrence, as a scheduler ticking through them would.
            for at in occurrences {
                let job = schedule.occurrence(at, at, &RandomIds).unwrap();
                store.commit(ChangeSet { jobs: vec![job], ..ChangeSet::default() }).await.unwrap();
            }
        })
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let a = scheduler(store.clone(), barrier.clone(), schedule.clone());
    let b = scheduler(store.clone(), barrier.clone(), schedule.clone());
    a.await.unwrap();
    b.await.unwrap();
    let jobs = store.find_jobs(&JobFilter::kind("testing.tick"), 1_000).await.unwrap();
    assert_eq!(jobs.len(), occurrences.len(), "one job per occurrence");
    let mut keys: Vec<(String, Timestamp)> =
        jobs.iter().map(|j: &Job| (j.unique_key.clone().unwrap(), j.run_at)).collect();
    keys.sort_by_key(|(_, at)| *at);
    for ((key, run_at), at) in keys.iter().zip(&occurrences) {
        assert_eq!((key.as_str(), run_at), (schedule.occurrence_key(*at).as_str(), at));
    }
    for j in &jobs {
        let payload: crate::kernel::jobs::schedule::Occurrence = payload_as(&j.payload).unwrap();
        assert_eq!((payload.schedule.as_str(), payload.at), ("testing.tick", j.run_at));
    }
    // Run the first ten, then a late scheduler replays the whole window: nothing new.
    clock.set(occurrences[9]);
    let ran = store.claim_jobs(&claim("w", &[&TICK], 100, clock.now())).await.unwrap();
    assert_eq!(ran.len(), 10);
    for j in &ran {
        store.settle_job(&j.lease().unwrap(), &Settle::Complete, clock.now()).await.unwrap();
    }
    let late = scheduler(store.clone(), Arc::new(tokio::sync::Barrier::new(1)), schedule.clone());
    late.await.unwrap();
    assert_eq!(store.count_jobs(&JobFilter::kind("testing.tick")).await.unwrap(), 120);
    assert_eq!(store.count_jobs(&JobFilter::state(JobState::Completed)).await.unwrap(), 10);
}

crate::conformance_cases!("jobs";
    eight_workers_run_2000_jobs_exactly_once,
    a_killed_workers_job_is_rescued_and_completes_once,
    a_job_failing_three_times_is_dead_with_its_last_error,
    jobs_commit_with_their_change_and_unique_keys_dedupe,
    claims_follow_priority_and_cancel_and_prune,
    two_schedulers_enqueue_each_occurrence_once,
);
