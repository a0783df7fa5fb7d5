//! Schedules: cron patterns in a time zone that enqueue a job per occurrence — the periodic work the
//! seeds ran with `pg_cron` (Thorbis "Background Job System": `cron.schedule('job-processor', '* * *
//! * *', …)`; Viramah §10: "a scheduled Edge Function runs every 30 minutes to check SLA breaches").
//!
//! Everything here is pure: the next occurrence after an instant, the occurrences in a window, and
//! the job of one occurrence. Its **unique key** is `schedule:<name>:<occurrence instant>` and its
//! **id** is derived from that key (UUIDv5), so every scheduler that reaches the occurrence builds
//! the same job, and the store keeps the first one it sees: two schedulers running at once — or a
//! late one catching up — enqueue each occurrence once.
//!
//! Patterns are parsed by `croner` (5 fields, or 6 with seconds first; `L`, `#`, `W` and names
//! allowed) and evaluated on the wall clock of the schedule's IANA zone (`chrono-tz`). Daylight
//! saving time has one defined answer, croner's (the Open Cron Pattern Specification, like Vixie
//! cron):
//!
//! - **a gap** (the clock springs forward over the occurrence): a fixed-time pattern (`0 2 * * *`)
//!   runs once, at the first instant after the gap on the same day; an interval pattern (`*/30 * * *
//!   *`) skips the occurrences inside the gap and goes on from the new wall time;
//! - **an overlap** (the clock falls back over it): a fixed-time pattern runs once, at the first
//!   pass; an interval pattern runs on both passes (each is a distinct instant, so each has its own
//!   unique key).
//!
//! The unit tests below pin these answers in Europe/Paris and America/New_York.

use super::{new_job, payload_as, EnqueueOptions, JobDecl, NewJob};
use crate::error::Error;
use crate::id::{IdSource, JobId};
use crate::time::Timestamp;
use crate::validate::{ValidationErrors, Validator, Violation};
use chrono::Utc;
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The namespace of occurrence ids (`UUIDv5(namespace, unique key)`).
const OCCURRENCE_NAMESPACE: Uuid = Uuid::from_u128(0x6a0b_8d3c_51e4_4f7e_9a21_7c5d_0e3f_9b14);

/// Longest schedule name.
pub const NAME_MAX_CHARS: usize = 100;

/// A schedule as a domain declares it (a `static` listed in the domain's `SCHEDULES`, registered in
/// [`crate::domains`]): what runs when, in which zone.
#[derive(Debug)]
pub struct ScheduleDecl {
    /// The schedule's name (`maintenance.sla_sweep`): part of each occurrence's unique key.
    pub name: &'static str,
    /// The cron pattern.
    pub cron: &'static str,
    /// The IANA time zone the pattern's wall clock is in (`Asia/Kolkata`).
    pub zone: &'static str,
    /// The job each occurrence enqueues; its payload is an [`Occurrence`].
    pub job: &'static JobDecl,
}

/// The payload of a scheduled job: which schedule, and the occurrence it runs for (a handler that
/// works "for the day" reads the day from here, never from its own clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Occurrence {
    /// The schedule's name.
    pub schedule: String,
    /// The occurrence's instant.
    pub at: Timestamp,
}

/// [`JobDecl::validate`] for scheduled kinds: the payload is an [`Occurrence`].
pub fn validate_occurrence(payload: &serde_json::Value) -> Result<(), ValidationErrors> {
    let o: Occurrence = payload_as(payload)?;
    let mut v = Validator::new();
    if let Err(violation) = check_name(&o.schedule) {
        v.push("schedule", violation);
    }
    v.finish(|| Some(()))
}

fn check_name(name: &str) -> Result<(), Violation> {
    if name.is_empty() {
        return Err(Violation::Required);
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(Violation::TooLong { max: NAME_MAX_CHARS as u32 });
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')) {
        return Err(Violation::InvalidFormat { expected: "lowercase_name".into() });
    }
    Ok(())
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    name: String,
    pattern: String,
    cron: Cron,
    zone: Tz,
    job: &'static JobDecl,
}

impl Schedule {
    /// Parses a schedule: field errors on `name` (lowercase letters, digits, `_.-`; 1–100),
    /// `cron` (a pattern croner accepts) and `zone` (an IANA name), and on `job` when its kind does
    /// not take an [`Occurrence`] payload.
    pub fn parse(name: &str, cron: &str, zone: &str, job: &'static JobDecl) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new();
        if let Err(violation) = check_name(name) {
            v.push("name", violation);
        }
        let parsed = match CronParser::builder().seconds(Seconds::Optional).build().parse(cron) {
            Ok(c) => Some(c),
            Err(_) => {
                v.push("cron", Violation::InvalidFormat { expected: "cron".into() });
                None
            }
        };
        let tz = match zone.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                v.push("zone", Violation::InvalidFormat { expected: "iana_time_zone".into() });
                None
            }
        };
        let sample = serde_json::json!({ "schedule": "probe", "at": Timestamp::from_datetime(chrono::DateTime::<Utc>::UNIX_EPOCH) });
        if (job.validate)(&sample).is_err() {
            v.push("job", Violation::InvalidFormat { expected: "occurrence_payload".into() });
        }
        v.finish(|| Some(Schedule { name: name.to_owned(), pattern: cron.to_owned(), cron: parsed?, zone: tz?, job }))
    }

    /// The schedule a domain declared.
    pub fn from_decl(decl: &ScheduleDecl) -> Result<Self, Error> {
        Self::parse(decl.name, decl.cron, decl.zone, decl.job)
            .map_err(|e| Error::internal(format!("schedule `{}` is invalid: {e}", decl.name)))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its pattern, as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
    /// Its time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }
    /// The job kind it enqueues.
    pub fn job(&self) -> &'static JobDecl {
        self.job
    }

    /// The first occurrence strictly after `after` (`None` past year 5000, croner's horizon).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let local = after.as_datetime().with_timezone(&self.zone);
        self.cron.find_next_occurrence(&local, false).ok().map(|t| Timestamp::from_datetime(t.with_timezone(&Utc)))
    }

    /// The occurrences in `(after, upto]`, oldest first, at most `max`.
    pub fn between(&self, after: Timestamp, upto: Timestamp, max: usize) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let mut cursor = after;
        while out.len() < max {
            match self.next_after(cursor) {
                Some(t) if t <= upto && t > cursor => {
                    out.push(t);
                    cursor = t;
                }
                _ => break,
            }
        }
        out
    }

    /// The unique key of the occurrence at `at`: `schedule:<name>:<instant, RFC 3339 UTC>`.
    pub fn occurrence_key(&self, at: Timestamp) -> String {
        format!("schedule:{}:{at}", self.name)
    }

    /// The id of the occurrence at `at`, derived from its unique key.
    pub fn occurrence_id(&self, at: Timestamp) -> JobId {
        JobId::from_uuid(Uuid::new_v5(&OCCURRENCE_NAMESPACE, self.occurrence_key(at).as_bytes()))
    }

    /// The job of the occurrence at `at`, enqueued at `now`: due at `at`, its id and unique key the
    /// occurrence's, its payload the [`Occurrence`].
    pub fn occurrence(&self, at: Timestamp, now: Timestamp, ids: &dyn IdSource) -> Result<NewJob, Error> {
        let payload = serde_json::to_value(Occurrence { schedule: self.name.clone(), at })
            .map_err(|e| Error::internal(format!("occurrence: {e}")))?;
        let options = EnqueueOptions {
            run_at: Some(at),
            unique_key: Some(self.occurrence_key(at)),
            id: Some(self.occurrence_id(at)),
            ..EnqueueOptions::default()
        };
        new_job(self.job, payload, options, now, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TICK: JobDecl = JobDecl {
        kind: "maintenance.sla_sweep",
        validate: validate_occurrence,
        priority: 0,
        max_attempts: 3,
        backoff: super::super::Backoff::DEFAULT,
    };

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn schedule(cron: &str, zone: &str) -> Schedule {
        Schedule::parse("test.tick", cron, zone, &TICK).unwrap()
    }

    fn all(s: &Schedule, from: &str, to: &str) -> Vec<String> {
        s.between(at(from), at(to), 1_000).into_iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn every_30_minutes_in_utc() {
        // Viramah §10: "A scheduled Edge Function runs every 30 minutes to check SLA breaches".
        let s = schedule("*/30 * * * *", "UTC");
        assert_eq!(
            all(&s, "2026-06-01T11:59:59Z", "2026-06-01T13:00:00Z"),
            ["2026-06-01T12:00:00Z", "2026-06-01T12:30:00Z", "2026-06-01T13:00:00Z"]
        );
        // Strictly after: an occurrence is not its own successor.
        assert_eq!(s.next_after(at("2026-06-01T12:00:00Z")), Some(at("2026-06-01T12:30:00Z")));
    }

    #[test]
    fn a_local_time_in_a_zone() {
        // 02:00 in Kolkata (UTC+05:30, no DST) is 20:30 UTC the day before.
        let s = schedule("0 2 * * *", "Asia/Kolkata");
        assert_eq!(s.next_after(at("2026-06-01T00:00:00Z")), Some(at("2026-06-01T20:30:00Z")));
    }

    #[test]
    fn dst_gap_fixed_time_runs_once_right_after_the_gap() {
        // Europe/Paris springs from 02:00 to 03:00 on 2026-03-29: 02:30 does not exist that day.
        let s = schedule("30 2 * * *", "Europe/Paris");
        assert_eq!(
            all(&s, "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z"),
            [
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:00:00Z", // 03:00 CEST: the first instant after the gap
                "2026-03-30T00:30:00Z", // 02:30 CEST
            ]
        );
    }

    #[test]
    fn dst_gap_interval_skips_the_missing_hour() {
        // America/New_York springs from 02:00 to 03:00 on 2026-03-08.
        let s = schedule("*/30 * * * *", "America/New_York");
        assert_eq!(
            all(&s, "2026-03-08T06:00:00Z", "2026-03-08T07:30:00Z"),
            [
                "2026-03-08T06:30:00Z", // 01:30 EST
                "2026-03-08T07:00:00Z", // 03:00 EDT (02:00 and 02:30 do not exist)
                "2026-03-08T07:30:00Z", // 03:30 EDT
            ]
        );
    }

    #[test]
    fn dst_overlap_fixed_time_runs_once_at_the_first_pass() {
        // Europe/Paris falls from 03:00 back to 02:00 on 2026-10-25: 02:30 happens twice.
        let s = schedule("30 2 * * *", "Europe/Paris");
        assert_eq!(
            all(&s, "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z"),
            [
                "2026-10-25T00:30:00Z", // 02:30 CEST, the first pass; not again at 01:30Z (CET)
                "2026-10-26T01:30:00Z", // 02:30 CET
            ]
        );
    }

    #[test]
    fn dst_overlap_interval_runs_on_both_passes() {
        // America/New_York falls from 02:00 back to 01:00 on 2026-11-01: 01:00–01:59 happens twice.
        let s = schedule("*/30 * * * *", "America/New_York");
        assert_eq!(
            all(&s, "2026-11-01T04:45:00Z", "2026-11-01T07:00:00Z"),
            [
                "2026-11-01T05:00:00Z", // 01:00 EDT
                "2026-11-01T05:30:00Z", // 01:30 EDT
                "2026-11-01T06:00:00Z", // 01:00 EST
                "2026-11-01T06:30:00Z", // 01:30 EST
                "2026-11-01T07:00:00Z", // 02:00 EST
            ]
        );
        // Each pass is its own instant, so its own occurrence.
        assert_ne!(s.occurrence_key(at("2026-11-01T05:00:00Z")), s.occurrence_key(at("2026-11-01T06:00:00Z")));
    }

    #[test]
    fn occurrence_keys_and_ids_are_the_same_for_every_scheduler() {
        let a = schedule("*/30 * * * *", "UTC");
        let b = schedule("*/30 * * * *", "UTC");
        let t = at("2026-06-01T12:30:00Z");
        assert_eq!(a.occurrence_key(t), "schedule:test.tick:2026-06-01T12:30:00Z");
        assert_eq!(a.occurrence_id(t), b.occurrence_id(t));
        assert_ne!(a.occurrence_id(t), a.occurrence_id(at("2026-06-01T13:00:00Z")));
    }

    #[test]
    fn bad_schedules_name_every_field() {
        let e = Schedule::parse("Bad Name", "61 * * * *", "Mars/Olympus", &TICK).unwrap_err();
        let fields: Vec<&str> = e.errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "cron", "zone"]);
        static NO_PAYLOAD: JobDecl = JobDecl {
            kind: "test.none",
            validate: super::super::validate_no_payload,
            priority: 0,
            max_attempts: 1,
            backoff: super::super::Backoff::DEFAULT,
        };
        let e = Schedule::parse("ok", "* * * * *", "UTC", &NO_PAYLOAD).unwrap_err();
        assert!(e.get("job").is_some(), "{e:?}");
    }

    #[test]
    fn seconds_are_optional() {
        let s = schedule("*/2 * * * * *", "UTC");
        assert_eq!(
            all(&s, "2026-06-01T12:00:00Z", "2026-06-01T12:00:05Z"),
            ["2026-06-01T12:00:02Z", "2026-06-01T12:00:04Z"]
        );
    }
}
