//! A fresh, isolated Postgres schema per test.
//!
//! The server comes from `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`.
//! `scripts/test.sh` finds or starts one; when none can be reached the tests FAIL — never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code, unreachable_pub)]

use hearth_postgres::{PgConnectOptions, PgStore};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::ConnectOptions;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Connections per test store: enough to race, few enough for many tests in parallel.
const TEST_POOL_CONNECTIONS: u32 = 4;
/// Schemas left by runs older than this are dropped at start.
const STALE_SCHEMA_SECS: u64 = 3600;

pub fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A pool whose `search_path` is a new, empty schema.
pub async fn empty_schema() -> PgPool {
    empty_schema_with(TEST_POOL_CONNECTIONS).await
}

/// [`empty_schema`] with a pool of `connections`.
pub async fn empty_schema_with(connections: u32) -> PgPool {
    empty_schema_named(connections).await.0
}

/// A pool on `schema` (made by [`empty_schema_named`]) whose connections run with the session
/// `settings` (`[("statement_timeout", "300ms")]`).
pub async fn pool_on(schema: &str, connections: u32, settings: &[(&str, &str)]) -> PgPool {
    let base = PgConnectOptions::from_str(&url()).expect("DATABASE_URL parses").log_statements(log::LevelFilter::Off);
    let mut options = vec![("search_path", schema)];
    options.extend_from_slice(settings);
    PgPoolOptions::new().max_connections(connections).connect_with(base.options(options)).await.unwrap()
}

/// [`empty_schema_with`], and the new schema's name.
pub async fn empty_schema_named(connections: u32) -> (PgPool, String) {
    let base = PgConnectOptions::from_str(&url()).expect("DATABASE_URL parses").log_statements(log::LevelFilter::Off);
    let mut admin = base.connect().await.unwrap_or_else(|e| {
        panic!("no Postgres at DATABASE_URL={} ({e}); run scripts/test.sh, which finds or starts one", url())
    });
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    // Drop schemas of earlier runs that died before cleaning up (never those of a live run).
    let stale: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'hearth_t_%'")
            .fetch_all(&mut admin)
            .await
            .unwrap();
    for s in stale {
        let born: u64 = s.split('_').nth(2).and_then(|t| t.parse().ok()).unwrap_or(0);
        if born + STALE_SCHEMA_SECS < now {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {s} CASCADE")))
                .execute(&mut admin)
                .await;
        }
    }
    let schema = format!("hearth_t_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let opts = base.options([("search_path", schema.as_str())]);
    (PgPoolOptions::new().max_connections(connections).connect_with(opts).await.unwrap(), schema)
}

/// A migrated store in a new schema.
pub async fn fresh() -> PgStore {
    fresh_with(TEST_POOL_CONNECTIONS).await
}

/// [`fresh`] with a pool of `connections`.
pub async fn fresh_with(connections: u32) -> PgStore {
    let store = PgStore::from_pool(empty_schema_with(connections).await);
    store.migrate().await.expect("migrations apply");
    store
}
