//! Fraud rules for wallet top-ups (Viramah §14 E–F), each pure with a named limit.

use super::PaymentIntent;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A second intent within this many seconds needs a fresh re-authentication (velocity check).
pub const VELOCITY_WINDOW_SECS: i64 = 60;
/// Top-up intents a user may create per rolling 24 hours.
pub const TOP_UPS_PER_DAY_MAX: usize = 10;
/// An amount above this multiple of the user's average successful top-up is held for review.
pub const ANOMALY_FACTOR: i64 = 5;
/// Successful top-ups needed before the anomaly rule applies (no history, no baseline).
pub const ANOMALY_MIN_HISTORY: usize = 3;
/// Successful top-ups the average looks back over.
pub const ANOMALY_HISTORY_MAX: u32 = 20;

/// Why a top-up was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudFlag {
    /// Far above the user's history: the credit is held until an admin reviews it.
    AmountAnomaly,
}

impl FraudFlag {
    /// The wire name (`amount_anomaly`), as serialised and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            FraudFlag::AmountAnomaly => "amount_anomaly",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "amount_anomaly" => Some(FraudFlag::AmountAnomaly),
            _ => None,
        }
    }
}

/// Why a top-up was refused outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another intent within the velocity window and no fresh re-authentication.
    Velocity,
    /// The daily limit is reached.
    DailyLimit,
}

/// Judges a new top-up of `amount_minor` at `now`, given the user's intents of the last 24 hours
/// and the amounts of their recent successful top-ups.
pub fn assess(
    now: Timestamp,
    amount_minor: i64,
    last_day: &[PaymentIntent],
    succeeded_amounts: &[i64],
    reauthenticated: bool,
) -> Result<Vec<FraudFlag>, Refusal> {
    if last_day.len() >= TOP_UPS_PER_DAY_MAX {
        return Err(Refusal::DailyLimit);
    }
    let window_start = now.checked_sub(chrono::Duration::seconds(VELOCITY_WINDOW_SECS)).unwrap_or(now);
    if !reauthenticated && last_day.iter().any(|i| i.created_at > window_start) {
        return Err(Refusal::Velocity);
    }
    let mut flags = Vec::new();
    if succeeded_amounts.len() >= ANOMALY_MIN_HISTORY {
        let sum: i128 = succeeded_amounts.iter().map(|a| i128::from(*a)).sum();
        let count = i128::try_from(succeeded_amounts.len()).unwrap_or(i128::MAX);
        // amount > factor × average  ⇔  amount × count > factor × sum (no division, no rounding).
        if i128::from(amount_minor) * count > i128::from(ANOMALY_FACTOR) * sum {
            flags.push(FraudFlag::AmountAnomaly);
        }
    }
    Ok(flags)
}
