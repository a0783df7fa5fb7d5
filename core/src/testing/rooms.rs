//! Room conformance tests: the same on every store.

use crate::actor::{Actor, Role};
use crate::canteen::CanteenStore;
use crate::error::ErrorCode;
use crate::id::UserId;
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
    assert_eq!(h.rooms.reserve(&priya, room.id, false).await.unwrap_err().code, ErrorCode::Conflict, "one bed each");
    assert_eq!(h.rooms.settle(&priya, held.id, true).await.unwrap_err().code, ErrorCode::Forbidden);
    // Approval confirms the bed and makes the room the resident's delivery address.
    let ok = h.rooms.settle(&h.admin, held.id, true).await.unwrap();
    assert_eq!(ok.status, ReservationStatus::Confirmed);
    let store = h.rooms.runner().store();
    assert_eq!(store.resident_room(priya.user_id().unwrap()).await.unwrap().as_deref(), Some("B-204"));
    assert_eq!(h.rooms.settle(&h.admin, held.id, false).await.unwrap_err().code, ErrorCode::InvalidTransition);
    // Rejection frees the bed at once.
    let arun = h.applicant();
    let r = h.rooms.reserve(&arun, room.id, false).await.unwrap();
    assert_eq!(r.additional_charge.to_minor(), Some(0));
    h.rooms.settle(&h.admin, r.id, false).await.unwrap();
    h.assert_counter_matches(&room).await;
    // Lapsed holds: released by the sweep exactly once, even when sweeps race; never approved late.
    let late = h.rooms.reserve(&h.applicant(), room.id, false).await.unwrap();
    h.clock.advance(chrono::Duration::hours(crate::rooms::HOLD_HOURS + 1));
    assert_eq!(h.rooms.settle(&h.admin, late.id, true).await.unwrap_err().code, ErrorCode::PreconditionFailed);
    let sweeps: Vec<_> = (0..4)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.rooms.expire_holds(&Actor::System).await.unwrap().len() })
        })
        .collect();
    let mut released = 0;
    for s in sweeps {
        released += s.await.unwrap();
    }
    assert_eq!(released, 1);
    assert_eq!(store.reservation(late.id).await.unwrap().unwrap().value.status, ReservationStatus::Expired);
    h.assert_counter_matches(&room).await;
    assert_eq!(store.room(room.id).await.unwrap().unwrap().value.reserved, 1, "only the confirmed bed");
    let resident = Actor::user(UserId::generate(&RandomIds), [Role::Resident]);
    assert_eq!(h.rooms.reserve(&resident, room.id, false).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(
        h.rooms.add_room(&h.admin, "B-204", 2).await.unwrap_err().code,
        ErrorCode::Conflict,
        "numbers are unique"
    );
}

pub async fn rooms_reserve_and_release_storm_keeps_the_counter_exact<S: Store + Clone + 'static>(store: S) {
    const TASKS: usize = 24;
    let h = Arc::new(Hostel::new(store));
    let room = h.room("C-303", 3).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|k| {
            let (h, id, who) = (h.clone(), room.id, h.applicant());
            tokio::spawn(async move {
                for step in 0..6 {
                    match h.rooms.reserve(&who, id, (k + step) % 2 == 0).await {
                        Ok(r) => {
                            h.rooms.settle(&h.admin, r.id, false).await.unwrap();
                        }
                        Err(e) => {
                            assert!(matches!(e.code, ErrorCode::CapacityExhausted | ErrorCode::Conflict), "{e:?}")
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    h.assert_counter_matches(&room).await;
    assert_eq!(h.rooms.runner().store().room(room.id).await.unwrap().unwrap().value.reserved, 0);
}

crate::conformance_cases!("rooms";
    rooms_the_last_bed_goes_to_exactly_one,
    rooms_reservations_are_confirmed_or_released_exactly_once,
    rooms_reserve_and_release_storm_keeps_the_counter_exact
);
