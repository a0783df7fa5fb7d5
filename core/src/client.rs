//! What the SDKs call: JSON in, typed results out, no store. The WASM and UniFFI bindings are thin
//! wrappers over these functions and [`crate::offline::OfflineQueue`], so every language gets the
//! same answers to the letter — the golden vectors (`vectors/`) prove it in Rust, Node, Python and
//! Kotlin.

use crate::actor::Actor;
use crate::error::Error;
use crate::homeheroes::input::{
    validate_cancel_reason, validate_score, CivilianProfileInput, HeroProfileInput, InterestInput, ProfileInput,
    ServiceRequestInput,
};
use crate::homeheroes::workflow::{RequestAction, RequestFacts};
use crate::offline::Action;
use crate::time::Timestamp;
use crate::validate::{parse_json, ValidationErrors, Violation};
use serde::{Deserialize, Serialize};

/// The input types [`validate_input`] knows, by wire name.
pub const INPUT_TYPES: [&str; 8] =
    ["service_request", "profile", "civilian_profile", "hero_profile", "interest", "cancel", "rating", "action"];

/// A cancel as sent: `{"reason": "…"}` (optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct CancelInput {
    reason: Option<String>,
}

/// A rating as sent: `{"score": 1..5}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct RatingInput {
    score: Option<i64>,
}

/// Validates `json` as the input type `input_type` (one of [`INPUT_TYPES`]) against `now`.
///
/// `Ok` carries the checked value as the server would store it (text cleaned, amounts at the
/// currency's scale); `Err` is `validation` with every field error, including `malformed_json` and
/// `wrong_type` for what does not parse.
pub fn validate_input(input_type: &str, json: &str, now: Timestamp) -> Result<serde_json::Value, Error> {
    fn out<T: Serialize>(v: T) -> Result<serde_json::Value, Error> {
        serde_json::to_value(v).map_err(|e| Error::internal(format!("validated value: {e}")))
    }
    match input_type {
        "service_request" => out(parse_json::<ServiceRequestInput>(json)?.validate(now)?),
        "profile" => out(parse_json::<ProfileInput>(json)?.validate()?),
        "civilian_profile" => out(parse_json::<CivilianProfileInput>(json)?.validate()?),
        "hero_profile" => out(parse_json::<HeroProfileInput>(json)?.validate()?),
        "interest" => out(parse_json::<InterestInput>(json)?.validate()?),
        "cancel" => out(validate_cancel_reason(parse_json::<CancelInput>(json)?.reason.as_deref())?),
        "rating" => match parse_json::<RatingInput>(json)?.score {
            Some(s) => out(validate_score(s)?),
            None => Err(ValidationErrors::single("score", Violation::Required).into()),
        },
        "action" => {
            let action: Action = parse_json(json)?;
            action.validate(now)?;
            out(action)
        }
        _ => Err(ValidationErrors::single(
            "input_type",
            Violation::NotAllowed { allowed: INPUT_TYPES.iter().map(|t| (*t).to_owned()).collect() },
        )
        .into()),
    }
}

/// The actions `actor_json` (an [`Actor`]) may take on a request described by `facts_json` (a
/// [`RequestFacts`]) — the server's transition table, asked offline.
pub fn available_actions(facts_json: &str, actor_json: &str) -> Result<Vec<RequestAction>, Error> {
    let facts: RequestFacts = parse_json(facts_json)?;
    let actor: Actor = parse_json(actor_json)?;
    Ok(facts.available_actions(&actor))
}

/// Parses an RFC 3339 instant given by a host (`now`), as a field error when it is not one.
pub fn parse_instant(field: &str, text: &str) -> Result<Timestamp, Error> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| ValidationErrors::single(field, Violation::InvalidFormat { expected: "rfc3339".into() }).into())
}
