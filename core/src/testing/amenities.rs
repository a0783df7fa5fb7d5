//! Amenity booking conformance tests: the same on every store.

use crate::actor::{Actor, Role};
use crate::amenities::{Amenities, Amenity, AmenityStatus, AmenityStore, Slot, TemplateInput};
use crate::error::ErrorCode;
use crate::id::UserId;
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
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let g = g.clone();
            tokio::spawn(async move { g.svc.generate_slots(&g.manager, g.gym.id, day).await.unwrap().len() })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        created += t.await.unwrap();
    }
    assert_eq!(created, 16, "racing generators create each slot once");
    assert_eq!(g.svc.slots(&g.manager, g.gym.id, day).await.unwrap().len(), 16);
    let resident = g.resident();
    assert_eq!(g.svc.generate_slots(&resident, g.gym.id, day).await.unwrap_err().code, ErrorCode::Forbidden);
    let bad = TemplateInput { time_zone: Some("Nowhere/Else".into()), ..TemplateInput::default() };
    let err = g.svc.create(&g.manager, "Pool", bad).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Validation);
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
    // A double tap, eight times at once: one seat.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (g, a, s) = (g.clone(), alice.clone(), slot.id);
            tokio::spawn(async move { g.svc.book(&a, s).await })
        })
        .collect();
    let mut seats = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => seats += 1,
            Err(e) => assert_eq!(e.code, ErrorCode::Conflict, "{e:?}"),
        }
    }
    assert_eq!(seats, 1, "one seat per user per slot");
    let bob = g.resident();
    let bobs = g.svc.book(&bob, slot.id).await.unwrap();
    let carol = g.resident();
    assert_eq!(g.svc.book(&carol, slot.id).await.unwrap_err().code, ErrorCode::CapacityExhausted);
    // Cancelling frees the seat at once; only the holder or staff cancel; cancelled is final.
    let stranger = g.resident();
    assert_eq!(g.svc.cancel(&stranger, bobs.id).await.unwrap_err().code, ErrorCode::NotFound);
    g.svc.cancel(&bob, bobs.id).await.unwrap();
    assert_eq!(g.svc.cancel(&bob, bobs.id).await.unwrap_err().code, ErrorCode::InvalidTransition);
    let carols = g.svc.book(&carol, slot.id).await.unwrap();
    g.assert_counter_matches(&slot).await;
    // Maintenance: new bookings refused, existing ones kept and listed for staff.
    g.svc.set_status(&g.manager, g.gym.id, AmenityStatus::Maintenance).await.unwrap();
    let later = g.svc.slots(&bob, g.gym.id, tomorrow()).await.unwrap()[1].clone();
    assert_eq!(g.svc.book(&bob, later.id).await.unwrap_err().code, ErrorCode::PreconditionFailed);
    let listed = g.svc.upcoming_bookings(&g.manager, g.gym.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|b| b.id == carols.id));
    assert_eq!(g.svc.upcoming_bookings(&bob, g.gym.id).await.unwrap_err().code, ErrorCode::Forbidden);
    g.svc.set_status(&g.manager, g.gym.id, AmenityStatus::Active).await.unwrap();
    // Only residents book; nobody books a slot that has started.
    let guest = Actor::user(UserId::generate(&RandomIds), [Role::Customer]);
    assert_eq!(g.svc.book(&guest, later.id).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(g.svc.book(&Actor::Anonymous, later.id).await.unwrap_err().code, ErrorCode::Unauthenticated);
    g.clock.set(later.starts_at);
    assert_eq!(g.svc.book(&bob, later.id).await.unwrap_err().code, ErrorCode::PreconditionFailed);
}

pub async fn amenity_book_and_cancel_storm_keeps_the_counter_exact<S: Store + Clone + 'static>(store: S) {
    const TASKS: usize = 32;
    let g = Arc::new(Gym::new(store, 5).await);
    let slot = g.first_slot().await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|k| {
            let (g, s, who) = (g.clone(), slot.id, g.resident());
            tokio::spawn(async move {
                let mut held = None;
                for step in 0..12 {
                    if (k + step) % 3 == 0 {
                        if let Some(b) = held.take() {
                            g.svc.cancel(&who, b).await.unwrap();
                        }
                    } else if held.is_none() {
                        match g.svc.book(&who, s).await {
                            Ok(b) => held = Some(b.id),
                            Err(e) => {
                                assert!(matches!(e.code, ErrorCode::CapacityExhausted | ErrorCode::Conflict), "{e:?}")
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    g.assert_counter_matches(&slot).await;
}

crate::conformance_cases!("amenities";
    amenity_slots_generate_once_even_when_generators_race,
    amenity_64_bookers_on_a_slot_of_capacity_10,
    amenity_booking_rules_hold,
    amenity_book_and_cancel_storm_keeps_the_counter_exact
);
