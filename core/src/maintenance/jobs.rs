//! Maintenance's periodic work (Viramah §10, "Priority & SLA Tracking": "A scheduled Edge Function
//! runs every 30 minutes to check SLA breaches"): the job kind and its schedule. The work itself is
//! [`super::Maintenance::escalate_overdue`]; `hearth-runtime` wires the kind to it.

use crate::kernel::jobs::schedule::{validate_occurrence, ScheduleDecl};
use crate::kernel::jobs::{Backoff, JobDecl};

/// The SLA sweep: escalate every open request past its trigger (payload: the occurrence).
pub static SLA_SWEEP: JobDecl = JobDecl {
    kind: "maintenance.sla_sweep",
    validate: validate_occurrence,
    priority: 0,
    max_attempts: 3,
    backoff: Backoff { base_ms: 10_000, cap_ms: 300_000 },
};

/// Every 30 minutes (UTC: the sweep compares instants, so the zone does not matter).
pub static SLA_SWEEP_EVERY_30_MIN: ScheduleDecl =
    ScheduleDecl { name: "maintenance.sla_sweep", cron: "*/30 * * * *", zone: "UTC", job: &SLA_SWEEP };

/// The job kinds maintenance enqueues.
pub static JOBS: &[&JobDecl] = &[&SLA_SWEEP];
/// Maintenance's schedules.
pub static SCHEDULES: &[&ScheduleDecl] = &[&SLA_SWEEP_EVERY_30_MIN];
