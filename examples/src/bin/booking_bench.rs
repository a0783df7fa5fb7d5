//! Amenity booking throughput: bookings per second through hearth on SQLite and Postgres, next to the
//! seed's optimistic-locking SQL driven by `pgbench` against the same Postgres, in one run.
//!
//! ```text
//! scripts/bench.sh booking            # finds/starts Postgres, release build, prints the table
//! cargo run --release -p hearth-examples --bin booking-bench -- <postgres-url> [seconds] [clients]
//! ```
//!
//! Every booking is by a different resident (one seat per user per slot), on one hot slot or on a
//! random one of many. Slots are given a capacity no run can exhaust, so every attempt is a booking.
//! This is a benchmark, not a test: it asserts nothing about time.

use hearth_core::amenities::{slot_id, Amenities, Slot, TemplateInput};
use hearth_core::id::{SlotId, UserId};
use hearth_core::store::{ChangeSet, Entity, Expect, Store, Write};
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::{Actor, Clock, Role};
use hearth_examples::bench::{drive, main_with, pgbench_tps};
use hearth_postgres::PgStore;
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::Arc;

/// Slots in the many-slots scenario (and in the raw-SQL table).
const SLOTS: usize = 1_000;
/// A capacity no run exhausts.
const CAPACITY: u32 = 100_000_000;

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

async fn setup<S: Store + Clone + 'static>(svc: &Amenities<S>) -> Result<Vec<SlotId>, String> {
    let manager = Actor::user(UserId::generate(&RandomIds), [Role::AmenityManager]);
    let template = TemplateInput {
        opens: Some("00:00".into()),
        closes: Some("24:00".into()),
        slot_minutes: Some(60),
        capacity: Some(1_000),
        time_zone: Some("UTC".into()),
    };
    let gym = svc.create(&manager, "Bench gym", template).await.map_err(|e| e.to_string())?;
    // Slots far in the future with a huge capacity, written straight through the store.
    let start = SystemClock.now().checked_add(chrono::Duration::days(30)).ok_or("clock")?;
    let mut ids = Vec::with_capacity(SLOTS);
    let mut batch = Vec::new();
    for i in 0..SLOTS {
        let starts_at = start.checked_add(chrono::Duration::hours(i as i64)).ok_or("clock")?;
        let ends_at = starts_at.checked_add(chrono::Duration::hours(1)).ok_or("clock")?;
        let slot = Slot {
            id: slot_id(gym.id, starts_at),
            amenity_id: gym.id,
            date: starts_at.as_datetime().naive_utc().date(),
            starts_at,
            ends_at,
            capacity: CAPACITY,
            booked: 0,
        };
        ids.push(slot.id);
        batch.push(Write::Row { kind: Slot::kind(), id: slot.id(), row: slot.to_row(), expect: Expect::Absent });
        if batch.len() == 100 {
            let writes = std::mem::take(&mut batch);
            svc.runner()
                .store()
                .commit(ChangeSet { writes, ..ChangeSet::default() })
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(ids)
}

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

async fn raw_sql(url: &str, hot: bool, clients: usize, secs: u64) -> Result<f64, String> {
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
    let script =
        if hot { RAW_SCRIPT.replace(r"\set s random(1, :nslots)", r"\set s 1") } else { RAW_SCRIPT.to_owned() };
    pgbench_tps(url, &script, &[("nslots", SLOTS.to_string())], clients, secs)
}

async fn bench(url: &str, secs: u64, clients: usize) -> Result<(), String> {
    println!("hearth booking benchmark: {secs} s per scenario, {clients} concurrent clients, {SLOTS} slots\n");
    let dir = std::env::temp_dir().join(format!("hearth-booking-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sqlite = SqliteStore::open(dir.join("bench.db")).await.map_err(|e| e.to_string())?;
    let pg = PgStore::connect(url).await.map_err(|e| e.to_string())?;
    pg.migrate().await.map_err(|e| e.to_string())?;
    let lite_svc = Amenities::new(sqlite, Arc::new(SystemClock), Arc::new(RandomIds));
    let pg_svc = Amenities::new(pg, Arc::new(SystemClock), Arc::new(RandomIds));
    let lite_slots = Arc::new(setup(&lite_svc).await?);
    let pg_slots = Arc::new(setup(&pg_svc).await?);
    let mut rows = Vec::new();
    for (name, hot) in [("many slots", false), ("hot slot", true)] {
        let lite = run(&lite_svc, &lite_slots, hot, clients, secs).await?;
        let pg = run(&pg_svc, &pg_slots, hot, clients, secs).await?;
        let raw = raw_sql(url, hot, clients, secs).await?;
        rows.push((name, lite, pg, raw));
    }
    println!("| scenario | hearth SQLite (bookings/s) | hearth Postgres (bookings/s) | raw SQL Postgres, pgbench (bookings/s) | hearth / raw |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, lite, pg, raw) in rows {
        println!("| {name} | {lite:.0} | {pg:.0} | {raw:.0} | {:.2} |", pg / raw);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    main_with("booking-bench", |url, secs, clients| async move { bench(&url, secs, clients).await }).await
}
