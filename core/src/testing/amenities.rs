//! Amenity booking conformance tests: the same on every store.

use super::fixtures::refused;
use crate::actor::{Actor, Role};
use crate::amenities::{Amenities, Amenity, AmenityStatus, AmenityStore, Slot, TemplateInput};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::entity::Entity;
use crate::kernel::store::Store;
use crate::system::RandomIds;
use crate::time::ManualClock;
use chrono::NaiveDate;
use std::sync::Arc;

pub struct Gym<S> {
    pub svc: Amenities<S>,
    pub clock: Arc<ManualClock>,
    pub manager: Actor,
    pub gym: Amenity,
}

pub fn tomorrow() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 2).expect("valid date")
}

impl<S: Store + Clone + 'static> Gym<S> {
    pub async fn new(store: S, capacity: i64) -> Self {
        let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
        let svc = Amenities::new(store, clock.clone(), Arc::new(RandomIds));
        let manager = Actor::user(UserId::generate(&RandomIds), [Role::AmenityManager]);
        let template = TemplateInput {
            opens: Some("06:00".into()),
            closes: Some("22:00".into()),
            slot_minutes: Some(60),
            capacity: Some(capacity),
            time_zone: Some("Asia/Kolkata".into()),
        };
        let gym = svc.create(&manager, "Gym", template).await.unwrap();
        Self { svc, clock, manager, gym }
    }
    pub fn resident(&self) -> Actor {
        Actor::user(UserId::generate(&RandomIds), [Role::Resident])
    }
    pub async fn first_slot(&self) -> Slot {
        let mut slots = self.svc.generate_slots(&self.manager, self.gym.id, tomorrow()).await.unwrap();
        if slots.is_empty() {
            slots = self.svc.slots(&self.manager, self.gym.id, tomorrow()).await.unwrap();
        }
        slots.remove(0)
    }
    pub async fn assert_counter_matches(&self, slot: &Slot) {
        let store = self.svc.runner().store();
        let s = store.slot(slot.id).await.unwrap().unwrap().value;
        let live = store.count_live_bookings(slot.id).await.unwrap();
        assert_eq!(u64::from(s.booked), live, "booked equals the live bookings");
        assert!(s.booked <= s.capacity, "never above capacity");
    }
}

pub async fn amenity_slots_generate_once_even_when_generators_race<S: Store + Clone + 'static>(store: S) {
    let g = Arc::new(Gym::new(store, 10).await);
    let first = g.svc.generate_slots(&g.manager, g.gym.id, tomorrow()).await.unwrap();
    assert_eq!(first.len(), 16, "06:00–22:00 in hours");
    assert_eq!(first[0].starts_at.to_string(), "2026-06-02T00:30:00Z", "06:00 in Asia/Kolkata");
    assert!(
        g.svc.generate_slots(&g.manager, g.gym.id, tomorrow()).await.unwrap().is_empty(),
        "a rerun creates nothing"
    );
    let day = NaiveDate::from_ymd_opt(2026, 6, 3).unwrap();
    let store = g.svc.runner().store();
    let events_before = store.outbox_after(0, 10_000).await.unwrap().len();
    const GENERATORS: usize = 4;
    let barrier = Arc::new(tokio::sync::Barrier::new(GENERATORS));
    let tasks: Vec<_> = (0..GENERATORS)
        .map(|_| {
            let (g, barrier) = (g.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                g.svc.generate_slots(&g.manager, g.gym.id, day).await.unwrap()
            })
        })
        .collect();
    let mut created = Vec::new();
    for t in tasks {
        created.extend(t.await.unwrap().into_iter().map(|s| s.id));
    }
    created.sort();
    let mut stored: Vec<_> = g.svc.slots(&g.manager, g.gym.id, day).await.unwrap().into_iter().map(|s| s.id).collect();
    stored.sort();
    assert_eq!(created, stored, "racing generators create each slot once, and report exactly the ones they created");
    assert_eq!(stored.len(), 16);
    // One audited `create` and one event per slot, none twice.
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let mut published: Vec<_> = events[events_before..]
        .iter()
        .map(|(_, e)| {
            assert_eq!(e.topic, "amenities.slot.create");
            crate::id::SlotId::from_uuid(e.entity.id)
        })
        .collect();
    published.sort();
    assert_eq!(published, stored);
    let resident = g.resident();
    refused(store, ErrorCode::Forbidden, g.svc.generate_slots(&resident, g.gym.id, day)).await;
    let bad = TemplateInput { time_zone: Some("Nowhere/Else".into()), ..TemplateInput::default() };
    refused(store, ErrorCode::Validation, g.svc.create(&g.manager, "Pool", bad)).await;
}

pub async fn amenity_64_bookers_on_a_slot_of_capacity_10<S: Store + Clone + 'static>(store: S) {
    const BOOKERS: usize = 64;
    let g = Arc::new(Gym::new(store, 10).await);
    let slot = g.first_slot().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(BOOKERS));
    let tasks: Vec<_> = (0..BOOKERS)
        .map(|_| {
            let (g, barrier, slot_id, who) = (g.clone(), barrier.clone(), slot.id, g.resident());
            tokio::spawn(async move {
                barrier.wait().await;
                g.svc.book(&who, slot_id).await
            })
        })
        .collect();
    let (mut ok, mut full) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.code, ErrorCode::CapacityExhausted, "{e:?}");
                assert_eq!(e.message, "the slot is full");
                full += 1;
            }
        }
    }
    assert_eq!((ok, full), (10, 54));
    g.assert_counter_matches(&slot).await;
}

pub async fn amenity_booking_rules_hold<S: Store + Clone + 'static>(store: S) {
    let g = Arc::new(Gym::new(store, 2).await);
    let slot = g.first_slot().await;
    let alice = g.resident();
    let store = g.svc.runner().store();
    let events_before = store.outbox_after(0, 10_000).await.unwrap().len();
    // A double tap, eight times at once: one seat. The rule (`BookSlot`): a second seat for the same
    // user in the same slot is `conflict` ("you already hold a seat"), whenever it loses.
    const TAPS: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(TAPS));
    let tasks: Vec<_> = (0..TAPS)
        .map(|_| {
            let (g, a, s, barrier) = (g.clone(), alice.clone(), slot.id, barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                g.svc.book(&a, s).await
            })
        })
        .collect();
    let mut seats = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(b) => seats.push(b),
            Err(e) => assert_eq!(e.code, ErrorCode::Conflict, "{e:?}"),
        }
    }
    assert_eq!(seats.len(), 1, "one seat per user per slot");
    assert_eq!(g.svc.upcoming_bookings(&g.manager, g.gym.id).await.unwrap(), seats);
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let published: Vec<_> = events[events_before..].iter().map(|(_, e)| (e.topic.as_str(), e.entity.id)).collect();
    assert_eq!(published, [("amenities.booking.create", seats[0].id.as_uuid())], "one seat, one event");
    g.assert_counter_matches(&slot).await;
    let bob = g.resident();
    let bobs = g.svc.book(&bob, slot.id).await.unwrap();
    let carol = g.resident();
    refused(store, ErrorCode::CapacityExhausted, g.svc.book(&carol, slot.id)).await;
    // Cancelling frees the seat at once; only the holder or staff cancel; cancelled is final.
    let stranger = g.resident();
    refused(store, ErrorCode::NotFound, g.svc.cancel(&stranger, bobs.id)).await;
    g.svc.cancel(&bob, bobs.id).await.unwrap();
    refused(store, ErrorCode::InvalidTransition, g.svc.cancel(&bob, bobs.id)).await;
    let carols = g.svc.book(&carol, slot.id).await.unwrap();
    g.assert_counter_matches(&slot).await;
    // Maintenance: new bookings refused, existing ones kept and listed for staff.
    g.svc.set_status(&g.manager, g.gym.id, AmenityStatus::Maintenance).await.unwrap();
    let later = g.svc.slots(&bob, g.gym.id, tomorrow()).await.unwrap()[1].clone();
    refused(store, ErrorCode::PreconditionFailed, g.svc.book(&bob, later.id)).await;
    let listed = g.svc.upcoming_bookings(&g.manager, g.gym.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|b| b.id == carols.id));
    refused(store, ErrorCode::Forbidden, g.svc.upcoming_bookings(&bob, g.gym.id)).await;
    g.svc.set_status(&g.manager, g.gym.id, AmenityStatus::Active).await.unwrap();
    // Only residents book; nobody books a slot that has started: one second before its start a seat
    // is booked, at its start and after it is refused.
    let guest = Actor::user(UserId::generate(&RandomIds), [Role::Customer]);
    refused(store, ErrorCode::Forbidden, g.svc.book(&guest, later.id)).await;
    refused(store, ErrorCode::Unauthenticated, g.svc.book(&Actor::Anonymous, later.id)).await;
    g.clock.set(later.starts_at.checked_sub(chrono::Duration::seconds(1)).unwrap());
    g.svc.book(&bob, later.id).await.unwrap();
    g.clock.set(later.starts_at);
    refused(store, ErrorCode::PreconditionFailed, g.svc.book(&carol, later.id)).await;
    g.clock.advance(chrono::Duration::seconds(1));
    refused(store, ErrorCode::PreconditionFailed, g.svc.book(&carol, later.id)).await;
}

pub async fn amenity_book_and_cancel_storm_keeps_the_counter_exact<S: Store + Clone + 'static>(store: S) {
    const TASKS: usize = 32;
    let g = Arc::new(Gym::new(store, 5).await);
    let slot = g.first_slot().await;
    let store = g.svc.runner().store();
    let events_before = store.outbox_after(0, 10_000).await.unwrap().len();
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|k| {
            let (g, s, who, barrier) = (g.clone(), slot.id, g.resident(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let (mut held, mut booked, mut cancelled) = (None, Vec::new(), Vec::new());
                for step in 0..12 {
                    if (k + step) % 3 == 0 {
                        if let Some(b) = held.take() {
                            g.svc.cancel(&who, b).await.unwrap();
                            cancelled.push(b);
                        }
                    } else if held.is_none() {
                        match g.svc.book(&who, s).await {
                            Ok(b) => {
                                held = Some(b.id);
                                booked.push(b.id);
                            }
                            // This user holds no seat (their last one was cancelled, which frees it at
                            // once), so `conflict` ("you already hold a seat") cannot be the answer:
                            // the only refusal is a full slot.
                            Err(e) => assert_eq!(e.code, ErrorCode::CapacityExhausted, "{e:?}"),
                        }
                    }
                }
                (held, booked, cancelled)
            })
        })
        .collect();
    let (mut held, mut booked, mut cancelled) = (Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let (h, b, c) = t.await.unwrap();
        held.extend(h);
        booked.extend(b);
        cancelled.extend(c);
    }
    g.assert_counter_matches(&slot).await;
    // The counter equals the seats the tasks still hold, and those are exactly the live bookings.
    let s = store.slot(slot.id).await.unwrap().unwrap().value;
    assert_eq!(s.booked as usize, held.len());
    let mut live: Vec<_> =
        g.svc.upcoming_bookings(&g.manager, g.gym.id).await.unwrap().into_iter().map(|b| b.id).collect();
    live.sort();
    held.sort();
    assert_eq!(live, held);
    assert!(booked.len() > held.len(), "the storm cancelled and rebooked");
    // Every booking and every cancellation is audited and published exactly once.
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let count = |topic: &str| events[events_before..].iter().filter(|(_, e)| e.topic == topic).count();
    assert_eq!(count("amenities.booking.create"), booked.len());
    assert_eq!(count("amenities.booking.cancelled"), cancelled.len());
    assert_eq!(events.len() - events_before, booked.len() + cancelled.len());
    for id in &booked {
        let b = store.amenity_booking(*id).await.unwrap().unwrap().value;
        let trail = store.audit_trail(b.entity_ref()).await.unwrap();
        let actions: Vec<_> = trail.iter().map(|a| a.action.as_str()).collect();
        let expected: &[&str] = if cancelled.contains(id) { &["create", "cancelled"] } else { &["create"] };
        assert_eq!(actions, expected, "{id:?}");
    }
}

crate::conformance_cases!("amenities";
    amenity_slots_generate_once_even_when_generators_race,
    amenity_64_bookers_on_a_slot_of_capacity_10,
    amenity_booking_rules_hold,
    amenity_book_and_cancel_storm_keeps_the_counter_exact
);
