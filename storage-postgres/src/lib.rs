//! hearth-postgres: the Postgres store.
//!
//! sqlx over a connection pool; the schema is embedded (`sqlx::migrate!`) and applied by
//! [`PgStore::migrate`]; every [`Store::commit`] is one transaction whose versioned `UPDATE … WHERE
//! version = $n` statements make optimistic concurrency exact under Postgres' row locking.
//!
//! This crate holds no business rule: it maps rows to hearth-core's types and back, and maps
//! Postgres errors onto [`StoreError`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod codec;
mod statement;

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
use hearth_core::ledger::model::{Account, AccountId, AccountKind, Balance, Transfer, TransferId, TransferKind};
use hearth_core::money::Currency;
use hearth_core::payments::gateway::GatewayKind;
use hearth_core::payments::{PaymentConfirmation, PaymentIntent, PaymentIntentId, PaymentStore};
use hearth_core::rooms::{BedReservation, Room, RoomStore};
use hearth_core::store::{
    After, AuditRecord, ChangeSet, EntityKind, EntityRef, Expect, HomeHeroesStore, IdempotencyRecord, OutboxEvent,
    RequestFilter, Store, StoreError, StoreResult, Versioned, Write,
};
use hearth_core::store::{ClientActionRecord, ClientCursor, CurrencyTotals, LedgerStore};
use hearth_core::time::Timestamp;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};

pub use sqlx::postgres::PgConnectOptions;

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections a store opens by default.
pub const POOL_CONNECTIONS_DEFAULT: u32 = 10;

/// A hearth store in a Postgres database (or schema, through the connection's `search_path`).
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` with a pool of [`POOL_CONNECTIONS_DEFAULT`] connections.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool =
            PgPoolOptions::new().max_connections(POOL_CONNECTIONS_DEFAULT).connect(url).await.map_err(map_err)?;
        Ok(Self { pool })
    }
    /// Uses an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }
    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Backend { message: format!("migrate: {e}") })
    }
}

async fn versioned_write(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    kind: EntityKind,
    cols: Vec<(&'static str, PgValue)>,
    expect: Expect,
) -> StoreResult<()> {
    let next = version_i64(expect.next_version())?;
    match expect {
        Expect::Absent => {
            let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
            let marks: Vec<String> = (1..=names.len() + 1).map(|i| format!("${i}")).collect();
            let sql = format!("INSERT INTO {table} ({}, version) VALUES ({})", names.join(", "), marks.join(", "));
            // Safe: built only from static column names and `$n` placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (_, v) in cols {
                q = bind(q, v);
            }
            q.bind(next).execute(&mut **tx).await.map_err(|e| map_write_err(e, kind))?;
        }
        Expect::Version(v) => {
            let mut iter = cols.into_iter();
            let (id_name, id_value) =
                iter.next().ok_or_else(|| StoreError::Backend { message: "no columns".into() })?;
            let rest: Vec<(&str, PgValue)> = iter.collect();
            let n = rest.len();
            let sets: Vec<String> = rest.iter().enumerate().map(|(i, (c, _))| format!("{c} = ${}", i + 1)).collect();
            let sql = format!(
                "UPDATE {table} SET {}, version = ${} WHERE {id_name} = ${} AND version = ${}",
                sets.join(", "),
                n + 1,
                n + 2,
                n + 3
            );
            // Safe: built only from static column names and `$n` placeholders; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (_, v) in rest {
                q = bind(q, v);
            }
            q = bind(q.bind(next), id_value);
            let done = q.bind(version_i64(v)?).execute(&mut **tx).await.map_err(|e| map_write_err(e, kind))?;
            if done.rows_affected() != 1 {
                return Err(StoreError::VersionConflict { entity: kind });
            }
        }
    }
    Ok(())
}

/// Adds a delta to an account's totals in place; the flag CHECKs and the active condition guard it.
async fn apply_delta(
    tx: &mut Transaction<'_, Postgres>,
    account: AccountId,
    d: &Balance,
    require_active: bool,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE ledger_accounts SET debits_pending = debits_pending + $1, debits_posted = debits_posted + $2,
             credits_pending = credits_pending + $3, credits_posted = credits_posted + $4, version = version + 1
         WHERE id = $5 AND (NOT $6 OR (NOT frozen AND NOT closed))",
    )
    .bind(d.debits_pending)
    .bind(d.debits_posted)
    .bind(d.credits_pending)
    .bind(d.credits_posted)
    .bind(account.as_uuid())
    .bind(require_active)
    .execute(&mut **tx)
    .await
    .map_err(|e| match map_err(e) {
        StoreError::Constraint { name } => StoreError::GuardFailed { entity: EntityKind::LedgerAccount, guard: name },
        other => other,
    })?;
    if done.rows_affected() != 1 {
        return Err(StoreError::GuardFailed { entity: EntityKind::LedgerAccount, guard: "account_active".into() });
    }
    Ok(())
}

async fn apply_write(tx: &mut Transaction<'_, Postgres>, write: &Write) -> StoreResult<()> {
    // Row-shaped writes: one table/column mapping, shared with the one-statement commit.
    if let Some(entity) = statement::entity_write(write) {
        let (table, kind, cols, expect) = entity?;
        return versioned_write(tx, table, kind, cols, expect).await;
    }
    match write {
        Write::AccountDelta { account, delta, require_active } => {
            apply_delta(tx, *account, delta, *require_active).await
        }
        Write::PaymentConfirmation(c) => {
            let status = serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| StoreError::Backend { message: "event status".into() })?;
            sqlx::query(
                "INSERT INTO payment_confirmations (gateway, provider_txn_id, intent_id, amount_minor, currency, status,
                     outcome, transfer_id, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(c.gateway.as_str())
            .bind(&c.provider_txn_id)
            .bind(c.intent_id.map(|i| i.as_uuid()))
            .bind(c.amount_minor)
            .bind(c.currency.map(|c| c.code()))
            .bind(status)
            .bind(c.outcome.as_str())
            .bind(c.transfer_id.map(|t| t.as_uuid()))
            .bind(c.received_at.as_datetime())
            .execute(&mut **tx)
            .await
            .map_err(|e| map_write_err(e, EntityKind::PaymentIntent))?;
            Ok(())
        }
        Write::SlotDelta { slot, booked } => {
            let done =
                sqlx::query("UPDATE amenity_slots SET booked = booked + $1, version = version + 1 WHERE id = $2")
                    .bind(booked)
                    .bind(slot.as_uuid())
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| match map_err(e) {
                        StoreError::Constraint { name } => {
                            StoreError::GuardFailed { entity: EntityKind::AmenitySlot, guard: name }
                        }
                        other => other,
                    })?;
            if done.rows_affected() != 1 {
                return Err(StoreError::GuardFailed { entity: EntityKind::AmenitySlot, guard: "slot_exists".into() });
            }
            Ok(())
        }
        Write::ResidentRoom { user, room } => {
            sqlx::query(
                "INSERT INTO resident_rooms (user_id, room) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET room = $2",
            )
            .bind(user.as_uuid())
            .bind(room)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
            Ok(())
        }
        Write::RoomDelta { room, reserved } => {
            let done = sqlx::query("UPDATE rooms SET reserved = reserved + $1, version = version + 1 WHERE id = $2")
                .bind(reserved)
                .bind(room.as_uuid())
                .execute(&mut **tx)
                .await
                .map_err(|e| match map_err(e) {
                    StoreError::Constraint { name } => {
                        StoreError::GuardFailed { entity: EntityKind::Room, guard: name }
                    }
                    other => other,
                })?;
            if done.rows_affected() != 1 {
                return Err(StoreError::GuardFailed { entity: EntityKind::Room, guard: "room_exists".into() });
            }
            Ok(())
        }
        Write::Transfer(t) => {
            sqlx::query(
                "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, pending_id,
                     timeout_secs, expires_at, linked, code, reference, result, actor, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(t.id.as_uuid())
            .bind(t.debit_account_id.as_uuid())
            .bind(t.credit_account_id.as_uuid())
            .bind(t.amount)
            .bind(t.currency.code())
            .bind(t.kind.as_str())
            .bind(t.pending_id.map(|p| p.as_uuid()))
            .bind(i32::try_from(t.timeout_secs).map_err(|_| StoreError::Backend { message: "timeout out of range".into() })?)
            .bind(t.expires_at.map(|e| e.as_datetime()))
            .bind(t.linked)
            .bind(t.code.as_str())
            .bind(t.reference.as_deref())
            .bind(t.result.as_str())
            .bind(&t.actor)
            .bind(t.created_at.as_datetime())
            .execute(&mut **tx)
            .await
            .map_err(|e| map_write_err(e, EntityKind::LedgerTransfer))?;
            Ok(())
        }
        _ => Err(StoreError::Backend { message: "entity write not mapped".into() }),
    }
}

const PROFILE_SELECT: &str = "SELECT id, role, full_name, phone, created_at, updated_at, version FROM profiles";
const CIVILIAN_SELECT: &str = "SELECT id, profile_id, address, notify_push, notify_email, notify_sms, created_at, updated_at, version FROM civilian_profiles";
const HERO_SELECT: &str = "SELECT id, profile_id, skills, hourly_rate, rate_currency, availability, rating_count, rating_total, completed_jobs, profile_image_url, created_at, updated_at, version FROM hero_profiles";
const REQUEST_SELECT: &str = "SELECT id, civilian_id, hero_id, title, description, category, address, city, state, zip_code, latitude, longitude, scheduled_at, estimated_duration_hours, currency, budget_min, budget_max, status, cancel_reason, rating, created_at, updated_at, assigned_at, completed_at, cancelled_at, version FROM service_requests";
const INTEREST_SELECT: &str =
    "SELECT id, job_id, hero_user_id, source, status, phone, created_at, updated_at, version FROM job_interest";

impl PgStore {
    async fn fetch<T>(
        &self,
        sql: &str,
        args: Vec<PgValue>,
        decode: fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        // Safe: callers pass static SQL or SQL built from static fragments and `$n` placeholders.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        for a in args {
            q = bind(q, a);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(decode).collect()
    }
    async fn fetch_one<T>(
        &self,
        sql: &str,
        args: Vec<PgValue>,
        decode: fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        Ok(self.fetch(sql, args, decode).await?.into_iter().next())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        if let Some(done) = statement::commit(&self.pool, &changes).await {
            return done;
        }
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        for w in &changes.writes {
            apply_write(&mut tx, w).await?;
        }
        for a in &changes.audit {
            sqlx::query(
                "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(a.id.as_uuid())
            .bind(a.entity.kind.as_str())
            .bind(a.entity.id)
            .bind(&a.action)
            .bind(&a.actor)
            .bind(&a.before)
            .bind(&a.after)
            .bind(version_i64(a.version)?)
            .bind(a.at.as_datetime())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        for e in &changes.events {
            let audience: Vec<uuid::Uuid> = e.audience.iter().map(|u| u.as_uuid()).collect();
            sqlx::query(
                "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(e.id.as_uuid())
            .bind(&e.topic)
            .bind(e.entity.kind.as_str())
            .bind(e.entity.id)
            .bind(&e.payload)
            .bind(audience)
            .bind(e.at.as_datetime())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        if let Some(k) = &changes.idempotency {
            sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, command, fingerprint, response, at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .bind(&k.command)
            .bind(&k.fingerprint)
            .bind(&k.response)
            .bind(k.at.as_datetime())
            .execute(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { StoreError::IdempotencyKeyTaken } else { map_err(e) })?;
        }
        if let Some(a) = &changes.client_action {
            sqlx::query(
                "INSERT INTO client_actions (client_id, seq, principal, action, fingerprint, outcome, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(a.client_id.as_uuid())
            .bind(i64::try_from(a.seq).map_err(|_| StoreError::Constraint { name: "client_actions_seq_positive".into() })?)
            .bind(&a.principal)
            .bind(&a.action)
            .bind(&a.fingerprint)
            .bind(&a.outcome)
            .bind(a.at.as_datetime())
            .execute(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { StoreError::ClientSeqTaken } else { map_err(e) })?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
        self.fetch_one(
            "SELECT principal, seq FROM client_actions WHERE client_id = $1 ORDER BY seq DESC LIMIT 1",
            vec![PgValue::Uuid(client_id.as_uuid())],
            |r| {
                let seq: i64 = get(r, 1)?;
                Ok(ClientCursor {
                    principal: get(r, 0)?,
                    last_seq: u64::try_from(seq)
                        .map_err(|_| StoreError::Corrupt { message: "client action seq".into() })?,
                })
            },
        )
        .await
    }

    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>> {
        self.fetch(
            "SELECT client_id, seq, principal, action, fingerprint, outcome, at FROM client_actions
             WHERE client_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
            vec![
                PgValue::Uuid(client_id.as_uuid()),
                PgValue::I64(i64::try_from(from).unwrap_or(i64::MAX)),
                PgValue::I64(i64::try_from(to).unwrap_or(i64::MAX)),
            ],
            |r| {
                let seq: i64 = get(r, 1)?;
                Ok(ClientActionRecord {
                    client_id: ClientId::from_uuid(get(r, 0)?),
                    seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt { message: "client action seq".into() })?,
                    principal: get(r, 2)?,
                    action: get(r, 3)?,
                    fingerprint: get(r, 4)?,
                    outcome: get(r, 5)?,
                    at: Timestamp::from_datetime(get(r, 6)?),
                })
            },
        )
        .await
    }

    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        self.fetch_one(
            "SELECT scope, key, command, fingerprint, response, at FROM idempotency_keys WHERE scope = $1 AND key = $2",
            vec![PgValue::Text(scope.to_owned()), PgValue::Text(key.to_owned())],
            |r| {
                Ok(IdempotencyRecord {
                    scope: get(r, 0)?,
                    key: get(r, 1)?,
                    command: get(r, 2)?,
                    fingerprint: get(r, 3)?,
                    response: get(r, 4)?,
                    at: Timestamp::from_datetime(get(r, 5)?),
                })
            },
        )
        .await
    }

    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        self.fetch(
            "SELECT id, entity_kind, entity_id, action, actor, before, after, version, at FROM audit_log
             WHERE entity_kind = $1 AND entity_id = $2 ORDER BY seq",
            vec![PgValue::Text(entity.kind.as_str().into()), PgValue::Uuid(entity.id)],
            decode_audit,
        )
        .await
    }

    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        self.fetch(
            "SELECT position, id, topic, entity_kind, entity_id, payload, audience, at FROM outbox
             WHERE position > $1 ORDER BY position LIMIT $2",
            vec![PgValue::I64(after), PgValue::I64(i64::from(limit))],
            decode_event,
        )
        .await
    }
}

#[async_trait]
impl HomeHeroesStore for PgStore {
    async fn profile(&self, user: UserId) -> StoreResult<Option<Versioned<Profile>>> {
        self.fetch_one(&format!("{PROFILE_SELECT} WHERE id = $1"), vec![PgValue::Uuid(user.as_uuid())], decode_profile)
            .await
    }
    async fn civilian_profile(&self, user: UserId) -> StoreResult<Option<Versioned<CivilianProfile>>> {
        self.fetch_one(
            &format!("{CIVILIAN_SELECT} WHERE profile_id = $1"),
            vec![PgValue::Uuid(user.as_uuid())],
            decode_civilian,
        )
        .await
    }
    async fn hero_profile(&self, user: UserId) -> StoreResult<Option<Versioned<HeroProfile>>> {
        self.fetch_one(
            &format!("{HERO_SELECT} WHERE profile_id = $1"),
            vec![PgValue::Uuid(user.as_uuid())],
            decode_hero,
        )
        .await
    }
    async fn hero_profiles(&self, offset: u64, limit: u32) -> StoreResult<Vec<Versioned<HeroProfile>>> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.fetch(
            &format!("{HERO_SELECT} ORDER BY created_at, id LIMIT $1 OFFSET $2"),
            vec![PgValue::I64(i64::from(limit)), PgValue::I64(offset)],
            decode_hero,
        )
        .await
    }
    async fn service_request(&self, id: ServiceRequestId) -> StoreResult<Option<Versioned<ServiceRequest>>> {
        self.fetch_one(&format!("{REQUEST_SELECT} WHERE id = $1"), vec![PgValue::Uuid(id.as_uuid())], decode_request)
            .await
    }
    async fn service_requests(
        &self,
        filter: &RequestFilter,
        after: Option<After>,
        limit: u32,
    ) -> StoreResult<Vec<Versioned<ServiceRequest>>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<PgValue> = Vec::new();
        let arg = |v: PgValue, args: &mut Vec<PgValue>| {
            args.push(v);
            format!("${}", args.len())
        };
        if let Some(s) = filter.status {
            clauses.push(format!("status = {}", arg(PgValue::Text(s.as_str().into()), &mut args)));
        }
        if let Some(u) = filter.civilian_id {
            clauses.push(format!("civilian_id = {}", arg(PgValue::Uuid(u.as_uuid()), &mut args)));
        }
        if let Some(u) = filter.hero_id {
            clauses.push(format!("hero_id = {}", arg(PgValue::Uuid(u.as_uuid()), &mut args)));
        }
        if let Some(c) = filter.category {
            clauses.push(format!("category = {}", arg(PgValue::Text(c.as_str().into()), &mut args)));
        }
        if let Some(m) = filter.budget_at_least {
            let c = arg(PgValue::Text(m.currency().code().into()), &mut args);
            let a = arg(PgValue::Decimal(m.amount()), &mut args);
            clauses.push(format!("currency = {c} AND budget_max >= {a}"));
        }
        if let Some(m) = filter.budget_at_most {
            let c = arg(PgValue::Text(m.currency().code().into()), &mut args);
            let a = arg(PgValue::Decimal(m.amount()), &mut args);
            clauses.push(format!("currency = {c} AND budget_min <= {a}"));
        }
        if let Some(a) = after {
            let t = arg(PgValue::Ts(a.created_at.as_datetime()), &mut args);
            let i = arg(PgValue::Uuid(a.id.as_uuid()), &mut args);
            clauses.push(format!("(created_at, id) < ({t}, {i})"));
        }
        let filter_sql = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let lim = arg(PgValue::I64(i64::from(limit)), &mut args);
        let sql = format!("{REQUEST_SELECT}{filter_sql} ORDER BY created_at DESC, id DESC LIMIT {lim}");
        self.fetch(&sql, args, decode_request).await
    }
    async fn count_requests_created_since(&self, civilian: UserId, since: Timestamp) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM service_requests WHERE civilian_id = $1 AND created_at >= $2")
                .bind(civilian.as_uuid())
                .bind(since.as_datetime())
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
    async fn completed_requests(
        &self,
        hero: UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ServiceRequest>> {
        let rows = self
            .fetch(
                &format!(
                    "{REQUEST_SELECT} WHERE status = 'completed' AND hero_id = $1 AND completed_at >= $2 AND completed_at < $3 ORDER BY completed_at, id"
                ),
                vec![PgValue::Uuid(hero.as_uuid()), PgValue::Ts(from.as_datetime()), PgValue::Ts(to.as_datetime())],
                decode_request,
            )
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    async fn interests(&self, request: ServiceRequestId) -> StoreResult<Vec<Versioned<JobInterest>>> {
        self.fetch(
            &format!("{INTEREST_SELECT} WHERE job_id = $1 ORDER BY created_at, id"),
            vec![PgValue::Uuid(request.as_uuid())],
            decode_interest,
        )
        .await
    }
}

#[async_trait]
impl LedgerStore for PgStore {
    async fn ledger_accounts(&self, ids: &[AccountId]) -> StoreResult<Vec<Versioned<Account>>> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{ACCOUNT_SELECT} WHERE id = ANY($1) ORDER BY id")))
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter().map(decode_account).collect()
    }
    async fn ledger_account_for(
        &self,
        owner: Option<UserId>,
        kind: AccountKind,
        currency: Currency,
    ) -> StoreResult<Option<Versioned<Account>>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ACCOUNT_SELECT} WHERE owner_id IS NOT DISTINCT FROM $1 AND kind = $2 AND currency = $3"
        )))
        .bind(owner.map(|o| o.as_uuid()))
        .bind(kind.as_str())
        .bind(currency.code())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(decode_account).next().transpose()
    }
    async fn ledger_account_ids(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>> {
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM ledger_accounts WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2")
                .bind(after.map(|a| a.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(ids.into_iter().map(AccountId::from_uuid).collect())
    }
    async fn ledger_transfers(&self, ids: &[TransferId]) -> StoreResult<Vec<Transfer>> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(format!("{TRANSFER_SELECT} WHERE id = ANY($1) ORDER BY created_at, id")))
                .bind(ids)
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        rows.iter().map(decode_transfer).collect()
    }
    async fn pending_resolutions(&self, pending: &[TransferId]) -> StoreResult<Vec<(TransferId, TransferKind)>> {
        let ids: Vec<uuid::Uuid> = pending.iter().map(|i| i.as_uuid()).collect();
        let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as(
            "SELECT pending_id, kind FROM ledger_transfers WHERE result = 'ok' AND pending_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(p, k)| {
                TransferKind::parse(&k)
                    .map(|k| (TransferId::from_uuid(p), k))
                    .ok_or_else(|| StoreError::Corrupt { message: "transfer kind".into() })
            })
            .collect()
    }
    async fn expired_pending(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Transfer>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TRANSFER_SELECT} p WHERE kind = 'pending' AND result = 'ok' AND expires_at IS NOT NULL AND expires_at <= $1
             AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id AND r.result = 'ok')
             ORDER BY expires_at, id LIMIT $2"
        )))
        .bind(now.as_datetime())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(decode_transfer).collect()
    }
    async fn ledger_transfers_touching(&self, accounts: &[AccountId]) -> StoreResult<Vec<Transfer>> {
        let ids: Vec<uuid::Uuid> = accounts.iter().map(|i| i.as_uuid()).collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TRANSFER_SELECT} WHERE result = 'ok' AND (debit_account_id = ANY($1) OR credit_account_id = ANY($1)) ORDER BY created_at, id"
        )))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(decode_transfer).collect()
    }
    async fn currency_totals(&self) -> StoreResult<Vec<CurrencyTotals>> {
        let rows = sqlx::query(
            "SELECT currency::text, SUM(debits_pending), SUM(debits_posted), SUM(credits_pending), SUM(credits_posted)
             FROM ledger_accounts GROUP BY currency ORDER BY currency",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(decode_totals).collect()
    }
    async fn account_transfers(&self, account: AccountId, limit: u32) -> StoreResult<Vec<Transfer>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{TRANSFER_SELECT} WHERE result = 'ok' AND (debit_account_id = $1 OR credit_account_id = $1) ORDER BY created_at, id LIMIT $2"
        )))
        .bind(account.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(decode_transfer).collect()
    }
}

#[async_trait]
impl PaymentStore for PgStore {
    async fn payment_intent(&self, id: PaymentIntentId) -> StoreResult<Option<Versioned<PaymentIntent>>> {
        self.fetch_one(&format!("{INTENT_SELECT} WHERE id = $1"), vec![PgValue::Uuid(id.as_uuid())], decode_intent)
            .await
    }
    async fn payment_intents_since(&self, user: UserId, since: Timestamp) -> StoreResult<Vec<PaymentIntent>> {
        let rows = self
            .fetch(
                &format!("{INTENT_SELECT} WHERE user_id = $1 AND created_at >= $2 ORDER BY created_at, id"),
                vec![PgValue::Uuid(user.as_uuid()), PgValue::Ts(since.as_datetime())],
                decode_intent,
            )
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    async fn succeeded_amounts(&self, user: UserId, limit: u32) -> StoreResult<Vec<i64>> {
        let rows = self
            .fetch(
                &format!(
                    "{INTENT_SELECT} WHERE user_id = $1 AND status = 'succeeded' ORDER BY created_at DESC LIMIT $2"
                ),
                vec![PgValue::Uuid(user.as_uuid()), PgValue::I64(i64::from(limit))],
                decode_intent,
            )
            .await?;
        rows.into_iter()
            .map(|v| v.value.amount.to_minor().ok_or_else(|| StoreError::Corrupt { message: "amount".into() }))
            .collect()
    }
    async fn payment_confirmation(
        &self,
        gateway: GatewayKind,
        provider_txn_id: &str,
    ) -> StoreResult<Option<PaymentConfirmation>> {
        self.fetch_one(
            &format!("{CONFIRMATION_SELECT} WHERE gateway = $1 AND provider_txn_id = $2"),
            vec![PgValue::Text(gateway.as_str().into()), PgValue::Text(provider_txn_id.to_owned())],
            decode_confirmation,
        )
        .await
    }
    async fn expired_intents(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Versioned<PaymentIntent>>> {
        self.fetch(
            &format!(
                "{INTENT_SELECT} WHERE status IN ('initiated', 'pending') AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2"
            ),
            vec![PgValue::Ts(now.as_datetime()), PgValue::I64(i64::from(limit))],
            decode_intent,
        )
        .await
    }
    async fn refunds_of(&self, original: TransferId) -> StoreResult<Vec<Transfer>> {
        self.fetch(
            &format!(
                "{TRANSFER_SELECT} WHERE code = 'refund' AND result = 'ok' AND reference = $1 ORDER BY created_at, id"
            ),
            vec![PgValue::Text(original.to_string())],
            decode_transfer,
        )
        .await
    }
}

#[async_trait]
impl AmenityStore for PgStore {
    async fn amenity(&self, id: AmenityId) -> StoreResult<Option<Versioned<Amenity>>> {
        self.fetch_one(&format!("{AMENITY_SELECT} WHERE id = $1"), vec![PgValue::Uuid(id.as_uuid())], decode_amenity)
            .await
    }
    async fn slot(&self, id: SlotId) -> StoreResult<Option<Versioned<Slot>>> {
        self.fetch_one(&format!("{SLOT_SELECT} WHERE id = $1"), vec![PgValue::Uuid(id.as_uuid())], decode_slot).await
    }
    async fn slots_on(&self, amenity: AmenityId, date: chrono::NaiveDate) -> StoreResult<Vec<Versioned<Slot>>> {
        self.fetch(
            &format!("{SLOT_SELECT} WHERE amenity_id = $1 AND date = $2 ORDER BY starts_at"),
            vec![PgValue::Uuid(amenity.as_uuid()), PgValue::Date(date)],
            decode_slot,
        )
        .await
    }
    async fn slot_with_amenity(&self, id: SlotId) -> StoreResult<Option<(Versioned<Slot>, Versioned<Amenity>)>> {
        // One round trip: the slot's columns, then the amenity's.
        let rows = sqlx::query(
            "SELECT s.id, s.amenity_id, s.date, s.starts_at, s.ends_at, s.capacity, s.booked, s.version,
                    a.id, a.name, a.opens_minute, a.closes_minute, a.slot_minutes, a.capacity, a.time_zone, a.status,
                    a.created_at, a.updated_at, a.version
             FROM amenity_slots s JOIN amenities a ON a.id = s.amenity_id WHERE s.id = $1",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(decode_slot_with_amenity).next().transpose()
    }
    async fn amenity_booking(&self, id: AmenityBookingId) -> StoreResult<Option<Versioned<AmenityBooking>>> {
        self.fetch_one(
            &format!("{AMENITY_BOOKING_SELECT} WHERE b.id = $1"),
            vec![PgValue::Uuid(id.as_uuid())],
            decode_amenity_booking,
        )
        .await
    }
    async fn live_booking(&self, slot: SlotId, user: UserId) -> StoreResult<Option<Versioned<AmenityBooking>>> {
        self.fetch_one(
            &format!("{AMENITY_BOOKING_SELECT} WHERE b.slot_id = $1 AND b.user_id = $2 AND b.status = 'booked'"),
            vec![PgValue::Uuid(slot.as_uuid()), PgValue::Uuid(user.as_uuid())],
            decode_amenity_booking,
        )
        .await
    }
    async fn live_bookings_of_amenity(&self, amenity: AmenityId, from: Timestamp) -> StoreResult<Vec<AmenityBooking>> {
        let rows = self
            .fetch(
                &format!(
                    "{AMENITY_BOOKING_SELECT} JOIN amenity_slots s ON s.id = b.slot_id
                     WHERE b.amenity_id = $1 AND b.status = 'booked' AND s.starts_at >= $2 ORDER BY s.starts_at, b.id"
                ),
                vec![PgValue::Uuid(amenity.as_uuid()), PgValue::Ts(from.as_datetime())],
                decode_amenity_booking,
            )
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    async fn count_live_bookings(&self, slot: SlotId) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM amenity_bookings WHERE slot_id = $1 AND status = 'booked'")
                .bind(slot.as_uuid())
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl CanteenStore for PgStore {
    async fn menu_items(&self, ids: &[MenuItemId]) -> StoreResult<Vec<Versioned<MenuItem>>> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        self.fetch(&format!("{MENU_SELECT} WHERE id = ANY($1)"), vec![PgValue::UuidArray(ids)], decode_menu_item).await
    }
    async fn menu_of(&self, date: chrono::NaiveDate) -> StoreResult<Vec<MenuItem>> {
        let rows = self
            .fetch(
                &format!("{MENU_SELECT} WHERE date = $1 ORDER BY name, id"),
                vec![PgValue::Date(date)],
                decode_menu_item,
            )
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
    async fn order(&self, id: OrderId) -> StoreResult<Option<Versioned<Order>>> {
        self.fetch_one(&format!("{ORDER_SELECT} WHERE id = $1"), vec![PgValue::Uuid(id.as_uuid())], decode_order).await
    }
    async fn count_orders_since(&self, user: UserId, since: Timestamp) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM canteen_orders WHERE user_id = $1 AND created_at >= $2")
            .bind(user.as_uuid())
            .bind(since.as_datetime())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
    async fn resident_room(&self, user: UserId) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT room FROM resident_rooms WHERE user_id = $1")
            .bind(user.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)
    }
    async fn open_orders(&self, date: chrono::NaiveDate) -> StoreResult<Vec<Order>> {
        let rows = self
            .fetch(
                &format!(
                    "{ORDER_SELECT} WHERE date = $1 AND status NOT IN ('completed', 'cancelled') ORDER BY room, created_at, id"
                ),
                vec![PgValue::Date(date)],
                decode_order,
            )
            .await?;
        Ok(rows.into_iter().map(|v| v.value).collect())
    }
}

#[async_trait]
impl RoomStore for PgStore {
    async fn room(&self, id: RoomId) -> StoreResult<Option<Versioned<Room>>> {
        self.fetch_one(&format!("{ROOM_SELECT} WHERE id = $1"), vec![PgValue::Uuid(id.as_uuid())], decode_room).await
    }
    async fn reservation(&self, id: ReservationId) -> StoreResult<Option<Versioned<BedReservation>>> {
        self.fetch_one(
            &format!("{RESERVATION_SELECT} WHERE id = $1"),
            vec![PgValue::Uuid(id.as_uuid())],
            decode_reservation,
        )
        .await
    }
    async fn live_reservation(&self, user: UserId) -> StoreResult<Option<Versioned<BedReservation>>> {
        self.fetch_one(
            &format!("{RESERVATION_SELECT} WHERE user_id = $1 AND status IN ('held', 'confirmed')"),
            vec![PgValue::Uuid(user.as_uuid())],
            decode_reservation,
        )
        .await
    }
    async fn lapsed_reservations(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Versioned<BedReservation>>> {
        self.fetch(
            &format!(
                "{RESERVATION_SELECT} WHERE status = 'held' AND expires_at <= $1 ORDER BY expires_at, id LIMIT $2"
            ),
            vec![PgValue::Ts(now.as_datetime()), PgValue::I64(i64::from(limit))],
            decode_reservation,
        )
        .await
    }
    async fn count_live_reservations(&self, room: RoomId) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM bed_reservations WHERE room_id = $1 AND status IN ('held', 'confirmed')",
        )
        .bind(room.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl KhedmaStore for PgStore {
    async fn job_request(&self, id: JobRequestId) -> StoreResult<Option<Versioned<JobRequest>>> {
        self.fetch_one(
            &format!("{JOB_REQUEST_SELECT} WHERE id = $1"),
            vec![PgValue::Uuid(id.as_uuid())],
            decode_job_request,
        )
        .await
    }
    async fn quotes_for(&self, request: JobRequestId) -> StoreResult<Vec<Versioned<Quote>>> {
        self.fetch(
            &format!("{QUOTE_SELECT} WHERE request_id = $1 ORDER BY created_at, id"),
            vec![PgValue::Uuid(request.as_uuid())],
            decode_quote,
        )
        .await
    }
    async fn booking(&self, id: BookingId) -> StoreResult<Option<Versioned<Booking>>> {
        self.fetch_one(&format!("{BOOKING_SELECT} WHERE id = $1"), vec![PgValue::Uuid(id.as_uuid())], decode_booking)
            .await
    }
}
