//! hearth-sqlite: the embedded store.
//!
//! rusqlite with bundled SQLite in WAL mode; the schema is embedded and migrated on open
//! (`PRAGMA user_version`); every [`Store::commit`] is one `BEGIN IMMEDIATE` transaction on the single
//! writer connection, while reads use a small pool of reader connections (WAL lets them run beside
//! the writer). Blocking SQLite calls run on tokio's blocking pool, never on the async workers.
//!
//! This crate holds no business rule: it maps rows to hearth-core's types and back, and maps SQLite
//! errors onto [`StoreError`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod codec;
mod migrate;

use async_trait::async_trait;
use codec::*;
use hearth_core::amenities::{Amenity, AmenityBooking, AmenityStore, Slot};
use hearth_core::canteen::{CanteenStore, MenuItem, Order};
use hearth_core::homeheroes::model::{CivilianProfile, HeroProfile, JobInterest, Profile, ServiceRequest};
use hearth_core::id::ClientId;
use hearth_core::id::{AmenityBookingId, AmenityId, SlotId};
use hearth_core::id::{BookingId, JobRequestId};
use hearth_core::id::{MenuItemId, OrderId};
use hearth_core::id::{ReservationId, RoomId};
use hearth_core::id::{ServiceRequestId, UserId};
use hearth_core::khedma::{Booking, JobRequest, KhedmaStore, Quote};
use hearth_core::ledger::model::{Account, AccountId, AccountKind, Transfer, TransferId, TransferKind};
use hearth_core::money::Currency;
use hearth_core::payments::gateway::GatewayKind;
use hearth_core::payments::{PaymentConfirmation, PaymentIntent, PaymentIntentId, PaymentStore};
use hearth_core::rooms::{BedReservation, Room, RoomStore};
use hearth_core::store::{
    After, AuditRecord, ChangeSet, EntityKind, EntityRef, HomeHeroesStore, IdempotencyRecord, OutboxEvent,
    RequestFilter, Store, StoreError, StoreResult, Versioned, Write,
};
use hearth_core::store::{ClientActionRecord, ClientCursor, CurrencyTotals, LedgerStore};
use hearth_core::time::Timestamp;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// Reader connections kept open beside the writer.
pub const READERS_MAX: usize = 4;
/// How long a connection waits on a lock held by another process before reporting `unavailable`.
pub const BUSY_TIMEOUT_MS: u64 = 5_000;

/// A hearth store in one SQLite file. Cheap to clone (shared connections).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_ready: Condvar,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, switches it to WAL and migrates it.
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
        let mut readers = Vec::with_capacity(READERS_MAX);
        for _ in 0..READERS_MAX {
            let r =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                    .map_err(map_err)?;
            configure(&r).map_err(map_err)?;
            readers.push(r);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(readers),
                reader_ready: Condvar::new(),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The schema version (the number of migrations applied).
    pub async fn schema_version(&self) -> StoreResult<i64> {
        self.read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)).await
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = {
                let mut pool = inner.readers.lock().map_err(|_| poisoned())?;
                loop {
                    if let Some(c) = pool.pop() {
                        break c;
                    }
                    pool = inner.reader_ready.wait(pool).map_err(|_| poisoned())?;
                }
            };
            let out = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
                inner.reader_ready.notify_one();
            }
            out.map_err(Fail::into_store)
        })
        .await
        .map_err(|e| StoreError::Backend { message: format!("read task: {e}") })?
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend { message: "connection lock poisoned by a panic".into() }
}

/// Applies one write inside the commit's transaction.
fn apply_write(tx: &rusqlite::Transaction<'_>, write: &Write) -> StoreResult<()> {
    let (table, kind, cols, expect) = match write {
        Write::Profile { value, expect } => ("profiles", EntityKind::Profile, profile_cols(value), *expect),
        Write::CivilianProfile { value, expect } => {
            ("civilian_profiles", EntityKind::CivilianProfile, civilian_cols(value), *expect)
        }
        Write::HeroProfile { value, expect } => ("hero_profiles", EntityKind::HeroProfile, hero_cols(value)?, *expect),
        Write::ServiceRequest { value, expect } => {
            ("service_requests", EntityKind::ServiceRequest, request_cols(value)?, *expect)
        }
        Write::JobInterest { value, expect } => {
            ("job_interest", EntityKind::JobInterest, interest_cols(value), *expect)
        }
        Write::LedgerAccount { value, expect } => {
            ("ledger_accounts", EntityKind::LedgerAccount, account_cols(value), *expect)
        }
        Write::AccountDelta { account, delta, require_active } => {
            return apply_delta(tx, *account, delta, *require_active);
        }
        Write::PaymentIntent { value, expect } => {
            ("payment_intents", EntityKind::PaymentIntent, intent_cols(value)?, *expect)
        }
        Write::PaymentConfirmation(c) => {
            let values = confirmation_values(c)?;
            tx.prepare_cached(
                "INSERT INTO payment_confirmations (gateway, provider_txn_id, intent_id, amount_minor, currency, status,
                     outcome, transfer_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .and_then(|mut st| st.execute(rusqlite::params_from_iter(values)))
            .map_err(|e| map_write_err(e, EntityKind::PaymentIntent))?;
            return Ok(());
        }
        Write::Amenity { value, expect } => ("amenities", EntityKind::Amenity, amenity_cols(value), *expect),
        Write::Slot { value, expect } => ("amenity_slots", EntityKind::AmenitySlot, slot_cols(value), *expect),
        Write::AmenityBooking { value, expect } => {
            ("amenity_bookings", EntityKind::AmenityBooking, amenity_booking_cols(value), *expect)
        }
        Write::SlotDelta { slot, booked } => {
            let n = tx
                .prepare_cached("UPDATE amenity_slots SET booked = booked + ?1, version = version + 1 WHERE id = ?2")
                .and_then(|mut st| st.execute(params![booked, slot.to_string()]))
                .map_err(|e| match map_err(e) {
                    StoreError::Constraint { name } => {
                        StoreError::GuardFailed { entity: EntityKind::AmenitySlot, guard: name }
                    }
                    other => other,
                })?;
            if n != 1 {
                return Err(StoreError::GuardFailed { entity: EntityKind::AmenitySlot, guard: "slot_exists".into() });
            }
            return Ok(());
        }
        Write::MenuItem { value, expect } => {
            ("canteen_menu_items", EntityKind::MenuItem, menu_item_cols(value)?, *expect)
        }
        Write::Order { value, expect } => ("canteen_orders", EntityKind::Order, order_cols(value)?, *expect),
        Write::ResidentRoom { user, room } => {
            tx.prepare_cached(
                "INSERT INTO resident_rooms (user_id, room) VALUES (?1, ?2) ON CONFLICT (user_id) DO UPDATE SET room = ?2",
            )
            .and_then(|mut st| st.execute(params![user.to_string(), room]))
            .map_err(map_err)?;
            return Ok(());
        }
        Write::Room { value, expect } => ("rooms", EntityKind::Room, room_cols(value), *expect),
        Write::BedReservation { value, expect } => {
            ("bed_reservations", EntityKind::BedReservation, reservation_cols(value)?, *expect)
        }
        Write::RoomDelta { room, reserved } => {
            let n = tx
                .prepare_cached("UPDATE rooms SET reserved = reserved + ?1, version = version + 1 WHERE id = ?2")
                .and_then(|mut st| st.execute(params![reserved, room.to_string()]))
                .map_err(|e| match map_err(e) {
                    StoreError::Constraint { name } => {
                        StoreError::GuardFailed { entity: EntityKind::Room, guard: name }
                    }
                    other => other,
                })?;
            if n != 1 {
                return Err(StoreError::GuardFailed {
                    entity: EntityKind::BedReservation,
                    guard: "room_exists".into(),
                });
            }
            return Ok(());
        }
        Write::JobRequest { value, expect } => {
            ("khedma_requests", EntityKind::JobRequest, job_request_cols(value), *expect)
        }
        Write::Quote { value, expect } => ("khedma_quotes", EntityKind::Quote, quote_cols(value)?, *expect),
        Write::Booking { value, expect } => ("khedma_bookings", EntityKind::Booking, booking_cols(value)?, *expect),
        Write::Transfer(t) => {
            tx.prepare_cached(TRANSFER_INSERT)
                .and_then(|mut st| st.execute(rusqlite::params_from_iter(transfer_cols(t))))
                .map_err(|e| map_write_err(e, EntityKind::LedgerTransfer))?;
            return Ok(());
        }
    };
    versioned_write(tx, table, kind, cols, expect)
}

/// Adds a delta to an account's totals in place; the flag CHECKs and the active condition guard it.
fn apply_delta(
    tx: &rusqlite::Transaction<'_>,
    account: hearth_core::ledger::model::AccountId,
    d: &hearth_core::ledger::model::Balance,
    require_active: bool,
) -> StoreResult<()> {
    let n = tx
        .prepare_cached(
            "UPDATE ledger_accounts SET debits_pending = debits_pending + ?1, debits_posted = debits_posted + ?2,
                 credits_pending = credits_pending + ?3, credits_posted = credits_posted + ?4, version = version + 1
             WHERE id = ?5 AND (?6 = 0 OR (frozen = 0 AND closed = 0))",
        )
        .and_then(|mut st| {
            st.execute(params![
                d.debits_pending,
                d.debits_posted,
                d.credits_pending,
                d.credits_posted,
                account.to_string(),
                require_active
            ])
        })
        .map_err(|e| match map_err(e) {
            StoreError::Constraint { name } => {
                StoreError::GuardFailed { entity: EntityKind::LedgerAccount, guard: name }
            }
            other => other,
        })?;
    if n != 1 {
        return Err(StoreError::GuardFailed { entity: EntityKind::LedgerAccount, guard: "account_active".into() });
    }
    Ok(())
}

fn check_version(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt { message: "version out of range".into() })
}

fn versioned_write(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    kind: EntityKind,
    cols: Vec<(&'static str, SqlValue)>,
    expect: hearth_core::store::Expect,
) -> StoreResult<()> {
    use hearth_core::store::Expect;
    let next = check_version(expect.next_version())?;
    match expect {
        Expect::Absent => {
            let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
            let marks = vec!["?"; names.len() + 1].join(", ");
            let sql = format!("INSERT INTO {table} ({}, version) VALUES ({marks})", names.join(", "));
            let mut values: Vec<SqlValue> = cols.into_iter().map(|(_, v)| v).collect();
            values.push(SqlValue::Integer(next));
            tx.execute(&sql, rusqlite::params_from_iter(values)).map_err(|e| map_write_err(e, kind))?;
        }
        Expect::Version(v) => {
            let v = check_version(v)?;
            // The first column is always the primary key.
            let mut iter = cols.into_iter();
            let (id_name, id_value) =
                iter.next().ok_or_else(|| StoreError::Backend { message: "no columns".into() })?;
            let rest: Vec<(&str, SqlValue)> = iter.collect();
            let sets: Vec<String> = rest.iter().map(|(n, _)| format!("{n} = ?")).collect();
            let sql =
                format!("UPDATE {table} SET {}, version = ? WHERE {id_name} = ? AND version = ?", sets.join(", "));
            let mut values: Vec<SqlValue> = rest.into_iter().map(|(_, v)| v).collect();
            values.extend([SqlValue::Integer(next), id_value, SqlValue::Integer(v)]);
            let n = tx.execute(&sql, rusqlite::params_from_iter(values)).map_err(|e| map_write_err(e, kind))?;
            if n != 1 {
                return Err(StoreError::VersionConflict { entity: kind });
            }
        }
    }
    Ok(())
}

fn commit_blocking(conn: &mut Connection, changes: &ChangeSet) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
    for w in &changes.writes {
        apply_write(&tx, w)?;
    }
    for a in &changes.audit {
        tx.execute(
            "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                a.id.to_string(),
                a.entity.kind.as_str(),
                a.entity.id.to_string(),
                a.action,
                a.actor,
                a.before.as_ref().map(|b| b.to_string()),
                a.after.to_string(),
                check_version(a.version)?,
                a.at.unix_micros()
            ],
        )
        .map_err(map_err)?;
    }
    for e in &changes.events {
        let audience =
            serde_json::to_string(&e.audience).map_err(|e| StoreError::Backend { message: e.to_string() })?;
        tx.execute(
            "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![
                e.id.to_string(),
                e.topic,
                e.entity.kind.as_str(),
                e.entity.id.to_string(),
                e.payload.to_string(),
                audience,
                e.at.unix_micros()
            ],
        )
        .map_err(map_err)?;
    }
    if let Some(k) = &changes.idempotency {
        tx.execute(
            "INSERT INTO idempotency_keys (scope, key, command, fingerprint, response, at) VALUES (?, ?, ?, ?, ?, ?)",
            params![k.scope, k.key, k.command, k.fingerprint, k.response.to_string(), k.at.unix_micros()],
        )
        .map_err(|e| if is_unique_violation(&e) { StoreError::IdempotencyKeyTaken } else { map_err(e) })?;
    }
    if let Some(a) = &changes.client_action {
        tx.execute(
            "INSERT INTO client_actions (client_id, seq, principal, action, fingerprint, outcome, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![
                a.client_id.to_string(),
                i64::try_from(a.seq).map_err(|_| StoreError::Constraint { name: "client_actions_seq_positive".into() })?,
                a.principal,
                a.action,
                a.fingerprint,
                a.outcome.to_string(),
                a.at.unix_micros()
            ],
        )
        .map_err(|e| if is_unique_violation(&e) { StoreError::ClientSeqTaken } else { map_err(e) })?;
    }
    tx.commit().map_err(map_err)
}

const PROFILE_SELECT: &str = "SELECT id, role, full_name, phone, created_at, updated_at, version FROM profiles";
const CIVILIAN_SELECT: &str = "SELECT id, profile_id, address, notify_push, notify_email, notify_sms, created_at, updated_at, version FROM civilian_profiles";
const HERO_SELECT: &str = "SELECT id, profile_id, skills, hourly_rate, rate_currency, availability, rating_count, rating_total, completed_jobs, profile_image_url, created_at, updated_at, version FROM hero_profiles";
const REQUEST_SELECT: &str = "SELECT id, civilian_id, hero_id, title, description, category, address, city, state, zip_code, latitude, longitude, scheduled_at, estimated_duration_hours, currency, budget_min_minor, budget_max_minor, status, cancel_reason, rating, created_at, updated_at, assigned_at, completed_at, cancelled_at, version FROM service_requests";
const INTEREST_SELECT: &str =
    "SELECT id, job_id, hero_user_id, source, status, phone, created_at, updated_at, version FROM job_interest";

fn one<T>(
    conn: &Connection,
    sql: &str,
    key: String,
    decode: fn(&rusqlite::Row<'_>) -> Result<T, Fail>,
) -> Result<Option<T>, Fail> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([key])?;
    match rows.next()? {
        Some(row) => Ok(Some(decode(row)?)),
        None => Ok(None),
    }
}

fn many<T>(
    conn: &Connection,
    sql: &str,
    params: &[SqlValue],
    decode: fn(&rusqlite::Row<'_>) -> Result<T, Fail>,
) -> Result<Vec<T>, Fail> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(|_| poisoned())?;
            commit_blocking(&mut conn, &changes)
        })
        .await
        .map_err(|e| StoreError::Backend { message: format!("commit task: {e}") })?
    }

    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.read(move |c| {
            c.query_row(
                "SELECT scope, key, command, fingerprint, response, at FROM idempotency_keys WHERE scope = ? AND key = ?",
                params![scope, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?, r.get(5)?)),
            )
            .optional()?
            .map(|(scope, key, command, fingerprint, response, at)| {
                Ok(IdempotencyRecord { scope, key, command, fingerprint, response: json(&response)?, at: ts(at)? })
            })
            .transpose()
        })
        .await
    }

    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
        self.read(move |c| {
            c.query_row(
                "SELECT principal, seq FROM client_actions WHERE client_id = ? ORDER BY seq DESC LIMIT 1",
                [client_id.to_string()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
            .map(|(principal, seq)| {
                Ok(ClientCursor { principal, last_seq: u64::try_from(seq).map_err(|_| corrupt("seq"))? })
            })
            .transpose()
        })
        .await
    }

    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>> {
        let (from, to) = (i64::try_from(from).unwrap_or(i64::MAX), i64::try_from(to).unwrap_or(i64::MAX));
        self.read(move |c| {
            many(
                c,
                "SELECT client_id, seq, principal, action, fingerprint, outcome, at FROM client_actions
                 WHERE client_id = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                &[SqlValue::Text(client_id.to_string()), SqlValue::Integer(from), SqlValue::Integer(to)],
                decode_client_action,
            )
        })
        .await
    }

    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        self.read(move |c| {
            many(
                c,
                "SELECT id, entity_kind, entity_id, action, actor, before, after, version, at FROM audit_log
                 WHERE entity_kind = ? AND entity_id = ? ORDER BY seq",
                &[SqlValue::Text(entity.kind.as_str().into()), SqlValue::Text(entity.id.to_string())],
                decode_audit,
            )
        })
        .await
    }

    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        self.read(move |c| {
            many(
                c,
                "SELECT position, id, topic, entity_kind, entity_id, payload, audience, at FROM outbox
                 WHERE position > ? ORDER BY position LIMIT ?",
                &[SqlValue::Integer(after), SqlValue::Integer(i64::from(limit))],
                decode_event,
            )
        })
        .await
    }
}

#[async_trait]
impl HomeHeroesStore for SqliteStore {
    async fn profile(&self, user: UserId) -> StoreResult<Option<Versioned<Profile>>> {
        self.read(move |c| one(c, &format!("{PROFILE_SELECT} WHERE id = ?"), user.to_string(), decode_profile)).await
    }
    async fn civilian_profile(&self, user: UserId) -> StoreResult<Option<Versioned<CivilianProfile>>> {
        self.read(move |c| {
            one(c, &format!("{CIVILIAN_SELECT} WHERE profile_id = ?"), user.to_string(), decode_civilian)
        })
        .await
    }
    async fn hero_profile(&self, user: UserId) -> StoreResult<Option<Versioned<HeroProfile>>> {
        self.read(move |c| one(c, &format!("{HERO_SELECT} WHERE profile_id = ?"), user.to_string(), decode_hero)).await
    }
    async fn hero_profiles(&self, offset: u64, limit: u32) -> StoreResult<Vec<Versioned<HeroProfile>>> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.read(move |c| {
            many(
                c,
                &format!("{HERO_SELECT} ORDER BY created_at, id LIMIT ? OFFSET ?"),
                &[SqlValue::Integer(i64::from(limit)), SqlValue::Integer(offset)],
                decode_hero,
            )
        })
        .await
    }
    async fn service_request(&self, id: ServiceRequestId) -> StoreResult<Option<Versioned<ServiceRequest>>> {
        self.read(move |c| one(c, &format!("{REQUEST_SELECT} WHERE id = ?"), id.to_string(), decode_request)).await
    }
    async fn service_requests(
        &self,
        filter: &RequestFilter,
        after: Option<After>,
        limit: u32,
    ) -> StoreResult<Vec<Versioned<ServiceRequest>>> {
        let mut clauses: Vec<&str> = Vec::new();
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(s) = filter.status {
            clauses.push("status = ?");
            args.push(SqlValue::Text(s.as_str().into()));
        }
        if let Some(u) = filter.civilian_id {
            clauses.push("civilian_id = ?");
            args.push(SqlValue::Text(u.to_string()));
        }
        if let Some(u) = filter.hero_id {
            clauses.push("hero_id = ?");
            args.push(SqlValue::Text(u.to_string()));
        }
        if let Some(c) = filter.category {
            clauses.push("category = ?");
            args.push(SqlValue::Text(c.as_str().into()));
        }
        if let Some(m) = filter.budget_at_least {
            clauses.push("currency = ? AND budget_max_minor >= ?");
            args.push(SqlValue::Text(m.currency().code().into()));
            args.push(SqlValue::Integer(minor(&m)?));
        }
        if let Some(m) = filter.budget_at_most {
            clauses.push("currency = ? AND budget_min_minor <= ?");
            args.push(SqlValue::Text(m.currency().code().into()));
            args.push(SqlValue::Integer(minor(&m)?));
        }
        if let Some(a) = after {
            clauses.push("(created_at < ? OR (created_at = ? AND id < ?))");
            args.push(SqlValue::Integer(a.created_at.unix_micros()));
            args.push(SqlValue::Integer(a.created_at.unix_micros()));
            args.push(SqlValue::Text(a.id.to_string()));
        }
        let filter_sql = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let sql = format!("{REQUEST_SELECT}{filter_sql} ORDER BY created_at DESC, id DESC LIMIT ?");
        args.push(SqlValue::Integer(i64::from(limit)));
        self.read(move |c| many(c, &sql, &args, decode_request)).await
    }
    async fn count_requests_created_since(&self, civilian: UserId, since: Timestamp) -> StoreResult<u64> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM service_requests WHERE civilian_id = ? AND created_at >= ?",
                params![civilian.to_string(), since.unix_micros()],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
    async fn completed_requests(
        &self,
        hero: UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ServiceRequest>> {
        self.read(move |c| {
            let rows = many(
                c,
                &format!(
                    "{REQUEST_SELECT} WHERE status = 'completed' AND hero_id = ? AND completed_at >= ? AND completed_at < ? ORDER BY completed_at, id"
                ),
                &[SqlValue::Text(hero.to_string()), SqlValue::Integer(from.unix_micros()), SqlValue::Integer(to.unix_micros())],
                decode_request,
            )?;
            Ok(rows.into_iter().map(|v| v.value).collect())
        })
        .await
    }
    async fn interests(&self, request: ServiceRequestId) -> StoreResult<Vec<Versioned<JobInterest>>> {
        self.read(move |c| {
            many(
                c,
                &format!("{INTEREST_SELECT} WHERE job_id = ? ORDER BY created_at, id"),
                &[SqlValue::Text(request.to_string())],
                decode_interest,
            )
        })
        .await
    }
}

fn in_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn ledger_accounts(&self, ids: &[AccountId]) -> StoreResult<Vec<Versioned<Account>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let args: Vec<SqlValue> = ids.iter().map(|i| SqlValue::Text(i.to_string())).collect();
        let sql = format!("{ACCOUNT_SELECT} WHERE id IN ({}) ORDER BY id", in_list(args.len()));
        self.read(move |c| many(c, &sql, &args, decode_account)).await
    }
    async fn ledger_account_for(
        &self,
        owner: Option<UserId>,
        kind: AccountKind,
        currency: Currency,
    ) -> StoreResult<Option<Versioned<Account>>> {
        let args = vec![
            owner.map_or(SqlValue::Null, |o| SqlValue::Text(o.to_string())),
            SqlValue::Text(kind.as_str().into()),
            SqlValue::Text(currency.code().into()),
        ];
        let sql = format!("{ACCOUNT_SELECT} WHERE owner_id IS ? AND kind = ? AND currency = ?");
        self.read(move |c| Ok(many(c, &sql, &args, decode_account)?.into_iter().next())).await
    }
    async fn ledger_account_ids(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT id FROM ledger_accounts WHERE id > ? ORDER BY id LIMIT ?")?;
            let rows = st.query_map(params![after, i64::from(limit)], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(AccountId::from_uuid(
                    r?.parse().map_err(|_| Fail::Store(StoreError::Corrupt { message: "account id".into() }))?,
                ));
            }
            Ok(out)
        })
        .await
    }
    async fn ledger_transfers(&self, ids: &[TransferId]) -> StoreResult<Vec<Transfer>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let args: Vec<SqlValue> = ids.iter().map(|i| SqlValue::Text(i.to_string())).collect();
        let sql = format!("{TRANSFER_SELECT} WHERE id IN ({}) ORDER BY seq", in_list(args.len()));
        self.read(move |c| many(c, &sql, &args, decode_transfer)).await
    }
    async fn pending_resolutions(&self, pending: &[TransferId]) -> StoreResult<Vec<(TransferId, TransferKind)>> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let args: Vec<SqlValue> = pending.iter().map(|i| SqlValue::Text(i.to_string())).collect();
        let sql = format!("{TRANSFER_SELECT} WHERE result = 'ok' AND pending_id IN ({})", in_list(args.len()));
        let rows = self.read(move |c| many(c, &sql, &args, decode_transfer)).await?;
        Ok(rows.into_iter().filter_map(|t| t.pending_id.map(|p| (p, t.kind))).collect())
    }
    async fn expired_pending(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Transfer>> {
        let sql = format!(
            "{TRANSFER_SELECT} p WHERE kind = 'pending' AND result = 'ok' AND expires_at IS NOT NULL AND expires_at <= ?
             AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id AND r.result = 'ok')
             ORDER BY expires_at, seq LIMIT ?"
        );
        self.read(move |c| {
            many(c, &sql, &[SqlValue::Integer(now.unix_micros()), SqlValue::Integer(i64::from(limit))], decode_transfer)
        })
        .await
    }
    async fn ledger_transfers_touching(&self, accounts: &[AccountId]) -> StoreResult<Vec<Transfer>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<SqlValue> = accounts.iter().map(|i| SqlValue::Text(i.to_string())).collect();
        let list = in_list(ids.len());
        let sql = format!(
            "{TRANSFER_SELECT} WHERE result = 'ok' AND (debit_account_id IN ({list}) OR credit_account_id IN ({list})) ORDER BY seq"
        );
        let args: Vec<SqlValue> = ids.iter().chain(ids.iter()).cloned().collect();
        self.read(move |c| many(c, &sql, &args, decode_transfer)).await
    }
    async fn currency_totals(&self) -> StoreResult<Vec<CurrencyTotals>> {
        self.read(|c| {
            many(
                c,
                "SELECT currency, SUM(debits_pending), SUM(debits_posted), SUM(credits_pending), SUM(credits_posted)
                 FROM ledger_accounts GROUP BY currency ORDER BY currency",
                &[],
                decode_totals,
            )
        })
        .await
    }
    async fn account_transfers(&self, account: AccountId, limit: u32) -> StoreResult<Vec<Transfer>> {
        let sql = format!(
            "{TRANSFER_SELECT} WHERE result = 'ok' AND (debit_account_id = ?1 OR credit_account_id = ?1) ORDER BY seq LIMIT ?2"
        );
        self.read(move |c| {
            many(c, &sql, &[SqlValue::Text(account.to_string()), SqlValue::Integer(i64::from(limit))], decode_transfer)
        })
        .await
    }
}

#[async_trait]
impl PaymentStore for SqliteStore {
    async fn payment_intent(&self, id: PaymentIntentId) -> StoreResult<Option<Versioned<PaymentIntent>>> {
        self.read(move |c| one(c, &format!("{INTENT_SELECT} WHERE id = ?"), id.to_string(), decode_intent)).await
    }
    async fn payment_intents_since(&self, user: UserId, since: Timestamp) -> StoreResult<Vec<PaymentIntent>> {
        let sql = format!("{INTENT_SELECT} WHERE user_id = ? AND created_at >= ? ORDER BY created_at, id");
        let rows = self
            .read(move |c| {
                many(
                    c,
                    &sql,
                    &[SqlValue::Text(user.to_string()), SqlValue::Integer(since.unix_micros())],
                    decode_intent,
                )
            })
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    async fn succeeded_amounts(&self, user: UserId, limit: u32) -> StoreResult<Vec<i64>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT amount_minor FROM payment_intents WHERE user_id = ? AND status = 'succeeded' ORDER BY created_at DESC LIMIT ?",
            )?;
            let rows = st.query_map(params![user.to_string(), i64::from(limit)], |r| r.get::<_, i64>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
    async fn payment_confirmation(
        &self,
        gateway: GatewayKind,
        provider_txn_id: &str,
    ) -> StoreResult<Option<PaymentConfirmation>> {
        let txn = provider_txn_id.to_owned();
        self.read(move |c| {
            let rows = many(
                c,
                "SELECT gateway, provider_txn_id, intent_id, amount_minor, currency, status, outcome, transfer_id, received_at
                 FROM payment_confirmations WHERE gateway = ? AND provider_txn_id = ?",
                &[SqlValue::Text(gateway.as_str().into()), SqlValue::Text(txn)],
                decode_confirmation,
            )?;
            Ok(rows.into_iter().next())
        })
        .await
    }
    async fn expired_intents(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Versioned<PaymentIntent>>> {
        let sql = format!(
            "{INTENT_SELECT} WHERE status IN ('initiated', 'pending') AND expires_at <= ? ORDER BY expires_at, id LIMIT ?"
        );
        self.read(move |c| {
            many(c, &sql, &[SqlValue::Integer(now.unix_micros()), SqlValue::Integer(i64::from(limit))], decode_intent)
        })
        .await
    }
    async fn refunds_of(&self, original: TransferId) -> StoreResult<Vec<Transfer>> {
        let sql = format!("{TRANSFER_SELECT} WHERE code = 'refund' AND result = 'ok' AND reference = ? ORDER BY seq");
        self.read(move |c| many(c, &sql, &[SqlValue::Text(original.to_string())], decode_transfer)).await
    }
}

#[async_trait]
impl AmenityStore for SqliteStore {
    async fn amenity(&self, id: AmenityId) -> StoreResult<Option<Versioned<Amenity>>> {
        self.read(move |c| one(c, &format!("{AMENITY_SELECT} WHERE id = ?"), id.to_string(), decode_amenity)).await
    }
    async fn slot(&self, id: SlotId) -> StoreResult<Option<Versioned<Slot>>> {
        self.read(move |c| one(c, &format!("{SLOT_SELECT} WHERE id = ?"), id.to_string(), decode_slot)).await
    }
    async fn slots_on(&self, amenity: AmenityId, date: chrono::NaiveDate) -> StoreResult<Vec<Versioned<Slot>>> {
        let sql = format!("{SLOT_SELECT} WHERE amenity_id = ? AND date = ? ORDER BY starts_at");
        self.read(move |c| {
            many(c, &sql, &[SqlValue::Text(amenity.to_string()), SqlValue::Text(date.to_string())], decode_slot)
        })
        .await
    }
    async fn slot_with_amenity(&self, id: SlotId) -> StoreResult<Option<(Versioned<Slot>, Versioned<Amenity>)>> {
        let slot = self.slot(id).await?;
        let Some(slot) = slot else { return Ok(None) };
        Ok(self.amenity(slot.value.amenity_id).await?.map(|a| (slot, a)))
    }
    async fn amenity_booking(&self, id: AmenityBookingId) -> StoreResult<Option<Versioned<AmenityBooking>>> {
        self.read(move |c| {
            one(c, &format!("{AMENITY_BOOKING_SELECT} WHERE b.id = ?"), id.to_string(), decode_amenity_booking)
        })
        .await
    }
    async fn live_booking(&self, slot: SlotId, user: UserId) -> StoreResult<Option<Versioned<AmenityBooking>>> {
        let sql = format!("{AMENITY_BOOKING_SELECT} WHERE b.slot_id = ? AND b.user_id = ? AND b.status = 'booked'");
        self.read(move |c| {
            Ok(many(
                c,
                &sql,
                &[SqlValue::Text(slot.to_string()), SqlValue::Text(user.to_string())],
                decode_amenity_booking,
            )?
            .into_iter()
            .next())
        })
        .await
    }
    async fn live_bookings_of_amenity(&self, amenity: AmenityId, from: Timestamp) -> StoreResult<Vec<AmenityBooking>> {
        let sql = format!(
            "{AMENITY_BOOKING_SELECT} JOIN amenity_slots s ON s.id = b.slot_id
             WHERE b.amenity_id = ? AND b.status = 'booked' AND s.starts_at >= ? ORDER BY s.starts_at, b.id"
        );
        let rows = self
            .read(move |c| {
                many(
                    c,
                    &sql,
                    &[SqlValue::Text(amenity.to_string()), SqlValue::Integer(from.unix_micros())],
                    decode_amenity_booking,
                )
            })
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    async fn count_live_bookings(&self, slot: SlotId) -> StoreResult<u64> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM amenity_bookings WHERE slot_id = ? AND status = 'booked'",
                params![slot.to_string()],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}

#[async_trait]
impl CanteenStore for SqliteStore {
    async fn menu_items(&self, ids: &[MenuItemId]) -> StoreResult<Vec<Versioned<MenuItem>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let args: Vec<SqlValue> = ids.iter().map(|i| SqlValue::Text(i.to_string())).collect();
        let sql = format!("{MENU_SELECT} WHERE id IN ({})", in_list(args.len()));
        self.read(move |c| many(c, &sql, &args, decode_menu_item)).await
    }
    async fn menu_of(&self, date: chrono::NaiveDate) -> StoreResult<Vec<MenuItem>> {
        let sql = format!("{MENU_SELECT} WHERE date = ? ORDER BY name, id");
        let rows = self.read(move |c| many(c, &sql, &[SqlValue::Text(date.to_string())], decode_menu_item)).await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    async fn order(&self, id: OrderId) -> StoreResult<Option<Versioned<Order>>> {
        self.read(move |c| one(c, &format!("{ORDER_SELECT} WHERE id = ?"), id.to_string(), decode_order)).await
    }
    async fn count_orders_since(&self, user: UserId, since: Timestamp) -> StoreResult<u64> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM canteen_orders WHERE user_id = ? AND created_at >= ?",
                params![user.to_string(), since.unix_micros()],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
    async fn resident_room(&self, user: UserId) -> StoreResult<Option<String>> {
        self.read(move |c| {
            Ok(c.query_row("SELECT room FROM resident_rooms WHERE user_id = ?", params![user.to_string()], |r| {
                r.get(0)
            })
            .optional()?)
        })
        .await
    }
    async fn open_orders(&self, date: chrono::NaiveDate) -> StoreResult<Vec<Order>> {
        let sql = format!(
            "{ORDER_SELECT} WHERE date = ? AND status NOT IN ('completed', 'cancelled') ORDER BY room, created_at, id"
        );
        let rows = self.read(move |c| many(c, &sql, &[SqlValue::Text(date.to_string())], decode_order)).await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
}

#[async_trait]
impl RoomStore for SqliteStore {
    async fn room(&self, id: RoomId) -> StoreResult<Option<Versioned<Room>>> {
        self.read(move |c| one(c, &format!("{ROOM_SELECT} WHERE id = ?"), id.to_string(), decode_room)).await
    }
    async fn reservation(&self, id: ReservationId) -> StoreResult<Option<Versioned<BedReservation>>> {
        self.read(move |c| one(c, &format!("{RESERVATION_SELECT} WHERE id = ?"), id.to_string(), decode_reservation))
            .await
    }
    async fn live_reservation(&self, user: UserId) -> StoreResult<Option<Versioned<BedReservation>>> {
        let sql = format!("{RESERVATION_SELECT} WHERE user_id = ? AND status IN ('held', 'confirmed')");
        self.read(move |c| one(c, &sql, user.to_string(), decode_reservation)).await
    }
    async fn lapsed_reservations(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Versioned<BedReservation>>> {
        let sql =
            format!("{RESERVATION_SELECT} WHERE status = 'held' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?");
        self.read(move |c| {
            many(
                c,
                &sql,
                &[SqlValue::Integer(now.unix_micros()), SqlValue::Integer(i64::from(limit))],
                decode_reservation,
            )
        })
        .await
    }
    async fn count_live_reservations(&self, room: RoomId) -> StoreResult<u64> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM bed_reservations WHERE room_id = ? AND status IN ('held', 'confirmed')",
                params![room.to_string()],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}

#[async_trait]
impl KhedmaStore for SqliteStore {
    async fn job_request(&self, id: JobRequestId) -> StoreResult<Option<Versioned<JobRequest>>> {
        self.read(move |c| one(c, &format!("{JOB_REQUEST_SELECT} WHERE id = ?"), id.to_string(), decode_job_request))
            .await
    }
    async fn quotes_for(&self, request: JobRequestId) -> StoreResult<Vec<Versioned<Quote>>> {
        let sql = format!("{QUOTE_SELECT} WHERE request_id = ? ORDER BY created_at, id");
        self.read(move |c| many(c, &sql, &[SqlValue::Text(request.to_string())], decode_quote)).await
    }
    async fn booking(&self, id: BookingId) -> StoreResult<Option<Versioned<Booking>>> {
        self.read(move |c| one(c, &format!("{BOOKING_SELECT} WHERE id = ?"), id.to_string(), decode_booking)).await
    }
}
