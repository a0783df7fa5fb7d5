//! Row codecs: hearth-core values to Postgres parameters and back, and Postgres errors to
//! `StoreError`.

use chrono::{DateTime, Utc};
use hearth_core::amenities::{Amenity, AmenityBooking, AmenityStatus, BookingStatus, Slot, SlotTemplate};
use hearth_core::canteen::{MenuItem, Order, OrderStatus, RefundState};
use hearth_core::homeheroes::model::{
    BudgetRange, Category, CivilianProfile, HeroProfile, InterestSource, InterestStatus, JobInterest, Location,
    NotificationPreferences, Profile, ProfileRole, Rating, RequestStatus, ServiceRequest,
};
use hearth_core::id::{AmenityBookingId, AmenityId, SlotId};
use hearth_core::id::{AuditId, EventId, UserId};
use hearth_core::id::{BookingId, JobRequestId, QuoteId};
use hearth_core::id::{MenuItemId, OrderId};
use hearth_core::id::{ReservationId, RoomId};
use hearth_core::khedma::{
    Booking, BookingStatus as KhedmaBookingStatus, JobRequest, JobRequestStatus, Quote, QuoteStatus,
};
use hearth_core::ledger::model::{
    Account, AccountFlags, AccountId, AccountKind, Balance, Transfer, TransferCode, TransferId, TransferKind,
    TransferResult,
};
use hearth_core::money::{Currency, Money};
use hearth_core::payments::fraud::FraudFlag;
use hearth_core::payments::gateway::GatewayKind;
use hearth_core::payments::{
    ConfirmationOutcome, IntentStatus, PaymentConfirmation, PaymentIntent, PaymentIntentId, ReviewState,
};
use hearth_core::rooms::{BedReservation, ReservationStatus, Room};
use hearth_core::store::CurrencyTotals;
use hearth_core::store::{AuditRecord, EntityKind, EntityRef, OutboxEvent, StoreError, StoreResult, Versioned};
use hearth_core::time::Timestamp;
use rust_decimal::Decimal;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};
use uuid::Uuid;

/// A parameter value, so statements can be built from column lists.
#[derive(Debug)]
pub(crate) enum PgValue {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    I16(i16),
    OptI16(Option<i16>),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Ts(DateTime<Utc>),
    OptTs(Option<DateTime<Utc>>),
    Decimal(Decimal),
    OptDecimal(Option<Decimal>),
    TextArray(Vec<String>),
    UuidArray(Vec<Uuid>),
    Date(chrono::NaiveDate),
    Json(serde_json::Value),
    OptJson(Option<serde_json::Value>),
}

pub(crate) fn bind<'q>(q: Query<'q, Postgres, PgArguments>, v: PgValue) -> Query<'q, Postgres, PgArguments> {
    match v {
        PgValue::Uuid(x) => q.bind(x),
        PgValue::OptUuid(x) => q.bind(x),
        PgValue::Text(x) => q.bind(x),
        PgValue::OptText(x) => q.bind(x),
        PgValue::I16(x) => q.bind(x),
        PgValue::OptI16(x) => q.bind(x),
        PgValue::I32(x) => q.bind(x),
        PgValue::I64(x) => q.bind(x),
        PgValue::F64(x) => q.bind(x),
        PgValue::Bool(x) => q.bind(x),
        PgValue::Ts(x) => q.bind(x),
        PgValue::OptTs(x) => q.bind(x),
        PgValue::Decimal(x) => q.bind(x),
        PgValue::OptDecimal(x) => q.bind(x),
        PgValue::TextArray(x) => q.bind(x),
        PgValue::UuidArray(x) => q.bind(x),
        PgValue::Date(x) => q.bind(x),
        PgValue::Json(x) => q.bind(x),
        PgValue::OptJson(x) => q.bind(x),
    }
}

fn db_code(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// True for a unique or primary-key violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    db_code(e).as_deref() == Some("23505")
}

/// Maps a Postgres error onto the store contract.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            let name = d.constraint().map(str::to_owned).unwrap_or_else(|| d.message().to_owned());
            match code.as_str() {
                // unique, check, foreign key, not null, restrict (append-only tables)
                "23505" | "23514" | "23503" | "23502" | "23001" => StoreError::Constraint { name },
                // serialization failure, deadlock: the commit can be decided again
                "40001" | "40P01" => StoreError::Unavailable { message: d.message().to_owned() },
                // too many connections, cannot connect now, admin shutdown
                "53300" | "57P03" | "57P01" => StoreError::Unavailable { message: d.message().to_owned() },
                _ => StoreError::Backend { message: e.to_string() },
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable { message: e.to_string() }
        }
        _ => StoreError::Backend { message: e.to_string() },
    }
}

/// Like [`map_err`], for an entity write: a duplicate key means the entity already exists; a
/// deadlock between two writers of the same rows is a version conflict (the loser decides again).
pub(crate) fn map_write_err(e: sqlx::Error, kind: EntityKind) -> StoreError {
    match db_code(&e).as_deref() {
        Some("23505") => StoreError::AlreadyExists { entity: kind },
        Some("40001" | "40P01") => StoreError::VersionConflict { entity: kind },
        _ => map_err(e),
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt { message: what.to_owned() }
}

pub(crate) fn get<'r, T>(r: &'r PgRow, i: usize) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    r.try_get(i).map_err(|e| corrupt(&format!("column {i}: {e}")))
}

fn ts(r: &PgRow, i: usize) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_datetime(get(r, i)?))
}
fn opt_ts(r: &PgRow, i: usize) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<DateTime<Utc>>>(r, i)?.map(Timestamp::from_datetime))
}
fn wire<T>(text: &str, f: fn(&str) -> Option<T>, what: &str) -> StoreResult<T> {
    f(text.trim()).ok_or_else(|| corrupt(what))
}
pub(crate) fn version_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| corrupt("version out of range"))
}
fn version(r: &PgRow, i: usize) -> StoreResult<u64> {
    u64::try_from(get::<i64>(r, i)?).map_err(|_| corrupt("negative version"))
}
fn currency(code: &str) -> StoreResult<Currency> {
    Currency::from_code(code.trim()).ok_or_else(|| corrupt("unknown currency"))
}
fn money(amount: Decimal, c: Currency) -> StoreResult<Money> {
    Money::new(amount, c).map_err(|_| corrupt("amount finer than its currency"))
}
fn u32_of(v: i32, what: &str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(what))
}

pub(crate) fn profile_cols(p: &Profile) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(p.id.as_uuid())),
        ("role", PgValue::Text(p.role.as_str().into())),
        ("full_name", PgValue::OptText(p.full_name.clone())),
        ("phone", PgValue::OptText(p.phone.clone())),
        ("created_at", PgValue::Ts(p.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(p.updated_at.as_datetime())),
    ]
}

pub(crate) fn decode_profile(r: &PgRow) -> StoreResult<Versioned<Profile>> {
    Ok(Versioned {
        value: Profile {
            id: UserId::from_uuid(get(r, 0)?),
            role: wire(&get::<String>(r, 1)?, ProfileRole::parse, "profile role")?,
            full_name: get(r, 2)?,
            phone: get(r, 3)?,
            created_at: ts(r, 4)?,
            updated_at: ts(r, 5)?,
        },
        version: version(r, 6)?,
    })
}

pub(crate) fn civilian_cols(c: &CivilianProfile) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(c.id.as_uuid())),
        ("profile_id", PgValue::Uuid(c.profile_id.as_uuid())),
        ("address", PgValue::OptText(c.address.clone())),
        ("notify_push", PgValue::Bool(c.notifications.push)),
        ("notify_email", PgValue::Bool(c.notifications.email)),
        ("notify_sms", PgValue::Bool(c.notifications.sms)),
        ("created_at", PgValue::Ts(c.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(c.updated_at.as_datetime())),
    ]
}

pub(crate) fn decode_civilian(r: &PgRow) -> StoreResult<Versioned<CivilianProfile>> {
    Ok(Versioned {
        value: CivilianProfile {
            id: get::<Uuid>(r, 0)?.into(),
            profile_id: get::<Uuid>(r, 1)?.into(),
            address: get(r, 2)?,
            notifications: NotificationPreferences { push: get(r, 3)?, email: get(r, 4)?, sms: get(r, 5)? },
            created_at: ts(r, 6)?,
            updated_at: ts(r, 7)?,
        },
        version: version(r, 8)?,
    })
}

fn i32_of(v: u32) -> StoreResult<i32> {
    i32::try_from(v).map_err(|_| StoreError::Backend { message: "counter out of range".into() })
}

pub(crate) fn hero_cols(h: &HeroProfile) -> StoreResult<Vec<(&'static str, PgValue)>> {
    let availability =
        serde_json::to_value(&h.availability).map_err(|e| StoreError::Backend { message: e.to_string() })?;
    Ok(vec![
        ("id", PgValue::Uuid(h.id.as_uuid())),
        ("profile_id", PgValue::Uuid(h.profile_id.as_uuid())),
        ("skills", PgValue::TextArray(h.skills.clone())),
        ("hourly_rate", PgValue::OptDecimal(h.hourly_rate.map(|m| m.amount()))),
        ("rate_currency", PgValue::OptText(h.hourly_rate.map(|m| m.currency().code().to_owned()))),
        ("availability", PgValue::Json(availability)),
        ("rating_count", PgValue::I32(i32_of(h.rating.count)?)),
        ("rating_total", PgValue::I32(i32_of(h.rating.total)?)),
        ("completed_jobs", PgValue::I32(i32_of(h.completed_jobs)?)),
        ("profile_image_url", PgValue::OptText(h.profile_image_url.clone())),
        ("created_at", PgValue::Ts(h.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(h.updated_at.as_datetime())),
    ])
}

pub(crate) fn decode_hero(r: &PgRow) -> StoreResult<Versioned<HeroProfile>> {
    let hourly_rate = match (get::<Option<Decimal>>(r, 3)?, get::<Option<String>>(r, 4)?) {
        (Some(a), Some(c)) => Some(money(a, currency(&c)?)?),
        (None, None) => None,
        _ => return Err(corrupt("hourly rate without currency")),
    };
    Ok(Versioned {
        value: HeroProfile {
            id: get::<Uuid>(r, 0)?.into(),
            profile_id: get::<Uuid>(r, 1)?.into(),
            skills: get(r, 2)?,
            hourly_rate,
            availability: serde_json::from_value(get(r, 5)?).map_err(|_| corrupt("availability"))?,
            rating: Rating { count: u32_of(get(r, 6)?, "rating count")?, total: u32_of(get(r, 7)?, "rating total")? },
            completed_jobs: u32_of(get(r, 8)?, "completed jobs")?,
            profile_image_url: get(r, 9)?,
            created_at: ts(r, 10)?,
            updated_at: ts(r, 11)?,
        },
        version: version(r, 12)?,
    })
}

pub(crate) fn request_cols(s: &ServiceRequest) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(s.id.as_uuid())),
        ("civilian_id", PgValue::Uuid(s.civilian_id.as_uuid())),
        ("hero_id", PgValue::OptUuid(s.hero_id.map(|h| h.as_uuid()))),
        ("title", PgValue::Text(s.title.clone())),
        ("description", PgValue::Text(s.description.clone())),
        ("category", PgValue::Text(s.category.as_str().into())),
        ("address", PgValue::Text(s.location.address.clone())),
        ("city", PgValue::Text(s.location.city.clone())),
        ("state", PgValue::Text(s.location.state.clone())),
        ("zip_code", PgValue::Text(s.location.zip_code.clone())),
        ("latitude", PgValue::F64(s.location.latitude)),
        ("longitude", PgValue::F64(s.location.longitude)),
        ("scheduled_at", PgValue::Ts(s.scheduled_at.as_datetime())),
        ("estimated_duration_hours", PgValue::I16(i16::from(s.estimated_duration_hours))),
        ("currency", PgValue::Text(s.budget.min.currency().code().into())),
        ("budget_min", PgValue::Decimal(s.budget.min.amount())),
        ("budget_max", PgValue::Decimal(s.budget.max.amount())),
        ("status", PgValue::Text(s.status.as_str().into())),
        ("cancel_reason", PgValue::OptText(s.cancel_reason.clone())),
        ("rating", PgValue::OptI16(s.rating.map(i16::from))),
        ("created_at", PgValue::Ts(s.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(s.updated_at.as_datetime())),
        ("assigned_at", PgValue::OptTs(s.assigned_at.map(|t| t.as_datetime()))),
        ("completed_at", PgValue::OptTs(s.completed_at.map(|t| t.as_datetime()))),
        ("cancelled_at", PgValue::OptTs(s.cancelled_at.map(|t| t.as_datetime()))),
    ]
}

pub(crate) fn decode_request(r: &PgRow) -> StoreResult<Versioned<ServiceRequest>> {
    let cur = currency(&get::<String>(r, 14)?)?;
    Ok(Versioned {
        value: ServiceRequest {
            id: get::<Uuid>(r, 0)?.into(),
            civilian_id: get::<Uuid>(r, 1)?.into(),
            hero_id: get::<Option<Uuid>>(r, 2)?.map(UserId::from_uuid),
            title: get(r, 3)?,
            description: get(r, 4)?,
            category: wire(&get::<String>(r, 5)?, Category::parse, "category")?,
            location: Location {
                address: get(r, 6)?,
                city: get(r, 7)?,
                state: get(r, 8)?,
                zip_code: get(r, 9)?,
                latitude: get(r, 10)?,
                longitude: get(r, 11)?,
            },
            scheduled_at: ts(r, 12)?,
            estimated_duration_hours: u8::try_from(get::<i16>(r, 13)?).map_err(|_| corrupt("duration"))?,
            budget: BudgetRange { min: money(get(r, 15)?, cur)?, max: money(get(r, 16)?, cur)? },
            status: wire(&get::<String>(r, 17)?, RequestStatus::parse, "status")?,
            cancel_reason: get(r, 18)?,
            rating: get::<Option<i16>>(r, 19)?.map(|v| u8::try_from(v).map_err(|_| corrupt("rating"))).transpose()?,
            created_at: ts(r, 20)?,
            updated_at: ts(r, 21)?,
            assigned_at: opt_ts(r, 22)?,
            completed_at: opt_ts(r, 23)?,
            cancelled_at: opt_ts(r, 24)?,
        },
        version: version(r, 25)?,
    })
}

pub(crate) fn interest_cols(i: &JobInterest) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(i.id.as_uuid())),
        ("job_id", PgValue::Uuid(i.job_id.as_uuid())),
        ("hero_user_id", PgValue::Uuid(i.hero_user_id.as_uuid())),
        ("source", PgValue::Text(i.source.as_str().into())),
        ("status", PgValue::Text(i.status.as_str().into())),
        ("phone", PgValue::OptText(i.phone.clone())),
        ("created_at", PgValue::Ts(i.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(i.updated_at.as_datetime())),
    ]
}

pub(crate) fn decode_interest(r: &PgRow) -> StoreResult<Versioned<JobInterest>> {
    Ok(Versioned {
        value: JobInterest {
            id: get::<Uuid>(r, 0)?.into(),
            job_id: get::<Uuid>(r, 1)?.into(),
            hero_user_id: get::<Uuid>(r, 2)?.into(),
            source: wire(&get::<String>(r, 3)?, InterestSource::parse, "source")?,
            status: wire(&get::<String>(r, 4)?, InterestStatus::parse, "interest status")?,
            phone: get(r, 5)?,
            created_at: ts(r, 6)?,
            updated_at: ts(r, 7)?,
        },
        version: version(r, 8)?,
    })
}

fn entity(r: &PgRow, kind: usize, id: usize) -> StoreResult<EntityRef> {
    Ok(EntityRef { kind: wire(&get::<String>(r, kind)?, EntityKind::parse, "entity kind")?, id: get(r, id)? })
}

pub(crate) fn decode_audit(r: &PgRow) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        id: AuditId::from_uuid(get(r, 0)?),
        entity: entity(r, 1, 2)?,
        action: get(r, 3)?,
        actor: get(r, 4)?,
        before: get(r, 5)?,
        after: get(r, 6)?,
        version: version(r, 7)?,
        at: ts(r, 8)?,
    })
}

pub(crate) fn decode_event(r: &PgRow) -> StoreResult<(i64, OutboxEvent)> {
    let audience: Vec<Uuid> = get(r, 6)?;
    Ok((
        get(r, 0)?,
        OutboxEvent {
            id: EventId::from_uuid(get(r, 1)?),
            topic: get(r, 2)?,
            entity: entity(r, 3, 4)?,
            payload: get(r, 5)?,
            audience: audience.into_iter().map(UserId::from_uuid).collect(),
            at: ts(r, 7)?,
        },
    ))
}

pub(crate) fn account_cols(a: &Account) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(a.id.as_uuid())),
        ("owner_id", PgValue::OptUuid(a.owner.map(|o| o.as_uuid()))),
        ("kind", PgValue::Text(a.kind.as_str().into())),
        ("currency", PgValue::Text(a.currency.code().into())),
        ("debits_must_not_exceed_credits", PgValue::Bool(a.flags.debits_must_not_exceed_credits)),
        ("credits_must_not_exceed_debits", PgValue::Bool(a.flags.credits_must_not_exceed_debits)),
        ("frozen", PgValue::Bool(a.flags.frozen)),
        ("closed", PgValue::Bool(a.flags.closed)),
        ("debits_pending", PgValue::I64(a.balance.debits_pending)),
        ("debits_posted", PgValue::I64(a.balance.debits_posted)),
        ("credits_pending", PgValue::I64(a.balance.credits_pending)),
        ("credits_posted", PgValue::I64(a.balance.credits_posted)),
        ("created_at", PgValue::Ts(a.created_at.as_datetime())),
    ]
}

pub(crate) const ACCOUNT_SELECT: &str = "SELECT id, owner_id, kind, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits, frozen, closed, debits_pending, debits_posted, credits_pending, credits_posted, created_at, version FROM ledger_accounts";

pub(crate) fn decode_account(r: &PgRow) -> StoreResult<Versioned<Account>> {
    Ok(Versioned {
        value: Account {
            id: AccountId::from_uuid(get(r, 0)?),
            owner: get::<Option<Uuid>>(r, 1)?.map(UserId::from_uuid),
            kind: wire(&get::<String>(r, 2)?, AccountKind::parse, "account kind")?,
            currency: currency(&get::<String>(r, 3)?)?,
            flags: AccountFlags {
                debits_must_not_exceed_credits: get(r, 4)?,
                credits_must_not_exceed_debits: get(r, 5)?,
                frozen: get(r, 6)?,
                closed: get(r, 7)?,
            },
            balance: Balance {
                debits_pending: get(r, 8)?,
                debits_posted: get(r, 9)?,
                credits_pending: get(r, 10)?,
                credits_posted: get(r, 11)?,
            },
            created_at: ts(r, 12)?,
        },
        version: version(r, 13)?,
    })
}

pub(crate) const TRANSFER_SELECT: &str = "SELECT id, debit_account_id, credit_account_id, amount, currency, kind, pending_id, timeout_secs, expires_at, linked, code, reference, result, actor, created_at FROM ledger_transfers";

pub(crate) fn decode_transfer(r: &PgRow) -> StoreResult<Transfer> {
    Ok(Transfer {
        id: TransferId::from_uuid(get(r, 0)?),
        debit_account_id: AccountId::from_uuid(get(r, 1)?),
        credit_account_id: AccountId::from_uuid(get(r, 2)?),
        amount: get(r, 3)?,
        currency: currency(&get::<String>(r, 4)?)?,
        kind: wire(&get::<String>(r, 5)?, TransferKind::parse, "transfer kind")?,
        pending_id: get::<Option<Uuid>>(r, 6)?.map(TransferId::from_uuid),
        timeout_secs: u32::try_from(get::<i32>(r, 7)?).map_err(|_| corrupt("timeout"))?,
        expires_at: opt_ts(r, 8)?,
        linked: get(r, 9)?,
        code: wire(&get::<String>(r, 10)?, TransferCode::parse, "transfer code")?,
        reference: get(r, 11)?,
        result: wire(&get::<String>(r, 12)?, TransferResult::parse, "transfer result")?,
        actor: get(r, 13)?,
        created_at: ts(r, 14)?,
    })
}

pub(crate) fn decode_totals(r: &PgRow) -> StoreResult<CurrencyTotals> {
    let sum = |i| -> StoreResult<i64> {
        let d: Option<Decimal> = get(r, i)?;
        i64::try_from(d.unwrap_or_default()).map_err(|_| corrupt("total overflow"))
    };
    Ok(CurrencyTotals {
        currency: currency(&get::<String>(r, 0)?)?,
        totals: Balance {
            debits_pending: sum(1)?,
            debits_posted: sum(2)?,
            credits_pending: sum(3)?,
            credits_posted: sum(4)?,
        },
    })
}

pub(crate) fn intent_cols(i: &PaymentIntent) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(i.id.as_uuid())),
        ("user_id", PgValue::Uuid(i.user_id.as_uuid())),
        ("wallet_account_id", PgValue::Uuid(i.wallet_account_id.as_uuid())),
        ("amount", PgValue::Decimal(i.amount.amount())),
        ("currency", PgValue::Text(i.amount.currency().code().into())),
        ("gateway", PgValue::Text(i.gateway.as_str().into())),
        ("status", PgValue::Text(i.status.as_str().into())),
        ("provider_order_id", PgValue::OptText(i.provider_order_id.clone())),
        ("flags", PgValue::TextArray(i.flags.iter().map(|f| flag_name(*f)).collect())),
        ("review", PgValue::OptText(i.review.map(|r| r.as_str().to_owned()))),
        ("transfer_id", PgValue::OptUuid(i.transfer_id.map(|t| t.as_uuid()))),
        ("created_at", PgValue::Ts(i.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(i.updated_at.as_datetime())),
        ("expires_at", PgValue::Ts(i.expires_at.as_datetime())),
    ]
}

fn flag_name(f: FraudFlag) -> String {
    serde_json::to_value(f).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

pub(crate) const INTENT_SELECT: &str = "SELECT id, user_id, wallet_account_id, amount, currency, gateway, status, provider_order_id, flags, review, transfer_id, created_at, updated_at, expires_at, version FROM payment_intents";

pub(crate) fn decode_intent(r: &PgRow) -> StoreResult<Versioned<PaymentIntent>> {
    let flags: Vec<String> = get(r, 8)?;
    let flags = flags
        .into_iter()
        .map(|f| serde_json::from_value(serde_json::Value::String(f)).map_err(|_| corrupt("fraud flag")))
        .collect::<StoreResult<Vec<FraudFlag>>>()?;
    Ok(Versioned {
        value: PaymentIntent {
            id: PaymentIntentId::from_uuid(get(r, 0)?),
            user_id: UserId::from_uuid(get(r, 1)?),
            wallet_account_id: AccountId::from_uuid(get(r, 2)?),
            amount: money(get(r, 3)?, currency(&get::<String>(r, 4)?)?)?,
            gateway: wire(&get::<String>(r, 5)?, GatewayKind::parse, "gateway")?,
            status: wire(&get::<String>(r, 6)?, IntentStatus::parse, "intent status")?,
            provider_order_id: get(r, 7)?,
            flags,
            review: get::<Option<String>>(r, 9)?.map(|v| wire(&v, ReviewState::parse, "review")).transpose()?,
            transfer_id: get::<Option<Uuid>>(r, 10)?.map(TransferId::from_uuid),
            created_at: ts(r, 11)?,
            updated_at: ts(r, 12)?,
            expires_at: ts(r, 13)?,
        },
        version: version(r, 14)?,
    })
}

pub(crate) const CONFIRMATION_SELECT: &str = "SELECT gateway, provider_txn_id, intent_id, amount_minor, currency, status, outcome, transfer_id, received_at FROM payment_confirmations";

pub(crate) fn decode_confirmation(r: &PgRow) -> StoreResult<PaymentConfirmation> {
    Ok(PaymentConfirmation {
        gateway: wire(&get::<String>(r, 0)?, GatewayKind::parse, "gateway")?,
        provider_txn_id: get(r, 1)?,
        intent_id: get::<Option<Uuid>>(r, 2)?.map(PaymentIntentId::from_uuid),
        amount_minor: get(r, 3)?,
        currency: get::<Option<String>>(r, 4)?.map(|c| currency(&c)).transpose()?,
        status: serde_json::from_value(serde_json::Value::String(get(r, 5)?)).map_err(|_| corrupt("event status"))?,
        outcome: wire(&get::<String>(r, 6)?, ConfirmationOutcome::parse, "outcome")?,
        transfer_id: get::<Option<Uuid>>(r, 7)?.map(TransferId::from_uuid),
        received_at: ts(r, 8)?,
    })
}

pub(crate) fn amenity_cols(a: &Amenity) -> StoreResult<Vec<(&'static str, PgValue)>> {
    let t = &a.template;
    let small = |v: u16| i16::try_from(v).map_err(|_| StoreError::Backend { message: "template out of range".into() });
    Ok(vec![
        ("id", PgValue::Uuid(a.id.as_uuid())),
        ("name", PgValue::Text(a.name.clone())),
        ("opens_minute", PgValue::I16(small(t.opens_minute)?)),
        ("closes_minute", PgValue::I16(small(t.closes_minute)?)),
        ("slot_minutes", PgValue::I16(small(t.slot_minutes)?)),
        ("capacity", PgValue::I32(i32_of(t.capacity)?)),
        ("time_zone", PgValue::Text(t.time_zone.clone())),
        ("status", PgValue::Text(a.status.as_str().into())),
        ("created_at", PgValue::Ts(a.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(a.updated_at.as_datetime())),
    ])
}

pub(crate) const AMENITY_SELECT: &str = "SELECT id, name, opens_minute, closes_minute, slot_minutes, capacity, time_zone, status, created_at, updated_at, version FROM amenities";

fn u16_of(v: i16, what: &str) -> StoreResult<u16> {
    u16::try_from(v).map_err(|_| corrupt(what))
}

pub(crate) fn decode_amenity(r: &PgRow) -> StoreResult<Versioned<Amenity>> {
    Ok(Versioned {
        value: Amenity {
            id: AmenityId::from_uuid(get(r, 0)?),
            name: get(r, 1)?,
            template: SlotTemplate {
                opens_minute: u16_of(get(r, 2)?, "opens")?,
                closes_minute: u16_of(get(r, 3)?, "closes")?,
                slot_minutes: u16_of(get(r, 4)?, "slot minutes")?,
                capacity: u32_of(get(r, 5)?, "capacity")?,
                time_zone: get(r, 6)?,
            },
            status: wire(&get::<String>(r, 7)?, AmenityStatus::parse, "amenity status")?,
            created_at: ts(r, 8)?,
            updated_at: ts(r, 9)?,
        },
        version: version(r, 10)?,
    })
}

pub(crate) fn slot_cols(s: &Slot) -> StoreResult<Vec<(&'static str, PgValue)>> {
    Ok(vec![
        ("id", PgValue::Uuid(s.id.as_uuid())),
        ("amenity_id", PgValue::Uuid(s.amenity_id.as_uuid())),
        ("date", PgValue::Date(s.date)),
        ("starts_at", PgValue::Ts(s.starts_at.as_datetime())),
        ("ends_at", PgValue::Ts(s.ends_at.as_datetime())),
        ("capacity", PgValue::I32(i32_of(s.capacity)?)),
        ("booked", PgValue::I32(i32_of(s.booked)?)),
    ])
}

pub(crate) const SLOT_SELECT: &str =
    "SELECT id, amenity_id, date, starts_at, ends_at, capacity, booked, version FROM amenity_slots";

pub(crate) fn decode_slot(r: &PgRow) -> StoreResult<Versioned<Slot>> {
    Ok(Versioned {
        value: Slot {
            id: SlotId::from_uuid(get(r, 0)?),
            amenity_id: AmenityId::from_uuid(get(r, 1)?),
            date: get(r, 2)?,
            starts_at: ts(r, 3)?,
            ends_at: ts(r, 4)?,
            capacity: u32_of(get(r, 5)?, "capacity")?,
            booked: u32_of(get(r, 6)?, "booked")?,
        },
        version: version(r, 7)?,
    })
}

pub(crate) fn amenity_booking_cols(b: &AmenityBooking) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(b.id.as_uuid())),
        ("slot_id", PgValue::Uuid(b.slot_id.as_uuid())),
        ("amenity_id", PgValue::Uuid(b.amenity_id.as_uuid())),
        ("user_id", PgValue::Uuid(b.user_id.as_uuid())),
        ("status", PgValue::Text(b.status.as_str().into())),
        ("created_at", PgValue::Ts(b.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(b.updated_at.as_datetime())),
    ]
}

pub(crate) const AMENITY_BOOKING_SELECT: &str =
    "SELECT b.id, b.slot_id, b.amenity_id, b.user_id, b.status, b.created_at, b.updated_at, b.version FROM amenity_bookings b";

pub(crate) fn decode_amenity_booking(r: &PgRow) -> StoreResult<Versioned<AmenityBooking>> {
    Ok(Versioned {
        value: AmenityBooking {
            id: AmenityBookingId::from_uuid(get(r, 0)?),
            slot_id: SlotId::from_uuid(get(r, 1)?),
            amenity_id: AmenityId::from_uuid(get(r, 2)?),
            user_id: UserId::from_uuid(get(r, 3)?),
            status: wire(&get::<String>(r, 4)?, BookingStatus::parse, "booking status")?,
            created_at: ts(r, 5)?,
            updated_at: ts(r, 6)?,
        },
        version: version(r, 7)?,
    })
}

pub(crate) fn menu_item_cols(m: &MenuItem) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(m.id.as_uuid())),
        ("date", PgValue::Date(m.date)),
        ("name", PgValue::Text(m.name.clone())),
        ("price", PgValue::Decimal(m.price.amount())),
        ("currency", PgValue::Text(m.price.currency().code().into())),
        ("available", PgValue::Bool(m.available)),
        ("created_at", PgValue::Ts(m.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(m.updated_at.as_datetime())),
    ]
}

pub(crate) const MENU_SELECT: &str =
    "SELECT id, date, name, price, currency, available, created_at, updated_at, version FROM canteen_menu_items";

pub(crate) fn decode_menu_item(r: &PgRow) -> StoreResult<Versioned<MenuItem>> {
    Ok(Versioned {
        value: MenuItem {
            id: MenuItemId::from_uuid(get(r, 0)?),
            date: get(r, 1)?,
            name: get(r, 2)?,
            price: money(get(r, 3)?, currency(&get::<String>(r, 4)?)?)?,
            available: get(r, 5)?,
            created_at: ts(r, 6)?,
            updated_at: ts(r, 7)?,
        },
        version: version(r, 8)?,
    })
}

pub(crate) fn order_cols(o: &Order) -> StoreResult<Vec<(&'static str, PgValue)>> {
    let lines = serde_json::to_value(&o.lines).map_err(|e| StoreError::Backend { message: e.to_string() })?;
    Ok(vec![
        ("id", PgValue::Uuid(o.id.as_uuid())),
        ("user_id", PgValue::Uuid(o.user_id.as_uuid())),
        ("room", PgValue::Text(o.room.clone())),
        ("date", PgValue::Date(o.date)),
        ("lines", PgValue::Json(lines)),
        ("total", PgValue::Decimal(o.total.amount())),
        ("currency", PgValue::Text(o.total.currency().code().into())),
        ("status", PgValue::Text(o.status.as_str().into())),
        ("refund", PgValue::OptText(o.refund.map(|r| r.as_str().to_owned()))),
        ("created_at", PgValue::Ts(o.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(o.updated_at.as_datetime())),
    ])
}

pub(crate) const ORDER_SELECT: &str = "SELECT id, user_id, room, date, lines, total, currency, status, refund, created_at, updated_at, version FROM canteen_orders";

pub(crate) fn decode_order(r: &PgRow) -> StoreResult<Versioned<Order>> {
    Ok(Versioned {
        value: Order {
            id: OrderId::from_uuid(get(r, 0)?),
            user_id: UserId::from_uuid(get(r, 1)?),
            room: get(r, 2)?,
            date: get(r, 3)?,
            lines: serde_json::from_value(get(r, 4)?).map_err(|_| corrupt("order lines"))?,
            total: money(get(r, 5)?, currency(&get::<String>(r, 6)?)?)?,
            status: wire(&get::<String>(r, 7)?, OrderStatus::parse, "order status")?,
            refund: get::<Option<String>>(r, 8)?.map(|v| wire(&v, RefundState::parse, "refund")).transpose()?,
            created_at: ts(r, 9)?,
            updated_at: ts(r, 10)?,
        },
        version: version(r, 11)?,
    })
}

pub(crate) fn room_cols(r: &Room) -> StoreResult<Vec<(&'static str, PgValue)>> {
    Ok(vec![
        ("id", PgValue::Uuid(r.id.as_uuid())),
        ("number", PgValue::Text(r.number.clone())),
        ("beds", PgValue::I32(i32_of(r.beds)?)),
        ("reserved", PgValue::I32(i32_of(r.reserved)?)),
    ])
}

pub(crate) const ROOM_SELECT: &str = "SELECT id, number, beds, reserved, version FROM rooms";

pub(crate) fn decode_room(r: &PgRow) -> StoreResult<Versioned<Room>> {
    Ok(Versioned {
        value: Room {
            id: RoomId::from_uuid(get(r, 0)?),
            number: get(r, 1)?,
            beds: u32_of(get(r, 2)?, "beds")?,
            reserved: u32_of(get(r, 3)?, "reserved")?,
        },
        version: version(r, 4)?,
    })
}

pub(crate) fn reservation_cols(b: &BedReservation) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(b.id.as_uuid())),
        ("room_id", PgValue::Uuid(b.room_id.as_uuid())),
        ("user_id", PgValue::Uuid(b.user_id.as_uuid())),
        ("status", PgValue::Text(b.status.as_str().into())),
        ("lunchbox", PgValue::Bool(b.lunchbox)),
        ("charge", PgValue::Decimal(b.additional_charge.amount())),
        ("currency", PgValue::Text(b.additional_charge.currency().code().into())),
        ("expires_at", PgValue::Ts(b.expires_at.as_datetime())),
        ("created_at", PgValue::Ts(b.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(b.updated_at.as_datetime())),
    ]
}

pub(crate) const RESERVATION_SELECT: &str = "SELECT id, room_id, user_id, status, lunchbox, charge, currency, expires_at, created_at, updated_at, version FROM bed_reservations";

pub(crate) fn decode_reservation(r: &PgRow) -> StoreResult<Versioned<BedReservation>> {
    Ok(Versioned {
        value: BedReservation {
            id: ReservationId::from_uuid(get(r, 0)?),
            room_id: RoomId::from_uuid(get(r, 1)?),
            user_id: UserId::from_uuid(get(r, 2)?),
            status: wire(&get::<String>(r, 3)?, ReservationStatus::parse, "reservation status")?,
            lunchbox: get(r, 4)?,
            additional_charge: money(get(r, 5)?, currency(&get::<String>(r, 6)?)?)?,
            expires_at: ts(r, 7)?,
            created_at: ts(r, 8)?,
            updated_at: ts(r, 9)?,
        },
        version: version(r, 10)?,
    })
}

/// A slot row followed by its amenity's columns (see `slot_with_amenity`).
pub(crate) fn decode_slot_with_amenity(r: &PgRow) -> StoreResult<(Versioned<Slot>, Versioned<Amenity>)> {
    let slot = decode_slot(r)?;
    let o = 8;
    let amenity = Versioned {
        value: Amenity {
            id: AmenityId::from_uuid(get(r, o)?),
            name: get(r, o + 1)?,
            template: SlotTemplate {
                opens_minute: u16_of(get(r, o + 2)?, "opens")?,
                closes_minute: u16_of(get(r, o + 3)?, "closes")?,
                slot_minutes: u16_of(get(r, o + 4)?, "slot minutes")?,
                capacity: u32_of(get(r, o + 5)?, "capacity")?,
                time_zone: get(r, o + 6)?,
            },
            status: wire(&get::<String>(r, o + 7)?, AmenityStatus::parse, "amenity status")?,
            created_at: ts(r, o + 8)?,
            updated_at: ts(r, o + 9)?,
        },
        version: version(r, o + 10)?,
    };
    Ok((slot, amenity))
}

pub(crate) fn job_request_cols(r: &JobRequest) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(r.id.as_uuid())),
        ("client_id", PgValue::Uuid(r.client_id.as_uuid())),
        ("title", PgValue::Text(r.title.clone())),
        ("description", PgValue::Text(r.description.clone())),
        ("status", PgValue::Text(r.status.as_str().into())),
        ("created_at", PgValue::Ts(r.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(r.updated_at.as_datetime())),
    ]
}

pub(crate) const JOB_REQUEST_SELECT: &str =
    "SELECT id, client_id, title, description, status, created_at, updated_at, version FROM khedma_requests";

pub(crate) fn decode_job_request(r: &PgRow) -> StoreResult<Versioned<JobRequest>> {
    Ok(Versioned {
        value: JobRequest {
            id: JobRequestId::from_uuid(get(r, 0)?),
            client_id: UserId::from_uuid(get(r, 1)?),
            title: get(r, 2)?,
            description: get(r, 3)?,
            status: wire(&get::<String>(r, 4)?, JobRequestStatus::parse, "request status")?,
            created_at: ts(r, 5)?,
            updated_at: ts(r, 6)?,
        },
        version: version(r, 7)?,
    })
}

pub(crate) fn quote_cols(q: &Quote) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(q.id.as_uuid())),
        ("request_id", PgValue::Uuid(q.request_id.as_uuid())),
        ("provider_id", PgValue::Uuid(q.provider_id.as_uuid())),
        ("amount", PgValue::Decimal(q.amount.amount())),
        ("currency", PgValue::Text(q.amount.currency().code().into())),
        ("message", PgValue::Text(q.message.clone())),
        ("valid_until", PgValue::Ts(q.valid_until.as_datetime())),
        ("status", PgValue::Text(q.status.as_str().into())),
        ("created_at", PgValue::Ts(q.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(q.updated_at.as_datetime())),
    ]
}

pub(crate) const QUOTE_SELECT: &str = "SELECT id, request_id, provider_id, amount, currency, message, valid_until, status, created_at, updated_at, version FROM khedma_quotes";

pub(crate) fn decode_quote(r: &PgRow) -> StoreResult<Versioned<Quote>> {
    Ok(Versioned {
        value: Quote {
            id: QuoteId::from_uuid(get(r, 0)?),
            request_id: JobRequestId::from_uuid(get(r, 1)?),
            provider_id: UserId::from_uuid(get(r, 2)?),
            amount: money(get(r, 3)?, currency(&get::<String>(r, 4)?)?)?,
            message: get(r, 5)?,
            valid_until: ts(r, 6)?,
            status: wire(&get::<String>(r, 7)?, QuoteStatus::parse, "quote status")?,
            created_at: ts(r, 8)?,
            updated_at: ts(r, 9)?,
        },
        version: version(r, 10)?,
    })
}

pub(crate) fn booking_cols(b: &Booking) -> Vec<(&'static str, PgValue)> {
    vec![
        ("id", PgValue::Uuid(b.id.as_uuid())),
        ("request_id", PgValue::Uuid(b.request_id.as_uuid())),
        ("quote_id", PgValue::Uuid(b.quote_id.as_uuid())),
        ("client_id", PgValue::Uuid(b.client_id.as_uuid())),
        ("provider_id", PgValue::Uuid(b.provider_id.as_uuid())),
        ("amount", PgValue::Decimal(b.amount.amount())),
        ("currency", PgValue::Text(b.amount.currency().code().into())),
        ("status", PgValue::Text(b.status.as_str().into())),
        ("created_at", PgValue::Ts(b.created_at.as_datetime())),
        ("updated_at", PgValue::Ts(b.updated_at.as_datetime())),
    ]
}

pub(crate) const BOOKING_SELECT: &str = "SELECT id, request_id, quote_id, client_id, provider_id, amount, currency, status, created_at, updated_at, version FROM khedma_bookings";

pub(crate) fn decode_booking(r: &PgRow) -> StoreResult<Versioned<Booking>> {
    Ok(Versioned {
        value: Booking {
            id: BookingId::from_uuid(get(r, 0)?),
            request_id: JobRequestId::from_uuid(get(r, 1)?),
            quote_id: QuoteId::from_uuid(get(r, 2)?),
            client_id: UserId::from_uuid(get(r, 3)?),
            provider_id: UserId::from_uuid(get(r, 4)?),
            amount: money(get(r, 5)?, currency(&get::<String>(r, 6)?)?)?,
            status: wire(&get::<String>(r, 7)?, KhedmaBookingStatus::parse, "booking status")?,
            created_at: ts(r, 8)?,
            updated_at: ts(r, 9)?,
        },
        version: version(r, 10)?,
    })
}
