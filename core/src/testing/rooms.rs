//! Room conformance tests: the same on every store.

use super::fixtures::refused;
use crate::actor::{Actor, Role};
use crate::canteen::CanteenStore;
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::entity::Entity;
use crate::kernel::store::Store;
use crate::rooms::{ReservationStatus, Room, RoomStore, Rooms, LUNCHBOX_CHARGE};
use crate::system::RandomIds;
use crate::time::ManualClock;
use std::sync::Arc;

pub struct Hostel<S> {
    pub rooms: Rooms<S>,
    pub clock: Arc<ManualClock>,
    pub admin: Actor,
}

impl<S: Store + Clone + 'static> Hostel<S> {
    pub fn new(store: S) -> Self {
        let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
        let rooms = Rooms::new(store, clock.clone(), Arc::new(RandomIds));
        Self { rooms, clock, admin: Actor::user(UserId::generate(&RandomIds), [Role::Admin]) }
    }
    pub fn applicant(&self) -> Actor {
        Actor::user(UserId::generate(&RandomIds), [Role::PendingResident])
    }
    pub async fn room(&self, number: &str, beds: i64) -> Room {
        self.rooms.add_room(&self.admin, number, beds).await.unwrap()
    }
    pub async fn assert_counter_matches(&self, room: &Room) {
        let store = self.rooms.runner().store();
        let r = store.room(room.id).await.unwrap().unwrap().value;
        assert_eq!(u64::from(r.reserved), store.count_live_reservations(room.id).await.unwrap());
        assert!(r.reserved <= r.beds);
    }
}

pub async fn rooms_the_last_bed_goes_to_exactly_one<S: Store + Clone + 'static>(store: S) {
    const APPLICANTS: usize = 16;
    let h = Arc::new(Hostel::new(store));
    let room = h.room("A-101", 2).await;
    h.rooms.reserve(&h.applicant(), room.id, false).await.unwrap(); // one bed left
    let barrier = Arc::new(tokio::sync::Barrier::new(APPLICANTS));
    let tasks: Vec<_> = (0..APPLICANTS)
        .map(|_| {
            let (h, b, who, id) = (h.clone(), barrier.clone(), h.applicant(), room.id);
            tokio::spawn(async move {
                b.wait().await;
                h.rooms.reserve(&who, id, false).await
            })
        })
        .collect();
    let (mut won, mut full) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => {
                assert_eq!(e.code, ErrorCode::CapacityExhausted, "{e:?}");
                full += 1;
            }
        }
    }
    assert_eq!((won, full), (1, APPLICANTS - 1));
    h.assert_counter_matches(&room).await;
}

pub async fn rooms_reservations_are_confirmed_or_released_exactly_once<S: Store + Clone + 'static>(store: S) {
    let h = Arc::new(Hostel::new(store));
    let room = h.room("B-204", 3).await;
    let priya = h.applicant();
    let held = h.rooms.reserve(&priya, room.id, true).await.unwrap();
    assert_eq!((held.status, held.additional_charge), (ReservationStatus::Held, LUNCHBOX_CHARGE));
    assert_eq!(LUNCHBOX_CHARGE.to_string(), "3000.00 INR");
    let store = h.rooms.runner().store();
    refused(store, ErrorCode::Conflict, h.rooms.reserve(&priya, room.id, false)).await; // one bed each
    refused(store, ErrorCode::Forbidden, h.rooms.settle(&priya, held.id, true)).await;
    // Approval confirms the bed and makes the room the resident's delivery address.
    let ok = h.rooms.settle(&h.admin, held.id, true).await.unwrap();
    assert_eq!(ok.status, ReservationStatus::Confirmed);
    assert_eq!(store.resident_room(priya.user_id().unwrap()).await.unwrap().as_deref(), Some("B-204"));
    refused(store, ErrorCode::InvalidTransition, h.rooms.settle(&h.admin, held.id, false)).await;
    // Rejection frees the bed at once.
    let arun = h.applicant();
    let r = h.rooms.reserve(&arun, room.id, false).await.unwrap();
    assert_eq!(r.additional_charge.to_minor(), Some(0));
    h.rooms.settle(&h.admin, r.id, false).await.unwrap();
    h.assert_counter_matches(&room).await;
    // Lapsed holds: a hold lasts `HOLD_HOURS` (72 h). One second before, it is approved and the
    // sweep finds nothing; at exactly 72 h it has lapsed: never approved late, released by the sweep
    // exactly once, even when sweeps race.
    let on_time = h.rooms.reserve(&h.applicant(), room.id, false).await.unwrap();
    let late = h.rooms.reserve(&h.applicant(), room.id, false).await.unwrap();
    h.clock.advance(chrono::Duration::hours(crate::rooms::HOLD_HOURS) - chrono::Duration::seconds(1));
    assert!(h.rooms.expire_holds(&Actor::System).await.unwrap().is_empty());
    assert_eq!(h.rooms.settle(&h.admin, on_time.id, true).await.unwrap().status, ReservationStatus::Confirmed);
    h.clock.advance(chrono::Duration::seconds(1));
    refused(store, ErrorCode::PreconditionFailed, h.rooms.settle(&h.admin, late.id, true)).await;
    let events_before = store.outbox_after(0, 10_000).await.unwrap().len();
    const SWEEPS: usize = 4;
    let barrier = Arc::new(tokio::sync::Barrier::new(SWEEPS));
    let sweeps: Vec<_> = (0..SWEEPS)
        .map(|_| {
            let (h, barrier) = (h.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                h.rooms.expire_holds(&Actor::System).await.unwrap()
            })
        })
        .collect();
    let mut released = Vec::new();
    for s in sweeps {
        released.extend(s.await.unwrap());
    }
    assert_eq!(released, [late.id], "released exactly once, by one sweep");
    let expired = store.reservation(late.id).await.unwrap().unwrap();
    assert_eq!((expired.value.status, expired.version), (ReservationStatus::Expired, 2));
    let trail = store.audit_trail(expired.value.entity_ref()).await.unwrap();
    assert_eq!(trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "expired"]);
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let published: Vec<_> = events[events_before..].iter().map(|(_, e)| (e.topic.as_str(), e.entity.id)).collect();
    assert_eq!(published, [("rooms.reservation.expired", late.id.as_uuid())]);
    h.assert_counter_matches(&room).await;
    assert_eq!(store.room(room.id).await.unwrap().unwrap().value.reserved, 2, "only the two confirmed beds");
    let resident = Actor::user(UserId::generate(&RandomIds), [Role::Resident]);
    refused(store, ErrorCode::Forbidden, h.rooms.reserve(&resident, room.id, false)).await;
    refused(store, ErrorCode::Conflict, h.rooms.add_room(&h.admin, "B-204", 2)).await;
    // numbers are unique
}

pub async fn rooms_reserve_and_release_storm_keeps_the_counter_exact<S: Store + Clone + 'static>(store: S) {
    const TASKS: usize = 24;
    let h = Arc::new(Hostel::new(store));
    let room = h.room("C-303", 3).await;
    let store = h.rooms.runner().store();
    let events_before = store.outbox_after(0, 10_000).await.unwrap().len();
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|k| {
            let (h, id, who, barrier) = (h.clone(), room.id, h.applicant(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut released = Vec::new();
                for step in 0..6 {
                    match h.rooms.reserve(&who, id, (k + step) % 2 == 0).await {
                        Ok(r) => {
                            h.rooms.settle(&h.admin, r.id, false).await.unwrap();
                            released.push(r.id);
                        }
                        // Each applicant's last reservation was released (which frees the bed at
                        // once) before they reserve again, so `conflict` ("you already hold a bed")
                        // cannot be the answer: the only refusal is a full room.
                        Err(e) => assert_eq!(e.code, ErrorCode::CapacityExhausted, "{e:?}"),
                    }
                }
                released
            })
        })
        .collect();
    let mut released = Vec::new();
    for t in tasks {
        released.extend(t.await.unwrap());
    }
    h.assert_counter_matches(&room).await;
    assert_eq!(store.room(room.id).await.unwrap().unwrap().value.reserved, 0, "every task released its beds");
    assert!(released.len() >= 3, "the storm reserved beds");
    // Each reservation was created and released once: audited and published exactly so.
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let count = |topic: &str| events[events_before..].iter().filter(|(_, e)| e.topic == topic).count();
    assert_eq!(count("rooms.reservation.create"), released.len());
    assert_eq!(count("rooms.reservation.released"), released.len());
    assert_eq!(events.len() - events_before, 2 * released.len());
    for id in &released {
        let r = store.reservation(*id).await.unwrap().unwrap();
        assert_eq!((r.value.status, r.version), (ReservationStatus::Released, 2));
        let trail = store.audit_trail(r.value.entity_ref()).await.unwrap();
        assert_eq!(trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "released"]);
    }
}

crate::conformance_cases!("rooms";
    rooms_the_last_bed_goes_to_exactly_one,
    rooms_reservations_are_confirmed_or_released_exactly_once,
    rooms_reserve_and_release_storm_keeps_the_counter_exact
);
