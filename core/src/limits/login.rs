//! The failed-login lockout, for hosts that run their own sign-in (hearth has no auth service):
//! HomeHeroes §4 "Rate limiting: 5 attempts per 15 minutes per email" and "Lockout: 15 minutes
//! after 5 failed attempts" (seed 000, lines 262–263); Viramah §14 E "Authentication (failed
//! logins) | 5 per account per 15 minutes → temporary lock" (seed 002, line 654).
//!
//! A host asks [`Logins::check`] before it verifies a password — `rate_limited` with the
//! `retry_after_ms` of the lockout's end, or how many failures may still be recorded — and calls
//! [`Logins::record_failure`] when the password was wrong. Emails are keyed as residents' inquiry
//! emails are ([`crate::validate::normalise_email`]: trimmed, lowercased), so `Priya@X.com ` and
//! `priya@x.com` share one lockout; the bucket's id is derived from the email, which is not stored.
//! Both calls are the host's (the system actor) or an admin's.

use super::{LimitState, Subject, FAILED_LOGINS};
use crate::actor::Actor;
use crate::authz::Decision;
use crate::error::Error;
use crate::id::IdSource;
use crate::kernel::access::require;
use crate::kernel::store::{Reader, Reads, Store};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{normalise_email, ValidationErrors, Validator};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where an email stands: how many failed sign-ins may still be recorded before the lockout, and —
/// when the failure just recorded started it — how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginStatus {
    /// Failures that may still be recorded before the email is locked.
    pub attempts_left: u32,
    /// The email is locked now (by the failure just recorded) for this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_for_ms: Option<u64>,
}

/// Records one failed sign-in for an email (the host verified the password and it was wrong).
/// Refused with `rate_limited` (nothing recorded) while the email is locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailedLogin {
    /// The email the sign-in named, as typed.
    pub email: Option<String>,
}

fn email(raw: Option<&str>) -> Result<String, ValidationErrors> {
    let mut v = Validator::new();
    let email = normalise_email(&mut v, "email", raw);
    v.finish(|| email)
}

fn host_only(actor: &Actor) -> Result<(), Error> {
    let allowed = matches!(actor, Actor::System) || actor.is_admin();
    require(actor, Decision::when(allowed, "only the sign-in host records and checks failed logins"))
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for RecordFailedLogin {
    const NAME: &'static str = "limits.record_failed_login";
    const READS: Reads = Reads::One;
    type Valid = String;
    type Loaded = LimitState;
    type Output = LoginStatus;

    fn validate(&self, _now: Timestamp) -> Result<String, ValidationErrors> {
        email(self.email.as_deref())
    }
    async fn load(&self, store: &dyn Reader, _: &Actor, email: &String) -> Result<LimitState, Error> {
        Ok(FAILED_LOGINS.limit(Subject::Email(email))?.load(store).await?)
    }
    fn decide(&self, actor: &Actor, _: &String, state: LimitState, cx: &mut Decide<'_>) -> Result<LoginStatus, Error> {
        host_only(actor)?;
        let taken = state.take(cx)?;
        Ok(LoginStatus { attempts_left: taken.remaining, locked_for_ms: taken.next_after_ms })
    }
}

/// The failed-login lockout over a store.
pub struct Logins<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Logins<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Logins<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Before a sign-in attempt: `rate_limited` (with `retry_after_ms`: when the lockout ends) while
    /// `email` is locked; otherwise how many failures may still be recorded. Writes nothing.
    pub async fn check(&self, actor: &Actor, email_raw: &str) -> Result<LoginStatus, Error> {
        let email = email(Some(email_raw))?;
        host_only(actor)?;
        let state = FAILED_LOGINS.limit(Subject::Email(&email))?.load(self.runner.store()).await?;
        let attempts_left = state.check(self.runner.now())?;
        Ok(LoginStatus { attempts_left, locked_for_ms: None })
    }
    /// After a failed sign-in: records it; the status says whether it locked the email and for
    /// how long. While the email is locked, `rate_limited` and nothing is recorded.
    pub async fn record_failure(&self, actor: &Actor, email_raw: &str) -> Result<LoginStatus, Error> {
        self.runner.execute(actor, None, &RecordFailedLogin { email: Some(email_raw.to_owned()) }).await
    }
}
