//! Viramah residents (seed 002 §3–§6): the resident standing and the KYC gate, role assignment, the
//! inquiry gate, onboarding drafts and the final submission, and the approval machine.

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::Error;
use crate::id::IdSource;
use crate::kernel::access::require;
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::ValidationErrors;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

mod standing;
mod store;
pub use standing::{kyc_cleared, require_kyc, ResidentRole, ResidentStanding, SubmissionStatus};
pub use store::{ResidentStore, DOMAIN};

/// A user signs up as a Viramah resident: their standing starts as `pending_resident` (seed 002 §3,
/// "User signs up → assigned `PENDING_RESIDENT` role automatically"). Signing up again changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUp {}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SignUp {
    const NAME: &'static str = "residents.sign_up";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Option<Versioned<ResidentStanding>>;
    type Output = ResidentStanding;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        match actor.user_id() {
            Some(u) => Ok(store.resident_standing(u).await?),
            None => Ok(None),
        }
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        mine: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<ResidentStanding, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        require(
            actor,
            Decision::when(actor.has_role(Role::PendingResident), "residents sign up as pending residents"),
        )?;
        if let Some(s) = mine {
            return Ok(s.value);
        }
        let s = ResidentStanding::signed_up(user, cx.now());
        cx.insert(s.clone())?;
        Ok(s)
    }
}

/// The residents service.
pub struct Residents<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Residents<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Residents<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Signs the caller up (`pending_resident`).
    pub async fn sign_up(&self, actor: &Actor) -> Result<ResidentStanding, Error> {
        self.runner.execute(actor, None, &SignUp {}).await
    }
    /// The caller's standing (admins read anyone's).
    pub async fn standing(&self, actor: &Actor, user: crate::id::UserId) -> Result<ResidentStanding, Error> {
        use crate::kernel::entity::Entity;
        let s = self.runner.store().resident_standing(user).await?;
        let visible = s.as_ref().is_some_and(|s| s.value.readers().admits(actor));
        crate::kernel::access::require_visible(actor, visible, "resident standing")?;
        s.map(|s| s.value).ok_or_else(|| Error::not_found("resident standing"))
    }
}
