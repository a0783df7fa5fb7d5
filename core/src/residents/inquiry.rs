//! The inquiry gate (seed 002 §4): the only unauthenticated entry point. Email and phone are
//! normalised, a duplicate by either answers exactly like a fresh inquiry plus `duplicate: true`,
//! the inquiry and its dedup keys commit together, a known device fingerprint bypasses the gate,
//! and an IP may try 3 times an hour (§14 E).

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::Error;
use crate::id::InquiryId;
use crate::kernel::access::require;
use crate::kernel::entity::{Entity, EntityDecl, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{Decoded, Row, RowRead};
use crate::limits::{LimitState, Subject, INQUIRIES};
use crate::service::{Command, Decide};
use crate::time::Timestamp;
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Inquiries one IP address may submit at once, and per hour on average (§14 E: "Inquiry
/// submission | 3 attempts per IP per hour"); duplicates count. The burst of
/// [`crate::limits::INQUIRIES`], which takes it.
pub const INQUIRIES_PER_IP_PER_HOUR: u64 = 3;
/// Where national numbers are dialled: Viramah's users dial Indian numbers.
pub const DEFAULT_PHONE_REGION: phonenumber::country::Id = phonenumber::country::Id::IN;
pub use crate::validate::{normalise_email, EMAIL_MAX_CHARS};
const NAME: TextRule = TextRule { min_chars: 2, max_chars: 100, multiline: false };
const MESSAGE: TextRule = TextRule { min_chars: 0, max_chars: 1_000, multiline: true };
/// The namespace of the dedup keys' and fingerprints' derived ids.
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x7669_7261_6d61_6800_0000_0000_0000_0004);

/// An inquiry as stored. Sales agents and admins read it; nobody else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inquiry {
    /// Id.
    pub id: InquiryId,
    /// Name.
    pub name: String,
    /// Email, trimmed and lowercased.
    pub email: String,
    /// Phone, E.164.
    pub phone: String,
    /// Message (may be empty).
    pub message: String,
    /// The client IP it came from.
    pub ip: String,
    /// When received.
    pub created_at: Timestamp,
}

/// One normalised email or phone in the dedup index; its id is derived from the value, so a second
/// inquiry with the same value fails to insert it (the race's one winner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InquiryKey {
    /// `uuid5("<kind>:<value>")`.
    pub id: Uuid,
    /// `email` or `phone`.
    pub kind: String,
    /// The normalised value.
    pub value: String,
    /// The inquiry that holds it.
    pub inquiry_id: InquiryId,
    /// When.
    pub created_at: Timestamp,
}

/// One submission attempt (fresh or duplicate): the record of each; the per-IP limit itself is a
/// rate-limit bucket ([`crate::limits::INQUIRIES`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InquiryAttempt {
    /// Id.
    pub id: Uuid,
    /// The client IP.
    pub ip: String,
    /// Whether it matched an existing inquiry.
    pub duplicate: bool,
    /// When.
    pub at: Timestamp,
}

/// A device fingerprint hash seen on an inquiry (§4 "Device-Based Gating Logic").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFingerprint {
    /// `uuid5("device:<hash>")`.
    pub id: Uuid,
    /// The hash the client computed (64 lowercase hex digits).
    pub hash: String,
    /// When first seen.
    pub first_seen: Timestamp,
}

fn key_id(kind: &str, value: &str) -> Uuid {
    Uuid::new_v5(&KEY_NAMESPACE, format!("{kind}:{value}").as_bytes())
}

pub(super) static INQUIRY: EntityDecl = EntityDecl {
    kind: "residents.inquiry",
    aliases: &[],
    human: "inquiry",
    table: "inquiries",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    // One inquiry per email and per phone (the dedup index says the same; a racer fails here first).
    uniques: &[
        Unique { name: "inquiries_email_key", columns: &["email"], when: None },
        Unique { name: "inquiries_phone_key", columns: &["phone"], when: None },
    ],
    guards: &[],
};
pub(super) static INQUIRY_KEY: EntityDecl = EntityDecl {
    kind: "residents.inquiry_key",
    aliases: &[],
    human: "inquiry key",
    table: "inquiry_dedup_index",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    uniques: &[Unique { name: "inquiry_dedup_index_value_key", columns: &["kind", "value"], when: None }],
    guards: &[],
};
pub(super) static INQUIRY_ATTEMPT: EntityDecl = EntityDecl {
    kind: "residents.inquiry_attempt",
    aliases: &[],
    human: "inquiry attempt",
    table: "inquiry_attempts",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    uniques: &[],
    guards: &[],
};
pub(super) static DEVICE: EntityDecl = EntityDecl {
    kind: "residents.device_fingerprint",
    aliases: &[],
    human: "device fingerprint",
    table: "device_fingerprints",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    uniques: &[Unique { name: "device_fingerprints_hash_key", columns: &["hash"], when: None }],
    guards: &[],
};

impl Entity for Inquiry {
    const DECL: &'static EntityDecl = &INQUIRY;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("name", self.name.as_str())
            .with("email", self.email.as_str())
            .with("phone", self.phone.as_str())
            .with("message", self.message.as_str())
            .with("ip", self.ip.as_str())
            .with("created_at", self.created_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Inquiry {
            id: InquiryId::from_uuid(r.uuid("id")?),
            name: r.text("name")?,
            email: r.text("email")?,
            phone: r.text("phone")?,
            message: r.text("message")?,
            ip: r.text("ip")?,
            created_at: r.ts("created_at")?,
        })
    }
    /// Sales agents (seed 002 §4, "RLS policies that allow `SALES_AGENT` role reads") and admins.
    fn readers(&self) -> Readers {
        Readers::nobody().and_roles([Role::SalesAgent])
    }
}

impl Entity for InquiryKey {
    const DECL: &'static EntityDecl = &INQUIRY_KEY;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id)
            .with("kind", self.kind.as_str())
            .with("value", self.value.as_str())
            .with("inquiry_id", self.inquiry_id.as_uuid())
            .with("created_at", self.created_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(InquiryKey {
            id: r.uuid("id")?,
            kind: r.text("kind")?,
            value: r.text("value")?,
            inquiry_id: InquiryId::from_uuid(r.uuid("inquiry_id")?),
            created_at: r.ts("created_at")?,
        })
    }
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

impl Entity for InquiryAttempt {
    const DECL: &'static EntityDecl = &INQUIRY_ATTEMPT;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id)
            .with("ip", self.ip.as_str())
            .with("duplicate", self.duplicate)
            .with("at", self.at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(InquiryAttempt { id: r.uuid("id")?, ip: r.text("ip")?, duplicate: r.bool("duplicate")?, at: r.ts("at")? })
    }
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

impl Entity for DeviceFingerprint {
    const DECL: &'static EntityDecl = &DEVICE;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new().with("id", self.id).with("hash", self.hash.as_str()).with("first_seen", self.first_seen)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(DeviceFingerprint { id: r.uuid("id")?, hash: r.text("hash")?, first_seen: r.ts("first_seen")? })
    }
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

/// Normalises a phone number to E.164 (§4 step 2), reading national numbers as Indian
/// ([`DEFAULT_PHONE_REGION`]) and validating it against libphonenumber's metadata for its region.
pub fn normalise_phone(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<String> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        v.push(field, Violation::Required);
        return None;
    };
    // Bound the work libphonenumber does on hostile input.
    let parsed = if raw.len() <= 40 { phonenumber::parse(Some(DEFAULT_PHONE_REGION), raw).ok() } else { None };
    match parsed {
        Some(n) if phonenumber::is_valid(&n) => Some(n.format().mode(phonenumber::Mode::E164).to_string()),
        _ => {
            v.push(field, Violation::InvalidFormat { expected: "e164".into() });
            None
        }
    }
}

fn fingerprint_field(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Some(None),
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => Some(Some(h.to_ascii_lowercase())),
        Some(_) => {
            v.push(field, Violation::InvalidFormat { expected: "sha256_hex".into() });
            None
        }
    }
}

/// An inquiry as sent (every field optional, so a missing one is a field error).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubmitInquiry {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone (national Indian numbers accepted).
    pub phone: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// The client IP (the host puts it here, not the client).
    pub ip: Option<String>,
    /// The device fingerprint hash the client computed (SHA-256 hex), if any.
    pub device_fingerprint: Option<String>,
}

/// A checked inquiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidInquiry {
    /// Name.
    pub name: String,
    /// Normalised email.
    pub email: String,
    /// E.164 phone.
    pub phone: String,
    /// Message.
    pub message: String,
    /// IP, canonical.
    pub ip: String,
    /// Fingerprint hash.
    pub device_fingerprint: Option<String>,
}

impl SubmitInquiry {
    /// Validates the input against `now`, without a store.
    pub fn check(&self, _now: Timestamp) -> Result<ValidInquiry, ValidationErrors> {
        let mut v = Validator::new();
        let name = v.text("name", self.name.as_deref(), NAME);
        let email = normalise_email(&mut v, "email", self.email.as_deref());
        let phone = normalise_phone(&mut v, "phone", self.phone.as_deref());
        let message = v.optional_text("message", self.message.as_deref(), MESSAGE);
        let ip = match self.ip.as_deref().map(str::trim).map(str::parse::<std::net::IpAddr>) {
            None => {
                v.push("ip", Violation::Required);
                None
            }
            Some(Ok(ip)) => Some(ip.to_string()),
            Some(Err(_)) => {
                v.push("ip", Violation::InvalidFormat { expected: "ip_address".into() });
                None
            }
        };
        let device_fingerprint = fingerprint_field(&mut v, "device_fingerprint", self.device_fingerprint.as_deref());
        v.finish(|| {
            Some(ValidInquiry {
                name: name?,
                email: email?,
                phone: phone?,
                message: message?.unwrap_or_default(),
                ip: ip?,
                device_fingerprint: device_fingerprint?,
            })
        })
    }
}

/// The answer to an inquiry: the same shape whether it was fresh or a duplicate, and it names no
/// record (§4 step 4: "do not expose that the record exists").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InquiryReceipt {
    /// Always true: the inquiry was received.
    pub received: bool,
    /// The email or the phone matched an earlier inquiry; nothing new was recorded.
    pub duplicate: bool,
}

/// What an inquiry reads, from one snapshot.
pub struct InquiryScene {
    email_taken: bool,
    phone_taken: bool,
    /// The IP's inquiry bucket ([`crate::limits::INQUIRIES`]).
    limit: LimitState,
    device_known: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SubmitInquiry {
    const NAME: &'static str = "residents.inquire";
    type Valid = ValidInquiry;
    type Loaded = InquiryScene;
    type Output = InquiryReceipt;

    fn validate(&self, now: Timestamp) -> Result<ValidInquiry, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, store: &dyn Reader, _: &Actor, v: &ValidInquiry) -> Result<InquiryScene, Error> {
        let email_taken = store.get::<InquiryKey>(key_id("email", &v.email)).await?.is_some();
        let phone_taken = store.get::<InquiryKey>(key_id("phone", &v.phone)).await?.is_some();
        let limit = INQUIRIES.limit(Subject::Ip(&v.ip))?.load(store).await?;
        let device_known = match &v.device_fingerprint {
            Some(h) => store.get::<DeviceFingerprint>(key_id("device", h)).await?.is_some(),
            None => true,
        };
        Ok(InquiryScene { email_taken, phone_taken, limit, device_known })
    }
    fn decide(
        &self,
        _actor: &Actor,
        v: &ValidInquiry,
        s: InquiryScene,
        cx: &mut Decide<'_>,
    ) -> Result<InquiryReceipt, Error> {
        // Anyone may inquire (the one unauthenticated entry point, §14 C); the IP limit guards it,
        // taken in this commit (`crate::limits`): racing attempts from one IP cannot exceed it.
        s.limit.take(cx)?;
        let duplicate = s.email_taken || s.phone_taken;
        let now = cx.now();
        cx.append(InquiryAttempt { id: cx.ids().new_uuid(), ip: v.ip.clone(), duplicate, at: now })?;
        if let (Some(h), false) = (&v.device_fingerprint, s.device_known) {
            cx.append(DeviceFingerprint { id: key_id("device", h), hash: h.clone(), first_seen: now })?;
        }
        if !duplicate {
            let id = InquiryId::generate(cx.ids());
            cx.append(Inquiry {
                id,
                name: v.name.clone(),
                email: v.email.clone(),
                phone: v.phone.clone(),
                message: v.message.clone(),
                ip: v.ip.clone(),
                created_at: now,
            })?;
            // The dedup keys commit with the inquiry; a concurrent inquiry with the same email or
            // phone fails on the key's id and, decided again, answers `duplicate`.
            for (kind, value) in [("email", &v.email), ("phone", &v.phone)] {
                cx.append(InquiryKey {
                    id: key_id(kind, value),
                    kind: kind.to_owned(),
                    value: value.clone(),
                    inquiry_id: id,
                    created_at: now,
                })?;
            }
        }
        Ok(InquiryReceipt { received: true, duplicate })
    }
}

/// Whether a device's fingerprint hash is known (the gate is bypassed). Anyone may ask.
pub async fn device_known(store: &dyn Reader, hash: &str) -> Result<bool, Error> {
    let mut v = Validator::new();
    let hash = fingerprint_field(&mut v, "device_fingerprint", Some(hash));
    let hash = v.finish(|| hash)?;
    match hash {
        Some(h) => Ok(store.get::<DeviceFingerprint>(key_id("device", &h)).await?.is_some()),
        None => Err(ValidationErrors::single("device_fingerprint", Violation::Required).into()),
    }
}

/// Inquiries, newest first: sales agents and admins only (§4).
pub async fn inquiries(store: &dyn Reader, actor: &Actor, limit: u32) -> Result<Vec<Inquiry>, Error> {
    let allowed = actor.has_role(Role::SalesAgent) || actor.is_admin() || matches!(actor, Actor::System);
    require(actor, Decision::when(allowed, "only sales agents and admins read inquiries"))?;
    let q = Query::of::<Inquiry>().order_by("created_at", Dir::Desc).order_by("id", Dir::Desc).limit(limit);
    let rows: StoreResult<Vec<Versioned<Inquiry>>> = store.find(q).await;
    Ok(rows?.into_iter().map(|r| r.value).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> Option<String> {
        normalise_phone(&mut Validator::new(), "phone", Some(raw))
    }

    #[test]
    fn phones_are_e164_by_region_and_invalid_ones_refused() {
        assert_eq!(phone("98765 43210").as_deref(), Some("+919876543210"));
        assert_eq!(phone("+91 98765-43210").as_deref(), Some("+919876543210"));
        assert_eq!(phone("(0) 98765 43210").as_deref(), Some("+919876543210"));
        assert_eq!(phone("+1 650-253-0000").as_deref(), Some("+16502530000"));
        // The old digit filter accepted these.
        assert_eq!(phone("+12"), None);
        assert_eq!(phone("12345"), None);
        assert_eq!(phone("+91 99999"), None, "too short for India");
        assert_eq!(phone("+91 98765 43210 99"), None, "too long for India");
        assert_eq!(phone(&"9".repeat(500)), None);
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let e = |raw: &str| normalise_email(&mut Validator::new(), "email", Some(raw));
        assert_eq!(e("  Priya.S@Example.COM ").as_deref(), Some("priya.s@example.com"));
        for bad in ["priya", "a@b", "a@@b.com", "a b@c.com", "@x.com", "a@.com"] {
            assert_eq!(e(bad), None, "{bad}");
        }
    }
}
