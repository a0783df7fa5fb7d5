//! The one-statement commit: a whole change set as a single SQL statement of data-modifying CTEs,
//! sent in autocommit — atomic by itself, one round trip whatever the change set holds.
//!
//! Every write is one of the kernel's four generic shapes, executed from the entity's declaration:
//! inserts (`Write::Row` at `Expect::Absent`, `Write::Append`; several rows of one table and column
//! list share one `INSERT`) fail on their unique keys; versioned updates and guarded deltas are
//! checked by `hearth_assert` in the final `SELECT` (a stale version, or a delta whose row is gone or
//! fails its `require`, aborts the whole statement); the tables' CHECK constraints guard the
//! counters. Errors map back onto the store contract by table and constraint name
//! ([`crate::error::map_commit_err`]).
//!
//! A change set that writes one row twice (data-modifying CTEs cannot see each other's effects) takes
//! the transaction path instead: the same statements, one per write, in order, in one transaction.

use crate::codec::{ident, version_i64, Param, Sql};
use crate::error::{map_commit_err, map_err, DELTA_GUARD, TAKE_GUARD, VERSION_GUARD};
use hearth_core::kernel::store::{ChangeSet, Expect, Write};
use hearth_core::kernel::value::{Row, Value};
use hearth_core::kernel::{EntityKind, StoreError, StoreResult};
use sqlx::postgres::PgPool;
use std::collections::HashSet;
use uuid::Uuid;

/// Commits `changes`: as one statement, or in a transaction when they write one row twice.
pub(crate) async fn commit(pool: &PgPool, changes: &ChangeSet) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    if writes_a_row_twice(&changes.writes) {
        return commit_in_transaction(pool, changes).await;
    }
    let mut s = Stmt::default();
    plan_writes(&mut s, &changes.writes)?;
    plan_records(&mut s, changes)?;
    s.run(pool, changes.writes.first().map(Write::kind)).await
}

/// The channel the feed's wake-ups are sent on (`NOTIFY` after the commits that appended events,
/// coalesced: `crate::notify`). One per database; the payload is the store's schema
/// (`current_schema()`), so a listener tells its own schema's wake-ups from the others'.
pub const FEED_CHANNEL: &str = "hearth_feed";

/// A commit held open after its events have positions (`HoldCommit`): the transaction path, with
/// the wait between the last statement and `COMMIT`.
pub(crate) async fn commit_held(
    pool: &PgPool,
    changes: &ChangeSet,
    positioned: hearth_core::kernel::feed::Positioned,
    release: hearth_core::kernel::feed::Release,
) -> StoreResult<bool> {
    let mut tx = crate::begin(pool, None).await?;
    write_all(&mut tx, changes).await?;
    positioned();
    if release.await {
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    } else {
        tx.rollback().await.map_err(map_err)?;
        Ok(false)
    }
}

/// The transaction path: each write its own statement, in order (so a later write sees an earlier
/// one), then the kernel's records; any failure rolls everything back.
async fn commit_in_transaction(pool: &PgPool, changes: &ChangeSet) -> StoreResult<()> {
    let mut tx = crate::begin(pool, None).await?;
    write_all(&mut tx, changes).await?;
    tx.commit().await.map_err(map_err)
}

/// Every statement of the transaction path, on `tx`.
async fn write_all(tx: &mut sqlx::Transaction<'static, sqlx::Postgres>, changes: &ChangeSet) -> StoreResult<()> {
    for w in &changes.writes {
        let mut s = Stmt::default();
        plan_writes(&mut s, std::slice::from_ref(w))?;
        s.run(&mut **tx, Some(w.kind())).await?;
    }
    let mut s = Stmt::default();
    plan_records(&mut s, changes)?;
    s.run(&mut **tx, changes.writes.first().map(Write::kind)).await
}

/// True when two writes name the same row.
fn writes_a_row_twice(writes: &[Write]) -> bool {
    let mut seen: HashSet<(&'static str, Uuid)> = HashSet::new();
    writes.iter().any(|w| !seen.insert((w.kind().decl().table, w.id())))
}

/// A statement being built: its CTEs, the checks of its final `SELECT`, and its parameters.
#[derive(Default)]
struct Stmt {
    sql: Sql,
    ctes: Vec<String>,
    asserts: Vec<String>,
}

impl Stmt {
    fn p(&mut self, v: &Value) -> StoreResult<String> {
        self.sql.value(v)
    }
    /// A fresh CTE name with `prefix`.
    fn name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.ctes.len())
    }
    /// Adds a CTE; returns its name.
    fn cte(&mut self, body: String) -> String {
        let name = self.name("w");
        self.ctes.push(format!("{name} AS ({body})"));
        name
    }
    /// Adds a checked update: exactly `rows` rows must change, else the statement aborts with `guard`.
    fn checked(&mut self, body: String, rows: usize, guard: &str) -> StoreResult<()> {
        let guard = literal(guard)?;
        let name = self.cte(format!("{body} RETURNING 1"));
        self.asserts.push(format!("hearth_assert((SELECT count(*) FROM {name}) = {rows}, '{guard}')"));
        Ok(())
    }
    /// `$1, $2, …`: one placeholder per value.
    fn marks(&mut self, values: &[Value]) -> StoreResult<Vec<String>> {
        values.iter().map(|v| self.p(v)).collect()
    }
    /// `($1, $2, …)`.
    fn tuple(&mut self, values: &[Value]) -> StoreResult<String> {
        Ok(format!("({})", self.marks(values)?.join(", ")))
    }
    /// Runs the statement (nothing when it is empty). `writing` names the entity a deadlock reports.
    async fn run<'c, E: sqlx::PgExecutor<'c>>(mut self, e: E, writing: Option<EntityKind>) -> StoreResult<()> {
        if self.ctes.is_empty() {
            return Ok(());
        }
        let check = if self.asserts.is_empty() { "1".to_owned() } else { self.asserts.join(" + ") };
        self.sql.text = format!("WITH {} SELECT {check}", self.ctes.join(",\n"));
        self.sql.query().execute(e).await.map(|_| ()).map_err(|err| map_commit_err(err, writing))
    }
}

/// A guard name inside a SQL string literal: only the characters of kinds and names.
fn literal(s: &str) -> StoreResult<&str> {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')) {
        Ok(s)
    } else {
        Err(StoreError::Backend { message: format!("`{s}` cannot name a guard") })
    }
}

/// Rows inserted into one table with one column list.
struct Inserts<'a> {
    kind: EntityKind,
    columns: Vec<&'static str>,
    rows: Vec<&'a Row>,
}

/// Deltas on one table with one set of added and required columns.
struct Deltas {
    kind: EntityKind,
    add: Vec<&'static str>,
    require: Vec<&'static str>,
    /// Key, amounts (in `add` order), required values (in `require` order).
    rows: Vec<(Uuid, Vec<i64>, Vec<Value>)>,
}

/// Plans the entity writes: updates and rate-limit takes in order, inserts grouped per table and column list,
/// deltas grouped per table and column set.
fn plan_writes(s: &mut Stmt, writes: &[Write]) -> StoreResult<()> {
    let mut inserts: Vec<Inserts<'_>> = Vec::new();
    let mut deltas: Vec<Deltas> = Vec::new();
    for w in writes {
        match w {
            Write::Row { kind, row, expect: Expect::Absent, .. } | Write::Append { kind, row, .. } => {
                let columns: Vec<&'static str> = row.columns().iter().map(|(c, _)| *c).collect();
                match inserts.iter_mut().find(|b| b.kind == *kind && b.columns == columns) {
                    Some(b) => b.rows.push(row),
                    None => inserts.push(Inserts { kind: *kind, columns, rows: vec![row] }),
                }
            }
            Write::Row { kind, id, row, expect: Expect::Version(v) } => update(s, *kind, *id, row, *v)?,
            Write::Take { kind, row, column, now, cost, window, .. } => {
                take(s, (*kind, row, *column, *now, *cost, *window))?
            }
            Write::Delta { kind, id, add, require } => {
                let add_cols: Vec<&'static str> = add.iter().map(|(c, _)| *c).collect();
                let req_cols: Vec<&'static str> = require.iter().map(|(c, _)| *c).collect();
                let row =
                    (*id, add.iter().map(|(_, n)| *n).collect(), require.iter().map(|(_, v)| v.clone()).collect());
                match deltas.iter_mut().find(|g| g.kind == *kind && g.add == add_cols && g.require == req_cols) {
                    Some(g) => g.rows.push(row),
                    None => deltas.push(Deltas { kind: *kind, add: add_cols, require: req_cols, rows: vec![row] }),
                }
            }
            other => {
                return Err(StoreError::Backend { message: format!("write {other:?} has no postgres form") });
            }
        }
    }
    for batch in &inserts {
        insert(s, batch)?;
    }
    for group in &mut deltas {
        if group.rows.len() == 1 {
            delta_one(s, group)?;
        } else {
            delta_many(s, group)?;
        }
    }
    Ok(())
}

/// `INSERT INTO t (…, version) VALUES (…), (…)`: versioned rows start at version 1.
fn insert(s: &mut Stmt, batch: &Inserts<'_>) -> StoreResult<()> {
    let decl = batch.kind.decl();
    let versioned = decl.is_versioned();
    let mut names = batch.columns.iter().map(|c| ident(c)).collect::<StoreResult<Vec<_>>>()?;
    if versioned {
        names.push(ident("version")?);
    }
    let first = version_i64(Expect::Absent.next_version())?;
    let mut tuples = Vec::with_capacity(batch.rows.len());
    for row in &batch.rows {
        let mut values: Vec<Value> = row.columns().iter().map(|(_, v)| v.clone()).collect();
        if versioned {
            values.push(Value::Int(first));
        }
        tuples.push(s.tuple(&values)?);
    }
    s.cte(format!("INSERT INTO {} ({}) VALUES {}", ident(decl.table)?, names.join(", "), tuples.join(", ")));
    Ok(())
}

/// A rate-limit take: the bucket's entity, its row as inserted, the clock column, now, cost, window.
type Take<'a> = (EntityKind, &'a Row, &'static str, i64, i64, i64);

/// `INSERT INTO t AS x (…, version) VALUES (…, 1) ON CONFLICT (key) DO UPDATE SET c = GREATEST(x.c,
/// now) + cost, version = x.version + 1 WHERE GREATEST(x.c, now) + cost - now <= window`, checked to
/// write one row: the GCRA step of [`hearth_core::kernel::store::take_after`] as one conditional
/// statement. The conflicting row's lock serialises racers; the `WHERE` sees the row as the last
/// of them left it. No row written means the bucket is full: the statement aborts, `GuardFailed`.
fn take(s: &mut Stmt, (kind, row, column, now, cost, window): Take<'_>) -> StoreResult<()> {
    let decl = kind.decl();
    let mut names = row.columns().iter().map(|(c, _)| ident(c)).collect::<StoreResult<Vec<_>>>()?;
    let mut values: Vec<Value> = row.columns().iter().map(|(_, v)| v.clone()).collect();
    let c = ident(column)?;
    let (now, cost, window) = (s.p(&Value::Int(now))?, s.p(&Value::Int(cost))?, s.p(&Value::Int(window))?);
    let mut sets = vec![format!("{c} = GREATEST(x.{c}, {now}) + {cost}")];
    if decl.is_versioned() {
        let version = ident("version")?;
        sets.push(format!("{version} = x.{version} + 1"));
        names.push(version);
        values.push(Value::Int(version_i64(Expect::Absent.next_version())?));
    }
    let tuple = s.tuple(&values)?;
    let body = format!(
        "INSERT INTO {} AS x ({}) VALUES {tuple} ON CONFLICT ({}) DO UPDATE SET {} \
         WHERE GREATEST(x.{c}, {now}) + {cost} - {now} <= {window}",
        ident(decl.table)?,
        names.join(", "),
        ident(decl.key)?,
        sets.join(", "),
    );
    s.checked(body, 1, &format!("{TAKE_GUARD}{}", decl.kind))
}

/// `UPDATE t SET … , version = next WHERE key = id AND version = expected`, checked to change one row.
fn update(s: &mut Stmt, kind: EntityKind, id: Uuid, row: &Row, expected: u64) -> StoreResult<()> {
    let decl = kind.decl();
    if !decl.is_versioned() {
        return Err(StoreError::Backend { message: format!("{} is append-only: it is never updated", decl.kind) });
    }
    let mut sets = Vec::with_capacity(row.columns().len());
    for (c, v) in row.columns().iter().filter(|(c, _)| *c != decl.key) {
        sets.push(format!("{} = {}", ident(c)?, s.p(v)?));
    }
    let version = ident("version")?;
    let next = s.p(&Value::Int(version_i64(Expect::Version(expected).next_version())?))?;
    let key = s.p(&Value::Uuid(id))?;
    let expected = s.p(&Value::Int(version_i64(expected)?))?;
    sets.push(format!("{version} = {next}"));
    let body = format!(
        "UPDATE {} SET {} WHERE {} = {key} AND {version} = {expected}",
        ident(decl.table)?,
        sets.join(", "),
        ident(decl.key)?
    );
    s.checked(body, 1, &format!("{VERSION_GUARD}{}", decl.kind))
}

/// One guarded delta: `UPDATE t SET c = c + n, …, version = version + 1 WHERE key = id AND <require>`,
/// checked to change its row.
fn delta_one(s: &mut Stmt, group: &Deltas) -> StoreResult<()> {
    let decl = group.kind.decl();
    let Some((id, amounts, required)) = group.rows.first() else { return Ok(()) };
    let mut sets = Vec::with_capacity(amounts.len() + 1);
    for (c, n) in group.add.iter().zip(amounts) {
        let c = ident(c)?;
        sets.push(format!("{c} = {c} + {}", s.p(&Value::Int(*n))?));
    }
    if decl.is_versioned() {
        let version = ident("version")?;
        sets.push(format!("{version} = {version} + 1"));
    }
    let mut conds = vec![format!("{} = {}", ident(decl.key)?, s.p(&Value::Uuid(*id))?)];
    for (c, v) in group.require.iter().zip(required) {
        conds.push(format!("{} IS NOT DISTINCT FROM {}", ident(c)?, s.p(v)?));
    }
    let body = format!("UPDATE {} SET {} WHERE {}", ident(decl.table)?, sets.join(", "), conds.join(" AND "));
    s.checked(body, 1, &format!("{DELTA_GUARD}{}", decl.kind))
}

/// Several deltas on one table: one `UPDATE … FROM (VALUES …)` over the rows sorted by key, checked
/// to change every row.
fn delta_many(s: &mut Stmt, group: &mut Deltas) -> StoreResult<()> {
    let decl = group.kind.decl();
    let (table, key) = (ident(decl.table)?, ident(decl.key)?);
    group.rows.sort_by_key(|(id, _, _)| *id);
    let n = group.rows.len();
    let v = s.name("v");
    let mut tuples = Vec::with_capacity(n);
    for (id, amounts, required) in &group.rows {
        let mut cells = vec![cast(s, &Value::Uuid(*id))?];
        for a in amounts {
            cells.push(cast(s, &Value::Int(*a))?);
        }
        for r in required {
            cells.push(cast(s, r)?);
        }
        tuples.push(format!("({})", cells.join(", ")));
    }
    let add_names: Vec<String> = (0..group.add.len()).map(|i| format!("a{i}")).collect();
    let req_names: Vec<String> = (0..group.require.len()).map(|i| format!("r{i}")).collect();
    let v_cols: Vec<&str> = std::iter::once("k")
        .chain(add_names.iter().map(String::as_str))
        .chain(req_names.iter().map(String::as_str))
        .collect();
    s.ctes.push(format!("{v} ({}) AS (VALUES {})", v_cols.join(", "), tuples.join(", ")));
    // Concurrent commits must lock rows in one order (the key) or they deadlock, and a deadlock
    // costs `deadlock_timeout` (1 s) before the retry. The rows are listed in key order. For two
    // rows Postgres updates the VALUES list in list order; for more it may hash-join and lock in
    // heap order, so there an explicit `FOR UPDATE` in key order comes first (measured on the
    // ledger: without it, linked batches of 100 fell from ~23k to ~0.5k transfers/s). Either way a
    // deadlock is only slow, never wrong: it becomes a version conflict and a retry.
    let join = if n > 2 {
        let l = s.name("l");
        s.ctes.push(format!(
            "{l} AS (SELECT t.{key} AS k FROM {table} t JOIN {v} ON t.{key} = {v}.k ORDER BY t.{key} FOR UPDATE OF t)"
        ));
        format!(" JOIN {l} ON {l}.k = {v}.k")
    } else {
        String::new()
    };
    let mut sets = Vec::with_capacity(group.add.len() + 1);
    for (c, a) in group.add.iter().zip(&add_names) {
        let c = ident(c)?;
        sets.push(format!("{c} = t.{c} + {v}.{a}"));
    }
    if decl.is_versioned() {
        let version = ident("version")?;
        sets.push(format!("{version} = t.{version} + 1"));
    }
    let mut conds = vec![format!("t.{key} = {v}.k")];
    for (c, r) in group.require.iter().zip(&req_names) {
        conds.push(format!("t.{} IS NOT DISTINCT FROM {v}.{r}", ident(c)?));
    }
    let body = format!("UPDATE {table} t SET {} FROM {v}{join} WHERE {}", sets.join(", "), conds.join(" AND "));
    s.checked(body, n, &format!("{DELTA_GUARD}{}", decl.kind))
}

/// `$n::type`: a typed cell of a `VALUES` list.
fn cast(s: &mut Stmt, v: &Value) -> StoreResult<String> {
    let p = Param::of(v)?;
    let ty = p.sql_type();
    Ok(format!("{}::{ty}", s.sql.param(p)))
}

/// The kernel's own records: audit log, outbox, idempotency key, offline action, jobs.
fn plan_records(s: &mut Stmt, changes: &ChangeSet) -> StoreResult<()> {
    if !changes.jobs.is_empty() {
        let mut tuples = Vec::with_capacity(changes.jobs.len());
        for j in &changes.jobs {
            let mut marks = s.marks(&crate::jobs::insert_values(j))?;
            marks.extend(["'available'".to_owned(), "0".to_owned()]);
            tuples.push(format!("({})", marks.join(", ")));
        }
        // A taken id, or a unique key a pending job holds (`jobs_unique_key`), skips the job: a
        // duplicate enqueue never fails the business commit.
        s.cte(format!(
            "INSERT INTO jobs ({}) VALUES {} ON CONFLICT DO NOTHING",
            crate::jobs::INSERT_COLUMNS,
            tuples.join(", ")
        ));
    }
    if !changes.audit.is_empty() {
        let mut tuples = Vec::with_capacity(changes.audit.len());
        for a in &changes.audit {
            tuples.push(s.tuple(&[
                Value::Uuid(a.id.as_uuid()),
                Value::Text(a.entity.kind.as_str().to_owned()),
                Value::Uuid(a.entity.id),
                Value::Text(a.action.clone()),
                Value::Text(a.actor.clone()),
                a.before.clone().map_or(Value::Null(hearth_core::kernel::ValueType::Json), Value::Json),
                Value::Json(a.after.clone()),
                Value::Int(version_i64(a.version)?),
                Value::Ts(a.at),
            ])?);
        }
        s.cte(format!(
            "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at) VALUES {}",
            tuples.join(", ")
        ));
    }
    if !changes.events.is_empty() {
        let mut tuples = Vec::with_capacity(changes.events.len());
        for e in &changes.events {
            let mut marks = s.marks(&[
                Value::Uuid(e.id.as_uuid()),
                Value::Text(e.topic.clone()),
                Value::Text(e.entity.kind.as_str().to_owned()),
                Value::Uuid(e.entity.id),
                Value::Json(e.payload.clone()),
            ])?;
            marks.push(s.sql.param(Param::Uuids(e.audience.iter().map(|u| u.as_uuid()).collect())));
            marks.push(s.p(&Value::Ts(e.at))?);
            let readers = serde_json::to_value(&e.readers)
                .map_err(|err| StoreError::Backend { message: format!("readers: {err}") })?;
            marks.push(s.p(&Value::Json(readers))?);
            tuples.push(format!("({})", marks.join(", ")));
        }
        // The feed's wake-up is sent after the commit (`crate::notify`), not inside it.
        s.cte(format!(
            "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at, readers) VALUES {}",
            tuples.join(", ")
        ));
    }
    if let Some(k) = &changes.idempotency {
        let t = s.tuple(&[
            Value::Text(k.scope.clone()),
            Value::Text(k.key.clone()),
            Value::Text(k.command.clone()),
            Value::Text(k.fingerprint.clone()),
            Value::Json(k.response.clone()),
            Value::Ts(k.at),
        ])?;
        s.cte(format!("INSERT INTO idempotency_keys (scope, key, command, fingerprint, response, at) VALUES {t}"));
    }
    if let Some(a) = &changes.client_action {
        let seq =
            i64::try_from(a.seq).map_err(|_| StoreError::Constraint { name: "client_actions_seq_positive".into() })?;
        let t = s.tuple(&[
            Value::Uuid(a.client_id.as_uuid()),
            Value::Int(seq),
            Value::Text(a.principal.clone()),
            Value::Text(a.action.clone()),
            Value::Text(a.fingerprint.clone()),
            Value::Json(a.outcome.clone()),
            Value::Ts(a.at),
        ])?;
        s.cte(format!(
            "INSERT INTO client_actions (client_id, seq, principal, action, fingerprint, outcome, at) VALUES {t}"
        ));
        // The stream's owner row: inserted by its first action; the foreign key
        // `client_actions_stream_owner` (checked at the end of the statement, when this row is
        // visible) refuses an action whose principal is not the owner's.
        let owner =
            s.tuple(&[Value::Uuid(a.client_id.as_uuid()), Value::Text(a.principal.clone()), Value::Ts(a.at)])?;
        s.cte(format!(
            "INSERT INTO client_streams (client_id, principal, at) VALUES {owner} ON CONFLICT (client_id) DO NOTHING"
        ));
    }
    Ok(())
}
