//! Embedded migrations, tracked by `PRAGMA user_version`: each runs once, in order, in a transaction.

use crate::codec::map_err;
use hearth_core::kernel::store::{StoreError, StoreResult};
use hearth_core::payments::confirmation_id;
use hearth_core::payments::gateway::GatewayKind;
use rusqlite::Connection;

/// The schema migrations, in order; migration `n` (1-based) is `MIGRATIONS[n - 1]`. Never edit one
/// that has shipped: append a new one.
///
/// From 0010 on, a migration carries the same number as the Postgres migration making the same
/// change (0009 is empty: Postgres has one more early migration, its `hearth_assert` helper).
pub const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_homeheroes.sql"),
    include_str!("../migrations/0002_ledger.sql"),
    include_str!("../migrations/0003_payments.sql"),
    include_str!("../migrations/0004_amenities.sql"),
    include_str!("../migrations/0005_canteen.sql"),
    include_str!("../migrations/0006_rooms.sql"),
    include_str!("../migrations/0007_khedma.sql"),
    include_str!("../migrations/0008_client_actions.sql"),
    include_str!("../migrations/0009_align_numbering.sql"),
    include_str!("../migrations/0010_kernel.sql"),
    include_str!("../migrations/0011_ledger_tigerbeetle.sql"),
    include_str!("../migrations/0012_client_streams.sql"),
    include_str!("../migrations/0013_residents.sql"),
    include_str!("../migrations/0014_maintenance.sql"),
    include_str!("../migrations/0015_staff_roles.sql"),
    include_str!("../migrations/0016_rate_limits.sql"),
    include_str!("../migrations/0017_jobs.sql"),
    include_str!("../migrations/0018_feed.sql"),
    include_str!("../migrations/0019_ledger_accounts_api.sql"),
];

/// The schema version of a fully migrated database: the number of [`MIGRATIONS`].
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migrates `conn` to the newest schema.
pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Applies the migrations after the database's current version up to `target` (each in its own
/// transaction, recording its number in `PRAGMA user_version`). For upgrade tests and tools:
/// [`crate::SqliteStore::open`] always migrates to [`SCHEMA_VERSION`].
///
/// Refuses a database newer than this crate, or a `target` beyond the known migrations; a database
/// already at or past `target` is left as it is.
pub fn migrate_to(conn: &mut Connection, target: i64) -> StoreResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(map_err)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Backend {
            message: format!("database schema version {current} is newer than this hearth ({SCHEMA_VERSION})"),
        });
    }
    if !(0..=SCHEMA_VERSION).contains(&target) {
        return Err(StoreError::Backend {
            message: format!("no schema version {target} (known: 0–{SCHEMA_VERSION})")
        });
    }
    // A migration may rebuild a table others name in a foreign key (SQLite cannot alter a CHECK):
    // as SQLite's own procedure for such changes says, foreign keys are off while it runs (the
    // pragma is a no-op inside a transaction) and checked before it commits.
    let foreign_keys: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).map_err(map_err)?;
    conn.pragma_update(None, "foreign_keys", "OFF").map_err(map_err)?;
    let migrated = (|| {
        for version in (current + 1)..=target {
            let sql = usize::try_from(version - 1)
                .ok()
                .and_then(|i| MIGRATIONS.get(i))
                .ok_or_else(|| StoreError::Backend { message: format!("no migration {version}") })?;
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute_batch(sql).map_err(map_err)?;
            data_step(&tx, version)?;
            foreign_key_check(&tx, version)?;
            tx.pragma_update(None, "user_version", version).map_err(map_err)?;
            tx.commit().map_err(map_err)?;
        }
        Ok(())
    })();
    conn.pragma_update(None, "foreign_keys", foreign_keys).map_err(map_err)?;
    migrated
}

/// Refuses a migration that leaves a foreign key dangling (it ran with foreign keys off).
fn foreign_key_check(tx: &Connection, version: i64) -> StoreResult<()> {
    let broken: Option<String> = tx
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut st| st.query_map([], |r| r.get::<_, String>(0))?.next().transpose())
        .map_err(map_err)?;
    match broken {
        Some(table) => Err(StoreError::Backend {
            message: format!("migration {version} leaves a dangling foreign key in `{table}`"),
        }),
        None => Ok(()),
    }
}

/// The part of a migration SQL cannot express, run in the migration's transaction after its script.
fn data_step(tx: &Connection, version: i64) -> StoreResult<()> {
    if version == 10 {
        // 0010 keys payment confirmations by the id core derives from `(gateway, provider_txn_id)`.
        let rows: Vec<(String, String)> = tx
            .prepare("SELECT gateway, provider_txn_id FROM payment_confirmations WHERE id IS NULL")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(map_err)?;
        let mut update = tx
            .prepare("UPDATE payment_confirmations SET id = ? WHERE gateway = ? AND provider_txn_id = ?")
            .map_err(map_err)?;
        for (gateway, txn) in rows {
            let kind = GatewayKind::parse(&gateway).ok_or_else(|| StoreError::Corrupt {
                message: format!("payment_confirmations: unknown gateway `{gateway}`"),
            })?;
            let id = confirmation_id(kind, &txn).hyphenated().to_string();
            update.execute(rusqlite::params![id, gateway, txn]).map_err(map_err)?;
        }
    }
    Ok(())
}
