//! The store conformance suite on a real SQLite file per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_sqlite::SqliteStore;

async fn fresh() -> SqliteStore {
    // Each test gets its own file in its own directory; the directory is kept for the process's life.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    SqliteStore::open(dir.join("hearth.db")).await.expect("open sqlite store")
}

hearth_core::conformance_tests!(fresh().await);

#[tokio::test]
async fn reopening_keeps_data_and_does_not_migrate_twice() {
    use hearth_core::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 8);
    assert!(store.outbox_after(0, 10).await.unwrap().is_empty());
    drop(store);
    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 8);
    let mode: String = {
        let conn = rusqlite_conn(&path);
        conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap()
    };
    assert_eq!(mode, "wal");
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test]
async fn audit_log_and_ledger_transfers_are_append_only_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let _store = SqliteStore::open(&path).await.unwrap();
    let conn = rusqlite_conn(&path);
    conn.execute(
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, timeout_secs,
             linked, code, result, actor, created_at)
         VALUES ('x', 'a', 'a', 1, 'INR', 'single', 0, 0, 'adjustment', 'accounts_must_be_different', 'system', 0)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, after, version, at)
         VALUES ('y', 'profile', 'p', 'create', 'system', '{}', 1, 0)",
        [],
    )
    .unwrap();
    for sql in [
        "UPDATE ledger_transfers SET amount = 2",
        "DELETE FROM ledger_transfers",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
    ] {
        let err = conn.execute(sql, []).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}
