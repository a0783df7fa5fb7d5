//! SQLite throughput: single-command commits per second through hearth's embedded store, next to a
//! raw rusqlite loop writing the same rows to the same tables of the same file, in one run.
//!
//! ```text
//! scripts/bench.sh sqlite 5 8          # release build; no server needed
//! cargo run --release -p hearth-examples --bin sqlite-bench -- [seconds] [clients] [rows]
//! ```
//!
//! Three commands, each one commit: an amenity booking (`Amenities::book`, many slots), a ledger
//! transfer between two of 1,000 wallets (`CreateTransfers` of one transfer) and a HomeHeroes service
//! request (`HomeHeroes::create_service_request`, with its rate-limit take). hearth runs them from
//! `clients` concurrent tasks; the raw loop runs them from one thread on one connection — SQLite
//! has one writer — each as `BEGIN IMMEDIATE`, its read, its hand-written inserts and updates
//! (the entity, the counter or balances, the audit record and the outbox event with JSON texts of
//! the same shape, the rate-limit bucket), `COMMIT`. `rows` pre-fills the booking, audit and outbox
//! tables with that many rows first (the scale curve: does cost grow with table size?).
//! This is a benchmark, not a test: it asserts nothing about time.

use hearth_core::amenities::{Amenities, AmenityBooking};
use hearth_core::homeheroes::model::ProfileRole;
use hearth_core::homeheroes::HomeHeroes;
use hearth_core::id::{SlotId, UserId};
use hearth_core::ledger::model::{AccountId, TransferResult};
use hearth_core::ledger::Ledger;
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::testing::verified_transfers;
use hearth_core::{Actor, Clock, Role};
use hearth_examples::bench::{drive, ledger_wallets, many_slots, raw_loop, Rng};
use hearth_sqlite::SqliteStore;
use rusqlite::{params, Connection, OptionalExtension};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// Civilians posting requests: the seed allows each 5 a minute, so a run needs many.
const CIVILIANS: usize = 40_000;

fn text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn micros() -> i64 {
    SystemClock.now().unix_micros()
}

/// One of hearth's own rows of `sql` (a JSON text), used as the raw loop's template with `old`
/// replaced by each new id, so the raw side writes texts of the same size and builds each one.
fn template(c: &Connection, sql: &str) -> Result<String, String> {
    c.query_row(sql, [], |r| r.get::<_, String>(0)).map_err(|e| format!("{sql}: {e}"))
}

/// Pre-fills bookings, audit records and outbox events up to `rows` each (scale curve).
fn prefill(c: &Connection, rows: u64) -> Result<(), String> {
    if rows == 0 {
        return Ok(());
    }
    let slot: String =
        c.query_row("SELECT id FROM amenity_slots LIMIT 1", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    let amenity: String =
        c.query_row("SELECT amenity_id FROM amenity_slots LIMIT 1", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    c.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
    {
        let mut b = c
            .prepare(
                "INSERT INTO amenity_bookings (id, slot_id, amenity_id, user_id, status, created_at, updated_at, version)
                 VALUES (?, ?, ?, ?, 'cancelled', 0, 0, 1)",
            )
            .map_err(|e| e.to_string())?;
        let mut a = c
            .prepare(
                "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
                 VALUES (?, 'amenities.booking', ?, 'prefill', 'system', NULL, '{}', 1, 0)",
            )
            .map_err(|e| e.to_string())?;
        let mut o = c
            .prepare(
                "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at, readers)
                 VALUES (?, 'prefill', 'amenities.booking', ?, '{}', '[]', 0, NULL)",
            )
            .map_err(|e| e.to_string())?;
        for _ in 0..rows {
            let id = text(Uuid::new_v4());
            b.execute(params![id, slot, amenity, text(Uuid::new_v4())]).map_err(|e| e.to_string())?;
            a.execute(params![text(Uuid::new_v4()), id]).map_err(|e| e.to_string())?;
            o.execute(params![text(Uuid::new_v4()), id]).map_err(|e| e.to_string())?;
        }
    }
    c.execute_batch("COMMIT").map_err(|e| e.to_string())
}

/// The raw booking: read the slot with its amenity, insert the seat, count it, audit it, emit it.
fn raw_book(c: &Connection, slot: &str, audit: &str, event: &str, old: &str) -> rusqlite::Result<()> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    let (amenity, capacity, booked): (String, i64, i64) = c
        .prepare_cached(
            "SELECT s.amenity_id, s.capacity, s.booked, s.version, a.status, a.name, a.time_zone FROM amenity_slots s
             JOIN amenities a ON a.id = s.amenity_id WHERE s.id = ?",
        )?
        .query_row([slot], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    if booked >= capacity {
        return c.execute_batch("ROLLBACK");
    }
    let (id, user, now) = (text(Uuid::new_v4()), text(Uuid::new_v4()), micros());
    c.prepare_cached(
        "INSERT INTO amenity_bookings (id, slot_id, amenity_id, user_id, status, created_at, updated_at, version)
         VALUES (?, ?, ?, ?, 'booked', ?, ?, 1)",
    )?
    .execute(params![id, slot, amenity, user, now, now])?;
    c.prepare_cached("UPDATE amenity_slots SET booked = booked + 1, version = version + 1 WHERE id = ?")?
        .execute([slot])?;
    c.prepare_cached(
        "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
         VALUES (?, 'amenities.booking', ?, 'create', ?, NULL, ?, 1, ?)",
    )?
    .execute(params![text(Uuid::new_v4()), id, user, audit.replace(old, &id), now])?;
    c.prepare_cached(
        "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at, readers)
         VALUES (?, 'amenities.booking.create', 'amenities.booking', ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        text(Uuid::new_v4()),
        id,
        event.replace(old, &id),
        format!("[\"{user}\"]"),
        now,
        format!("{{\"users\":[\"{user}\"],\"roles\":[\"amenity_manager\"],\"signed_in\":false}}")
    ])?;
    c.execute_batch("COMMIT")
}

/// The raw transfer: read both accounts, insert the transfer, move both balances, emit it.
fn raw_transfer(
    c: &Connection,
    debit: &str,
    credit: &str,
    event: &str,
    old: &str,
    readers: &str,
) -> rusqlite::Result<()> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    let mut read = c.prepare_cached(
        "SELECT id, kind, currency, debits_must_not_exceed_credits, frozen, closed, debits_pending, debits_posted,
                credits_pending, credits_posted, version, history FROM ledger_accounts WHERE id IN (?, ?)",
    )?;
    let n = read.query_map([debit, credit], |r| r.get::<_, String>(0))?.count();
    if n != 2 {
        return c.execute_batch("ROLLBACK");
    }
    let (id, now) = (text(Uuid::new_v4()), micros());
    c.prepare_cached(
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, timeout_secs,
             linked, code, result, actor, created_at)
         VALUES (?, ?, ?, 1, 'INR', 'single', 0, 0, 'top_up', 'ok', 'system', ?)",
    )?
    .execute(params![id, debit, credit, now])?;
    let mut debit_step = c.prepare_cached(
        "UPDATE ledger_accounts SET debits_posted = debits_posted + 1, version = version + 1
         WHERE id = ? AND (debits_must_not_exceed_credits = 0 OR debits_posted + debits_pending + 1 <= credits_posted)",
    )?;
    debit_step.execute([debit])?;
    c.prepare_cached(
        "UPDATE ledger_accounts SET credits_posted = credits_posted + 1, version = version + 1 WHERE id = ?",
    )?
    .execute([credit])?;
    c.prepare_cached(
        "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at, readers)
         VALUES (?, 'ledger.transfer.applied', 'ledger.transfer', ?, ?, '[]', ?, ?)",
    )?
    .execute(params![text(Uuid::new_v4()), id, event.replace(old, &id), now, readers])?;
    c.execute_batch("COMMIT")
}

/// The raw service request: read the bucket and the profile, insert the request, take the bucket,
/// audit it, emit it.
#[allow(clippy::too_many_arguments)]
fn raw_request(
    c: &Connection,
    civilian: &str,
    audit: &str,
    event: &str,
    old: &str,
    readers: &str,
    old_user: &str,
) -> rusqlite::Result<()> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    let bucket = format!("requests:{civilian}");
    let _tat: Option<i64> = c
        .prepare_cached("SELECT tat_us FROM rate_limit_buckets WHERE id = ?")?
        .query_row([&bucket], |r| r.get(0))
        .optional()?;
    let role: Option<String> =
        c.prepare_cached("SELECT role FROM profiles WHERE id = ?")?.query_row([civilian], |r| r.get(0)).optional()?;
    if role.as_deref() != Some("civilian") {
        return c.execute_batch("ROLLBACK");
    }
    let (id, now) = (text(Uuid::new_v4()), micros());
    c.prepare_cached(
        "INSERT INTO service_requests (id, civilian_id, hero_id, title, description, category, address, city, state,
             zip_code, latitude, longitude, scheduled_at, estimated_duration_hours, currency, budget_min, budget_max,
             status, created_at, updated_at, version)
         VALUES (?, ?, NULL, 'Fix the kitchen sink', 'The kitchen sink leaks under the cabinet.', 'repairs',
             '12 Elm Street', 'Springfield', 'IL', '62701', 39.7817, -89.6501, ?, 2, 'USD', 5000, 12000, 'pending', ?, ?, 1)",
    )?
    .execute(params![id, civilian, now + 86_400_000_000, now, now])?;
    c.prepare_cached(
        "INSERT INTO rate_limit_buckets (id, policy, tat_us, version) VALUES (?, 'homeheroes.requests', ? + 12000000, 1)
         ON CONFLICT (id) DO UPDATE SET tat_us = max(tat_us, ?) + 12000000, version = version + 1
         WHERE max(tat_us, ?) + 12000000 - ? <= 60000000",
    )?
    .execute(params![bucket, now, now, now, now])?;
    c.prepare_cached(
        "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
         VALUES (?, 'homeheroes.service_request', ?, 'create', ?, NULL, ?, 1, ?)",
    )?
    .execute(params![text(Uuid::new_v4()), id, civilian, audit.replace(old, &id), now])?;
    c.prepare_cached(
        "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at, readers)
         VALUES (?, 'homeheroes.service_request.create', 'homeheroes.service_request', ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        text(Uuid::new_v4()),
        id,
        event.replace(old, &id),
        format!("[\"{civilian}\"]"),
        now,
        readers.replace(old_user, civilian)
    ])?;
    c.execute_batch("COMMIT")
}

struct Row {
    name: &'static str,
    hearth: f64,
    raw: f64,
}

async fn bench(secs: u64, clients: usize, rows: u64) -> Result<(), String> {
    println!(
        "hearth SQLite benchmark: {secs} s per scenario, {clients} concurrent clients (raw: 1 thread), {rows} rows pre-filled\n"
    );
    let dir = std::env::temp_dir().join(format!("hearth-sqlite-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("bench.db");
    let store = SqliteStore::open(&path).await.map_err(|e| e.to_string())?;
    let (clock, ids) = (Arc::new(SystemClock), Arc::new(RandomIds));
    let amenities = Amenities::new(store.clone(), clock.clone(), ids.clone());
    let ledger = Ledger::new(store.clone(), clock.clone(), ids.clone());
    let hh = HomeHeroes::new(store.clone(), clock, ids);
    let slots: Arc<Vec<SlotId>> = Arc::new(many_slots(&amenities).await?);
    let wallets: Arc<Vec<AccountId>> = Arc::new(ledger_wallets(&ledger).await?.0);
    let civilians: Arc<Vec<UserId>> = Arc::new({
        let mut v = Vec::with_capacity(CIVILIANS);
        for _ in 0..CIVILIANS {
            let id = UserId::generate(&RandomIds);
            hh.ensure_profile(&Actor::user(id, [Role::Civilian]), id, ProfileRole::Civilian)
                .await
                .map_err(|e| e.to_string())?;
            v.push(id);
        }
        v
    });
    let raw = Connection::open(&path).map_err(|e| e.to_string())?;
    raw.pragma_update(None, "synchronous", "NORMAL").map_err(|e| e.to_string())?;
    raw.pragma_update(None, "foreign_keys", "ON").map_err(|e| e.to_string())?;
    prefill(&raw, rows)?;

    let mut table = Vec::new();

    // Booking.
    let hearth = {
        let (svc, slots) = (amenities.clone(), slots.clone());
        drive(clients, secs, move |_c, rng| {
            let slot = slots[rng.next(slots.len())];
            let svc = svc.clone();
            async move {
                let resident = Actor::user(UserId::generate(&RandomIds), [Role::Resident]);
                let _: AmenityBooking = svc.book(&resident, slot).await.map_err(|e| e.to_string())?;
                Ok(1)
            }
        })
        .await?
    };
    let old: String = raw
        .query_row(
            "SELECT entity_id FROM audit_log WHERE entity_kind = 'amenities.booking' AND action = 'create' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    let audit = template(&raw, &format!("SELECT after FROM audit_log WHERE entity_id = '{old}'"))?;
    let event = template(&raw, &format!("SELECT payload FROM outbox WHERE entity_id = '{old}'"))?;
    let slot_texts: Vec<String> = slots.iter().map(|s| text(s.as_uuid())).collect();
    let mut rng = Rng::for_client(99);
    let raw_rate = raw_loop(secs, || raw_book(&raw, &slot_texts[rng.next(slot_texts.len())], &audit, &event, &old))?;
    table.push(Row { name: "book (amenity slot, many slots)", hearth, raw: raw_rate });

    // Transfer.
    let hearth = {
        let (ledger, wallets) = (ledger.clone(), wallets.clone());
        drive(clients, secs, move |_c, rng| {
            let a = rng.next(wallets.len());
            let b = (a + 1 + rng.next(wallets.len() - 1)) % wallets.len();
            let batch = vec![hearth_core::testing::ledger::transfer(
                wallets[a],
                wallets[b],
                1,
                hearth_core::ledger::model::TransferCode::TopUp,
            )];
            let ledger = ledger.clone();
            async move {
                let out = ledger.runner().execute(&Actor::System, None, &verified_transfers(batch)).await;
                let out = out.map_err(|e| e.to_string())?;
                Ok(out.iter().filter(|x| x.result == TransferResult::Ok).count() as u64)
            }
        })
        .await?
    };
    let old = template(
        &raw,
        "SELECT entity_id FROM outbox WHERE entity_kind = 'ledger.transfer' ORDER BY position DESC LIMIT 1",
    )?;
    let event = template(&raw, &format!("SELECT payload FROM outbox WHERE entity_id = '{old}'"))?;
    let readers = template(&raw, &format!("SELECT readers FROM outbox WHERE entity_id = '{old}'"))?;
    let wallet_texts: Vec<String> = wallets.iter().map(|w| text(w.as_uuid())).collect();
    let raw_rate = raw_loop(secs, || {
        let a = rng.next(wallet_texts.len());
        let b = (a + 1 + rng.next(wallet_texts.len() - 1)) % wallet_texts.len();
        raw_transfer(&raw, &wallet_texts[a], &wallet_texts[b], &event, &old, &readers)
    })?;
    table.push(Row { name: "transfer (ledger, 1,000 wallets)", hearth, raw: raw_rate });

    // Service request: each civilian posts at most 5 (the seed's limit per minute); the hearth run
    // takes civilians from the front, the raw loop from the back.
    let next = Arc::new(AtomicUsize::new(0));
    let input = {
        let mut i = hearth_core::samples::request_input();
        let when = SystemClock.now().checked_add(chrono::Duration::days(30)).ok_or("clock")?;
        i.scheduled_date = Some(when.to_string());
        i
    };
    let hearth = {
        let (hh, civilians, next) = (hh.clone(), civilians.clone(), next.clone());
        drive(clients, secs, move |_c, _rng| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let civilian = civilians[(n / 5) % (civilians.len() / 2)];
            let (hh, input) = (hh.clone(), input.clone());
            async move {
                hh.create_service_request(&Actor::user(civilian, [Role::Civilian]), input, None)
                    .await
                    .map_err(|e| format!("{e} (civilian {civilian}, request {n})"))?;
                Ok(1)
            }
        })
        .await?
    };
    let old: String =
        raw.query_row("SELECT id FROM service_requests LIMIT 1", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    let audit = template(&raw, &format!("SELECT after FROM audit_log WHERE entity_id = '{old}'"))?;
    let event = template(&raw, &format!("SELECT payload FROM outbox WHERE entity_id = '{old}'"))?;
    let readers = template(&raw, &format!("SELECT readers FROM outbox WHERE entity_id = '{old}'"))?;
    let old_user = template(&raw, &format!("SELECT civilian_id FROM service_requests WHERE id = '{old}'"))?;
    let civilian_texts: Vec<String> = civilians[civilians.len() / 2..].iter().map(|c| text(c.as_uuid())).collect();
    let mut n = 0usize;
    let raw_rate = raw_loop(secs, || {
        n += 1;
        raw_request(&raw, &civilian_texts[(n / 5) % civilian_texts.len()], &audit, &event, &old, &readers, &old_user)
    })?;
    table.push(Row { name: "create service request", hearth, raw: raw_rate });

    println!(
        "| command | hearth SQLite ({clients} clients, commits/s) | raw rusqlite loop (commits/s) | hearth / raw |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for r in &table {
        println!("| {} | {:.0} | {:.0} | {:.2} |", r.name, r.hearth, r.raw, r.hearth / r.raw);
    }
    drop(raw);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let secs = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let clients = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    let rows = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    match bench(secs, clients, rows).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sqlite-bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}
