//! HomeHeroes' entities (declared here, next to the model) and their reads over any [`Reader`],
//! written once here for every store.
//!
//! Who may read each entity is decided here, once: [`Entity::readers`] is both what
//! [`super::workflow::authorize`] checks for reads and who receives the entity's events.

use super::model::{
    BudgetRange, Category, CivilianProfile, HeroProfile, InterestSource, InterestStatus, JobInterest, Location,
    NotificationPreferences, Profile, ProfileRole, Rating, RequestStatus, ServiceRequest, WeeklyAvailability,
};
use crate::id::{CivilianProfileId, HeroProfileId, JobInterestId, ServiceRequestId, UserId};
use crate::kernel::entity::{Domain, Entity, EntityDecl, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{int_as, json_as, opt_int_as, DecodeError, Decoded, Row, RowRead, Value, ValueType};
use crate::money::{Money, MoneyError};
use crate::time::Timestamp;
use uuid::Uuid;

/// The HomeHeroes domain.
pub static DOMAIN: Domain = Domain {
    name: "homeheroes",
    entities: &[&PROFILE, &CIVILIAN_PROFILE, &HERO_PROFILE, &SERVICE_REQUEST, &JOB_INTEREST],
};

static PROFILE: EntityDecl = EntityDecl {
    kind: "homeheroes.profile",
    aliases: &["profile"],
    human: "profile",
    table: "profiles",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

static CIVILIAN_PROFILE: EntityDecl = EntityDecl {
    kind: "homeheroes.civilian_profile",
    aliases: &["civilian_profile"],
    human: "civilian profile",
    table: "civilian_profiles",
    key: "id",
    shape: Shape::Versioned,
    // One civilian part per profile (an inline `UNIQUE`: Postgres names it `<table>_<column>_key`).
    uniques: &[Unique { name: "civilian_profiles_profile_id_key", columns: &["profile_id"], when: None }],
    guards: &[],
};

static HERO_PROFILE: EntityDecl = EntityDecl {
    kind: "homeheroes.hero_profile",
    aliases: &["hero_profile"],
    human: "hero profile",
    table: "hero_profiles",
    key: "id",
    shape: Shape::Versioned,
    // One hero part per profile (an inline `UNIQUE`: Postgres names it `<table>_<column>_key`).
    uniques: &[Unique { name: "hero_profiles_profile_id_key", columns: &["profile_id"], when: None }],
    guards: &[],
};

static SERVICE_REQUEST: EntityDecl = EntityDecl {
    kind: "homeheroes.service_request",
    aliases: &["service_request"],
    human: "service request",
    table: "service_requests",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

static JOB_INTEREST: EntityDecl = EntityDecl {
    kind: "homeheroes.job_interest",
    aliases: &["job_interest"],
    human: "job interest",
    table: "job_interest",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[
        // One interest per hero per request.
        Unique { name: "job_interest_one_per_hero", columns: &["job_id", "hero_user_id"], when: None },
        // At most one selected hero per request.
        Unique { name: "job_interest_one_selected", columns: &["job_id"], when: Some(is_selected) },
    ],
    guards: &[],
};

fn is_selected(r: &dyn RowRead) -> bool {
    r.text("status").is_ok_and(|s| s == InterestStatus::Selected.as_str())
}

/// Who reads a profile or a civilian profile of `owner`: its owner (admins and the system read
/// everything). The one rule behind both [`Entity::readers`] and `authorize`'s read arm.
pub(crate) fn own_readers(owner: UserId) -> Readers {
    Readers::users([owner])
}

/// A wire enum stored as text, read with the enum's own parser.
fn wire<T>(r: &dyn RowRead, column: &str, parse: fn(&str) -> Option<T>) -> Decoded<T> {
    let text = r.text(column)?;
    parse(&text).ok_or_else(|| DecodeError::new(column, format!("unknown value `{text}`")))
}

fn money_error(column: &str, e: MoneyError) -> DecodeError {
    DecodeError::new(column, e.to_string())
}

impl Entity for Profile {
    const DECL: &'static EntityDecl = &PROFILE;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("role", self.role.as_str())
            .with_opt("full_name", ValueType::Text, self.full_name.clone())
            .with_opt("phone", ValueType::Text, self.phone.clone())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Profile {
            id: UserId::from_uuid(r.uuid("id")?),
            role: wire(r, "role", ProfileRole::parse)?,
            full_name: r.opt_text("full_name")?,
            phone: r.opt_text("phone")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A profile is its owner's (seed 000 §7: `auth.uid() = id`).
    fn readers(&self) -> Readers {
        own_readers(self.id)
    }
}

impl Entity for CivilianProfile {
    const DECL: &'static EntityDecl = &CIVILIAN_PROFILE;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("profile_id", self.profile_id.as_uuid())
            .with_opt("address", ValueType::Text, self.address.clone())
            .with("notify_push", self.notifications.push)
            .with("notify_email", self.notifications.email)
            .with("notify_sms", self.notifications.sms)
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(CivilianProfile {
            id: CivilianProfileId::from_uuid(r.uuid("id")?),
            profile_id: UserId::from_uuid(r.uuid("profile_id")?),
            address: r.opt_text("address")?,
            notifications: NotificationPreferences {
                push: r.bool("notify_push")?,
                email: r.bool("notify_email")?,
                sms: r.bool("notify_sms")?,
            },
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A civilian profile is its owner's (seed 000 §7: `auth.uid() = profile_id`).
    fn readers(&self) -> Readers {
        own_readers(self.profile_id)
    }
}

/// The weekly schedule as a JSON object (`{"monday": {"start_minute": …, "end_minute": …}}`), built
/// by hand so writing a row cannot fail; it is exactly the model's serde form.
fn availability_json(availability: &WeeklyAvailability) -> serde_json::Value {
    let days = availability.iter().map(|(day, w)| {
        (day.as_str().to_owned(), serde_json::json!({ "start_minute": w.start_minute, "end_minute": w.end_minute }))
    });
    serde_json::Value::Object(days.collect())
}

impl Entity for HeroProfile {
    const DECL: &'static EntityDecl = &HERO_PROFILE;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("profile_id", self.profile_id.as_uuid())
            .with("skills", Value::TextList(self.skills.clone()))
            .with_opt("hourly_rate", ValueType::Decimal, self.hourly_rate.map(|m| Value::Decimal(m.amount())))
            .with_opt("rate_currency", ValueType::Text, self.hourly_rate.map(|m| m.currency()))
            .with("availability", Value::Json(availability_json(&self.availability)))
            .with("rating_count", i64::from(self.rating.count))
            .with("rating_total", i64::from(self.rating.total))
            .with("completed_jobs", i64::from(self.completed_jobs))
            .with_opt("profile_image_url", ValueType::Text, self.profile_image_url.clone())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let hourly_rate = match (r.opt_decimal("hourly_rate")?, r.opt_currency("rate_currency")?) {
            (Some(amount), Some(currency)) => {
                Some(Money::new(amount, currency).map_err(|e| money_error("hourly_rate", e))?)
            }
            (None, None) => None,
            _ => return Err(DecodeError::new("rate_currency", "an hourly rate and its currency go together")),
        };
        Ok(HeroProfile {
            id: HeroProfileId::from_uuid(r.uuid("id")?),
            profile_id: UserId::from_uuid(r.uuid("profile_id")?),
            skills: r.text_list("skills")?,
            hourly_rate,
            availability: json_as(r, "availability")?,
            rating: Rating { count: int_as(r, "rating_count")?, total: int_as(r, "rating_total")? },
            completed_jobs: int_as(r, "completed_jobs")?,
            profile_image_url: r.opt_text("profile_image_url")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// Hero profiles are public (seed 000 §7: `USING (true)`): every signed-in user reads them, and
    /// the owner is listed so their own profile's events reach them by name.
    ///
    /// `authorize` also lets ANONYMOUS callers read hero profiles (the public directory); events,
    /// though, are only delivered to signed-in subscribers, which is what these readers describe.
    fn readers(&self) -> Readers {
        Readers::users([self.profile_id]).and_signed_in()
    }
}

impl Entity for ServiceRequest {
    const DECL: &'static EntityDecl = &SERVICE_REQUEST;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        let l = &self.location;
        Row::new()
            .with("id", self.id.as_uuid())
            .with("civilian_id", self.civilian_id.as_uuid())
            .with_opt("hero_id", ValueType::Uuid, self.hero_id.map(|h| h.as_uuid()))
            .with("title", self.title.as_str())
            .with("description", self.description.as_str())
            .with("category", self.category.as_str())
            .with("address", l.address.as_str())
            .with("city", l.city.as_str())
            .with("state", l.state.as_str())
            .with("zip_code", l.zip_code.as_str())
            .with("latitude", Value::Float(l.latitude))
            .with("longitude", Value::Float(l.longitude))
            .with("scheduled_at", self.scheduled_at)
            .with("estimated_duration_hours", i64::from(self.estimated_duration_hours))
            .with("currency", self.budget.min.currency())
            .with("budget_min", self.budget.min)
            .with("budget_max", self.budget.max)
            .with("status", self.status.as_str())
            .with_opt("cancel_reason", ValueType::Text, self.cancel_reason.clone())
            .with_opt("rating", ValueType::Int, self.rating.map(i64::from))
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
            .with_opt("assigned_at", ValueType::Ts, self.assigned_at)
            .with_opt("completed_at", ValueType::Ts, self.completed_at)
            .with_opt("cancelled_at", ValueType::Ts, self.cancelled_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        Ok(ServiceRequest {
            id: ServiceRequestId::from_uuid(r.uuid("id")?),
            civilian_id: UserId::from_uuid(r.uuid("civilian_id")?),
            hero_id: r.opt_uuid("hero_id")?.map(UserId::from_uuid),
            title: r.text("title")?,
            description: r.text("description")?,
            category: wire(r, "category", Category::parse)?,
            location: Location {
                address: r.text("address")?,
                city: r.text("city")?,
                state: r.text("state")?,
                zip_code: r.text("zip_code")?,
                latitude: r.float("latitude")?,
                longitude: r.float("longitude")?,
            },
            scheduled_at: r.ts("scheduled_at")?,
            estimated_duration_hours: int_as(r, "estimated_duration_hours")?,
            budget: BudgetRange { min: r.money("budget_min", currency)?, max: r.money("budget_max", currency)? },
            status: wire(r, "status", RequestStatus::parse)?,
            cancel_reason: r.opt_text("cancel_reason")?,
            rating: opt_int_as(r, "rating")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
            assigned_at: r.opt_ts("assigned_at")?,
            completed_at: r.opt_ts("completed_at")?,
            cancelled_at: r.opt_ts("cancelled_at")?,
        })
    }
    /// Seed 000 §7: its civilian, its assigned hero, and — while `pending` — every signed-in user
    /// (heroes browse open requests). Once assigned or cancelled, a hero who only showed interest no
    /// longer reads it, and so is no longer told of its changes (their interest's own events tell
    /// them the outcome).
    fn readers(&self) -> Readers {
        let readers = Readers::users([self.civilian_id].into_iter().chain(self.hero_id));
        if self.status == RequestStatus::Pending {
            readers.and_signed_in()
        } else {
            readers
        }
    }
}

impl Entity for JobInterest {
    const DECL: &'static EntityDecl = &JOB_INTEREST;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("job_id", self.job_id.as_uuid())
            .with("hero_user_id", self.hero_user_id.as_uuid())
            .with("civilian_id", self.civilian_id.as_uuid())
            .with("source", self.source.as_str())
            .with("status", self.status.as_str())
            .with_opt("phone", ValueType::Text, self.phone.clone())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(JobInterest {
            id: JobInterestId::from_uuid(r.uuid("id")?),
            job_id: ServiceRequestId::from_uuid(r.uuid("job_id")?),
            hero_user_id: UserId::from_uuid(r.uuid("hero_user_id")?),
            civilian_id: UserId::from_uuid(r.uuid("civilian_id")?),
            source: wire(r, "source", InterestSource::parse)?,
            status: wire(r, "status", InterestStatus::parse)?,
            phone: r.opt_text("phone")?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// Seed 000 §7: the interested hero and the request's civilian.
    fn readers(&self) -> Readers {
        Readers::users([self.hero_user_id, self.civilian_id])
    }
}

/// Filters for listing service requests; every set field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFilter {
    /// Status.
    pub status: Option<RequestStatus>,
    /// Owner.
    pub civilian_id: Option<UserId>,
    /// Assigned hero.
    pub hero_id: Option<UserId>,
    /// Category.
    pub category: Option<Category>,
    /// Only budgets whose maximum is at least this (same currency).
    pub budget_at_least: Option<Money>,
    /// Only budgets whose minimum is at most this (same currency).
    pub budget_at_most: Option<Money>,
}

impl RequestFilter {
    /// The query over service requests this filter selects (no order, position or limit).
    pub fn query(&self) -> Query {
        let mut q = Query::of::<ServiceRequest>();
        if let Some(s) = self.status {
            q = q.eq("status", s.as_str());
        }
        if let Some(u) = self.civilian_id {
            q = q.eq("civilian_id", u.as_uuid());
        }
        if let Some(u) = self.hero_id {
            q = q.eq("hero_id", u.as_uuid());
        }
        if let Some(c) = self.category {
            q = q.eq("category", c.as_str());
        }
        if let Some(m) = self.budget_at_least {
            q = q.eq("currency", m.currency()).filter(Filter::Ge("budget_max", Value::Money(m)));
        }
        if let Some(m) = self.budget_at_most {
            q = q.eq("currency", m.currency()).filter(Filter::Le("budget_min", Value::Money(m)));
        }
        q
    }
}

/// Keyset position: strictly after this `(created_at, id)` in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    /// `created_at` of the last row seen.
    pub created_at: Timestamp,
    /// `id` of the last row seen.
    pub id: ServiceRequestId,
}

/// The HomeHeroes reads, written once over any [`Reader`] (a store, or one command's snapshot).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait HomeHeroesStore: Reader {
    /// A profile by user id.
    async fn profile(&self, user: UserId) -> StoreResult<Option<Versioned<Profile>>> {
        self.get(user.as_uuid()).await
    }
    /// A civilian profile by owning user.
    async fn civilian_profile(&self, user: UserId) -> StoreResult<Option<Versioned<CivilianProfile>>> {
        self.find_one(Query::of::<CivilianProfile>().eq("profile_id", user.as_uuid())).await
    }
    /// A hero profile by owning user.
    async fn hero_profile(&self, user: UserId) -> StoreResult<Option<Versioned<HeroProfile>>> {
        self.find_one(Query::of::<HeroProfile>().eq("profile_id", user.as_uuid())).await
    }
    /// Hero profiles, ordered by `(created_at, id)`, `offset`/`limit` paged.
    async fn hero_profiles(&self, offset: u64, limit: u32) -> StoreResult<Vec<Versioned<HeroProfile>>> {
        self.find(
            Query::of::<HeroProfile>()
                .order_by("created_at", Dir::Asc)
                .order_by("id", Dir::Asc)
                .offset(offset)
                .limit(limit),
        )
        .await
    }
    /// A service request by id.
    async fn service_request(&self, id: ServiceRequestId) -> StoreResult<Option<Versioned<ServiceRequest>>> {
        self.get(id.as_uuid()).await
    }
    /// Service requests matching `filter`, newest first (`created_at` desc, `id` desc), strictly after
    /// `after`, at most `limit`.
    async fn service_requests(
        &self,
        filter: &RequestFilter,
        after: Option<After>,
        limit: u32,
    ) -> StoreResult<Vec<Versioned<ServiceRequest>>> {
        let mut q = filter.query().order_by("created_at", Dir::Desc).order_by("id", Dir::Desc).limit(limit);
        if let Some(a) = after {
            q = q.after(vec![Value::Ts(a.created_at), Value::Uuid(a.id.as_uuid())]);
        }
        self.find(q).await
    }
    /// Requests completed by `hero` with `completed_at` in `[from, to)`, by completion.
    async fn completed_requests(
        &self,
        hero: UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ServiceRequest>> {
        let done = self
            .find::<ServiceRequest>(
                Query::of::<ServiceRequest>()
                    .eq("status", RequestStatus::Completed.as_str())
                    .eq("hero_id", hero.as_uuid())
                    .filter(Filter::Ge("completed_at", Value::Ts(from)))
                    .filter(Filter::Lt("completed_at", Value::Ts(to)))
                    .order_by("completed_at", Dir::Asc)
                    .order_by("id", Dir::Asc),
            )
            .await?;
        Ok(done.into_iter().map(|v| v.value).collect())
    }
    /// All interests in a request, oldest first.
    async fn interests(&self, request: ServiceRequestId) -> StoreResult<Vec<Versioned<JobInterest>>> {
        self.find(
            Query::of::<JobInterest>()
                .eq("job_id", request.as_uuid())
                .order_by("created_at", Dir::Asc)
                .order_by("id", Dir::Asc),
        )
        .await
    }
}

impl<R: Reader + ?Sized> HomeHeroesStore for R {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::homeheroes::model::{DayWindow, Weekday};
    use crate::money::Currency;
    use rust_decimal::Decimal;

    #[test]
    fn a_hero_profile_row_reads_back_to_the_same_value() {
        let t = Timestamp::from_unix_micros(1_780_000_000_000_000).unwrap();
        let mut availability = WeeklyAvailability::new();
        availability.insert(Weekday::Monday, DayWindow { start_minute: 480, end_minute: 1020 });
        availability.insert(Weekday::Saturday, DayWindow { start_minute: 600, end_minute: 1440 });
        let hero = HeroProfile {
            id: HeroProfileId::from_uuid(Uuid::from_u128(1)),
            profile_id: UserId::from_uuid(Uuid::from_u128(2)),
            skills: vec!["Plumbing".into()],
            hourly_rate: Some(Money::new(Decimal::new(3550, 2), Currency::USD).unwrap()),
            availability: availability.clone(),
            rating: Rating { count: 2, total: 9 },
            completed_jobs: 3,
            profile_image_url: None,
            created_at: t,
            updated_at: t,
        };
        // The hand-built JSON is exactly the model's serde form.
        assert_eq!(availability_json(&availability), serde_json::to_value(&availability).unwrap());
        assert_eq!(HeroProfile::from_row(&hero.to_row()).unwrap(), hero);
        let unset = HeroProfile { hourly_rate: None, skills: vec![], ..hero };
        assert_eq!(HeroProfile::from_row(&unset.to_row()).unwrap(), unset);
    }

    #[test]
    fn readers_follow_the_seed_policies() {
        let u = |n| UserId::from_uuid(Uuid::from_u128(n));
        let t = Timestamp::from_unix_micros(0).unwrap();
        let interest = JobInterest {
            id: JobInterestId::from_uuid(Uuid::from_u128(9)),
            job_id: ServiceRequestId::from_uuid(Uuid::from_u128(8)),
            hero_user_id: u(3),
            civilian_id: u(1),
            source: InterestSource::App,
            status: InterestStatus::Interested,
            phone: None,
            created_at: t,
            updated_at: t,
        };
        assert_eq!(interest.readers(), Readers::users([u(1), u(3)]));
        assert_eq!(own_readers(u(1)), Readers::users([u(1)]));
        assert_eq!(JobInterest::from_row(&interest.to_row()).unwrap(), interest);
    }
}
