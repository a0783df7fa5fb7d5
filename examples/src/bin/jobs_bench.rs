//! Job queue throughput: jobs claimed and completed per second through hearth on SQLite and
//! Postgres, next to a raw-SQL `FOR UPDATE SKIP LOCKED` loop (and its SQLite counterpart) against
//! the same databases, in one run.
//!
//! ```text
//! scripts/bench.sh jobs               # finds/starts Postgres, release build, prints the table
//! cargo run --release -p hearth-examples --bin jobs-bench -- <postgres-url> [seconds] [workers]
//! ```
//!
//! Three ways to drain a pre-filled queue of no-op jobs with `workers` concurrent workers, each
//! claiming 10 at a time and completing them one by one (one claim and ten completions per batch —
//! the same statements in all three):
//!
//! - **hearth queue**: the kernel's `JobQueue` calls (`claim_jobs`, `settle_job`) in a loop;
//! - **hearth pool**: the runtime's `WorkerPool` (heartbeat tasks, the registry, core's decisions)
//!   with a handler that does nothing;
//! - **raw SQL**: the same claim (`UPDATE … FROM (SELECT … ORDER BY priority DESC, run_at, id LIMIT
//!   10 FOR UPDATE SKIP LOCKED) RETURNING`) and lease-checked completion, hand-written over sqlx
//!   (Postgres) or rusqlite (SQLite) on a table of the same shape and indexes.
//!
//! Anchors: graphile-worker and River publish 10⁴–10⁵ jobs/s on larger machines (batched
//! completions, many cores). This is a benchmark, not a test: it asserts nothing about time.

use hearth_core::id::JobId;
use hearth_core::kernel::jobs::{new_job, Claim, EnqueueOptions, JobFilter, JobState, Settle};
use hearth_core::kernel::store::ChangeSet;
use hearth_core::kernel::Store;
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::testing::jobs::ECHO;
use hearth_core::Clock;
use hearth_examples::bench::main_with;
use hearth_postgres::PgStore;
use hearth_runtime::jobs::{PoolConfig, PoolStats, Registry, WorkerPool};
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Jobs per claim.
const BATCH: u32 = 10;
/// Jobs in the queue before each run: more than any run drains.
const FILL_PG: u32 = 400_000;
const FILL_SQLITE: u32 = 400_000;

fn lease_until(now: hearth_core::Timestamp) -> hearth_core::Timestamp {
    now.checked_add(chrono::Duration::seconds(30)).unwrap_or(now)
}

/// Fills a hearth store's queue through its commit (1,000 jobs per change set).
async fn fill_hearth<S: Store>(store: &S, n: u32) -> Result<(), String> {
    let now = SystemClock.now();
    let mut left = n;
    while left > 0 {
        let k = left.min(1_000);
        let jobs = (0..k)
            .map(|i| new_job(&ECHO, serde_json::json!({ "n": i }), EnqueueOptions::default(), now, &RandomIds))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        store.commit(ChangeSet { jobs, ..ChangeSet::default() }).await.map_err(|e| e.to_string())?;
        left -= k;
    }
    Ok(())
}

/// Fills the Postgres store's queue in one statement (much faster than committing 400k jobs).
async fn fill_pg(pg: &PgStore, n: u32) -> Result<(), String> {
    sqlx::query("TRUNCATE jobs").execute(pg.pool()).await.map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, priority, state, attempt, max_attempts, run_at, created_at)
         SELECT gen_random_uuid(), 'testing.echo', jsonb_build_object('n', g), 0, 'available', 0, 3,
                now() - interval '1 minute', now() - interval '1 minute'
         FROM generate_series(1, $1) g",
    )
    .bind(i64::from(n))
    .execute(pg.pool())
    .await
    .map_err(|e| e.to_string())?;
    sqlx::query("ANALYZE jobs").execute(pg.pool()).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// `workers` loops of claim-10-complete-each through the kernel's `JobQueue` for `secs` seconds.
async fn hearth_queue<S: Store + Clone + 'static>(store: &S, workers: usize, secs: u64) -> Result<f64, String> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (store, done) = (store.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let kinds = vec![ECHO.kind.to_owned()];
            while Instant::now() < deadline {
                let now = SystemClock.now();
                let claim = Claim {
                    worker: format!("q-{w}"),
                    kinds: kinds.clone(),
                    limit: BATCH,
                    now,
                    lease_until: lease_until(now),
                };
                let jobs = store.claim_jobs(&claim).await.map_err(|e| e.to_string())?;
                if jobs.is_empty() {
                    return Err("the queue ran dry: fill more".to_owned());
                }
                for j in jobs {
                    let lease = j.lease().ok_or("claimed without a lease")?;
                    store.settle_job(&lease, &Settle::Complete, SystemClock.now()).await.map_err(|e| e.to_string())?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// The runtime's `WorkerPool` with a no-op handler for `secs` seconds: completed jobs per second.
async fn hearth_pool<S: Store + Clone + 'static>(store: &S, workers: usize, secs: u64) -> Result<f64, String> {
    let before = store.count_jobs(&JobFilter::state(JobState::Completed)).await.map_err(|e| e.to_string())?;
    let mut registry = Registry::new();
    registry.register_fn(&ECHO, |_job| async { Ok(()) }).map_err(|e| e.to_string())?;
    let config = PoolConfig {
        workers,
        batch: BATCH,
        poll_interval: Duration::from_millis(10),
        rescue_every: None,
        retention: None,
        ..PoolConfig::new("bench")
    };
    let start = Instant::now();
    let pool = WorkerPool::new(store.clone(), Arc::new(SystemClock), Arc::new(RandomIds), registry, config)
        .start()
        .map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let completed = PoolStats::get(&pool.stats().completed);
    let elapsed = start.elapsed().as_secs_f64();
    pool.shutdown().await;
    let after = store.count_jobs(&JobFilter::state(JobState::Completed)).await.map_err(|e| e.to_string())?;
    if after - before < completed {
        return Err(format!("the pool counted {completed} completions, the store {}", after - before));
    }
    Ok(completed as f64 / elapsed)
}

const RAW_PG_SCHEMA: &[&str] = &[
    "DROP SCHEMA IF EXISTS bench_raw CASCADE",
    "CREATE SCHEMA bench_raw",
    "CREATE TABLE bench_raw.jobs (id UUID PRIMARY KEY, kind TEXT NOT NULL, payload JSONB NOT NULL,
         priority SMALLINT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
         run_at TIMESTAMPTZ NOT NULL, locked_by TEXT, lease_until TIMESTAMPTZ, attempted_at TIMESTAMPTZ,
         finished_at TIMESTAMPTZ, created_at TIMESTAMPTZ NOT NULL)",
    "CREATE INDEX ON bench_raw.jobs (priority DESC, run_at, id) WHERE state = 'available'",
    "CREATE INDEX ON bench_raw.jobs (lease_until) WHERE state = 'running'",
];

/// The hand-written `SKIP LOCKED` loop on Postgres: same claim, same lease-checked completion.
async fn raw_pg(url: &str, workers: usize, secs: u64) -> Result<f64, String> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(u32::try_from(workers).unwrap_or(8) + 2)
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    for sql in RAW_PG_SCHEMA {
        sqlx::query(*sql).execute(&pool).await.map_err(|e| e.to_string())?;
    }
    sqlx::query(
        "INSERT INTO bench_raw.jobs (id, kind, payload, priority, state, attempt, max_attempts, run_at, created_at)
         SELECT gen_random_uuid(), 'testing.echo', jsonb_build_object('n', g), 0, 'available', 0, 3,
                now() - interval '1 minute', now() - interval '1 minute'
         FROM generate_series(1, $1) g",
    )
    .bind(i64::from(FILL_PG))
    .execute(&pool)
    .await
    .map_err(|e| e.to_string())?;
    sqlx::query("ANALYZE bench_raw.jobs").execute(&pool).await.map_err(|e| e.to_string())?;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (pool, done) = (pool.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let me = format!("raw-{w}");
            while Instant::now() < deadline {
                let now = chrono::Utc::now();
                let rows: Vec<(uuid::Uuid, i32)> = sqlx::query_as(
                    "WITH picked AS (SELECT id FROM bench_raw.jobs WHERE state = 'available' AND run_at <= $1
                                       AND kind = ANY($2) ORDER BY priority DESC, run_at, id LIMIT $3
                                       FOR UPDATE SKIP LOCKED)
                     UPDATE bench_raw.jobs j SET state = 'running', attempt = j.attempt + 1, locked_by = $4,
                            lease_until = $5, attempted_at = $1
                     FROM picked WHERE j.id = picked.id RETURNING j.id, j.attempt",
                )
                .bind(now)
                .bind(vec!["testing.echo".to_owned()])
                .bind(i64::from(BATCH))
                .bind(&me)
                .bind(now + chrono::Duration::seconds(30))
                .fetch_all(&pool)
                .await
                .map_err(|e| e.to_string())?;
                if rows.is_empty() {
                    return Err("the raw queue ran dry: fill more".to_owned());
                }
                for (id, attempt) in rows {
                    let n = sqlx::query(
                        "UPDATE bench_raw.jobs SET state = 'completed', finished_at = $1, locked_by = NULL,
                                lease_until = NULL
                         WHERE id = $2 AND state = 'running' AND locked_by = $3 AND attempt = $4",
                    )
                    .bind(chrono::Utc::now())
                    .bind(id)
                    .bind(&me)
                    .bind(attempt)
                    .execute(&pool)
                    .await
                    .map_err(|e| e.to_string())?
                    .rows_affected();
                    if n != 1 {
                        return Err("raw completion lost its lease".to_owned());
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    sqlx::query("DROP SCHEMA bench_raw CASCADE").execute(&pool).await.map_err(|e| e.to_string())?;
    Ok(rate)
}

/// The same loop on a SQLite file with rusqlite: one writer connection (as hearth's), each worker's
/// statements on the blocking pool.
async fn raw_sqlite(path: &std::path::Path, workers: usize, secs: u64) -> Result<f64, String> {
    let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
         DROP TABLE IF EXISTS raw_jobs;
         CREATE TABLE raw_jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL, priority INTEGER NOT NULL,
             state TEXT NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, run_at INTEGER NOT NULL,
             locked_by TEXT, lease_until INTEGER, attempted_at INTEGER, finished_at INTEGER, created_at INTEGER NOT NULL) STRICT;
         CREATE INDEX raw_jobs_claim ON raw_jobs (priority DESC, run_at, id) WHERE state = 'available';",
    )
    .map_err(|e| e.to_string())?;
    {
        let now = SystemClock.now().unix_micros() - 60_000_000;
        let tx = conn.unchecked_transaction().map_err(|e| e.to_string())?;
        let mut st = tx
            .prepare(
                "INSERT INTO raw_jobs (id, kind, payload, priority, state, attempt, max_attempts, run_at, created_at)
                 VALUES (?, 'testing.echo', ?, 0, 'available', 0, 3, ?, ?)",
            )
            .map_err(|e| e.to_string())?;
        for i in 0..FILL_SQLITE {
            let id = JobId::generate(&RandomIds).to_string();
            st.execute(rusqlite::params![id, format!("{{\"n\":{i}}}"), now, now]).map_err(|e| e.to_string())?;
        }
        drop(st);
        tx.commit().map_err(|e| e.to_string())?;
    }
    let conn = Arc::new(Mutex::new(conn));
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (conn, done) = (conn.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let me = format!("raw-{w}");
            while Instant::now() < deadline {
                let (c, m) = (conn.clone(), me.clone());
                let claimed: Vec<(String, i64)> = tokio::task::spawn_blocking(move || {
                    let c = c.lock().map_err(|_| "poisoned".to_owned())?;
                    let now = SystemClock.now().unix_micros();
                    let mut st = c
                        .prepare_cached(
                            "UPDATE raw_jobs SET state = 'running', attempt = attempt + 1, locked_by = ?, lease_until = ?,
                                    attempted_at = ?
                             WHERE id IN (SELECT id FROM raw_jobs WHERE state = 'available' AND run_at <= ?
                                          AND kind IN (?) ORDER BY priority DESC, run_at, id LIMIT ?)
                             RETURNING id, attempt",
                        )
                        .map_err(|e| e.to_string())?;
                    let rows = st
                        .query_map(
                            rusqlite::params![m, now + 30_000_000, now, now, "testing.echo", i64::from(BATCH)],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .map_err(|e| e.to_string())?;
                    rows.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())??;
                if claimed.is_empty() {
                    return Err("the raw queue ran dry: fill more".to_owned());
                }
                for (id, attempt) in claimed {
                    let (c, m) = (conn.clone(), me.clone());
                    tokio::task::spawn_blocking(move || {
                        let c = c.lock().map_err(|_| "poisoned".to_owned())?;
                        let n = c
                            .prepare_cached(
                                "UPDATE raw_jobs SET state = 'completed', finished_at = ?, locked_by = NULL, lease_until = NULL
                                 WHERE id = ? AND state = 'running' AND locked_by = ? AND attempt = ?",
                            )
                            .and_then(|mut st| {
                                st.execute(rusqlite::params![SystemClock.now().unix_micros(), id, m, attempt])
                            })
                            .map_err(|e| e.to_string())?;
                        if n == 1 {
                            Ok(())
                        } else {
                            Err("raw completion lost its lease".to_owned())
                        }
                    })
                    .await
                    .map_err(|e| e.to_string())??;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

async fn bench(url: &str, secs: u64, workers: usize) -> Result<(), String> {
    println!("hearth jobs benchmark: {secs} s per scenario, {workers} workers, claims of {BATCH}, no-op jobs\n");
    let dir = std::env::temp_dir().join(format!("hearth-jobs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let pg = PgStore::connect(url).await.map_err(|e| e.to_string())?;
    pg.migrate().await.map_err(|e| e.to_string())?;

    fill_pg(&pg, FILL_PG).await?;
    let pg_queue = hearth_queue(&pg, workers, secs).await?;
    fill_pg(&pg, FILL_PG).await?;
    let pg_pool = hearth_pool(&pg, workers, secs).await?;
    let pg_raw = raw_pg(url, workers, secs).await?;

    let lite_queue = {
        let s = SqliteStore::open(dir.join("queue.db")).await.map_err(|e| e.to_string())?;
        fill_hearth(&s, FILL_SQLITE).await?;
        hearth_queue(&s, workers, secs).await?
    };
    let lite_pool = {
        let s = SqliteStore::open(dir.join("pool.db")).await.map_err(|e| e.to_string())?;
        fill_hearth(&s, FILL_SQLITE).await?;
        hearth_pool(&s, workers, secs).await?
    };
    let lite_raw = raw_sqlite(&dir.join("raw.db"), workers, secs).await?;

    println!("| store | hearth queue (jobs/s) | hearth worker pool (jobs/s) | raw SQL loop (jobs/s) | queue / raw | pool / raw |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, q, p, r) in [("Postgres", pg_queue, pg_pool, pg_raw), ("SQLite", lite_queue, lite_pool, lite_raw)] {
        println!("| {name} | {q:.0} | {p:.0} | {r:.0} | {:.2} | {:.2} |", q / r, p / r);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    main_with("jobs-bench", |url, secs, workers| async move { bench(&url, secs, workers).await }).await
}
