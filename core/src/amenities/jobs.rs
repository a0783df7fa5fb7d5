//! The amenities' periodic work (Viramah §9: "Slots are pre-generated daily by a scheduled Edge
//! Function (runs at midnight)"). The work is [`super::Amenities::generate_daily_slots`];
//! `hearth-runtime` wires the kind to it.

use crate::kernel::jobs::schedule::{validate_occurrence, ScheduleDecl};
use crate::kernel::jobs::{Backoff, JobDecl};

/// Generate every amenity's slots for the local date of the occurrence (payload: the occurrence).
pub static GENERATE_SLOTS: JobDecl = JobDecl {
    kind: "amenities.generate_slots",
    validate: validate_occurrence,
    priority: 0,
    max_attempts: 5,
    backoff: Backoff { base_ms: 30_000, cap_ms: 900_000 },
};

/// Daily at midnight, India time.
pub static GENERATE_SLOTS_DAILY: ScheduleDecl =
    ScheduleDecl { name: "amenities.generate_slots", cron: "0 0 * * *", zone: "Asia/Kolkata", job: &GENERATE_SLOTS };

/// The job kinds the amenities enqueue.
pub static JOBS: &[&JobDecl] = &[&GENERATE_SLOTS];
/// The amenities' schedules.
pub static SCHEDULES: &[&ScheduleDecl] = &[&GENERATE_SLOTS_DAILY];
