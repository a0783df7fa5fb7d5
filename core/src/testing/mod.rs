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
pub mod kernel;
pub mod khedma;
pub mod ledger;
pub mod maintenance;
pub mod notifications;
pub mod offline;
pub mod payments;
pub mod residents;
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
    all.extend(maintenance::cases::<S>());
    all.extend(walks::cases::<S>());
    all.extend(offline::cases::<S>());
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
/// with its version, and the outbox (every audited change emits an event in the same commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    rows: Vec<(&'static str, uuid::Uuid, u64)>,
    outbox: Vec<i64>,
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
    Digest { rows, outbox }
}

/// A transfer batch as the verified-payment path submits it (top-ups and refunds allowed). For tests
/// and benchmarks only: production code reaches these paths through `payments` alone.
pub fn verified_transfers(transfers: Vec<crate::ledger::engine::TransferInput>) -> crate::ledger::CreateTransfers {
    crate::ledger::CreateTransfers { transfers, allow_top_up: true, allow_refund: true }
}
