//! The kernel's job queue on Postgres (`jobs`, migration 0017).
//!
//! A claim is one statement: the due jobs are picked in claim order `FOR UPDATE SKIP LOCKED` (rows
//! another worker's claim holds are passed over, never waited for or taken twice), then moved to
//! `running` under the caller's lease. Every later step is an `UPDATE … WHERE id AND state =
//! 'running' AND locked_by AND attempt` (and, for the rescuer, `lease_until <= now`): a step whose
//! lease is gone changes no row and is `LeaseLost`. No rule lives here: core decides retries and
//! what a claim asks for.

use crate::error::map_err;
use crate::PgStore;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hearth_core::id::JobId;
use hearth_core::kernel::jobs::{Claim, Job, JobFilter, JobQueue, JobState, Lease, NewJob, Settle};
use hearth_core::kernel::store::{StoreError, StoreResult};
use hearth_core::kernel::value::{Value, ValueType};
use hearth_core::time::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// The columns every job read returns, in [`decode_job`]'s names.
const COLUMNS: &str = "id, kind, payload, priority, state, attempt, max_attempts, run_at, unique_key, locked_by, \
                       lease_until, last_error, created_at, attempted_at, finished_at";

/// The values of one job insert, in `INSERT_COLUMNS` order (state and attempt are literals).
pub(crate) const INSERT_COLUMNS: &str =
    "id, kind, payload, priority, max_attempts, run_at, unique_key, created_at, state, attempt";

/// The bound values of `job` for [`INSERT_COLUMNS`] (less the two literals).
pub(crate) fn insert_values(job: &NewJob) -> Vec<Value> {
    vec![
        Value::Uuid(job.id.as_uuid()),
        Value::Text(job.kind.clone()),
        Value::Json(job.payload.clone()),
        Value::Int(i64::from(job.priority)),
        Value::Int(i64::from(job.max_attempts)),
        Value::Ts(job.run_at),
        job.unique_key.clone().map_or(Value::Null(ValueType::Text), Value::Text),
        Value::Ts(job.created_at),
    ]
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt { message: what }
}

fn when(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_datetime(t)
}

fn decode_job(r: &PgRow) -> StoreResult<Job> {
    let state: String = r.try_get("state").map_err(map_err)?;
    let count = |name: &str| -> StoreResult<u32> {
        let v: i32 = r.try_get(name).map_err(map_err)?;
        u32::try_from(v).map_err(|_| corrupt(format!("job {name} {v} out of range")))
    };
    let ts = |name: &str| -> StoreResult<Option<Timestamp>> {
        Ok(r.try_get::<Option<DateTime<Utc>>, _>(name).map_err(map_err)?.map(when))
    };
    let required =
        |name: &str| -> StoreResult<Timestamp> { ts(name)?.ok_or_else(|| corrupt(format!("job {name} is null"))) };
    Ok(Job {
        id: JobId::from_uuid(r.try_get("id").map_err(map_err)?),
        kind: r.try_get("kind").map_err(map_err)?,
        payload: r.try_get("payload").map_err(map_err)?,
        priority: r.try_get("priority").map_err(map_err)?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(format!("job state `{state}`")))?,
        attempt: count("attempt")?,
        max_attempts: count("max_attempts")?,
        run_at: required("run_at")?,
        unique_key: r.try_get("unique_key").map_err(map_err)?,
        locked_by: r.try_get("locked_by").map_err(map_err)?,
        lease_until: ts("lease_until")?,
        last_error: r.try_get("last_error").map_err(map_err)?,
        created_at: required("created_at")?,
        attempted_at: ts("attempted_at")?,
        finished_at: ts("finished_at")?,
    })
}

fn decode_all(rows: &[PgRow]) -> StoreResult<Vec<Job>> {
    rows.iter().map(decode_job).collect()
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn i64_of(v: u32) -> i64 {
    i64::from(v)
}

/// `WHERE …` for a filter, with `$1…` placeholders, and its text arguments.
fn filter_sql(filter: &JobFilter) -> (String, Vec<String>) {
    let mut conds = vec!["TRUE".to_owned()];
    let mut args = Vec::new();
    let mut push = |column: &str, value: String| {
        args.push(value);
        conds.push(format!("{column} = ${}", args.len()));
    };
    if let Some(s) = filter.state {
        push("state", s.as_str().to_owned());
    }
    if let Some(k) = &filter.kind {
        push("kind", k.clone());
    }
    if let Some(k) = &filter.unique_key {
        push("unique_key", k.clone());
    }
    (conds.join(" AND "), args)
}

/// The one settling statement, with or without the rescuer's expiry condition.
const SETTLE: &str = "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = COALESCE($3, last_error),
        finished_at = $4, attempt = attempt - $5, locked_by = NULL, lease_until = NULL
     WHERE id = $6 AND state = 'running' AND locked_by = $7 AND attempt = $8 AND $9::timestamptz IS NOT NULL";
const RESCUE: &str = "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = COALESCE($3, last_error),
        finished_at = $4, attempt = attempt - $5, locked_by = NULL, lease_until = NULL
     WHERE id = $6 AND state = 'running' AND locked_by = $7 AND attempt = $8 AND lease_until <= $9";

/// The settling statement's arguments: new state, `run_at`, `last_error`, `finished_at`, and how
/// much to take off `attempt` (a release does not count).
type SettleArgs<'a> = (&'static str, Option<DateTime<Utc>>, Option<&'a str>, Option<DateTime<Utc>>, i32);

impl PgStore {
    async fn settle(&self, sql: &'static str, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()> {
        let now_dt = now.as_datetime();
        let (state, run_at, error, finished, uncount): SettleArgs<'_> = match outcome {
            Settle::Complete => (JobState::Completed.as_str(), None, None, Some(now_dt), 0),
            Settle::Retry { at, error } => (JobState::Available.as_str(), Some(at.as_datetime()), Some(error), None, 0),
            Settle::Dead { error } => (JobState::Dead.as_str(), None, Some(error), Some(now_dt), 0),
            Settle::Release => (JobState::Available.as_str(), Some(now_dt), None, None, 1),
        };
        let n = sqlx::query(sql)
            .bind(state)
            .bind(run_at)
            .bind(error)
            .bind(finished)
            .bind(uncount)
            .bind(lease.job.as_uuid())
            .bind(&lease.worker)
            .bind(i32_of(lease.attempt))
            .bind(now_dt)
            .execute(self.pool())
            .await
            .map_err(map_err)?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::LeaseLost { job: lease.job });
        }
        Ok(())
    }
}

#[async_trait]
impl JobQueue for PgStore {
    async fn claim_jobs(&self, claim: &Claim) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "WITH picked AS (
                 SELECT id FROM jobs
                 WHERE state = 'available' AND run_at <= $1 AND kind = ANY($2)
                 ORDER BY priority DESC, run_at, id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, locked_by = $4, lease_until = $5,
                               attempted_at = $1
             FROM picked WHERE j.id = picked.id
             RETURNING {}",
            COLUMNS.split(", ").map(|c| format!("j.{c}")).collect::<Vec<_>>().join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(claim.now.as_datetime())
            .bind(&claim.kinds)
            .bind(i64_of(claim.limit))
            .bind(&claim.worker)
            .bind(claim.lease_until.as_datetime())
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        let mut got = decode_all(&rows)?;
        // RETURNING comes in no particular order: give the claim's.
        got.sort_by(|a, b| (-i32::from(a.priority), a.run_at, a.id).cmp(&(-i32::from(b.priority), b.run_at, b.id)));
        Ok(got)
    }

    async fn heartbeat_job(&self, lease: &Lease, lease_until: Timestamp) -> StoreResult<()> {
        let n = sqlx::query(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND state = 'running' AND locked_by = $3 AND attempt = $4",
        )
        .bind(lease_until.as_datetime())
        .bind(lease.job.as_uuid())
        .bind(&lease.worker)
        .bind(i32_of(lease.attempt))
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::LeaseLost { job: lease.job });
        }
        Ok(())
    }

    async fn settle_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()> {
        self.settle(SETTLE, lease, outcome, now).await
    }

    async fn expired_jobs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE state = 'running' AND lease_until <= $1 ORDER BY lease_until, id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now.as_datetime())
            .bind(i64_of(limit))
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        decode_all(&rows)
    }

    async fn rescue_job(&self, lease: &Lease, outcome: &Settle, now: Timestamp) -> StoreResult<()> {
        self.settle(RESCUE, lease, outcome, now).await
    }

    async fn cancel_job(&self, id: JobId, now: Timestamp) -> StoreResult<Option<Job>> {
        // The cancelled row if this call cancelled it, else the row as it is.
        let sql = format!(
            "WITH c AS (
                 UPDATE jobs SET state = 'cancelled', finished_at = $2, locked_by = NULL, lease_until = NULL
                 WHERE id = $1 AND state IN ('available', 'running')
                 RETURNING {COLUMNS})
             SELECT {COLUMNS} FROM c
             UNION ALL
             SELECT {COLUMNS} FROM jobs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM c)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .bind(now.as_datetime())
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        Ok(decode_all(&rows)?.into_iter().next())
    }

    async fn job(&self, id: JobId) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_uuid()).fetch_all(self.pool()).await.map_err(map_err)?;
        Ok(decode_all(&rows)?.into_iter().next())
    }

    async fn find_jobs(&self, filter: &JobFilter, limit: u32) -> StoreResult<Vec<Job>> {
        let (conds, args) = filter_sql(filter);
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE {conds} ORDER BY created_at, id LIMIT ${}", args.len() + 1);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = q.bind(a);
        }
        let rows = q.bind(i64_of(limit)).fetch_all(self.pool()).await.map_err(map_err)?;
        decode_all(&rows)
    }

    async fn count_jobs(&self, filter: &JobFilter) -> StoreResult<u64> {
        let (conds, args) = filter_sql(filter);
        let sql = format!("SELECT count(*) FROM jobs WHERE {conds}");
        let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = q.bind(a);
        }
        let n = q.fetch_one(self.pool()).await.map_err(map_err)?;
        u64::try_from(n).map_err(|_| corrupt("negative count".into()))
    }

    async fn prune_jobs(&self, before: Timestamp, limit: u32) -> StoreResult<u64> {
        let n = sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('completed', 'cancelled')
             AND finished_at < $1 ORDER BY finished_at, id LIMIT $2)",
        )
        .bind(before.as_datetime())
        .bind(i64_of(limit))
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(n)
    }
}
