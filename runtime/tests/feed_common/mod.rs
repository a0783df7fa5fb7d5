//! Real components for the runtime's tests: a SQLite file, a Postgres schema, NATS with JetStream.
//! Postgres comes from `DATABASE_URL` (else `postgres://postgres@127.0.0.1:5432/postgres`), NATS from
//! `NATS_URL` (else 127.0.0.1:4222, started with `nats-server -js` when nothing listens there).
//! When one cannot be had the tests FAIL — never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code, unreachable_pub)]

use hearth_core::id::{EventId, UserId};
use hearth_core::kernel::entity::{Entity, EntityRef, Readers};
use hearth_core::kernel::store::{ChangeSet, OutboxEvent, Store};
use hearth_core::system::RandomIds;
use hearth_core::time::Timestamp;
use hearth_postgres::PgStore;
use hearth_sqlite::SqliteStore;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

static DIRS: Mutex<Vec<tempfile::TempDir>> = Mutex::new(Vec::new());

/// A fresh SQLite store in a directory of its own.
pub async fn sqlite() -> SqliteStore {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    DIRS.lock().unwrap().push(dir);
    SqliteStore::open(path).await.unwrap()
}

pub fn pg_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A migrated Postgres store in a new schema.
pub async fn postgres() -> PgStore {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let base = sqlx::postgres::PgConnectOptions::from_str(&pg_url()).unwrap();
    let mut admin = base.connect().await.unwrap_or_else(|e| {
        panic!("no Postgres at DATABASE_URL={} ({e}); run scripts/test.sh, which finds or starts one", pg_url())
    });
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let schema = format!("hearth_t_{secs}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let opts = base.options([("search_path", schema.as_str())]);
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(6).connect_with(opts).await.unwrap();
    let store = PgStore::from_pool(pool);
    store.migrate().await.unwrap();
    store
}

pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "127.0.0.1:4222".to_owned())
}

/// The `nats-server` this run started, if it had to.
static STARTED: OnceLock<Mutex<Option<std::process::Child>>> = OnceLock::new();

fn nats_server_binary() -> Option<String> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin/nats-server".into(), "/usr/bin/nats-server".into(), "/usr/local/bin/nats-server".into()])
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

/// A client of NATS with JetStream: the one at [`nats_url`], or one this run starts
/// (`nats-server -js`) when nothing listens there.
pub async fn nats() -> async_nats::jetstream::Context {
    let url = nats_url();
    if async_nats::connect(&url).await.is_err() {
        let started = STARTED.get_or_init(|| Mutex::new(None));
        let mut child = started.lock().unwrap();
        if child.is_none() {
            let bin = nats_server_binary().unwrap_or_else(|| {
                panic!("no NATS at {url} and no `nats-server` binary (apt-get install nats-server) to start one")
            });
            // Left running for later runs, as scripts/pg-ensure.sh leaves Postgres; no inherited
            // output, so no pipe waits on it.
            let store_dir = std::env::temp_dir().join("hearth-nats-jetstream").to_string_lossy().into_owned();
            let (host, port) = url.rsplit_once(':').unwrap_or(("127.0.0.1", "4222"));
            *child = Some(
                std::process::Command::new(&bin)
                    .args(["-js", "-a", host, "-p", port, "-sd", &store_dir])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("could not start {bin}: {e}")),
            );
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let client = loop {
        match async_nats::connect(&url).await {
            Ok(c) => break c,
            Err(e) if tokio::time::Instant::now() >= deadline => panic!("no NATS at {url}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    // JetStream itself is checked by the first stream a test creates (no responders without -js).
    async_nats::jetstream::new(client)
}

/// Event number `n` for `readers`.
pub fn event(n: u64, readers: Readers) -> OutboxEvent {
    OutboxEvent {
        id: EventId::generate(&RandomIds),
        topic: "feed.test".into(),
        entity: EntityRef {
            kind: hearth_core::homeheroes::model::ServiceRequest::kind(),
            id: uuid::Uuid::from_u128(u128::from(n)),
        },
        payload: serde_json::json!({ "n": n }),
        audience: readers.users.clone(),
        at: Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap(),
        readers,
    }
}

/// Commits `e` alone.
pub async fn emit<S: Store>(store: &S, e: OutboxEvent) {
    store.commit(ChangeSet { events: vec![e], ..ChangeSet::default() }).await.unwrap();
}

pub fn someone() -> UserId {
    UserId::generate(&RandomIds)
}
