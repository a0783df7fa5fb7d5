//! The ledger's periodic work: the nightly reconciliation (Viramah §14: "Automated nightly job
//! verifies that SUM(wallet_transactions) equals wallet_accounts.balance … any mismatch triggers an
//! immediate P0 alert and freezes the affected wallet") and the sweep that releases expired holds.
//! The work is [`super::Ledger::reconcile`] and [`super::Ledger::expire_pending`];
//! `hearth-runtime` wires the kinds to them.

use crate::kernel::jobs::schedule::{validate_occurrence, ScheduleDecl};
use crate::kernel::jobs::{Backoff, JobDecl};

/// Reconcile every account's cached totals with its transfers (payload: the occurrence).
pub static RECONCILE: JobDecl = JobDecl {
    kind: "ledger.reconcile",
    validate: validate_occurrence,
    priority: 0,
    max_attempts: 5,
    backoff: Backoff { base_ms: 60_000, cap_ms: 1_800_000 },
};

/// Release the pending transfers (holds) whose timeout passed (payload: the occurrence).
pub static EXPIRE_HOLDS: JobDecl = JobDecl {
    kind: "ledger.expire_holds",
    validate: validate_occurrence,
    priority: 10,
    max_attempts: 3,
    backoff: Backoff { base_ms: 5_000, cap_ms: 60_000 },
};

/// Nightly at 02:00, India time (Viramah's wallets are in INR).
pub static RECONCILE_NIGHTLY: ScheduleDecl =
    ScheduleDecl { name: "ledger.reconcile", cron: "0 2 * * *", zone: "Asia/Kolkata", job: &RECONCILE };

/// Every minute: a hold is expired for post/void from the instant `expires_at <= now`, and this
/// sweep gives its amount back within a minute of it.
pub static EXPIRE_HOLDS_EVERY_MINUTE: ScheduleDecl =
    ScheduleDecl { name: "ledger.expire_holds", cron: "* * * * *", zone: "UTC", job: &EXPIRE_HOLDS };

/// The job kinds the ledger enqueues.
pub static JOBS: &[&JobDecl] = &[&RECONCILE, &EXPIRE_HOLDS];
/// The ledger's schedules.
pub static SCHEDULES: &[&ScheduleDecl] = &[&RECONCILE_NIGHTLY, &EXPIRE_HOLDS_EVERY_MINUTE];
