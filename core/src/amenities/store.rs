//! The amenities' entities (declared here, next to the model) and their reads over any [`Reader`].

use super::{Amenity, AmenityBooking, AmenityBookingStatus, AmenityStatus, Slot, SlotTemplate};
use crate::id::{AmenityBookingId, AmenityId, SlotId, UserId};
use crate::kernel::entity::{Domain, Entity, EntityDecl, Guard, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{int_as, Decoded, Row, RowRead, Value};
use crate::time::Timestamp;
use chrono::NaiveDate;
use uuid::Uuid;

/// The amenities domain.
pub static DOMAIN: Domain = Domain { name: "amenities", entities: &[&AMENITY, &SLOT, &BOOKING] };

static AMENITY: EntityDecl = EntityDecl {
    kind: "amenities.amenity",
    aliases: &["amenity"],
    human: "amenity",
    table: "amenities",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

static SLOT: EntityDecl = EntityDecl {
    kind: "amenities.slot",
    aliases: &["amenity_slot"],
    human: "slot",
    table: "amenity_slots",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[Unique { name: "amenity_slots_one_per_start", columns: &["amenity_id", "starts_at"], when: None }],
    // INVARIANT (capacity): `0 <= booked <= capacity`; the guard of every seat delta.
    guards: &[Guard { name: "amenity_slots_capacity", holds: slot_within_capacity }],
};

fn slot_within_capacity(r: &dyn RowRead) -> bool {
    matches!((r.int("booked"), r.int("capacity")), (Ok(b), Ok(c)) if b >= 0 && b <= c)
}

static BOOKING: EntityDecl = EntityDecl {
    kind: "amenities.booking",
    aliases: &["amenity_booking"],
    human: "booking",
    table: "amenity_bookings",
    key: "id",
    shape: Shape::Versioned,
    // One live seat per user per slot.
    uniques: &[Unique { name: "amenity_bookings_one_seat", columns: &["slot_id", "user_id"], when: Some(is_booked) }],
    guards: &[],
};

fn is_booked(r: &dyn RowRead) -> bool {
    r.text("status").is_ok_and(|s| s == AmenityBookingStatus::Booked.as_str())
}

impl Entity for Amenity {
    const DECL: &'static EntityDecl = &AMENITY;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        let t = &self.template;
        Row::new()
            .with("id", self.id.as_uuid())
            .with("name", self.name.as_str())
            .with("opens_minute", i64::from(t.opens_minute))
            .with("closes_minute", i64::from(t.closes_minute))
            .with("slot_minutes", i64::from(t.slot_minutes))
            .with("capacity", i64::from(t.capacity))
            .with("time_zone", t.time_zone.as_str())
            .with("status", self.status.as_str())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Amenity {
            id: AmenityId::from_uuid(r.uuid("id")?),
            name: r.text("name")?,
            template: SlotTemplate {
                opens_minute: int_as(r, "opens_minute")?,
                closes_minute: int_as(r, "closes_minute")?,
                slot_minutes: int_as(r, "slot_minutes")?,
                capacity: int_as(r, "capacity")?,
                time_zone: r.text("time_zone")?,
            },
            status: r.wire("status", AmenityStatus::parse)?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// Amenities and their state are open to every signed-in user (residents pick slots).
    fn readers(&self) -> Readers {
        Readers::nobody().and_signed_in()
    }
}

impl Entity for Slot {
    const DECL: &'static EntityDecl = &SLOT;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("amenity_id", self.amenity_id.as_uuid())
            .with("date", self.date)
            .with("starts_at", self.starts_at)
            .with("ends_at", self.ends_at)
            .with("capacity", i64::from(self.capacity))
            .with("booked", i64::from(self.booked))
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Slot {
            id: SlotId::from_uuid(r.uuid("id")?),
            amenity_id: AmenityId::from_uuid(r.uuid("amenity_id")?),
            date: r.date("date")?,
            starts_at: r.ts("starts_at")?,
            ends_at: r.ts("ends_at")?,
            capacity: int_as(r, "capacity")?,
            booked: int_as(r, "booked")?,
        })
    }
    /// Slots and their free seats are open to every signed-in user.
    fn readers(&self) -> Readers {
        Readers::nobody().and_signed_in()
    }
}

impl Entity for AmenityBooking {
    const DECL: &'static EntityDecl = &BOOKING;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("slot_id", self.slot_id.as_uuid())
            .with("amenity_id", self.amenity_id.as_uuid())
            .with("user_id", self.user_id.as_uuid())
            .with("status", self.status.as_str())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(AmenityBooking {
            id: AmenityBookingId::from_uuid(r.uuid("id")?),
            slot_id: SlotId::from_uuid(r.uuid("slot_id")?),
            amenity_id: AmenityId::from_uuid(r.uuid("amenity_id")?),
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            status: r.wire("status", AmenityBookingStatus::parse)?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A seat is its holder's, and amenity managers' (admins read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id]).and_roles([crate::actor::Role::AmenityManager])
    }
}

/// The amenities' reads, written once over any [`Reader`] (a store, or one command's snapshot).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait AmenityStore: Reader {
    /// An amenity.
    async fn amenity(&self, id: AmenityId) -> StoreResult<Option<Versioned<Amenity>>> {
        self.get(id.as_uuid()).await
    }
    /// Up to `limit` amenities with an id after `after` (every amenity, by id: paging for the daily
    /// slot generation).
    async fn amenities_after(&self, after: Option<AmenityId>, limit: u32) -> StoreResult<Vec<Versioned<Amenity>>> {
        let mut q = Query::of::<Amenity>().order_by("id", Dir::Asc).limit(limit);
        if let Some(a) = after {
            q = q.after(vec![Value::Uuid(a.as_uuid())]);
        }
        self.find(q).await
    }
    /// A slot.
    async fn slot(&self, id: SlotId) -> StoreResult<Option<Versioned<Slot>>> {
        self.get(id.as_uuid()).await
    }
    /// The slots of `amenity` on local `date`, by start.
    async fn slots_on(&self, amenity: AmenityId, date: NaiveDate) -> StoreResult<Vec<Versioned<Slot>>> {
        self.find(
            Query::of::<Slot>().eq("amenity_id", amenity.as_uuid()).eq("date", date).order_by("starts_at", Dir::Asc),
        )
        .await
    }
    /// A booking.
    async fn amenity_booking(&self, id: AmenityBookingId) -> StoreResult<Option<Versioned<AmenityBooking>>> {
        self.get(id.as_uuid()).await
    }
    /// `user`'s live booking in `slot`, if any.
    async fn live_booking(&self, slot: SlotId, user: UserId) -> StoreResult<Option<Versioned<AmenityBooking>>> {
        self.find_one(
            Query::of::<AmenityBooking>()
                .eq("slot_id", slot.as_uuid())
                .eq("user_id", user.as_uuid())
                .eq("status", AmenityBookingStatus::Booked.as_str()),
        )
        .await
    }
    /// Live bookings of `amenity` in slots starting at or after `from`, by slot start.
    async fn live_bookings_of_amenity(&self, amenity: AmenityId, from: Timestamp) -> StoreResult<Vec<AmenityBooking>> {
        let slots: Vec<Value> = self
            .find::<Slot>(
                Query::of::<Slot>()
                    .eq("amenity_id", amenity.as_uuid())
                    .filter(Filter::Ge("starts_at", from.into()))
                    .order_by("starts_at", Dir::Asc),
            )
            .await?
            .into_iter()
            .map(|s| Value::Uuid(s.value.id.as_uuid()))
            .collect();
        let mut bookings: Vec<AmenityBooking> = self
            .find::<AmenityBooking>(
                Query::of::<AmenityBooking>()
                    .eq("status", AmenityBookingStatus::Booked.as_str())
                    .filter(Filter::In("slot_id", slots.clone()))
                    .order_by("created_at", Dir::Asc)
                    .order_by("id", Dir::Asc),
            )
            .await?
            .into_iter()
            .map(|b| b.value)
            .collect();
        let position = |b: &AmenityBooking| slots.iter().position(|s| *s == Value::Uuid(b.slot_id.as_uuid()));
        bookings.sort_by_key(|b| position(b));
        Ok(bookings)
    }
    /// How many live bookings `slot` has (the invariant's other side).
    async fn count_live_bookings(&self, slot: SlotId) -> StoreResult<u64> {
        self.count(
            Query::of::<AmenityBooking>()
                .eq("slot_id", slot.as_uuid())
                .eq("status", AmenityBookingStatus::Booked.as_str()),
        )
        .await
    }
}

impl<R: Reader + ?Sized> AmenityStore for R {}
