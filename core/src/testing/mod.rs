//! The store conformance suite: one set of tests every store must pass unchanged.
//!
//! A store crate writes only how to make a fresh, isolated store, in a test binary with
//! `harness = false`:
//!
//! ```text
//! fn main() -> std::process::ExitCode {
//!     hearth_core::testing::run_conformance(|| async { fresh_store().await })
//! }
//! ```
//!
//! Each testing module lists its own tests with [`crate::conformance_cases!`]; [`all_cases`] gathers them
//! (one line per module), and [`run_conformance`] runs each as its own test on a multi-threaded
//! runtime, so the concurrent tests really race.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod amenities;
pub mod canteen;
pub mod feed;
pub mod fixtures;
pub mod jobs;
pub mod kernel;
pub mod khedma;
pub mod ledger;
pub mod limits;
pub mod maintenance;
pub mod notifications;
pub mod offline;
pub mod payments;
pub mod residents;
pub mod residents_access;
pub mod rooms;
pub mod suite;
pub mod walks;

/// One conformance test, generic over the store.
pub struct Case<S> {
    /// The domain it belongs to.
    pub domain: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Runs it on a fresh store.
    pub run: fn(S) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

/// Declares a testing module's conformance tests: `conformance_cases!("amenities"; test_a, test_b);`
/// expands to `pub fn cases<S>() -> Vec<Case<S>>`. Each domain lists its own tests; [`all_cases`]
/// has one line per domain.
#[macro_export]
macro_rules! conformance_cases {
    ($domain:literal; $($name:ident),+ $(,)?) => {
        /// This module's conformance tests.
        pub fn cases<S: $crate::kernel::store::Store + Clone + 'static>() -> Vec<$crate::testing::Case<S>> {
            vec![$($crate::testing::Case { domain: $domain, name: stringify!($name), run: |s| Box::pin($name(s)) }),+]
        }
    };
}

/// `impl JobQueue` for a store wrapper, every call passed to its field `$field` (the suite's
/// fault-injecting stores wrap commits only).
#[macro_export]
#[doc(hidden)]
macro_rules! delegate_job_queue {
    ([$($generics:tt)*] $ty:ty, $field:ident) => {
        #[async_trait::async_trait]
        impl<$($generics)*> $crate::kernel::jobs::JobQueue for $ty {
            async fn claim_jobs(&self, claim: &$crate::kernel::jobs::Claim) -> $crate::kernel::StoreResult<Vec<$crate::kernel::jobs::Job>> {
                self.$field.claim_jobs(claim).await
            }
            async fn heartbeat_job(&self, lease: &$crate::kernel::jobs::Lease, until: $crate::time::Timestamp) -> $crate::kernel::StoreResult<()> {
                self.$field.heartbeat_job(lease, until).await
            }
            async fn settle_job(&self, lease: &$crate::kernel::jobs::Lease, outcome: &$crate::kernel::jobs::Settle, now: $crate::time::Timestamp) -> $crate::kernel::StoreResult<()> {
                self.$field.settle_job(lease, outcome, now).await
            }
            async fn expired_jobs(&self, now: $crate::time::Timestamp, limit: u32) -> $crate::kernel::StoreResult<Vec<$crate::kernel::jobs::Job>> {
                self.$field.expired_jobs(now, limit).await
            }
            async fn rescue_job(&self, lease: &$crate::kernel::jobs::Lease, outcome: &$crate::kernel::jobs::Settle, now: $crate::time::Timestamp) -> $crate::kernel::StoreResult<()> {
                self.$field.rescue_job(lease, outcome, now).await
            }
            async fn cancel_job(&self, id: $crate::id::JobId, now: $crate::time::Timestamp) -> $crate::kernel::StoreResult<Option<$crate::kernel::jobs::Job>> {
                self.$field.cancel_job(id, now).await
            }
            async fn job(&self, id: $crate::id::JobId) -> $crate::kernel::StoreResult<Option<$crate::kernel::jobs::Job>> {
                self.$field.job(id).await
            }
            async fn find_jobs(&self, filter: &$crate::kernel::jobs::JobFilter, limit: u32) -> $crate::kernel::StoreResult<Vec<$crate::kernel::jobs::Job>> {
                self.$field.find_jobs(filter, limit).await
            }
            async fn count_jobs(&self, filter: &$crate::kernel::jobs::JobFilter) -> $crate::kernel::StoreResult<u64> {
                self.$field.count_jobs(filter).await
            }
            async fn prune_jobs(&self, before: $crate::time::Timestamp, limit: u32) -> $crate::kernel::StoreResult<u64> {
                self.$field.prune_jobs(before, limit).await
            }
        }
    };
}

/// Every conformance test of every domain (one line per testing module).
pub fn all_cases<S: crate::kernel::store::Store + Clone + 'static>() -> Vec<Case<S>> {
    let mut all = Vec::new();
    all.extend(kernel::cases::<S>());
    all.extend(suite::cases::<S>());
    all.extend(ledger::cases::<S>());
    all.extend(payments::cases::<S>());
    all.extend(amenities::cases::<S>());
    all.extend(canteen::cases::<S>());
    all.extend(rooms::cases::<S>());
    all.extend(khedma::cases::<S>());
    all.extend(notifications::cases::<S>());
    all.extend(residents::cases::<S>());
    all.extend(residents_access::cases::<S>());
    all.extend(maintenance::cases::<S>());
    all.extend(limits::cases::<S>());
    all.extend(walks::cases::<S>());
    all.extend(offline::cases::<S>());
    all.extend(jobs::cases::<S>());
    all
}

/// The `main` of a store's conformance test binary (`harness = false`): every case of
/// [`all_cases`] becomes one test, named `<domain>::<test>`, run on a fresh store from `fresh` in
/// its own multi-threaded runtime (so the concurrent tests really race). Accepts the usual test
/// harness arguments (filters, `--list`, `--exact`), so `cargo test` and `cargo nextest` both work.
pub fn run_conformance<S, F, Fut>(fresh: F) -> std::process::ExitCode
where
    S: crate::kernel::store::Store + crate::kernel::feed::Feed + crate::kernel::feed::HoldCommit + Clone + 'static,
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = S> + Send + 'static,
{
    let args = libtest_mimic::Arguments::from_args();
    // The change feed's cases need the store's feed besides the storage contract.
    let trials = all_cases::<S>()
        .into_iter()
        .chain(feed::cases::<S>())
        .map(|case| {
            let fresh = fresh.clone();
            libtest_mimic::Trial::test(format!("{}::{}", case.domain, case.name), move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(4)
                    .enable_all()
                    .build()
                    .map_err(|e| libtest_mimic::Failed::from(format!("runtime: {e}")))?;
                rt.block_on(async move {
                    let store = fresh().await;
                    (case.run)(store).await;
                });
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// Everything a store holds that a refusal must leave alone: every row of every registered entity
/// with its version, the outbox (every audited change emits an event in the same commit), and the
/// job queue (a job rides in its business commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    rows: Vec<(&'static str, uuid::Uuid, u64)>,
    outbox: Vec<i64>,
    jobs: Vec<(crate::id::JobId, crate::kernel::jobs::JobState, u32)>,
}

/// The [`Digest`] of `store` now: compare one taken before a refusal with one taken after it.
pub async fn digest<S: crate::kernel::store::Store + ?Sized>(store: &S) -> Digest {
    let mut rows = Vec::new();
    for decl in crate::domains::entities() {
        let kind = crate::kernel::entity::EntityKind::of(decl);
        for r in store.query_rows(&crate::kernel::query::Query::kind(kind)).await.expect("query every row") {
            rows.push((decl.kind, r.row.uuid(decl.key).expect("key"), r.version));
        }
    }
    rows.sort();
    let outbox = store.outbox_after(0, 1_000_000).await.expect("outbox").into_iter().map(|(p, _)| p).collect();
    let all = crate::kernel::jobs::JobFilter::all();
    let mut jobs: Vec<_> =
        store.find_jobs(&all, 1_000_000).await.expect("jobs").into_iter().map(|j| (j.id, j.state, j.attempt)).collect();
    jobs.sort();
    Digest { rows, outbox, jobs }
}

/// A transfer batch as the verified-payment path submits it (top-ups and refunds allowed). For tests
/// and benchmarks only: production code reaches these paths through `payments` alone.
pub fn verified_transfers(transfers: Vec<crate::ledger::engine::TransferInput>) -> crate::ledger::CreateTransfers {
    crate::ledger::CreateTransfers { transfers, allow_top_up: true, allow_refund: true }
}
