//! The store conformance suite on a real SQLite file per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_sqlite::SqliteStore;

async fn fresh() -> SqliteStore {
    // Each test gets its own file in its own directory; the directory is kept for the process's life.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    SqliteStore::open(dir.join("hearth.db"))
        .await
        .expect("open sqlite store")
}

hearth_core::conformance_tests!(fresh().await);

#[tokio::test]
async fn reopening_keeps_data_and_does_not_migrate_twice() {
    use hearth_core::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 1);
    assert!(store.outbox_after(0, 10).await.unwrap().is_empty());
    drop(store);
    let again = SqliteStore::open(&path).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), 1);
    let mode: String = {
        let conn = rusqlite_conn(&path);
        conn.pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap()
    };
    assert_eq!(mode, "wal");
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}
