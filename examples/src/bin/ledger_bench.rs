//! Ledger throughput: transfers per second through hearth on SQLite and Postgres, next to the same
//! transfer as raw SQL driven by `pgbench` against the same Postgres, in one run.
//!
//! ```text
//! scripts/bench.sh ledger            # finds/starts Postgres, release build, prints the table
//! cargo run --release -p hearth-examples --bin ledger-bench -- <postgres-url> [seconds] [clients]
//! ```
//!
//! Scenarios: transfers between random pairs of many accounts, or all debiting one hot account
//! (a wallet, or an account with `flags.history`, whose transfers commit one at a time); one
//! transfer per commit, or 100 linked transfers per commit. This is a benchmark, not a test: it
//! asserts nothing about time.

use hearth_core::ledger::accounts::{AccountInput, AccountInputFlags};
use hearth_core::ledger::engine::TransferInput;
use hearth_core::ledger::model::{AccountId, AccountKind, TransferCode, TransferResult};
use hearth_core::ledger::Ledger;
use hearth_core::money::Currency;
use hearth_core::store::Store;
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::testing::verified_transfers;
use hearth_core::Actor;
use hearth_examples::bench::{drive, main_with, pgbench_tps};
use hearth_postgres::PgStore;
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::Arc;

/// Accounts in the many-accounts scenarios (and in the raw-SQL table).
const ACCOUNTS: usize = 1_000;
/// Transfers per commit in the batched scenarios.
const BATCH: usize = 100;

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    hot: bool,
    batch: usize,
    /// The hot account keeps balance history.
    history: bool,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario { name: "many accounts, single", hot: false, batch: 1, history: false },
    Scenario { name: "hot account, single", hot: true, batch: 1, history: false },
    Scenario { name: "many accounts, batch 100 linked", hot: false, batch: BATCH, history: false },
    Scenario { name: "hot account, batch 100 linked", hot: true, batch: BATCH, history: false },
    Scenario { name: "hot history account, single", hot: true, batch: 1, history: true },
];

/// A wallet-to-wallet transfer of `minor` cents, allowed because the bench runs the verified path.
fn transfer(debit: AccountId, credit: AccountId, minor: i64, linked: bool) -> TransferInput {
    TransferInput { linked, ..hearth_core::testing::ledger::transfer(debit, credit, minor, TransferCode::TopUp) }
}

/// Opens `ACCOUNTS` wallets and funds each generously; and one account with `flags.history` (no
/// limits), returned last.
async fn setup<S: Store + Clone + 'static>(ledger: &Ledger<S>) -> Result<(Vec<AccountId>, AccountId), String> {
    let sys = Actor::System;
    let clearing =
        ledger.system_account(&sys, AccountKind::GatewayClearing, Currency::INR).await.map_err(|e| e.to_string())?;
    let mut wallets = Vec::with_capacity(ACCOUNTS);
    for _ in 0..ACCOUNTS {
        let owner = hearth_core::id::UserId::generate(&RandomIds);
        wallets.push(ledger.open_wallet(&sys, owner, Currency::INR).await.map_err(|e| e.to_string())?.id);
    }
    for chunk in wallets.chunks(BATCH) {
        let batch = chunk.iter().map(|w| transfer(clearing.id, *w, 1_000_000_000, false)).collect();
        ledger.runner().execute(&sys, None, &verified_transfers(batch)).await.map_err(|e| e.to_string())?;
    }
    let history = AccountInput {
        id: AccountId::generate(&RandomIds),
        currency: Some(Currency::INR),
        code: 1,
        flags: AccountInputFlags { history: true, ..AccountInputFlags::default() },
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    };
    let out = ledger.create_accounts(&sys, vec![history.clone()]).await.map_err(|e| e.to_string())?;
    if out[0].result != hearth_core::ledger::model::AccountResult::Ok {
        return Err(format!("history account: {}", out[0].result));
    }
    Ok((wallets, history.id))
}

async fn run<S: Store + Clone + 'static>(
    ledger: &Ledger<S>,
    accounts: &Arc<(Vec<AccountId>, AccountId)>,
    s: Scenario,
    clients: usize,
    secs: u64,
) -> Result<f64, String> {
    let (ledger, accounts) = (ledger.clone(), accounts.clone());
    drive(clients, secs, move |_c, rng| {
        let (wallets, history) = (&accounts.0, accounts.1);
        let mut batch = Vec::with_capacity(s.batch);
        for k in 0..s.batch {
            let a = if s.hot { 0 } else { rng.next(wallets.len()) };
            let mut b = rng.next(wallets.len());
            if b == a {
                b = (b + 1) % wallets.len();
            }
            let debit = if s.history { history } else { wallets[a] };
            batch.push(transfer(debit, wallets[b], 1, k + 1 < s.batch));
        }
        let ledger = ledger.clone();
        async move {
            let out = ledger.runner().execute(&Actor::System, None, &verified_transfers(batch)).await;
            let out = out.map_err(|e| e.to_string())?;
            Ok(out.iter().filter(|x| x.result == TransferResult::Ok).count() as u64)
        }
    })
    .await
}

/// The issue's raw-SQL transfer: lock both accounts in id order, insert the two entries, update the
/// cached balances — one transaction per transfer.
const RAW_SCRIPT: &str = r"\set a random(1, :naccounts)
\set d random(1, :naccounts - 1)
\set b 1 + ((:a - 1 + :d) % :naccounts)
BEGIN;
SELECT id FROM bench_raw.accounts WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
INSERT INTO bench_raw.entries (account_id, amount) VALUES (:a, -1), (:b, 1);
UPDATE bench_raw.accounts SET balance = balance - 1 WHERE id = :a;
UPDATE bench_raw.accounts SET balance = balance + 1 WHERE id = :b;
COMMIT;
";

async fn raw_sql(url: &str, hot: bool, clients: usize, secs: u64) -> Result<f64, String> {
    let pool = sqlx::PgPool::connect(url).await.map_err(|e| e.to_string())?;
    for sql in [
        "DROP SCHEMA IF EXISTS bench_raw CASCADE",
        "CREATE SCHEMA bench_raw",
        "CREATE TABLE bench_raw.accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)",
        "CREATE TABLE bench_raw.entries (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id BIGINT NOT NULL, amount BIGINT NOT NULL)",
        "INSERT INTO bench_raw.accounts SELECT g, 1000000000 FROM generate_series(1, 1000) g",
    ] {
        sqlx::query(sql).execute(&pool).await.map_err(|e| e.to_string())?;
    }
    let script =
        if hot { RAW_SCRIPT.replace(r"\set a random(1, :naccounts)", r"\set a 1") } else { RAW_SCRIPT.to_owned() };
    pgbench_tps(url, &script, &[("naccounts", ACCOUNTS.to_string())], clients, secs)
}

async fn bench(url: &str, secs: u64, clients: usize) -> Result<(), String> {
    println!("hearth ledger benchmark: {secs} s per scenario, {clients} concurrent clients, {ACCOUNTS} accounts\n");
    let dir = std::env::temp_dir().join(format!("hearth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sqlite = SqliteStore::open(dir.join("bench.db")).await.map_err(|e| e.to_string())?;
    let pg = PgStore::connect(url).await.map_err(|e| e.to_string())?;
    pg.migrate().await.map_err(|e| e.to_string())?;
    let clock = Arc::new(SystemClock);
    let sqlite_ledger = Ledger::new(sqlite, clock.clone(), Arc::new(RandomIds));
    let pg_ledger = Ledger::new(pg, clock, Arc::new(RandomIds));
    let sqlite_wallets = Arc::new(setup(&sqlite_ledger).await?);
    let pg_wallets = Arc::new(setup(&pg_ledger).await?);

    let mut rows = Vec::new();
    for s in SCENARIOS {
        let lite = run(&sqlite_ledger, &sqlite_wallets, s, clients, secs).await?;
        let pg = run(&pg_ledger, &pg_wallets, s, clients, secs).await?;
        rows.push((s, lite, pg));
    }
    let raw_many = raw_sql(url, false, clients, secs).await?;
    let raw_hot = raw_sql(url, true, clients, secs).await?;

    println!("| scenario | hearth SQLite (transfers/s) | hearth Postgres (transfers/s) | raw SQL Postgres, pgbench (transfers/s) | hearth / raw |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (s, lite, pg) in &rows {
        let raw = match (s.batch, s.hot) {
            (1, false) => Some(raw_many),
            (1, true) if !s.history => Some(raw_hot),
            _ => None,
        };
        let (raw_cell, ratio) = match raw {
            Some(r) => (format!("{r:.0}"), format!("{:.2}", pg / r)),
            None => ("—".to_owned(), "—".to_owned()),
        };
        println!("| {} | {lite:.0} | {pg:.0} | {raw_cell} | {ratio} |", s.name);
    }
    let single_many = rows[0].2;
    let batch_many = rows[2].2;
    println!("\nPostgres batching gain (many accounts): {:.1}x single", batch_many / single_many);
    println!("SQLite batching gain (many accounts): {:.1}x single", rows[2].1 / rows[0].1);
    println!(
        "hot history account / hot wallet, single: Postgres {:.2}, SQLite {:.2}",
        rows[4].2 / rows[1].2,
        rows[4].1 / rows[1].1
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    main_with("ledger-bench", |url, secs, clients| async move { bench(&url, secs, clients).await }).await
}
