//! The store conformance suite on a real Postgres: each test in its own fresh schema.
//!
//! The server comes from `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`.
//! `scripts/test.sh` finds or starts one; when none can be reached these tests FAIL — never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_postgres::{PgConnectOptions, PgStore};
use sqlx::postgres::PgPoolOptions;
use sqlx::ConnectOptions;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Connections per test store: enough to race, few enough for many tests in parallel.
const TEST_POOL_CONNECTIONS: u32 = 4;
/// Schemas left by runs older than this are dropped at start.
const STALE_SCHEMA_SECS: u64 = 3600;

fn url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn fresh() -> PgStore {
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
    let pool = PgPoolOptions::new().max_connections(TEST_POOL_CONNECTIONS).connect_with(opts).await.unwrap();
    let store = PgStore::from_pool(pool);
    store.migrate().await.expect("migrations apply");
    store
}

hearth_core::conformance_tests!(fresh().await);

#[tokio::test]
async fn audit_log_is_append_only_in_the_database() {
    let store = fresh().await;
    let err = sqlx::query("DELETE FROM audit_log").execute(store.pool()).await;
    // Row triggers fire per row: deleting from an empty log succeeds, so insert a row first.
    assert!(err.is_ok());
    sqlx::query("INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, after, version, at) VALUES ($1, 'profile', $1, 'create', 'system', '{}', 1, now())")
        .bind(uuid::Uuid::new_v4())
        .execute(store.pool())
        .await
        .unwrap();
    for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn ledger_transfers_are_append_only_in_the_database() {
    let store = fresh().await;
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, timeout_secs,
             linked, code, result, actor, created_at)
         VALUES ($1, $1, $1, 1, 'INR', 'single', 0, false, 'adjustment', 'accounts_must_be_different', 'system', now())",
    )
    .bind(id)
    .execute(store.pool())
    .await
    .unwrap();
    for sql in ["UPDATE ledger_transfers SET amount = 2", "DELETE FROM ledger_transfers", "TRUNCATE ledger_transfers"] {
        let err = sqlx::query(sql).execute(store.pool()).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

/// A change set that writes one row twice cannot be one statement (CTEs do not see each other's
/// effects): the store takes the transaction path, which applies the writes in order.
#[tokio::test]
async fn change_sets_writing_a_row_twice_take_the_transaction_path() {
    use hearth_core::ledger::model::{AccountKind, Balance};
    use hearth_core::ledger::Ledger;
    use hearth_core::store::{ChangeSet, Expect, LedgerStore, Store, Write};
    use hearth_core::system::{RandomIds, SystemClock};
    use std::sync::Arc;

    let store = fresh().await;
    let ledger = Ledger::new(store.clone(), Arc::new(SystemClock), Arc::new(RandomIds));
    let fees = ledger
        .system_account(&hearth_core::Actor::System, AccountKind::Refunds, hearth_core::Currency::INR)
        .await
        .unwrap();
    let credit = |n| Write::AccountDelta {
        account: fees.id,
        delta: Balance { credits_posted: n, ..Balance::default() },
        require_active: true,
    };
    store.commit(ChangeSet { writes: vec![credit(100), credit(50)], ..ChangeSet::default() }).await.unwrap();
    let account = store.ledger_accounts(&[fees.id]).await.unwrap().remove(0);
    assert_eq!(account.value.balance.credits_posted, 150);
    // Insert and update of one row, in order, in one change set.
    let mut renamed = account.value.clone();
    renamed.flags.frozen = true;
    let writes = vec![Write::LedgerAccount { value: renamed, expect: Expect::Version(account.version) }, credit(1)];
    let err = store.commit(ChangeSet { writes, ..ChangeSet::default() }).await.unwrap_err();
    // The versioned flag write lands first, then the delta finds the account frozen: all rolled back.
    assert!(matches!(err, hearth_core::store::StoreError::GuardFailed { .. }), "{err:?}");
    let again = store.ledger_accounts(&[fees.id]).await.unwrap().remove(0);
    assert_eq!((again.version, again.value.flags.frozen), (account.version, false));
}
