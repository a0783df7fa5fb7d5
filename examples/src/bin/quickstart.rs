//! The HomeHeroes story on an embedded SQLite file (no setup), or on Postgres:
//!
//! ```text
//! cargo run -p hearth-examples --bin quickstart                     # SQLite file in a temp dir
//! cargo run -p hearth-examples --bin quickstart -- ./my.db          # SQLite file you name
//! cargo run -p hearth-examples --bin quickstart -- postgres://…     # Postgres (migrated first)
//! ```

use hearth_examples::quickstart;
use hearth_postgres::PgStore;
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let target = std::env::args().nth(1);
    let result = match target.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            match PgStore::connect(url).await {
                Ok(store) => match store.migrate().await {
                    Ok(()) => quickstart::run(store, "Postgres").await,
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e.into()),
            }
        }
        path => {
            let path = match path {
                Some(p) => std::path::PathBuf::from(p),
                None => std::env::temp_dir().join(format!("hearth-quickstart-{}.db", std::process::id())),
            };
            match SqliteStore::open(&path).await {
                Ok(store) => quickstart::run(store, &format!("SQLite ({})", path.display())).await,
                Err(e) => Err(e.into()),
            }
        }
    };
    match result {
        Ok(()) => {
            println!("\ndone.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}
