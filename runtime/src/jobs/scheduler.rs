//! The scheduler loop: every `tick`, each schedule's occurrences since the last tick are enqueued.
//!
//! Core builds each occurrence's job with an id and a unique key derived from
//! `schedule:<name>:<instant>` ([`Schedule::occurrence`]), and the store skips a job whose id is
//! taken, so any number of schedulers may run at once (one per process is fine): each occurrence is
//! enqueued once. No leader election, no lock.
//!
//! On start, a scheduler looks back `catch_up` (default one hour): an occurrence missed while no
//! scheduler ran (a deploy over 02:00) is enqueued when one starts, once, like every other.

use hearth_core::error::Error;
use hearth_core::id::IdSource;
use hearth_core::kernel::jobs::schedule::Schedule;
use hearth_core::kernel::store::ChangeSet;
use hearth_core::kernel::Store;
use hearth_core::time::{Clock, Timestamp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Occurrences one tick enqueues at most per schedule (a long catch-up is spread over ticks).
pub const OCCURRENCES_PER_TICK: usize = 1_000;
/// Jobs per commit.
const COMMIT_BATCH: usize = 100;

/// How a scheduler runs.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerConfig {
    /// How often it looks for due occurrences.
    pub tick: Duration,
    /// How far back it looks when it starts.
    pub catch_up: Duration,
}

impl Default for SchedulerConfig {
    /// Every second, one hour of catch-up.
    fn default() -> Self {
        Self { tick: Duration::from_secs(1), catch_up: Duration::from_secs(3600) }
    }
}

/// Enqueues the occurrences of its schedules.
pub struct Scheduler<S> {
    store: S,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    schedules: Vec<Schedule>,
}

impl<S: Store + Clone + 'static> Scheduler<S> {
    /// A scheduler of `schedules` on `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>, schedules: Vec<Schedule>) -> Self {
        Self { store, clock, ids, schedules }
    }

    /// Enqueues every occurrence in `(after, upto]` (at most [`OCCURRENCES_PER_TICK`] per schedule),
    /// in commits of 100; returns the instant it got to (`upto`, or the last occurrence enqueued
    /// when a schedule had more). Occurrences already enqueued — by this scheduler or another — are
    /// skipped by the store.
    pub async fn tick(&self, after: Timestamp, upto: Timestamp) -> Result<Timestamp, Error> {
        let now = self.clock.now();
        let mut reached = upto;
        let mut due = Vec::new();
        for s in &self.schedules {
            let occurrences = s.between(after, upto, OCCURRENCES_PER_TICK);
            if occurrences.len() == OCCURRENCES_PER_TICK {
                if let Some(last) = occurrences.last() {
                    reached = reached.min(*last);
                }
            }
            due.extend(occurrences.into_iter().map(|at| (s, at)));
        }
        // Occurrences past `reached` are left to the next tick, so no schedule skips any.
        let mut jobs = Vec::with_capacity(due.len());
        for (s, at) in due.into_iter().filter(|(_, at)| *at <= reached) {
            jobs.push(s.occurrence(at, now, self.ids.as_ref())?);
        }
        for chunk in jobs.chunks(COMMIT_BATCH) {
            self.store.commit(ChangeSet { jobs: chunk.to_vec(), ..ChangeSet::default() }).await.map_err(Error::from)?;
        }
        Ok(reached)
    }

    /// Starts ticking every `config.tick` (at least every 10 ms) until the handle shuts it down (or
    /// is dropped).
    pub fn start(self, config: SchedulerConfig) -> SchedulerHandle {
        let config = SchedulerConfig { tick: config.tick.max(Duration::from_millis(10)), ..config };
        let (tx, mut rx) = watch::channel(false);
        let ticks = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let (t, e) = (ticks.clone(), errors.clone());
        let task = tokio::spawn(async move {
            let back = chrono::Duration::from_std(config.catch_up).unwrap_or(chrono::Duration::hours(1));
            let start = self.clock.now();
            let mut cursor = start.checked_sub(back).unwrap_or(start);
            loop {
                let now = self.clock.now();
                match self.tick(cursor, now).await {
                    Ok(reached) => cursor = reached,
                    // Unavailable store: the same window is tried again next tick.
                    Err(_) => {
                        e.fetch_add(1, Ordering::Relaxed);
                    }
                }
                t.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(config.tick) => {}
                    _ = rx.changed() => return,
                }
            }
        });
        SchedulerHandle { shutdown: tx, task, ticks, errors }
    }
}

/// A running scheduler.
pub struct SchedulerHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    ticks: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
}

impl SchedulerHandle {
    /// Ticks so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }
    /// Ticks whose commit failed (retried on the next tick).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
    /// Stops after the current tick.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// The schedules every domain declared (`hearth_core::domains::schedules`), parsed; with `zone`,
/// every schedule's wall clock is in that IANA zone instead of the declared one (a deployment in
/// another country).
pub fn declared_schedules(zone: Option<&str>) -> Result<Vec<Schedule>, Error> {
    hearth_core::domains::schedules()
        .map(|d| match zone {
            None => Schedule::from_decl(d),
            Some(z) => Schedule::parse(d.name, d.cron, z, d.job).map_err(Error::from),
        })
        .collect()
}
