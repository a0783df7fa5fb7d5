//! Payment gateways: webhook signature schemes and payload formats, pure (no network).
//!
//! A [`Gateway`] verifies a webhook's signature over the raw body in constant time and parses the
//! body into a [`WebhookEvent`]. Two schemes ship: [`PhonePeStyle`] (`X-VERIFY: hex(HMAC-SHA256(body))
//! ###<key index>`) and [`StripeStyle`] (`Stripe-Signature: t=<unix>,v1=<hex(HMAC-SHA256("t.body"))>`
//! with a replay tolerance). Another gateway is one more implementation of the trait.

use crate::money::Currency;
use crate::time::Timestamp;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

type HmacSha256 = Hmac<Sha256>;

/// Largest webhook body accepted, in bytes.
pub const WEBHOOK_BODY_MAX_BYTES: usize = 64 * 1024;

crate::homeheroes::model::wire_enum!(
    /// Which gateway.
    GatewayKind { PhonePe = "phonepe", Stripe = "stripe" }
);

/// HTTP headers as received; names are matched case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers(pub BTreeMap<String, String>);

impl Headers {
    /// The value of `name`, any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Headers from pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

/// Why a webhook was refused before anything was read from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The signature header is missing or malformed.
    #[error("missing or malformed signature")]
    MissingSignature,
    /// The signature does not match the body.
    #[error("signature does not match")]
    BadSignature,
    /// The signed timestamp is outside the replay tolerance.
    #[error("signature timestamp outside tolerance")]
    Stale,
    /// The body is too large.
    #[error("body too large")]
    TooLarge,
    /// The body does not parse as this gateway's event.
    #[error("malformed event: {0}")]
    Malformed(String),
}

/// What the gateway says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Money was captured.
    Succeeded,
    /// The payment failed.
    Failed,
}

impl EventStatus {
    /// The wire name (`succeeded`), as serialised and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Succeeded => "succeeded",
            EventStatus::Failed => "failed",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "succeeded" => Some(EventStatus::Succeeded),
            "failed" => Some(EventStatus::Failed),
            _ => None,
        }
    }
}

/// A verified, parsed webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// Which gateway.
    pub gateway: GatewayKind,
    /// The gateway's transaction id (unique per gateway).
    pub provider_txn_id: String,
    /// The merchant reference we gave the gateway: the payment intent id.
    pub merchant_ref: String,
    /// Minor units, as the gateway reports.
    pub amount_minor: i64,
    /// As the gateway reports.
    pub currency: Option<Currency>,
    /// Outcome.
    pub status: EventStatus,
}

/// A payment gateway's webhook format.
pub trait Gateway: Send + Sync {
    /// Which gateway.
    fn kind(&self) -> GatewayKind;
    /// Checks the signature over the raw body (constant-time comparison).
    fn verify(&self, headers: &Headers, body: &[u8], now: Timestamp) -> Result<(), WebhookError>;
    /// Parses a verified body.
    fn parse(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError>;
    /// Signs a body as the gateway would (for simulators and tests).
    fn sign(&self, body: &[u8], now: Timestamp) -> Headers;

    /// Verifies, then parses.
    fn receive(&self, headers: &Headers, body: &[u8], now: Timestamp) -> Result<WebhookEvent, WebhookError> {
        if body.len() > WEBHOOK_BODY_MAX_BYTES {
            return Err(WebhookError::TooLarge);
        }
        self.verify(headers, body, now)?;
        self.parse(body)
    }
}

/// HMAC-SHA256 over `parts` with `secret`. HMAC takes keys of any length (RFC 2104), so this never
/// fails in practice; should it, callers fail closed (no signature verifies, none is produced).
fn hmac(secret: &[u8], parts: &[&[u8]]) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    for p in parts {
        m.update(p);
    }
    Some(m)
}

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// PhonePe-style: `X-VERIFY: <hex HMAC-SHA256 of the raw body>###<key index>`; the body is
/// `{"merchantTransactionId", "transactionId", "amount" (minor units), "currency", "state"}` with
/// `state` `COMPLETED` or `FAILED`.
pub struct PhonePeStyle {
    secret: Vec<u8>,
    key_index: u32,
}

impl PhonePeStyle {
    /// With the merchant's salt key and its index.
    pub fn new(secret: impl Into<Vec<u8>>, key_index: u32) -> Self {
        Self { secret: secret.into(), key_index }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhonePeBody {
    merchant_transaction_id: String,
    transaction_id: String,
    amount: i64,
    #[serde(default)]
    currency: Option<String>,
    state: String,
}

impl Gateway for PhonePeStyle {
    fn kind(&self) -> GatewayKind {
        GatewayKind::PhonePe
    }
    fn verify(&self, headers: &Headers, body: &[u8], _now: Timestamp) -> Result<(), WebhookError> {
        let header = headers.get("x-verify").ok_or(WebhookError::MissingSignature)?;
        let (sig, index) = header.split_once("###").ok_or(WebhookError::MissingSignature)?;
        if index.trim() != self.key_index.to_string() {
            return Err(WebhookError::BadSignature);
        }
        let sig = hex_decode(sig.trim()).ok_or(WebhookError::MissingSignature)?;
        let m = hmac(&self.secret, &[body]).ok_or(WebhookError::BadSignature)?;
        m.verify_slice(&sig).map_err(|_| WebhookError::BadSignature)
    }
    fn parse(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        let b: PhonePeBody = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let status = match b.state.as_str() {
            "COMPLETED" => EventStatus::Succeeded,
            "FAILED" => EventStatus::Failed,
            other => return Err(WebhookError::Malformed(format!("unknown state `{other}`"))),
        };
        Ok(WebhookEvent {
            gateway: GatewayKind::PhonePe,
            provider_txn_id: b.transaction_id,
            merchant_ref: b.merchant_transaction_id,
            amount_minor: b.amount,
            currency: b.currency.as_deref().and_then(|c| Currency::from_code(&c.to_ascii_uppercase())),
            status,
        })
    }
    fn sign(&self, body: &[u8], _now: Timestamp) -> Headers {
        match hmac(&self.secret, &[body]) {
            Some(m) => {
                let sig = hex_encode(&m.finalize().into_bytes());
                Headers::from_pairs([("X-VERIFY", format!("{sig}###{}", self.key_index))])
            }
            None => Headers::default(),
        }
    }
}

/// Stripe-style: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (several
/// `v1` allowed, for secret rotation), refused when `t` is further than the tolerance from now. The
/// body is an event `{"id", "type": "payment_intent.succeeded" | "payment_intent.payment_failed",
/// "data": {"object": {"id", "amount", "currency", "metadata": {"merchant_ref"}}}}`.
pub struct StripeStyle {
    secret: Vec<u8>,
    tolerance_secs: i64,
}

/// Stripe's default replay tolerance.
pub const STRIPE_TOLERANCE_SECS: i64 = 300;

impl StripeStyle {
    /// With the endpoint secret and the default tolerance.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self { secret: secret.into(), tolerance_secs: STRIPE_TOLERANCE_SECS }
    }
}

#[derive(Deserialize)]
struct StripeEvent {
    #[serde(rename = "type")]
    kind: String,
    data: StripeData,
}
#[derive(Deserialize)]
struct StripeData {
    object: StripeObject,
}
#[derive(Deserialize)]
struct StripeObject {
    id: String,
    amount: i64,
    currency: String,
    metadata: BTreeMap<String, String>,
}

impl Gateway for StripeStyle {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Stripe
    }
    fn verify(&self, headers: &Headers, body: &[u8], now: Timestamp) -> Result<(), WebhookError> {
        let header = headers.get("stripe-signature").ok_or(WebhookError::MissingSignature)?;
        let mut t: Option<i64> = None;
        let mut sigs: Vec<Vec<u8>> = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse().ok(),
                Some(("v1", v)) => sigs.extend(hex_decode(v)),
                _ => {}
            }
        }
        let t = t.ok_or(WebhookError::MissingSignature)?;
        if sigs.is_empty() {
            return Err(WebhookError::MissingSignature);
        }
        let now_secs = now.unix_micros() / 1_000_000;
        if (now_secs - t).abs() > self.tolerance_secs {
            return Err(WebhookError::Stale);
        }
        let stamp = t.to_string();
        let signed = |sig: &[u8]| {
            hmac(&self.secret, &[stamp.as_bytes(), b".", body]).is_some_and(|m| m.verify_slice(sig).is_ok())
        };
        // Every candidate is checked (no early exit), each in constant time.
        let matched = sigs.iter().fold(false, |acc, s| signed(s) | acc);
        if matched {
            Ok(())
        } else {
            Err(WebhookError::BadSignature)
        }
    }
    fn parse(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        let e: StripeEvent = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let status = match e.kind.as_str() {
            "payment_intent.succeeded" => EventStatus::Succeeded,
            "payment_intent.payment_failed" => EventStatus::Failed,
            other => return Err(WebhookError::Malformed(format!("unhandled event type `{other}`"))),
        };
        let o = e.data.object;
        let merchant_ref =
            o.metadata.get("merchant_ref").cloned().ok_or_else(|| WebhookError::Malformed("no merchant_ref".into()))?;
        Ok(WebhookEvent {
            gateway: GatewayKind::Stripe,
            provider_txn_id: o.id,
            merchant_ref,
            amount_minor: o.amount,
            currency: Currency::from_code(&o.currency.to_ascii_uppercase()),
            status,
        })
    }
    fn sign(&self, body: &[u8], now: Timestamp) -> Headers {
        let t = (now.unix_micros() / 1_000_000).to_string();
        match hmac(&self.secret, &[t.as_bytes(), b".", body]) {
            Some(m) => {
                let sig = hex_encode(&m.finalize().into_bytes());
                Headers::from_pairs([("Stripe-Signature", format!("t={t},v1={sig}"))])
            }
            None => Headers::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
    }

    #[test]
    fn phonepe_style_round_trip_and_tamper() {
        let g = PhonePeStyle::new(b"salt".to_vec(), 1);
        let body = br#"{"merchantTransactionId":"m1","transactionId":"T1","amount":50000,"currency":"INR","state":"COMPLETED"}"#;
        let h = g.sign(body, now());
        let e = g.receive(&h, body, now()).unwrap();
        assert_eq!((e.provider_txn_id.as_str(), e.amount_minor, e.status), ("T1", 50000, EventStatus::Succeeded));
        let mut tampered = body.to_vec();
        tampered[70] ^= 1;
        assert_eq!(g.verify(&h, &tampered, now()), Err(WebhookError::BadSignature));
        assert_eq!(g.verify(&Headers::default(), body, now()), Err(WebhookError::MissingSignature));
        let other_key = PhonePeStyle::new(b"salt".to_vec(), 2);
        assert_eq!(other_key.verify(&h, body, now()), Err(WebhookError::BadSignature));
    }

    #[test]
    fn stripe_style_checks_tolerance_and_rotation() {
        let g = StripeStyle::new(b"whsec".to_vec());
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","amount":1200,"currency":"usd","metadata":{"merchant_ref":"m9"}}}}"#;
        let h = g.sign(body, now());
        assert_eq!(g.receive(&h, body, now()).unwrap().merchant_ref, "m9");
        let later = now().checked_add(chrono::Duration::seconds(301)).unwrap();
        assert_eq!(g.verify(&h, body, later), Err(WebhookError::Stale));
        // Rotation: an old signature next to a good one still verifies.
        let good = h.get("stripe-signature").unwrap().to_owned();
        let rotated = Headers::from_pairs([("stripe-signature", format!("{good},v1={}", "ab".repeat(32)))]);
        assert!(g.verify(&rotated, body, now()).is_ok());
        let wrong = StripeStyle::new(b"other".to_vec());
        assert_eq!(wrong.verify(&h, body, now()), Err(WebhookError::BadSignature));
    }

    proptest! {
        #[test]
        fn arbitrary_headers_and_bodies_never_verify_or_panic(sig in "\\PC{0,120}", body in prop::collection::vec(any::<u8>(), 0..300)) {
            let p = PhonePeStyle::new(b"salt".to_vec(), 1);
            let s = StripeStyle::new(b"whsec".to_vec());
            let h = Headers::from_pairs([("X-VERIFY", sig.clone()), ("Stripe-Signature", sig)]);
            prop_assert!(p.receive(&h, &body, now()).is_err());
            prop_assert!(s.receive(&h, &body, now()).is_err());
            let _ = p.parse(&body);
            let _ = s.parse(&body);
        }
    }
}
