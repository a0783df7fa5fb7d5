//! A store held in memory: [`MemoryStore`], the third implementation of [`Reader`] and [`Store`]
//! next to the SQLite and Postgres adapters, and held to the same conformance suite
//! (`hearth_core::testing`).
//!
//! ## What it is for
//!
//! - **Fast decision tests with no database**: a domain's commands and reads run against it in
//!   microseconds, with the same version conflicts, unique keys and guards a SQL store reports.
//! - **Offline clients**: an app (native or in the browser) keeps a copy of what it may read and
//!   runs commands on it optimistically, before the server confirms them.
//! - **wasm**: it spawns no thread and needs no runtime (a `std` mutex around an immutable state),
//!   so it compiles for `wasm32` like the rest of core.
//!
//! ## How it honours the contract
//!
//! There is no SQL schema to enforce anything, so the store enforces the entities' declarations
//! itself ([`EntityDecl`]): the key, every declared [`Unique`](super::entity::Unique) (partial ones
//! through their `when`; `NULL`s never collide, as in SQL) and every declared
//! [`Guard`](super::entity::Guard) (a guarded delta that would break one is `GuardFailed`; a row
//! written whole that breaks one is `Constraint`, as a SQL `CHECK` would report). Other `CHECK`s of
//! the SQL schemas are not known here: core keeps them by construction, the SQL stores are their
//! backstop.
//!
//! The state is immutable and shared (`Arc`): a commit copies it shallowly under a lock (only the
//! tables it touches are copied, and their rows are shared), applies the whole change set to the
//! copy in order, and swaps the copy in only if every write succeeded. A snapshot is the state of
//! its moment, so it is consistent for as long as it is held, whatever commits meanwhile. Queries
//! evaluate every [`Filter`] with SQL's semantics (a comparison with `NULL` is false; `NULL`s sort
//! last ascending and first descending, as in Postgres); rows that tie on the order come in key
//! order.

use super::entity::{EntityDecl, EntityKind, EntityRef, Shape};
use super::feed::{
    cursor_expired, Feed, FeedCursor, FeedEvent, FeedPage, HoldCommit, Positioned, Release, FEED_PAGE_MAX,
};
use super::jobs::table::JobTable;
use super::jobs::{Claim, Job, JobFilter, JobQueue, Lease, Settle};
use super::query::{Dir, Filter, Query};
use super::store::{
    AuditRecord, ChangeSet, ClientActionRecord, ClientCursor, Expect, IdempotencyRecord, OneRead, OutboxEvent, Reader,
    Reads, Store, StoreError, StoreResult, StoredRow, Write,
};
use super::value::{Decoded, Row, RowRead, Value, ValueType};
use crate::id::{ClientId, JobId};
use crate::time::Timestamp;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

/// A store in memory (see the [module documentation](self)). Cloning is cheap and shares the data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<Arc<State>>>,
    /// The job queue: outside the copy-on-write state (claims and leases change it far more often
    /// than commits do, and no snapshot reads it), locked after `state` by a commit that enqueues.
    jobs: Arc<Mutex<JobTable>>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current committed state.
    fn current(&self) -> StoreResult<Arc<State>> {
        let guard = self.state.lock().map_err(poisoned)?;
        Ok(Arc::clone(&guard))
    }

    /// Applies `changes` to a copy of the current state and swaps it in, or changes nothing. Jobs
    /// are inserted only once everything else applied (inserting them cannot fail: a taken id or
    /// unique key skips the job), under the state lock, so they land with the change or not at all.
    fn apply(&self, mut changes: ChangeSet) -> StoreResult<()> {
        let jobs = std::mem::take(&mut changes.jobs);
        let mut guard = self.state.lock().map_err(poisoned)?;
        let mut next = State::clone(&guard);
        next.apply(changes)?;
        if !jobs.is_empty() {
            self.jobs.lock().map_err(poisoned)?.insert(jobs);
        }
        *guard = Arc::new(next);
        Ok(())
    }

    fn queue(&self) -> StoreResult<std::sync::MutexGuard<'_, JobTable>> {
        self.jobs.lock().map_err(poisoned)
    }
}

fn poisoned<T>(_: PoisonError<T>) -> StoreError {
    backend("memory store lock poisoned by a panic")
}

fn backend(message: impl Into<String>) -> StoreError {
    StoreError::Backend { message: message.into() }
}

/// One stored row.
#[derive(Debug, Clone)]
struct Entry {
    /// The row as written (append-only rows with their sequence column filled in).
    row: Arc<Row>,
    /// Its version (1 for append-only rows).
    version: u64,
}

/// One entity table: rows by key, and the last insertion number given.
#[derive(Debug, Clone, Default)]
struct Table {
    rows: BTreeMap<Uuid, Entry>,
    last_seq: i64,
}

/// Everything the store holds. Immutable once published: commits build a new one.
#[derive(Debug, Clone, Default)]
struct State {
    /// Entity tables by table name.
    tables: BTreeMap<&'static str, Arc<Table>>,
    /// The audit log, in commit order.
    audit: Arc<Vec<Arc<AuditRecord>>>,
    /// The outbox with positions 1, 2, 3, …
    outbox: Arc<Vec<(i64, Arc<OutboxEvent>)>>,
    /// Idempotency records by (scope, key).
    idempotency: Arc<BTreeMap<(String, String), Arc<IdempotencyRecord>>>,
    /// Offline action records by (client, seq).
    client_actions: Arc<BTreeMap<(ClientId, u64), Arc<ClientActionRecord>>>,
    /// The owner principal of each client stream, recorded with the stream's first action
    /// (`client_streams` in SQL; every action's commit checks it).
    client_streams: Arc<BTreeMap<ClientId, String>>,
    /// The change feed's bookkeeping.
    feed: FeedState,
    /// While a held commit is applied: the first of the positions it reserved.
    reserved: Option<i64>,
}

/// The change feed's bookkeeping in memory ([`crate::kernel::feed`]).
#[derive(Debug, Clone, Default)]
struct FeedState {
    /// The last position handed out (events of commits still held may not be in the outbox yet).
    next_position: i64,
    /// The first position reserved by each commit still held open ([`HoldCommit`]): the feed
    /// releases no event from the oldest of them on.
    in_flight: std::collections::BTreeSet<i64>,
    /// The last cursor pruned.
    horizon: FeedCursor,
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

impl State {
    /// Applies a whole change set, in the order the SQL stores do: writes, audit, outbox,
    /// idempotency record, client action. On error the state is partly changed: the caller drops it.
    fn apply(&mut self, changes: ChangeSet) -> StoreResult<()> {
        let ChangeSet { writes, audit, events, idempotency, client_action, jobs: _ } = changes;
        for w in writes {
            self.write(w)?;
        }
        if !audit.is_empty() {
            Arc::make_mut(&mut self.audit).extend(audit.into_iter().map(Arc::new));
        }
        self.append_events(events)?;
        if let Some(rec) = idempotency {
            let key = (rec.scope.clone(), rec.key.clone());
            if self.idempotency.contains_key(&key) {
                return Err(StoreError::IdempotencyKeyTaken);
            }
            Arc::make_mut(&mut self.idempotency).insert(key, Arc::new(rec));
        }
        if let Some(rec) = client_action {
            if rec.seq == 0 || i64::try_from(rec.seq).is_err() {
                return Err(StoreError::Constraint { name: "client_actions_seq_positive".into() });
            }
            let key = (rec.client_id, rec.seq);
            if self.client_actions.contains_key(&key) {
                return Err(StoreError::ClientSeqTaken);
            }
            // The stream's owner: recorded by its first action, the same principal on every other.
            match self.client_streams.get(&rec.client_id) {
                Some(owner) if *owner != rec.principal => return Err(StoreError::ClientStreamOwned),
                Some(_) => {}
                None => {
                    Arc::make_mut(&mut self.client_streams).insert(rec.client_id, rec.principal.clone());
                }
            }
            Arc::make_mut(&mut self.client_actions).insert(key, Arc::new(rec));
        }
        Ok(())
    }

    /// Appends `events` at the next free positions — or at the positions a held commit reserved
    /// (`self.reserved`), keeping the outbox in position order.
    fn append_events(&mut self, events: Vec<OutboxEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut position = match self.reserved.take() {
            Some(first) => first - 1,
            None => {
                let p = self.feed.next_position;
                self.feed.next_position = p
                    .checked_add(i64::try_from(events.len()).map_err(|_| backend("too many events"))?)
                    .ok_or_else(|| backend("outbox position overflow"))?;
                p
            }
        };
        let outbox = Arc::make_mut(&mut self.outbox);
        for e in events {
            position = position.checked_add(1).ok_or_else(|| backend("outbox position overflow"))?;
            let at = outbox.partition_point(|(p, _)| *p < position);
            outbox.insert(at, (position, Arc::new(e)));
        }
        Ok(())
    }

    /// The table of `decl`, copied out of sharing if a snapshot still holds it.
    fn table_mut(&mut self, decl: &'static EntityDecl) -> &mut Table {
        Arc::make_mut(self.tables.entry(decl.table).or_default())
    }

    fn write(&mut self, w: Write) -> StoreResult<()> {
        match w {
            Write::Row { kind, id, row, expect } => {
                let decl = kind.decl();
                check_key(decl, id, &row)?;
                let table = self.table_mut(decl);
                match expect {
                    Expect::Absent => {
                        check_constraints(decl, &row)?;
                        if table.rows.contains_key(&id) {
                            return Err(StoreError::AlreadyExists { entity: kind });
                        }
                        check_uniques(kind, table, id, &row)?;
                        table.last_seq = next_seq(table.last_seq)?;
                        table.rows.insert(id, Entry { row: Arc::new(row), version: 1 });
                    }
                    Expect::Version(v) => {
                        match table.rows.get(&id) {
                            Some(e) if e.version == v => {}
                            _ => return Err(StoreError::VersionConflict { entity: kind }),
                        }
                        check_constraints(decl, &row)?;
                        check_uniques(kind, table, id, &row)?;
                        let version = v.checked_add(1).ok_or_else(|| backend("version overflow"))?;
                        table.rows.insert(id, Entry { row: Arc::new(row), version });
                    }
                }
            }
            Write::Delta { kind, id, add, require } => {
                let decl = kind.decl();
                let table = self.table_mut(decl);
                let Some(entry) = table.rows.get_mut(&id) else {
                    return Err(StoreError::GuardFailed { entity: kind, guard: "exists".into() });
                };
                for (column, wanted) in &require {
                    let have = entry.row.value(column).ok_or_else(|| no_column(decl, column))?;
                    if sql_eq(column, have, wanted)? != Some(true) {
                        return Err(StoreError::GuardFailed { entity: kind, guard: "active".into() });
                    }
                }
                let mut row = Row::clone(&entry.row);
                for (column, amount) in &add {
                    match row.value(column) {
                        Some(Value::Int(have)) => {
                            let sum = have.checked_add(*amount).ok_or_else(|| {
                                backend(format!("{}: `{column}` + {amount} is out of range", decl.table))
                            })?;
                            row.set(column, Value::Int(sum));
                        }
                        // NULL + n is NULL, as in SQL.
                        Some(Value::Null(_)) => {}
                        Some(other) => {
                            return Err(backend(format!(
                                "{}: a delta on `{column}`, which holds {}",
                                decl.table,
                                other.value_type()
                            )))
                        }
                        None => return Err(no_column(decl, column)),
                    }
                }
                if let Some(g) = decl.guards.iter().find(|g| !(g.holds)(&row)) {
                    return Err(StoreError::GuardFailed { entity: kind, guard: g.name.to_owned() });
                }
                entry.version = entry.version.checked_add(1).ok_or_else(|| backend("version overflow"))?;
                entry.row = Arc::new(row);
            }
            Write::Take { kind, id, row, column, now, cost, window } => {
                let decl = kind.decl();
                check_key(decl, id, &row)?;
                let table = self.table_mut(decl);
                let Some(entry) = table.rows.get_mut(&id) else {
                    // No bucket yet: inserted as given (its column holds `now + cost`), as the SQL
                    // stores' `INSERT … ON CONFLICT` does.
                    check_constraints(decl, &row)?;
                    check_uniques(kind, table, id, &row)?;
                    table.last_seq = next_seq(table.last_seq)?;
                    table.rows.insert(id, Entry { row: Arc::new(row), version: 1 });
                    return Ok(());
                };
                let tat = match entry.row.value(column) {
                    Some(Value::Int(t)) => *t,
                    Some(other) => {
                        return Err(backend(format!(
                            "{}: a take on `{column}`, which holds {}",
                            decl.table,
                            other.value_type()
                        )))
                    }
                    None => return Err(no_column(decl, column)),
                };
                let Some(next) = super::store::take_after(Some(tat), now, cost, window) else {
                    return Err(StoreError::GuardFailed { entity: kind, guard: TAKE_GUARD.into() });
                };
                let mut updated = Row::clone(&entry.row);
                updated.set(column, Value::Int(next));
                if decl.is_versioned() {
                    entry.version = entry.version.checked_add(1).ok_or_else(|| backend("version overflow"))?;
                }
                entry.row = Arc::new(updated);
            }
            Write::Append { kind, id, row } => {
                let decl = kind.decl();
                check_key(decl, id, &row)?;
                let table = self.table_mut(decl);
                let seq = next_seq(table.last_seq)?;
                let mut row = row;
                if let Shape::AppendOnly { sequence: Some(column) } = decl.shape {
                    row.set(column, Value::Int(seq));
                }
                check_constraints(decl, &row)?;
                if table.rows.contains_key(&id) {
                    return Err(StoreError::AlreadyExists { entity: kind });
                }
                check_uniques(kind, table, id, &row)?;
                table.last_seq = seq;
                table.rows.insert(id, Entry { row: Arc::new(row), version: 1 });
            }
        }
        Ok(())
    }
}

/// The guard a refused [`Write::Take`] reports (the SQL stores name theirs alike).
const TAKE_GUARD: &str = "take";

fn next_seq(last: i64) -> StoreResult<i64> {
    last.checked_add(1).ok_or_else(|| backend("insertion sequence overflow"))
}

/// The row's key column must hold the write's id.
fn check_key(decl: &EntityDecl, id: Uuid, row: &Row) -> StoreResult<()> {
    match row.value(decl.key) {
        Some(Value::Uuid(k)) if *k == id => Ok(()),
        Some(_) => Err(backend(format!("{}: key column `{}` does not hold the written id", decl.table, decl.key))),
        None => Err(no_column(decl, decl.key)),
    }
}

/// A row written whole must satisfy the entity's guards, as a SQL `CHECK` would require.
fn check_constraints(decl: &EntityDecl, row: &Row) -> StoreResult<()> {
    match decl.guards.iter().find(|g| !(g.holds)(row)) {
        Some(g) => Err(StoreError::Constraint { name: g.name.to_owned() }),
        None => Ok(()),
    }
}

/// No other row of `table` may hold `row`'s values in all columns of any unique key that covers
/// both rows (`NULL`s never collide).
fn check_uniques(kind: EntityKind, table: &Table, id: Uuid, row: &Row) -> StoreResult<()> {
    let decl = kind.decl();
    for unique in decl.uniques {
        if unique.when.is_some_and(|when| !when(row)) {
            continue;
        }
        let mine = unique
            .columns
            .iter()
            .map(|c| row.value(c).ok_or_else(|| no_column(decl, c)))
            .collect::<StoreResult<Vec<&Value>>>()?;
        if mine.iter().any(|v| v.is_null()) {
            continue;
        }
        for (key, other) in &table.rows {
            if *key == id || unique.when.is_some_and(|when| !when(other.row.as_ref())) {
                continue;
            }
            let mut same = true;
            for (column, value) in unique.columns.iter().zip(&mine) {
                let theirs = other.row.value(column).ok_or_else(|| no_column(decl, column))?;
                if sql_eq(column, theirs, value)? != Some(true) {
                    same = false;
                    break;
                }
            }
            if same {
                return Err(StoreError::AlreadyExists { entity: kind });
            }
        }
    }
    Ok(())
}

fn no_column(decl: &EntityDecl, column: &str) -> StoreError {
    backend(format!("{}: no column `{column}`", decl.table))
}

// ---------------------------------------------------------------------------------------------
// Comparisons (SQL semantics)
// ---------------------------------------------------------------------------------------------

/// `a = b`: `None` when either is `NULL` (SQL's unknown); JSON and lists compare by value.
fn sql_eq(column: &str, a: &Value, b: &Value) -> StoreResult<Option<bool>> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    if let Some(o) = a.sql_cmp(b) {
        return Ok(Some(o == Ordering::Equal));
    }
    match (a, b) {
        (Value::Json(x), Value::Json(y)) => Ok(Some(x == y)),
        (Value::TextList(x), Value::TextList(y)) => Ok(Some(x == y)),
        // NaN equals nothing.
        (Value::Float(_), Value::Float(_)) => Ok(Some(false)),
        _ => Err(mismatch(column, a, b)),
    }
}

/// `a` compared with `b`: `None` when either is `NULL` (or a NaN).
fn sql_ord(column: &str, a: &Value, b: &Value) -> StoreResult<Option<Ordering>> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    match (a.sql_cmp(b), a, b) {
        (Some(o), _, _) => Ok(Some(o)),
        (None, Value::Float(_), Value::Float(_)) => Ok(None),
        (None, _, _) => Err(mismatch(column, a, b)),
    }
}

fn mismatch(column: &str, a: &Value, b: &Value) -> StoreError {
    backend(format!("column `{column}`: cannot compare {} with {}", a.value_type(), b.value_type()))
}

/// Sort order with `NULL`s last (ascending), as in Postgres; reversed for descending.
fn sort_cmp(a: &Value, b: &Value, dir: Dir) -> Ordering {
    let asc = match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.sql_cmp(b).unwrap_or(Ordering::Equal),
    };
    match dir {
        Dir::Asc => asc,
        Dir::Desc => asc.reverse(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// A column of a stored row; `version` of a versioned row is the store's, as in the SQL tables.
fn column<'a>(decl: &EntityDecl, entry: &'a Entry, name: &str) -> StoreResult<Cow<'a, Value>> {
    match entry.row.value(name) {
        Some(v) => Ok(Cow::Borrowed(v)),
        None if name == "version" && decl.is_versioned() => {
            Ok(Cow::Owned(Value::Int(i64::try_from(entry.version).unwrap_or(i64::MAX))))
        }
        None => Err(no_column(decl, name)),
    }
}

/// A stored row handed to a reader without copying it.
struct SharedRow(Arc<Row>);

impl RowRead for SharedRow {
    fn read(&self, column: &str, ty: ValueType) -> Decoded<Value> {
        self.0.read(column, ty)
    }
}

fn stored(entry: &Entry) -> StoredRow {
    StoredRow { row: Box::new(SharedRow(Arc::clone(&entry.row))), version: entry.version }
}

impl State {
    fn table(&self, decl: &EntityDecl) -> Option<&Table> {
        self.tables.get(decl.table).map(|t| t.as_ref())
    }

    /// True when every filter holds on `entry` (a row of `decl`).
    fn all(&self, decl: &EntityDecl, entry: &Entry, filters: &[Filter]) -> StoreResult<bool> {
        for f in filters {
            if !self.holds(decl, entry, f)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn holds(&self, decl: &EntityDecl, entry: &Entry, filter: &Filter) -> StoreResult<bool> {
        let cmp = |c: &str, v: &Value| -> StoreResult<Option<Ordering>> { sql_ord(c, &*column(decl, entry, c)?, v) };
        Ok(match filter {
            Filter::Eq(c, v) => sql_eq(c, &*column(decl, entry, c)?, v)? == Some(true),
            Filter::Ne(c, v) => sql_eq(c, &*column(decl, entry, c)?, v)? == Some(false),
            Filter::Lt(c, v) => cmp(c, v)? == Some(Ordering::Less),
            Filter::Le(c, v) => matches!(cmp(c, v)?, Some(Ordering::Less | Ordering::Equal)),
            Filter::Gt(c, v) => cmp(c, v)? == Some(Ordering::Greater),
            Filter::Ge(c, v) => matches!(cmp(c, v)?, Some(Ordering::Greater | Ordering::Equal)),
            Filter::In(c, values) => {
                let have = column(decl, entry, c)?;
                let mut found = false;
                for v in values {
                    if sql_eq(c, &have, v)? == Some(true) {
                        found = true;
                        break;
                    }
                }
                found
            }
            Filter::NotIn(c, values) => {
                let have = column(decl, entry, c)?;
                // `x NOT IN (…)` is true only when `x` differs from every value, none of them NULL.
                let mut all_differ = true;
                for v in values {
                    if sql_eq(c, &have, v)? != Some(false) {
                        all_differ = false;
                        break;
                    }
                }
                all_differ
            }
            Filter::IsNull(c) => column(decl, entry, c)?.is_null(),
            Filter::NotNull(c) => !column(decl, entry, c)?.is_null(),
            Filter::Any(groups) => {
                let mut any = false;
                for group in groups {
                    if self.all(decl, entry, group)? {
                        any = true;
                        break;
                    }
                }
                any
            }
            Filter::NotExists { kind, inner, outer, filter } => {
                let outer_value = column(decl, entry, outer)?;
                let other = kind.decl();
                match self.table(other) {
                    None => true,
                    Some(_) if outer_value.is_null() => true,
                    Some(table) => {
                        let mut exists = false;
                        for candidate in table.rows.values() {
                            if sql_eq(inner, &*column(other, candidate, inner)?, &outer_value)? == Some(true)
                                && self.all(other, candidate, filter)?
                            {
                                exists = true;
                                break;
                            }
                        }
                        !exists
                    }
                }
            }
        })
    }

    /// The rows of the query's entity matching its filters, in key order.
    fn matching(&self, query: &Query) -> StoreResult<Vec<&Entry>> {
        let decl = query.kind.decl();
        let Some(table) = self.table(decl) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.rows.values() {
            if self.all(decl, entry, &query.filter)? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    fn get_row(&self, decl: &EntityDecl, id: Uuid) -> Option<StoredRow> {
        self.table(decl).and_then(|t| t.rows.get(&id)).map(stored)
    }

    fn get_with_parent(
        &self,
        kind: EntityKind,
        id: Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
        let Some(child) = self.get_row(kind.decl(), id) else { return Ok(None) };
        let parent_row = match child.row.opt_uuid(via) {
            Ok(Some(pid)) => self.get_row(parent.decl(), pid),
            Ok(None) => None,
            Err(e) => return Err(backend(format!("{}: {e}", kind.decl().table))),
        };
        Ok(Some((child, parent_row)))
    }

    fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>> {
        let decl = query.kind.decl();
        let rows = self.matching(query)?;
        let mut keyed = Vec::with_capacity(rows.len());
        for entry in rows {
            let key = query
                .order
                .iter()
                .map(|(c, _)| column(decl, entry, c))
                .collect::<StoreResult<Vec<Cow<'_, Value>>>>()?;
            keyed.push((key, entry));
        }
        if let Some(after) = &query.after {
            let dir = query
                .keyset_dir()
                .ok_or_else(|| backend(format!("{}: keyset paging needs sort keys in one direction", decl.table)))?;
            if after.len() != query.order.len() {
                return Err(backend(format!(
                    "{}: a keyset position of {} values for {} sort keys",
                    decl.table,
                    after.len(),
                    query.order.len()
                )));
            }
            let mut kept = Vec::with_capacity(keyed.len());
            for (key, entry) in keyed {
                if is_after(&query.order, &key, after, dir)? {
                    kept.push((key, entry));
                }
            }
            keyed = kept;
        }
        if !query.order.is_empty() {
            keyed.sort_by(|(a, _), (b, _)| {
                query
                    .order
                    .iter()
                    .zip(a.iter().zip(b.iter()))
                    .map(|((_, dir), (x, y))| sort_cmp(x, y, *dir))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
        }
        let skip = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let take = query.limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        Ok(keyed.into_iter().skip(skip).take(take).map(|(_, entry)| stored(entry)).collect())
    }

    fn count_rows(&self, query: &Query) -> StoreResult<u64> {
        Ok(u64::try_from(self.matching(query)?.len()).unwrap_or(u64::MAX))
    }

    fn idempotency_record(&self, scope: &str, key: &str) -> Option<IdempotencyRecord> {
        self.idempotency.get(&(scope.to_owned(), key.to_owned())).map(|r| IdempotencyRecord::clone(r))
    }

    fn audit_trail(&self, entity: EntityRef) -> Vec<AuditRecord> {
        self.audit.iter().filter(|r| r.entity == entity).map(|r| AuditRecord::clone(r)).collect()
    }

    /// The feed after `after` (see [`crate::kernel::feed`]): positions are commit order here, except
    /// that a held commit's reserved positions hold back everything from them on.
    fn feed_after(&self, after: FeedCursor, limit: u32) -> StoreResult<FeedPage> {
        if after != FeedCursor::START && after < self.feed.horizon {
            return Err(cursor_expired(after, self.feed.horizon));
        }
        let released = self.feed.in_flight.first().copied().unwrap_or(i64::MAX);
        let start = self.outbox.partition_point(|(p, _)| *p <= after.position());
        let take = usize::try_from(limit.min(FEED_PAGE_MAX)).unwrap_or(usize::MAX);
        let mut events = Vec::new();
        let mut held_back = false;
        for (p, e) in self.outbox.iter().skip(start) {
            if *p >= released {
                held_back = true;
                break;
            }
            if events.len() == take {
                break;
            }
            let cursor = FeedCursor::new(0, *p).ok_or_else(|| backend("negative outbox position"))?;
            events.push(FeedEvent { cursor, event: OutboxEvent::clone(e) });
        }
        Ok(FeedPage { events, held_back })
    }

    fn feed_head(&self) -> StoreResult<FeedCursor> {
        let released = self.feed.in_flight.first().copied().unwrap_or(i64::MAX);
        let last = self.outbox.iter().rev().map(|(p, _)| *p).find(|p| *p < released);
        let last = match last {
            Some(p) => FeedCursor::new(0, p).ok_or_else(|| backend("negative outbox position"))?,
            None => FeedCursor::START,
        };
        Ok(last.max(self.feed.horizon))
    }

    fn outbox_after(&self, after: i64, limit: u32) -> Vec<(i64, OutboxEvent)> {
        let start = self.outbox.partition_point(|(p, _)| *p <= after);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        self.outbox.iter().skip(start).take(take).map(|(p, e)| (*p, OutboxEvent::clone(e))).collect()
    }

    /// The stream's owner (its owner row) and highest seq, as the SQL stores read them.
    fn client_cursor(&self, client_id: ClientId) -> Option<ClientCursor> {
        let owner = self.client_streams.get(&client_id)?;
        let last_seq =
            self.client_actions.range((client_id, 0)..=(client_id, u64::MAX)).next_back().map_or(0, |(k, _)| k.1);
        Some(ClientCursor { principal: owner.clone(), last_seq })
    }

    fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> Vec<ClientActionRecord> {
        if from > to {
            return Vec::new();
        }
        self.client_actions
            .range((client_id, from)..=(client_id, to))
            .map(|(_, r)| ClientActionRecord::clone(r))
            .collect()
    }
}

/// True when `key` comes strictly after `after` in direction `dir` (SQL row comparison: a `NULL`
/// reached before the keys differ makes it unknown, so false).
fn is_after(order: &[(&'static str, Dir)], key: &[Cow<'_, Value>], after: &[Value], dir: Dir) -> StoreResult<bool> {
    for (((column, _), have), position) in order.iter().zip(key).zip(after) {
        match sql_ord(column, have, position)? {
            None => return Ok(false),
            Some(Ordering::Equal) => continue,
            Some(o) => return Ok(o == if dir == Dir::Asc { Ordering::Greater } else { Ordering::Less }),
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

/// A consistent read view: the state committed when it was taken.
struct Snapshot {
    state: Arc<State>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Reader for Snapshot {
    async fn get_row(&self, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>> {
        Ok(self.state.get_row(kind.decl(), id))
    }
    async fn get_with_parent(
        &self,
        kind: EntityKind,
        id: Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
        self.state.get_with_parent(kind, id, via, parent)
    }
    async fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>> {
        self.state.query_rows(query)
    }
    async fn count_rows(&self, query: &Query) -> StoreResult<u64> {
        self.state.count_rows(query)
    }
    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        Ok(self.state.idempotency_record(scope, key))
    }
    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        Ok(self.state.audit_trail(entity))
    }
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        Ok(self.state.outbox_after(after, limit))
    }
    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
        Ok(self.state.client_cursor(client_id))
    }
    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>> {
        Ok(self.state.client_actions(client_id, from, to))
    }
}

/// Plain reads see the state committed at the moment of each read.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Reader for MemoryStore {
    async fn get_row(&self, kind: EntityKind, id: Uuid) -> StoreResult<Option<StoredRow>> {
        Ok(self.current()?.get_row(kind.decl(), id))
    }
    async fn get_with_parent(
        &self,
        kind: EntityKind,
        id: Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
        self.current()?.get_with_parent(kind, id, via, parent)
    }
    async fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>> {
        self.current()?.query_rows(query)
    }
    async fn count_rows(&self, query: &Query) -> StoreResult<u64> {
        self.current()?.count_rows(query)
    }
    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        Ok(self.current()?.idempotency_record(scope, key))
    }
    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        Ok(self.current()?.audit_trail(entity))
    }
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        Ok(self.current()?.outbox_after(after, limit))
    }
    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
        Ok(self.current()?.client_cursor(client_id))
    }
    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>> {
        Ok(self.current()?.client_actions(client_id, from, to))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Feed for MemoryStore {
    async fn feed_after(&self, after: FeedCursor, limit: u32) -> StoreResult<FeedPage> {
        self.current()?.feed_after(after, limit)
    }
    async fn feed_head(&self) -> StoreResult<FeedCursor> {
        self.current()?.feed_head()
    }
    async fn prune_feed(&self, before: Timestamp) -> StoreResult<u64> {
        let mut guard = self.state.lock().map_err(poisoned)?;
        let released = guard.feed.in_flight.first().copied().unwrap_or(i64::MAX);
        // In feed order, up to the last released event recorded before `before`.
        let released_count = guard.outbox.partition_point(|(p, _)| *p < released);
        let Some(last) = guard.outbox[..released_count].iter().rposition(|(_, e)| e.at < before) else {
            return Ok(0);
        };
        let mut next = State::clone(&guard);
        let horizon = FeedCursor::new(0, next.outbox[last].0).ok_or_else(|| backend("negative outbox position"))?;
        Arc::make_mut(&mut next.outbox).drain(..=last);
        next.feed.horizon = next.feed.horizon.max(horizon);
        *guard = Arc::new(next);
        Ok(u64::try_from(last + 1).unwrap_or(u64::MAX))
    }
}

/// Gives a held commit's reserved positions back if it ends without being applied (its future
/// dropped), so the feed is not held back for ever.
struct Reservation<'a> {
    store: &'a MemoryStore,
    first: Option<i64>,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let Some(first) = self.first.take() else { return };
        let mut guard = self.store.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = State::clone(&guard);
        next.feed.in_flight.remove(&first);
        *guard = Arc::new(next);
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl HoldCommit for MemoryStore {
    /// Reserves the events' positions (the feed holds back from the first on), waits, then
    /// applies the change set at those positions — or only gives them back.
    async fn commit_held(&self, changes: ChangeSet, positioned: Positioned, release: Release) -> StoreResult<bool> {
        let first = {
            let mut guard = self.state.lock().map_err(poisoned)?;
            let mut next = State::clone(&guard);
            let first = next.feed.next_position.checked_add(1).ok_or_else(|| backend("outbox position overflow"))?;
            let n = i64::try_from(changes.events.len()).map_err(|_| backend("too many events"))?;
            next.feed.next_position =
                next.feed.next_position.checked_add(n).ok_or_else(|| backend("outbox position overflow"))?;
            next.feed.in_flight.insert(first);
            *guard = Arc::new(next);
            first
        };
        let mut reservation = Reservation { store: self, first: Some(first) };
        positioned();
        let commit = release.await;
        reservation.first = None;
        let mut guard = self.state.lock().map_err(poisoned)?;
        let mut without = State::clone(&guard);
        without.feed.in_flight.remove(&first);
        if !commit {
            *guard = Arc::new(without);
            return Ok(false);
        }
        let mut next = without.clone();
        next.reserved = Some(first);
        match next.apply(changes) {
            Ok(()) => {
                next.reserved = None;
                *guard = Arc::new(next);
                Ok(true)
            }
            Err(e) => {
                *guard = Arc::new(without);
                Err(e)
            }
        }
    }
    fn single_writer(&self) -> bool {
        false
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Store for MemoryStore {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        self.apply(changes)
    }
    fn enforces_backstops(&self) -> bool {
        false
    }
    /// `Reads::Many`: the state of this moment, for as long as the view is held. `Reads::One`: one
    /// read of the current state (a second read fails, so a wrong declaration shows in tests).
    async fn snapshot(&self, reads: Reads) -> StoreResult<Box<dyn Reader + '_>> {
        Ok(match reads {
            Reads::One => Box::new(OneRead::new(self)),
            Reads::Many => Box::new(Snapshot { state: self.current()? }),
        })
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl JobQueue for MemoryStore {
    async fn claim_jobs(&self, claim: &Claim) -> StoreResult<Vec<Job>> {
        Ok(self.queue()?.claim(claim))
    }
    async fn heartbeat_job(&self, lease: &Lease, lease_until: Timestamp) -> StoreResult<()> {
        self.queue()?.heartbeat(lease, lease_until)
    }
    async fn settle_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()> {
        self.queue()?.settle(lease, outcome, now, false)
    }
    async fn expired_jobs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Job>> {
        Ok(self.queue()?.expired(now, limit))
    }
    async fn rescue_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()> {
        self.queue()?.settle(lease, outcome, now, true)
    }
    async fn cancel_job(&self, id: JobId, now: Timestamp) -> StoreResult<Option<Job>> {
        Ok(self.queue()?.cancel(id, now))
    }
    async fn job(&self, id: JobId) -> StoreResult<Option<Job>> {
        Ok(self.queue()?.get(id))
    }
    async fn find_jobs(&self, filter: &JobFilter, limit: u32) -> StoreResult<Vec<Job>> {
        Ok(self.queue()?.find(filter, limit))
    }
    async fn count_jobs(&self, filter: &JobFilter) -> StoreResult<u64> {
        Ok(self.queue()?.count(filter))
    }
    async fn prune_jobs(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        Ok(self.queue()?.prune(before, limit))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::id::{AuditId, EventId};
    use crate::kernel::entity::{Guard, Unique};
    use crate::time::Timestamp;

    /// A versioned test entity: a unique `code`, one live thing per owner, `used <= capacity`.
    static THING: EntityDecl = EntityDecl {
        kind: "test.thing",
        aliases: &[],
        human: "thing",
        table: "test_things",
        key: "id",
        shape: Shape::Versioned,
        uniques: &[
            Unique { name: "test_things_code", columns: &["code"], when: None },
            Unique { name: "test_things_one_live", columns: &["owner"], when: Some(is_live) },
        ],
        guards: &[Guard { name: "test_things_capacity", holds: within_capacity }],
    };

    fn is_live(r: &dyn RowRead) -> bool {
        r.text("status").is_ok_and(|s| s == "live")
    }

    /// Like a SQL `CHECK`, a NULL counter passes.
    fn within_capacity(r: &dyn RowRead) -> bool {
        match (r.opt_int("used"), r.int("capacity")) {
            (Ok(None), _) => true,
            (Ok(Some(u)), Ok(c)) => u >= 0 && u <= c,
            _ => false,
        }
    }

    /// An append-only test entity with an insertion sequence.
    static NOTE: EntityDecl = EntityDecl {
        kind: "test.note",
        aliases: &[],
        human: "note",
        table: "test_notes",
        key: "id",
        shape: Shape::AppendOnly { sequence: Some("seq") },
        uniques: &[],
        guards: &[],
    };

    fn thing() -> EntityKind {
        EntityKind::of(&THING)
    }
    fn note() -> EntityKind {
        EntityKind::of(&NOTE)
    }
    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }
    fn at() -> Timestamp {
        Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap()
    }

    fn row(n: u128, code: Option<&str>, owner: u128, status: &str, used: i64, capacity: i64) -> Row {
        Row::new()
            .with("id", id(n))
            .with_opt("code", ValueType::Text, code)
            .with("owner", id(owner))
            .with("status", status)
            .with("used", used)
            .with("capacity", capacity)
    }

    fn insert(r: Row) -> Write {
        let key = r.uuid("id").unwrap();
        Write::Row { kind: thing(), id: key, row: r, expect: Expect::Absent }
    }
    fn update(r: Row, version: u64) -> Write {
        let key = r.uuid("id").unwrap();
        Write::Row { kind: thing(), id: key, row: r, expect: Expect::Version(version) }
    }
    fn delta(n: u128, used: i64) -> Write {
        Write::Delta { kind: thing(), id: id(n), add: vec![("used", used)], require: Vec::new() }
    }
    fn writes(ws: Vec<Write>) -> ChangeSet {
        ChangeSet { writes: ws, ..ChangeSet::default() }
    }
    async fn commit(s: &MemoryStore, ws: Vec<Write>) -> StoreResult<()> {
        s.commit(writes(ws)).await
    }
    async fn ids(r: &dyn Reader, q: &Query) -> Vec<u128> {
        r.query_rows(q).await.unwrap().iter().map(|r| r.row.uuid("id").unwrap().as_u128()).collect()
    }
    fn audit(n: u128, entity: u128) -> AuditRecord {
        AuditRecord {
            id: AuditId::from_uuid(id(n)),
            entity: EntityRef { kind: thing(), id: id(entity) },
            action: "create".into(),
            actor: "system".into(),
            before: None,
            after: serde_json::json!({ "n": n }),
            version: 1,
            at: at(),
        }
    }
    fn event(n: u128) -> OutboxEvent {
        OutboxEvent {
            id: EventId::from_uuid(id(n)),
            topic: "test.thing.create".into(),
            entity: EntityRef { kind: thing(), id: id(1) },
            payload: serde_json::json!({}),
            audience: Vec::new(),
            at: at(),
            readers: crate::kernel::entity::Readers::default(),
        }
    }
    fn action(client: u128, seq: u64, principal: &str) -> ClientActionRecord {
        ClientActionRecord {
            client_id: ClientId::from_uuid(id(client)),
            seq,
            principal: principal.into(),
            action: "test.act".into(),
            fingerprint: "f".into(),
            outcome: serde_json::json!({ "seq": seq }),
            at: at(),
        }
    }

    #[tokio::test]
    async fn insert_update_and_version_conflict() {
        let s = MemoryStore::new();
        commit(&s, vec![insert(row(1, Some("a"), 10, "live", 0, 3))]).await.unwrap();
        let got = s.get_row(thing(), id(1)).await.unwrap().unwrap();
        assert_eq!((got.version, got.row.text("status").unwrap()), (1, "live".to_owned()));
        let again = commit(&s, vec![insert(row(1, Some("b"), 11, "live", 0, 3))]).await;
        assert_eq!(again, Err(StoreError::AlreadyExists { entity: thing() }));
        commit(&s, vec![update(row(1, Some("a"), 10, "done", 0, 3), 1)]).await.unwrap();
        let got = s.get_row(thing(), id(1)).await.unwrap().unwrap();
        assert_eq!((got.version, got.row.text("status").unwrap()), (2, "done".to_owned()));
        let stale = commit(&s, vec![update(row(1, Some("a"), 10, "live", 0, 3), 1)]).await;
        assert_eq!(stale, Err(StoreError::VersionConflict { entity: thing() }));
        let missing = commit(&s, vec![update(row(2, None, 10, "live", 0, 3), 1)]).await;
        assert_eq!(missing, Err(StoreError::VersionConflict { entity: thing() }));
        assert!(s.get_row(thing(), id(2)).await.unwrap().is_none());
        assert!(s.get_row(note(), id(1)).await.unwrap().is_none(), "tables are per entity");
        // A row written whole that breaks a guard is refused like a SQL CHECK.
        let over = commit(&s, vec![insert(row(3, None, 12, "live", 4, 3))]).await;
        assert_eq!(over, Err(StoreError::Constraint { name: "test_things_capacity".into() }));
        // Several writes to one row in one change set see each other.
        commit(
            &s,
            vec![insert(row(4, None, 13, "live", 0, 3)), update(row(4, None, 13, "done", 0, 3), 1), delta(4, 2)],
        )
        .await
        .unwrap();
        let got = s.get_row(thing(), id(4)).await.unwrap().unwrap();
        assert_eq!((got.version, got.row.text("status").unwrap(), got.row.int("used").unwrap()), (3, "done".into(), 2));
    }

    #[tokio::test]
    async fn uniques_and_partial_uniques() {
        let s = MemoryStore::new();
        commit(&s, vec![insert(row(1, Some("a"), 10, "live", 0, 3))]).await.unwrap();
        let dup_code = commit(&s, vec![insert(row(2, Some("a"), 11, "done", 0, 3))]).await;
        assert_eq!(dup_code, Err(StoreError::AlreadyExists { entity: thing() }));
        // NULLs never collide.
        commit(&s, vec![insert(row(3, None, 12, "done", 0, 3)), insert(row(4, None, 13, "done", 0, 3))]).await.unwrap();
        // The partial unique covers live rows only.
        let second_live = commit(&s, vec![insert(row(5, Some("e"), 10, "live", 0, 3))]).await;
        assert_eq!(second_live, Err(StoreError::AlreadyExists { entity: thing() }));
        commit(&s, vec![insert(row(5, Some("e"), 10, "done", 0, 3))]).await.unwrap();
        // An update is checked against the other rows, never against itself.
        commit(&s, vec![update(row(1, Some("a"), 10, "live", 1, 3), 1)]).await.unwrap();
        let revive = commit(&s, vec![update(row(5, Some("e"), 10, "live", 0, 3), 1)]).await;
        assert_eq!(revive, Err(StoreError::AlreadyExists { entity: thing() }));
        let steal_code = commit(&s, vec![update(row(5, Some("a"), 10, "done", 0, 3), 1)]).await;
        assert_eq!(steal_code, Err(StoreError::AlreadyExists { entity: thing() }));
        // Freeing the key and taking it in one change set works, in that order.
        commit(
            &s,
            vec![update(row(1, Some("a"), 10, "done", 1, 3), 2), update(row(5, Some("e"), 10, "live", 0, 3), 1)],
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn deltas_are_guarded() {
        let s = MemoryStore::new();
        commit(&s, vec![insert(row(1, None, 10, "live", 0, 2))]).await.unwrap();
        commit(&s, vec![delta(1, 1), delta(1, 1)]).await.unwrap();
        let got = s.get_row(thing(), id(1)).await.unwrap().unwrap();
        assert_eq!((got.version, got.row.int("used").unwrap()), (3, 2));
        assert_eq!(
            commit(&s, vec![delta(1, 1)]).await,
            Err(StoreError::GuardFailed { entity: thing(), guard: "test_things_capacity".into() })
        );
        assert_eq!(
            commit(&s, vec![delta(1, -3)]).await,
            Err(StoreError::GuardFailed { entity: thing(), guard: "test_things_capacity".into() })
        );
        assert_eq!(
            commit(&s, vec![delta(9, 1)]).await,
            Err(StoreError::GuardFailed { entity: thing(), guard: "exists".into() })
        );
        let require = |status: &str| Write::Delta {
            kind: thing(),
            id: id(1),
            add: vec![("used", -1)],
            require: vec![("status", Value::Text(status.into()))],
        };
        assert_eq!(
            commit(&s, vec![require("frozen")]).await,
            Err(StoreError::GuardFailed { entity: thing(), guard: "active".into() })
        );
        commit(&s, vec![require("live")]).await.unwrap();
        let got = s.get_row(thing(), id(1)).await.unwrap().unwrap();
        assert_eq!((got.version, got.row.int("used").unwrap()), (4, 1), "only the applied deltas count");
    }

    #[tokio::test]
    async fn a_commit_applies_all_or_nothing() {
        let s = MemoryStore::new();
        commit(&s, vec![insert(row(1, Some("a"), 10, "live", 0, 3))]).await.unwrap();
        let failing = ChangeSet {
            writes: vec![
                insert(row(2, Some("b"), 11, "live", 0, 3)),
                delta(1, 1),
                insert(row(3, Some("a"), 12, "live", 0, 3)), // the code is taken
            ],
            audit: vec![audit(100, 2)],
            events: vec![event(200)],
            ..ChangeSet::default()
        };
        assert_eq!(s.commit(failing).await, Err(StoreError::AlreadyExists { entity: thing() }));
        assert!(s.get_row(thing(), id(2)).await.unwrap().is_none(), "the first write is undone");
        let one = s.get_row(thing(), id(1)).await.unwrap().unwrap();
        assert_eq!((one.version, one.row.int("used").unwrap()), (1, 0), "the second write is undone");
        assert!(s.audit_trail(EntityRef { kind: thing(), id: id(2) }).await.unwrap().is_empty());
        assert!(s.outbox_after(0, 10).await.unwrap().is_empty());
        // A kernel record that is taken undoes the entity writes too.
        let key = IdempotencyRecord {
            scope: "system".into(),
            key: "k".into(),
            command: "test.act".into(),
            fingerprint: "f".into(),
            response: serde_json::json!(1),
            at: at(),
        };
        s.commit(ChangeSet { idempotency: Some(key.clone()), ..ChangeSet::default() }).await.unwrap();
        let retaken = ChangeSet {
            writes: vec![insert(row(2, Some("b"), 11, "live", 0, 3))],
            idempotency: Some(key),
            ..ChangeSet::default()
        };
        assert_eq!(s.commit(retaken).await, Err(StoreError::IdempotencyKeyTaken));
        assert!(s.get_row(thing(), id(2)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn snapshots_are_isolated_from_later_commits() {
        let s = MemoryStore::new();
        commit(&s, vec![insert(row(1, None, 10, "live", 0, 3))]).await.unwrap();
        let view = s.snapshot(Reads::Many).await.unwrap();
        commit(&s, vec![insert(row(2, None, 11, "live", 0, 3)), delta(1, 1)]).await.unwrap();
        s.commit(ChangeSet { audit: vec![audit(100, 1)], events: vec![event(200)], ..ChangeSet::default() })
            .await
            .unwrap();
        assert!(view.get_row(thing(), id(2)).await.unwrap().is_none());
        let old = view.get_row(thing(), id(1)).await.unwrap().unwrap();
        assert_eq!((old.version, old.row.int("used").unwrap()), (1, 0));
        assert_eq!(view.count_rows(&Query::kind(thing())).await.unwrap(), 1);
        assert!(view.audit_trail(EntityRef { kind: thing(), id: id(1) }).await.unwrap().is_empty());
        assert!(view.outbox_after(0, 10).await.unwrap().is_empty());
        // The store itself reads the newest state.
        assert_eq!(s.count_rows(&Query::kind(thing())).await.unwrap(), 2);
        assert_eq!(s.get_row(thing(), id(1)).await.unwrap().unwrap().version, 2);
        // A one-read view serves exactly one read.
        let one = s.snapshot(Reads::One).await.unwrap();
        assert!(one.get_row(thing(), id(1)).await.unwrap().is_some());
        assert!(matches!(one.get_row(thing(), id(1)).await, Err(StoreError::Backend { .. })));
    }

    #[tokio::test]
    async fn filters_have_sql_semantics() {
        let s = MemoryStore::new();
        commit(
            &s,
            vec![
                insert(row(1, Some("a"), 10, "live", 0, 3)),
                insert(row(2, None, 11, "done", 1, 3)),
                insert(row(3, Some("c"), 12, "live", 2, 5)),
                insert(row(4, Some("d"), 13, "done", 3, 5)),
            ],
        )
        .await
        .unwrap();
        let q = || Query::kind(thing()).order_by("id", Dir::Asc);
        assert_eq!(ids(&s, &q().eq("status", "live")).await, [1, 3]);
        // A comparison with NULL is false either way.
        assert_eq!(ids(&s, &q().filter(Filter::Ne("code", "a".into()))).await, [3, 4]);
        assert_eq!(ids(&s, &q().eq("code", Value::Null(ValueType::Text))).await, Vec::<u128>::new());
        assert_eq!(ids(&s, &q().filter(Filter::IsNull("code"))).await, [2]);
        assert_eq!(ids(&s, &q().filter(Filter::NotNull("code"))).await, [1, 3, 4]);
        assert_eq!(
            ids(&s, &q().filter(Filter::Ge("used", 1i64.into())).filter(Filter::Lt("used", 3i64.into()))).await,
            [2, 3]
        );
        assert_eq!(ids(&s, &q().filter(Filter::Gt("capacity", 3i64.into()))).await, [3, 4]);
        assert_eq!(ids(&s, &q().filter(Filter::Le("used", 0i64.into()))).await, [1]);
        // IN: an empty list matches nothing; NOT IN: an empty list matches everything.
        assert_eq!(ids(&s, &q().filter(Filter::In("used", vec![Value::Int(0), Value::Int(3)]))).await, [1, 4]);
        assert_eq!(ids(&s, &q().filter(Filter::In("used", vec![]))).await, Vec::<u128>::new());
        assert_eq!(ids(&s, &q().filter(Filter::NotIn("used", vec![Value::Int(0), Value::Int(3)]))).await, [2, 3]);
        assert_eq!(ids(&s, &q().filter(Filter::NotIn("used", vec![]))).await, [1, 2, 3, 4]);
        assert_eq!(ids(&s, &q().filter(Filter::NotIn("code", vec!["a".into()]))).await, [3, 4], "NULL is not `not in`");
        // ANY: an OR of conjunctions.
        let any = Filter::Any(vec![
            vec![Filter::Eq("status", "live".into()), Filter::Gt("used", 1i64.into())],
            vec![Filter::Eq("owner", id(11).into())],
        ]);
        assert_eq!(ids(&s, &q().filter(any)).await, [2, 3]);
        assert_eq!(ids(&s, &q().filter(Filter::Any(vec![]))).await, Vec::<u128>::new());
        // NOT EXISTS: notes point at things by `thing_id`.
        let n = |k: u128, of: u128, kind: &str| Write::Append {
            kind: note(),
            id: id(k),
            row: Row::new().with("id", id(k)).with("thing_id", id(of)).with("kind", kind),
        };
        commit(&s, vec![n(100, 1, "flag"), n(101, 3, "memo")]).await.unwrap();
        let no_flag = Filter::NotExists {
            kind: note(),
            inner: "thing_id",
            outer: "id",
            filter: vec![Filter::Eq("kind", "flag".into())],
        };
        assert_eq!(ids(&s, &q().filter(no_flag)).await, [2, 3, 4]);
        let no_note = Filter::NotExists { kind: note(), inner: "thing_id", outer: "id", filter: vec![] };
        assert_eq!(ids(&s, &q().filter(no_note.clone())).await, [2, 4]);
        assert_eq!(s.count_rows(&Query::kind(thing()).filter(no_note)).await.unwrap(), 2);
        // Comparing values of different types is a mistake, reported, never silently false.
        assert!(matches!(s.query_rows(&q().eq("used", "zero")).await, Err(StoreError::Backend { .. })));
        assert!(matches!(s.query_rows(&q().eq("nope", 1i64)).await, Err(StoreError::Backend { .. })));
    }

    #[tokio::test]
    async fn order_keyset_paging_offset_and_count() {
        let s = MemoryStore::new();
        // (id, used): ids 1..=6 with `used` 2, 1, 2, NULL, 0, 1.
        let mut ws = Vec::new();
        for (n, used) in [(1, Some(2)), (2, Some(1)), (3, Some(2)), (4, None), (5, Some(0)), (6, Some(1))] {
            let r = Row::new()
                .with("id", id(n))
                .with_opt("code", ValueType::Text, None::<&str>)
                .with("owner", id(n))
                .with("status", "done")
                .with_opt("used", ValueType::Int, used.map(|u: i64| u))
                .with("capacity", 5i64);
            ws.push(insert(r));
        }
        s.commit(writes(ws)).await.unwrap();
        let asc = || Query::kind(thing()).order_by("used", Dir::Asc).order_by("id", Dir::Asc);
        let desc = || Query::kind(thing()).order_by("used", Dir::Desc).order_by("id", Dir::Desc);
        // NULLs last ascending, first descending (Postgres).
        assert_eq!(ids(&s, &asc()).await, [5, 2, 6, 1, 3, 4]);
        assert_eq!(ids(&s, &desc()).await, [4, 3, 1, 6, 2, 5]);
        // Keyset pages: strictly after the position, as a tuple.
        assert_eq!(ids(&s, &asc().after(vec![Value::Int(1), Value::Uuid(id(2))]).limit(2)).await, [6, 1]);
        assert_eq!(ids(&s, &asc().after(vec![Value::Int(2), Value::Uuid(id(1))])).await, [3]);
        assert_eq!(ids(&s, &desc().after(vec![Value::Int(2), Value::Uuid(id(3))])).await, [1, 6, 2, 5]);
        // Paging through everything by keyset visits each non-NULL row once.
        let mut seen = Vec::new();
        let mut position: Option<Vec<Value>> = None;
        loop {
            let mut q = asc().filter(Filter::NotNull("used")).limit(2);
            if let Some(p) = position.take() {
                q = q.after(p);
            }
            let page = s.query_rows(&q).await.unwrap();
            if page.is_empty() {
                break;
            }
            for r in &page {
                seen.push(r.row.uuid("id").unwrap().as_u128());
            }
            let last = &page[page.len() - 1].row;
            position = Some(vec![Value::Int(last.int("used").unwrap()), Value::Uuid(last.uuid("id").unwrap())]);
        }
        assert_eq!(seen, [5, 2, 6, 1, 3]);
        // Offset and limit.
        assert_eq!(ids(&s, &asc().offset(2).limit(3)).await, [6, 1, 3]);
        assert_eq!(ids(&s, &asc().offset(10)).await, Vec::<u128>::new());
        // A keyset position needs one direction and one value per key.
        let mixed = Query::kind(thing()).order_by("used", Dir::Asc).order_by("id", Dir::Desc);
        assert!(s.query_rows(&mixed.after(vec![Value::Int(0), Value::Uuid(id(1))])).await.is_err());
        assert!(s.query_rows(&asc().after(vec![Value::Int(0)])).await.is_err());
        // Counting ignores order, position, offset and limit.
        assert_eq!(
            s.count_rows(&asc().after(vec![Value::Int(1), Value::Uuid(id(2))]).offset(1).limit(1)).await.unwrap(),
            6
        );
        assert_eq!(s.count_rows(&Query::kind(thing()).filter(Filter::Ge("used", 1i64.into()))).await.unwrap(), 4);
        assert_eq!(s.count_rows(&Query::kind(note())).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn appends_get_a_sequence_and_a_unique_key() {
        let s = MemoryStore::new();
        let n =
            |k: u128| Write::Append { kind: note(), id: id(k), row: Row::new().with("id", id(k)).with("kind", "memo") };
        commit(&s, vec![n(30), n(10)]).await.unwrap();
        commit(&s, vec![n(20)]).await.unwrap();
        assert_eq!(commit(&s, vec![n(10)]).await, Err(StoreError::AlreadyExists { entity: note() }));
        let by_seq = Query::kind(note()).order_by("seq", Dir::Asc);
        assert_eq!(ids(&s, &by_seq).await, [30, 10, 20]);
        let got = s.get_row(note(), id(20)).await.unwrap().unwrap();
        assert_eq!((got.version, got.row.int("seq").unwrap()), (1, 3));
    }

    #[tokio::test]
    async fn kernel_tables() {
        let s = MemoryStore::new();
        // Audit trails, oldest first, per entity.
        let changes = ChangeSet { audit: vec![audit(1, 7), audit(2, 8), audit(3, 7)], ..ChangeSet::default() };
        s.commit(changes).await.unwrap();
        let trail = s.audit_trail(EntityRef { kind: thing(), id: id(7) }).await.unwrap();
        assert_eq!(trail.iter().map(|r| r.id.as_uuid().as_u128()).collect::<Vec<_>>(), [1, 3]);
        assert!(s.audit_trail(EntityRef { kind: note(), id: id(7) }).await.unwrap().is_empty());
        // The outbox numbers events 1, 2, 3, … across commits.
        s.commit(ChangeSet { events: vec![event(1), event(2)], ..ChangeSet::default() }).await.unwrap();
        s.commit(ChangeSet { events: vec![event(3)], ..ChangeSet::default() }).await.unwrap();
        let all = s.outbox_after(0, 10).await.unwrap();
        let positions: Vec<(i64, u128)> = all.iter().map(|(p, e)| (*p, e.id.as_uuid().as_u128())).collect();
        assert_eq!(positions, [(1, 1), (2, 2), (3, 3)]);
        assert_eq!(s.outbox_after(1, 1).await.unwrap().iter().map(|(p, _)| *p).collect::<Vec<_>>(), [2]);
        assert!(s.outbox_after(3, 10).await.unwrap().is_empty());
        assert!(s.outbox_after(0, 0).await.unwrap().is_empty());
        // Idempotency records, by scope and key.
        let rec = IdempotencyRecord {
            scope: "u1".into(),
            key: "k".into(),
            command: "test.act".into(),
            fingerprint: "f".into(),
            response: serde_json::json!({ "ok": true }),
            at: at(),
        };
        s.commit(ChangeSet { idempotency: Some(rec.clone()), ..ChangeSet::default() }).await.unwrap();
        assert_eq!(s.idempotency_record("u1", "k").await.unwrap(), Some(rec.clone()));
        assert_eq!(s.idempotency_record("u2", "k").await.unwrap(), None);
        let again = s.commit(ChangeSet { idempotency: Some(rec), ..ChangeSet::default() }).await;
        assert_eq!(again, Err(StoreError::IdempotencyKeyTaken));
        // Client actions: the cursor is the stream's owner and highest seq.
        let client = ClientId::from_uuid(id(5));
        assert_eq!(s.client_cursor(client).await.unwrap(), None);
        for seq in 1..=3 {
            s.commit(ChangeSet { client_action: Some(action(5, seq, "u1")), ..ChangeSet::default() }).await.unwrap();
        }
        s.commit(ChangeSet { client_action: Some(action(6, 1, "u2")), ..ChangeSet::default() }).await.unwrap();
        let taken = s.commit(ChangeSet { client_action: Some(action(5, 2, "u1")), ..ChangeSet::default() }).await;
        assert_eq!(taken, Err(StoreError::ClientSeqTaken));
        let zero = s.commit(ChangeSet { client_action: Some(action(5, 0, "u1")), ..ChangeSet::default() }).await;
        assert_eq!(zero, Err(StoreError::Constraint { name: "client_actions_seq_positive".into() }));
        // The stream is u1's since its first action: another principal's next action is refused.
        let foreign = s.commit(ChangeSet { client_action: Some(action(5, 4, "u2")), ..ChangeSet::default() }).await;
        assert_eq!(foreign, Err(StoreError::ClientStreamOwned));
        assert_eq!(s.client_cursor(client).await.unwrap(), Some(ClientCursor { principal: "u1".into(), last_seq: 3 }));
        let seqs = |v: Vec<ClientActionRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
        assert_eq!(seqs(s.client_actions(client, 2, 3).await.unwrap()), [2, 3]);
        assert_eq!(seqs(s.client_actions(client, 1, u64::MAX).await.unwrap()), [1, 2, 3]);
        assert!(s.client_actions(client, 3, 2).await.unwrap().is_empty());
    }
}
