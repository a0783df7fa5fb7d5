//! Stores for the runtime's tests — a real SQLite file and a real Postgres schema — and the cases
//! both run.
//!
//! Postgres comes from `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`; when none
//! can be reached the Postgres tests FAIL — never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code, unreachable_pub, missing_docs)]

pub mod cases;

use hearth_postgres::{PgConnectOptions, PgStore};
use hearth_sqlite::SqliteStore;
use sqlx::postgres::PgPoolOptions;
use sqlx::ConnectOptions;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A migrated Postgres store in a new schema (named `hearth_t_<unix secs>_…`, like the storage
/// crate's tests, whose cleanup drops stale ones).
pub async fn postgres(connections: u32) -> PgStore {
    let base = PgConnectOptions::from_str(&url()).expect("DATABASE_URL parses").log_statements(log::LevelFilter::Off);
    let mut admin = base.connect().await.unwrap_or_else(|e| {
        panic!("no Postgres at DATABASE_URL={} ({e}); run scripts/test.sh, which finds or starts one", url())
    });
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let schema = format!("hearth_t_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let opts = base.options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new().max_connections(connections).connect_with(opts).await.unwrap();
    let store = PgStore::from_pool(pool);
    store.migrate().await.expect("migrations apply");
    store
}

/// A SQLite store in a new file (kept alive by the returned directory).
pub async fn sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("hearth.db")).await.unwrap();
    (store, dir)
}
