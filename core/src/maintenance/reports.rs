//! Maintenance reports (Viramah §10 "Reporting & Analytics"): open requests by category, average
//! resolution time by category and by staff member, SLA breach rate per week, most common issue
//! types — pure functions over a hostel's history, and the same numbers from Postgres for large
//! histories ([`SQL_QUERIES`], run through the adapter's generic read-only query hook).
//!
//! Definitions (both paths), for a hostel as of an instant `as_of`:
//! - a request exists from its submission row (`from_status` empty) if that is at or before `as_of`;
//!   its state is the `to_status` of its history row with the highest position at or before `as_of`;
//! - **open**: that state is neither `resolved` nor `rejected`;
//! - **resolution time**: resolved row − submission row, for requests resolved by `as_of`; by staff
//!   member: the request's active assignment;
//! - **SLA breach**: a request not rejected whose (resolution, or `as_of` while unresolved) came
//!   more than its target after submission (high 4 h, normal 24 h), by ISO week (Monday, UTC) of
//!   submission;
//! - **issue types**: requests by (category, issue type), most first, then by name.
//!
//! Times are whole microseconds; averages are `total / count`, rounded down.

use super::{Assignment, MaintenanceRequest, Priority, Status, StatusChange};
use crate::error::Error;
use crate::id::TenantId;
use crate::kernel::store::StoreResult;
use crate::kernel::value::{RowRead, Value};
use crate::time::Timestamp;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Issue types listed.
pub const TOP_ISSUE_TYPES: usize = 10;

/// What the pure reports read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportData {
    /// The hostel's requests.
    pub requests: Vec<MaintenanceRequest>,
    /// Their status history.
    pub history: Vec<StatusChange>,
    /// Their assignments.
    pub assignments: Vec<Assignment>,
}

/// Resolution times of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// Category code, or staff user id.
    pub key: String,
    /// Requests resolved.
    pub resolved: u64,
    /// Their resolution times added up, microseconds.
    pub total_micros: i64,
    /// `total / resolved`, seconds, rounded down.
    pub average_seconds: i64,
}

/// One week's SLA record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekBreaches {
    /// The Monday (UTC) the week starts.
    pub week_start: NaiveDate,
    /// Requests submitted that week (not rejected).
    pub requests: u64,
    /// Of which missed their target.
    pub breached: u64,
}

impl WeekBreaches {
    /// `breached / requests`, in per mille, rounded down.
    pub fn rate_per_mille(&self) -> u64 {
        (self.breached * 1000).checked_div(self.requests).unwrap_or(0)
    }
}

/// One issue type's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCount {
    /// Category code.
    pub category: String,
    /// Issue type code.
    pub issue_type: String,
    /// Requests.
    pub requests: u64,
}

/// The reports of one hostel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Open requests per category, by category.
    pub open_by_category: Vec<(String, u64)>,
    /// By category, by code.
    pub resolution_by_category: Vec<Resolution>,
    /// By staff member, by id.
    pub resolution_by_staff: Vec<Resolution>,
    /// By week, oldest first.
    pub breaches_by_week: Vec<WeekBreaches>,
    /// The most common issue types.
    pub top_issue_types: Vec<IssueCount>,
}

fn target_micros(p: Priority) -> i64 {
    p.target_hours() * 3_600_000_000
}

/// The Monday of `at`'s ISO week, UTC.
pub fn week_start(at: Timestamp) -> NaiveDate {
    let d = at.as_datetime().date_naive();
    d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn resolution(key: String, (resolved, total_micros): (u64, i64)) -> Resolution {
    let average_seconds =
        total_micros.checked_div(i64::try_from(resolved).unwrap_or(i64::MAX)).unwrap_or(0) / 1_000_000;
    Resolution { key, resolved, total_micros, average_seconds }
}

fn finish(
    open: BTreeMap<String, u64>,
    by_category: BTreeMap<String, (u64, i64)>,
    by_staff: BTreeMap<String, (u64, i64)>,
    weeks: BTreeMap<NaiveDate, (u64, u64)>,
    issues: BTreeMap<(String, String), u64>,
) -> Report {
    let mut top: Vec<IssueCount> = issues
        .into_iter()
        .map(|((category, issue_type), requests)| IssueCount { category, issue_type, requests })
        .collect();
    // Stable: equal counts keep (category, issue type) order.
    top.sort_by_key(|i| std::cmp::Reverse(i.requests));
    top.truncate(TOP_ISSUE_TYPES);
    Report {
        open_by_category: open.into_iter().filter(|(_, n)| *n > 0).collect(),
        resolution_by_category: by_category.into_iter().map(|(k, v)| resolution(k, v)).collect(),
        resolution_by_staff: by_staff.into_iter().map(|(k, v)| resolution(k, v)).collect(),
        breaches_by_week: weeks
            .into_iter()
            .map(|(week_start, (requests, breached))| WeekBreaches { week_start, requests, breached })
            .collect(),
        top_issue_types: top,
    }
}

/// The reports over `data` as of `as_of` (pure).
pub fn report(data: &ReportData, as_of: Timestamp) -> Report {
    let mut rows: HashMap<_, Vec<&StatusChange>> = HashMap::new();
    for h in data.history.iter().filter(|h| h.changed_at <= as_of) {
        rows.entry(h.request_id).or_default().push(h);
    }
    let active: HashMap<_, _> =
        data.assignments.iter().filter(|a| a.active).map(|a| (a.request_id, a.staff_id.to_string())).collect();
    let (mut open, mut by_category, mut by_staff, mut weeks, mut issues) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for r in &data.requests {
        let Some(h) = rows.get(&r.id) else { continue };
        let Some(submitted) = h.iter().find(|c| c.from_status.is_none()).map(|c| c.changed_at) else { continue };
        let Some(state) = h.iter().max_by_key(|c| c.position).map(|c| c.to_status) else { continue };
        let resolved_at = h.iter().filter(|c| c.to_status == Status::Resolved).map(|c| c.changed_at).max();
        *issues.entry((r.category.clone(), r.issue_type.clone())).or_insert(0u64) += 1;
        if state.is_open() {
            *open.entry(r.category.clone()).or_insert(0u64) += 1;
        }
        if let (Status::Resolved, Some(done)) = (state, resolved_at) {
            let micros = done.unix_micros() - submitted.unix_micros();
            let add = |e: &mut (u64, i64)| {
                e.0 += 1;
                e.1 += micros;
            };
            add(by_category.entry(r.category.clone()).or_insert((0, 0)));
            if let Some(staff) = active.get(&r.id) {
                add(by_staff.entry(staff.clone()).or_insert((0, 0)));
            }
        }
        if state != Status::Rejected {
            let end = resolved_at.unwrap_or(as_of);
            let breached = end.unix_micros() - submitted.unix_micros() > target_micros(r.priority);
            let w = weeks.entry(week_start(submitted)).or_insert((0u64, 0u64));
            w.0 += 1;
            w.1 += u64::from(breached);
        }
    }
    finish(open, by_category, by_staff, weeks, issues)
}

/// The shared head of every report query: `$1` the hostel, `$2` as of.
const SQL_HEAD: &str = "WITH h AS (
    SELECT s.request_id, s.position, s.from_status, s.to_status, s.changed_at
    FROM maintenance_status_history s JOIN maintenance_requests r ON r.id = s.request_id
    WHERE r.hostel_id = $1 AND s.changed_at <= $2
), cur AS (
    SELECT DISTINCT ON (request_id) request_id, to_status FROM h ORDER BY request_id, position DESC
), sub AS (
    SELECT request_id, changed_at AS submitted_at FROM h WHERE from_status IS NULL
), res AS (
    SELECT request_id, max(changed_at) AS resolved_at FROM h WHERE to_status = 'resolved' GROUP BY request_id
), live AS (
    SELECT r.id, r.category, r.issue_type, r.priority, cur.to_status AS state, sub.submitted_at, res.resolved_at AS done_at
    FROM cur JOIN sub USING (request_id) LEFT JOIN res USING (request_id)
    JOIN maintenance_requests r ON r.id = cur.request_id
)
";

/// The Postgres report queries, by name: the same definitions as [`report`], for histories too
/// large to load. Parameters: `$1` hostel, `$2` as of, `$3`/`$4` the high/normal targets in
/// microseconds. Sorting, top-N and averages happen in core ([`report_from_rows`]).
pub const SQL_QUERIES: [(&str, &str); 5] = [
    ("open_by_category", "SELECT category AS key, count(*) AS n FROM live WHERE state NOT IN ('resolved', 'rejected') GROUP BY category"),
    (
        "resolution_by_category",
        "SELECT category AS key, count(*) AS n,
            sum(((extract(epoch FROM done_at) - extract(epoch FROM submitted_at)) * 1000000)::bigint)::bigint AS micros
         FROM live WHERE state = 'resolved' GROUP BY category",
    ),
    (
        "resolution_by_staff",
        "SELECT a.staff_id::text AS key, count(*) AS n,
            sum(((extract(epoch FROM done_at) - extract(epoch FROM submitted_at)) * 1000000)::bigint)::bigint AS micros
         FROM live JOIN maintenance_assignments a ON a.request_id = live.id AND a.active
         WHERE state = 'resolved' GROUP BY a.staff_id",
    ),
    (
        "breaches_by_week",
        "SELECT (date_trunc('week', submitted_at AT TIME ZONE 'UTC'))::date AS week, count(*) AS n,
            count(*) FILTER (WHERE ((extract(epoch FROM coalesce(done_at, $2)) - extract(epoch FROM submitted_at)) * 1000000)::bigint
                > CASE priority WHEN 'high' THEN $3 ELSE $4 END) AS breached
         FROM live WHERE state <> 'rejected' GROUP BY 1",
    ),
    ("issue_types", "SELECT category, issue_type, count(*) AS n FROM live GROUP BY category, issue_type"),
];

/// The full text of report query `i` of [`SQL_QUERIES`].
pub fn sql(i: usize) -> Option<String> {
    SQL_QUERIES.get(i).map(|(_, body)| format!("{SQL_HEAD}{body}"))
}

/// The parameters report query `i` binds (only the breach query uses the targets).
pub fn sql_params(i: usize, hostel: TenantId, as_of: Timestamp) -> Vec<Value> {
    let mut params = vec![Value::Uuid(hostel.as_uuid()), Value::from(as_of)];
    if SQL_QUERIES.get(i).is_some_and(|(name, _)| *name == "breaches_by_week") {
        params.push(Value::Int(target_micros(Priority::High)));
        params.push(Value::Int(target_micros(Priority::Normal)));
    }
    params
}

fn count(r: &dyn RowRead, column: &str) -> Result<u64, Error> {
    let n = r.int(column).map_err(|e| Error::internal(format!("report row: {e}")))?;
    u64::try_from(n).map_err(|_| Error::internal("negative count"))
}

fn text(r: &dyn RowRead, column: &str) -> Result<String, Error> {
    r.text(column).map_err(|e| Error::internal(format!("report row: {e}")))
}

/// Assembles the report from the rows of the five [`SQL_QUERIES`], in order.
pub fn report_from_rows(results: &[Vec<Box<dyn RowRead + Send + Sync>>]) -> Result<Report, Error> {
    let [open_rows, cat_rows, staff_rows, week_rows, issue_rows] = results else {
        return Err(Error::internal("five report results expected"));
    };
    let mut open = BTreeMap::new();
    for r in open_rows {
        open.insert(text(r.as_ref(), "key")?, count(r.as_ref(), "n")?);
    }
    let times = |rows: &Vec<Box<dyn RowRead + Send + Sync>>| -> Result<BTreeMap<String, (u64, i64)>, Error> {
        let mut m = BTreeMap::new();
        for r in rows {
            let micros = r.int("micros").map_err(|e| Error::internal(format!("report row: {e}")))?;
            m.insert(text(r.as_ref(), "key")?, (count(r.as_ref(), "n")?, micros));
        }
        Ok(m)
    };
    let mut weeks = BTreeMap::new();
    for r in week_rows {
        let week = r.date("week").map_err(|e| Error::internal(format!("report row: {e}")))?;
        weeks.insert(week, (count(r.as_ref(), "n")?, count(r.as_ref(), "breached")?));
    }
    let mut issues = BTreeMap::new();
    for r in issue_rows {
        issues.insert((text(r.as_ref(), "category")?, text(r.as_ref(), "issue_type")?), count(r.as_ref(), "n")?);
    }
    Ok(finish(open, times(cat_rows)?, times(staff_rows)?, weeks, issues))
}

/// The report through a read-only SQL hook (`run(sql, params)`): every query of [`SQL_QUERIES`]
/// with [`sql_params`], assembled by [`report_from_rows`].
pub async fn report_via_sql<F, Fut>(run: F, hostel: TenantId, as_of: Timestamp) -> Result<Report, Error>
where
    F: Fn(String, Vec<Value>) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Vec<Box<dyn RowRead + Send + Sync>>>>,
{
    let mut results = Vec::with_capacity(SQL_QUERIES.len());
    for i in 0..SQL_QUERIES.len() {
        let text = sql(i).ok_or_else(|| Error::internal("report query"))?;
        results.push(run(text, sql_params(i, hostel, as_of)).await?);
    }
    report_from_rows(&results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_utc() {
        let sunday = Timestamp::parse_rfc3339("2026-06-07T23:59:59Z").unwrap();
        assert_eq!(week_start(sunday), NaiveDate::from_ymd_opt(2026, 6, 1).unwrap());
        let monday = Timestamp::parse_rfc3339("2026-06-08T00:00:00Z").unwrap();
        assert_eq!(week_start(monday), NaiveDate::from_ymd_opt(2026, 6, 8).unwrap());
        let w = WeekBreaches { week_start: week_start(monday), requests: 3, breached: 1 };
        assert_eq!(w.rate_per_mille(), 333);
    }
}
