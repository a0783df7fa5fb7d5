//! Fraud rules for wallet top-ups (Viramah §14 E–F), each pure with a named limit.

use super::PaymentIntent;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A second intent within this many seconds needs a fresh re-authentication (velocity check).
pub const VELOCITY_WINDOW_SECS: i64 = 60;
/// Top-up intents a user may create at once, and per day on average (§14 E: "Wallet top-up
/// initiation | 10 per user per day"): the burst of [`crate::limits::TOP_UPS`], which the top-up
/// command takes in its commit (a rate limit, not a fraud rule: see [`crate::limits`]).
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
}

/// Judges a new top-up of `amount_minor` at `now`, given the user's recent intents (at least those
/// of the velocity window) and the amounts of their recent successful top-ups.
pub fn assess(
    now: Timestamp,
    amount_minor: i64,
    recent: &[PaymentIntent],
    succeeded_amounts: &[i64],
    reauthenticated: bool,
) -> Result<Vec<FraudFlag>, Refusal> {
    let window_start = velocity_window_start(now);
    if !reauthenticated && recent.iter().any(|i| i.created_at > window_start) {
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

/// Where the velocity window starts: intents created after this instant count.
pub fn velocity_window_start(now: Timestamp) -> Timestamp {
    now.checked_sub(chrono::Duration::seconds(VELOCITY_WINDOW_SECS)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
    }

    /// Viramah §14 F: "flag if amount > 5 × the user's average". Exactly 5× the average is not above
    /// it; one minor unit more is. The average here is 100.00 INR (10,000 paise).
    #[test]
    fn the_anomaly_rule_flags_strictly_above_five_times_the_average() {
        let history = [5_000, 10_000, 15_000];
        for (amount, flagged) in [(49_999, false), (50_000, false), (50_001, true)] {
            let flags = assess(now(), amount, &[], &history, false).unwrap();
            assert_eq!(flags.contains(&FraudFlag::AmountAnomaly), flagged, "{amount}");
        }
        // An average that is not a whole number of paise (30,001 / 3): 5× is 50,001.67, so 50,001 is
        // not above it and 50,002 is (an average rounded to 10,000 would flag 50,001).
        let odd = [10_000, 10_000, 10_001];
        assert!(assess(now(), 50_001, &[], &odd, false).unwrap().is_empty());
        assert_eq!(assess(now(), 50_002, &[], &odd, false).unwrap(), [FraudFlag::AmountAnomaly]);
    }

    #[test]
    fn the_anomaly_rule_needs_three_successful_top_ups() {
        let huge = 1_000_000_000;
        assert!(assess(now(), huge, &[], &[100, 100], false).unwrap().is_empty(), "two are no baseline");
        assert_eq!(assess(now(), huge, &[], &[100, 100, 100], false).unwrap(), [FraudFlag::AmountAnomaly]);
        // Extreme amounts neither overflow nor wrap: i128 products.
        assert_eq!(assess(now(), i64::MAX, &[], &[i64::MAX; 3], false).unwrap(), Vec::<FraudFlag>::new());
        assert_eq!(assess(now(), i64::MAX, &[], &[1, 1, 1], false).unwrap(), [FraudFlag::AmountAnomaly]);
    }
}
