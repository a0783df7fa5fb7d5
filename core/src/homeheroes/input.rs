//! HomeHeroes inputs as callers send them (every field optional, so a missing one is a field error,
//! not a parse failure) and their validation into checked values (seed 000 §3, §5, §11).

use super::model::{
    BudgetRange, Category, DayWindow, InterestSource, Location, NotificationPreferences, Weekday, WeeklyAvailability,
};
use crate::money::{Currency, Money, MoneyError};
use crate::time::Timestamp;
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named limits of HomeHeroes inputs.
pub mod limits {
    use crate::validate::TextRule;
    use rust_decimal::Decimal;

    /// Title: 5–100 characters, one line.
    pub const TITLE: TextRule = TextRule { min_chars: 5, max_chars: 100, multiline: false };
    /// Description: 10–1000 characters.
    pub const DESCRIPTION: TextRule = TextRule { min_chars: 10, max_chars: 1000, multiline: true };
    /// Address lines.
    pub const ADDRESS: TextRule = TextRule { min_chars: 1, max_chars: 200, multiline: false };
    /// City and state.
    pub const PLACE: TextRule = TextRule { min_chars: 1, max_chars: 100, multiline: false };
    /// Postal code.
    pub const ZIP: TextRule = TextRule { min_chars: 2, max_chars: 12, multiline: false };
    /// A person's name.
    pub const FULL_NAME: TextRule = TextRule { min_chars: 1, max_chars: 100, multiline: false };
    /// One skill.
    pub const SKILL: TextRule = TextRule { min_chars: 2, max_chars: 50, multiline: false };
    /// A cancel reason.
    pub const CANCEL_REASON: TextRule = TextRule { min_chars: 1, max_chars: 500, multiline: true };
    /// Most skills a hero lists.
    pub const SKILLS_MAX: u32 = 20;
    /// Estimated duration, whole hours.
    pub const DURATION_HOURS_MIN: i64 = 1;
    /// Estimated duration, whole hours.
    pub const DURATION_HOURS_MAX: i64 = 24;
    /// Highest budget accepted, in currency units (a sanity bound that keeps amounts in `i64` minor units).
    pub const BUDGET_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
    /// Lowest hourly rate.
    pub const HOURLY_RATE_MIN: Decimal = Decimal::from_parts(1000, 0, 0, false, 2);
    /// Highest hourly rate.
    pub const HOURLY_RATE_MAX: Decimal = Decimal::from_parts(50000, 0, 0, false, 2);
    /// Longest profile image URL.
    pub const URL_MAX_CHARS: usize = 2048;
    /// Requests a civilian may create at once, and per minute on average (seed 000 "Rate
    /// Limiting"): the burst of [`crate::limits::REQUEST_CREATION`], which takes it.
    pub const REQUESTS_PER_MINUTE_MAX: u64 = 5;
}

/// A location as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocationInput {
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Postal code.
    #[serde(alias = "zipCode")]
    pub zip_code: Option<String>,
    /// −90…90.
    #[serde(alias = "lat")]
    pub latitude: Option<f64>,
    /// −180…180.
    #[serde(alias = "lng")]
    pub longitude: Option<f64>,
}

/// A budget as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BudgetInput {
    /// Lowest, > 0.
    pub min: Option<Decimal>,
    /// Highest, ≥ min.
    pub max: Option<Decimal>,
    /// ISO 4217.
    pub currency: Option<String>,
}

/// A new service request as sent (seed 000 §3 "Create Request").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceRequestInput {
    /// 5–100 characters.
    pub title: Option<String>,
    /// 10–1000 characters.
    pub description: Option<String>,
    /// `cleaning`, `repairs`, `delivery`, `tutoring` or `other`.
    pub category: Option<String>,
    /// Where.
    pub location: Option<LocationInput>,
    /// RFC 3339, in the future.
    #[serde(alias = "scheduledDate")]
    pub scheduled_date: Option<String>,
    /// 1–24 hours.
    #[serde(alias = "estimatedDuration")]
    pub estimated_duration: Option<i64>,
    /// Budget.
    #[serde(alias = "budgetRange")]
    pub budget_range: Option<BudgetInput>,
}

/// A service request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidServiceRequest {
    /// Cleaned title.
    pub title: String,
    /// Cleaned description.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Location.
    pub location: Location,
    /// When.
    pub scheduled_at: Timestamp,
    /// Hours.
    pub estimated_duration_hours: u8,
    /// Budget.
    pub budget: BudgetRange,
}

impl ServiceRequestInput {
    /// Validates against `now` (the scheduled date must be after it). Every error at once.
    pub fn validate(&self, now: Timestamp) -> Result<ValidServiceRequest, ValidationErrors> {
        let mut v = Validator::new();
        let title = v.text("title", self.title.as_deref(), limits::TITLE);
        let description = v.text("description", self.description.as_deref(), limits::DESCRIPTION);
        let category = v.one_of("category", self.category.as_deref(), Category::OPTIONS);
        let location = match &self.location {
            None => {
                v.push("location", Violation::Required);
                None
            }
            Some(l) => validate_location(&mut v, l),
        };
        let scheduled_at = match self.scheduled_date.as_deref() {
            None => {
                v.push("scheduled_date", Violation::Required);
                None
            }
            Some(s) => match Timestamp::parse_rfc3339(s) {
                None => {
                    v.push("scheduled_date", Violation::InvalidFormat { expected: "rfc3339".into() });
                    None
                }
                Some(t) if t <= now => {
                    v.push("scheduled_date", Violation::MustBeFuture);
                    None
                }
                Some(t) => Some(t),
            },
        };
        let duration = v.int_range(
            "estimated_duration",
            self.estimated_duration,
            limits::DURATION_HOURS_MIN,
            limits::DURATION_HOURS_MAX,
        );
        let budget = match &self.budget_range {
            None => {
                v.push("budget_range", Violation::Required);
                None
            }
            Some(b) => validate_budget(&mut v, b),
        };
        v.finish(|| {
            Some(ValidServiceRequest {
                title: title?,
                description: description?,
                category: category?,
                location: location?,
                scheduled_at: scheduled_at?,
                estimated_duration_hours: u8::try_from(duration?).ok()?,
                budget: budget?,
            })
        })
    }
}

fn validate_location(v: &mut Validator, l: &LocationInput) -> Option<Location> {
    let mut n = Validator::nested("location");
    let address = n.text("address", l.address.as_deref(), limits::ADDRESS);
    let city = n.text("city", l.city.as_deref(), limits::PLACE);
    let state = n.text("state", l.state.as_deref(), limits::PLACE);
    let zip_code = n.text("zip_code", l.zip_code.as_deref(), limits::ZIP);
    let zip_code = zip_code.and_then(|z| {
        if z.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-') {
            Some(z)
        } else {
            n.push("zip_code", Violation::InvalidFormat { expected: "postal_code".into() });
            None
        }
    });
    let latitude = n.float_range("latitude", l.latitude, -90.0, 90.0);
    let longitude = n.float_range("longitude", l.longitude, -180.0, 180.0);
    let ok = n.is_ok();
    v.absorb(n);
    if !ok {
        return None;
    }
    Some(Location {
        address: address?,
        city: city?,
        state: state?,
        zip_code: zip_code?,
        latitude: latitude?,
        longitude: longitude?,
    })
}

/// Checks one amount of `currency`: positive, within `min..=max`, no finer than the minor unit.
fn money_field(
    v: &mut Validator,
    field: &str,
    raw: Decimal,
    currency: Currency,
    min: Decimal,
    max: Decimal,
) -> Option<Money> {
    if raw <= Decimal::ZERO {
        v.push(field, Violation::NotPositive);
        return None;
    }
    if raw < min || raw > max {
        v.push(field, Violation::AmountOutOfRange { min, max });
        return None;
    }
    match Money::new(raw, currency) {
        Ok(m) => Some(m),
        Err(MoneyError::TooPrecise) => {
            v.push(field, Violation::TooPrecise { max_decimals: currency.minor_units() });
            None
        }
        Err(_) => {
            v.push(field, Violation::AmountOutOfRange { min, max });
            None
        }
    }
}

fn validate_budget(v: &mut Validator, b: &BudgetInput) -> Option<BudgetRange> {
    let mut n = Validator::nested("budget_range");
    let currency = n.currency("currency", b.currency.as_deref(), None);
    // Without a valid currency the amounts are still checked against the common two-decimal unit.
    let unit = currency.unwrap_or(Currency::USD);
    let one_minor = Decimal::new(1, unit.minor_units());
    let min = match b.min {
        None => {
            n.push("min", Violation::Required);
            None
        }
        Some(m) => money_field(&mut n, "min", m, unit, one_minor, limits::BUDGET_MAX),
    };
    let max = match b.max {
        None => {
            n.push("max", Violation::Required);
            None
        }
        Some(m) => money_field(&mut n, "max", m, unit, one_minor, limits::BUDGET_MAX),
    };
    if let (Some(lo), Some(hi)) = (min, max) {
        if hi.amount() < lo.amount() {
            n.push("max", Violation::LessThanField { other: "budget_range.min".into() });
        }
    }
    let ok = n.is_ok();
    v.absorb(n);
    if !ok {
        return None;
    }
    currency?;
    Some(BudgetRange { min: min?, max: max? })
}

/// Normalises a phone number to E.164 (`+15551234567`), accepting spaces, dashes, dots and parentheses.
pub fn normalize_e164(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(16);
    for (i, c) in raw.trim().chars().enumerate() {
        match c {
            '+' if i == 0 => out.push('+'),
            '0'..='9' => out.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let digits = out.strip_prefix('+')?;
    let ok = (2..=15).contains(&digits.len()) && !digits.starts_with('0');
    ok.then_some(out)
}

fn phone_field(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Some(None),
        Some(p) => match normalize_e164(p) {
            Some(p) => Some(Some(p)),
            None => {
                v.push(field, Violation::InvalidFormat { expected: "e164".into() });
                None
            }
        },
    }
}

/// A profile update as sent (onboarding). Absent fields stay as they are; an empty string clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    /// 1–100 characters.
    pub full_name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
}

/// A checked profile update: `None` = unchanged, `Some(None)` = clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidProfile {
    /// Name change.
    pub full_name: Option<Option<String>>,
    /// Phone change.
    pub phone: Option<Option<String>>,
}

impl ProfileInput {
    /// Validates.
    pub fn validate(&self) -> Result<ValidProfile, ValidationErrors> {
        let mut v = Validator::new();
        let full_name = match &self.full_name {
            None => Some(None),
            Some(n) => v.optional_text("full_name", Some(n), limits::FULL_NAME).map(Some),
        };
        let phone = match &self.phone {
            None => Some(None),
            Some(p) => phone_field(&mut v, "phone", Some(p)).map(Some),
        };
        v.finish(|| Some(ValidProfile { full_name: full_name?, phone: phone? }))
    }
}

/// Notification toggles as sent; absent ones stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationInput {
    /// Push.
    pub push: Option<bool>,
    /// E-mail.
    pub email: Option<bool>,
    /// SMS.
    pub sms: Option<bool>,
}

impl NotificationInput {
    /// Applies the set toggles to `prefs`.
    pub fn apply(&self, prefs: NotificationPreferences) -> NotificationPreferences {
        NotificationPreferences {
            push: self.push.unwrap_or(prefs.push),
            email: self.email.unwrap_or(prefs.email),
            sms: self.sms.unwrap_or(prefs.sms),
        }
    }
}

/// A civilian profile update as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CivilianProfileInput {
    /// Address; empty clears.
    pub address: Option<String>,
    /// Toggles.
    #[serde(alias = "notification_preferences")]
    pub notifications: Option<NotificationInput>,
}

/// A checked civilian profile update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidCivilianProfile {
    /// Address change.
    pub address: Option<Option<String>>,
    /// Toggle changes.
    pub notifications: NotificationInput,
}

impl CivilianProfileInput {
    /// Validates.
    pub fn validate(&self) -> Result<ValidCivilianProfile, ValidationErrors> {
        let mut v = Validator::new();
        let address = match &self.address {
            None => Some(None),
            Some(a) => v.optional_text("address", Some(a), TextRule { max_chars: 300, ..limits::ADDRESS }).map(Some),
        };
        v.finish(|| {
            Some(ValidCivilianProfile { address: address?, notifications: self.notifications.unwrap_or_default() })
        })
    }
}

/// One day's hours as sent: `{"start": "09:00", "end": "17:00", "available": true}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DayInput {
    /// `HH:MM`.
    pub start: Option<String>,
    /// `HH:MM` (`24:00` allowed).
    pub end: Option<String>,
    /// False: a day off (start and end are ignored).
    pub available: Option<bool>,
}

/// A hero profile update as sent (seed 000 §5). Skills and rate are required; the rest optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeroProfileInput {
    /// 1–20 skills, each 2–50 characters, no repeats.
    pub skills: Option<Vec<String>>,
    /// 10.00–500.00.
    pub hourly_rate: Option<Decimal>,
    /// ISO 4217; USD when absent.
    pub currency: Option<String>,
    /// Weekday name → hours.
    pub availability: Option<BTreeMap<String, DayInput>>,
    /// An https URL.
    pub profile_image_url: Option<String>,
}

/// A checked hero profile update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidHeroProfile {
    /// Cleaned skills.
    pub skills: Vec<String>,
    /// Rate.
    pub hourly_rate: Money,
    /// Schedule.
    pub availability: WeeklyAvailability,
    /// Image.
    pub profile_image_url: Option<String>,
}

fn parse_hh_mm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn validate_https_url(raw: &str) -> Option<String> {
    let url = raw.trim();
    let rest = url.strip_prefix("https://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let ok = url.chars().count() <= limits::URL_MAX_CHARS
        && !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        && url.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\'));
    ok.then(|| url.to_owned())
}

impl HeroProfileInput {
    /// Validates.
    pub fn validate(&self) -> Result<ValidHeroProfile, ValidationErrors> {
        let mut v = Validator::new();
        let skills = match &self.skills {
            None => {
                v.push("skills", Violation::Required);
                None
            }
            Some(list) if list.is_empty() => {
                v.push("skills", Violation::TooFew { min: 1 });
                None
            }
            Some(list) if list.len() > limits::SKILLS_MAX as usize => {
                v.push("skills", Violation::TooMany { max: limits::SKILLS_MAX });
                None
            }
            Some(list) => {
                let mut out: Vec<String> = Vec::with_capacity(list.len());
                for (i, raw) in list.iter().enumerate() {
                    let field = format!("skills[{i}]");
                    if let Some(s) = v.text(&field, Some(raw), limits::SKILL) {
                        if out.iter().any(|o| o.to_lowercase() == s.to_lowercase()) {
                            v.push(&field, Violation::Duplicate);
                        } else {
                            out.push(s);
                        }
                    }
                }
                Some(out)
            }
        };
        let currency = v.currency("currency", self.currency.as_deref(), Some(Currency::USD));
        let hourly_rate = match (self.hourly_rate, currency) {
            (None, _) => {
                v.push("hourly_rate", Violation::Required);
                None
            }
            (Some(r), c) => money_field(
                &mut v,
                "hourly_rate",
                r,
                c.unwrap_or(Currency::USD),
                limits::HOURLY_RATE_MIN,
                limits::HOURLY_RATE_MAX,
            ),
        };
        let mut availability = WeeklyAvailability::new();
        for (day, hours) in self.availability.iter().flatten() {
            let field = format!("availability.{day}");
            let Some(weekday) = Weekday::parse(day.trim().to_lowercase().as_str()) else {
                v.push(
                    &field,
                    Violation::NotAllowed { allowed: Weekday::ALL.iter().map(|(_, n)| (*n).into()).collect() },
                );
                continue;
            };
            if hours.available == Some(false) {
                continue;
            }
            let start = parse_time(&mut v, &format!("{field}.start"), hours.start.as_deref());
            let end = parse_time(&mut v, &format!("{field}.end"), hours.end.as_deref());
            if let (Some(s), Some(e)) = (start, end) {
                if s >= e {
                    v.push(&format!("{field}.start"), Violation::NotBeforeField { other: format!("{field}.end") });
                } else {
                    availability.insert(weekday, DayWindow { start_minute: s, end_minute: e });
                }
            }
        }
        let profile_image_url = match self.profile_image_url.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(u) => match validate_https_url(u) {
                Some(u) => Some(Some(u)),
                None => {
                    v.push("profile_image_url", Violation::InvalidFormat { expected: "https_url".into() });
                    None
                }
            },
        };
        v.finish(|| {
            Some(ValidHeroProfile {
                skills: skills?,
                hourly_rate: hourly_rate?,
                availability,
                profile_image_url: profile_image_url?,
            })
        })
    }
}

fn parse_time(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<u16> {
    match raw {
        None => {
            v.push(field, Violation::Required);
            None
        }
        Some(s) => parse_hh_mm(s).or_else(|| {
            v.push(field, Violation::InvalidFormat { expected: "hh_mm".into() });
            None
        }),
    }
}

/// A hero's interest as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InterestInput {
    /// `app` (default) or `sms`.
    pub source: Option<String>,
    /// E.164; required for `sms`.
    pub phone: Option<String>,
}

/// A checked interest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidInterest {
    /// Source.
    pub source: InterestSource,
    /// Phone for SMS.
    pub phone: Option<String>,
}

impl InterestInput {
    /// Validates.
    pub fn validate(&self) -> Result<ValidInterest, ValidationErrors> {
        let mut v = Validator::new();
        let source = match self.source.as_deref() {
            None => Some(InterestSource::App),
            s => v.one_of("source", s, InterestSource::OPTIONS),
        };
        let phone = phone_field(&mut v, "phone", self.phone.as_deref());
        if source == Some(InterestSource::Sms) && matches!(phone, Some(None)) {
            v.push("phone", Violation::Required);
        }
        v.finish(|| Some(ValidInterest { source: source?, phone: phone? }))
    }
}

/// Optional cancel reason, cleaned.
pub fn validate_cancel_reason(raw: Option<&str>) -> Result<Option<String>, ValidationErrors> {
    let mut v = Validator::new();
    let reason = v.optional_text("reason", raw, limits::CANCEL_REASON);
    v.finish(|| reason)
}

/// A rating score: 1–5.
pub fn validate_score(raw: i64) -> Result<u8, ValidationErrors> {
    let mut v = Validator::new();
    let s = v.int_range("score", Some(raw), 1, 5);
    v.finish(|| s.and_then(|s| u8::try_from(s).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::char_len;
    use proptest::prelude::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
    }

    /// Text that reaches every region of the text rules: letters and spaces (often 5–100 of them),
    /// control and format characters (newline, tab, CR, NUL, zero-width space and joiners, BOM, soft
    /// hyphen), bidi overrides and isolates, bare combining marks, markup, and very long runs.
    fn any_text() -> impl Strategy<Value = Option<String>> {
        let piece = prop_oneof![
            12 => prop::char::range('a', 'z'),
            3 => Just(' '),
            1 => prop::sample::select(vec![
                '\n', '\t', '\r', '\u{0}', '\u{7}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{FEFF}', '\u{AD}',
                '\u{202E}', '\u{2066}', '\u{2069}', '\u{301}', '<', '>', '/', 'é', '日', '\u{1F469}',
            ]),
        ];
        prop::option::of(prop_oneof![
            8 => prop::collection::vec(piece, 0..130).prop_map(String::from_iter),
            1 => "\\PC{0,120}",
            1 => Just("x".repeat(2000)),
            1 => "[0-9:+\\- ]{0,20}",
        ])
    }
    /// Amounts near the rules' limits (cents, whole units, too precise) and any decimal at all.
    fn any_decimal() -> impl Strategy<Value = Option<Decimal>> {
        prop::option::of(prop_oneof![
            4 => (-100i64..60_000, 0u32..4).prop_map(|(m, s)| Decimal::new(m, s)),
            1 => (any::<i64>(), 0u32..12).prop_map(|(m, s)| Decimal::new(m, s)),
        ])
    }
    fn any_float() -> impl Strategy<Value = Option<f64>> {
        prop::option::of(prop_oneof![
            any::<f64>(),
            -200.0..200.0f64,
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(90.0),
            Just(-180.0)
        ])
    }

    /// The valid sample with one field replaced by a drawn value: the other fields stay valid, so
    /// the outcome is decided by the drawn field alone (the valid region is reached, and whether it
    /// should be is known).
    #[derive(Debug, Clone)]
    enum RequestField {
        Title(Option<String>),
        Description(Option<String>),
        Category(Option<String>),
        Address(Option<String>),
        Latitude(Option<f64>),
        Date(Option<String>),
        Duration(Option<i64>),
        BudgetMin(Option<Decimal>),
        BudgetMax(Option<Decimal>),
        Currency(Option<String>),
    }

    fn request_field() -> impl Strategy<Value = RequestField> {
        prop_oneof![
            any_text().prop_map(RequestField::Title),
            any_text().prop_map(RequestField::Description),
            prop::option::of(prop_oneof![Just("repairs".to_owned()), Just("cleaning".to_owned()), "[a-z]{0,10}"])
                .prop_map(RequestField::Category),
            any_text().prop_map(RequestField::Address),
            any_float().prop_map(RequestField::Latitude),
            prop::option::of(prop_oneof![
                "\\PC{0,30}",
                Just("2026-06-02T00:00:00Z".to_owned()),
                Just("2026-06-01T12:00:00Z".to_owned()),
                Just("2026-05-01T00:00:00+02:00".to_owned())
            ])
            .prop_map(RequestField::Date),
            prop::option::of(prop_oneof![4 => -2i64..30, 1 => any::<i64>()]).prop_map(RequestField::Duration),
            any_decimal().prop_map(RequestField::BudgetMin),
            any_decimal().prop_map(RequestField::BudgetMax),
            prop::option::of(prop_oneof![
                Just("USD".to_owned()),
                Just("JPY".to_owned()),
                Just("INR".to_owned()),
                "[A-Z]{0,4}"
            ])
            .prop_map(RequestField::Currency),
        ]
    }

    fn mutated(field: &RequestField) -> ServiceRequestInput {
        let mut r = crate::samples::request_input();
        let (location, budget) = (r.location.as_mut().unwrap(), r.budget_range.as_mut().unwrap());
        match field.clone() {
            RequestField::Title(t) => r.title = t,
            RequestField::Description(t) => r.description = t,
            RequestField::Category(t) => r.category = t,
            RequestField::Address(t) => location.address = t,
            RequestField::Latitude(f) => location.latitude = f,
            RequestField::Date(t) => r.scheduled_date = t,
            RequestField::Duration(d) => r.estimated_duration = d,
            RequestField::BudgetMin(d) => budget.min = d,
            RequestField::BudgetMax(d) => budget.max = d,
            RequestField::Currency(c) => budget.currency = c,
        }
        r
    }

    /// Runs `cases` cases of `strategy` through `test`, which says whether its input was valid, and
    /// asserts both regions were reached: a generator that never produces a valid input proves nothing.
    fn reaches_both_regions<T: std::fmt::Debug>(
        cases: u32,
        strategy: impl Strategy<Value = T>,
        test: impl Fn(T) -> Result<bool, TestCaseError>,
    ) {
        use std::sync::atomic::{AtomicU32, Ordering};
        let (valid, invalid) = (AtomicU32::new(0), AtomicU32::new(0));
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        runner
            .run(&strategy, |input| {
                let counter = if test(input)? { &valid } else { &invalid };
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
            .unwrap();
        let (valid, invalid) = (valid.into_inner(), invalid.into_inner());
        assert!(valid >= cases / 10 && invalid >= cases / 10, "valid {valid}, invalid {invalid} of {cases}");
    }

    #[test]
    fn request_validation_never_panics_and_valid_means_within_rules() {
        reaches_both_regions(1024, request_field(), |field| {
            let input = mutated(&field);
            let result = input.validate(now());
            // The field alone decides, where the rule is numeric: exactly the values the seed allows.
            match &field {
                RequestField::Duration(d) => prop_assert_eq!(result.is_ok(), d.is_some_and(|d| (1..=24).contains(&d))),
                RequestField::Latitude(l) => {
                    prop_assert_eq!(result.is_ok(), l.is_some_and(|l| l.is_finite() && l.abs() <= 90.0))
                }
                RequestField::BudgetMin(m) => prop_assert_eq!(
                    result.is_ok(),
                    m.is_some_and(|m| m > Decimal::ZERO && m <= Decimal::new(120, 0) && m.normalize().scale() <= 2),
                    "{:?}",
                    m
                ),
                _ => {}
            }
            match result {
                Ok(v) => {
                    prop_assert!((5..=100).contains(&char_len(&v.title)));
                    prop_assert!((10..=1000).contains(&char_len(&v.description)));
                    let bidi =
                        |c: char| ('\u{202A}'..='\u{202E}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c);
                    prop_assert!(!v.title.contains(|c: char| c.is_control() || bidi(c)), "{:?}", v.title);
                    prop_assert!(!v.title.contains(['\u{200B}', '\u{FEFF}', '\u{AD}']), "{:?}", v.title);
                    prop_assert!((1..=24).contains(&v.estimated_duration_hours));
                    prop_assert!(v.scheduled_at > now());
                    prop_assert!(v.budget.min.is_positive() && v.budget.max.amount() >= v.budget.min.amount());
                    prop_assert_eq!(v.budget.min.currency(), v.budget.max.currency());
                    prop_assert!(v.budget.max.to_minor().is_some());
                    prop_assert!(v.location.latitude.abs() <= 90.0 && v.location.longitude.abs() <= 180.0);
                    Ok(true)
                }
                Err(e) => {
                    // One field was changed, so every error is about that field.
                    let path = match &field {
                        RequestField::Title(_) => "title",
                        RequestField::Description(_) => "description",
                        RequestField::Category(_) => "category",
                        RequestField::Address(_) => "location.address",
                        RequestField::Latitude(_) => "location.latitude",
                        RequestField::Date(_) => "scheduled_date",
                        RequestField::Duration(_) => "estimated_duration",
                        RequestField::BudgetMin(_) | RequestField::BudgetMax(_) | RequestField::Currency(_) => {
                            "budget_range"
                        }
                    };
                    prop_assert!(!e.errors().is_empty());
                    prop_assert!(e.errors().iter().all(|f| f.field.starts_with(path)), "{:?}: {:?}", field, e);
                    Ok(false)
                }
            }
        });
    }

    #[test]
    fn hero_profile_validation_never_panics_and_rates_obey_the_limits() {
        let input = (
            prop::option::of(prop::collection::vec(prop_oneof![4 => "[A-Za-z ]{1,20}", 1 => "\\PC{0,60}"], 0..25)),
            any_decimal(),
            prop::option::of(prop_oneof![4 => Just("USD".to_owned()), 1 => "[A-Z]{0,4}"]),
            prop::collection::btree_map(
                prop_oneof![Just("monday".to_owned()), Just("sunday".to_owned()), "[a-zA-Z]{0,10}"],
                (
                    prop_oneof![Just("09:00".to_owned()), "[0-9:]{0,6}"],
                    prop_oneof![Just("17:00".to_owned()), "[0-9:]{0,6}"],
                    any::<Option<bool>>(),
                ),
                0..4,
            ),
        );
        reaches_both_regions(1024, (0usize..4, input), |(field, (skills, rate, currency, days))| {
            // One field of the valid sample replaced by the drawn value.
            let mut input = crate::samples::hero_input();
            match field {
                0 => input.skills = skills,
                1 => input.hourly_rate = rate,
                2 => input.currency = currency,
                _ => {
                    input.availability = Some(
                        days.into_iter()
                            .map(|(k, (s, e, a))| (k, DayInput { start: Some(s), end: Some(e), available: a }))
                            .collect(),
                    )
                }
            }
            // The rate alone, on the valid sample: 10.00–500.00 with at most two decimals.
            let mut only_rate = crate::samples::hero_input();
            only_rate.hourly_rate = rate;
            let rate_ok = rate.is_some_and(|r| {
                r >= limits::HOURLY_RATE_MIN && r <= limits::HOURLY_RATE_MAX && r.normalize().scale() <= 2
            });
            prop_assert_eq!(only_rate.validate().is_ok(), rate_ok, "{:?}", rate);
            match input.validate() {
                Ok(v) => {
                    prop_assert!(!v.skills.is_empty() && v.skills.len() <= 20);
                    prop_assert!(
                        v.hourly_rate.amount() >= limits::HOURLY_RATE_MIN
                            && v.hourly_rate.amount() <= limits::HOURLY_RATE_MAX
                    );
                    for w in v.availability.values() {
                        prop_assert!(w.start_minute < w.end_minute && w.end_minute <= 1440);
                    }
                    Ok(true)
                }
                Err(e) => {
                    prop_assert!(!e.errors().is_empty());
                    Ok(false)
                }
            }
        });
    }

    proptest! {
        #[test]
        fn any_json_decodes_or_fails_cleanly(json in "\\PC{0,200}") {
            let _ = serde_json::from_str::<ServiceRequestInput>(&json);
            let _ = serde_json::from_str::<HeroProfileInput>(&json);
            let _ = serde_json::from_str::<ProfileInput>(&json);
        }

        #[test]
        fn phones_normalise_to_e164_or_are_refused(raw in "[+0-9 ().\\-a]{0,24}") {
            if let Some(p) = normalize_e164(&raw) {
                prop_assert!(p.starts_with('+') && (3..=16).contains(&p.len()));
                prop_assert!(p[1..].bytes().all(|b| b.is_ascii_digit()) && !p[1..].starts_with('0'));
            }
        }
    }

    #[test]
    fn boundaries_of_the_seed_rules() {
        let mut ok = crate::samples::request_input();
        ok.title = Some("x".repeat(5));
        assert!(ok.validate(now()).is_ok());
        ok.title = Some("x".repeat(100));
        assert!(ok.validate(now()).is_ok());
        ok.title = Some("x".repeat(101));
        assert_eq!(ok.validate(now()).unwrap_err().get("title"), Some(&Violation::TooLong { max: 100 }));
        let mut hero = HeroProfileInput { skills: Some(vec!["Plumbing".into()]), ..HeroProfileInput::default() };
        for (rate, good) in [("9.99", false), ("10.00", true), ("500.00", true), ("500.01", false), ("10.005", false)] {
            hero.hourly_rate = Some(rate.parse().unwrap());
            assert_eq!(hero.validate().is_ok(), good, "rate {rate}");
        }
        for (d, good) in [(0, false), (1, true), (24, true), (25, false)] {
            let mut r = crate::samples::request_input();
            r.estimated_duration = Some(d);
            assert_eq!(r.validate(now()).is_ok(), good, "duration {d}");
        }
        let mut r = crate::samples::request_input();
        r.budget_range = Some(BudgetInput {
            min: Some(Decimal::new(50, 0)),
            max: Some(Decimal::new(50, 0)),
            currency: Some("USD".into()),
        });
        assert!(r.validate(now()).is_ok(), "min = max is a valid budget");
        // JSON numbers and strings both decode as exact decimals.
        let b: BudgetInput = serde_json::from_str(r#"{"min": 10.1, "max": "20.25", "currency": "USD"}"#).unwrap();
        assert_eq!((b.min.unwrap().to_string(), b.max.unwrap().to_string()), ("10.1".to_owned(), "20.25".to_owned()));
    }
}
