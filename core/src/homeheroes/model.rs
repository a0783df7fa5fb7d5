//! HomeHeroes entities (seed 000 §1), as stored. Constructed only by the commands in this module, so
//! every value here has passed validation.

use crate::id::{CivilianProfileId, HeroProfileId, JobInterestId, ServiceRequestId, UserId};
use crate::money::Money;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[allow(missing_docs)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value with its wire name, in declaration order.
            pub const ALL: &'static [($name, &'static str)] = &[$(($name::$variant, $wire)),+];
            /// `(wire name, value)` pairs, for validation.
            pub const OPTIONS: &'static [(&'static str, $name)] = &[$(($wire, $name::$variant)),+];
            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            /// Parses a wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// The HomeHeroes side a profile belongs to.
    ProfileRole { Civilian = "civilian", Hero = "hero" }
);

wire_enum!(
    /// Service categories (seed 000 §1).
    Category { Cleaning = "cleaning", Repairs = "repairs", Delivery = "delivery", Tutoring = "tutoring", Other = "other" }
);

wire_enum!(
    /// Service request lifecycle states.
    RequestStatus {
        /// Open for heroes.
        Pending = "pending",
        /// A hero is assigned.
        Assigned = "assigned",
        /// Work has started.
        Active = "active",
        /// The hero finished.
        Completed = "completed",
        /// The civilian cancelled.
        Cancelled = "cancelled",
    }
);

wire_enum!(
    /// How a hero expressed interest.
    InterestSource { App = "app", Sms = "sms" }
);

wire_enum!(
    /// Job interest lifecycle states.
    InterestStatus {
        /// Open: the hero wants the job.
        Interested = "interested",
        /// The hero took it back.
        Withdrawn = "withdrawn",
        /// The civilian chose this hero.
        Selected = "selected",
        /// Another hero was chosen, or the request closed.
        Rejected = "rejected",
    }
);

wire_enum!(
    /// Days of the week, for hero availability.
    Weekday {
        Monday = "monday", Tuesday = "tuesday", Wednesday = "wednesday", Thursday = "thursday",
        Friday = "friday", Saturday = "saturday", Sunday = "sunday",
    }
);

/// The canonical user profile (`profiles`). `id` is the user's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The user's id.
    pub id: UserId,
    /// Civilian or hero; fixed at signup.
    pub role: ProfileRole,
    /// Set during onboarding.
    pub full_name: Option<String>,
    /// E.164, set during onboarding.
    pub phone: Option<String>,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// Which notification channels a civilian wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPreferences {
    /// Push notifications.
    pub push: bool,
    /// E-mail.
    pub email: bool,
    /// SMS.
    pub sms: bool,
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        Self { push: true, email: true, sms: false }
    }
}

/// Civilian-specific data (`civilian_profiles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CivilianProfile {
    /// Row id.
    pub id: CivilianProfileId,
    /// The owning user.
    pub profile_id: UserId,
    /// Optional during onboarding.
    pub address: Option<String>,
    /// Channel toggles.
    pub notifications: NotificationPreferences,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// One day's working hours, in minutes after midnight.
///
/// INVARIANT (day-window): `start_minute < end_minute <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayWindow {
    /// Start, minutes after midnight.
    pub start_minute: u16,
    /// End, minutes after midnight (1440 = end of day).
    pub end_minute: u16,
}

/// A hero's weekly schedule: the days the hero works and the hours. Days absent are days off.
pub type WeeklyAvailability = BTreeMap<Weekday, DayWindow>;

/// Accumulated ratings: the average is `total / count`, shown with two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rating {
    /// How many ratings.
    pub count: u32,
    /// The sum of the scores (each 1–5).
    pub total: u32,
}

impl Rating {
    /// The average on 0–5, two decimals (0.00 before any rating).
    pub fn average(&self) -> Decimal {
        if self.count == 0 {
            return Decimal::new(0, 2);
        }
        let mut avg = Decimal::from(self.total) / Decimal::from(self.count);
        avg = avg.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        avg.rescale(2);
        avg
    }
    /// With one more score; `None` on overflow.
    pub fn with(&self, score: u8) -> Option<Rating> {
        Some(Rating { count: self.count.checked_add(1)?, total: self.total.checked_add(u32::from(score))? })
    }
}

/// Hero-specific data (`hero_profiles`); public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeroProfile {
    /// Row id.
    pub id: HeroProfileId,
    /// The owning user.
    pub profile_id: UserId,
    /// At least one once onboarding is done; empty right after signup.
    pub skills: Vec<String>,
    /// 10.00–500.00 once onboarding is done; unset right after signup.
    pub hourly_rate: Option<Money>,
    /// Weekly schedule.
    pub availability: WeeklyAvailability,
    /// Ratings received.
    pub rating: Rating,
    /// Jobs completed; incremented in the same commit as each completion.
    pub completed_jobs: u32,
    /// An https URL.
    pub profile_image_url: Option<String>,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

impl HeroProfile {
    /// True once the hero finished onboarding (skills and rate set): required to take jobs.
    pub fn is_ready(&self) -> bool {
        !self.skills.is_empty() && self.hourly_rate.is_some()
    }
}

/// Where the job is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Postal code.
    pub zip_code: String,
    /// −90…90.
    pub latitude: f64,
    /// −180…180.
    pub longitude: f64,
}

impl Eq for Location {}

/// What the civilian will pay, as a range in one currency.
///
/// INVARIANT (budget): `0 < min <= max`, same currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetRange {
    /// Lowest.
    pub min: Money,
    /// Highest.
    pub max: Money,
}

impl BudgetRange {
    /// The seed's earnings rule: the midpoint `(min + max) / 2`, exact (may have one more decimal
    /// than the currency; rounding happens once, on the total).
    pub fn midpoint(&self) -> Decimal {
        (self.min.amount() + self.max.amount()) / Decimal::TWO
    }
}

/// A job posted by a civilian (`service_requests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRequest {
    /// Id.
    pub id: ServiceRequestId,
    /// The owner.
    pub civilian_id: UserId,
    /// The assigned hero (set from `assigned` on).
    pub hero_id: Option<UserId>,
    /// 5–100 characters.
    pub title: String,
    /// 10–1000 characters.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Where.
    pub location: Location,
    /// When; in the future at creation.
    pub scheduled_at: Timestamp,
    /// 1–24 hours.
    pub estimated_duration_hours: u8,
    /// Budget.
    pub budget: BudgetRange,
    /// Lifecycle state.
    pub status: RequestStatus,
    /// Why the civilian cancelled, if given.
    pub cancel_reason: Option<String>,
    /// The civilian's score for the hero (1–5), once rated.
    pub rating: Option<u8>,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
    /// When a hero was assigned.
    pub assigned_at: Option<Timestamp>,
    /// When completed.
    pub completed_at: Option<Timestamp>,
    /// When cancelled.
    pub cancelled_at: Option<Timestamp>,
}

/// A hero's interest in a request (`job_interest`). One per (request, hero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobInterest {
    /// Id.
    pub id: JobInterestId,
    /// The request.
    pub job_id: ServiceRequestId,
    /// The hero.
    pub hero_user_id: UserId,
    /// The request's owner, copied when the interest is created, so the interest names all its
    /// readers itself (the hero and this civilian).
    pub civilian_id: UserId,
    /// App or SMS.
    pub source: InterestSource,
    /// Lifecycle state.
    pub status: InterestStatus,
    /// E.164, for SMS interest.
    pub phone: Option<String>,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}
