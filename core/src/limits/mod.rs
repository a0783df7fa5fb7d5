//! Rate limits: one pure decision — the generic cell rate algorithm (GCRA) — and the named policy of
//! every limit in the seeds, each taken **in the same commit** as the change it guards.
//!
//! ## The decision: GCRA
//!
//! A policy admits `burst` takes at once, then one more every emission interval `T`. Its state is
//! one number per (policy, subject): the bucket's *theoretical arrival time* `tat` (µs since the
//! Unix epoch). A take at `now` moves it to `max(tat, now) + T` and is admitted only while that is at
//! most `now + burst × T` (the burst window τ) — [`crate::kernel::store::take_after`], the one step
//! every store applies. A refusal knows exactly when a place frees: at `max(tat, now) + T − τ`.
//! (Brandur Leach's `throttled` and redis-cell's `CL.THROTTLE` are the same algorithm.)
//!
//! Why GCRA rather than a sliding window: its state is one integer, so a store checks and moves it
//! in ONE conditional statement on one row (`INSERT … ON CONFLICT DO UPDATE … WHERE`), whose row
//! lock serialises racers — no version retries, and the place is consumed if and only if the
//! business change commits. An exact sliding-window log needs up to `quota` instants per bucket and
//! a read-modify-write of the list. The state only moves forward (a take never lowers `tat`), so a
//! decision made on a snapshot that a racer has since overtaken can only be too generous, never too
//! strict — and the store refuses it at commit (see below).
//!
//! What a policy of `N` per period `P` (`T = P / N`, `τ = P`) means: at most `N` at once, `N` per
//! `P` on average, and — since a full burst can be followed by one more every `T` — at most
//! `2N − 1` within any rolling `P`. The seeds' own mechanisms are no stricter: Viramah's
//! `rate_limit_counters` "with TTL-based expiry" (§14 E) is a fixed window, which admits `2N`
//! across a window boundary; Thorbis' Upstash `slidingWindow` is an approximation.
//!
//! ## How a limit is taken
//!
//! A command loads its bucket in its snapshot ([`Limit::load`]) and, in `decide`, calls
//! [`LimitState::take`]: the pure decision refuses with `rate_limited` and its `retry_after_ms`, or
//! records a [`crate::kernel::store::Write::Take`] in the change set
//! ([`crate::kernel::command::Decide::take`]). The store applies the same GCRA step to the row it
//! finds at commit; when concurrent commits filled the bucket since the snapshot, the step fails
//! (`GuardFailed`), the whole change set is refused, and the runner decides again on fresh data —
//! where the pure decision now refuses, with the exact `retry_after`. So 32 racers against a
//! burst of `N` give exactly `N` commits, whatever the store.
//!
//! ## The policies
//!
//! | policy | burst | then one more every | on average | per | seed |
//! | --- | --- | --- | --- | --- | --- |
//! | [`REQUEST_CREATION`] | 5 | 12 s | 5 / minute | user | 000 "Rate Limiting" (line 877) |
//! | [`MESSAGE_SENDING`] | 10 | 6 s | 10 / minute | user | 000 "Rate Limiting" (line 876) |
//! | [`FAILED_LOGINS`] | 5 | 15 min | 4 / hour | email | 000 §4 (lines 262–263), 002 §14 E (line 654) |
//! | [`INQUIRIES`] | 3 | 20 min | 3 / hour | IP | 002 §14 E (line 653) |
//! | [`TOP_UPS`] | 10 | 2 h 24 min | 10 / day | user | 002 §14 E (line 655) |
//! | [`CANTEEN_ORDERS`] | 20 | 1 h 12 min | 20 / day | user | 002 §14 E (line 656) |
//! | [`MAINTENANCE_REQUESTS`] | 10 | 2 h 24 min | 10 / day | user | 002 §14 E (line 657) |
//!
//! and one quota that is not a rate: [`MAINTENANCE_ATTACHMENTS`], 5 files per request (002 §14 E,
//! line 658), kept by the request's guarded counter in the commit that inserts each attachment.
//!
//! The failed-login policy is a lockout ([`Policy::lockout`]): HomeHeroes says both "5 attempts per
//! 15 minutes per email" and "Lockout: 15 minutes after 5 failed attempts" — five failures pass,
//! the fifth locks the email for 15 minutes, and while failures keep coming each further one locks
//! it 15 minutes again (never more than 5 in any 15 minutes). [`login`] is the command pair hosts
//! call around their own sign-in. Chat does not exist yet: [`MESSAGE_SENDING`] is defined and tested
//! through the limiter only.

use crate::error::Error;
use crate::id::UserId;
use crate::kernel::command::Decide;
use crate::kernel::entity::{Domain, Entity, EntityDecl, Readers, Shape};
use crate::kernel::store::{take_after, ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{Decoded, Row, RowRead};
use crate::time::Timestamp;
use uuid::Uuid;

pub mod login;

pub use login::{LoginStatus, Logins};

/// Microseconds in a second.
const US_PER_SEC: i64 = 1_000_000;

/// What a policy keeps one bucket per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// A signed-in user.
    User,
    /// A client IP address (as normalised by the caller: the parsed address, printed).
    Ip,
    /// An email address (trimmed and lowercased, [`crate::validate::normalise_email`]).
    Email,
    /// One entity (a maintenance request's attachments): a quota, kept by a guarded counter.
    Request,
}

/// A named rate limit: `burst` at once, then one place more every `emission_interval_us`.
///
/// INVARIANT (policy): `burst >= 1` and `emission_interval_us >= 1` (the constructors clamp), so
/// every take moves a bucket forward and a refusal's wait is defined. Every policy of [`POLICIES`]
/// also keeps its burst window within [`WINDOW_MAX_US`] (a unit test), far from overflowing a
/// store's integer column; a take whose arithmetic would overflow is refused, never wrapped.
#[derive(Debug, PartialEq, Eq)]
pub struct Policy {
    name: &'static str,
    burst: u32,
    emission_interval_us: i64,
    per: Per,
    refusal: &'static str,
}

/// The longest burst window a policy of [`POLICIES`] has (a year): far from `i64` overflow at any
/// instant a [`Timestamp`] can hold.
pub const WINDOW_MAX_US: i64 = 366 * 24 * 3_600 * US_PER_SEC;

impl Policy {
    /// `quota` per `period_secs`: a burst of `quota`, then one more every `period_secs / quota`
    /// (the burst window τ is the period).
    pub const fn per_period(name: &'static str, quota: u32, period_secs: i64, per: Per, refusal: &'static str) -> Self {
        let burst = if quota == 0 { 1 } else { quota };
        let t = period_secs.saturating_mul(US_PER_SEC) / burst as i64;
        Self { name, burst, emission_interval_us: if t < 1 { 1 } else { t }, per, refusal }
    }
    /// A lockout: `attempts` pass at once, and once they are spent the subject is locked for
    /// `lock_secs`; after that one attempt passes every `lock_secs`.
    pub const fn lockout(name: &'static str, attempts: u32, lock_secs: i64, per: Per, refusal: &'static str) -> Self {
        let t = lock_secs.saturating_mul(US_PER_SEC);
        Self {
            name,
            burst: if attempts == 0 { 1 } else { attempts },
            emission_interval_us: if t < 1 { 1 } else { t },
            per,
            refusal,
        }
    }
    /// Stable name, `<area>.<what>` (`canteen.orders`): part of every bucket's key.
    pub const fn name(&self) -> &'static str {
        self.name
    }
    /// How many takes pass at once from an empty bucket.
    pub const fn burst(&self) -> u32 {
        self.burst
    }
    /// GCRA's emission interval `T`: one place comes back every this many microseconds.
    pub const fn emission_interval_us(&self) -> i64 {
        self.emission_interval_us
    }
    /// What a bucket is kept per.
    pub const fn per(&self) -> Per {
        self.per
    }
    /// The refusal's message: lowercase, no personal data.
    pub const fn refusal(&self) -> &'static str {
        self.refusal
    }
    /// The burst window τ = `burst × T`: how far ahead of now a bucket may run.
    pub const fn window_us(&self) -> i64 {
        self.emission_interval_us.saturating_mul(self.burst as i64)
    }
    /// The decision for one take at `now` on a bucket whose theoretical arrival time is `tat`
    /// (`None`: no bucket yet).
    pub fn decide(&self, tat: Option<i64>, now: Timestamp) -> Verdict {
        self.decide_at(tat, now.unix_micros())
    }
    /// [`Policy::decide`] at `now_us` microseconds since the Unix epoch. Never panics: arithmetic
    /// that would overflow refuses.
    pub fn decide_at(&self, tat: Option<i64>, now_us: i64) -> Verdict {
        let (t, window) = (self.emission_interval_us, self.window_us());
        match take_after(tat, now_us, t, window) {
            Some(next) => {
                // INVARIANT (policy): T >= 1, so the division is defined; T <= next − now <= τ.
                let left = (window - (next - now_us)) / t.max(1);
                Verdict::Admitted { tat: next, remaining: u32::try_from(left).unwrap_or(0) }
            }
            None => {
                // The next take is admitted once max(tat, now) + T − τ <= now.
                let from = i128::from(tat.map_or(now_us, |x| x.max(now_us)));
                let wait = from + i128::from(t) - i128::from(window) - i128::from(now_us);
                Verdict::Limited { retry_after_us: i64::try_from(wait.max(1)).unwrap_or(i64::MAX) }
            }
        }
    }
    /// The bucket this policy keeps for `subject` (which must be what the policy is [`Per`]).
    pub fn limit(&'static self, subject: Subject<'_>) -> Result<Limit, Error> {
        let (per, key) = match subject {
            Subject::User(u) => (Per::User, format!("user:{}", u.as_uuid().hyphenated())),
            Subject::Ip(ip) => (Per::Ip, format!("ip:{ip}")),
            Subject::Email(email) => (Per::Email, format!("email:{email}")),
        };
        if per != self.per {
            return Err(Error::internal(format!("policy `{}` is kept per {:?}, not per {per:?}", self.name, self.per)));
        }
        Ok(Limit { policy: self, bucket: bucket_id(self.name, &key) })
    }
}

/// Buckets' ids: UUIDv5 of the policy and the subject, so the subject itself (an email, an IP) is
/// never stored.
const BUCKET_NAMESPACE: Uuid = Uuid::from_u128(0x6b1d_4f0e_9a43_4c55_8f2e_51a7_c0de_0010);

fn bucket_id(policy: &str, key: &str) -> Uuid {
    Uuid::new_v5(&BUCKET_NAMESPACE, format!("{policy}\n{key}").as_bytes())
}

/// A policy's answer to one take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted: the bucket moves to `tat`; `remaining` more takes would pass at the same instant.
    Admitted {
        /// The bucket's new theoretical arrival time (µs).
        tat: i64,
        /// Takes still admitted at this instant after this one.
        remaining: u32,
    },
    /// Refused: the next take is admitted in `retry_after_us` microseconds (at least 1).
    Limited {
        /// How long until a place frees.
        retry_after_us: i64,
    },
}

/// What an admitted take leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Taken {
    /// Takes still admitted at the same instant.
    pub remaining: u32,
    /// When none is left: how long until the next take is admitted, in milliseconds.
    pub next_after_ms: Option<u64>,
}

/// Microseconds to whole milliseconds, rounded up (at least 1): waiting that long is never too soon.
pub fn retry_after_ms(retry_after_us: i64) -> u64 {
    u64::try_from(retry_after_us).unwrap_or(0).div_ceil(1_000).max(1)
}

/// Who a bucket is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A signed-in user.
    User(UserId),
    /// A client IP address, normalised by the caller.
    Ip(&'a str),
    /// An email address, normalised by the caller.
    Email(&'a str),
}

/// One policy's bucket for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    policy: &'static Policy,
    bucket: Uuid,
}

impl Limit {
    /// The policy.
    pub fn policy(&self) -> &'static Policy {
        self.policy
    }
    /// The bucket's id.
    pub fn bucket_id(&self) -> Uuid {
        self.bucket
    }
    /// Reads the bucket (one read; in a command's `load`, through its snapshot).
    pub async fn load(self, store: &dyn Reader) -> StoreResult<LimitState> {
        let tat = store.get::<Bucket>(self.bucket).await?.map(|b| b.value.tat_us);
        Ok(LimitState { limit: self, tat })
    }
}

/// A limit with its bucket as one read found it: what a command's `load` hands to its `decide`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    limit: Limit,
    tat: Option<i64>,
}

impl LimitState {
    /// A state from a known theoretical arrival time (`None`: no bucket yet).
    pub fn new(limit: Limit, tat: Option<i64>) -> Self {
        Self { limit, tat }
    }
    /// The bucket's theoretical arrival time, if it exists.
    pub fn tat(&self) -> Option<i64> {
        self.tat
    }
    /// The limit.
    pub fn limit(&self) -> Limit {
        self.limit
    }
    /// Pure: whether a take at `now` would pass, without taking. `Ok(n)`: `n >= 1` takes would
    /// pass at this instant; refused: `rate_limited` with the policy's message and `retry_after_ms`.
    pub fn check(&self, now: Timestamp) -> Result<u32, Error> {
        match self.limit.policy.decide(self.tat, now) {
            Verdict::Admitted { remaining, .. } => Ok(remaining.saturating_add(1)),
            Verdict::Limited { retry_after_us } => Err(self.refusal(retry_after_us)),
        }
    }
    /// Decides one take at the decision's "now" and, when admitted, adds it to the change set (a
    /// [`crate::kernel::store::Write::Take`], committed with the change it guards or not at all).
    /// Refused: `rate_limited` with `retry_after_ms`, and nothing is added.
    pub fn take(&self, cx: &mut Decide<'_>) -> Result<Taken, Error> {
        let policy = self.limit.policy;
        let now = cx.now();
        match policy.decide(self.tat, now) {
            Verdict::Admitted { tat, remaining } => {
                let bucket = Bucket { id: self.limit.bucket, policy: policy.name.to_owned(), tat_us: tat };
                cx.take(&bucket, TAT_COLUMN, policy.emission_interval_us, policy.window_us())?;
                let next_after_ms = match policy.decide(Some(tat), now) {
                    Verdict::Limited { retry_after_us } => Some(retry_after_ms(retry_after_us)),
                    Verdict::Admitted { .. } => None,
                };
                Ok(Taken { remaining, next_after_ms })
            }
            Verdict::Limited { retry_after_us } => Err(self.refusal(retry_after_us)),
        }
    }
    fn refusal(&self, retry_after_us: i64) -> Error {
        Error::rate_limited(self.limit.policy.refusal, retry_after_ms(retry_after_us))
    }
}

/// HomeHeroes "Rate Limiting": "Request creation: 5 per minute per user" (seed 000, line 877).
pub static REQUEST_CREATION: Policy =
    Policy::per_period("homeheroes.request_creation", 5, 60, Per::User, "at most 5 requests per minute");

/// HomeHeroes "Rate Limiting": "Message sending: 10 per minute per user" (seed 000, line 876).
/// Chat is not built yet: the policy is defined and tested through the limiter only.
pub static MESSAGE_SENDING: Policy =
    Policy::per_period("homeheroes.message_sending", 10, 60, Per::User, "at most 10 messages per minute");

/// HomeHeroes §4 "Login Process": "Rate limiting: 5 attempts per 15 minutes per email" and
/// "Lockout: 15 minutes after 5 failed attempts" (seed 000, lines 262–263); Viramah §14 E
/// "Authentication (failed logins) | 5 per account per 15 minutes → temporary lock" (seed 002,
/// line 654). A lockout: see the module documentation.
pub static FAILED_LOGINS: Policy =
    Policy::lockout("auth.failed_logins", 5, 15 * 60, Per::Email, "too many failed sign-in attempts; try again later");

/// Viramah §14 E: "Inquiry submission | 3 attempts per IP per hour" (seed 002, line 653).
pub static INQUIRIES: Policy = Policy::per_period(
    "residents.inquiries",
    3,
    3_600,
    Per::Ip,
    "too many inquiries from this network; try again later",
);

/// Viramah §14 E: "Wallet top-up initiation | 10 per user per day" (seed 002, line 655).
pub static TOP_UPS: Policy =
    Policy::per_period("payments.top_ups", 10, 86_400, Per::User, "at most 10 top-ups per day");

/// Viramah §14 E: "Canteen order placement | 20 per user per day" (seed 002, line 656).
pub static CANTEEN_ORDERS: Policy =
    Policy::per_period("canteen.orders", 20, 86_400, Per::User, "at most 20 orders per day");

/// Viramah §14 E: "Maintenance request submission | 10 per user per day" (seed 002, line 657).
pub static MAINTENANCE_REQUESTS: Policy =
    Policy::per_period("maintenance.requests", 10, 86_400, Per::User, "at most 10 maintenance requests per day");

/// Every rate policy, in the order of the table above.
pub static POLICIES: &[&Policy] = &[
    &REQUEST_CREATION,
    &MESSAGE_SENDING,
    &FAILED_LOGINS,
    &INQUIRIES,
    &TOP_UPS,
    &CANTEEN_ORDERS,
    &MAINTENANCE_REQUESTS,
];

/// A quota: at most `max` of something per subject, ever (not a rate).
#[derive(Debug)]
pub struct Quota {
    /// Stable name.
    pub name: &'static str,
    /// The most there may be.
    pub max: u32,
    /// What it is counted per.
    pub per: Per,
    /// How a store keeps it in the commit that adds one.
    pub kept_by: &'static str,
}

/// Viramah §14 E: "Maintenance attachment upload | 5 files per request, max 10 MB each" (seed 002,
/// line 658). Kept by the request's `attachments` counter under its declared guard
/// `maintenance_requests_attachments` (a guarded delta in the commit that inserts the attachment),
/// so concurrent uploads never exceed it.
pub const MAINTENANCE_ATTACHMENTS: Quota = Quota {
    name: "maintenance.attachments",
    max: 5,
    per: Per::Request,
    kept_by: "guarded counter maintenance_requests_attachments",
};

// ---------------------------------------------------------------------------------------------
// The bucket entity.

/// The limits' one entity: rate-limit buckets.
pub static DOMAIN: Domain = Domain { name: "limits", entities: &[&BUCKET] };

static BUCKET: EntityDecl = EntityDecl {
    kind: "limits.bucket",
    aliases: &[],
    human: "rate limit",
    table: "rate_limit_buckets",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

/// The column holding a bucket's theoretical arrival time.
const TAT_COLUMN: &str = "tat_us";

/// One policy's bucket for one subject: its theoretical arrival time. The subject is not stored
/// (the id is derived from it). A bucket whose `tat_us` has passed is the same as no bucket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bucket {
    /// UUIDv5 of the policy and the subject.
    pub id: Uuid,
    /// The policy's name.
    pub policy: String,
    /// The theoretical arrival time, µs since the Unix epoch.
    pub tat_us: i64,
}

impl Entity for Bucket {
    const DECL: &'static EntityDecl = &BUCKET;
    fn id(&self) -> Uuid {
        self.id
    }
    fn to_row(&self) -> Row {
        Row::new().with("id", self.id).with("policy", self.policy.as_str()).with(TAT_COLUMN, self.tat_us)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Bucket { id: r.uuid("id")?, policy: r.text("policy")?, tat_us: r.int(TAT_COLUMN)? })
    }
    /// Buckets are bookkeeping: admins and the system only.
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

/// The bucket of `limit`, if one exists (for tests and operators).
pub async fn bucket(store: &dyn Reader, limit: Limit) -> StoreResult<Option<Versioned<Bucket>>> {
    store.get::<Bucket>(limit.bucket).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_780_000_000_000_000; // 2026-05-28, µs

    fn at(us: i64) -> Timestamp {
        Timestamp::from_unix_micros(us).unwrap()
    }

    /// Takes `n` at `now`, from `tat`; the bucket after.
    fn take_n(p: &Policy, mut tat: Option<i64>, now: i64, n: u32) -> Option<i64> {
        for k in 0..n {
            match p.decide_at(tat, now) {
                Verdict::Admitted { tat: next, remaining } => {
                    assert_eq!(remaining, p.burst - k - 1, "{}: take {k}", p.name);
                    tat = Some(next);
                }
                Verdict::Limited { .. } => panic!("{}: take {k} of {n} refused", p.name),
            }
        }
        tat
    }

    #[test]
    fn every_policy_is_well_formed_and_exact() {
        let mut names = std::collections::HashSet::new();
        for p in POLICIES {
            assert!(names.insert(p.name), "{} twice", p.name);
            assert!(p.burst >= 1 && p.emission_interval_us >= 1, "{}", p.name);
            assert!(p.window_us() <= WINDOW_MAX_US, "{}", p.name);
            assert!(p.name.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'), "{}", p.name);
        }
        // The table's figures, exactly (no rounding in period / quota).
        let figures: Vec<(&str, u32, i64)> =
            POLICIES.iter().map(|p| (p.name, p.burst, p.emission_interval_us / US_PER_SEC)).collect();
        assert_eq!(
            figures,
            [
                ("homeheroes.request_creation", 5, 12),
                ("homeheroes.message_sending", 10, 6),
                ("auth.failed_logins", 5, 900),
                ("residents.inquiries", 3, 1_200),
                ("payments.top_ups", 10, 8_640),
                ("canteen.orders", 20, 4_320),
                ("maintenance.requests", 10, 8_640),
            ]
        );
        for (p, period) in [
            (&REQUEST_CREATION, 60),
            (&MESSAGE_SENDING, 60),
            (&INQUIRIES, 3_600),
            (&TOP_UPS, 86_400),
            (&CANTEEN_ORDERS, 86_400),
            (&MAINTENANCE_REQUESTS, 86_400),
        ] {
            assert_eq!(p.window_us(), period * US_PER_SEC, "{}: the burst window is the period", p.name);
        }
    }

    /// Exactly at the limit, one over, and one place back after one emission interval — for every
    /// policy. Viramah §14 E (seed 002 lines 653–657) and HomeHeroes "Rate Limiting" (seed 000
    /// lines 876–877).
    #[test]
    fn boundaries_at_the_limit_one_over_and_after_one_interval() {
        for p in POLICIES {
            let t = p.emission_interval_us;
            let full = take_n(p, None, T0, p.burst);
            assert_eq!(full, Some(T0 + p.window_us()), "{}: the full bucket runs one window ahead", p.name);
            // One over: refused until exactly one emission interval has passed.
            assert_eq!(p.decide_at(full, T0), Verdict::Limited { retry_after_us: t }, "{}", p.name);
            assert_eq!(p.decide_at(full, T0 + t - 1), Verdict::Limited { retry_after_us: 1 }, "{}", p.name);
            assert_eq!(
                p.decide_at(full, T0 + t),
                Verdict::Admitted { tat: T0 + p.window_us() + t, remaining: 0 },
                "{}: one place is back after T",
                p.name
            );
            // After the whole window, the whole burst is back.
            take_n(p, full, T0 + p.window_us(), p.burst);
        }
    }

    #[test]
    fn refusals_carry_the_wait_in_whole_milliseconds_rounded_up() {
        assert_eq!(retry_after_ms(1), 1);
        assert_eq!(retry_after_ms(1_000), 1);
        assert_eq!(retry_after_ms(1_001), 2);
        assert_eq!(retry_after_ms(12_000_000), 12_000);
        assert_eq!(retry_after_ms(0), 1, "never zero: an answer to wait is never 'now'");
        assert_eq!(retry_after_ms(-5), 1);
        let limit = CANTEEN_ORDERS.limit(Subject::User(UserId::from_uuid(Uuid::nil()))).unwrap();
        let state = LimitState::new(limit, take_n(&CANTEEN_ORDERS, None, T0, 20));
        let err = state.check(at(T0)).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (crate::ErrorCode::RateLimited, "at most 20 orders per day"));
        assert_eq!(err.retry_after_ms, Some(72 * 60 * 1_000));
        assert_eq!(LimitState::new(limit, None).check(at(T0)).unwrap(), 20);
    }

    /// A clock that goes backwards must not panic, and must not admit more than the later clock did.
    #[test]
    fn a_clock_going_backwards_never_admits_more() {
        for p in POLICIES {
            let full = take_n(p, None, T0, p.burst);
            for back in [1, p.emission_interval_us, p.window_us(), 10 * p.window_us(), T0] {
                let Verdict::Limited { retry_after_us } = p.decide_at(full, T0 - back) else {
                    panic!("{}: a full bucket admitted a take {back} µs in the past", p.name)
                };
                assert_eq!(retry_after_us, p.emission_interval_us + back, "{}: the wait counts from now", p.name);
            }
            // Half-full at T0, then the clock goes back: no more than the rest of the burst.
            let half = take_n(p, None, T0, p.burst / 2);
            let mut tat = half;
            let mut admitted = 0;
            while let Verdict::Admitted { tat: next, .. } = p.decide_at(tat, T0 - p.window_us()) {
                tat = Some(next);
                admitted += 1;
            }
            assert!(admitted <= p.burst - p.burst / 2, "{}: {admitted} admitted after going back", p.name);
        }
    }

    #[test]
    fn huge_and_extreme_instants_never_panic_and_never_admit_on_overflow() {
        for p in POLICIES {
            for now in [i64::MAX, i64::MAX - 1, i64::MAX - p.emission_interval_us, i64::MIN, i64::MIN + 1, 0, -1] {
                for tat in [None, Some(i64::MAX), Some(i64::MIN), Some(now), Some(0)] {
                    match p.decide_at(tat, now) {
                        Verdict::Admitted { tat: next, remaining } => {
                            assert!(next > now && next - now <= p.window_us(), "{}: {tat:?} at {now}", p.name);
                            assert!(remaining < p.burst);
                        }
                        Verdict::Limited { retry_after_us } => assert!(retry_after_us >= 1),
                    }
                }
            }
            // The bucket cannot move past i64::MAX: refused, not wrapped.
            assert!(matches!(p.decide_at(None, i64::MAX), Verdict::Limited { .. }), "{}", p.name);
        }
        // The largest instant a Timestamp holds is far from overflow with any policy's window.
        let latest = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_micros();
        assert!(latest.checked_add(WINDOW_MAX_US).is_some());
    }

    #[test]
    fn the_message_policy_exists_for_chat_ten_per_minute() {
        let full = take_n(&MESSAGE_SENDING, None, T0, 10);
        assert_eq!(MESSAGE_SENDING.decide_at(full, T0), Verdict::Limited { retry_after_us: 6 * US_PER_SEC });
    }

    #[test]
    fn the_login_lockout_is_fifteen_minutes_after_five_failures() {
        // Seed 000 line 263: "Lockout: 15 minutes after 5 failed attempts".
        let p = &FAILED_LOGINS;
        let locked = take_n(p, None, T0, 5);
        assert_eq!(p.decide_at(locked, T0), Verdict::Limited { retry_after_us: 15 * 60 * US_PER_SEC });
        // Seed 000 line 262: "5 attempts per 15 minutes per email": never a sixth within 15 minutes,
        // however the five are spread.
        let spread = (0..5).fold(None, |tat, k| match p.decide_at(tat, T0 + k * 60 * US_PER_SEC) {
            Verdict::Admitted { tat, .. } => Some(tat),
            Verdict::Limited { .. } => panic!("failure {k} of five refused"),
        });
        assert!(matches!(p.decide_at(spread, T0 + 15 * 60 * US_PER_SEC - 1), Verdict::Limited { .. }));
    }

    #[test]
    fn buckets_are_per_policy_and_subject_and_kinds_must_match() {
        let u = UserId::from_uuid(Uuid::from_u128(7));
        let a = CANTEEN_ORDERS.limit(Subject::User(u)).unwrap();
        let b = TOP_UPS.limit(Subject::User(u)).unwrap();
        assert_ne!(a.bucket_id(), b.bucket_id());
        assert_eq!(a, CANTEEN_ORDERS.limit(Subject::User(u)).unwrap());
        assert_ne!(
            INQUIRIES.limit(Subject::Ip("10.0.0.1")).unwrap(),
            INQUIRIES.limit(Subject::Ip("10.0.0.2")).unwrap()
        );
        let err = INQUIRIES.limit(Subject::User(u)).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::Internal);
    }

    /// The domains' named constants are the policies' bursts (they name what the limiter takes).
    #[test]
    fn the_domains_constants_are_the_policies() {
        assert_eq!(crate::homeheroes::input::limits::REQUESTS_PER_MINUTE_MAX, u64::from(REQUEST_CREATION.burst()));
        assert_eq!(crate::canteen::ORDERS_PER_DAY_MAX, u64::from(CANTEEN_ORDERS.burst()));
        assert_eq!(crate::maintenance::REQUESTS_PER_DAY_MAX, u64::from(MAINTENANCE_REQUESTS.burst()));
        assert_eq!(crate::payments::fraud::TOP_UPS_PER_DAY_MAX, TOP_UPS.burst() as usize);
        assert_eq!(crate::residents::inquiry::INQUIRIES_PER_IP_PER_HOUR, u64::from(INQUIRIES.burst()));
    }

    #[test]
    fn the_attachment_quota_is_the_maintenance_guard() {
        assert_eq!(MAINTENANCE_ATTACHMENTS.max, crate::maintenance::ATTACHMENTS_MAX);
        assert_eq!(MAINTENANCE_ATTACHMENTS.per, Per::Request);
    }

    proptest::proptest! {
        /// The pure decision is GCRA: over any sequence of takes at non-decreasing instants, no
        /// window of one period ever holds more than `2 × burst − 1` admitted takes, a burst never
        /// exceeds `burst`, and a refusal's wait is exactly when the next take passes.
        #[test]
        fn gcra_admits_what_it_promises(
            which in 0..POLICIES.len(),
            steps in proptest::collection::vec(0i64..4_000_000_000, 1..80),
        ) {
            let p = POLICIES[which];
            let mut now = T0;
            let mut tat = None;
            let mut admitted: Vec<i64> = Vec::new();
            for step in steps {
                now += step % (p.emission_interval_us * 2);
                match p.decide_at(tat, now) {
                    Verdict::Admitted { tat: next, .. } => { tat = Some(next); admitted.push(now); }
                    Verdict::Limited { retry_after_us } => {
                        let early = matches!(p.decide_at(tat, now + retry_after_us - 1), Verdict::Limited { .. });
                        let on_time = matches!(p.decide_at(tat, now + retry_after_us), Verdict::Admitted { .. });
                        proptest::prop_assert!(early && on_time, "a wait of {} µs is not exact", retry_after_us);
                    }
                }
                let same_instant = admitted.iter().filter(|t| **t == now).count();
                proptest::prop_assert!(same_instant <= p.burst as usize);
                let in_window = admitted.iter().filter(|t| **t > now - p.window_us()).count();
                proptest::prop_assert!(in_window < 2 * p.burst as usize, "{} in one window", in_window);
            }
        }
    }
}
