//! hearth-postgres: the Postgres store.
//!
//! sqlx over a connection pool; the schema is embedded ([`MIGRATOR`]) and applied by
//! [`PgStore::migrate`]. The adapter holds no domain code and no business rule: it executes the
//! kernel's generic contract ([`Reader`], [`Store`]) from each entity's declaration.
//!
//! - **Values** map onto typed columns in one place (`codec`): `Value::Int` binds as `int8`,
//!   `Value::Money` as `numeric`, `Value::Null(ty)` as a NULL of `ty`'s type, …; rows read back by
//!   column name, converted by the requested type and the column's actual type.
//! - **Reads** are SQL built from a [`Query`] (`select`): filters, keyset positions, order and
//!   limits, with names only from static declarations and every value bound.
//! - **Commits** are one statement of data-modifying CTEs in autocommit (`statement`): inserts,
//!   versioned updates and guarded deltas (`UPDATE … SET c = c + n`), checked by `hearth_assert`;
//!   deltas on one table share one lock-ordered `UPDATE … FROM (VALUES …)`. A change set that writes
//!   one row twice runs the same statements in one transaction instead.
//! - **Snapshots**: a command that reads once reads straight from the pool (one statement is its own
//!   snapshot); one that reads more opens a `REPEATABLE READ, READ ONLY` transaction on its first
//!   read, released when the view is dropped.
//! - **Errors** map onto [`StoreError`] by SQLSTATE, table and constraint name (`error`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod codec;
mod error;
mod jobs;
mod notify;
mod read;
mod select;
mod statement;

use async_trait::async_trait;
use error::map_err;
use hearth_core::id::ClientId;
use hearth_core::kernel::feed::{Feed, FeedCursor, FeedPage, HoldCommit, Positioned, Release};
use hearth_core::kernel::query::Query;
use hearth_core::kernel::store::{
    AuditRecord, ChangeSet, ClientActionRecord, ClientCursor, IdempotencyRecord, OneRead, OutboxEvent, Reader, Reads,
    Store, StoredRow,
};
use hearth_core::kernel::value::{RowRead, Value};
use hearth_core::kernel::{EntityKind, EntityRef, StoreError, StoreResult};
use hearth_core::time::Timestamp;
use read::Fetch;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

pub use sqlx::postgres::PgConnectOptions;

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections a store opens by default.
pub const POOL_CONNECTIONS_DEFAULT: u32 = 10;

/// How a multi-read snapshot begins: one committed state for every read, and no writes.
const SNAPSHOT_BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// The schema version this build migrates to: the highest embedded migration's number (they are
/// numbered 1, 2, 3, … without gaps, so it is also their count).
pub fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Begins a transaction (with `statement`, or a plain `BEGIN`) on a task of its own, so that it is
/// never cut off half-way.
///
/// sqlx 0.9 counts a Postgres transaction only once `BEGIN` has answered: a caller dropped while
/// `BEGIN` is in flight (a cancelled request, an abandoned offline batch) hands the pool a connection
/// inside a transaction that nothing rolls back, and every later statement on it runs inside that
/// stale — here read-only — transaction (transact-rs/sqlx#4393, fixed after 0.9.0). On its own task
/// the `BEGIN` always completes; if the caller is gone by then, the finished transaction is dropped,
/// and sqlx rolls a counted transaction back.
pub(crate) async fn begin(
    pool: &PgPool,
    statement: Option<&'static str>,
) -> StoreResult<Transaction<'static, Postgres>> {
    let pool = pool.clone();
    let task = tokio::spawn(async move {
        match statement {
            Some(s) => pool.begin_with(s).await,
            None => pool.begin().await,
        }
    });
    task.await.map_err(|e| StoreError::Backend { message: format!("begin: {e}") })?.map_err(map_err)
}

/// A hearth store in a Postgres database (or schema, through the connection's `search_path`).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    notifier: std::sync::Arc<notify::Notifier>,
}

impl PgStore {
    /// Connects to `url` with a pool of [`POOL_CONNECTIONS_DEFAULT`] connections.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool =
            PgPoolOptions::new().max_connections(POOL_CONNECTIONS_DEFAULT).connect(url).await.map_err(map_err)?;
        Ok(Self::from_pool(pool))
    }
    /// Uses an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { notifier: std::sync::Arc::new(notify::Notifier::new(pool.clone())), pool }
    }
    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Backend { message: format!("migrate: {e}") })
    }
    /// Runs one read-only statement written elsewhere — a domain's reporting SQL, kept as text
    /// beside its feature in core (`hearth_core::maintenance::reports::SQL_QUERIES`) — in a
    /// `REPEATABLE READ, READ ONLY` transaction (a statement that tries to write fails), with
    /// `params` bound as `$1, $2, …`. The adapter adds no rule: it binds, runs and returns rows
    /// read by column name.
    pub async fn read_only_query(
        &self,
        sql: &str,
        params: &[Value],
    ) -> StoreResult<Vec<Box<dyn RowRead + Send + Sync>>> {
        let mut statement = codec::Sql::default();
        for p in params {
            statement.value(p)?;
        }
        statement.text = sql.to_owned();
        let mut tx = begin(&self.pool, Some(SNAPSHOT_BEGIN)).await?;
        let rows = read::fetch_on(&mut *tx, statement).await?;
        tx.rollback().await.map_err(map_err)?;
        Ok(rows.into_iter().map(|r| Box::new(codec::PgRead::new(r)) as Box<dyn RowRead + Send + Sync>).collect())
    }
    /// The schema version: the highest migration applied (0 before any).
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let v: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(v.unwrap_or(0))
    }
}

#[async_trait]
impl Fetch for PgStore {
    async fn fetch(&self, sql: codec::Sql) -> StoreResult<Vec<PgRow>> {
        read::fetch_on(&self.pool, sql).await
    }
}

/// A read view over one `REPEATABLE READ, READ ONLY` transaction, begun on the first read (a view
/// that is never read holds no connection). Dropping the view drops the transaction, which sqlx
/// rolls back.
struct Snapshot {
    pool: PgPool,
    tx: tokio::sync::Mutex<Option<Transaction<'static, Postgres>>>,
}

#[async_trait]
impl Fetch for Snapshot {
    async fn fetch(&self, sql: codec::Sql) -> StoreResult<Vec<PgRow>> {
        let mut slot = self.tx.lock().await;
        if slot.is_none() {
            *slot = Some(begin(&self.pool, Some(SNAPSHOT_BEGIN)).await?);
        }
        let Some(tx) = slot.as_mut() else {
            return Err(StoreError::Backend { message: "snapshot transaction missing".into() });
        };
        read::fetch_on(&mut **tx, sql).await
    }
}

/// Implements [`Reader`] for a [`Fetch`]: every read is written once, in `read`.
macro_rules! reader_over_fetch {
    ($t:ty) => {
        #[async_trait]
        impl Reader for $t {
            async fn get_row(&self, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>> {
                read::get_row(self, kind, id).await
            }
            async fn get_with_parent(
                &self,
                kind: EntityKind,
                id: Uuid,
                via: &'static str,
                parent: EntityKind,
            ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
                read::get_with_parent(self, kind, id, via, parent).await
            }
            async fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>> {
                read::query_rows(self, query).await
            }
            async fn count_rows(&self, query: &Query) -> StoreResult<u64> {
                read::count_rows(self, query).await
            }
            async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
                read::idempotency_record(self, scope, key).await
            }
            async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
                read::audit_trail(self, entity).await
            }
            async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
                read::outbox_after(self, after, limit).await
            }
            async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
                read::client_cursor(self, client_id).await
            }
            async fn client_actions(
                &self,
                client_id: ClientId,
                from: u64,
                to: u64,
            ) -> StoreResult<Vec<ClientActionRecord>> {
                read::client_actions(self, client_id, from, to).await
            }
        }
    };
}

reader_over_fetch!(PgStore);
reader_over_fetch!(Snapshot);

pub use statement::FEED_CHANNEL;

/// The change feed (`hearth_core::kernel::feed`): events released once no older transaction is
/// running, in `(transaction id, position)` order; wake-ups by `NOTIFY` on [`FEED_CHANNEL`].
#[async_trait]
impl Feed for PgStore {
    async fn feed_after(&self, after: FeedCursor, limit: u32) -> StoreResult<FeedPage> {
        read::feed_after(self, after, limit).await
    }
    async fn feed_head(&self) -> StoreResult<FeedCursor> {
        read::feed_head(self).await
    }
    async fn prune_feed(&self, before: Timestamp) -> StoreResult<u64> {
        // In feed order: up to the last released event recorded before `before`; the horizon moves
        // there in the same statement.
        let deleted: i64 = sqlx::query_scalar(
            "WITH s AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin),
             k AS (SELECT tx, position FROM outbox WHERE at < $1 AND tx < (SELECT xmin FROM s)
                   ORDER BY tx DESC, position DESC LIMIT 1),
             d AS (DELETE FROM outbox o USING k WHERE (o.tx, o.position) <= (k.tx, k.position) RETURNING 1),
             h AS (INSERT INTO feed_horizon (id, tx, position) SELECT 1, tx, position FROM k
                   ON CONFLICT (id) DO UPDATE SET tx = excluded.tx, position = excluded.position
                   WHERE (feed_horizon.tx, feed_horizon.position) < (excluded.tx, excluded.position))
             SELECT count(*) FROM d",
        )
        .bind(before.as_datetime())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(u64::try_from(deleted).unwrap_or(0))
    }
}

#[async_trait]
impl HoldCommit for PgStore {
    /// Holds the transaction open between its last statement and `COMMIT`: other commits go on,
    /// taking later positions — exactly the race the feed's ordering must survive.
    async fn commit_held(&self, changes: ChangeSet, positioned: Positioned, release: Release) -> StoreResult<bool> {
        let committed = statement::commit_held(&self.pool, &changes, positioned, release).await?;
        if committed && !changes.events.is_empty() {
            self.notifier.poke();
        }
        Ok(committed)
    }
    fn single_writer(&self) -> bool {
        false
    }
}

#[async_trait]
impl Store for PgStore {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        statement::commit(&self.pool, &changes).await?;
        if !changes.events.is_empty() {
            self.notifier.poke();
        }
        Ok(())
    }
    async fn snapshot(&self, reads: Reads) -> StoreResult<Box<dyn Reader + '_>> {
        Ok(match reads {
            // One statement is its own snapshot: no transaction, no extra round trips.
            Reads::One => Box::new(OneRead::new(self)),
            Reads::Many => Box::new(Snapshot { pool: self.pool.clone(), tx: tokio::sync::Mutex::new(None) }),
        })
    }
}
