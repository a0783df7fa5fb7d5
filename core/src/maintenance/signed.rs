//! Signed attachment links (Viramah §10 "Attachment Handling"): staff links live 30 minutes,
//! residents' 15. Core signs and verifies; the key and the time are passed in.
//!
//! The link, relative to the storage proxy's base (documented in ARCHITECTURE.md):
//!
//! ```text
//! <storage path>?aud=<staff|resident>&exp=<unix seconds>&sig=<64 lowercase hex>
//! sig = HMAC-SHA256(key, "hearth.maintenance.attachment.v1\n" + path + "\n" + aud + "\n" + exp)
//! ```
//!
//! A link is valid while `now < exp`. The query has exactly these three parameters in this order.

use super::{check_storage_path, Audience};
use crate::error::{Error, ErrorCode};
use crate::time::Timestamp;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The domain separator every signature starts with.
pub const SIGNING_CONTEXT: &str = "hearth.maintenance.attachment.v1";
/// Shortest signing key accepted, in bytes.
pub const KEY_MIN_BYTES: usize = 32;
/// How long a staff link lives.
pub const STAFF_TTL_SECONDS: i64 = 30 * 60;
/// How long a resident's link lives.
pub const RESIDENT_TTL_SECONDS: i64 = 15 * 60;

/// A signed link to one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUrl {
    /// `path?aud=…&exp=…&sig=…`, to append to the storage proxy's base.
    pub url: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Why a link was refused; the stable code is [`UrlRefusal::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    /// Not of the documented shape (or a path that is not a storage path).
    #[error("the link is malformed")]
    Malformed,
    /// The signature does not match (the path, audience or expiry was changed, or another key).
    #[error("the link's signature does not verify")]
    BadSignature,
    /// Past its expiry.
    #[error("the link has expired")]
    Expired,
}

impl UrlRefusal {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            UrlRefusal::Malformed => "url_malformed",
            UrlRefusal::BadSignature => "url_signature_invalid",
            UrlRefusal::Expired => "url_expired",
        }
    }
}

impl From<UrlRefusal> for Error {
    fn from(r: UrlRefusal) -> Self {
        Error::new(ErrorCode::Unauthorized, format!("{}: {r}", r.code()))
    }
}

/// What a valid link grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The storage path.
    pub path: String,
    /// Whom it was issued to.
    pub audience: Audience,
    /// When it expires.
    pub expires_at: Timestamp,
}

fn mac(key: &[u8], path: &str, aud: &str, exp: i64) -> Result<HmacSha256, Error> {
    if key.len() < KEY_MIN_BYTES {
        return Err(Error::internal("the attachment signing key is too short"));
    }
    let mut m = HmacSha256::new_from_slice(key).map_err(|_| Error::internal("signing key"))?;
    m.update(format!("{SIGNING_CONTEXT}\n{path}\n{aud}\n{exp}").as_bytes());
    Ok(m)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Signs a link to `path` for `audience`, valid from `now` for the audience's lifetime.
pub fn sign(key: &[u8], path: &str, audience: Audience, now: Timestamp) -> Result<SignedUrl, Error> {
    let ttl = match audience {
        Audience::Staff => STAFF_TTL_SECONDS,
        Audience::Resident => RESIDENT_TTL_SECONDS,
    };
    let exp = now.unix_micros().div_euclid(1_000_000) + ttl;
    let expires_at = Timestamp::from_unix_micros(exp * 1_000_000).ok_or_else(|| Error::internal("expiry"))?;
    let sig = hex(&mac(key, path, audience.as_str(), exp)?.finalize().into_bytes());
    Ok(SignedUrl { url: format!("{path}?aud={}&exp={exp}&sig={sig}", audience.as_str()), expires_at })
}

/// Verifies a link at `now`: what it grants, or why not. The signature is compared in constant
/// time; the expiry is checked only once the signature holds (a forged expiry is `BadSignature`).
pub fn verify(key: &[u8], url: &str, now: Timestamp) -> Result<Verified, UrlRefusal> {
    let (path, query) = url.split_once('?').ok_or(UrlRefusal::Malformed)?;
    if check_storage_path(path).is_err() {
        return Err(UrlRefusal::Malformed);
    }
    let mut parts = query.split('&');
    let mut take = |name: &str| -> Result<&str, UrlRefusal> {
        parts.next().and_then(|p| p.strip_prefix(name)).and_then(|p| p.strip_prefix('=')).ok_or(UrlRefusal::Malformed)
    };
    let aud = take("aud")?;
    let exp_text = take("exp")?;
    let sig = take("sig")?;
    if parts.next().is_some() {
        return Err(UrlRefusal::Malformed);
    }
    let audience = Audience::parse(aud).ok_or(UrlRefusal::Malformed)?;
    if exp_text.is_empty() || exp_text.len() > 12 || !exp_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlRefusal::Malformed);
    }
    let exp: i64 = exp_text.parse().map_err(|_| UrlRefusal::Malformed)?;
    let sig = unhex(sig).ok_or(UrlRefusal::Malformed)?;
    let m = mac(key, path, aud, exp).map_err(|_| UrlRefusal::BadSignature)?;
    m.verify_slice(&sig).map_err(|_| UrlRefusal::BadSignature)?;
    let expires_at = Timestamp::from_unix_micros(exp * 1_000_000).ok_or(UrlRefusal::Malformed)?;
    if now >= expires_at {
        return Err(UrlRefusal::Expired);
    }
    Ok(Verified { path: path.to_owned(), audience, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    // Viramah §10 "Attachment Handling": "Management staff access attachments via signed URLs with
    // a 30-minute expiry" and "Residents can view their own attachment signed URLs (15-minute expiry)".
    #[test]
    fn links_expire_after_their_audiences_lifetime_to_the_second() {
        let now = at("2026-06-01T12:00:00Z");
        let staff = sign(KEY, "hostel-1/mr-1/photo.jpg", Audience::Staff, now).unwrap();
        assert_eq!(staff.expires_at, at("2026-06-01T12:30:00Z"));
        let resident = sign(KEY, "hostel-1/mr-1/photo.jpg", Audience::Resident, now).unwrap();
        assert_eq!(resident.expires_at, at("2026-06-01T12:15:00Z"));
        assert_eq!(
            resident.url,
            format!(
                "hostel-1/mr-1/photo.jpg?aud=resident&exp={}&sig={}",
                1_780_316_100,
                &resident.url[resident.url.len() - 64..]
            )
        );
        let ok = verify(KEY, &resident.url, at("2026-06-01T12:14:59Z")).unwrap();
        assert_eq!((ok.path.as_str(), ok.audience), ("hostel-1/mr-1/photo.jpg", Audience::Resident));
        assert_eq!(verify(KEY, &resident.url, at("2026-06-01T12:15:00Z")).unwrap_err(), UrlRefusal::Expired);
        assert!(verify(KEY, &staff.url, at("2026-06-01T12:29:59Z")).is_ok());
        assert_eq!(verify(KEY, &staff.url, at("2026-06-01T12:30:00Z")).unwrap_err().code(), "url_expired");
    }

    #[test]
    fn tampered_links_are_refused_with_stable_codes() {
        let now = at("2026-06-01T12:00:00Z");
        let link = sign(KEY, "hostel-1/mr-1/photo.jpg", Audience::Resident, now).unwrap().url;
        let bad = |u: String| verify(KEY, &u, now).unwrap_err();
        // Another file, a longer life, another audience, another key: the signature no longer holds.
        assert_eq!(bad(link.replace("photo.jpg", "other.jpg")), UrlRefusal::BadSignature);
        assert_eq!(bad(link.replace("exp=1780316100", "exp=1780319700")), UrlRefusal::BadSignature);
        assert_eq!(bad(link.replace("aud=resident", "aud=staff")), UrlRefusal::BadSignature);
        assert_eq!(
            verify(b"another key, also thirty-two bytes!", &link, now).unwrap_err().code(),
            "url_signature_invalid"
        );
        let mut flipped = link.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == '0' { '1' } else { '0' });
        assert_eq!(bad(flipped), UrlRefusal::BadSignature);
        // Not the documented shape.
        for m in [
            "hostel-1/mr-1/photo.jpg".to_owned(),
            link.replace("&sig=", "&sig=00"),
            link.replace("aud=resident&", ""),
            format!("{link}&x=1"),
            link.replace("aud=resident", "aud=admin"),
            link.replace("exp=1780316100", "exp=-1"),
            link.replace("hostel-1/mr-1/photo.jpg", "https://evil.example/x.jpg"),
            link.replace("hostel-1/mr-1/photo.jpg", "hostel-1/../secrets.jpg"),
        ] {
            assert_eq!(bad(m.clone()).code(), "url_malformed", "{m}");
        }
        let e: Error = UrlRefusal::Expired.into();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::Unauthorized, "url_expired: the link has expired"));
        assert_eq!(sign(b"short", "a/b.jpg", Audience::Staff, now).unwrap_err().code, ErrorCode::Internal);
    }
}
