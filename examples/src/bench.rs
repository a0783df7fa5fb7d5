//! Helpers shared by the benchmark binaries: a tiny deterministic generator and a `pgbench` runner.

use std::process::Command;

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
