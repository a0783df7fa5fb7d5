//! Change-feed throughput and latency: events per second from commit to subscriber, and the
//! latency percentiles, with 1,000 subscribers each filtered by core (`may_receive`, pure on what
//! the event carries: no store read per subscriber — Supabase's documented limit is one
//! authorization read per subscriber per change), on SQLite and Postgres, next to the same commits
//! with no hub (the raw baseline), in one run.
//!
//! ```text
//! scripts/bench.sh feed                # finds/starts Postgres, release build, prints the table
//! cargo run --release -p hearth-examples --bin feed-bench -- <postgres-url> [seconds] [producers] [subscribers]
//! ```
//!
//! Subscribers: civilians and heroes (signed-in users), maintenance staff of ten hostels, and a few
//! admins. Events, in turn: open to every signed-in user (a new pending request), one user's, one
//! hostel's staff and one resident, admins only. Each event carries the instant its commit began;
//! latency is from there to the subscriber's `recv` (so it includes the commit). This is a
//! benchmark, not a test: it asserts nothing about time.

use hearth_core::id::{EventId, TenantId, UserId};
use hearth_core::kernel::entity::{Entity, EntityRef, Readers};
use hearth_core::kernel::feed::{may_receive, Feed};
use hearth_core::kernel::store::{ChangeSet, OutboxEvent, Store};
use hearth_core::system::RandomIds;
use hearth_core::time::Timestamp;
use hearth_core::{Actor, Role};
use hearth_examples::bench::main_with;
use hearth_postgres::PgStore;
use hearth_runtime::feed::wake::{PgWake, SqliteWake, WakeUp};
use hearth_runtime::feed::{Hub, HubConfig};
use hearth_sqlite::SqliteStore;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HOSTELS: usize = 10;

/// The subscribers: who they are, and the users and hostels the events address.
struct Population {
    actors: Vec<Actor>,
    users: Vec<UserId>,
    hostels: Vec<TenantId>,
}

fn population(n: usize) -> Population {
    let hostels: Vec<TenantId> = (0..HOSTELS).map(|_| TenantId::generate(&RandomIds)).collect();
    let mut actors = Vec::with_capacity(n);
    let mut users = Vec::new();
    for i in 0..n {
        let id = UserId::generate(&RandomIds);
        let actor = match i % 10 {
            0..=3 => Actor::user(id, [Role::Civilian]),
            4..=6 => Actor::user(id, [Role::Hero]),
            7 | 8 => Actor::user(id, [Role::MaintenanceStaff]).in_tenant(hostels[i % HOSTELS]),
            _ if i % 100 == 9 => Actor::user(id, [Role::Admin]),
            _ => Actor::user(id, [Role::Resident]).in_tenant(hostels[i % HOSTELS]),
        };
        users.push(id);
        actors.push(actor);
    }
    Population { actors, users, hostels }
}

fn micros_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Event `n`: its readers take turns through the four shapes.
fn event(n: u64, p: &Population, base: Instant, at: Timestamp) -> OutboxEvent {
    let k = n as usize;
    let user = p.users[k.wrapping_mul(7919) % p.users.len()];
    let readers = match k % 4 {
        0 => Readers::nobody().and_signed_in(),
        1 => Readers::users([user]),
        2 => Readers::users([user]).and_roles([Role::MaintenanceStaff]).in_tenant(p.hostels[k % HOSTELS]),
        _ => Readers::nobody(),
    };
    OutboxEvent {
        id: EventId::generate(&RandomIds),
        topic: "bench.feed".into(),
        entity: EntityRef { kind: hearth_core::homeheroes::model::ServiceRequest::kind(), id: uuid::Uuid::nil() },
        payload: serde_json::json!({ "sent_us": micros_since(base) }),
        audience: readers.users.clone(),
        at,
        readers,
    }
}

/// `producers` tasks commit one event per commit for `secs`; returns how many were committed.
async fn produce<S: Store + Clone + 'static>(
    store: &S,
    p: &Arc<Population>,
    producers: usize,
    secs: u64,
    base: Instant,
) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let count = Arc::new(AtomicU64::new(0));
    let at = Timestamp::from_unix_micros(1_780_000_000_000_000).ok_or("instant")?;
    let mut tasks = Vec::new();
    for _ in 0..producers {
        let (store, p, count) = (store.clone(), p.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = count.fetch_add(1, Ordering::Relaxed);
                let e = event(n, &p, base, at);
                store.commit(ChangeSet { events: vec![e], ..ChangeSet::default() }).await.map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(count.load(Ordering::Relaxed))
}

struct Figures {
    raw_commits_per_s: f64,
    events_per_s: f64,
    deliveries_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// The raw baseline, then the same load with the hub and `subscribers` subscribers.
async fn run<S, W>(store: S, wake: W, subscribers: usize, producers: usize, secs: u64) -> Result<Figures, String>
where
    S: Store + Feed + Clone + Send + Sync + 'static,
    W: WakeUp + 'static,
{
    let p = Arc::new(population(subscribers));
    let base = Instant::now();
    // Raw: the same commits, nobody reading.
    let t = Instant::now();
    let raw = produce(&store, &p, producers, secs, base).await?;
    let raw_commits_per_s = raw as f64 / t.elapsed().as_secs_f64();
    // With the hub.
    let config = HubConfig { subscriber_buffer: 1 << 20, ..HubConfig::default() };
    let hub = Hub::start(store.clone(), wake, config).await.map_err(|e| e.to_string())?;
    let from = store.feed_head().await.map_err(|e| e.to_string())?;
    let mut readers = Vec::new();
    for a in &p.actors {
        let mut sub = hub.subscribe(a.clone(), from).await.map_err(|e| e.to_string())?;
        readers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while let Some(e) = sub.recv().await {
                let sent = e.event.payload.get("sent_us").and_then(|v| v.as_u64()).unwrap_or(0);
                latencies.push(micros_since(base).saturating_sub(sent));
            }
            latencies
        }));
    }
    while hub.live_subscribers().await < subscribers {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = Instant::now();
    let committed = produce(&store, &p, producers, secs, base).await?;
    // Wait until the last event reached everyone it should (the feed is drained).
    let expected: u64 = {
        let page_events = {
            let mut all = Vec::new();
            let mut c = from;
            loop {
                let page = store.feed_after(c, 10_000).await.map_err(|e| e.to_string())?;
                if page.events.is_empty() {
                    break;
                }
                c = page.events.last().map_or(c, |e| e.cursor);
                all.extend(page.events);
            }
            all
        };
        page_events.iter().map(|e| p.actors.iter().filter(|a| may_receive(a, &e.event)).count() as u64).sum()
    };
    drop(hub); // ends every subscription once what it queued is read
    let mut latencies = Vec::new();
    for r in readers {
        latencies.extend(r.await.map_err(|e| e.to_string())?);
    }
    let elapsed = t.elapsed().as_secs_f64();
    if latencies.len() as u64 != expected {
        return Err(format!("{} deliveries, {expected} expected", latencies.len()));
    }
    latencies.sort_unstable();
    let pct = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize] as f64 / 1_000.0;
    Ok(Figures {
        raw_commits_per_s,
        events_per_s: committed as f64 / elapsed,
        deliveries_per_s: latencies.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
    })
}

fn print(store: &str, subscribers: usize, f: &Figures) {
    println!(
        "| {store} | {subscribers} | {:.0} | {:.0} ({:.2}×) | {:.0} | {:.1} | {:.1} | {:.1} |",
        f.raw_commits_per_s,
        f.events_per_s,
        f.events_per_s / f.raw_commits_per_s,
        f.deliveries_per_s,
        f.p50_ms,
        f.p99_ms,
        f.max_ms
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    main_with("feed-bench", |url, secs, producers| async move {
        let subscribers: usize = std::env::args().nth(4).and_then(|s| s.parse().ok()).unwrap_or(1_000);
        println!("| store | subscribers | raw commits/s | events/s commit→subscriber (× raw) | deliveries/s | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|---|---|---|");
        let dir = std::env::temp_dir().join(format!("hearth-feed-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let sqlite = SqliteStore::open(dir.join("feed.db")).await.map_err(|e| e.to_string())?;
        let wake = SqliteWake::new(&sqlite);
        let f = run(sqlite, wake, subscribers, producers, secs).await?;
        print("SQLite (file, WAL)", subscribers, &f);
        let _ = std::fs::remove_dir_all(&dir);
        let pg = PgStore::connect(&url).await.map_err(|e| e.to_string())?;
        pg.migrate().await.map_err(|e| e.to_string())?;
        let wake = PgWake::connect(&pg).await.map_err(|e| e.to_string())?;
        let f = run(pg, wake, subscribers, producers, secs).await?;
        print("Postgres (LISTEN/NOTIFY)", subscribers, &f);
        Ok(())
    })
    .await
}
