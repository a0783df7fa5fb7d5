//! The rooms' entities (declared here, next to the model) and their reads over any [`Reader`].

use super::{BedReservation, ReservationStatus, Room};
use crate::id::{ReservationId, RoomId, UserId};
use crate::kernel::entity::{Domain, Entity, EntityDecl, Guard, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{int_as, Decoded, Row, RowRead, Value};
use crate::time::Timestamp;
use uuid::Uuid;

/// The rooms domain.
pub static DOMAIN: Domain = Domain { name: "rooms", entities: &[&ROOM, &RESERVATION] };

static ROOM: EntityDecl = EntityDecl {
    kind: "rooms.room",
    aliases: &["room"],
    human: "room",
    table: "rooms",
    key: "id",
    shape: Shape::Versioned,
    // `number TEXT NOT NULL UNIQUE`: Postgres names the constraint `rooms_number_key`.
    uniques: &[Unique { name: "rooms_number_key", columns: &["number"], when: None }],
    // INVARIANT (beds): `0 <= reserved <= beds`; the guard of every bed delta.
    guards: &[Guard { name: "rooms_reserved_within_beds", holds: reserved_within_beds }],
};

fn reserved_within_beds(r: &dyn RowRead) -> bool {
    matches!((r.int("reserved"), r.int("beds")), (Ok(n), Ok(b)) if n >= 0 && n <= b)
}

static RESERVATION: EntityDecl = EntityDecl {
    kind: "rooms.reservation",
    aliases: &["bed_reservation"],
    human: "bed reservation",
    table: "bed_reservations",
    key: "id",
    shape: Shape::Versioned,
    // One live (held or confirmed) reservation per resident.
    uniques: &[Unique { name: "bed_reservations_one_live", columns: &["user_id"], when: Some(is_live) }],
    guards: &[],
};

fn is_live(r: &dyn RowRead) -> bool {
    r.wire("status", ReservationStatus::parse)
        .is_ok_and(|s| matches!(s, ReservationStatus::Held | ReservationStatus::Confirmed))
}

/// The states that hold a bed, as stored.
fn live_statuses() -> Vec<Value> {
    [ReservationStatus::Held, ReservationStatus::Confirmed].iter().map(|s| Value::from(s.as_str())).collect()
}

impl Entity for Room {
    const DECL: &'static EntityDecl = &ROOM;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("number", self.number.as_str())
            .with("beds", i64::from(self.beds))
            .with("reserved", i64::from(self.reserved))
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Room {
            id: RoomId::from_uuid(r.uuid("id")?),
            number: r.text("number")?,
            beds: int_as(r, "beds")?,
            reserved: int_as(r, "reserved")?,
        })
    }
    /// Rooms and their free beds are open to every signed-in user (applicants pick one).
    fn readers(&self) -> Readers {
        Readers::nobody().and_signed_in()
    }
}

impl Entity for BedReservation {
    const DECL: &'static EntityDecl = &RESERVATION;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("room_id", self.room_id.as_uuid())
            .with("user_id", self.user_id.as_uuid())
            .with("status", self.status.as_str())
            .with("lunchbox", self.lunchbox)
            .with("charge", self.additional_charge)
            .with("currency", self.additional_charge.currency())
            .with("expires_at", self.expires_at)
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        Ok(BedReservation {
            id: ReservationId::from_uuid(r.uuid("id")?),
            room_id: RoomId::from_uuid(r.uuid("room_id")?),
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            status: r.wire("status", ReservationStatus::parse)?,
            lunchbox: r.bool("lunchbox")?,
            additional_charge: r.money("charge", currency)?,
            expires_at: r.ts("expires_at")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A reservation is its resident's (admins, who settle it, read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id])
    }
}

/// The rooms' reads, written once over any [`Reader`] (a store, or one command's snapshot).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait RoomStore: Reader {
    /// A room.
    async fn room(&self, id: RoomId) -> StoreResult<Option<Versioned<Room>>> {
        self.get(id.as_uuid()).await
    }
    /// The room numbered `number`, if any.
    async fn room_numbered(&self, number: &str) -> StoreResult<Option<Versioned<Room>>> {
        self.find_one(Query::of::<Room>().eq("number", number)).await
    }
    /// A reservation.
    async fn reservation(&self, id: ReservationId) -> StoreResult<Option<Versioned<BedReservation>>> {
        self.get(id.as_uuid()).await
    }
    /// `user`'s live (held or confirmed) reservation, if any.
    async fn live_reservation(&self, user: UserId) -> StoreResult<Option<Versioned<BedReservation>>> {
        self.find_one(
            Query::of::<BedReservation>().eq("user_id", user.as_uuid()).filter(Filter::In("status", live_statuses())),
        )
        .await
    }
    /// Held reservations with `expires_at <= now`, oldest first.
    async fn lapsed_reservations(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Versioned<BedReservation>>> {
        self.find(
            Query::of::<BedReservation>()
                .eq("status", ReservationStatus::Held.as_str())
                .filter(Filter::Le("expires_at", now.into()))
                .order_by("expires_at", Dir::Asc)
                .order_by("id", Dir::Asc)
                .limit(limit),
        )
        .await
    }
    /// How many live reservations a room has (the invariant's other side).
    async fn count_live_reservations(&self, room: RoomId) -> StoreResult<u64> {
        self.count(
            Query::of::<BedReservation>().eq("room_id", room.as_uuid()).filter(Filter::In("status", live_statuses())),
        )
        .await
    }
}

impl<R: Reader + ?Sized> RoomStore for R {}
