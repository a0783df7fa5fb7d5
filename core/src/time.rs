//! Time: a microsecond-precision [`Timestamp`] and the injected [`Clock`].

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A UTC instant with microsecond precision.
///
/// INVARIANT (micros): the wrapped instant has no sub-microsecond part, so it round-trips exactly
/// through Postgres `timestamptz` and SQLite integer microseconds. Every constructor truncates.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "DateTime<Utc>", into = "DateTime<Utc>")]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Truncates `at` to microseconds.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.trunc_subsecs(6))
    }
    /// From microseconds since the Unix epoch; `None` when out of chrono's range.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        Utc.timestamp_micros(micros).single().map(Self)
    }
    /// Microseconds since the Unix epoch.
    pub fn unix_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }
    /// The instant as a chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
    /// Parses RFC 3339 (`2026-01-02T10:00:00Z`, any offset), truncating to microseconds.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text.trim()).ok().map(|at| Self::from_datetime(at.with_timezone(&Utc)))
    }
    /// `self + d`, or `None` on overflow.
    pub fn checked_add(&self, d: Duration) -> Option<Self> {
        self.0.checked_add_signed(d).map(Self::from_datetime)
    }
    /// `self - d`, or `None` on overflow.
    pub fn checked_sub(&self, d: Duration) -> Option<Self> {
        self.0.checked_sub_signed(d).map(Self::from_datetime)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self::from_datetime(at)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The source of "now". Core never reads the system clock: a service is given one.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// A clock that stands still until moved: for tests, replays and the quickstart.
#[derive(Debug)]
pub struct ManualClock {
    micros: std::sync::atomic::AtomicI64,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self { micros: std::sync::atomic::AtomicI64::new(at.unix_micros()) }
    }
    /// Moves the clock forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.micros.fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }
    /// Sets the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        self.micros.store(at.unix_micros(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        let micros = self.micros.load(std::sync::atomic::Ordering::SeqCst);
        // A ManualClock only ever holds values that came from a valid Timestamp or were moved by a
        // chrono Duration; should it leave chrono's range, stay at the epoch rather than panic.
        Timestamp::from_unix_micros(micros).unwrap_or(Timestamp(DateTime::<Utc>::UNIX_EPOCH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_truncate_to_micros_and_round_trip() {
        let t = Timestamp::parse_rfc3339("2026-03-01T10:00:00.123456789+02:00");
        let t = t.map(|t| t.unix_micros());
        assert_eq!(t, Some(1_772_352_000_123_456));
        let back = t.and_then(Timestamp::from_unix_micros).map(|t| t.to_string());
        assert_eq!(back.as_deref(), Some("2026-03-01T08:00:00.123456Z"));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Timestamp::from_unix_micros(0).map(ManualClock::new);
        let clock = start.as_ref().map(|c| {
            let a = c.now();
            c.advance(Duration::seconds(90));
            (a, c.now())
        });
        assert_eq!(clock.map(|(a, b)| b.unix_micros() - a.unix_micros()), Some(90_000_000));
    }
}
