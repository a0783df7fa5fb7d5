//! Row codecs: hearth-core values to SQLite columns and back, and SQLite errors to `StoreError`.

use hearth_core::amenities::{Amenity, AmenityBooking, AmenityStatus, BookingStatus, Slot, SlotTemplate};
use hearth_core::canteen::{MenuItem, Order, OrderStatus, RefundState};
use hearth_core::homeheroes::model::{
    BudgetRange, Category, CivilianProfile, HeroProfile, InterestSource, InterestStatus, JobInterest, Location,
    NotificationPreferences, Profile, ProfileRole, Rating, RequestStatus, ServiceRequest,
};
use hearth_core::id::{AuditId, ClientId, EventId};
use hearth_core::khedma::{
    Booking, BookingStatus as KhedmaBookingStatus, JobRequest, JobRequestStatus, Quote, QuoteStatus,
};
use hearth_core::ledger::model::{
    Account, AccountFlags, AccountId, AccountKind, Balance, Transfer, TransferCode, TransferId, TransferKind,
    TransferResult,
};
use hearth_core::money::{Currency, Money};
use hearth_core::payments::gateway::GatewayKind;
use hearth_core::payments::{
    ConfirmationOutcome, IntentStatus, PaymentConfirmation, PaymentIntent, PaymentIntentId, ReviewState,
};
use hearth_core::rooms::{BedReservation, ReservationStatus, Room};
use hearth_core::store::CurrencyTotals;
use hearth_core::store::{
    AuditRecord, ClientActionRecord, EntityKind, EntityRef, OutboxEvent, StoreError, StoreResult, Versioned,
};
use hearth_core::time::Timestamp;
use rusqlite::ErrorCode;
use rust_decimal::Decimal;
use std::str::FromStr;

pub(crate) type SqlValue = rusqlite::types::Value;

/// A failure inside a blocking closure: a driver error or an already-mapped store error.
pub(crate) enum Fail {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}
impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}
impl Fail {
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Fail::Sql(e) => map_err(e),
            Fail::Store(e) => e,
        }
    }
}

/// Maps a SQLite error onto the store contract.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let msg = msg.clone().unwrap_or_default();
        return match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Unavailable { message: msg },
            ErrorCode::ConstraintViolation => match f.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
                    StoreError::Constraint { name: format!("unique: {msg}") }
                }
                _ => StoreError::Constraint { name: constraint_name(&msg) },
            },
            _ => StoreError::Backend { message: e.to_string() },
        };
    }
    StoreError::Backend { message: e.to_string() }
}

/// True for a primary-key or unique violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.extended_code, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE))
}

/// Like [`map_err`], for an entity write: a duplicate key means the entity already exists.
pub(crate) fn map_write_err(e: rusqlite::Error, kind: EntityKind) -> StoreError {
    if is_unique_violation(&e) {
        return StoreError::AlreadyExists { entity: kind };
    }
    map_err(e)
}

fn constraint_name(msg: &str) -> String {
    // "CHECK constraint failed: service_requests_hero_matches_status"
    msg.rsplit(": ").next().unwrap_or(msg).trim().to_owned()
}

pub(crate) fn corrupt(what: &str) -> Fail {
    Fail::Store(StoreError::Corrupt { message: what.to_owned() })
}

pub(crate) fn ts(micros: i64) -> Result<Timestamp, Fail> {
    Timestamp::from_unix_micros(micros).ok_or_else(|| corrupt("timestamp out of range"))
}
fn opt_ts(micros: Option<i64>) -> Result<Option<Timestamp>, Fail> {
    micros.map(ts).transpose()
}
pub(crate) fn json(text: &str) -> Result<serde_json::Value, Fail> {
    serde_json::from_str(text).map_err(|e| corrupt(&format!("json: {e}")))
}
fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, Fail> {
    text.parse().map_err(|_| corrupt(what))
}
fn wire<T>(text: &str, f: fn(&str) -> Option<T>, what: &str) -> Result<T, Fail> {
    f(text).ok_or_else(|| corrupt(what))
}
fn version(v: i64) -> Result<u64, Fail> {
    u64::try_from(v).map_err(|_| corrupt("negative version"))
}
fn currency(code: &str) -> Result<Currency, Fail> {
    Currency::from_code(code).ok_or_else(|| corrupt("unknown currency"))
}
pub(crate) fn minor(m: &Money) -> StoreResult<i64> {
    m.to_minor().ok_or_else(|| StoreError::Backend { message: "amount does not fit minor units".into() })
}
fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}
fn opt_text(s: Option<&str>) -> SqlValue {
    s.map_or(SqlValue::Null, text)
}
fn opt_int(v: Option<i64>) -> SqlValue {
    v.map_or(SqlValue::Null, SqlValue::Integer)
}
fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<SqlValue> {
    serde_json::to_string(v).map(SqlValue::Text).map_err(|e| StoreError::Backend { message: e.to_string() })
}
fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, Fail> {
    serde_json::from_str(text).map_err(|_| corrupt(what))
}

pub(crate) fn profile_cols(p: &Profile) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&p.id.to_string())),
        ("role", text(p.role.as_str())),
        ("full_name", opt_text(p.full_name.as_deref())),
        ("phone", opt_text(p.phone.as_deref())),
        ("created_at", SqlValue::Integer(p.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(p.updated_at.unix_micros())),
    ]
}

pub(crate) fn decode_profile(r: &rusqlite::Row<'_>) -> Result<Versioned<Profile>, Fail> {
    Ok(Versioned {
        value: Profile {
            id: parse(&r.get::<_, String>(0)?, "profile id")?,
            role: wire(&r.get::<_, String>(1)?, ProfileRole::parse, "profile role")?,
            full_name: r.get(2)?,
            phone: r.get(3)?,
            created_at: ts(r.get(4)?)?,
            updated_at: ts(r.get(5)?)?,
        },
        version: version(r.get(6)?)?,
    })
}

pub(crate) fn civilian_cols(c: &CivilianProfile) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&c.id.to_string())),
        ("profile_id", text(&c.profile_id.to_string())),
        ("address", opt_text(c.address.as_deref())),
        ("notify_push", SqlValue::Integer(i64::from(c.notifications.push))),
        ("notify_email", SqlValue::Integer(i64::from(c.notifications.email))),
        ("notify_sms", SqlValue::Integer(i64::from(c.notifications.sms))),
        ("created_at", SqlValue::Integer(c.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(c.updated_at.unix_micros())),
    ]
}

pub(crate) fn decode_civilian(r: &rusqlite::Row<'_>) -> Result<Versioned<CivilianProfile>, Fail> {
    Ok(Versioned {
        value: CivilianProfile {
            id: parse(&r.get::<_, String>(0)?, "civilian profile id")?,
            profile_id: parse(&r.get::<_, String>(1)?, "profile id")?,
            address: r.get(2)?,
            notifications: NotificationPreferences { push: r.get(3)?, email: r.get(4)?, sms: r.get(5)? },
            created_at: ts(r.get(6)?)?,
            updated_at: ts(r.get(7)?)?,
        },
        version: version(r.get(8)?)?,
    })
}

pub(crate) fn hero_cols(h: &HeroProfile) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&h.id.to_string())),
        ("profile_id", text(&h.profile_id.to_string())),
        ("skills", to_json(&h.skills)?),
        ("hourly_rate", opt_text(h.hourly_rate.map(|m| m.amount().to_string()).as_deref())),
        ("rate_currency", opt_text(h.hourly_rate.map(|m| m.currency().code()))),
        ("availability", to_json(&h.availability)?),
        ("rating_count", SqlValue::Integer(i64::from(h.rating.count))),
        ("rating_total", SqlValue::Integer(i64::from(h.rating.total))),
        ("completed_jobs", SqlValue::Integer(i64::from(h.completed_jobs))),
        ("profile_image_url", opt_text(h.profile_image_url.as_deref())),
        ("created_at", SqlValue::Integer(h.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(h.updated_at.unix_micros())),
    ])
}

pub(crate) fn decode_hero(r: &rusqlite::Row<'_>) -> Result<Versioned<HeroProfile>, Fail> {
    let rate: Option<String> = r.get(3)?;
    let rate_currency: Option<String> = r.get(4)?;
    let hourly_rate = match (rate, rate_currency) {
        (Some(a), Some(c)) => Some(
            Money::new(parse::<Decimal>(&a, "hourly rate")?, currency(&c)?)
                .map_err(|_| corrupt("hourly rate scale"))?,
        ),
        (None, None) => None,
        _ => return Err(corrupt("hourly rate without currency")),
    };
    Ok(Versioned {
        value: HeroProfile {
            id: parse(&r.get::<_, String>(0)?, "hero profile id")?,
            profile_id: parse(&r.get::<_, String>(1)?, "profile id")?,
            skills: from_json(&r.get::<_, String>(2)?, "skills")?,
            hourly_rate,
            availability: from_json(&r.get::<_, String>(5)?, "availability")?,
            rating: Rating {
                count: u32::try_from(r.get::<_, i64>(6)?).map_err(|_| corrupt("rating count"))?,
                total: u32::try_from(r.get::<_, i64>(7)?).map_err(|_| corrupt("rating total"))?,
            },
            completed_jobs: u32::try_from(r.get::<_, i64>(8)?).map_err(|_| corrupt("completed jobs"))?,
            profile_image_url: r.get(9)?,
            created_at: ts(r.get(10)?)?,
            updated_at: ts(r.get(11)?)?,
        },
        version: version(r.get(12)?)?,
    })
}

pub(crate) fn request_cols(s: &ServiceRequest) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&s.id.to_string())),
        ("civilian_id", text(&s.civilian_id.to_string())),
        ("hero_id", opt_text(s.hero_id.map(|h| h.to_string()).as_deref())),
        ("title", text(&s.title)),
        ("description", text(&s.description)),
        ("category", text(s.category.as_str())),
        ("address", text(&s.location.address)),
        ("city", text(&s.location.city)),
        ("state", text(&s.location.state)),
        ("zip_code", text(&s.location.zip_code)),
        ("latitude", SqlValue::Real(s.location.latitude)),
        ("longitude", SqlValue::Real(s.location.longitude)),
        ("scheduled_at", SqlValue::Integer(s.scheduled_at.unix_micros())),
        ("estimated_duration_hours", SqlValue::Integer(i64::from(s.estimated_duration_hours))),
        ("currency", text(s.budget.min.currency().code())),
        ("budget_min_minor", SqlValue::Integer(minor(&s.budget.min)?)),
        ("budget_max_minor", SqlValue::Integer(minor(&s.budget.max)?)),
        ("status", text(s.status.as_str())),
        ("cancel_reason", opt_text(s.cancel_reason.as_deref())),
        ("rating", opt_int(s.rating.map(i64::from))),
        ("created_at", SqlValue::Integer(s.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(s.updated_at.unix_micros())),
        ("assigned_at", opt_int(s.assigned_at.map(|t| t.unix_micros()))),
        ("completed_at", opt_int(s.completed_at.map(|t| t.unix_micros()))),
        ("cancelled_at", opt_int(s.cancelled_at.map(|t| t.unix_micros()))),
    ])
}

pub(crate) fn decode_request(r: &rusqlite::Row<'_>) -> Result<Versioned<ServiceRequest>, Fail> {
    let cur = currency(&r.get::<_, String>(14)?)?;
    let hero: Option<String> = r.get(2)?;
    let rating: Option<i64> = r.get(19)?;
    Ok(Versioned {
        value: ServiceRequest {
            id: parse(&r.get::<_, String>(0)?, "request id")?,
            civilian_id: parse(&r.get::<_, String>(1)?, "civilian id")?,
            hero_id: hero.map(|h| parse(&h, "hero id")).transpose()?,
            title: r.get(3)?,
            description: r.get(4)?,
            category: wire(&r.get::<_, String>(5)?, Category::parse, "category")?,
            location: Location {
                address: r.get(6)?,
                city: r.get(7)?,
                state: r.get(8)?,
                zip_code: r.get(9)?,
                latitude: r.get(10)?,
                longitude: r.get(11)?,
            },
            scheduled_at: ts(r.get(12)?)?,
            estimated_duration_hours: u8::try_from(r.get::<_, i64>(13)?).map_err(|_| corrupt("duration"))?,
            budget: BudgetRange { min: Money::from_minor(r.get(15)?, cur), max: Money::from_minor(r.get(16)?, cur) },
            status: wire(&r.get::<_, String>(17)?, RequestStatus::parse, "status")?,
            cancel_reason: r.get(18)?,
            rating: rating.map(|v| u8::try_from(v).map_err(|_| corrupt("rating"))).transpose()?,
            created_at: ts(r.get(20)?)?,
            updated_at: ts(r.get(21)?)?,
            assigned_at: opt_ts(r.get(22)?)?,
            completed_at: opt_ts(r.get(23)?)?,
            cancelled_at: opt_ts(r.get(24)?)?,
        },
        version: version(r.get(25)?)?,
    })
}

pub(crate) fn interest_cols(i: &JobInterest) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&i.id.to_string())),
        ("job_id", text(&i.job_id.to_string())),
        ("hero_user_id", text(&i.hero_user_id.to_string())),
        ("source", text(i.source.as_str())),
        ("status", text(i.status.as_str())),
        ("phone", opt_text(i.phone.as_deref())),
        ("created_at", SqlValue::Integer(i.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(i.updated_at.unix_micros())),
    ]
}

pub(crate) fn decode_interest(r: &rusqlite::Row<'_>) -> Result<Versioned<JobInterest>, Fail> {
    Ok(Versioned {
        value: JobInterest {
            id: parse(&r.get::<_, String>(0)?, "interest id")?,
            job_id: parse(&r.get::<_, String>(1)?, "job id")?,
            hero_user_id: parse(&r.get::<_, String>(2)?, "hero id")?,
            source: wire(&r.get::<_, String>(3)?, InterestSource::parse, "source")?,
            status: wire(&r.get::<_, String>(4)?, InterestStatus::parse, "interest status")?,
            phone: r.get(5)?,
            created_at: ts(r.get(6)?)?,
            updated_at: ts(r.get(7)?)?,
        },
        version: version(r.get(8)?)?,
    })
}

fn entity(kind: &str, id: &str) -> Result<EntityRef, Fail> {
    Ok(EntityRef { kind: wire(kind, EntityKind::parse, "entity kind")?, id: parse(id, "entity id")? })
}

pub(crate) fn decode_audit(r: &rusqlite::Row<'_>) -> Result<AuditRecord, Fail> {
    let before: Option<String> = r.get(5)?;
    Ok(AuditRecord {
        id: AuditId::from_uuid(parse(&r.get::<_, String>(0)?, "audit id")?),
        entity: entity(&r.get::<_, String>(1)?, &r.get::<_, String>(2)?)?,
        action: r.get(3)?,
        actor: r.get(4)?,
        before: before.as_deref().map(json).transpose()?,
        after: json(&r.get::<_, String>(6)?)?,
        version: version(r.get(7)?)?,
        at: ts(r.get(8)?)?,
    })
}

pub(crate) fn decode_client_action(r: &rusqlite::Row<'_>) -> Result<ClientActionRecord, Fail> {
    Ok(ClientActionRecord {
        client_id: ClientId::from_uuid(parse(&r.get::<_, String>(0)?, "client id")?),
        seq: u64::try_from(r.get::<_, i64>(1)?).map_err(|_| corrupt("client action seq"))?,
        principal: r.get(2)?,
        action: r.get(3)?,
        fingerprint: r.get(4)?,
        outcome: json(&r.get::<_, String>(5)?)?,
        at: ts(r.get(6)?)?,
    })
}

pub(crate) fn decode_event(r: &rusqlite::Row<'_>) -> Result<(i64, OutboxEvent), Fail> {
    Ok((
        r.get(0)?,
        OutboxEvent {
            id: EventId::from_uuid(parse(&r.get::<_, String>(1)?, "event id")?),
            topic: r.get(2)?,
            entity: entity(&r.get::<_, String>(3)?, &r.get::<_, String>(4)?)?,
            payload: json(&r.get::<_, String>(5)?)?,
            audience: from_json(&r.get::<_, String>(6)?, "audience")?,
            at: ts(r.get(7)?)?,
        },
    ))
}

pub(crate) fn account_cols(a: &Account) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&a.id.to_string())),
        ("owner_id", opt_text(a.owner.map(|o| o.to_string()).as_deref())),
        ("kind", text(a.kind.as_str())),
        ("currency", text(a.currency.code())),
        ("debits_must_not_exceed_credits", SqlValue::Integer(i64::from(a.flags.debits_must_not_exceed_credits))),
        ("credits_must_not_exceed_debits", SqlValue::Integer(i64::from(a.flags.credits_must_not_exceed_debits))),
        ("frozen", SqlValue::Integer(i64::from(a.flags.frozen))),
        ("closed", SqlValue::Integer(i64::from(a.flags.closed))),
        ("debits_pending", SqlValue::Integer(a.balance.debits_pending)),
        ("debits_posted", SqlValue::Integer(a.balance.debits_posted)),
        ("credits_pending", SqlValue::Integer(a.balance.credits_pending)),
        ("credits_posted", SqlValue::Integer(a.balance.credits_posted)),
        ("created_at", SqlValue::Integer(a.created_at.unix_micros())),
    ]
}

pub(crate) const ACCOUNT_SELECT: &str = "SELECT id, owner_id, kind, currency, debits_must_not_exceed_credits, credits_must_not_exceed_debits, frozen, closed, debits_pending, debits_posted, credits_pending, credits_posted, created_at, version FROM ledger_accounts";

pub(crate) fn decode_account(r: &rusqlite::Row<'_>) -> Result<Versioned<Account>, Fail> {
    let owner: Option<String> = r.get(1)?;
    Ok(Versioned {
        value: Account {
            id: AccountId::from_uuid(parse(&r.get::<_, String>(0)?, "account id")?),
            owner: owner.map(|o| parse(&o, "owner id")).transpose()?,
            kind: wire(&r.get::<_, String>(2)?, AccountKind::parse, "account kind")?,
            currency: currency(&r.get::<_, String>(3)?)?,
            flags: AccountFlags {
                debits_must_not_exceed_credits: r.get(4)?,
                credits_must_not_exceed_debits: r.get(5)?,
                frozen: r.get(6)?,
                closed: r.get(7)?,
            },
            balance: Balance {
                debits_pending: r.get(8)?,
                debits_posted: r.get(9)?,
                credits_pending: r.get(10)?,
                credits_posted: r.get(11)?,
            },
            created_at: ts(r.get(12)?)?,
        },
        version: version(r.get(13)?)?,
    })
}

pub(crate) fn transfer_cols(t: &Transfer) -> Vec<SqlValue> {
    vec![
        text(&t.id.to_string()),
        text(&t.debit_account_id.to_string()),
        text(&t.credit_account_id.to_string()),
        SqlValue::Integer(t.amount),
        text(t.currency.code()),
        text(t.kind.as_str()),
        opt_text(t.pending_id.map(|p| p.to_string()).as_deref()),
        SqlValue::Integer(i64::from(t.timeout_secs)),
        opt_int(t.expires_at.map(|e| e.unix_micros())),
        SqlValue::Integer(i64::from(t.linked)),
        text(t.code.as_str()),
        opt_text(t.reference.as_deref()),
        text(&t.result.as_str()),
        text(&t.actor),
        SqlValue::Integer(t.created_at.unix_micros()),
    ]
}

pub(crate) const TRANSFER_INSERT: &str = "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, currency, kind, pending_id, timeout_secs, expires_at, linked, code, reference, result, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
pub(crate) const TRANSFER_SELECT: &str = "SELECT id, debit_account_id, credit_account_id, amount, currency, kind, pending_id, timeout_secs, expires_at, linked, code, reference, result, actor, created_at FROM ledger_transfers";

pub(crate) fn decode_transfer(r: &rusqlite::Row<'_>) -> Result<Transfer, Fail> {
    let pending: Option<String> = r.get(6)?;
    Ok(Transfer {
        id: TransferId::from_uuid(parse(&r.get::<_, String>(0)?, "transfer id")?),
        debit_account_id: AccountId::from_uuid(parse(&r.get::<_, String>(1)?, "account id")?),
        credit_account_id: AccountId::from_uuid(parse(&r.get::<_, String>(2)?, "account id")?),
        amount: r.get(3)?,
        currency: currency(&r.get::<_, String>(4)?)?,
        kind: wire(&r.get::<_, String>(5)?, TransferKind::parse, "transfer kind")?,
        pending_id: pending.map(|p| parse(&p, "pending id").map(TransferId::from_uuid)).transpose()?,
        timeout_secs: u32::try_from(r.get::<_, i64>(7)?).map_err(|_| corrupt("timeout"))?,
        expires_at: opt_ts(r.get(8)?)?,
        linked: r.get(9)?,
        code: wire(&r.get::<_, String>(10)?, TransferCode::parse, "transfer code")?,
        reference: r.get(11)?,
        result: wire(&r.get::<_, String>(12)?, TransferResult::parse, "transfer result")?,
        actor: r.get(13)?,
        created_at: ts(r.get(14)?)?,
    })
}

pub(crate) fn decode_totals(r: &rusqlite::Row<'_>) -> Result<CurrencyTotals, Fail> {
    Ok(CurrencyTotals {
        currency: currency(&r.get::<_, String>(0)?)?,
        totals: Balance {
            debits_pending: r.get(1)?,
            debits_posted: r.get(2)?,
            credits_pending: r.get(3)?,
            credits_posted: r.get(4)?,
        },
    })
}

pub(crate) fn intent_cols(i: &PaymentIntent) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&i.id.to_string())),
        ("user_id", text(&i.user_id.to_string())),
        ("wallet_account_id", text(&i.wallet_account_id.to_string())),
        ("amount_minor", SqlValue::Integer(minor(&i.amount)?)),
        ("currency", text(i.amount.currency().code())),
        ("gateway", text(i.gateway.as_str())),
        ("status", text(i.status.as_str())),
        ("provider_order_id", opt_text(i.provider_order_id.as_deref())),
        ("flags", to_json(&i.flags)?),
        ("review", opt_text(i.review.map(|r| r.as_str()))),
        ("transfer_id", opt_text(i.transfer_id.map(|t| t.to_string()).as_deref())),
        ("created_at", SqlValue::Integer(i.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(i.updated_at.unix_micros())),
        ("expires_at", SqlValue::Integer(i.expires_at.unix_micros())),
    ])
}

pub(crate) const INTENT_SELECT: &str = "SELECT id, user_id, wallet_account_id, amount_minor, currency, gateway, status, provider_order_id, flags, review, transfer_id, created_at, updated_at, expires_at, version FROM payment_intents";

pub(crate) fn decode_intent(r: &rusqlite::Row<'_>) -> Result<Versioned<PaymentIntent>, Fail> {
    let cur = currency(&r.get::<_, String>(4)?)?;
    let review: Option<String> = r.get(9)?;
    let transfer: Option<String> = r.get(10)?;
    Ok(Versioned {
        value: PaymentIntent {
            id: PaymentIntentId::from_uuid(parse(&r.get::<_, String>(0)?, "intent id")?),
            user_id: parse(&r.get::<_, String>(1)?, "user id")?,
            wallet_account_id: AccountId::from_uuid(parse(&r.get::<_, String>(2)?, "account id")?),
            amount: Money::from_minor(r.get(3)?, cur),
            gateway: wire(&r.get::<_, String>(5)?, GatewayKind::parse, "gateway")?,
            status: wire(&r.get::<_, String>(6)?, IntentStatus::parse, "intent status")?,
            provider_order_id: r.get(7)?,
            flags: from_json(&r.get::<_, String>(8)?, "flags")?,
            review: review.map(|v| wire(&v, ReviewState::parse, "review")).transpose()?,
            transfer_id: transfer.map(|t| parse(&t, "transfer id").map(TransferId::from_uuid)).transpose()?,
            created_at: ts(r.get(11)?)?,
            updated_at: ts(r.get(12)?)?,
            expires_at: ts(r.get(13)?)?,
        },
        version: version(r.get(14)?)?,
    })
}

pub(crate) fn confirmation_values(c: &PaymentConfirmation) -> StoreResult<Vec<SqlValue>> {
    Ok(vec![
        text(c.gateway.as_str()),
        text(&c.provider_txn_id),
        opt_text(c.intent_id.map(|i| i.to_string()).as_deref()),
        SqlValue::Integer(c.amount_minor),
        opt_text(c.currency.map(|c| c.code())),
        to_json(&c.status)?,
        text(c.outcome.as_str()),
        opt_text(c.transfer_id.map(|t| t.to_string()).as_deref()),
        SqlValue::Integer(c.received_at.unix_micros()),
    ])
}

pub(crate) fn decode_confirmation(r: &rusqlite::Row<'_>) -> Result<PaymentConfirmation, Fail> {
    let intent: Option<String> = r.get(2)?;
    let cur: Option<String> = r.get(4)?;
    let transfer: Option<String> = r.get(7)?;
    Ok(PaymentConfirmation {
        gateway: wire(&r.get::<_, String>(0)?, GatewayKind::parse, "gateway")?,
        provider_txn_id: r.get(1)?,
        intent_id: intent.map(|i| parse(&i, "intent id").map(PaymentIntentId::from_uuid)).transpose()?,
        amount_minor: r.get(3)?,
        currency: cur.map(|c| currency(&c)).transpose()?,
        status: from_json(&r.get::<_, String>(5)?, "event status")?,
        outcome: wire(&r.get::<_, String>(6)?, ConfirmationOutcome::parse, "outcome")?,
        transfer_id: transfer.map(|t| parse(&t, "transfer id").map(TransferId::from_uuid)).transpose()?,
        received_at: ts(r.get(8)?)?,
    })
}

pub(crate) fn amenity_cols(a: &Amenity) -> Vec<(&'static str, SqlValue)> {
    let t = &a.template;
    vec![
        ("id", text(&a.id.to_string())),
        ("name", text(&a.name)),
        ("opens_minute", SqlValue::Integer(i64::from(t.opens_minute))),
        ("closes_minute", SqlValue::Integer(i64::from(t.closes_minute))),
        ("slot_minutes", SqlValue::Integer(i64::from(t.slot_minutes))),
        ("capacity", SqlValue::Integer(i64::from(t.capacity))),
        ("time_zone", text(&t.time_zone)),
        ("status", text(a.status.as_str())),
        ("created_at", SqlValue::Integer(a.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(a.updated_at.unix_micros())),
    ]
}

pub(crate) const AMENITY_SELECT: &str = "SELECT id, name, opens_minute, closes_minute, slot_minutes, capacity, time_zone, status, created_at, updated_at, version FROM amenities";

fn small<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T, Fail> {
    T::try_from(v).map_err(|_| corrupt(what))
}

pub(crate) fn decode_amenity(r: &rusqlite::Row<'_>) -> Result<Versioned<Amenity>, Fail> {
    Ok(Versioned {
        value: Amenity {
            id: parse(&r.get::<_, String>(0)?, "amenity id")?,
            name: r.get(1)?,
            template: SlotTemplate {
                opens_minute: small(r.get(2)?, "opens")?,
                closes_minute: small(r.get(3)?, "closes")?,
                slot_minutes: small(r.get(4)?, "slot minutes")?,
                capacity: small(r.get(5)?, "capacity")?,
                time_zone: r.get(6)?,
            },
            status: wire(&r.get::<_, String>(7)?, AmenityStatus::parse, "amenity status")?,
            created_at: ts(r.get(8)?)?,
            updated_at: ts(r.get(9)?)?,
        },
        version: version(r.get(10)?)?,
    })
}

pub(crate) fn slot_cols(s: &Slot) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&s.id.to_string())),
        ("amenity_id", text(&s.amenity_id.to_string())),
        ("date", text(&s.date.to_string())),
        ("starts_at", SqlValue::Integer(s.starts_at.unix_micros())),
        ("ends_at", SqlValue::Integer(s.ends_at.unix_micros())),
        ("capacity", SqlValue::Integer(i64::from(s.capacity))),
        ("booked", SqlValue::Integer(i64::from(s.booked))),
    ]
}

pub(crate) const SLOT_SELECT: &str =
    "SELECT id, amenity_id, date, starts_at, ends_at, capacity, booked, version FROM amenity_slots";

pub(crate) fn decode_slot(r: &rusqlite::Row<'_>) -> Result<Versioned<Slot>, Fail> {
    Ok(Versioned {
        value: Slot {
            id: parse(&r.get::<_, String>(0)?, "slot id")?,
            amenity_id: parse(&r.get::<_, String>(1)?, "amenity id")?,
            date: parse(&r.get::<_, String>(2)?, "slot date")?,
            starts_at: ts(r.get(3)?)?,
            ends_at: ts(r.get(4)?)?,
            capacity: small(r.get(5)?, "capacity")?,
            booked: small(r.get(6)?, "booked")?,
        },
        version: version(r.get(7)?)?,
    })
}

pub(crate) fn amenity_booking_cols(b: &AmenityBooking) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&b.id.to_string())),
        ("slot_id", text(&b.slot_id.to_string())),
        ("amenity_id", text(&b.amenity_id.to_string())),
        ("user_id", text(&b.user_id.to_string())),
        ("status", text(b.status.as_str())),
        ("created_at", SqlValue::Integer(b.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(b.updated_at.unix_micros())),
    ]
}

pub(crate) const AMENITY_BOOKING_SELECT: &str =
    "SELECT b.id, b.slot_id, b.amenity_id, b.user_id, b.status, b.created_at, b.updated_at, b.version FROM amenity_bookings b";

pub(crate) fn decode_amenity_booking(r: &rusqlite::Row<'_>) -> Result<Versioned<AmenityBooking>, Fail> {
    Ok(Versioned {
        value: AmenityBooking {
            id: parse(&r.get::<_, String>(0)?, "booking id")?,
            slot_id: parse(&r.get::<_, String>(1)?, "slot id")?,
            amenity_id: parse(&r.get::<_, String>(2)?, "amenity id")?,
            user_id: parse(&r.get::<_, String>(3)?, "user id")?,
            status: wire(&r.get::<_, String>(4)?, BookingStatus::parse, "booking status")?,
            created_at: ts(r.get(5)?)?,
            updated_at: ts(r.get(6)?)?,
        },
        version: version(r.get(7)?)?,
    })
}

pub(crate) fn menu_item_cols(m: &MenuItem) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&m.id.to_string())),
        ("date", text(&m.date.to_string())),
        ("name", text(&m.name)),
        ("price_minor", SqlValue::Integer(minor(&m.price)?)),
        ("currency", text(m.price.currency().code())),
        ("available", SqlValue::Integer(i64::from(m.available))),
        ("created_at", SqlValue::Integer(m.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(m.updated_at.unix_micros())),
    ])
}

pub(crate) const MENU_SELECT: &str =
    "SELECT id, date, name, price_minor, currency, available, created_at, updated_at, version FROM canteen_menu_items";

pub(crate) fn decode_menu_item(r: &rusqlite::Row<'_>) -> Result<Versioned<MenuItem>, Fail> {
    let cur = currency(&r.get::<_, String>(4)?)?;
    Ok(Versioned {
        value: MenuItem {
            id: parse(&r.get::<_, String>(0)?, "menu item id")?,
            date: parse(&r.get::<_, String>(1)?, "menu date")?,
            name: r.get(2)?,
            price: Money::from_minor(r.get(3)?, cur),
            available: r.get(5)?,
            created_at: ts(r.get(6)?)?,
            updated_at: ts(r.get(7)?)?,
        },
        version: version(r.get(8)?)?,
    })
}

pub(crate) fn order_cols(o: &Order) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&o.id.to_string())),
        ("user_id", text(&o.user_id.to_string())),
        ("room", text(&o.room)),
        ("date", text(&o.date.to_string())),
        ("lines", to_json(&o.lines)?),
        ("total_minor", SqlValue::Integer(minor(&o.total)?)),
        ("currency", text(o.total.currency().code())),
        ("status", text(o.status.as_str())),
        ("refund", opt_text(o.refund.map(|r| r.as_str()))),
        ("created_at", SqlValue::Integer(o.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(o.updated_at.unix_micros())),
    ])
}

pub(crate) const ORDER_SELECT: &str = "SELECT id, user_id, room, date, lines, total_minor, currency, status, refund, created_at, updated_at, version FROM canteen_orders";

pub(crate) fn decode_order(r: &rusqlite::Row<'_>) -> Result<Versioned<Order>, Fail> {
    let cur = currency(&r.get::<_, String>(6)?)?;
    let refund: Option<String> = r.get(8)?;
    Ok(Versioned {
        value: Order {
            id: parse(&r.get::<_, String>(0)?, "order id")?,
            user_id: parse(&r.get::<_, String>(1)?, "user id")?,
            room: r.get(2)?,
            date: parse(&r.get::<_, String>(3)?, "order date")?,
            lines: from_json(&r.get::<_, String>(4)?, "order lines")?,
            total: Money::from_minor(r.get(5)?, cur),
            status: wire(&r.get::<_, String>(7)?, OrderStatus::parse, "order status")?,
            refund: refund.map(|v| wire(&v, RefundState::parse, "refund")).transpose()?,
            created_at: ts(r.get(9)?)?,
            updated_at: ts(r.get(10)?)?,
        },
        version: version(r.get(11)?)?,
    })
}

pub(crate) fn room_cols(r: &Room) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&r.id.to_string())),
        ("number", text(&r.number)),
        ("beds", SqlValue::Integer(i64::from(r.beds))),
        ("reserved", SqlValue::Integer(i64::from(r.reserved))),
    ]
}

pub(crate) const ROOM_SELECT: &str = "SELECT id, number, beds, reserved, version FROM rooms";

pub(crate) fn decode_room(r: &rusqlite::Row<'_>) -> Result<Versioned<Room>, Fail> {
    Ok(Versioned {
        value: Room {
            id: parse(&r.get::<_, String>(0)?, "room id")?,
            number: r.get(1)?,
            beds: small(r.get(2)?, "beds")?,
            reserved: small(r.get(3)?, "reserved")?,
        },
        version: version(r.get(4)?)?,
    })
}

pub(crate) fn reservation_cols(b: &BedReservation) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&b.id.to_string())),
        ("room_id", text(&b.room_id.to_string())),
        ("user_id", text(&b.user_id.to_string())),
        ("status", text(b.status.as_str())),
        ("lunchbox", SqlValue::Integer(i64::from(b.lunchbox))),
        ("charge_minor", SqlValue::Integer(minor(&b.additional_charge)?)),
        ("currency", text(b.additional_charge.currency().code())),
        ("expires_at", SqlValue::Integer(b.expires_at.unix_micros())),
        ("created_at", SqlValue::Integer(b.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(b.updated_at.unix_micros())),
    ])
}

pub(crate) const RESERVATION_SELECT: &str = "SELECT id, room_id, user_id, status, lunchbox, charge_minor, currency, expires_at, created_at, updated_at, version FROM bed_reservations";

pub(crate) fn decode_reservation(r: &rusqlite::Row<'_>) -> Result<Versioned<BedReservation>, Fail> {
    let cur = currency(&r.get::<_, String>(6)?)?;
    Ok(Versioned {
        value: BedReservation {
            id: parse(&r.get::<_, String>(0)?, "reservation id")?,
            room_id: parse(&r.get::<_, String>(1)?, "room id")?,
            user_id: parse(&r.get::<_, String>(2)?, "user id")?,
            status: wire(&r.get::<_, String>(3)?, ReservationStatus::parse, "reservation status")?,
            lunchbox: r.get(4)?,
            additional_charge: Money::from_minor(r.get(5)?, cur),
            expires_at: ts(r.get(7)?)?,
            created_at: ts(r.get(8)?)?,
            updated_at: ts(r.get(9)?)?,
        },
        version: version(r.get(10)?)?,
    })
}

pub(crate) fn job_request_cols(r: &JobRequest) -> Vec<(&'static str, SqlValue)> {
    vec![
        ("id", text(&r.id.to_string())),
        ("client_id", text(&r.client_id.to_string())),
        ("title", text(&r.title)),
        ("description", text(&r.description)),
        ("status", text(r.status.as_str())),
        ("created_at", SqlValue::Integer(r.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(r.updated_at.unix_micros())),
    ]
}

pub(crate) const JOB_REQUEST_SELECT: &str =
    "SELECT id, client_id, title, description, status, created_at, updated_at, version FROM khedma_requests";

pub(crate) fn decode_job_request(r: &rusqlite::Row<'_>) -> Result<Versioned<JobRequest>, Fail> {
    Ok(Versioned {
        value: JobRequest {
            id: parse(&r.get::<_, String>(0)?, "request id")?,
            client_id: parse(&r.get::<_, String>(1)?, "client id")?,
            title: r.get(2)?,
            description: r.get(3)?,
            status: wire(&r.get::<_, String>(4)?, JobRequestStatus::parse, "request status")?,
            created_at: ts(r.get(5)?)?,
            updated_at: ts(r.get(6)?)?,
        },
        version: version(r.get(7)?)?,
    })
}

pub(crate) fn quote_cols(q: &Quote) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&q.id.to_string())),
        ("request_id", text(&q.request_id.to_string())),
        ("provider_id", text(&q.provider_id.to_string())),
        ("amount_minor", SqlValue::Integer(minor(&q.amount)?)),
        ("currency", text(q.amount.currency().code())),
        ("message", text(&q.message)),
        ("valid_until", SqlValue::Integer(q.valid_until.unix_micros())),
        ("status", text(q.status.as_str())),
        ("created_at", SqlValue::Integer(q.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(q.updated_at.unix_micros())),
    ])
}

pub(crate) const QUOTE_SELECT: &str = "SELECT id, request_id, provider_id, amount_minor, currency, message, valid_until, status, created_at, updated_at, version FROM khedma_quotes";

pub(crate) fn decode_quote(r: &rusqlite::Row<'_>) -> Result<Versioned<Quote>, Fail> {
    let cur = currency(&r.get::<_, String>(4)?)?;
    Ok(Versioned {
        value: Quote {
            id: parse(&r.get::<_, String>(0)?, "quote id")?,
            request_id: parse(&r.get::<_, String>(1)?, "request id")?,
            provider_id: parse(&r.get::<_, String>(2)?, "provider id")?,
            amount: Money::from_minor(r.get(3)?, cur),
            message: r.get(5)?,
            valid_until: ts(r.get(6)?)?,
            status: wire(&r.get::<_, String>(7)?, QuoteStatus::parse, "quote status")?,
            created_at: ts(r.get(8)?)?,
            updated_at: ts(r.get(9)?)?,
        },
        version: version(r.get(10)?)?,
    })
}

pub(crate) fn booking_cols(b: &Booking) -> StoreResult<Vec<(&'static str, SqlValue)>> {
    Ok(vec![
        ("id", text(&b.id.to_string())),
        ("request_id", text(&b.request_id.to_string())),
        ("quote_id", text(&b.quote_id.to_string())),
        ("client_id", text(&b.client_id.to_string())),
        ("provider_id", text(&b.provider_id.to_string())),
        ("amount_minor", SqlValue::Integer(minor(&b.amount)?)),
        ("currency", text(b.amount.currency().code())),
        ("status", text(b.status.as_str())),
        ("created_at", SqlValue::Integer(b.created_at.unix_micros())),
        ("updated_at", SqlValue::Integer(b.updated_at.unix_micros())),
    ])
}

pub(crate) const BOOKING_SELECT: &str = "SELECT id, request_id, quote_id, client_id, provider_id, amount_minor, currency, status, created_at, updated_at, version FROM khedma_bookings";

pub(crate) fn decode_booking(r: &rusqlite::Row<'_>) -> Result<Versioned<Booking>, Fail> {
    let cur = currency(&r.get::<_, String>(6)?)?;
    Ok(Versioned {
        value: Booking {
            id: parse(&r.get::<_, String>(0)?, "booking id")?,
            request_id: parse(&r.get::<_, String>(1)?, "request id")?,
            quote_id: parse(&r.get::<_, String>(2)?, "quote id")?,
            client_id: parse(&r.get::<_, String>(3)?, "client id")?,
            provider_id: parse(&r.get::<_, String>(4)?, "provider id")?,
            amount: Money::from_minor(r.get(5)?, cur),
            status: wire(&r.get::<_, String>(7)?, KhedmaBookingStatus::parse, "booking status")?,
            created_at: ts(r.get(8)?)?,
            updated_at: ts(r.get(9)?)?,
        },
        version: version(r.get(10)?)?,
    })
}
