//! The one-statement commit: a whole change set as a single SQL statement of data-modifying CTEs,
//! sent in autocommit — atomic by itself, one round trip whatever the change set holds.
//!
//! Inserts fail on their unique keys; versioned updates, balance and counter deltas are checked by
//! `hearth_assert` in the final `SELECT` (a stale version or an inactive account aborts the whole
//! statement); CHECK constraints guard the counters. Errors map back onto the store contract by table
//! and constraint name. A change set that writes one row twice (data-modifying CTEs cannot see each
//! other's effects) is left to the transaction path.

use crate::codec::*;
use hearth_core::ledger::model::{AccountId, Balance, Transfer};
use hearth_core::store::{ChangeSet, EntityKind, Expect, StoreError, StoreResult, Write};
use sqlx::postgres::PgPool;
use std::collections::HashSet;

/// The table, entity kind, columns (primary key first) and expectation of an entity write.
pub(crate) type EntityWrite = (&'static str, EntityKind, Vec<(&'static str, PgValue)>, Expect);

/// The row-shaped writes; `None` for the others (deltas, appends, upserts).
pub(crate) fn entity_write(w: &Write) -> Option<StoreResult<EntityWrite>> {
    let ok = |t: &'static str, k: EntityKind, c: Vec<(&'static str, PgValue)>, e: &Expect| Some(Ok((t, k, c, *e)));
    match w {
        Write::Profile { value, expect } => ok("profiles", EntityKind::Profile, profile_cols(value), expect),
        Write::CivilianProfile { value, expect } => {
            ok("civilian_profiles", EntityKind::CivilianProfile, civilian_cols(value), expect)
        }
        Write::HeroProfile { value, expect } => {
            Some(hero_cols(value).map(|c| ("hero_profiles", EntityKind::HeroProfile, c, *expect)))
        }
        Write::ServiceRequest { value, expect } => {
            ok("service_requests", EntityKind::ServiceRequest, request_cols(value), expect)
        }
        Write::JobInterest { value, expect } => {
            ok("job_interest", EntityKind::JobInterest, interest_cols(value), expect)
        }
        Write::LedgerAccount { value, expect } => {
            ok("ledger_accounts", EntityKind::LedgerAccount, account_cols(value), expect)
        }
        Write::PaymentIntent { value, expect } => {
            ok("payment_intents", EntityKind::PaymentIntent, intent_cols(value), expect)
        }
        Write::Amenity { value, expect } => {
            Some(amenity_cols(value).map(|c| ("amenities", EntityKind::Amenity, c, *expect)))
        }
        Write::Slot { value, expect } => {
            Some(slot_cols(value).map(|c| ("amenity_slots", EntityKind::AmenitySlot, c, *expect)))
        }
        Write::AmenityBooking { value, expect } => {
            ok("amenity_bookings", EntityKind::AmenityBooking, amenity_booking_cols(value), expect)
        }
        Write::MenuItem { value, expect } => {
            ok("canteen_menu_items", EntityKind::MenuItem, menu_item_cols(value), expect)
        }
        Write::Order { value, expect } => {
            Some(order_cols(value).map(|c| ("canteen_orders", EntityKind::Order, c, *expect)))
        }
        Write::Room { value, expect } => Some(room_cols(value).map(|c| ("rooms", EntityKind::Room, c, *expect))),
        Write::BedReservation { value, expect } => {
            ok("bed_reservations", EntityKind::BedReservation, reservation_cols(value), expect)
        }
        Write::JobRequest { value, expect } => {
            ok("khedma_requests", EntityKind::JobRequest, job_request_cols(value), expect)
        }
        Write::Quote { value, expect } => ok("khedma_quotes", EntityKind::Quote, quote_cols(value), expect),
        Write::Booking { value, expect } => ok("khedma_bookings", EntityKind::Booking, booking_cols(value), expect),
        Write::AccountDelta { .. }
        | Write::SlotDelta { .. }
        | Write::RoomDelta { .. }
        | Write::Transfer(_)
        | Write::PaymentConfirmation(_)
        | Write::ResidentRoom { .. } => None,
    }
}

/// The entity a table holds (for `AlreadyExists` and conflicts reported by the database).
pub(crate) fn kind_of_table(table: &str) -> EntityKind {
    match table {
        "profiles" => EntityKind::Profile,
        "civilian_profiles" => EntityKind::CivilianProfile,
        "hero_profiles" => EntityKind::HeroProfile,
        "service_requests" => EntityKind::ServiceRequest,
        "job_interest" => EntityKind::JobInterest,
        "ledger_accounts" => EntityKind::LedgerAccount,
        "payment_intents" | "payment_confirmations" => EntityKind::PaymentIntent,
        "amenities" => EntityKind::Amenity,
        "amenity_slots" => EntityKind::AmenitySlot,
        "amenity_bookings" => EntityKind::AmenityBooking,
        "canteen_menu_items" => EntityKind::MenuItem,
        "canteen_orders" => EntityKind::Order,
        "rooms" => EntityKind::Room,
        "bed_reservations" => EntityKind::BedReservation,
        "khedma_requests" => EntityKind::JobRequest,
        "khedma_quotes" => EntityKind::Quote,
        "khedma_bookings" => EntityKind::Booking,
        _ => EntityKind::LedgerTransfer,
    }
}

/// Constraints that guard counters: a breach means "decide again on fresh data".
fn is_guard(constraint: &str) -> bool {
    constraint.starts_with("ledger_accounts_")
        || constraint == "amenity_slots_capacity"
        || constraint == "rooms_reserved_within_beds"
}

struct Stmt {
    args: Vec<PgValue>,
    ctes: Vec<String>,
    asserts: Vec<String>,
}

impl Stmt {
    fn p(&mut self, v: PgValue) -> String {
        self.args.push(v);
        format!("${}", self.args.len())
    }
    fn cte(&mut self, body: String) -> String {
        let name = format!("w{}", self.ctes.len());
        self.ctes.push(format!("{name} AS ({body})"));
        name
    }
    /// Adds a checked update: exactly one row must match, else the statement aborts with `guard`.
    fn checked(&mut self, body: String, guard: String) {
        let name = self.cte(format!("{body} RETURNING 1"));
        self.asserts.push(format!("hearth_assert((SELECT count(*) FROM {name}) = 1, '{guard}')"));
    }
    fn values(&mut self, rows: Vec<Vec<PgValue>>) -> String {
        let rows: Vec<String> = rows
            .into_iter()
            .map(|row| {
                let cells: Vec<String> = row.into_iter().map(|v| self.p(v)).collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        rows.join(", ")
    }
}

fn transfer_row(t: &Transfer) -> StoreResult<Vec<PgValue>> {
    let timeout = i32::try_from(t.timeout_secs).map_err(|_| StoreError::Backend { message: "timeout".into() })?;
    Ok(vec![
        PgValue::Uuid(t.id.as_uuid()),
        PgValue::Uuid(t.debit_account_id.as_uuid()),
        PgValue::Uuid(t.credit_account_id.as_uuid()),
        PgValue::I64(t.amount),
        PgValue::Text(t.currency.code().into()),
        PgValue::Text(t.kind.as_str().into()),
        PgValue::OptUuid(t.pending_id.map(|x| x.as_uuid())),
        PgValue::I32(timeout),
        PgValue::OptTs(t.expires_at.map(|e| e.as_datetime())),
        PgValue::Bool(t.linked),
        PgValue::Text(t.code.as_str().into()),
        PgValue::OptText(t.reference.clone()),
        PgValue::Text(t.result.as_str()),
        PgValue::Text(t.actor.clone()),
        PgValue::Ts(t.created_at.as_datetime()),
    ])
}

/// Builds the statement, or `None` when the change set writes one row twice.
fn build(changes: &ChangeSet) -> Option<StoreResult<Stmt>> {
    let mut s = Stmt { args: Vec::new(), ctes: Vec::new(), asserts: Vec::new() };
    let mut rows_written: HashSet<(&'static str, String)> = HashSet::new();
    let mut transfers = Vec::new();
    let mut deltas: Vec<(AccountId, Balance, bool)> = Vec::new();
    for w in &changes.writes {
        if let Some(ew) = entity_write(w) {
            let (table, kind, cols, expect) = match ew {
                Ok(x) => x,
                Err(e) => return Some(Err(e)),
            };
            let key = cols.first().map(|(_, v)| format!("{v:?}")).unwrap_or_default();
            if !rows_written.insert((table, key)) {
                return None;
            }
            let next = match version_i64(expect.next_version()) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            match expect {
                Expect::Absent => {
                    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
                    let mut row: Vec<PgValue> = cols.into_iter().map(|(_, v)| v).collect();
                    row.push(PgValue::I64(next));
                    let values = s.values(vec![row]);
                    s.cte(format!("INSERT INTO {table} ({}, version) VALUES {values}", names.join(", ")));
                }
                Expect::Version(v) => {
                    let mut iter = cols.into_iter();
                    let (id_name, id_value) = iter.next()?;
                    let sets: Vec<String> = iter.map(|(c, val)| format!("{c} = {}", s.p(val))).collect();
                    let next = s.p(PgValue::I64(next));
                    let id = s.p(id_value);
                    let expected = match version_i64(v) {
                        Ok(v) => s.p(PgValue::I64(v)),
                        Err(e) => return Some(Err(e)),
                    };
                    s.checked(
                        format!(
                            "UPDATE {table} SET {}, version = {next} WHERE {id_name} = {id} AND version = {expected}",
                            sets.join(", ")
                        ),
                        format!("version:{}", kind.as_str()),
                    );
                }
            }
            continue;
        }
        match w {
            Write::Transfer(t) => transfers.push(t),
            Write::AccountDelta { account, delta, require_active } => {
                if deltas.iter().any(|(a, _, _)| a == account) {
                    return None;
                }
                deltas.push((*account, *delta, *require_active));
            }
            Write::SlotDelta { slot, booked } => {
                if !rows_written.insert(("amenity_slots", format!("{:?}", PgValue::Uuid(slot.as_uuid())))) {
                    return None;
                }
                let (d, id) = (s.p(PgValue::I32(*booked)), s.p(PgValue::Uuid(slot.as_uuid())));
                s.checked(
                    format!("UPDATE amenity_slots SET booked = booked + {d}, version = version + 1 WHERE id = {id}"),
                    "exists:amenity_slot".into(),
                );
            }
            Write::RoomDelta { room, reserved } => {
                if !rows_written.insert(("rooms", format!("{:?}", PgValue::Uuid(room.as_uuid())))) {
                    return None;
                }
                let (d, id) = (s.p(PgValue::I32(*reserved)), s.p(PgValue::Uuid(room.as_uuid())));
                s.checked(
                    format!("UPDATE rooms SET reserved = reserved + {d}, version = version + 1 WHERE id = {id}"),
                    "exists:room".into(),
                );
            }
            Write::PaymentConfirmation(c) => {
                let status =
                    serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                let values = s.values(vec![vec![
                    PgValue::Text(c.gateway.as_str().into()),
                    PgValue::Text(c.provider_txn_id.clone()),
                    PgValue::OptUuid(c.intent_id.map(|i| i.as_uuid())),
                    PgValue::I64(c.amount_minor),
                    PgValue::OptText(c.currency.map(|c| c.code().to_owned())),
                    PgValue::Text(status),
                    PgValue::Text(c.outcome.as_str().into()),
                    PgValue::OptUuid(c.transfer_id.map(|t| t.as_uuid())),
                    PgValue::Ts(c.received_at.as_datetime()),
                ]]);
                s.cte(format!(
                    "INSERT INTO payment_confirmations (gateway, provider_txn_id, intent_id, amount_minor, currency, status,
                         outcome, transfer_id, received_at) VALUES {values}"
                ));
            }
            Write::ResidentRoom { user, room } => {
                let values = s.values(vec![vec![PgValue::Uuid(user.as_uuid()), PgValue::Text(room.clone())]]);
                s.cte(format!(
                    "INSERT INTO resident_rooms (user_id, room) VALUES {values}
                     ON CONFLICT (user_id) DO UPDATE SET room = EXCLUDED.room"
                ));
            }
            _ => {}
        }
    }
    if !transfers.is_empty() {
        let mut rows = Vec::new();
        for t in transfers {
            match transfer_row(t) {
                Ok(r) => rows.push(r),
                Err(e) => return Some(Err(e)),
            }
        }
        let values = s.values(rows);
        s.cte(format!(
            "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, pending_id,
                 timeout_secs, expires_at, linked, code, reference, result, actor, created_at) VALUES {values}"
        ));
    }
    if !deltas.is_empty() {
        deltas.sort_by_key(|(a, _, _)| *a);
        let n = deltas.len();
        let rows: Vec<String> = deltas
            .iter()
            .map(|(a, d, active)| {
                format!(
                    "({}::uuid, {}::bigint, {}::bigint, {}::bigint, {}::bigint, {}::boolean)",
                    s.p(PgValue::Uuid(a.as_uuid())),
                    s.p(PgValue::I64(d.debits_pending)),
                    s.p(PgValue::I64(d.debits_posted)),
                    s.p(PgValue::I64(d.credits_pending)),
                    s.p(PgValue::I64(d.credits_posted)),
                    s.p(PgValue::Bool(*active)),
                )
            })
            .collect();
        // Concurrent commits must lock accounts in one order (account id) or they deadlock, and a
        // deadlock costs `deadlock_timeout` (1 s) before the retry. The rows are listed in id order.
        // For two rows Postgres updates the VALUES list in list order; for more it may hash-join and
        // lock in heap order, so there an explicit `FOR UPDATE` in id order comes first (measured:
        // without it, linked batches of 100 fell from ~23k to ~0.5k transfers/s). Either way a
        // deadlock is only slow, never wrong: it becomes a version conflict and a retry.
        let (locked_cte, locked_join) = if n > 2 {
            (
                "locked AS (SELECT a.id FROM ledger_accounts a JOIN v USING (id) ORDER BY a.id FOR UPDATE OF a),",
                "JOIN locked USING (id)",
            )
        } else {
            ("", "")
        };
        s.ctes.push(format!(
            "v (id, dp, dpo, cp, cpo, active) AS (VALUES {}), {locked_cte}
             upd AS (UPDATE ledger_accounts a SET debits_pending = a.debits_pending + v.dp,
                         debits_posted = a.debits_posted + v.dpo, credits_pending = a.credits_pending + v.cp,
                         credits_posted = a.credits_posted + v.cpo, version = a.version + 1
                     FROM v {locked_join}
                     WHERE a.id = v.id AND (NOT v.active OR (NOT a.frozen AND NOT a.closed))
                     RETURNING a.id)",
            rows.join(", ")
        ));
        s.asserts.push(format!("hearth_assert((SELECT count(*) FROM upd) = {n}, 'active:ledger_account')"));
    }
    if !changes.audit.is_empty() {
        let mut rows = Vec::new();
        for a in &changes.audit {
            let version = match version_i64(a.version) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            rows.push(vec![
                PgValue::Uuid(a.id.as_uuid()),
                PgValue::Text(a.entity.kind.as_str().into()),
                PgValue::Uuid(a.entity.id),
                PgValue::Text(a.action.clone()),
                PgValue::Text(a.actor.clone()),
                PgValue::OptJson(a.before.clone()),
                PgValue::Json(a.after.clone()),
                PgValue::I64(version),
                PgValue::Ts(a.at.as_datetime()),
            ]);
        }
        let values = s.values(rows);
        s.cte(format!(
            "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at) VALUES {values}"
        ));
    }
    if !changes.events.is_empty() {
        let rows: Vec<Vec<PgValue>> = changes
            .events
            .iter()
            .map(|e| {
                vec![
                    PgValue::Uuid(e.id.as_uuid()),
                    PgValue::Text(e.topic.clone()),
                    PgValue::Text(e.entity.kind.as_str().into()),
                    PgValue::Uuid(e.entity.id),
                    PgValue::Json(e.payload.clone()),
                    PgValue::UuidArray(e.audience.iter().map(|u| u.as_uuid()).collect()),
                    PgValue::Ts(e.at.as_datetime()),
                ]
            })
            .collect();
        let values = s.values(rows);
        s.cte(format!("INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at) VALUES {values}"));
    }
    if let Some(k) = &changes.idempotency {
        let values = s.values(vec![vec![
            PgValue::Text(k.scope.clone()),
            PgValue::Text(k.key.clone()),
            PgValue::Text(k.command.clone()),
            PgValue::Text(k.fingerprint.clone()),
            PgValue::Json(k.response.clone()),
            PgValue::Ts(k.at.as_datetime()),
        ]]);
        s.cte(format!("INSERT INTO idempotency_keys (scope, key, command, fingerprint, response, at) VALUES {values}"));
    }
    if let Some(a) = &changes.client_action {
        let seq = match i64::try_from(a.seq) {
            Ok(seq) => seq,
            Err(_) => return Some(Err(StoreError::Constraint { name: "client_actions_seq_positive".into() })),
        };
        let values = s.values(vec![vec![
            PgValue::Uuid(a.client_id.as_uuid()),
            PgValue::I64(seq),
            PgValue::Text(a.principal.clone()),
            PgValue::Text(a.action.clone()),
            PgValue::Text(a.fingerprint.clone()),
            PgValue::Json(a.outcome.clone()),
            PgValue::Ts(a.at.as_datetime()),
        ]]);
        s.cte(format!(
            "INSERT INTO client_actions (client_id, seq, principal, action, fingerprint, outcome, at) VALUES {values}"
        ));
    }
    if s.ctes.is_empty() {
        return None;
    }
    Some(Ok(s))
}

fn map_statement_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
        let constraint = d.constraint().unwrap_or_default().to_owned();
        let table = d.table().unwrap_or_default().to_owned();
        match code.as_str() {
            "23505" if table == "idempotency_keys" => return StoreError::IdempotencyKeyTaken,
            "23505" if table == "client_actions" => return StoreError::ClientSeqTaken,
            "23505" => return StoreError::AlreadyExists { entity: kind_of_table(&table) },
            "23514" => {
                if let Some(kind) = constraint.strip_prefix("version:") {
                    let entity = EntityKind::parse(kind).unwrap_or(EntityKind::LedgerTransfer);
                    return StoreError::VersionConflict { entity };
                }
                if let Some(kind) = constraint.strip_prefix("active:").or_else(|| constraint.strip_prefix("exists:")) {
                    let entity = EntityKind::parse(kind).unwrap_or(EntityKind::LedgerAccount);
                    return StoreError::GuardFailed { entity, guard: constraint.clone() };
                }
                if is_guard(&constraint) {
                    return StoreError::GuardFailed { entity: kind_of_table(&table), guard: constraint };
                }
            }
            // A deadlock or serialization failure: the commit can be decided again.
            "40P01" | "40001" => return StoreError::VersionConflict { entity: kind_of_table(&table) },
            _ => {}
        }
    }
    map_err(e)
}

/// Commits `changes` as one statement, or returns `None` when they must take the transaction path.
pub(crate) async fn commit(pool: &PgPool, changes: &ChangeSet) -> Option<StoreResult<()>> {
    let stmt = match build(changes)? {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let check = if stmt.asserts.is_empty() { "1".to_owned() } else { stmt.asserts.join(" + ") };
    let sql = format!("WITH {} SELECT {check}", stmt.ctes.join(",\n"));
    // Safe: built from static table/column names and `$n` placeholders; every value is bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in stmt.args {
        q = bind(q, a);
    }
    Some(q.execute(pool).await.map(|_| ()).map_err(map_statement_err))
}
