//! Amenity booking throughput: bookings per second through hearth on SQLite and Postgres, next to the
//! seed's optimistic-locking SQL driven by `pgbench` against the same Postgres, in one run.
//!
//! ```text
//! scripts/bench.sh booking            # finds/starts Postgres, release build, prints the table
//! cargo run --release -p hearth-examples --bin booking-bench -- <postgres-url> [seconds] [clients]
//! ```
//!
//! Every booking is by a different resident (one seat per user per slot), on one hot slot or on a
//! random one of many. `BENCH_ROWS=n` first fills the Postgres tables a booking writes (bookings,
//! audit records, outbox events; the raw table of bookings too) with `n` rows each — the scale
//! curve: does a booking cost more in a bigger table? Slots are given a capacity no run can exhaust, so every attempt is a booking.
//! This is a benchmark, not a test: it asserts nothing about time.

use hearth_core::amenities::Amenities;
use hearth_core::id::{SlotId, UserId};
use hearth_core::store::Store;
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::{Actor, Role};
use hearth_examples::bench::{drive, main_with, many_slots, pgbench_tps, SLOTS};
use hearth_postgres::PgStore;
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::Arc;

/// The seed's optimistic booking (Viramah §9): read the version, `UPDATE … WHERE version = :read AND
/// booked_count < capacity`, retry on 0 rows, then insert the booking — run server-side in one
/// `DO` block, so the baseline pays one round trip per booking.
const RAW_SCRIPT: &str = r"\set s random(1, :nslots)
DO $$ DECLARE v integer; n integer; BEGIN
  FOR attempt IN 1..50 LOOP
    SELECT version INTO v FROM bench_raw.slots WHERE id = :s;
    UPDATE bench_raw.slots SET booked_count = booked_count + 1, version = version + 1
      WHERE id = :s AND version = v AND booked_count < capacity;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 1 THEN
      INSERT INTO bench_raw.bookings (slot_id, client) VALUES (:s, :client_id);
      RETURN;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'slot % too contended', :s;
END $$;
";

async fn run<S: Store + Clone + 'static>(
    svc: &Amenities<S>,
    slots: &Arc<Vec<SlotId>>,
    hot: bool,
    clients: usize,
    secs: u64,
) -> Result<f64, String> {
    let (svc, slots) = (svc.clone(), slots.clone());
    drive(clients, secs, move |_c, rng| {
        let slot = if hot { slots[0] } else { slots[rng.next(slots.len())] };
        let svc = svc.clone();
        async move {
            let resident = Actor::user(UserId::generate(&RandomIds), [Role::Resident]);
            svc.book(&resident, slot).await.map_err(|e| e.to_string())?;
            Ok(1)
        }
    })
    .await
}

/// Fills hearth's booking, audit and outbox tables with `rows` rows each (cancelled seats on one
/// slot, so no booking of the run collides with them).
async fn prefill(url: &str, slot: SlotId, rows: u64) -> Result<(), String> {
    if rows == 0 {
        return Ok(());
    }
    let pool = sqlx::PgPool::connect(url).await.map_err(|e| e.to_string())?;
    let n = i64::try_from(rows).map_err(|e| e.to_string())?;
    let slot = slot.as_uuid();
    for sql in [
        "INSERT INTO amenity_bookings (id, slot_id, amenity_id, user_id, status, created_at, updated_at, version)
         SELECT gen_random_uuid(), s.id, s.amenity_id, gen_random_uuid(), 'cancelled', now(), now(), 1
         FROM amenity_slots s, generate_series(1, $2) WHERE s.id = $1",
        "INSERT INTO audit_log (id, entity_kind, entity_id, action, actor, before, after, version, at)
         SELECT gen_random_uuid(), 'amenity_booking', gen_random_uuid(), 'prefill', 'system', NULL, '{}', 1, now()
         FROM generate_series(1, $2) WHERE $1::uuid IS NOT NULL",
        "INSERT INTO outbox (id, topic, entity_kind, entity_id, payload, audience, at)
         SELECT gen_random_uuid(), 'prefill', 'amenity_booking', gen_random_uuid(), '{}', '{}', now()
         FROM generate_series(1, $2) WHERE $1::uuid IS NOT NULL",
    ] {
        sqlx::query(sql).bind(slot).bind(n).execute(&pool).await.map_err(|e| e.to_string())?;
    }
    sqlx::query("ANALYZE").execute(&pool).await.map_err(|e| e.to_string())?;
    Ok(())
}

async fn raw_sql(url: &str, hot: bool, clients: usize, secs: u64, rows: u64) -> Result<f64, String> {
    let pool = sqlx::PgPool::connect(url).await.map_err(|e| e.to_string())?;
    for sql in [
        "DROP SCHEMA IF EXISTS bench_raw CASCADE",
        "CREATE SCHEMA bench_raw",
        "CREATE TABLE bench_raw.slots (id BIGINT PRIMARY KEY, booked_count INTEGER NOT NULL, capacity INTEGER NOT NULL,
             version INTEGER NOT NULL, CHECK (booked_count <= capacity))",
        "CREATE TABLE bench_raw.bookings (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, slot_id BIGINT NOT NULL,
             client INTEGER NOT NULL)",
        "INSERT INTO bench_raw.slots SELECT g, 0, 100000000, 1 FROM generate_series(1, 1000) g",
    ] {
        sqlx::query(sql).execute(&pool).await.map_err(|e| e.to_string())?;
    }
    sqlx::query("INSERT INTO bench_raw.bookings (slot_id, client) SELECT 1, 0 FROM generate_series(1, $1)")
        .bind(i64::try_from(rows).map_err(|e| e.to_string())?)
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("ANALYZE bench_raw.bookings").execute(&pool).await.map_err(|e| e.to_string())?;
    let script =
        if hot { RAW_SCRIPT.replace(r"\set s random(1, :nslots)", r"\set s 1") } else { RAW_SCRIPT.to_owned() };
    pgbench_tps(url, &script, &[("nslots", SLOTS.to_string())], clients, secs)
}

async fn bench(url: &str, secs: u64, clients: usize) -> Result<(), String> {
    let rows: u64 = std::env::var("BENCH_ROWS").ok().and_then(|r| r.parse().ok()).unwrap_or(0);
    println!(
        "hearth booking benchmark: {secs} s per scenario, {clients} concurrent clients, {SLOTS} slots, {rows} rows pre-filled\n"
    );
    let dir = std::env::temp_dir().join(format!("hearth-booking-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sqlite = SqliteStore::open(dir.join("bench.db")).await.map_err(|e| e.to_string())?;
    let pg = PgStore::connect(url).await.map_err(|e| e.to_string())?;
    pg.migrate().await.map_err(|e| e.to_string())?;
    let lite_svc = Amenities::new(sqlite, Arc::new(SystemClock), Arc::new(RandomIds));
    let pg_svc = Amenities::new(pg, Arc::new(SystemClock), Arc::new(RandomIds));
    let lite_slots = Arc::new(many_slots(&lite_svc).await?);
    let pg_slots = Arc::new(many_slots(&pg_svc).await?);
    prefill(url, pg_slots[SLOTS - 1], rows).await?;
    let mut table = Vec::new();
    for (name, hot) in [("many slots", false), ("hot slot", true)] {
        eprintln!("{name}: hearth on SQLite");
        let lite = run(&lite_svc, &lite_slots, hot, clients, secs).await?;
        eprintln!("{name}: hearth on Postgres");
        let pg = run(&pg_svc, &pg_slots, hot, clients, secs).await?;
        eprintln!("{name}: raw SQL on Postgres (pgbench)");
        let raw = raw_sql(url, hot, clients, secs, rows).await?;
        table.push((name, lite, pg, raw));
    }
    println!("| scenario | hearth SQLite (bookings/s) | hearth Postgres (bookings/s) | raw SQL Postgres, pgbench (bookings/s) | hearth / raw |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, lite, pg, raw) in table {
        println!("| {name} | {lite:.0} | {pg:.0} | {raw:.0} | {:.2} |", pg / raw);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    main_with("booking-bench", |url, secs, clients| async move { bench(&url, secs, clients).await }).await
}
