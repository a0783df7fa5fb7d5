//! The storage contract: reads through [`Reader`] (by key, by [`Query`], and the kernel's own
//! tables), consistent read views ([`Store::snapshot`]), and one atomic [`Store::commit`] of a
//! [`ChangeSet`].
//!
//! Adapters (`hearth-sqlite`, `hearth-postgres`, and [`crate::kernel::memory::MemoryStore`]) hold no
//! business rule and no domain code: they execute a few generic write shapes ([`Write`]) and queries
//! from each entity's declaration.

pub use super::entity::{Entity, EntityKind, EntityRef};
use super::jobs::{JobQueue, NewJob};
use super::query::Query;
use super::value::{Row, RowRead, Value};
use crate::id::{AuditId, ClientId, EventId, JobId, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `Send + Sync` where threads exist; nothing on wasm, so the same traits compile for the browser.
#[cfg(not(target_family = "wasm"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_family = "wasm"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` where threads exist; nothing on wasm, so the same traits compile for the browser.
#[cfg(target_family = "wasm")]
pub trait MaybeSendSync {}
#[cfg(target_family = "wasm")]
impl<T: ?Sized> MaybeSendSync for T {}

/// A loaded value with the version the store holds. Versions start at 1 and grow by 1 per write
/// (append-only entities report 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version.
    pub version: u64,
}

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum Expect {
    /// Nothing: this is an insert (version 1).
    Absent,
    /// This version: the write stores `version + 1`.
    Version(u64),
}

impl Expect {
    /// The version the row has after the write.
    pub fn next_version(self) -> u64 {
        match self {
            Expect::Absent => 1,
            Expect::Version(v) => v.saturating_add(1),
        }
    }
}

/// One write, in one of the four generic shapes every store executes from the entity's
/// declaration. Domains never build these: [`crate::kernel::command::Decide`] does, together with
/// the audit record and the outbox event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Write {
    /// A versioned row: inserted at version 1 (`Expect::Absent`; an existing key or unique key is
    /// [`StoreError::AlreadyExists`]) or replaced only while the row is still at the expected
    /// version (else [`StoreError::VersionConflict`]).
    Row {
        /// The entity.
        kind: EntityKind,
        /// Its key.
        id: Uuid,
        /// Every column (the key first).
        row: Row,
        /// What the store must find.
        expect: Expect,
    },
    /// Adds to counter columns in place (`SET c = c + n, version = version + 1`), only while every
    /// `require` column equals its value and the entity's guards hold afterwards; otherwise
    /// [`StoreError::GuardFailed`]. Deltas commute, so hot rows never retry on versions.
    Delta {
        /// The entity.
        kind: EntityKind,
        /// Its key.
        id: Uuid,
        /// Column, amount.
        add: Vec<(&'static str, i64)>,
        /// Column, value that must hold for the delta to apply.
        require: Vec<(&'static str, Value)>,
    },
    /// Inserts an immutable row (an append-only entity); a unique key already taken is
    /// [`StoreError::AlreadyExists`].
    Append {
        /// The entity.
        kind: EntityKind,
        /// Its key.
        id: Uuid,
        /// Every column.
        row: Row,
    },
    /// Takes one place from a rate limit's bucket: the generic cell rate algorithm (GCRA) step
    /// [`take_after`] on the integer column `column` (the bucket's "theoretical arrival time", in
    /// microseconds) — `column = max(column, now) + cost`, only while the result is at most
    /// `now + window`; otherwise [`StoreError::GuardFailed`]. A missing row is inserted as `row`
    /// (whose `column` holds `now + cost`). Versioned rows also move `version` by one.
    ///
    /// Stores execute it as ONE conditional statement on the row (an `INSERT … ON CONFLICT DO
    /// UPDATE … WHERE` in SQL), so concurrent takes serialise on the row's lock and never retry on
    /// versions; the place is consumed if and only if the change set commits. Domains never build
    /// these: [`crate::kernel::command::Decide::take`] does, from a policy `crate::limits` decided.
    Take {
        /// The bucket entity.
        kind: EntityKind,
        /// Its key.
        id: Uuid,
        /// The row inserted when the key is absent.
        row: Row,
        /// The integer column holding the theoretical arrival time (µs since the Unix epoch).
        column: &'static str,
        /// The command's "now" (µs since the Unix epoch).
        now: i64,
        /// What one take adds (the policy's emission interval, µs; positive).
        cost: i64,
        /// How far ahead of `now` the column may run (the policy's burst window, µs; at least `cost`).
        window: i64,
    },
}

/// The one GCRA step every store applies for [`Write::Take`] (the memory store calls it; the SQL
/// stores write the same expression): from the bucket's theoretical arrival time `tat` (`None`: no
/// bucket yet), a take at `now` moves it to `max(tat, now) + cost`, admitted only while that is at
/// most `now + window`. `None` means refused (also when the arithmetic would overflow `i64`).
///
/// A clock that goes backwards only makes the bucket look fuller (`max` keeps the later `tat`), so
/// it can refuse more, never admit more.
pub fn take_after(tat: Option<i64>, now: i64, cost: i64, window: i64) -> Option<i64> {
    let next = tat.map_or(now, |t| t.max(now)).checked_add(cost)?;
    (next.checked_sub(now)? <= window).then_some(next)
}

impl Write {
    /// The entity written.
    pub fn kind(&self) -> EntityKind {
        match self {
            Write::Row { kind, .. }
            | Write::Delta { kind, .. }
            | Write::Append { kind, .. }
            | Write::Take { kind, .. } => *kind,
        }
    }
    /// The key written.
    pub fn id(&self) -> Uuid {
        match self {
            Write::Row { id, .. } | Write::Delta { id, .. } | Write::Append { id, .. } | Write::Take { id, .. } => *id,
        }
    }
}

/// One audit record: who changed what, from what to what. Append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Id.
    pub id: AuditId,
    /// The entity.
    pub entity: EntityRef,
    /// The action's wire name (`accept`, `create`).
    pub action: String,
    /// The actor's principal: a user id or `system`.
    pub actor: String,
    /// The entity before (absent for inserts).
    pub before: Option<serde_json::Value>,
    /// The entity after.
    pub after: serde_json::Value,
    /// The entity's version after the change.
    pub version: u64,
    /// When.
    pub at: Timestamp,
}

/// An event for the realtime layer and other consumers, committed with the change it describes
/// (the transactional outbox). `readers` is who may read what it carries — the entity's
/// [`Readers`](super::entity::Readers) after the change, the value the domain's reads check — so a
/// realtime layer routes without re-deriving authorization or reading the store
/// ([`crate::kernel::feed::may_receive`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Id.
    pub id: EventId,
    /// `<entity kind>.<action>` (`service_request.assigned`).
    pub topic: String,
    /// The entity.
    pub entity: EntityRef,
    /// The entity after the change.
    pub payload: serde_json::Value,
    /// The users it names (`readers.users`): for consumers that route by user id alone.
    pub audience: Vec<UserId>,
    /// When.
    pub at: Timestamp,
    /// Everyone entitled to receive it: the users, the roles (scoped to a tenant, when set) and
    /// every signed-in user when the entity is open to them. Events stored before the change feed
    /// carried users only; they read back as exactly those users.
    #[serde(default)]
    pub readers: super::entity::Readers,
}

/// The stored outcome of an idempotent command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The caller's principal: keys are scoped per caller.
    pub scope: String,
    /// The caller's key.
    pub key: String,
    /// The command's name.
    pub command: String,
    /// SHA-256 of the command's canonical JSON: a reused key with another request is refused.
    pub fingerprint: String,
    /// The command's output, replayed on duplicates.
    pub response: serde_json::Value,
    /// When first applied.
    pub at: Timestamp,
}

/// The server's record of one offline action (`crate::offline`): committed with the action's
/// effects, so an action is applied exactly once and its answer can be replayed.
///
/// `(client_id, seq)` is unique; a client's `last_seq` is its highest recorded `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientActionRecord {
    /// The client stream.
    pub client_id: ClientId,
    /// The action's position in it (1, 2, 3, … without gaps).
    pub seq: u64,
    /// The principal that owns the stream.
    pub principal: String,
    /// The action's command name.
    pub action: String,
    /// SHA-256 of the action's canonical JSON: a replay must carry the same action.
    pub fingerprint: String,
    /// The recorded outcome (`crate::offline::Outcome` as JSON).
    pub outcome: serde_json::Value,
    /// When recorded.
    pub at: Timestamp,
}

/// Where a client stream stands on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCursor {
    /// The principal that owns the stream.
    pub principal: String,
    /// The highest recorded sequence number.
    pub last_seq: u64,
}

/// Everything one command changes, committed atomically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Entity writes, applied in order.
    pub writes: Vec<Write>,
    /// Audit records to append.
    pub audit: Vec<AuditRecord>,
    /// Outbox events to append.
    pub events: Vec<OutboxEvent>,
    /// The idempotency record to store (its key must not exist yet).
    pub idempotency: Option<IdempotencyRecord>,
    /// The offline action this change set applies (its `(client_id, seq)` must not exist yet).
    pub client_action: Option<ClientActionRecord>,
    /// Background jobs to enqueue with the change ([`crate::kernel::jobs`]): inserted with it or not
    /// at all. A job whose id is taken, or whose unique key a pending job holds, is skipped — never
    /// an error, so a duplicate enqueue never fails the commit it rides in.
    pub jobs: Vec<NewJob>,
}

impl ChangeSet {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.audit.is_empty()
            && self.events.is_empty()
            && self.idempotency.is_none()
            && self.client_action.is_none()
            && self.jobs.is_empty()
    }
}

/// What a store can fail with. Adapters map their driver errors onto these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A versioned write found another version (or no row).
    #[error("version conflict on {entity}")]
    VersionConflict {
        /// The entity kind.
        entity: EntityKind,
    },
    /// An insert found the row (or its unique key) already there.
    #[error("{entity} already exists")]
    AlreadyExists {
        /// The entity kind.
        entity: EntityKind,
    },
    /// A guarded change (a balance delta, a counter) would break its guard; decide again on fresh data.
    #[error("guard `{guard}` failed on {entity}")]
    GuardFailed {
        /// The entity kind.
        entity: EntityKind,
        /// The guard or constraint name.
        guard: String,
    },
    /// The idempotency key was recorded by a concurrent commit.
    #[error("idempotency key already recorded")]
    IdempotencyKeyTaken,
    /// The offline action `(client_id, seq)` was recorded by a concurrent commit.
    #[error("client action already recorded")]
    ClientSeqTaken,
    /// A named backstop constraint refused the write: core let through something it should not have.
    #[error("constraint `{name}` violated")]
    Constraint {
        /// The constraint's name.
        name: String,
    },
    /// Busy, unreachable, or a serialization failure: retrying later may work.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// Detail for logs.
        message: String,
    },
    /// A stored row does not decode into a valid value.
    #[error("corrupt row: {message}")]
    Corrupt {
        /// Detail for logs.
        message: String,
    },
    /// Any other driver error.
    #[error("store error: {message}")]
    Backend {
        /// Detail for logs.
        message: String,
    },
    /// A change-feed cursor older than the feed's pruning horizon: events after it may have been
    /// deleted (retention), so reading on from it could skip some.
    #[error("feed cursor {cursor} is older than the retention horizon {horizon}")]
    CursorExpired {
        /// The cursor asked for.
        cursor: String,
        /// The last cursor pruned.
        horizon: String,
    },
    /// The offline action's client stream is owned by another principal (the stream's owner row,
    /// written with its first action and checked by every action's commit, names someone else).
    #[error("client stream owned by another principal")]
    ClientStreamOwned,
    /// A job step named a lease the job is no longer running under (it was rescued, cancelled or
    /// settled meanwhile): the step changed nothing.
    #[error("job {job} is no longer held under this lease")]
    LeaseLost {
        /// The job.
        job: JobId,
    },
}

/// The result type of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A stored row with its version, read by column name.
pub struct StoredRow {
    /// The row.
    pub row: Box<dyn RowRead + Send + Sync>,
    /// Its version (1 for append-only entities).
    pub version: u64,
}

impl std::fmt::Debug for StoredRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredRow").field("version", &self.version).finish_non_exhaustive()
    }
}

/// How many reads a command's load makes: a store may serve a single read without opening a
/// read transaction (one statement already sees one snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Exactly one read: a second read through the view fails with `Backend`, so a wrong
    /// declaration is caught by the first test that runs the command.
    One,
    /// Any number of reads, all from one committed state.
    Many,
}

/// Reads: entities by key or query, and the kernel's own tables.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait Reader: MaybeSendSync {
    /// The row of `kind` with key `id`.
    async fn get_row(&self, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>>;
    /// The rows matching `query`, in its order.
    async fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>>;
    /// How many rows match `query` (its order, position and limit are ignored).
    async fn count_rows(&self, query: &Query) -> StoreResult<u64>;
    /// The row of `kind` with key `id`, and the row of `parent` whose key its column `via` holds —
    /// in ONE read (one statement), so a command that needs both (a slot and its amenity) can
    /// declare [`Reads::One`] (typed: [`ReadExt::get_pair`]). `None` when the row does not exist; the parent is `None` when missing.
    async fn get_with_parent(
        &self,
        kind: EntityKind,
        id: Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>>;
    /// The idempotency record for `(scope, key)`, if any.
    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>>;
    /// The audit trail of one entity, oldest first (records under the kind's aliases included).
    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>>;
    /// Outbox events with a position greater than `after`, in position order, at most `limit`.
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>>;
    /// Where the client stream stands: its owner and highest recorded `seq`; `None` when unused.
    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>>;
    /// The recorded actions of a client with `from <= seq <= to`, in `seq` order.
    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>>;
}

/// The contract every store honours, whatever the domain: reads, atomic commits, snapshots, and
/// the job queue's claims and leases ([`JobQueue`]).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait Store: Reader + JobQueue {
    /// Applies the change set atomically, or nothing of it.
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()>;
    /// A read view in which every read sees the same committed state (released when dropped).
    async fn snapshot(&self, reads: Reads) -> StoreResult<Box<dyn Reader + '_>>;
    /// True when the store also holds the named SQL backstops (the CHECKs that repeat core's rules),
    /// so a write core should never produce is refused with `Constraint`. The memory store holds
    /// only the declared keys, uniques and guards, and answers false.
    fn enforces_backstops(&self) -> bool {
        true
    }
}

/// Typed reads over any [`Reader`]: what domains call.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait ReadExt: Reader {
    /// The entity with key `id`.
    async fn get<T: Entity>(&self, id: Uuid) -> StoreResult<Option<Versioned<T>>> {
        match self.get_row(T::kind(), id).await? {
            Some(r) => Ok(Some(decode::<T>(&r)?)),
            None => Ok(None),
        }
    }
    /// The entity with key `id` and the parent entity its column `via` names, in one read.
    async fn get_pair<T: Entity, P: Entity>(
        &self,
        id: Uuid,
        via: &'static str,
    ) -> StoreResult<Option<(Versioned<T>, Option<Versioned<P>>)>> {
        match Reader::get_with_parent(self, T::kind(), id, via, P::kind()).await? {
            None => Ok(None),
            Some((child, parent)) => Ok(Some((decode::<T>(&child)?, parent.as_ref().map(decode::<P>).transpose()?))),
        }
    }
    /// The entities matching `query` (which must be over `T`).
    async fn find<T: Entity>(&self, query: Query) -> StoreResult<Vec<Versioned<T>>> {
        debug_assert_eq!(query.kind, T::kind(), "a query over another entity");
        self.query_rows(&query).await?.iter().map(decode::<T>).collect()
    }
    /// The first entity matching `query`.
    async fn find_one<T: Entity>(&self, query: Query) -> StoreResult<Option<Versioned<T>>> {
        Ok(self.find::<T>(query.limit(1)).await?.into_iter().next())
    }
    /// How many rows match `query`.
    async fn count(&self, query: Query) -> StoreResult<u64> {
        self.count_rows(&query).await
    }
}

impl<R: Reader + ?Sized> ReadExt for R {}

/// Decodes a stored row into `T` (a row that does not decode is [`StoreError::Corrupt`]).
pub fn decode<T: Entity>(r: &StoredRow) -> StoreResult<Versioned<T>> {
    let value =
        T::from_row(r.row.as_ref()).map_err(|e| StoreError::Corrupt { message: format!("{}: {e}", T::DECL.table) })?;
    Ok(Versioned { value, version: r.version })
}

/// A [`Reader`] that serves exactly one read and refuses the next: what a store hands a command
/// that declared [`Reads::One`] when it has no cheaper snapshot (a single statement is one).
pub struct OneRead<'a, R: ?Sized> {
    inner: &'a R,
    used: std::sync::atomic::AtomicBool,
}

impl<'a, R: Reader + ?Sized> OneRead<'a, R> {
    /// Wraps `inner`.
    pub fn new(inner: &'a R) -> Self {
        Self { inner, used: std::sync::atomic::AtomicBool::new(false) }
    }
    fn take(&self) -> StoreResult<()> {
        if self.used.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Backend {
                message: "a command declared `Reads::One` and read twice: declare `Reads::Many`".into(),
            });
        }
        Ok(())
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl<R: Reader + ?Sized> Reader for OneRead<'_, R> {
    async fn get_row(&self, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>> {
        self.take()?;
        self.inner.get_row(kind, id).await
    }
    async fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>> {
        self.take()?;
        self.inner.query_rows(query).await
    }
    async fn count_rows(&self, query: &Query) -> StoreResult<u64> {
        self.take()?;
        self.inner.count_rows(query).await
    }
    async fn get_with_parent(
        &self,
        kind: EntityKind,
        id: Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
        self.take()?;
        self.inner.get_with_parent(kind, id, via, parent).await
    }
    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        self.take()?;
        self.inner.idempotency_record(scope, key).await
    }
    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        self.take()?;
        self.inner.audit_trail(entity).await
    }
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        self.take()?;
        self.inner.outbox_after(after, limit).await
    }
    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
        self.take()?;
        self.inner.client_cursor(client_id).await
    }
    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>> {
        self.take()?;
        self.inner.client_actions(client_id, from, to).await
    }
}
