//! Rooms (Viramah §5 step 3): during onboarding a resident soft-reserves a bed, with an expiry;
//! approval confirms it, rejection or expiry releases it — exactly once. Beds are a guarded counter
//! (`reserved <= beds`, a named CHECK), so concurrent selections of the last bed cannot both win.

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::canteen::{set_resident_room, CanteenStore, ResidentRoom};
use crate::error::{Error, ErrorCode};
use crate::id::{IdSource, ReservationId, RoomId, UserId};
use crate::kernel::access::require;
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::money::{Currency, Money};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{TextRule, ValidationErrors, Validator};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub mod jobs;
mod store;
pub use store::{RoomStore, DOMAIN};

/// How long a soft reservation waits for approval before the sweep releases it.
pub const HOLD_HOURS: i64 = 72;
/// The lunchbox option's fixed charge (Viramah §5): ₹3,000.
pub const LUNCHBOX_CHARGE: Money = lunchbox();
const fn lunchbox() -> Money {
    Money::from_minor_const(300_000, Currency::INR)
}
/// Most beds in one room.
pub const BEDS_MAX: i64 = 12;
/// Reservations released per sweep.
pub const EXPIRY_SWEEP_MAX: u32 = 1_000;

crate::homeheroes::model::wire_enum!(
    /// A reservation's state.
    ReservationStatus {
        /// Soft-reserved during onboarding; expires.
        Held = "held",
        /// Approved: the bed is the resident's.
        Confirmed = "confirmed",
        /// Rejected: the bed is free again.
        Released = "released",
        /// Not approved in time: the bed is free again.
        Expired = "expired",
    }
);

/// A room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// Id.
    pub id: RoomId,
    /// Its number (`B-204`), unique.
    pub number: String,
    /// Beds.
    pub beds: u32,
    /// Beds held or confirmed. INVARIANT (beds): `reserved <= beds`, checked by core and by the store.
    pub reserved: u32,
}

/// A bed reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BedReservation {
    /// Id.
    pub id: ReservationId,
    /// The room.
    pub room_id: RoomId,
    /// The resident.
    pub user_id: UserId,
    /// State.
    pub status: ReservationStatus,
    /// The lunchbox option.
    pub lunchbox: bool,
    /// Computed by core: ₹3,000 with the lunchbox, zero without.
    pub additional_charge: Money,
    /// When a held reservation lapses.
    pub expires_at: Timestamp,
    /// When made.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

fn is_admin(actor: &Actor) -> bool {
    matches!(actor, Actor::System) || actor.is_admin()
}

/// Adds a room (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddRoom {
    /// Number.
    pub number: String,
    /// Beds (1–12).
    pub beds: i64,
}

impl AddRoom {
    /// Validates the input against `now`, without a store (clients call this offline).
    pub fn check(&self, _now: Timestamp) -> Result<(String, u32), ValidationErrors> {
        let mut v = Validator::new();
        let number = v.text("number", Some(&self.number), TextRule { min_chars: 1, max_chars: 20, multiline: false });
        let beds = v.int_range("beds", Some(self.beds), 1, BEDS_MAX);
        v.finish(|| Some((number?, u32::try_from(beds?).ok()?)))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AddRoom {
    const NAME: &'static str = "rooms.add";
    const FINGERPRINT_NAME: &'static str = "room.add";
    const READS: Reads = Reads::One;
    type Valid = (String, u32);
    type Loaded = Option<Versioned<Room>>;
    type Output = Room;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, (number, _): &Self::Valid) -> Result<Self::Loaded, Error> {
        // A taken number is refused here; one taken concurrently fails the insert on
        // `rooms_number_key`, and the retry reads it.
        Ok(store.room_numbered(number).await?)
    }
    fn decide(
        &self,
        actor: &Actor,
        (number, beds): &Self::Valid,
        existing: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Room, Error> {
        require(actor, Decision::when(is_admin(actor), "only admins manage rooms"))?;
        if existing.is_some() {
            return Err(Error::conflict(format!("room `{number}` already exists")));
        }
        let room = Room { id: RoomId::generate(cx.ids()), number: number.clone(), beds: *beds, reserved: 0 };
        cx.insert(room.clone())?;
        Ok(room)
    }
}

/// A pending resident soft-reserves a bed (onboarding step 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveBed {
    /// The room.
    pub room_id: RoomId,
    /// The lunchbox option.
    pub lunchbox: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for ReserveBed {
    const NAME: &'static str = "rooms.reserve";
    const FINGERPRINT_NAME: &'static str = "room.reserve";
    type Valid = ();
    type Loaded = (Option<Versioned<BedReservation>>, Option<Versioned<Room>>);
    type Output = BedReservation;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        // One snapshot: a reservation made concurrently fails the one-live-reservation index, a bed
        // taken concurrently fails the room's guard, and the runner decides again on fresh data.
        let mine = match actor.user_id() {
            Some(u) => store.live_reservation(u).await?,
            None => None,
        };
        Ok((mine, store.room(self.room_id).await?))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (mine, room): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<BedReservation, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        require(actor, Decision::when(actor.has_role(Role::PendingResident), "beds are reserved during onboarding"))?;
        if mine.is_some() {
            return Err(Error::conflict("you already hold a bed"));
        }
        let room = room.ok_or_else(|| Error::not_found("room"))?.value;
        if room.reserved >= room.beds {
            return Err(Error::new(ErrorCode::CapacityExhausted, "the room is full"));
        }
        let r = BedReservation {
            id: ReservationId::generate(cx.ids()),
            room_id: room.id,
            user_id: user,
            status: ReservationStatus::Held,
            lunchbox: self.lunchbox,
            additional_charge: if self.lunchbox { LUNCHBOX_CHARGE } else { Money::zero(Currency::INR) },
            expires_at: cx.now().checked_add(chrono::Duration::hours(HOLD_HOURS)).unwrap_or(cx.now()),
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        cx.insert(r.clone())?;
        cx.delta::<Room>(room.id.as_uuid(), &[("reserved", 1)])?;
        Ok(r)
    }
}

/// An admin approves (confirms) or rejects (releases) a held reservation; the sweep expires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settle {
    /// Approval: the bed is confirmed and the resident's delivery room set.
    Approve,
    /// Rejection: the bed is released.
    Reject,
    /// The hold lapsed (the sweep).
    Expire,
}

/// What settling a reservation reads.
pub struct SettleScene {
    /// The reservation.
    reservation: Option<Versioned<BedReservation>>,
    /// The reserved room (read on approval only).
    room: Option<Versioned<Room>>,
    /// The resident's current delivery room (read on approval only).
    delivery: Option<Versioned<ResidentRoom>>,
}

/// Settles one held reservation — at most once: the versioned update lets one settler win.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleReservation {
    /// The reservation.
    pub reservation_id: ReservationId,
    /// How.
    pub settle: Settle,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SettleReservation {
    const NAME: &'static str = "rooms.settle";
    const FINGERPRINT_NAME: &'static str = "room.settle";
    type Valid = ();
    type Loaded = SettleScene;
    type Output = BedReservation;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<SettleScene, Error> {
        let reservation = store.reservation(self.reservation_id).await?;
        let (room, delivery) = match (&reservation, self.settle) {
            // Approval makes the room the resident's delivery room: read their current one too.
            (Some(r), Settle::Approve) => {
                (store.room(r.value.room_id).await?, store.assigned_room(r.value.user_id).await?)
            }
            _ => (None, None),
        };
        Ok(SettleScene { reservation, room, delivery })
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        SettleScene { reservation: r, room, delivery }: SettleScene,
        cx: &mut Decide<'_>,
    ) -> Result<BedReservation, Error> {
        require(actor, Decision::when(is_admin(actor), "only admins settle reservations"))?;
        let before = r.ok_or_else(|| Error::not_found("reservation"))?;
        if before.value.status != ReservationStatus::Held {
            return Err(Error::new(
                ErrorCode::InvalidTransition,
                format!("cannot settle a reservation that is `{}`", before.value.status),
            ));
        }
        let lapsed = before.value.expires_at <= cx.now();
        let to = match (self.settle, lapsed) {
            (Settle::Expire, true) => ReservationStatus::Expired,
            (Settle::Expire, false) => return Err(Error::precondition("the hold has not lapsed")),
            (_, true) => return Err(Error::precondition("the hold has lapsed")),
            (Settle::Approve, false) => ReservationStatus::Confirmed,
            (Settle::Reject, false) => ReservationStatus::Released,
        };
        let mut after = before.value.clone();
        after.status = to;
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), to.as_str())?;
        match to {
            ReservationStatus::Confirmed => {
                let room = room.ok_or_else(|| Error::internal("reserved room missing"))?.value;
                set_resident_room(cx, delivery.as_ref(), after.user_id, &room.number)?;
            }
            _ => cx.delta::<Room>(after.room_id.as_uuid(), &[("reserved", -1)])?,
        }
        Ok(after)
    }
}

/// The rooms service.
pub struct Rooms<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Rooms<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Rooms<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Adds a room.
    pub async fn add_room(&self, actor: &Actor, number: &str, beds: i64) -> Result<Room, Error> {
        self.runner.execute(actor, None, &AddRoom { number: number.to_owned(), beds }).await
    }
    /// Soft-reserves a bed.
    pub async fn reserve(&self, actor: &Actor, room: RoomId, lunchbox: bool) -> Result<BedReservation, Error> {
        self.runner.execute(actor, None, &ReserveBed { room_id: room, lunchbox }).await
    }
    /// Approves or rejects a held reservation.
    pub async fn settle(
        &self,
        actor: &Actor,
        reservation: ReservationId,
        approve: bool,
    ) -> Result<BedReservation, Error> {
        let settle = if approve { Settle::Approve } else { Settle::Reject };
        self.runner.execute(actor, None, &SettleReservation { reservation_id: reservation, settle }).await
    }
    /// Releases lapsed holds (the scheduled job); each exactly once, whoever else sweeps.
    pub async fn expire_holds(&self, actor: &Actor) -> Result<Vec<ReservationId>, Error> {
        require(actor, Decision::when(matches!(actor, Actor::System), "only the system sweeps holds"))?;
        let lapsed = self.runner.store().lapsed_reservations(self.runner.now(), EXPIRY_SWEEP_MAX).await?;
        let mut done = Vec::new();
        for r in lapsed {
            let cmd = SettleReservation { reservation_id: r.value.id, settle: Settle::Expire };
            match self.runner.execute(actor, None, &cmd).await {
                Ok(_) => done.push(r.value.id),
                // Settled by someone else meanwhile.
                Err(e) if matches!(e.code, ErrorCode::InvalidTransition | ErrorCode::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}
