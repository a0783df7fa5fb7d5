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

use hearth_core::ledger::model::{AccountId, TransferResult};
use hearth_core::ledger::Ledger;
use hearth_core::store::Store;
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::testing::verified_transfers;
use hearth_core::Actor;
use hearth_examples::bench::{drive, ledger_wallets, main_with, pgbench_tps, transfer, ACCOUNTS, BATCH};
use hearth_postgres::PgStore;
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::Arc;

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

/// The issue's raw batched SQL: 100 transfers per transaction — lock the distinct accounts in id
/// order, ONE multi-row `INSERT` of the 200 entries, ONE `UPDATE … FROM (VALUES …)` of the summed
/// deltas (a `VALUES` list may name an account twice; an `UPDATE … FROM` changes a row once, so the
/// deltas are summed per account first). The pairs are drawn by pgbench (`\set`).
fn raw_batch_script(hot: bool) -> String {
    let mut script = String::new();
    for k in 1..=BATCH {
        if hot {
            script.push_str(&format!("\\set a{k} 1\n"));
        } else {
            script.push_str(&format!("\\set a{k} random(1, :naccounts)\n"));
        }
        script.push_str(&format!(
            "\\set d{k} random(1, :naccounts - 1)\n\\set b{k} 1 + ((:a{k} - 1 + :d{k}) % :naccounts)\n"
        ));
    }
    let ids: Vec<String> = (1..=BATCH).flat_map(|k| [format!(":a{k}"), format!(":b{k}")]).collect();
    let entries: Vec<String> = (1..=BATCH).map(|k| format!("(:a{k}, -1), (:b{k}, 1)")).collect();
    script.push_str("BEGIN;\n");
    script.push_str(&format!(
        "SELECT id FROM bench_raw.accounts WHERE id IN ({}) ORDER BY id FOR UPDATE;\n",
        ids.join(", ")
    ));
    script.push_str(&format!("INSERT INTO bench_raw.entries (account_id, amount) VALUES {};\n", entries.join(", ")));
    script.push_str(&format!(
        "UPDATE bench_raw.accounts a SET balance = a.balance + d.delta FROM (SELECT id, sum(delta) AS delta FROM (VALUES {}) v (id, delta) GROUP BY id) d WHERE a.id = d.id;\n",
        entries.join(", ")
    ));
    script.push_str("COMMIT;\n");
    script
}

/// Runs the raw single (`batch` 1) or batched script; returns transfers per second.
async fn raw_sql(url: &str, hot: bool, batch: usize, clients: usize, secs: u64) -> Result<f64, String> {
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
    let script = match (batch, hot) {
        (1, true) => RAW_SCRIPT.replace(r"\set a random(1, :naccounts)", r"\set a 1"),
        (1, false) => RAW_SCRIPT.to_owned(),
        (_, hot) => raw_batch_script(hot),
    };
    let tps = pgbench_tps(url, &script, &[("naccounts", ACCOUNTS.to_string())], clients, secs)?;
    Ok(tps * batch as f64)
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
    let sqlite_wallets = Arc::new(ledger_wallets(&sqlite_ledger).await?);
    let pg_wallets = Arc::new(ledger_wallets(&pg_ledger).await?);

    let mut rows = Vec::new();
    for s in SCENARIOS {
        let lite = run(&sqlite_ledger, &sqlite_wallets, s, clients, secs).await?;
        let pg = run(&pg_ledger, &pg_wallets, s, clients, secs).await?;
        rows.push((s, lite, pg));
    }
    let raw_many = raw_sql(url, false, 1, clients, secs).await?;
    let raw_hot = raw_sql(url, true, 1, clients, secs).await?;
    let raw_many_batch = raw_sql(url, false, BATCH, clients, secs).await?;
    let raw_hot_batch = raw_sql(url, true, BATCH, clients, secs).await?;

    println!("| scenario | hearth SQLite (transfers/s) | hearth Postgres (transfers/s) | raw SQL Postgres, pgbench (transfers/s) | hearth / raw |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (s, lite, pg) in &rows {
        let raw = match (s.batch, s.hot) {
            (1, false) => Some(raw_many),
            (1, true) if !s.history => Some(raw_hot),
            (_, false) => Some(raw_many_batch),
            (_, true) if !s.history => Some(raw_hot_batch),
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
