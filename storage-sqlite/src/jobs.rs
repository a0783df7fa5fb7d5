//! The kernel's job queue on SQLite (`jobs`, migration 0017): claims, leases, rescue, cancel and
//! pruning. Every write runs on the one writer connection, so a claim — one `UPDATE … WHERE id IN
//! (SELECT … LIMIT n) RETURNING` — is its own write transaction, and two workers can never take the
//! same job (SQLite's single writer is the lock Postgres needs `FOR UPDATE SKIP LOCKED` for).
//! Reads use the reader pool. No rule lives here: core decides retries and what a claim asks for;
//! the statements only keep a step to the lease it names.

use crate::codec::{corrupt, json, map_err, parse_uuid, ts, uuid_text, Fail, SqlValue};
use crate::SqliteStore;
use async_trait::async_trait;
use hearth_core::id::JobId;
use hearth_core::kernel::jobs::{Claim, Job, JobFilter, JobQueue, JobState, Lease, NewJob, Settle};
use hearth_core::kernel::store::{StoreError, StoreResult};
use hearth_core::time::Timestamp;
use rusqlite::{params, params_from_iter, Connection};

/// The columns every job read selects, in [`decode_job`]'s order.
const COLUMNS: &str = "id, kind, payload, priority, state, attempt, max_attempts, run_at, unique_key, locked_by, \
                       lease_until, last_error, created_at, attempted_at, finished_at";

fn int(v: u32) -> i64 {
    i64::from(v)
}

/// Inserts a change set's jobs inside its transaction; a taken id or a unique key held by a pending
/// job skips the job (`ON CONFLICT DO NOTHING`, over the primary key and `jobs_unique_key`).
pub(crate) fn insert_jobs(tx: &Connection, jobs: &[NewJob]) -> StoreResult<()> {
    for j in jobs {
        tx.prepare_cached(
            "INSERT INTO jobs (id, kind, payload, priority, state, attempt, max_attempts, run_at, unique_key, created_at)
             VALUES (?, ?, ?, ?, 'available', 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut st| {
            st.execute(params![
                uuid_text(j.id.as_uuid()),
                j.kind,
                j.payload.to_string(),
                i64::from(j.priority),
                int(j.max_attempts),
                j.run_at.unix_micros(),
                j.unique_key,
                j.created_at.unix_micros()
            ])
        })
        .map_err(map_err)?;
    }
    Ok(())
}

fn opt_ts(v: Option<i64>) -> Result<Option<Timestamp>, Fail> {
    v.map(ts).transpose()
}

fn count(v: i64, what: &str) -> Result<u32, Fail> {
    u32::try_from(v).map_err(|_| corrupt(format!("job {what} {v} out of range")))
}

fn decode_job(r: &rusqlite::Row<'_>) -> Result<Job, Fail> {
    let state: String = r.get(4)?;
    Ok(Job {
        id: JobId::from_uuid(parse_uuid(&r.get::<_, String>(0)?, "job id")?),
        kind: r.get(1)?,
        payload: json(&r.get::<_, String>(2)?)?,
        priority: i16::try_from(r.get::<_, i64>(3)?).map_err(|_| corrupt("job priority out of range"))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(format!("job state `{state}`")))?,
        attempt: count(r.get(5)?, "attempt")?,
        max_attempts: count(r.get(6)?, "max_attempts")?,
        run_at: ts(r.get(7)?)?,
        unique_key: r.get(8)?,
        locked_by: r.get(9)?,
        lease_until: opt_ts(r.get(10)?)?,
        last_error: r.get(11)?,
        created_at: ts(r.get(12)?)?,
        attempted_at: opt_ts(r.get(13)?)?,
        finished_at: opt_ts(r.get(14)?)?,
    })
}

fn jobs(conn: &Connection, sql: &str, args: &[SqlValue]) -> Result<Vec<Job>, Fail> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(decode_job(r)?);
    }
    Ok(out)
}

/// `WHERE …` for a filter, with its arguments.
fn filter_sql(filter: &JobFilter) -> (String, Vec<SqlValue>) {
    let mut conds = vec!["1 = 1".to_owned()];
    let mut args = Vec::new();
    if let Some(s) = filter.state {
        conds.push("state = ?".into());
        args.push(SqlValue::Text(s.as_str().to_owned()));
    }
    if let Some(k) = &filter.kind {
        conds.push("kind = ?".into());
        args.push(SqlValue::Text(k.clone()));
    }
    if let Some(k) = &filter.unique_key {
        conds.push("unique_key = ?".into());
        args.push(SqlValue::Text(k.clone()));
    }
    (conds.join(" AND "), args)
}

/// The arguments of the one settling statement: new state, `run_at`, `last_error`, `finished_at`,
/// and how much to take off `attempt` (a release does not count).
fn settle_args(outcome: &Settle, now: Timestamp) -> (&'static str, Option<i64>, Option<String>, Option<i64>, i64) {
    match outcome {
        Settle::Complete => (JobState::Completed.as_str(), None, None, Some(now.unix_micros()), 0),
        Settle::Retry { at, error } => {
            (JobState::Available.as_str(), Some(at.unix_micros()), Some(error.clone()), None, 0)
        }
        Settle::Dead { error } => (JobState::Dead.as_str(), None, Some(error.clone()), Some(now.unix_micros()), 0),
        Settle::Release => (JobState::Available.as_str(), Some(now.unix_micros()), None, None, 1),
    }
}

fn settle(conn: &Connection, lease: &Lease, outcome: &Settle, now: Timestamp, expired: bool) -> Result<(), Fail> {
    let (state, run_at, error, finished, uncount) = settle_args(outcome, now);
    let sql = if expired {
        "UPDATE jobs SET state = ?1, run_at = COALESCE(?2, run_at), last_error = COALESCE(?3, last_error),
                finished_at = ?4, attempt = attempt - ?5, locked_by = NULL, lease_until = NULL
         WHERE id = ?6 AND state = 'running' AND locked_by = ?7 AND attempt = ?8 AND lease_until <= ?9"
    } else {
        "UPDATE jobs SET state = ?1, run_at = COALESCE(?2, run_at), last_error = COALESCE(?3, last_error),
                finished_at = ?4, attempt = attempt - ?5, locked_by = NULL, lease_until = NULL
         WHERE id = ?6 AND state = 'running' AND locked_by = ?7 AND attempt = ?8 AND ?9 IS NOT NULL"
    };
    let n = conn.prepare_cached(sql)?.execute(params![
        state,
        run_at,
        error,
        finished,
        uncount,
        uuid_text(lease.job.as_uuid()),
        lease.worker,
        int(lease.attempt),
        now.unix_micros()
    ])?;
    if n != 1 {
        return Err(Fail::Store(StoreError::LeaseLost { job: lease.job }));
    }
    Ok(())
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn claim_jobs(&self, claim: &Claim) -> StoreResult<Vec<Job>> {
        let kinds = vec!["?"; claim.kinds.len()].join(", ");
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = ?, lease_until = ?, attempted_at = ?
             WHERE id IN (SELECT id FROM jobs WHERE state = 'available' AND run_at <= ? AND kind IN ({kinds})
                          ORDER BY priority DESC, run_at, id LIMIT ?)
             RETURNING {COLUMNS}"
        );
        let mut args = vec![
            SqlValue::Text(claim.worker.clone()),
            SqlValue::Integer(claim.lease_until.unix_micros()),
            SqlValue::Integer(claim.now.unix_micros()),
            SqlValue::Integer(claim.now.unix_micros()),
        ];
        args.extend(claim.kinds.iter().map(|k| SqlValue::Text(k.clone())));
        args.push(SqlValue::Integer(int(claim.limit)));
        let mut got = self.write(move |c| jobs(c, &sql, &args)).await?;
        // RETURNING comes in no particular order: give the claim's.
        got.sort_by(|a, b| (-i32::from(a.priority), a.run_at, a.id).cmp(&(-i32::from(b.priority), b.run_at, b.id)));
        Ok(got)
    }

    async fn heartbeat_job(&self, lease: &Lease, lease_until: Timestamp) -> StoreResult<()> {
        let lease = lease.clone();
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND locked_by = ? AND attempt = ?",
                )?
                .execute(params![
                    lease_until.unix_micros(),
                    uuid_text(lease.job.as_uuid()),
                    lease.worker,
                    int(lease.attempt)
                ])?;
            if n != 1 {
                return Err(Fail::Store(StoreError::LeaseLost { job: lease.job }));
            }
            Ok(())
        })
        .await
    }

    async fn settle_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()> {
        let (lease, outcome) = (lease.clone(), outcome.clone());
        self.write(move |c| settle(c, &lease, &outcome, now, false)).await
    }

    async fn expired_jobs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE state = 'running' AND lease_until <= ? ORDER BY lease_until, id LIMIT ?"
        );
        let args = [SqlValue::Integer(now.unix_micros()), SqlValue::Integer(int(limit))];
        self.source().run(move |c| jobs(c, &sql, &args)).await
    }

    async fn rescue_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()> {
        let (lease, outcome) = (lease.clone(), outcome.clone());
        self.write(move |c| settle(c, &lease, &outcome, now, true)).await
    }

    async fn cancel_job(&self, id: JobId, now: Timestamp) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?");
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?, locked_by = NULL, lease_until = NULL
                 WHERE id = ? AND state IN ('available', 'running')",
            )?
            .execute(params![now.unix_micros(), uuid_text(id.as_uuid())])?;
            Ok(jobs(c, &sql, &[SqlValue::Text(uuid_text(id.as_uuid()))])?.into_iter().next())
        })
        .await
    }

    async fn job(&self, id: JobId) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?");
        let args = [SqlValue::Text(uuid_text(id.as_uuid()))];
        self.source().run(move |c| Ok(jobs(c, &sql, &args)?.into_iter().next())).await
    }

    async fn find_jobs(&self, filter: &JobFilter, limit: u32) -> StoreResult<Vec<Job>> {
        let (conds, mut args) = filter_sql(filter);
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE {conds} ORDER BY created_at, id LIMIT ?");
        args.push(SqlValue::Integer(int(limit)));
        self.source().run(move |c| jobs(c, &sql, &args)).await
    }

    async fn count_jobs(&self, filter: &JobFilter) -> StoreResult<u64> {
        let (conds, args) = filter_sql(filter);
        let sql = format!("SELECT count(*) FROM jobs WHERE {conds}");
        self.source()
            .run(move |c| {
                let n: i64 = c.prepare_cached(&sql)?.query_row(params_from_iter(args.iter()), |r| r.get(0))?;
                u64::try_from(n).map_err(|_| corrupt("negative count"))
            })
            .await
    }

    async fn prune_jobs(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        self.write(move |c| {
            let n = c
                .prepare_cached(
                    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('completed', 'cancelled')
                     AND finished_at < ? ORDER BY finished_at, id LIMIT ?)",
                )?
                .execute(params![before.unix_micros(), int(limit)])?;
            Ok(n as u64)
        })
        .await
    }
}
