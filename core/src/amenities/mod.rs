//! Amenity booking (Viramah §9): slot templates in the amenity's time zone, idempotent daily slot
//! generation, and seats taken under a capacity guard — zero overbooking under any concurrency.
//!
//! A booking inserts the seat and adds one to the slot's `booked` counter through a guarded delta
//! (`Write::SlotDelta`): the store applies it only while `booked <= capacity` still holds (a named
//! CHECK), so racing bookers never overbook and never retry on versions; a refused delta makes core
//! reload and answer `capacity_exhausted`. One live seat per user per slot is a partial unique index.

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::{Error, ErrorCode};
use crate::id::{AmenityBookingId, AmenityId, IdSource, SlotId, UserId};
use crate::kernel::access::require;
use crate::kernel::store::{ReadExt, Reader, Reads, Store};
use crate::service::{Command, Decide, Runner};
use crate::store::Versioned;
use crate::time::{Clock, Timestamp};
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

pub mod jobs;
mod store;
pub use store::{AmenityStore, DOMAIN};

/// Shortest slot, in minutes.
pub const SLOT_MINUTES_MIN: u16 = 15;
/// Longest slot, in minutes.
pub const SLOT_MINUTES_MAX: u16 = 240;
/// Largest capacity of one slot.
pub const CAPACITY_MAX: u32 = 1_000;
/// Name of an amenity.
pub const NAME: TextRule = TextRule { min_chars: 2, max_chars: 80, multiline: false };

crate::homeheroes::model::wire_enum!(
    /// Whether an amenity takes new bookings.
    AmenityStatus {
        /// Open for bookings.
        Active = "active",
        /// Maintenance mode: new bookings are refused; existing ones are kept and listed for staff.
        Maintenance = "maintenance",
    }
);

crate::homeheroes::model::wire_enum!(
    /// A seat's state.
    AmenityBookingStatus { Booked = "booked", Cancelled = "cancelled" }
);

/// How an amenity's day is cut into slots, in its own time zone.
///
/// INVARIANT (template): `opens_minute < closes_minute <= 1440`, `slot_minutes` in 15–240,
/// `capacity` in 1–1000, `time_zone` a valid IANA name. Upheld by [`TemplateInput::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTemplate {
    /// Local opening time, minutes after midnight.
    pub opens_minute: u16,
    /// Local closing time, minutes after midnight (1440 = midnight).
    pub closes_minute: u16,
    /// Length of a slot.
    pub slot_minutes: u16,
    /// Seats per slot.
    pub capacity: u32,
    /// IANA zone (`Asia/Kolkata`).
    pub time_zone: String,
}

/// A bookable amenity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amenity {
    /// Id.
    pub id: AmenityId,
    /// Display name.
    pub name: String,
    /// How its days are cut.
    pub template: SlotTemplate,
    /// Open or in maintenance.
    pub status: AmenityStatus,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// One slot of one day.
///
/// INVARIANT (capacity): `booked <= capacity`, checked by core before every booking and by the
/// store's `amenity_slots_capacity` CHECK at commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// Derived from amenity and start (so generation is idempotent).
    pub id: SlotId,
    /// The amenity.
    pub amenity_id: AmenityId,
    /// The local date it belongs to.
    pub date: NaiveDate,
    /// Start (UTC instant).
    pub starts_at: Timestamp,
    /// End (UTC instant).
    pub ends_at: Timestamp,
    /// Seats.
    pub capacity: u32,
    /// Seats taken by live bookings.
    pub booked: u32,
}

/// A resident's seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmenityBooking {
    /// Id.
    pub id: AmenityBookingId,
    /// The slot.
    pub slot_id: SlotId,
    /// The amenity.
    pub amenity_id: AmenityId,
    /// Who.
    pub user_id: UserId,
    /// State.
    pub status: AmenityBookingStatus,
    /// When booked.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A slot template as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateInput {
    /// `HH:MM`, local.
    pub opens: Option<String>,
    /// `HH:MM`, local (`24:00` allowed).
    pub closes: Option<String>,
    /// Minutes per slot.
    pub slot_minutes: Option<i64>,
    /// Seats per slot.
    pub capacity: Option<i64>,
    /// IANA zone.
    pub time_zone: Option<String>,
}

fn hh_mm(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<u16> {
    let Some(s) = raw else {
        v.push(field, Violation::Required);
        return None;
    };
    let parsed = s.trim().split_once(':').and_then(|(h, m)| {
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        match (h, m) {
            (24, 0) => Some(1440),
            (0..=23, 0..=59) => Some(h * 60 + m),
            _ => None,
        }
    });
    if parsed.is_none() {
        v.push(field, Violation::InvalidFormat { expected: "hh_mm".into() });
    }
    parsed
}

impl TemplateInput {
    /// Validates.
    pub fn validate(&self) -> Result<SlotTemplate, ValidationErrors> {
        let mut v = Validator::nested("template");
        let opens = hh_mm(&mut v, "opens", self.opens.as_deref());
        let closes = hh_mm(&mut v, "closes", self.closes.as_deref());
        if let (Some(o), Some(c)) = (opens, closes) {
            if o >= c {
                v.push("opens", Violation::NotBeforeField { other: "template.closes".into() });
            }
        }
        let minutes =
            v.int_range("slot_minutes", self.slot_minutes, i64::from(SLOT_MINUTES_MIN), i64::from(SLOT_MINUTES_MAX));
        let capacity = v.int_range("capacity", self.capacity, 1, i64::from(CAPACITY_MAX));
        let zone = match self.time_zone.as_deref().map(str::trim) {
            None | Some("") => {
                v.push("time_zone", Violation::Required);
                None
            }
            Some(z) => match z.parse::<chrono_tz::Tz>() {
                Ok(_) => Some(z.to_owned()),
                Err(_) => {
                    v.push("time_zone", Violation::InvalidFormat { expected: "iana_time_zone".into() });
                    None
                }
            },
        };
        v.finish(|| {
            Some(SlotTemplate {
                opens_minute: opens?,
                closes_minute: closes?,
                slot_minutes: u16::try_from(minutes?).ok()?,
                capacity: u32::try_from(capacity?).ok()?,
                time_zone: zone?,
            })
        })
    }
}

/// The slot id of `amenity` starting at `starts_at`: the same on every run, so generating a day twice
/// creates nothing new, even when two generators race.
pub fn slot_id(amenity: AmenityId, starts_at: Timestamp) -> SlotId {
    SlotId::from_uuid(Uuid::new_v5(&amenity.as_uuid(), &starts_at.unix_micros().to_be_bytes()))
}

/// The slots of `date` (local to the amenity) under `template` (pure). On a daylight-saving day, a slot
/// whose local start does not exist is skipped, one whose local end does not exist keeps its length,
/// and an ambiguous local time takes its first occurrence.
pub fn slots_for(amenity: AmenityId, template: &SlotTemplate, date: NaiveDate) -> Vec<Slot> {
    let Ok(tz) = template.time_zone.parse::<chrono_tz::Tz>() else { return Vec::new() };
    let Some(midnight) = date.and_hms_opt(0, 0, 0) else { return Vec::new() };
    let mut out = Vec::new();
    let mut start = template.opens_minute;
    while start + template.slot_minutes <= template.closes_minute {
        let end = start + template.slot_minutes;
        let local = |m: u16| midnight + chrono::Duration::minutes(i64::from(m));
        // A start inside a spring-forward gap does not exist: no slot. An end inside it is the gap
        // itself: the slot keeps its length.
        let Some(s) = tz.from_local_datetime(&local(start)).earliest().map(|s| Timestamp::from_datetime(s.to_utc()))
        else {
            start = end;
            continue;
        };
        let length = chrono::Duration::minutes(i64::from(template.slot_minutes));
        let e = match tz.from_local_datetime(&local(end)).earliest() {
            Some(e) => Timestamp::from_datetime(e.to_utc()),
            None => s.checked_add(length).unwrap_or(s),
        };
        if s < e {
            out.push(Slot {
                id: slot_id(amenity, s),
                amenity_id: amenity,
                date,
                starts_at: s,
                ends_at: e,
                capacity: template.capacity,
                booked: 0,
            });
        }
        start = end;
    }
    out
}

fn is_staff(actor: &Actor) -> bool {
    matches!(actor, Actor::System) || actor.is_admin() || actor.has_role(Role::AmenityManager)
}

/// Creates an amenity (managers and admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAmenity {
    /// Name.
    pub name: Option<String>,
    /// Template.
    pub template: TemplateInput,
}

impl CreateAmenity {
    /// Validates the input against `now`, without a store (clients call this offline).
    pub fn check(&self, _now: Timestamp) -> Result<(String, SlotTemplate), ValidationErrors> {
        let mut v = Validator::new();
        let name = v.text("name", self.name.as_deref(), NAME);
        let template = match self.template.validate() {
            Ok(t) => Some(t),
            Err(e) => {
                for f in e.into_errors() {
                    v.push(&f.field, f.violation);
                }
                None
            }
        };
        v.finish(|| Some((name?, template?)))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for CreateAmenity {
    const NAME: &'static str = "amenities.create";
    const FINGERPRINT_NAME: &'static str = "amenity.create";
    const READS: Reads = Reads::One;
    type Valid = (String, SlotTemplate);
    type Loaded = ();
    type Output = Amenity;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, _store: &dyn Reader, _actor: &Actor, _: &Self::Valid) -> Result<(), Error> {
        Ok(())
    }
    fn decide(
        &self,
        actor: &Actor,
        (name, template): &Self::Valid,
        _: (),
        cx: &mut Decide<'_>,
    ) -> Result<Amenity, Error> {
        require(actor, Decision::when(is_staff(actor), "only amenity managers and admins manage amenities"))?;
        let a = Amenity {
            id: AmenityId::generate(cx.ids()),
            name: name.clone(),
            template: template.clone(),
            status: AmenityStatus::Active,
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        cx.insert(a.clone())?;
        Ok(a)
    }
}

/// Puts an amenity into or out of maintenance mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAmenityStatus {
    /// The amenity.
    pub amenity_id: AmenityId,
    /// The new status.
    pub status: AmenityStatus,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SetAmenityStatus {
    const NAME: &'static str = "amenities.set_status";
    const FINGERPRINT_NAME: &'static str = "amenity.set_status";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Option<Versioned<Amenity>>;
    type Output = Amenity;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok(store.amenity(self.amenity_id).await?)
    }
    fn decide(&self, actor: &Actor, _: &(), loaded: Self::Loaded, cx: &mut Decide<'_>) -> Result<Amenity, Error> {
        require(actor, Decision::when(is_staff(actor), "only amenity managers and admins manage amenities"))?;
        let before = loaded.ok_or_else(|| Error::not_found("amenity"))?;
        if before.value.status == self.status {
            return Ok(before.value);
        }
        let mut after = before.value.clone();
        after.status = self.status;
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), self.status.as_str())?;
        Ok(after)
    }
}

/// Amenities read per page by [`Amenities::generate_daily_slots`].
const DAILY_PAGE: u32 = 100;

/// Creates the slots of one local date that do not exist yet (the midnight job; idempotent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateSlots {
    /// The amenity.
    pub amenity_id: AmenityId,
    /// The local date.
    pub date: NaiveDate,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for GenerateSlots {
    const NAME: &'static str = "amenities.generate_slots";
    const FINGERPRINT_NAME: &'static str = "amenity.generate_slots";
    type Valid = ();
    type Loaded = (Option<Versioned<Amenity>>, Vec<Versioned<Slot>>);
    type Output = Vec<Slot>;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok((store.amenity(self.amenity_id).await?, store.slots_on(self.amenity_id, self.date).await?))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (amenity, existing): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Vec<Slot>, Error> {
        require(actor, Decision::when(is_staff(actor), "only the system and amenity managers generate slots"))?;
        let amenity = amenity.ok_or_else(|| Error::not_found("amenity"))?.value;
        let mut created = Vec::new();
        for slot in slots_for(amenity.id, &amenity.template, self.date) {
            if existing.iter().any(|e| e.value.id == slot.id) {
                continue;
            }
            cx.insert(slot.clone())?;
            created.push(slot);
        }
        Ok(created)
    }
}

/// A resident takes a seat in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSlot {
    /// The slot.
    pub slot_id: SlotId,
}

/// What booking reads.
#[derive(Clone)]
pub struct BookScene {
    slot: Option<Versioned<Slot>>,
    amenity: Option<Versioned<Amenity>>,
    mine: Option<Versioned<AmenityBooking>>,
    /// Whether `mine` was read (a retry reads it; the first attempt does not).
    mine_known: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for BookSlot {
    const NAME: &'static str = "amenities.book";
    const FINGERPRINT_NAME: &'static str = "amenity.book";
    type Valid = ();
    type Loaded = BookScene;
    type Output = AmenityBooking;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    /// The first attempt reads the slot with its amenity in one statement; a retry also reads the
    /// user's own seat.
    fn reads(&self, _: &(), attempt: u32) -> Reads {
        if attempt == 0 {
            Reads::One
        } else {
            Reads::Many
        }
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, valid: &()) -> Result<BookScene, Error> {
        self.load_attempt(store, actor, valid, 1).await
    }
    async fn load_attempt(&self, store: &dyn Reader, actor: &Actor, _: &(), attempt: u32) -> Result<BookScene, Error> {
        // The user's own seat is looked up only on a retry: on the first attempt a second seat fails
        // the one-seat unique index and the retry reads it. All reads see one snapshot.
        let mine = match actor.user_id() {
            Some(u) if attempt > 0 => store.live_booking(self.slot_id, u).await?,
            _ => None,
        };
        let (slot, amenity) = match store.get_pair::<Slot, Amenity>(self.slot_id.as_uuid(), "amenity_id").await? {
            Some((s, a)) => (Some(s), a),
            None => (None, None),
        };
        Ok(BookScene { slot, amenity, mine, mine_known: attempt > 0 || actor.user_id().is_none() })
    }
    fn decide(&self, actor: &Actor, _: &(), scene: BookScene, cx: &mut Decide<'_>) -> Result<AmenityBooking, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        require(actor, Decision::when(actor.has_role(Role::Resident), "only residents book amenities"))?;
        let slot = scene.slot.ok_or_else(|| Error::not_found("slot"))?.value;
        let amenity = scene.amenity.ok_or_else(|| Error::not_found("amenity"))?.value;
        if amenity.status == AmenityStatus::Maintenance {
            return Err(Error::precondition("the amenity is under maintenance"));
        }
        if slot.starts_at <= cx.now() {
            return Err(Error::precondition("the slot has already started"));
        }
        if scene.mine.is_some() {
            return Err(Error::conflict("you already hold a seat in this slot"));
        }
        // A full slot is `capacity_exhausted` only once the user's own seat is known: someone who
        // already holds a seat here is told so (`conflict`), full or not. On the first attempt the
        // write goes ahead; the slot's guard (or the one-seat index) refuses it, and the retry reads
        // the user's seat and gives the one answer.
        if slot.booked >= slot.capacity && scene.mine_known {
            return Err(Error::new(ErrorCode::CapacityExhausted, "the slot is full"));
        }
        let booking = AmenityBooking {
            id: AmenityBookingId::generate(cx.ids()),
            slot_id: slot.id,
            amenity_id: amenity.id,
            user_id: user,
            status: AmenityBookingStatus::Booked,
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        cx.insert(booking.clone())?;
        cx.delta::<Slot>(slot.id.as_uuid(), &[("booked", 1)])?;
        Ok(booking)
    }
}

/// Cancels a seat (its holder or staff); the seat is free again at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelBooking {
    /// The booking.
    pub booking_id: AmenityBookingId,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for CancelBooking {
    const NAME: &'static str = "amenities.cancel";
    const FINGERPRINT_NAME: &'static str = "amenity.cancel";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Option<Versioned<AmenityBooking>>;
    type Output = AmenityBooking;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok(store.amenity_booking(self.booking_id).await?)
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        loaded: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<AmenityBooking, Error> {
        let before = loaded.ok_or_else(|| Error::not_found("booking"))?;
        let own = actor.is(before.value.user_id);
        if !own && !is_staff(actor) {
            return Err(if matches!(actor, Actor::Anonymous) {
                Error::unauthenticated()
            } else {
                Error::not_found("booking")
            });
        }
        if before.value.status == AmenityBookingStatus::Cancelled {
            return Err(Error::new(ErrorCode::InvalidTransition, "cannot `cancel` a booking that is `cancelled`"));
        }
        let mut after = before.value.clone();
        after.status = AmenityBookingStatus::Cancelled;
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), "cancelled")?;
        cx.delta::<Slot>(after.slot_id.as_uuid(), &[("booked", -1)])?;
        Ok(after)
    }
}

/// The amenities service.
pub struct Amenities<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Amenities<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Amenities<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Creates an amenity.
    pub async fn create(&self, actor: &Actor, name: &str, template: TemplateInput) -> Result<Amenity, Error> {
        self.runner.execute(actor, None, &CreateAmenity { name: Some(name.to_owned()), template }).await
    }
    /// Maintenance mode on or off.
    pub async fn set_status(&self, actor: &Actor, amenity: AmenityId, status: AmenityStatus) -> Result<Amenity, Error> {
        self.runner.execute(actor, None, &SetAmenityStatus { amenity_id: amenity, status }).await
    }
    /// Generates the missing slots of a local date; returns the ones created (none on a rerun).
    pub async fn generate_slots(&self, actor: &Actor, amenity: AmenityId, date: NaiveDate) -> Result<Vec<Slot>, Error> {
        self.runner.execute(actor, None, &GenerateSlots { amenity_id: amenity, date }).await
    }
    /// The daily generation (Viramah §9, "pre-generated daily … at midnight"; the scheduled job
    /// `amenities.generate_slots`): [`Amenities::generate_slots`] for every amenity, for the local
    /// date `at` falls on in the amenity's own zone. Idempotent, also when generators race (slot ids
    /// are derived). Returns the slots created.
    pub async fn generate_daily_slots(&self, actor: &Actor, at: Timestamp) -> Result<Vec<Slot>, Error> {
        require(actor, Decision::when(is_staff(actor), "only the system and amenity managers generate slots"))?;
        let mut created = Vec::new();
        let mut after = None;
        loop {
            let page = self.runner.store().amenities_after(after, DAILY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.value.id);
            for a in &page {
                let Ok(tz) = a.value.template.time_zone.parse::<chrono_tz::Tz>() else {
                    return Err(Error::internal(format!("amenity {} has an unknown time zone", a.value.id)));
                };
                let date = at.as_datetime().with_timezone(&tz).date_naive();
                created.extend(self.generate_slots(actor, a.value.id, date).await?);
            }
            if page.len() < DAILY_PAGE as usize {
                break;
            }
        }
        Ok(created)
    }
    /// Takes a seat.
    pub async fn book(&self, actor: &Actor, slot: SlotId) -> Result<AmenityBooking, Error> {
        self.runner.execute(actor, None, &BookSlot { slot_id: slot }).await
    }
    /// Gives a seat back.
    pub async fn cancel(&self, actor: &Actor, booking: AmenityBookingId) -> Result<AmenityBooking, Error> {
        self.runner.execute(actor, None, &CancelBooking { booking_id: booking }).await
    }
    /// The slots of a local date with their free seats (any signed-in user).
    pub async fn slots(&self, actor: &Actor, amenity: AmenityId, date: NaiveDate) -> Result<Vec<Slot>, Error> {
        if matches!(actor, Actor::Anonymous) {
            return Err(Error::unauthenticated());
        }
        Ok(self.runner.store().slots_on(amenity, date).await?.into_iter().map(|s| s.value).collect())
    }
    /// Live bookings from now on (staff; also while the amenity is in maintenance).
    pub async fn upcoming_bookings(&self, actor: &Actor, amenity: AmenityId) -> Result<Vec<AmenityBooking>, Error> {
        require(actor, Decision::when(is_staff(actor), "only staff list an amenity's bookings"))?;
        Ok(self.runner.store().live_bookings_of_amenity(amenity, self.runner.now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(zone: &str) -> SlotTemplate {
        TemplateInput {
            opens: Some("06:00".into()),
            closes: Some("22:00".into()),
            slot_minutes: Some(60),
            capacity: Some(10),
            time_zone: Some(zone.into()),
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn slots_follow_the_local_day_and_its_time_zone() {
        let a = AmenityId::from_uuid(Uuid::from_u128(5));
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let slots = slots_for(a, &template("Asia/Kolkata"), day);
        assert_eq!(slots.len(), 16);
        assert_eq!(slots[0].starts_at.to_string(), "2026-06-01T00:30:00Z", "06:00 IST is 00:30 UTC");
        assert_eq!(slots_for(a, &template("Asia/Kolkata"), day), slots, "generation is deterministic");
        // Europe/Paris, the night clocks go forward (02:00 → 03:00): an all-night template loses a slot.
        let night = SlotTemplate { opens_minute: 0, closes_minute: 1440, ..template("Europe/Paris") };
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(slots_for(a, &night, spring).len(), 23);
        let autumn = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(slots_for(a, &night, autumn).len(), 24);
    }

    #[test]
    fn templates_are_validated() {
        let bad = TemplateInput {
            opens: Some("22:00".into()),
            closes: Some("06:00".into()),
            slot_minutes: Some(5),
            capacity: Some(0),
            time_zone: Some("Mars/Olympus".into()),
        };
        let fields: Vec<String> = bad.validate().unwrap_err().errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["template.opens", "template.slot_minutes", "template.capacity", "template.time_zone"]);
    }
}
