//! Embedded migrations, tracked by `PRAGMA user_version`: each runs once, in order, in a transaction.

use crate::codec::map_err;
use hearth_core::store::{StoreError, StoreResult};
use rusqlite::Connection;

/// The migrations, in order. Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_homeheroes.sql"),
    include_str!("../migrations/0002_ledger.sql"),
    include_str!("../migrations/0003_payments.sql"),
    include_str!("../migrations/0004_amenities.sql"),
    include_str!("../migrations/0005_canteen.sql"),
    include_str!("../migrations/0006_rooms.sql"),
    include_str!("../migrations/0007_khedma.sql"),
    include_str!("../migrations/0008_client_actions.sql"),
];

pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(map_err)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if current > known {
        return Err(StoreError::Backend {
            message: format!("database schema version {current} is newer than this hearth ({known})"),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let tx = conn.transaction().map_err(map_err)?;
        tx.execute_batch(sql).map_err(map_err)?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX)).map_err(map_err)?;
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}
