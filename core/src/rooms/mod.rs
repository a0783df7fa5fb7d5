//! Rooms (Viramah §5 step 3): during onboarding a resident soft-reserves a bed, with an expiry;
//! approval confirms it, rejection or expiry releases it — exactly once. Beds are a guarded counter
//! (`reserved <= beds`, a named CHECK), so concurrent selections of the last bed cannot both win.

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::{Error, ErrorCode};
use crate::homeheroes::commands::require;
use crate::id::{IdSource, ReservationId, RoomId, UserId};
use crate::money::{Currency, Money};
use crate::service::{Command, Decide, Runner};
use crate::store::{Store, StoreResult, Versioned, Write};
use crate::time::{Clock, Timestamp};
use crate::validate::{TextRule, ValidationErrors, Validator};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

/// The rooms part of the storage contract.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait RoomStore: Store {
    /// A room.
    async fn room(&self, id: RoomId) -> StoreResult<Option<Versioned<Room>>>;
    /// A reservation.
    async fn reservation(&self, id: ReservationId) -> StoreResult<Option<Versioned<BedReservation>>>;
    /// `user`'s live (held or confirmed) reservation, if any.
    async fn live_reservation(&self, user: UserId) -> StoreResult<Option<Versioned<BedReservation>>>;
    /// Held reservations with `expires_at <= now`, oldest first.
    async fn lapsed_reservations(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Versioned<BedReservation>>>;
    /// How many live reservations a room has (the invariant's other side).
    async fn count_live_reservations(&self, room: RoomId) -> StoreResult<u64>;
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
impl<S: RoomStore + ?Sized> Command<S> for AddRoom {
    const NAME: &'static str = "room.add";
    type Valid = (String, u32);
    type Loaded = ();
    type Output = Room;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, _store: &S, _actor: &Actor, _: &Self::Valid) -> Result<(), Error> {
        Ok(())
    }
    fn decide(&self, actor: &Actor, (number, beds): &Self::Valid, _: (), cx: &mut Decide<'_>) -> Result<Room, Error> {
        require(actor, Decision::when(is_admin(actor), "only admins manage rooms"))?;
        let room = Room { id: RoomId::generate(cx.ids()), number: number.clone(), beds: *beds, reserved: 0 };
        cx.push(Write::Room { value: room.clone(), expect: crate::store::Expect::Absent });
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
impl<S: RoomStore + ?Sized> Command<S> for ReserveBed {
    const NAME: &'static str = "room.reserve";
    type Valid = ();
    type Loaded = (Option<Versioned<BedReservation>>, Option<Versioned<Room>>);
    type Output = BedReservation;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &S, actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        // Own reservation first (a stale read is caught by the one-live-reservation index), the room's
        // counter last (a stale one is caught by its CHECK).
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
        cx.insert(r.clone(), &[user])?;
        cx.push(Write::RoomDelta { room: room.id, reserved: 1 });
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
impl<S: RoomStore + ?Sized> Command<S> for SettleReservation {
    const NAME: &'static str = "room.settle";
    type Valid = ();
    type Loaded = (Option<Versioned<BedReservation>>, Option<Versioned<Room>>);
    type Output = BedReservation;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &S, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        let r = store.reservation(self.reservation_id).await?;
        let room = match &r {
            Some(r) => store.room(r.value.room_id).await?,
            None => None,
        };
        Ok((r, room))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (r, room): Self::Loaded,
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
        cx.update(&before, after.clone(), to.as_str(), &[after.user_id])?;
        match to {
            ReservationStatus::Confirmed => {
                let room = room.ok_or_else(|| Error::internal("reserved room missing"))?.value;
                cx.push(Write::ResidentRoom { user: after.user_id, room: room.number });
            }
            _ => cx.push(Write::RoomDelta { room: after.room_id, reserved: -1 }),
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

impl<S: RoomStore> Rooms<S> {
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
