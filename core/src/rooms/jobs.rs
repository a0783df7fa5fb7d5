//! Rooms' periodic work: releasing the beds of reservations whose hold lapsed (a hold lasts
//! [`super::HOLD_HOURS`]). The work is [`super::Rooms::expire_holds`]; `hearth-runtime` wires the
//! kind to it.

use crate::kernel::jobs::schedule::{validate_occurrence, ScheduleDecl};
use crate::kernel::jobs::{Backoff, JobDecl};

/// Release lapsed bed reservations (payload: the occurrence).
pub static EXPIRE_RESERVATIONS: JobDecl = JobDecl {
    kind: "rooms.expire_reservations",
    validate: validate_occurrence,
    priority: 0,
    max_attempts: 3,
    backoff: Backoff { base_ms: 10_000, cap_ms: 300_000 },
};

/// Every 5 minutes.
pub static EXPIRE_RESERVATIONS_EVERY_5_MIN: ScheduleDecl =
    ScheduleDecl { name: "rooms.expire_reservations", cron: "*/5 * * * *", zone: "UTC", job: &EXPIRE_RESERVATIONS };

/// The job kinds rooms enqueue.
pub static JOBS: &[&JobDecl] = &[&EXPIRE_RESERVATIONS];
/// Rooms' schedules.
pub static SCHEDULES: &[&ScheduleDecl] = &[&EXPIRE_RESERVATIONS_EVERY_5_MIN];
