//! The periodic work the seeds ran with `pg_cron` and scheduled edge functions, wired to the
//! existing commands — each handler is one call into a core service as the system, nothing more:
//!
//! | job kind (schedule) | when | the command |
//! | --- | --- | --- |
//! | `maintenance.sla_sweep` | every 30 min (Viramah §10) | [`Maintenance::escalate_overdue`] |
//! | `ledger.reconcile` | nightly, 02:00 Asia/Kolkata (Viramah §13–§14) | [`Ledger::reconcile`] |
//! | `ledger.expire_holds` | every minute | [`Ledger::expire_pending`] |
//! | `amenities.generate_slots` | daily, 00:00 Asia/Kolkata (Viramah §9) | [`Amenities::generate_daily_slots`] |
//! | `payments.expire_intents` | every 5 min | [`Payments::expire_intents`] |
//! | `rooms.expire_reservations` | every 5 min | [`Rooms::expire_holds`] |
//!
//! The kinds and schedules are declared by their domains (`<domain>::jobs`); this module only binds
//! them to the services. Each command is safe to run concurrently and repeatedly (each breach,
//! hold, intent and reservation is settled once, slot ids are derived), so a job that runs again
//! after its worker died changes nothing twice.

use super::Registry;
use hearth_core::actor::Actor;
use hearth_core::amenities::Amenities;
use hearth_core::error::Error;
use hearth_core::id::IdSource;
use hearth_core::kernel::jobs::schedule::Occurrence;
use hearth_core::kernel::jobs::{payload_as, Failure, Job};
use hearth_core::kernel::Store;
use hearth_core::ledger::Ledger;
use hearth_core::maintenance::Maintenance;
use hearth_core::payments::Payments;
use hearth_core::rooms::Rooms;
use hearth_core::time::Clock;
use std::sync::Arc;

/// Holds released per `ledger.expire_holds` run (the next minute takes the rest).
pub const EXPIRE_HOLDS_PER_RUN: u32 = 1_000;

/// A failed command as a job failure: the store being unavailable or a lost race is worth retrying;
/// anything else (a refusal, a broken invariant) is retried too — a sweep refused now may pass
/// after a fix — and dies after the kind's attempts with the error kept.
fn failure(e: Error) -> Failure {
    Failure::Transient(format!("{}: {}", e.code, e.message))
}

fn occurrence(job: &Job) -> Result<Occurrence, Failure> {
    payload_as::<Occurrence>(&job.payload).map_err(|e| Failure::Fatal(format!("payload: {e}")))
}

/// The services the periodic work calls, over one store.
struct Services<S> {
    maintenance: Maintenance<S>,
    ledger: Ledger<S>,
    amenities: Amenities<S>,
    payments: Payments<S>,
    rooms: Rooms<S>,
}

/// Registers a handler for every periodic job kind, each calling its command as the system.
pub fn register<S: Store + Clone + 'static>(
    registry: &mut Registry,
    store: S,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
) -> Result<(), Error> {
    let s = Arc::new(Services {
        maintenance: Maintenance::new(store.clone(), clock.clone(), ids.clone()),
        ledger: Ledger::new(store.clone(), clock.clone(), ids.clone()),
        amenities: Amenities::new(store.clone(), clock.clone(), ids.clone()),
        // Expiring intents needs no gateway: verification is for webhooks.
        payments: Payments::new(store.clone(), clock.clone(), ids.clone(), Vec::new()),
        rooms: Rooms::new(store, clock, ids),
    });
    let system = Actor::System;

    let (sv, who) = (s.clone(), system.clone());
    registry.register_fn(&hearth_core::maintenance::jobs::SLA_SWEEP, move |job| {
        let (sv, who) = (sv.clone(), who.clone());
        async move {
            occurrence(&job)?;
            sv.maintenance.escalate_overdue(&who).await.map(|_| ()).map_err(failure)
        }
    })?;
    let (sv, who) = (s.clone(), system.clone());
    registry.register_fn(&hearth_core::ledger::jobs::RECONCILE, move |job| {
        let (sv, who) = (sv.clone(), who.clone());
        async move {
            occurrence(&job)?;
            sv.ledger.reconcile(&who).await.map(|_| ()).map_err(failure)
        }
    })?;
    let (sv, who) = (s.clone(), system.clone());
    registry.register_fn(&hearth_core::ledger::jobs::EXPIRE_HOLDS, move |job| {
        let (sv, who) = (sv.clone(), who.clone());
        async move {
            occurrence(&job)?;
            sv.ledger.expire_pending(&who, EXPIRE_HOLDS_PER_RUN).await.map(|_| ()).map_err(failure)
        }
    })?;
    let (sv, who) = (s.clone(), system.clone());
    registry.register_fn(&hearth_core::amenities::jobs::GENERATE_SLOTS, move |job| {
        let (sv, who) = (sv.clone(), who.clone());
        async move {
            let at = occurrence(&job)?.at;
            sv.amenities.generate_daily_slots(&who, at).await.map(|_| ()).map_err(failure)
        }
    })?;
    let (sv, who) = (s.clone(), system.clone());
    registry.register_fn(&hearth_core::payments::jobs::EXPIRE_INTENTS, move |job| {
        let (sv, who) = (sv.clone(), who.clone());
        async move {
            occurrence(&job)?;
            sv.payments.expire_intents(&who).await.map(|_| ()).map_err(failure)
        }
    })?;
    let (sv, who) = (s, system);
    registry.register_fn(&hearth_core::rooms::jobs::EXPIRE_RESERVATIONS, move |job| {
        let (sv, who) = (sv.clone(), who.clone());
        async move {
            occurrence(&job)?;
            sv.rooms.expire_holds(&who).await.map(|_| ()).map_err(failure)
        }
    })?;
    Ok(())
}
