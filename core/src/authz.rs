//! Authorization decisions: pure, with a reason, so a refusal can always say why.
//!
//! Each product module has its own `authorize(actor, action, resource) -> Decision` (HomeHeroes:
//! [`crate::homeheroes::authorize`]); workflow transitions are authorized by their transition tables.

use crate::error::Error;
use serde::Serialize;

/// The outcome of an authorization check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the action may go ahead.
    pub allowed: bool,
    /// Why (the policy that allowed or refused), lowercase, no personal data.
    pub reason: &'static str,
}

impl Decision {
    /// Allowed, by `reason`.
    pub fn allow(reason: &'static str) -> Self {
        Self { allowed: true, reason }
    }
    /// Refused, by `reason`.
    pub fn deny(reason: &'static str) -> Self {
        Self { allowed: false, reason }
    }
    /// Allowed when `cond` holds; `reason` is the policy either way.
    pub fn when(cond: bool, reason: &'static str) -> Self {
        Self { allowed: cond, reason }
    }
    /// `Ok(())` when allowed, else `forbidden` with the reason.
    pub fn require(self) -> Result<(), Error> {
        if self.allowed {
            Ok(())
        } else {
            Err(Error::forbidden(self.reason))
        }
    }
}
