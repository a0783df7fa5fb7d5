//! Payments' periodic work: closing the intents whose payment never came (an intent lives
//! [`super::INTENT_TTL_SECS`]). The work is [`super::Payments::expire_intents`]; `hearth-runtime`
//! wires the kind to it.

use crate::kernel::jobs::schedule::{validate_occurrence, ScheduleDecl};
use crate::kernel::jobs::{Backoff, JobDecl};

/// Expire the intents past their time to live (payload: the occurrence).
pub static EXPIRE_INTENTS: JobDecl = JobDecl {
    kind: "payments.expire_intents",
    validate: validate_occurrence,
    priority: 0,
    max_attempts: 3,
    backoff: Backoff { base_ms: 10_000, cap_ms: 120_000 },
};

/// Every 5 minutes.
pub static EXPIRE_INTENTS_EVERY_5_MIN: ScheduleDecl =
    ScheduleDecl { name: "payments.expire_intents", cron: "*/5 * * * *", zone: "UTC", job: &EXPIRE_INTENTS };

/// The job kinds payments enqueue.
pub static JOBS: &[&JobDecl] = &[&EXPIRE_INTENTS];
/// Payments' schedules.
pub static SCHEDULES: &[&ScheduleDecl] = &[&EXPIRE_INTENTS_EVERY_5_MIN];
