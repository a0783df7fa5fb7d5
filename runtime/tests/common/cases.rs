//! The runtime's cases, the same on a SQLite file and on Postgres: real worker pools, rescuers and
//! schedulers on tokio, with the system clock unless a case moves time itself.
//!
//! The seeds' design (Thorbis "Background Job System", Option 2): an edge function polled by
//! `pg_cron` every minute marks `job_queue` rows `processing` with a plain UPDATE and retries with
//! "exponential backoff: 1min, 5min, 15min"; Viramah §10 runs the SLA sweep "every 30 minutes". These
//! cases hold the runtime that replaces them to exactly-once completion, rescue after a crash,
//! dead-after-retries, one job per occurrence, graceful shutdown and the periodic commands.

use hearth_core::actor::{Actor, Role};
use hearth_core::amenities::{Amenities, AmenityStore, TemplateInput};
use hearth_core::id::{JobId, UserId};
use hearth_core::kernel::jobs::schedule::{Occurrence, Schedule};
use hearth_core::kernel::jobs::{
    new_job, payload_as, EnqueueOptions, Failure, Job, JobFilter, JobState, Lease, Settle, StoreError,
};
use hearth_core::kernel::store::ChangeSet;
use hearth_core::kernel::Store;
use hearth_core::maintenance::{MaintenanceStore, Status};
use hearth_core::rooms::{ReservationStatus, RoomStore, Rooms};
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::testing::jobs::{ECHO, FLAKY, TICK};
use hearth_core::time::Clock;
use hearth_runtime::jobs::scheduler::{declared_schedules, Scheduler, SchedulerConfig};
use hearth_runtime::jobs::{periodic, PoolConfig, PoolStats, Registry, WorkerPool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn system() -> (Arc<dyn Clock>, Arc<RandomIds>) {
    (Arc::new(SystemClock), Arc::new(RandomIds))
}

/// A config for tests: short polls, heartbeats and rescues. Leases are long, so a loaded machine
/// (a heartbeat late by seconds) never makes a live worker's job look abandoned; the one case that
/// needs a lease to lapse shortens it for the worker it kills.
fn config(name: &str, workers: usize) -> PoolConfig {
    PoolConfig {
        workers,
        batch: 10,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        heartbeat_every: Duration::from_millis(150),
        rescue_every: Some(Duration::from_millis(100)),
        shutdown_grace: Duration::from_secs(5),
        ..PoolConfig::new(name)
    }
}

async fn enqueue<S: Store>(store: &S, decl: &'static hearth_core::kernel::jobs::JobDecl, n: u32) -> Vec<JobId> {
    let now = SystemClock.now();
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let jobs: Vec<_> = chunk
            .iter()
            .map(|i| new_job(decl, serde_json::json!({ "n": i }), EnqueueOptions::default(), now, &RandomIds).unwrap())
            .collect();
        ids.extend(jobs.iter().map(|j| j.id));
        store.commit(ChangeSet { jobs, ..ChangeSet::default() }).await.unwrap();
    }
    ids
}

/// Waits until `filter` matches `n` jobs (at most `secs`).
async fn wait_for<S: Store>(store: &S, filter: JobFilter, n: u64, secs: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let have = store.count_jobs(&filter).await.unwrap();
        if have == n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{filter:?}: {have} of {n} after {secs} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 8 workers, 2,000 jobs: each runs exactly once and completes (no double claim — the seed's
/// `processing` UPDATE could hand one row to two pollers).
pub async fn a_pool_of_8_workers_runs_2000_jobs_exactly_once<S: Store + Clone + 'static>(store: S) {
    let (clock, ids) = system();
    let enqueued = enqueue(&store, &ECHO, 2_000).await;
    let runs: Arc<Mutex<HashMap<JobId, u32>>> = Arc::default();
    let mut registry = Registry::new();
    let r = runs.clone();
    registry
        .register_fn(&ECHO, move |job: Job| {
            let r = r.clone();
            async move {
                *r.lock().unwrap().entry(job.id).or_default() += 1;
                Ok(())
            }
        })
        .unwrap();
    let pool = WorkerPool::new(store.clone(), clock, ids, registry, config("p", 8)).start().unwrap();
    wait_for(&store, JobFilter::state(JobState::Completed), 2_000, 120).await;
    let completed = PoolStats::get(&pool.stats().completed);
    pool.shutdown().await;
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 2_000);
    assert!(runs.values().all(|n| *n == 1), "a job ran twice");
    assert!(enqueued.iter().all(|id| runs.contains_key(id)));
    assert_eq!(completed, 2_000);
    let done = store.find_jobs(&JobFilter::all(), 3_000).await.unwrap();
    assert!(done.iter().all(|j| j.state == JobState::Completed && j.attempt == 1));
}

/// A pool is killed while its worker runs a job (a crash: no release, no more heartbeats). Another
/// pool's rescuer gives the job back once the lease lapsed, and it completes once; the dead
/// worker's lease can no longer complete it.
pub async fn a_killed_workers_job_is_rescued_and_completes_once<S: Store + Clone + 'static>(store: S) {
    let (clock, ids) = system();
    let id = enqueue(&store, &ECHO, 1).await[0];
    let started: Arc<Mutex<Vec<Lease>>> = Arc::default();
    let mut hung = Registry::new();
    let s = started.clone();
    hung.register_fn(&ECHO, move |job: Job| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push(job.lease().unwrap());
            std::future::pending::<()>().await;
            Ok(())
        }
    })
    .unwrap();
    let doomed = WorkerPool::new(
        store.clone(),
        clock.clone(),
        ids.clone(),
        hung,
        PoolConfig { rescue_every: None, lease: Duration::from_millis(600), ..config("doomed", 1) },
    )
    .start()
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while started.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the doomed worker never started the job");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doomed.kill().await;

    let ran: Arc<Mutex<Vec<Lease>>> = Arc::default();
    let mut healthy = Registry::new();
    let r = ran.clone();
    healthy
        .register_fn(&ECHO, move |job: Job| {
            let r = r.clone();
            async move {
                r.lock().unwrap().push(job.lease().unwrap());
                Ok(())
            }
        })
        .unwrap();
    let heir = WorkerPool::new(store.clone(), clock, ids, healthy, config("heir", 2)).start().unwrap();
    wait_for(&store, JobFilter::state(JobState::Completed), 1, 15).await;
    let rescued = PoolStats::get(&heir.stats().rescued);
    heir.shutdown().await;

    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempt), (JobState::Completed, 2));
    assert!(job.last_error.unwrap().contains("doomed-0"), "the rescue kept why");
    assert_eq!(rescued, 1);
    let (started, ran) = (started.lock().unwrap().clone(), ran.lock().unwrap().clone());
    assert_eq!(started.len(), 1);
    assert_eq!(ran.len(), 1, "completed once");
    assert_eq!((ran[0].worker.starts_with("heir-"), ran[0].attempt), (true, 2));
    // The dead worker's late completion is refused and changes nothing.
    let late = store.settle_job(&started[0], &Settle::Complete, SystemClock.now()).await;
    assert_eq!(late, Err(StoreError::LeaseLost { job: id }));
    assert_eq!(store.job(id).await.unwrap().unwrap().attempt, 2);
}

/// A handler that always fails: retried after a jittered backoff, then dead with its last error
/// after `max_attempts` (3) — the seed's `retry_count < max_retries`, kept with `error_message`.
pub async fn a_job_failing_3_times_is_dead_with_its_error<S: Store + Clone + 'static>(store: S) {
    let (clock, ids) = system();
    let id = enqueue(&store, &FLAKY, 1).await[0];
    let calls: Arc<Mutex<Vec<u32>>> = Arc::default();
    let mut registry = Registry::new();
    let c = calls.clone();
    registry
        .register_fn(&FLAKY, move |job: Job| {
            let c = c.clone();
            async move {
                c.lock().unwrap().push(job.attempt);
                Err(Failure::Transient(format!("smtp refused, attempt {}", job.attempt)))
            }
        })
        .unwrap();
    let pool = WorkerPool::new(store.clone(), clock, ids, registry, config("f", 2)).start().unwrap();
    wait_for(&store, JobFilter::state(JobState::Dead), 1, 20).await;
    let (retried, dead) = (PoolStats::get(&pool.stats().retried), PoolStats::get(&pool.stats().dead));
    pool.shutdown().await;
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!((job.attempt, job.last_error.as_deref()), (3, Some("smtp refused, attempt 3")));
    assert!(job.finished_at.is_some());
    assert_eq!(*calls.lock().unwrap(), [1, 2, 3]);
    assert_eq!((retried, dead), (2, 1));
}

/// Two schedulers tick over the same every-second schedule at once: each occurrence is enqueued
/// once, and no second is skipped.
pub async fn two_schedulers_enqueue_each_occurrence_once<S: Store + Clone + 'static>(store: S) {
    let (clock, ids) = system();
    let schedule = Schedule::parse("testing.tick", "* * * * * *", "UTC", &TICK).unwrap();
    let config = SchedulerConfig { tick: Duration::from_millis(37), catch_up: Duration::ZERO };
    let start = clock.now();
    let a = Scheduler::new(store.clone(), clock.clone(), ids.clone(), vec![schedule.clone()]).start(config);
    let b = Scheduler::new(store.clone(), clock.clone(), ids.clone(), vec![schedule.clone()]).start(config);
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    a.shutdown().await;
    b.shutdown().await;
    let end = clock.now();
    let jobs = store.find_jobs(&JobFilter::kind("testing.tick"), 1_000).await.unwrap();
    let mut ats: Vec<_> = jobs.iter().map(|j| payload_as::<Occurrence>(&j.payload).unwrap().at).collect();
    ats.sort();
    let expected = schedule.between(start, end, 1_000);
    // Both started after `start` and stopped before `end`: every occurrence they saw is one of
    // these, and each is there once.
    assert!(ats.len() >= 2, "{ats:?}");
    let mut unique = ats.clone();
    unique.dedup();
    assert_eq!(unique, ats, "an occurrence was enqueued twice");
    assert!(ats.iter().all(|t| expected.contains(t)));
    let first = expected.iter().position(|t| *t == ats[0]).unwrap();
    assert_eq!(ats, expected[first..first + ats.len()], "no second skipped");
    for j in &jobs {
        let at = payload_as::<Occurrence>(&j.payload).unwrap().at;
        assert_eq!((j.id, j.unique_key.clone().unwrap()), (schedule.occurrence_id(at), schedule.occurrence_key(at)));
    }
}

/// Shutdown lets the running job finish and releases the claimed ones not started (their attempt
/// not counted); with too short a grace, the running job is released too.
pub async fn shutdown_finishes_or_releases_claimed_jobs<S: Store + Clone + 'static>(store: S) {
    let (clock, ids) = system();
    enqueue(&store, &ECHO, 5).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let mut registry = Registry::new();
    let s = started.clone();
    registry
        .register_fn(&ECHO, move |_job: Job| {
            let s = s.clone();
            async move {
                s.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(())
            }
        })
        .unwrap();
    let pool = WorkerPool::new(store.clone(), clock.clone(), ids.clone(), registry, config("g", 1)).start().unwrap();
    started.notified().await;
    pool.shutdown().await;
    assert_eq!(store.count_jobs(&JobFilter::state(JobState::Completed)).await.unwrap(), 1, "the running job finished");
    let waiting = store.find_jobs(&JobFilter::state(JobState::Available), 10).await.unwrap();
    assert_eq!(waiting.len(), 4);
    assert!(waiting.iter().all(|j| j.attempt == 0 && j.locked_by.is_none()), "released, not counted");

    // Too slow for the grace: released mid-run.
    let mut slow = Registry::new();
    let s = started.clone();
    slow.register_fn(&ECHO, move |_job: Job| {
        let s = s.clone();
        async move {
            s.notify_one();
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }
    })
    .unwrap();
    let cfg = PoolConfig { shutdown_grace: Duration::from_millis(50), ..config("h", 1) };
    let pool = WorkerPool::new(store.clone(), clock, ids, slow, cfg).start().unwrap();
    started.notified().await;
    let t = tokio::time::Instant::now();
    pool.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(5), "shutdown waited for the slow job");
    let waiting = store.find_jobs(&JobFilter::state(JobState::Available), 10).await.unwrap();
    assert_eq!(waiting.len(), 4);
    assert!(waiting.iter().all(|j| j.attempt == 0 && j.locked_by.is_none()));
    assert_eq!(store.count_jobs(&JobFilter::state(JobState::Running)).await.unwrap(), 0);
}

/// Cancelling a running job takes it from its worker: the next heartbeat finds the lease gone, the
/// handler is abandoned, and the worker goes on with other jobs; the job stays cancelled.
pub async fn a_cancelled_running_job_is_abandoned_by_its_worker<S: Store + Clone + 'static>(store: S) {
    let (clock, ids) = system();
    let stuck = enqueue(&store, &ECHO, 1).await[0];
    let started = Arc::new(tokio::sync::Notify::new());
    let done: Arc<Mutex<Vec<JobId>>> = Arc::default();
    let mut registry = Registry::new();
    let (s, d) = (started.clone(), done.clone());
    registry
        .register_fn(&ECHO, move |job: Job| {
            let (s, d) = (s.clone(), d.clone());
            async move {
                if job.id == stuck {
                    s.notify_one();
                    std::future::pending::<()>().await;
                }
                d.lock().unwrap().push(job.id);
                Ok(())
            }
        })
        .unwrap();
    let pool = WorkerPool::new(store.clone(), clock.clone(), ids, registry, config("c", 1)).start().unwrap();
    started.notified().await;
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    let cancelled = hearth_core::kernel::jobs::cancel(&store, &admin, stuck, clock.now()).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    let next = enqueue(&store, &ECHO, 1).await[0];
    wait_for(&store, JobFilter::state(JobState::Completed), 1, 10).await;
    let lost = PoolStats::get(&pool.stats().lost);
    pool.shutdown().await;
    assert_eq!(*done.lock().unwrap(), [next], "the cancelled job's handler never finished");
    assert_eq!(lost, 1);
    let job = store.job(stuck).await.unwrap().unwrap();
    assert_eq!((job.state, job.locked_by), (JobState::Cancelled, None));
}

/// The periodic work runs the existing commands: one occurrence of each declared schedule, run by
/// a pool with the periodic handlers, escalates the overdue maintenance request (Viramah §10), expires
/// the lapsed bed hold, generates the amenity's slots for the local date (§9), and reconciles the
/// ledger and sweeps holds and intents (nothing to do there, and completes).
pub async fn periodic_jobs_run_the_existing_commands<S: Store + Clone + 'static>(store: S) {
    let desk = hearth_core::testing::maintenance::Desk::new(store.clone()).await;
    let clock: Arc<dyn Clock> = desk.clock.clone();
    let ids = Arc::new(RandomIds);
    let resident = desk.resident().await;
    let request = desk.submit(&resident, "high").await;
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    let rooms = Rooms::new(store.clone(), clock.clone(), ids.clone());
    let room = rooms.add_room(&admin, "B-204", 2).await.unwrap();
    let applicant = Actor::user(UserId::generate(&RandomIds), [Role::PendingResident]);
    let hold = rooms.reserve(&applicant, room.id, false).await.unwrap();
    let amenities = Amenities::new(store.clone(), clock.clone(), ids.clone());
    let template = TemplateInput {
        opens: Some("06:00".into()),
        closes: Some("22:00".into()),
        slot_minutes: Some(60),
        capacity: Some(10),
        time_zone: Some("Asia/Kolkata".into()),
    };
    let gym = amenities.create(&admin, "Gym", template).await.unwrap();
    desk.clock.advance(chrono::Duration::hours(73));

    // One occurrence of every declared schedule within the last day.
    let now = clock.now();
    let day_ago = now.checked_sub(chrono::Duration::hours(25)).unwrap();
    let schedules = declared_schedules(None).unwrap();
    let mut jobs = Vec::new();
    let mut slots_at = None;
    for s in &schedules {
        let at = s.between(day_ago, now, 1)[0];
        if s.name() == "amenities.generate_slots" {
            slots_at = Some(at);
        }
        jobs.push(s.occurrence(at, now, ids.as_ref()).unwrap());
    }
    assert_eq!(jobs.len(), 6);
    store.commit(ChangeSet { jobs, ..ChangeSet::default() }).await.unwrap();

    let mut registry = Registry::new();
    periodic::register(&mut registry, store.clone(), clock.clone(), ids.clone()).unwrap();
    let pool = WorkerPool::new(store.clone(), clock, ids, registry, config("cron", 2)).start().unwrap();
    wait_for(&store, JobFilter::state(JobState::Completed), 6, 30).await;
    pool.shutdown().await;

    let r = store.maintenance_request(request.id).await.unwrap().unwrap().value;
    assert_eq!(r.status, Status::Escalated);
    let h = store.reservation(hold.id).await.unwrap().unwrap().value;
    assert_eq!(h.status, ReservationStatus::Expired);
    let date = slots_at.unwrap().as_datetime().with_timezone(&chrono_tz_kolkata()).date_naive();
    assert_eq!(store.slots_on(gym.id, date).await.unwrap().len(), 16, "06:00–22:00 in hours");
}

fn chrono_tz_kolkata() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
}
