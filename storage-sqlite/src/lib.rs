//! hearth-sqlite: the embedded store.
//!
//! rusqlite with bundled SQLite in WAL mode; the schema is embedded and migrated on open
//! (`PRAGMA user_version`, see [`MIGRATIONS`]). One writer thread owns the only writer connection
//! and commits with **group commit**: the change sets waiting when it turns to the queue (at most
//! [`GROUP_MAX`]) share one `BEGIN IMMEDIATE` … `COMMIT`, each inside its own `SAVEPOINT`, so a change
//! set that fails (a guard, a unique key) is rolled back alone and answers its own error while the
//! others commit; the outcome is the same as committing them one after another in queue order.
//! Reads use a small pool of reader connections (WAL lets them run beside the writer). A
//! [`Store::snapshot`] for many reads holds one reader connection in a read transaction until it is
//! dropped, so all its reads see one committed state. Blocking SQLite reads run on tokio's blocking
//! pool, never on the async workers.
//!
//! Durability: WAL with `synchronous = NORMAL` — a commit is atomic and survives a crash of the
//! process, but the last commits before a power loss or OS crash may be lost (they are in the WAL
//! and not yet synced); the database is never corrupted. `FULL` would sync the WAL on every commit.
//!
//! This crate holds no business rule and no domain code: it executes hearth-core's generic reads
//! ([`Query`]) and writes ([`Write`]) from each entity's declaration, maps hearth-core's neutral
//! [`Value`](hearth_core::kernel::value::Value)s to SQLite's in one place (money is `INTEGER` minor
//! units, timestamps `INTEGER` microseconds, UUIDs lowercase text), and maps SQLite errors onto
//! [`StoreError`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod codec;
mod jobs;
mod migrate;
mod query;

pub use migrate::{migrate_to, MIGRATIONS, SCHEMA_VERSION};

use async_trait::async_trait;
use codec::{
    decode_audit, decode_client_action, decode_event, failed_check, is_stream_owner_violation, is_unique_violation,
    json, map_err, to_sql, ts, uuid_text, Fail, SqlRow, SqlValue,
};
use hearth_core::id::ClientId;
use hearth_core::kernel::entity::{EntityDecl, EntityKind, EntityRef};
use hearth_core::kernel::feed::{
    cursor_expired, Feed, FeedCursor, FeedEvent, FeedPage, HoldCommit, Positioned, Release, FEED_PAGE_MAX,
};
use hearth_core::kernel::query::Query;
use hearth_core::kernel::store::{
    AuditRecord, ChangeSet, ClientActionRecord, ClientCursor, Expect, IdempotencyRecord, OneRead, OutboxEvent, Reader,
    Reads, Store, StoreError, StoreResult, StoredRow, Write,
};
use hearth_core::kernel::value::Row;
use hearth_core::time::Timestamp;
use query::ident;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Reader connections kept open beside the writer.
pub const READERS_MAX: usize = 4;
/// How long a connection waits on a lock held by another process, and a read on a free reader
/// connection, before reporting `unavailable`.
pub const BUSY_TIMEOUT_MS: u64 = 5_000;
/// Prepared statements cached per connection (the generic reads and writes are a few per entity).
pub const STATEMENT_CACHE: usize = 128;
/// The most change sets the writer thread commits in one transaction (group commit).
pub const GROUP_MAX: usize = 64;

/// A hearth store in one SQLite file. Cheap to clone (shared connections).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

struct Inner {
    path: PathBuf,
    schema: query::Schema,
    /// The writer thread's queue; the thread ends when the last store handle is dropped.
    writer: std::sync::mpsc::Sender<WriterJob>,
    /// What the writer thread has committed.
    stats: Arc<GroupStats>,
    pool: Mutex<Pool>,
    reader_ready: Condvar,
    /// Counts the commits that appended events: the change feed's in-process wake-up.
    feed_commits: tokio::sync::watch::Sender<u64>,
}

/// The idle reader connections, and how many were dropped because they could not be cleaned up
/// (replaced by fresh ones on demand, so the pool never shrinks for good).
struct Pool {
    idle: Vec<Connection>,
    lost: usize,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(map_err)?;
    configure(&conn).map_err(map_err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL and migrates it to
    /// [`SCHEMA_VERSION`].
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(|e| StoreError::Backend { message: format!("open task: {e}") })?
    }

    fn open_blocking(path: &Path) -> StoreResult<Self> {
        let mut writer = Connection::open(path).map_err(map_err)?;
        writer.pragma_update(None, "journal_mode", "WAL").map_err(map_err)?;
        configure(&writer).map_err(map_err)?;
        migrate::run(&mut writer)?;
        let schema = query::Schema::load(&writer).map_err(map_err)?;
        let (queue, jobs) = std::sync::mpsc::channel();
        let stats = Arc::new(GroupStats::default());
        let counted = stats.clone();
        std::thread::Builder::new()
            .name("hearth-sqlite-writer".into())
            .spawn(move || writer_loop(writer, &jobs, &counted))
            .map_err(|e| StoreError::Backend { message: format!("writer thread: {e}") })?;
        let mut idle = Vec::with_capacity(READERS_MAX);
        for _ in 0..READERS_MAX {
            idle.push(open_reader(path)?);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                schema,
                writer: queue,
                stats,
                pool: Mutex::new(Pool { idle, lost: 0 }),
                reader_ready: Condvar::new(),
                feed_commits: tokio::sync::watch::Sender::new(0),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How group commit has gone so far: transactions and the change sets they carried.
    pub fn commit_stats(&self) -> CommitStats {
        use std::sync::atomic::Ordering::Relaxed;
        CommitStats {
            transactions: self.inner.stats.transactions.load(Relaxed),
            commits: self.inner.stats.commits.load(Relaxed),
        }
    }

    /// The schema version (the number of migrations applied; [`SCHEMA_VERSION`] once open).
    pub async fn schema_version(&self) -> StoreResult<i64> {
        self.source().run(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)).await
    }

    fn source(&self) -> Source {
        Source { inner: self.inner.clone(), view: None }
    }

    /// The change feed's in-process wake-up: the count of commits through this store that appended
    /// events, changed right after each such commit. Commits by another process on the same file
    /// send none (a feed reader also polls).
    pub fn feed_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.feed_commits.subscribe()
    }

    /// Commits through the writer thread (grouped with other waiting commits unless held open,
    /// which commits alone); signals the feed.
    async fn commit_with(&self, changes: ChangeSet, hold: Option<Hold>) -> StoreResult<bool> {
        let emits = !changes.events.is_empty();
        let committed = match hold {
            None => {
                let (done, answer) = tokio::sync::oneshot::channel();
                self.inner
                    .writer
                    .send(WriterJob::Commit { changes: Box::new(changes), done })
                    .map_err(|_| writer_gone())?;
                answer.await.map_err(|_| writer_gone())??
            }
            Some(hold) => {
                self.write(move |conn| commit_blocking(conn, &changes, Some(hold)).map_err(Fail::Store)).await?
            }
        };
        if committed && emits {
            self.inner.feed_commits.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(committed)
    }

    /// Runs `f` on the writer connection, on the writer thread (between commit groups).
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Fail> + Send + 'static,
    {
        let (done, answer) = tokio::sync::oneshot::channel();
        let job = move |conn: &mut Connection| {
            let _ = done.send(f(conn).map_err(Fail::into_store));
        };
        self.inner.writer.send(WriterJob::Run(Box::new(job))).map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> StoreError {
    StoreError::Backend { message: "the SQLite writer thread has stopped".into() }
}

/// Group commit so far ([`SqliteStore::commit_stats`]): `commits / transactions` is the mean group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    /// Write transactions the writer thread committed change sets in (a group counts once; a group
    /// retried member by member counts each retry).
    pub transactions: u64,
    /// Change sets committed (the ones that failed are not counted).
    pub commits: u64,
}

#[derive(Default)]
struct GroupStats {
    transactions: std::sync::atomic::AtomicU64,
    commits: std::sync::atomic::AtomicU64,
}

impl GroupStats {
    fn add(&self, transactions: u64, commits: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.transactions.fetch_add(transactions, Relaxed);
        self.commits.fetch_add(commits, Relaxed);
    }
}

/// Work for the writer thread.
enum WriterJob {
    /// A change set, committed with the others waiting (group commit).
    Commit { changes: Box<ChangeSet>, done: tokio::sync::oneshot::Sender<StoreResult<bool>> },
    /// Anything else that writes (job claims and settles, feed pruning, a held commit): runs alone.
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The writer thread: takes the next job; a commit takes every commit queued behind it (up to
/// [`GROUP_MAX`], stopping at the first job of another kind) into one transaction. Ends when every
/// store handle is gone.
fn writer_loop(mut conn: Connection, jobs: &std::sync::mpsc::Receiver<WriterJob>, stats: &GroupStats) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            WriterJob::Run(f) => f(&mut conn),
            WriterJob::Commit { changes, done } => {
                let mut group = vec![(changes, done)];
                while group.len() < GROUP_MAX {
                    match jobs.try_recv() {
                        Ok(WriterJob::Commit { changes, done }) => group.push((changes, done)),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit_group(&mut conn, group, stats);
            }
        }
    }
}

type Member = (Box<ChangeSet>, tokio::sync::oneshot::Sender<StoreResult<bool>>);

/// Commits a group: one transaction, a savepoint per change set. When the transaction itself fails
/// (it cannot begin or commit, or SQLite rolled it back under a change set), nothing of it stayed,
/// and each change set is committed again on its own — so every caller gets its own true answer.
fn commit_group(conn: &mut Connection, group: Vec<Member>, stats: &GroupStats) {
    let alone = |conn: &mut Connection, changes: &ChangeSet| {
        let result = commit_blocking(conn, changes, None);
        if result.is_ok() {
            stats.add(1, 1);
        }
        result
    };
    if group.len() == 1 {
        for (changes, done) in group {
            let _ = done.send(alone(conn, &changes));
        }
        return;
    }
    match grouped(conn, &group) {
        Some(results) => {
            stats.add(1, results.iter().filter(|r| r.is_ok()).count() as u64);
            for ((_, done), result) in group.into_iter().zip(results) {
                let _ = done.send(result);
            }
        }
        None => {
            for (changes, done) in group {
                let _ = done.send(alone(conn, &changes));
            }
        }
    }
}

/// The group's transaction; `None` when it failed as a whole (and was rolled back).
fn grouped(conn: &Connection, group: &[Member]) -> Option<Vec<StoreResult<bool>>> {
    let step = |sql: &str| conn.prepare_cached(sql).and_then(|mut st| st.execute([])).is_ok();
    if !step("BEGIN IMMEDIATE") {
        return None;
    }
    let abandon = || {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        None
    };
    let mut results = Vec::with_capacity(group.len());
    for (changes, _) in group {
        if !step("SAVEPOINT hearth_member") {
            return abandon();
        }
        match apply_changes(conn, changes) {
            Ok(()) => {
                if !step("RELEASE hearth_member") {
                    return abandon();
                }
                results.push(Ok(true));
            }
            Err(e) => {
                if conn.is_autocommit() || !step("ROLLBACK TO hearth_member") || !step("RELEASE hearth_member") {
                    return abandon();
                }
                results.push(Err(e));
            }
        }
    }
    if !step("COMMIT") {
        return abandon();
    }
    Some(results)
}

/// The feed's horizon: the last event pruned (`START` before any).
fn horizon(c: &Connection) -> Result<FeedCursor, Fail> {
    let row: Option<(i64, i64)> = c
        .prepare_cached("SELECT tx, position FROM feed_horizon WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Ok(FeedCursor::START),
        Some((tx, position)) => u64::try_from(tx)
            .ok()
            .and_then(|tx| FeedCursor::new(tx, position))
            .ok_or_else(|| codec::corrupt("feed horizon")),
    }
}

fn position_cursor(position: i64) -> Result<FeedCursor, Fail> {
    FeedCursor::new(0, position).ok_or_else(|| codec::corrupt("negative outbox position"))
}

/// The change feed (see `hearth_core::kernel::feed`): one writer at a time, and positions are
/// assigned inside the write transaction, so position order is commit order (`tx` is 0).
#[async_trait]
impl Feed for SqliteStore {
    async fn feed_after(&self, after: FeedCursor, limit: u32) -> StoreResult<FeedPage> {
        let limit = i64::from(limit.min(FEED_PAGE_MAX));
        self.source()
            .run(move |c| {
                // The horizon and the events from one snapshot: a prune between them cannot slip in.
                c.execute_batch("BEGIN DEFERRED")?;
                let read = (|| {
                    let horizon = horizon(c)?;
                    if after != FeedCursor::START && after < horizon {
                        return Err(Fail::Store(cursor_expired(after, horizon)));
                    }
                    many(
                        c,
                        "SELECT position, id, topic, entity_kind, entity_id, payload, audience, at, readers FROM outbox
                         WHERE position > ? ORDER BY position LIMIT ?",
                        &[SqlValue::Integer(after.position()), SqlValue::Integer(limit)],
                        decode_event,
                    )
                })();
                c.execute_batch("COMMIT")?;
                let events = read?
                    .into_iter()
                    .map(|(p, event)| Ok(FeedEvent { cursor: position_cursor(p)?, event }))
                    .collect::<Result<Vec<_>, Fail>>()?;
                Ok(FeedPage { events, held_back: false })
            })
            .await
    }

    async fn feed_head(&self) -> StoreResult<FeedCursor> {
        self.source()
            .run(|c| {
                c.execute_batch("BEGIN DEFERRED")?;
                let read = (|| {
                    let last: Option<i64> =
                        c.prepare_cached("SELECT max(position) FROM outbox")?.query_row([], |r| r.get(0))?;
                    let last = last.map(position_cursor).transpose()?.unwrap_or(FeedCursor::START);
                    Ok(last.max(horizon(c)?))
                })();
                c.execute_batch("COMMIT")?;
                read
            })
            .await
    }

    async fn prune_feed(&self, before: Timestamp) -> StoreResult<u64> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let last: Option<i64> =
                tx.query_row("SELECT max(position) FROM outbox WHERE at < ?", [before.unix_micros()], |r| r.get(0))?;
            let Some(last) = last else { return Ok(0) };
            let deleted = tx.execute("DELETE FROM outbox WHERE position <= ?", [last])?;
            tx.execute(
                "INSERT INTO feed_horizon (id, tx, position) VALUES (1, 0, ?)
                 ON CONFLICT (id) DO UPDATE SET position = max(position, excluded.position)",
                [last],
            )?;
            tx.commit()?;
            Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
        })
        .await
    }
}

#[async_trait]
impl HoldCommit for SqliteStore {
    /// Holds the write transaction (and so SQLite's one write lock) open: every other commit waits.
    async fn commit_held(&self, changes: ChangeSet, positioned: Positioned, release: Release) -> StoreResult<bool> {
        let hold = Hold { positioned, release, runtime: tokio::runtime::Handle::current() };
        self.commit_with(changes, Some(hold)).await
    }
    fn single_writer(&self) -> bool {
        true
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend { message: "connection lock poisoned by a panic".into() }
}

fn task_failed(what: &str, e: tokio::task::JoinError) -> StoreError {
    StoreError::Backend { message: format!("{what} task: {e}") }
}

// ---------------------------------------------------------------------------------------------
// Reader connections.

/// A reader connection taken from the pool; given back (outside any transaction) when dropped.
struct Pooled {
    conn: Option<Connection>,
    inner: Arc<Inner>,
}

impl Pooled {
    /// Takes a free reader connection, waiting at most [`BUSY_TIMEOUT_MS`] for one.
    fn acquire(inner: &Arc<Inner>) -> StoreResult<Self> {
        let deadline = Instant::now() + Duration::from_millis(BUSY_TIMEOUT_MS);
        let mut pool = inner.pool.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(Self { conn: Some(conn), inner: inner.clone() });
            }
            if pool.lost > 0 {
                pool.lost -= 1;
                drop(pool);
                return match open_reader(&inner.path) {
                    Ok(conn) => Ok(Self { conn: Some(conn), inner: inner.clone() }),
                    Err(e) => {
                        inner.pool.lock().unwrap_or_else(PoisonError::into_inner).lost += 1;
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Unavailable { message: "no reader connection free".into() });
            }
            pool = inner.reader_ready.wait_timeout(pool, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    fn conn(&self) -> Result<&Connection, Fail> {
        self.conn.as_ref().ok_or_else(|| Fail::Store(StoreError::Backend { message: "reader already returned".into() }))
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A view's read transaction ends here; a connection that cannot leave its transaction is
        // closed rather than handed to the next reader (a fresh one replaces it on demand).
        let clean = conn.is_autocommit()
            || (conn.execute_batch("COMMIT").is_ok() && conn.is_autocommit())
            || (conn.execute_batch("ROLLBACK").is_ok() && conn.is_autocommit());
        let mut pool = self.inner.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if clean {
            pool.idle.push(conn);
        } else {
            pool.lost += 1;
        }
        drop(pool);
        self.inner.reader_ready.notify_one();
    }
}

/// Where a read runs: any free reader connection, or the one a view holds.
#[derive(Clone)]
struct Source {
    inner: Arc<Inner>,
    view: Option<Arc<Mutex<Pooled>>>,
}

impl Source {
    /// Runs `f` on this source's connection, on the blocking pool.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
    {
        let source = self.clone();
        tokio::task::spawn_blocking(move || match source.view {
            None => {
                let pooled = Pooled::acquire(&source.inner)?;
                pooled.conn().and_then(f).map_err(Fail::into_store)
            }
            Some(view) => {
                let pooled = view.lock().map_err(|_| poisoned())?;
                pooled.conn().and_then(f).map_err(Fail::into_store)
            }
        })
        .await
        .map_err(|e| task_failed("read", e))?
    }

    async fn get_row(&self, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>> {
        let decl = kind.decl();
        let sql = query::get(decl)?;
        let args = [SqlValue::Text(uuid_text(id))];
        self.run(move |c| Ok(fetch(c, decl, &sql, &args)?.into_iter().next())).await
    }

    async fn get_with_parent(
        &self,
        kind: EntityKind,
        id: Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
        let (child_decl, parent_decl) = (kind.decl(), parent.decl());
        let sql = query::get_with_parent(child_decl, via, parent_decl)?;
        let args = [SqlValue::Text(uuid_text(id))];
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let names: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
            let mut rows = stmt.query(params_from_iter(args.iter()))?;
            let Some(r) = rows.next()? else { return Ok(None) };
            let joined = SqlRow::fetch(&names, r)?;
            let (child, parent) = joined
                .split_at_marker(query::PARENT_MARKER)
                .ok_or_else(|| codec::corrupt("joined row without marker"))?;
            let stored = |row: SqlRow, decl: &EntityDecl| -> Result<StoredRow, Fail> {
                let version = if decl.is_versioned() { row.version()? } else { 1 };
                Ok(StoredRow { row: Box::new(row), version })
            };
            let parent = if parent.is_all_null() { None } else { Some(stored(parent, parent_decl)?) };
            Ok(Some((stored(child, child_decl)?, parent)))
        })
        .await
    }

    async fn query_rows(&self, q: &Query) -> StoreResult<Vec<StoredRow>> {
        let decl = q.kind.decl();
        let sql = query::select(q, &self.inner.schema)?;
        self.run(move |c| fetch(c, decl, &sql.text, &sql.args)).await
    }

    async fn count_rows(&self, q: &Query) -> StoreResult<u64> {
        let sql = query::count(q)?;
        self.run(move |c| {
            let n: i64 = c.prepare_cached(&sql.text)?.query_row(params_from_iter(sql.args.iter()), |r| r.get(0))?;
            u64::try_from(n).map_err(|_| codec::corrupt("negative count"))
        })
        .await
    }

    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.run(move |c| {
            c.prepare_cached(
                "SELECT scope, key, command, fingerprint, response, at FROM idempotency_keys WHERE scope = ? AND key = ?",
            )?
            .query_row(params![scope, key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?, r.get(5)?))
            })
            .optional()?
            .map(|(scope, key, command, fingerprint, response, at)| {
                Ok(IdempotencyRecord { scope, key, command, fingerprint, response: json(&response)?, at: ts(at)? })
            })
            .transpose()
        })
        .await
    }

    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        let decl = entity.kind.decl();
        // Records written under the kind's earlier wire names belong to the same trail.
        let mut args = vec![SqlValue::Text(uuid_text(entity.id)), SqlValue::Text(decl.kind.to_owned())];
        args.extend(decl.aliases.iter().map(|a| SqlValue::Text((*a).to_owned())));
        let sql = format!(
            "SELECT id, entity_kind, entity_id, action, actor, before, after, version, at FROM audit_log
             WHERE entity_id = ? AND entity_kind IN ({}) ORDER BY seq",
            vec!["?"; args.len() - 1].join(", ")
        );
        self.run(move |c| many(c, &sql, &args, decode_audit)).await
    }

    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        self.run(move |c| {
            many(
                c,
                "SELECT position, id, topic, entity_kind, entity_id, payload, audience, at, readers FROM outbox
                 WHERE position > ? ORDER BY position LIMIT ?",
                &[SqlValue::Integer(after), SqlValue::Integer(i64::from(limit))],
                decode_event,
            )
        })
        .await
    }

    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
        self.run(move |c| {
            c.prepare_cached(
                "SELECT s.principal, COALESCE((SELECT max(a.seq) FROM client_actions a WHERE a.client_id = s.client_id), 0)
                 FROM client_streams s WHERE s.client_id = ?",
            )?
                .query_row([uuid_text(client_id.as_uuid())], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .optional()?
                .map(|(principal, seq)| {
                    Ok(ClientCursor {
                        principal,
                        last_seq: u64::try_from(seq).map_err(|_| codec::corrupt("client action seq"))?,
                    })
                })
                .transpose()
        })
        .await
    }

    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>> {
        let (from, to) = (i64::try_from(from).unwrap_or(i64::MAX), i64::try_from(to).unwrap_or(i64::MAX));
        self.run(move |c| {
            many(
                c,
                "SELECT client_id, seq, principal, action, fingerprint, outcome, at FROM client_actions
                 WHERE client_id = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                &[SqlValue::Text(uuid_text(client_id.as_uuid())), SqlValue::Integer(from), SqlValue::Integer(to)],
                decode_client_action,
            )
        })
        .await
    }
}

/// Entity rows of `decl`, each with its version (`version` column, or 1 for append-only rows).
fn fetch(conn: &Connection, decl: &'static EntityDecl, sql: &str, args: &[SqlValue]) -> Result<Vec<StoredRow>, Fail> {
    let mut stmt = conn.prepare_cached(sql)?;
    let names: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let row = SqlRow::fetch(&names, r)?;
        let version = if decl.is_versioned() { row.version()? } else { 1 };
        out.push(StoredRow { row: Box::new(row), version });
    }
    Ok(out)
}

fn many<T>(
    conn: &Connection,
    sql: &str,
    args: &[SqlValue],
    decode: fn(&rusqlite::Row<'_>) -> Result<T, Fail>,
) -> Result<Vec<T>, Fail> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// A read view for many reads: one reader connection in one read transaction (one WAL snapshot)
/// for its whole life, given back to the pool when the last reference goes (the view, or a read
/// still running on the blocking pool after its caller gave up).
struct View {
    inner: Arc<Inner>,
    conn: Arc<Mutex<Pooled>>,
}

impl View {
    fn source(&self) -> Source {
        Source { inner: self.inner.clone(), view: Some(self.conn.clone()) }
    }
}

/// `impl Reader` for a type with a `source()`, every read delegated to it.
macro_rules! reader_via_source {
    ($ty:ty) => {
        #[async_trait]
        impl Reader for $ty {
            async fn get_row(&self, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>> {
                self.source().get_row(kind, id).await
            }
            async fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>> {
                self.source().query_rows(query).await
            }
            async fn get_with_parent(
                &self,
                kind: EntityKind,
                id: Uuid,
                via: &'static str,
                parent: EntityKind,
            ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
                self.source().get_with_parent(kind, id, via, parent).await
            }
            async fn count_rows(&self, query: &Query) -> StoreResult<u64> {
                self.source().count_rows(query).await
            }
            async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
                self.source().idempotency_record(scope, key).await
            }
            async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
                self.source().audit_trail(entity).await
            }
            async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
                self.source().outbox_after(after, limit).await
            }
            async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
                self.source().client_cursor(client_id).await
            }
            async fn client_actions(
                &self,
                client_id: ClientId,
                from: u64,
                to: u64,
            ) -> StoreResult<Vec<ClientActionRecord>> {
                self.source().client_actions(client_id, from, to).await
            }
        }
    };
}

reader_via_source!(SqliteStore);
reader_via_source!(View);

// ---------------------------------------------------------------------------------------------
// Writes.

/// Maps an entity write's error: a taken key or unique key means the entity already exists.
fn write_err(e: rusqlite::Error, kind: EntityKind) -> StoreError {
    if is_unique_violation(&e) {
        return StoreError::AlreadyExists { entity: kind };
    }
    map_err(e)
}

fn version_arg(v: u64) -> StoreResult<SqlValue> {
    i64::try_from(v)
        .map(SqlValue::Integer)
        .map_err(|_| StoreError::Backend { message: format!("version {v} is out of range") })
}

/// The row's columns the store writes (`version` is the store's own).
fn columns(row: &Row) -> impl Iterator<Item = &(&'static str, hearth_core::kernel::value::Value)> {
    row.columns().iter().filter(|(n, _)| *n != "version")
}

/// `INSERT INTO t (cols…[, version]) VALUES (…[, 1])`.
fn insert(tx: &Connection, kind: EntityKind, row: &Row) -> StoreResult<()> {
    let decl = kind.decl();
    let mut names = Vec::new();
    let mut args = Vec::new();
    for (name, value) in columns(row) {
        names.push(ident(name)?);
        args.push(to_sql(value)?);
    }
    if decl.is_versioned() {
        names.push("version");
        args.push(SqlValue::Integer(1));
    }
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        ident(decl.table)?,
        names.join(", "),
        vec!["?"; names.len()].join(", ")
    );
    tx.prepare_cached(&sql).and_then(|mut st| st.execute(params_from_iter(args))).map_err(|e| write_err(e, kind))?;
    Ok(())
}

/// `UPDATE t SET … , version = ? WHERE key = ? AND version = ?`; no row at that version is a
/// version conflict.
fn update(tx: &Connection, kind: EntityKind, id: Uuid, row: &Row, expected: u64) -> StoreResult<()> {
    let decl = kind.decl();
    if !decl.is_versioned() {
        return Err(StoreError::Backend { message: format!("{} is append-only: it cannot be updated", decl.kind) });
    }
    let mut sets = Vec::new();
    let mut args = Vec::new();
    for (name, value) in columns(row).filter(|(n, _)| *n != decl.key) {
        sets.push(format!("{} = ?", ident(name)?));
        args.push(to_sql(value)?);
    }
    sets.push("version = ?".to_owned());
    args.extend([version_arg(expected.saturating_add(1))?, SqlValue::Text(uuid_text(id)), version_arg(expected)?]);
    let sql =
        format!("UPDATE {} SET {} WHERE {} = ? AND version = ?", ident(decl.table)?, sets.join(", "), ident(decl.key)?);
    let n = tx
        .prepare_cached(&sql)
        .and_then(|mut st| st.execute(params_from_iter(args)))
        .map_err(|e| write_err(e, kind))?;
    if n != 1 {
        return Err(StoreError::VersionConflict { entity: kind });
    }
    Ok(())
}

/// `UPDATE t SET c = c + ?, …, version = version + 1 WHERE key = ? AND r IS ? …`: no such row (or a
/// `require` that does not hold) and a broken guard both fail the guard.
fn delta(
    tx: &Connection,
    kind: EntityKind,
    id: Uuid,
    add: &[(&'static str, i64)],
    require: &[(&'static str, hearth_core::kernel::value::Value)],
) -> StoreResult<()> {
    let decl = kind.decl();
    let mut sets = Vec::new();
    let mut args = Vec::new();
    for (name, n) in add {
        let name = ident(name)?;
        sets.push(format!("{name} = {name} + ?"));
        args.push(SqlValue::Integer(*n));
    }
    if decl.is_versioned() {
        sets.push("version = version + 1".to_owned());
    }
    if sets.is_empty() {
        return Err(StoreError::Backend { message: format!("an empty delta on {}", decl.kind) });
    }
    let mut sql = format!("UPDATE {} SET {} WHERE {} = ?", ident(decl.table)?, sets.join(", "), ident(decl.key)?);
    args.push(SqlValue::Text(uuid_text(id)));
    for (name, value) in require {
        // `IS` compares NULLs too.
        sql.push_str(&format!(" AND {} IS ?", ident(name)?));
        args.push(to_sql(value)?);
    }
    let n =
        tx.prepare_cached(&sql).and_then(|mut st| st.execute(params_from_iter(args))).map_err(
            |e| match failed_check(&e) {
                Some(guard) if decl.is_guard(&guard) => StoreError::GuardFailed { entity: kind, guard },
                _ => map_err(e),
            },
        )?;
    if n != 1 {
        return Err(StoreError::GuardFailed { entity: kind, guard: "exists_or_active".into() });
    }
    Ok(())
}

/// `INSERT INTO t (…, version) VALUES (…, 1) ON CONFLICT (key) DO UPDATE SET c = max(c, now) + cost,
/// version = version + 1 WHERE max(c, now) + cost - now <= window`: the GCRA step of
/// [`hearth_core::kernel::store::take_after`] as one statement. No row changed means the bucket is
/// full: the guard fails.
fn take(
    tx: &Connection,
    kind: EntityKind,
    row: &Row,
    column: &'static str,
    now: i64,
    cost: i64,
    window: i64,
) -> StoreResult<()> {
    let decl = kind.decl();
    let mut names = Vec::new();
    let mut args = Vec::new();
    for (name, value) in columns(row) {
        names.push(ident(name)?);
        args.push(to_sql(value)?);
    }
    let mut sets = vec![format!("{c} = max({c}, ?) + ?", c = ident(column)?)];
    if decl.is_versioned() {
        names.push("version");
        args.push(SqlValue::Integer(1));
        sets.push("version = version + 1".to_owned());
    }
    args.extend([now, cost, now, cost, now, window].map(SqlValue::Integer));
    let sql = format!(
        "INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {sets} \
         WHERE max({c}, ?) + ? - ? <= ?",
        table = ident(decl.table)?,
        names = names.join(", "),
        marks = vec!["?"; names.len()].join(", "),
        key = ident(decl.key)?,
        sets = sets.join(", "),
        c = ident(column)?,
    );
    let n = tx
        .prepare_cached(&sql)
        .and_then(|mut st| st.execute(params_from_iter(args)))
        .map_err(|e| write_err(e, kind))?;
    if n != 1 {
        return Err(StoreError::GuardFailed { entity: kind, guard: TAKE_GUARD.into() });
    }
    Ok(())
}

/// The guard a refused take reports (the other stores name theirs alike).
const TAKE_GUARD: &str = "take";

/// Applies one write inside the commit's transaction.
fn apply_write(tx: &Connection, write: &Write) -> StoreResult<()> {
    match write {
        Write::Row { kind, row, expect: Expect::Absent, .. } => insert(tx, *kind, row),
        Write::Row { kind, id, row, expect: Expect::Version(v) } => update(tx, *kind, *id, row, *v),
        Write::Delta { kind, id, add, require } => delta(tx, *kind, *id, add, require),
        Write::Append { kind, row, .. } => insert(tx, *kind, row),
        Write::Take { kind, row, column, now, cost, window, .. } => take(tx, *kind, row, column, *now, *cost, *window),
        other => Err(StoreError::Backend { message: format!("unsupported write on {}", other.kind()) }),
    }
}

/// Commits one change set in its own transaction, held open first when `hold` says so.
fn commit_blocking(conn: &mut Connection, changes: &ChangeSet, hold: Option<Hold>) -> StoreResult<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
    apply_changes(&tx, changes)?;
    if let Some(hold) = hold {
        // A held commit (`HoldCommit`): its events have their positions; wait with the write lock held.
        (hold.positioned)();
        if !hold.runtime.block_on(hold.release) {
            tx.rollback().map_err(map_err)?;
            return Ok(false);
        }
    }
    tx.commit().map_err(map_err)?;
    Ok(true)
}

/// Every write of a change set, in a transaction (or savepoint) the caller opened.
fn apply_changes(tx: &Connection, changes: &ChangeSet) -> StoreResult<()> {
    for w in &changes.writes {
        apply_write(tx, w)?;
    }
    for a in &changes.audit {
        let version = version_arg(a.version)?;
        tx.prepare_cached(
            "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .and_then(|mut st| {
            st.execute(params![
                uuid_text(a.id.as_uuid()),
                a.entity.kind.as_str(),
                uuid_text(a.entity.id),
                a.action,
                a.actor,
                a.before.as_ref().map(|b| b.to_string()),
                a.after.to_string(),
                version,
                a.at.unix_micros()
            ])
        })
        .map_err(map_err)?;
    }
    for e in &changes.events {
        let audience = serde_json::to_string(&e.audience)
            .map_err(|e| StoreError::Backend { message: format!("audience: {e}") })?;
        let readers =
            serde_json::to_string(&e.readers).map_err(|e| StoreError::Backend { message: format!("readers: {e}") })?;
        tx.prepare_cached(
            "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at, readers)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .and_then(|mut st| {
            st.execute(params![
                uuid_text(e.id.as_uuid()),
                e.topic,
                e.entity.kind.as_str(),
                uuid_text(e.entity.id),
                e.payload.to_string(),
                audience,
                e.at.unix_micros(),
                readers
            ])
        })
        .map_err(map_err)?;
    }
    if let Some(k) = &changes.idempotency {
        tx.prepare_cached(
            "INSERT INTO idempotency_keys (scope, key, command, fingerprint, response, at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .and_then(|mut st| {
            st.execute(params![k.scope, k.key, k.command, k.fingerprint, k.response.to_string(), k.at.unix_micros()])
        })
        .map_err(|e| if is_unique_violation(&e) { StoreError::IdempotencyKeyTaken } else { map_err(e) })?;
    }
    if let Some(a) = &changes.client_action {
        let seq =
            i64::try_from(a.seq).map_err(|_| StoreError::Constraint { name: "client_actions_seq_positive".into() })?;
        // The stream's owner row: inserted by its first action; the trigger
        // `client_actions_stream_owner` refuses an action whose principal is not the owner's.
        tx.prepare_cached(
            "INSERT INTO client_streams (client_id, principal, at) VALUES (?, ?, ?) ON CONFLICT (client_id) DO NOTHING",
        )
        .and_then(|mut st| st.execute(params![uuid_text(a.client_id.as_uuid()), a.principal, a.at.unix_micros()]))
        .map_err(map_err)?;
        tx.prepare_cached(
            "INSERT INTO client_actions (client_id, seq, principal, action, fingerprint, outcome, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .and_then(|mut st| {
            st.execute(params![
                uuid_text(a.client_id.as_uuid()),
                seq,
                a.principal,
                a.action,
                a.fingerprint,
                a.outcome.to_string(),
                a.at.unix_micros()
            ])
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::ClientSeqTaken
            } else if is_stream_owner_violation(&e) {
                StoreError::ClientStreamOwned
            } else {
                map_err(e)
            }
        })?;
    }
    jobs::insert_jobs(tx, &changes.jobs)
}

/// What a held commit waits on, inside the write transaction.
struct Hold {
    positioned: Positioned,
    release: Release,
    runtime: tokio::runtime::Handle,
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        self.commit_with(changes, None).await.map(|_| ())
    }

    async fn snapshot(&self, reads: Reads) -> StoreResult<Box<dyn Reader + '_>> {
        match reads {
            // One statement already reads one committed state.
            Reads::One => Ok(Box::new(OneRead::new(self))),
            Reads::Many => {
                let inner = self.inner.clone();
                let view_inner = self.inner.clone();
                let pooled = tokio::task::spawn_blocking(move || -> StoreResult<Pooled> {
                    let pooled = Pooled::acquire(&inner)?;
                    let begin = |c: &Connection| -> Result<(), Fail> {
                        c.execute_batch("BEGIN DEFERRED")?;
                        // The first read of a deferred transaction fixes its WAL snapshot: do it now,
                        // so the view sees the state committed when it was created.
                        c.prepare_cached("SELECT 1 FROM sqlite_master LIMIT 1")?
                            .query_row([], |_| Ok(()))
                            .optional()?;
                        Ok(())
                    };
                    // On failure `pooled` is dropped, which ends any transaction begun.
                    pooled.conn().and_then(begin).map_err(Fail::into_store)?;
                    Ok(pooled)
                })
                .await
                .map_err(|e| task_failed("snapshot", e))??;
                Ok(Box::new(View { inner: view_inner, conn: Arc::new(Mutex::new(pooled)) }))
            }
        }
    }
}
