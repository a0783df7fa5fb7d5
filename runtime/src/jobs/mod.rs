//! Job workers, the rescuer and the scheduler, on tokio, over any hearth [`Store`].
//!
//! Core decides everything about a job ([`hearth_core::kernel::jobs`]): its kinds and payloads, the
//! order of claims, what a failure leads to (retry at `now + backoff`, or dead), what a lapsed lease
//! leads to, and a schedule's occurrences. This module only drives those calls:
//!
//! - a [`WorkerPool`] of `workers` tasks, each claiming up to `batch` jobs of the kinds it has
//!   handlers for ([`Registry`]), running them one after the other while a heartbeat task keeps
//!   every held lease alive, and settling each with core's decision;
//! - a rescuer task (one per pool) that gives jobs whose lease ran out (their worker died or hung)
//!   back to the queue, and prunes finished jobs past their retention;
//! - graceful shutdown ([`PoolHandle::shutdown`]): a running job may finish within the grace
//!   period, else it is released; claimed jobs not started yet are released at once (a release does
//!   not count as an attempt);
//! - the [`scheduler::Scheduler`], enqueuing each occurrence of each schedule once however many
//!   schedulers run.
//!
//! Workers wake by polling every `poll_interval`, or at once when the pool's [`Wake`] is notified:
//! that is the hook a `LISTEN/NOTIFY` (or change-feed) listener calls when jobs are inserted.

pub mod periodic;
pub mod scheduler;

use async_trait::async_trait;
use hearth_core::error::Error;
use hearth_core::id::{IdSource, JobId};
use hearth_core::kernel::jobs::{
    after_failure, after_lease_expired, jitter, Claim, Failure, Job, JobDecl, Lease, Settle, StoreError,
};
use hearth_core::kernel::Store;
use hearth_core::time::{Clock, Timestamp};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// Runs jobs of one kind. A handler should be idempotent where it can: a job whose worker died
/// after the work but before settling runs again (at-least-once); a completion is recorded once.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Runs `job`. `Err(Failure::Transient)` retries while attempts remain; `Err(Failure::Fatal)`
    /// is dead at once.
    async fn run(&self, job: Job) -> Result<(), Failure>;
}

/// A handler from an async closure.
pub struct FnHandler<F>(pub F);

#[async_trait]
impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Failure>> + Send + 'static,
{
    async fn run(&self, job: Job) -> Result<(), Failure> {
        (self.0)(job).await
    }
}

/// The handlers a pool runs, by job kind. Only registered kinds ([`JobDecl::lookup`]) are accepted:
/// a pool never claims a job it could not validate or decide about.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, (&'static JobDecl, Arc<dyn Handler>)>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }
    /// Runs `decl`'s jobs with `handler`; `internal` when the kind is not registered in
    /// `hearth_core::domains` (or is another declaration of that name), `conflict` when it already
    /// has a handler.
    pub fn register(&mut self, decl: &'static JobDecl, handler: impl Handler) -> Result<&mut Self, Error> {
        let known = JobDecl::lookup(decl.kind)?;
        if !std::ptr::eq(known, decl) {
            return Err(Error::internal(format!("job kind `{}` is declared twice", decl.kind)));
        }
        if self.handlers.contains_key(decl.kind) {
            return Err(Error::conflict(format!("job kind `{}` already has a handler", decl.kind)));
        }
        self.handlers.insert(decl.kind, (decl, Arc::new(handler)));
        Ok(self)
    }
    /// [`Registry::register`] with an async closure.
    pub fn register_fn<F, Fut>(&mut self, decl: &'static JobDecl, f: F) -> Result<&mut Self, Error>
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Failure>> + Send + 'static,
    {
        self.register(decl, FnHandler(f))
    }
    /// The kinds with a handler.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().map(|k| (*k).to_owned()).collect();
        k.sort();
        k
    }
    fn get(&self, kind: &str) -> Option<&(&'static JobDecl, Arc<dyn Handler>)> {
        self.handlers.get(kind)
    }
}

/// Wakes a pool's idle workers at once (instead of at their next poll): call [`Wake::notify`] when
/// jobs were enqueued — the hook for a `LISTEN/NOTIFY` or change-feed listener.
#[derive(Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// A new wake signal.
    pub fn new() -> Self {
        Self::default()
    }
    /// Wakes every idle worker of the pools holding this signal.
    pub fn notify(&self) {
        self.0.notify_waiters();
    }
}

/// How a pool runs.
#[derive(Clone)]
pub struct PoolConfig {
    /// Worker ids are `<name>-<n>`; give each process its own name (a lease names its worker).
    pub name: String,
    /// Worker tasks (jobs run at once).
    pub workers: usize,
    /// Jobs one claim takes.
    pub batch: u32,
    /// How long an idle worker waits before claiming again (unless woken).
    pub poll_interval: Duration,
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// How often held leases are extended (well under `lease`).
    pub heartbeat_every: Duration,
    /// How often the rescuer looks for lapsed leases (and prunes); `None`: this pool runs no rescuer.
    pub rescue_every: Option<Duration>,
    /// Completed and cancelled jobs older than this are deleted by the rescuer; `None`: kept.
    pub retention: Option<Duration>,
    /// How long a running job may go on after shutdown begins before it is released.
    pub shutdown_grace: Duration,
    /// Wakes idle workers early.
    pub wake: Wake,
}

impl PoolConfig {
    /// 8 workers claiming 10 at a time, polling every 200 ms, 30 s leases extended every 10 s, a
    /// rescuer every 5 s, finished jobs kept a day, 10 s of grace at shutdown.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            workers: 8,
            batch: 10,
            poll_interval: Duration::from_millis(200),
            lease: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(10),
            rescue_every: Some(Duration::from_secs(5)),
            retention: Some(Duration::from_secs(24 * 3600)),
            shutdown_grace: Duration::from_secs(10),
            wake: Wake::new(),
        }
    }
}

/// What a pool has done so far.
#[derive(Debug, Default)]
pub struct PoolStats {
    /// Jobs claimed.
    pub claimed: AtomicU64,
    /// Jobs completed.
    pub completed: AtomicU64,
    /// Failed attempts that will be retried.
    pub retried: AtomicU64,
    /// Jobs that died.
    pub dead: AtomicU64,
    /// Jobs released (shutdown).
    pub released: AtomicU64,
    /// Jobs rescued from lapsed leases.
    pub rescued: AtomicU64,
    /// Jobs whose lease was lost while this pool held them (rescued elsewhere, or cancelled).
    pub lost: AtomicU64,
    /// Store calls that failed (the lease lapses and the rescuer takes over).
    pub errors: AtomicU64,
    /// Finished jobs pruned.
    pub pruned: AtomicU64,
}

impl PoolStats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A running pool. Dropping it shuts the pool down gracefully in the background (as
/// [`PoolHandle::shutdown`] does, without waiting).
pub struct PoolHandle {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<PoolStats>,
}

impl PoolHandle {
    /// What the pool has done so far.
    pub fn stats(&self) -> &PoolStats {
        &self.stats
    }
    /// Stops gracefully: no new claims; a running job finishes within the grace period (else it is
    /// released), claimed jobs not started are released. Returns once every task has ended.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
    /// Stops at once, as a crash would: tasks are aborted, nothing is settled or released, leases
    /// simply stop being extended (the rescuer of another pool gives the jobs back).
    pub async fn kill(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// A pool of workers over a store.
pub struct WorkerPool<S> {
    store: S,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    registry: Arc<Registry>,
    config: PoolConfig,
}

impl<S: Store + Clone + 'static> WorkerPool<S> {
    /// A pool running `registry`'s handlers on `store`; time from `clock`, jitter from `ids`.
    pub fn new(
        store: S,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
        registry: Registry,
        config: PoolConfig,
    ) -> Self {
        Self { store, clock, ids, registry: Arc::new(registry), config }
    }

    /// Starts the workers (and the rescuer); `internal` when the registry is empty or the config
    /// cannot work (no workers, no batch, a heartbeat not shorter than the lease, a zero poll or
    /// rescue interval).
    pub fn start(self) -> Result<PoolHandle, Error> {
        let c = &self.config;
        if self.registry.handlers.is_empty() {
            return Err(Error::internal("a pool needs at least one handler"));
        }
        if c.workers == 0 || c.batch == 0 || c.name.is_empty() {
            return Err(Error::internal("a pool needs a name, workers and a batch size"));
        }
        if c.heartbeat_every >= c.lease || c.heartbeat_every.is_zero() {
            return Err(Error::internal("heartbeats must come more often than leases lapse"));
        }
        if c.poll_interval.is_zero() || c.rescue_every.is_some_and(|r| r.is_zero()) {
            return Err(Error::internal("polls and rescues need an interval above zero"));
        }
        let (tx, rx) = watch::channel(false);
        let stats = Arc::new(PoolStats::default());
        let shared = Arc::new(Shared {
            store: self.store,
            clock: self.clock,
            ids: self.ids,
            registry: self.registry,
            config: self.config.clone(),
            stats: stats.clone(),
        });
        let mut tasks = Vec::new();
        for n in 0..c.workers {
            let worker = Worker::new(shared.clone(), format!("{}-{n}", c.name));
            tasks.push(tokio::spawn(worker.clone().heartbeats()));
            tasks.push(tokio::spawn(worker.run(rx.clone())));
        }
        if let Some(every) = c.rescue_every {
            tasks.push(tokio::spawn(rescuer(shared, every, rx)));
        }
        Ok(PoolHandle { shutdown: tx, tasks, stats })
    }
}

struct Shared<S> {
    store: S,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    registry: Arc<Registry>,
    config: PoolConfig,
    stats: Arc<PoolStats>,
}

impl<S> Shared<S> {
    fn lease_until(&self, now: Timestamp) -> Timestamp {
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::seconds(30));
        now.checked_add(lease).unwrap_or(now)
    }
}

/// One worker: its id, the leases it holds, and the ones it lost.
struct Worker<S> {
    shared: Arc<Shared<S>>,
    id: String,
    held: Arc<Mutex<HashMap<JobId, Lease>>>,
    lost: Arc<Mutex<HashSet<JobId>>>,
    lost_signal: Arc<Notify>,
    /// Set (and notified) when the worker's loop has ended: its heartbeat task ends too.
    finished: Arc<std::sync::atomic::AtomicBool>,
    done: Arc<Notify>,
}

impl<S> Clone for Worker<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            id: self.id.clone(),
            held: self.held.clone(),
            lost: self.lost.clone(),
            lost_signal: self.lost_signal.clone(),
            finished: self.finished.clone(),
            done: self.done.clone(),
        }
    }
}

/// How one job's run ended.
enum Ran {
    Done(Result<(), Failure>),
    /// Its lease was lost (rescued elsewhere or cancelled): its new owner decides.
    Lost,
    /// Shutdown's grace ran out: released.
    Interrupted,
}

impl<S: Store + Clone + 'static> Worker<S> {
    fn new(shared: Arc<Shared<S>>, id: String) -> Self {
        Self {
            shared,
            id,
            held: Arc::default(),
            lost: Arc::default(),
            lost_signal: Arc::new(Notify::new()),
            finished: Arc::default(),
            done: Arc::new(Notify::new()),
        }
    }

    fn hold(&self, lease: Lease) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).insert(lease.job, lease);
    }
    fn drop_lease(&self, job: JobId) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(&job);
        self.lost.lock().unwrap_or_else(PoisonError::into_inner).remove(&job);
    }
    fn is_lost(&self, job: JobId) -> bool {
        self.lost.lock().unwrap_or_else(PoisonError::into_inner).contains(&job)
    }

    /// Claims and runs jobs until shutdown (or until the pool's handle is dropped).
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        self.work(&mut shutdown).await;
        self.finished.store(true, Ordering::SeqCst);
        // A permit if the heartbeat task is not waiting right now.
        self.done.notify_one();
    }

    async fn work(&self, shutdown: &mut watch::Receiver<bool>) {
        let sh = self.shared.clone();
        let kinds = sh.registry.kinds();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let now = sh.clock.now();
            let claim = Claim {
                worker: self.id.clone(),
                kinds: kinds.clone(),
                limit: sh.config.batch,
                now,
                lease_until: sh.lease_until(now),
            };
            let jobs = match sh.store.claim_jobs(&claim).await {
                Ok(jobs) => jobs,
                Err(_) => {
                    PoolStats::add(&sh.stats.errors, 1);
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(sh.config.poll_interval) => {}
                    _ = sh.config.wake.0.notified() => {}
                    changed = shutdown.changed() => if changed.is_err() { return },
                }
                continue;
            }
            PoolStats::add(&sh.stats.claimed, jobs.len() as u64);
            for job in &jobs {
                if let Some(lease) = job.lease() {
                    self.hold(lease);
                }
            }
            let mut queue = jobs.into_iter();
            while let Some(job) = queue.next() {
                if *shutdown.borrow() || shutdown.has_changed().is_err() {
                    // Not started: back to the queue, with the rest of the batch.
                    for j in std::iter::once(job).chain(queue.by_ref()) {
                        self.settle(&j, Settle::Release).await;
                    }
                    break;
                }
                self.run_one(job, shutdown).await;
            }
        }
    }

    async fn run_one(&self, job: Job, shutdown: &mut watch::Receiver<bool>) {
        let sh = &self.shared;
        let Some((decl, handler)) = sh.registry.get(&job.kind).cloned() else {
            // Claims name only the registry's kinds; a stray job is never run on a guess.
            let error = format!("no handler for job kind `{}`", job.kind);
            self.settle(&job, Settle::Dead { error }).await;
            return;
        };
        let mut task = tokio::spawn({
            let job = job.clone();
            async move { handler.run(job).await }
        });
        let grace = tokio::time::sleep(Duration::MAX);
        tokio::pin!(grace);
        let mut stopping = *shutdown.borrow();
        if stopping {
            grace.as_mut().reset(tokio::time::Instant::now() + sh.config.shutdown_grace);
        }
        let ran = loop {
            tokio::select! {
                r = &mut task => break match r {
                    Ok(r) => Ran::Done(r),
                    Err(e) if e.is_panic() => Ran::Done(Err(Failure::Transient("the handler panicked".into()))),
                    Err(_) => Ran::Done(Err(Failure::Transient("the handler was cancelled".into()))),
                },
                _ = self.lost_signal.notified() => if self.is_lost(job.id) { break Ran::Lost },
                _ = shutdown.changed(), if !stopping => {
                    // A change, or the handle dropped: stop either way.
                    stopping = true;
                    grace.as_mut().reset(tokio::time::Instant::now() + sh.config.shutdown_grace);
                }
                _ = &mut grace, if stopping => break Ran::Interrupted,
            }
        };
        match ran {
            Ran::Done(Ok(())) => self.settle(&job, Settle::Complete).await,
            Ran::Done(Err(failure)) => {
                let outcome = after_failure(&job, decl.backoff, &failure, sh.clock.now(), jitter(sh.ids.as_ref()));
                self.settle(&job, outcome).await;
            }
            Ran::Lost => {
                task.abort();
                PoolStats::add(&sh.stats.lost, 1);
                self.drop_lease(job.id);
            }
            Ran::Interrupted => {
                task.abort();
                self.settle(&job, Settle::Release).await;
            }
        }
    }

    async fn settle(&self, job: &Job, outcome: Settle) {
        let sh = &self.shared;
        let Some(lease) = job.lease() else { return };
        let counter = match &outcome {
            Settle::Complete => &sh.stats.completed,
            Settle::Retry { .. } => &sh.stats.retried,
            Settle::Dead { .. } => &sh.stats.dead,
            Settle::Release => &sh.stats.released,
        };
        match sh.store.settle_job(&lease, &outcome, sh.clock.now()).await {
            Ok(()) => PoolStats::add(counter, 1),
            Err(StoreError::LeaseLost { .. }) => PoolStats::add(&sh.stats.lost, 1),
            // The lease lapses and a rescuer decides; nothing is lost but time.
            Err(_) => PoolStats::add(&sh.stats.errors, 1),
        }
        self.drop_lease(job.id);
    }

    /// Extends every held lease every `heartbeat_every` until the worker's loop has ended (also
    /// during a graceful shutdown); a lease the store refuses is lost (the running job is abandoned,
    /// a waiting one skipped).
    async fn heartbeats(self) {
        let sh = self.shared.clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(sh.config.heartbeat_every) => {}
                _ = self.done.notified() => {}
            }
            if self.finished.load(Ordering::SeqCst) {
                return;
            }
            let leases: Vec<Lease> =
                self.held.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect();
            let until = sh.lease_until(sh.clock.now());
            for lease in leases {
                match sh.store.heartbeat_job(&lease, until).await {
                    Ok(()) => {}
                    Err(StoreError::LeaseLost { job }) => {
                        self.lost.lock().unwrap_or_else(PoisonError::into_inner).insert(job);
                        self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(&job);
                        self.lost_signal.notify_waiters();
                    }
                    Err(_) => PoolStats::add(&sh.stats.errors, 1),
                }
            }
        }
    }
}

/// Gives lapsed leases' jobs back to the queue (core decides: retry after backoff, or dead when the
/// job has had its attempts), and prunes finished jobs past the retention.
async fn rescuer<S: Store + Clone + 'static>(sh: Arc<Shared<S>>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let _ = rescue_once(&sh.store, sh.clock.as_ref(), sh.ids.as_ref(), &sh.stats).await;
        if let Some(keep) = sh.config.retention {
            let now = sh.clock.now();
            let cut = chrono::Duration::from_std(keep).ok().and_then(|k| now.checked_sub(k));
            if let Some(cut) = cut {
                match sh.store.prune_jobs(cut, 1_000).await {
                    Ok(n) => PoolStats::add(&sh.stats.pruned, n),
                    Err(_) => PoolStats::add(&sh.stats.errors, 1),
                }
            }
        }
    }
}

/// One pass of the rescuer over up to 100 lapsed leases; returns how many jobs it rescued.
pub async fn rescue_once<S: Store + ?Sized>(
    store: &S,
    clock: &dyn Clock,
    ids: &dyn IdSource,
    stats: &PoolStats,
) -> Result<u64, StoreError> {
    let now = clock.now();
    let mut rescued = 0;
    for job in store.expired_jobs(now, 100).await? {
        let Some(lease) = job.lease() else { continue };
        let outcome = after_lease_expired(&job, now, jitter(ids));
        match store.rescue_job(&lease, &outcome, now).await {
            Ok(()) => rescued += 1,
            // Heartbeated, settled or rescued by someone else meanwhile.
            Err(StoreError::LeaseLost { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    PoolStats::add(&stats.rescued, rescued);
    Ok(rescued)
}
