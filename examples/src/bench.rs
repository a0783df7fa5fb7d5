//! Helpers shared by the benchmark binaries: a tiny deterministic generator, a `pgbench` runner, the
//! drivers (concurrent clients for hearth, a timed loop for raw SQL) and the fixtures the benchmarks
//! share (1,000 bookable slots, 1,000 funded wallets).

use hearth_core::amenities::{slot_id, Amenities, Slot, TemplateInput};
use hearth_core::id::{SlotId, UserId};
use hearth_core::ledger::accounts::{AccountInput, AccountInputFlags};
use hearth_core::ledger::engine::TransferInput;
use hearth_core::ledger::model::{AccountId, AccountKind, TransferCode};
use hearth_core::ledger::Ledger;
use hearth_core::money::Currency;
use hearth_core::store::{ChangeSet, Entity, Expect, Store, Write};
use hearth_core::system::{RandomIds, SystemClock};
use hearth_core::testing::verified_transfers;
use hearth_core::{Actor, Clock, Role};
use std::process::Command;

/// Slots in the many-slots scenarios (and in the raw-SQL tables).
pub const SLOTS: usize = 1_000;
/// A slot capacity no run exhausts.
pub const CAPACITY: u32 = 100_000_000;
/// Wallets in the many-accounts scenarios (and in the raw-SQL tables).
pub const ACCOUNTS: usize = 1_000;
/// Transfers per commit in the batched scenarios.
pub const BATCH: usize = 100;

/// xorshift64*: picks accounts and slots without a randomness crate.
pub struct Rng(u64);

impl Rng {
    /// A generator for client `c` (distinct, reproducible streams).
    pub fn for_client(c: usize) -> Self {
        Rng(0x9E37_79B9_7F4A_7C15 ^ ((c as u64 + 1) * 0x1000_0001))
    }
    /// A number in `0..n` (`n > 0`).
    pub fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// The `pgbench` to run: `$PGBENCH`, else the newest `/usr/lib/postgresql/*/bin/pgbench`, else `pgbench`.
pub fn pgbench_path() -> String {
    if let Ok(p) = std::env::var("PGBENCH") {
        return p;
    }
    let mut found: Vec<String> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| "pgbench".to_owned())
}

/// Runs `script` with pgbench (`-M simple`, so variables are substituted in the text) and returns
/// its transactions per second.
pub fn pgbench_tps(url: &str, script: &str, vars: &[(&str, String)], clients: usize, secs: u64) -> Result<f64, String> {
    let path = std::env::temp_dir().join(format!("hearth-pgbench-{}-{}.sql", std::process::id(), script.len()));
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(pgbench_path());
    cmd.args(["-n", "-M", "simple", "-c", &clients.to_string(), "-j", "2", "-T", &secs.to_string()]);
    for (k, v) in vars {
        cmd.args(["-D", &format!("{k}={v}")]);
    }
    let out = cmd.arg("-f").arg(&path).arg(url).output().map_err(|e| format!("pgbench: {e}"))?;
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr)));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("tps = ").and_then(|r| r.split_whitespace().next()).and_then(|v| v.parse().ok()))
        .ok_or_else(|| format!("no tps in pgbench output: {text}"))
}

/// Runs `clients` concurrent clients for `secs` seconds; each repeatedly awaits `step(client, rng)`,
/// which returns how many units (transfers, bookings) it completed. Returns units per second.
pub async fn drive<F, Fut>(clients: usize, secs: u64, step: F) -> Result<f64, String>
where
    F: Fn(usize, &mut Rng) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<u64, String>> + Send,
{
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (step, done) = (step.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::for_client(c);
            while Instant::now() < deadline {
                let n = step(c, &mut rng).await?;
                done.fetch_add(n, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// The shared `main` of a benchmark binary: `<name> <postgres-url> [seconds] [clients]` (the URL may
/// come from `DATABASE_URL`), defaults 5 s and 8 clients.
pub async fn main_with<F, Fut>(name: &str, bench: F) -> std::process::ExitCode
where
    F: FnOnce(String, u64, usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next().or_else(|| std::env::var("DATABASE_URL").ok()) else {
        eprintln!("usage: {name} <postgres-url> [seconds per scenario] [clients]");
        return std::process::ExitCode::FAILURE;
    };
    let secs = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let clients = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    match bench(url, secs, clients).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name} failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs `step` in a loop on this thread for `secs` seconds; returns completed steps per second.
pub fn raw_loop<E: std::fmt::Display>(secs: u64, mut step: impl FnMut() -> Result<(), E>) -> Result<f64, String> {
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut done = 0u64;
    while Instant::now() < deadline {
        step().map_err(|e| e.to_string())?;
        done += 1;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// One amenity open all day with [`SLOTS`] hourly slots from 30 days ahead, each with a capacity of
/// [`CAPACITY`] (written straight through the store, 100 per commit); returns the slots.
pub async fn many_slots<S: Store + Clone + 'static>(svc: &Amenities<S>) -> Result<Vec<SlotId>, String> {
    let manager = Actor::user(UserId::generate(&RandomIds), [Role::AmenityManager]);
    let template = TemplateInput {
        opens: Some("00:00".into()),
        closes: Some("24:00".into()),
        slot_minutes: Some(60),
        capacity: Some(1_000),
        time_zone: Some("UTC".into()),
    };
    let gym = svc.create(&manager, "Bench gym", template).await.map_err(|e| e.to_string())?;
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

/// A wallet-to-wallet top-up of `minor` cents (the benchmarks run the verified path).
pub fn transfer(debit: AccountId, credit: AccountId, minor: i64, linked: bool) -> TransferInput {
    TransferInput { linked, ..hearth_core::testing::ledger::transfer(debit, credit, minor, TransferCode::TopUp) }
}

/// Opens [`ACCOUNTS`] wallets and funds each generously; and one account with `flags.history` (no
/// limits), returned last.
pub async fn ledger_wallets<S: Store + Clone + 'static>(
    ledger: &Ledger<S>,
) -> Result<(Vec<AccountId>, AccountId), String> {
    let sys = Actor::System;
    let clearing =
        ledger.system_account(&sys, AccountKind::GatewayClearing, Currency::INR).await.map_err(|e| e.to_string())?;
    let mut wallets = Vec::with_capacity(ACCOUNTS);
    for _ in 0..ACCOUNTS {
        let owner = UserId::generate(&RandomIds);
        wallets.push(ledger.open_wallet(&sys, owner, Currency::INR).await.map_err(|e| e.to_string())?.id);
    }
    for chunk in wallets.chunks(BATCH) {
        let batch = chunk.iter().map(|w| transfer(clearing.id, *w, 1_000_000_000, false)).collect();
        ledger.runner().execute(&sys, None, &verified_transfers(batch)).await.map_err(|e| e.to_string())?;
    }
    let history = AccountInput {
        id: AccountId::generate(&RandomIds),
        currency: Some(Currency::INR),
        code: 1,
        flags: AccountInputFlags { history: true, ..AccountInputFlags::default() },
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    };
    let out = ledger.create_accounts(&sys, vec![history.clone()]).await.map_err(|e| e.to_string())?;
    if out[0].result != hearth_core::ledger::model::AccountResult::Ok {
        return Err(format!("history account: {}", out[0].result));
    }
    Ok((wallets, history.id))
}
