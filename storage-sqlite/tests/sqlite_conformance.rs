//! The store conformance suite on a real SQLite file per test (one test per registered case).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_sqlite::SqliteStore;
use std::sync::Mutex;

/// Every test's directory, removed once the suite has run.
static DIRS: Mutex<Vec<tempfile::TempDir>> = Mutex::new(Vec::new());

fn main() -> std::process::ExitCode {
    let code = hearth_core::testing::run_conformance(|| async {
        // Each test gets its own file in its own directory.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hearth.db");
        DIRS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(dir);
        SqliteStore::open(path).await.expect("open sqlite store")
    });
    DIRS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    code
}
