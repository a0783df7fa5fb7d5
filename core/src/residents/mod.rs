//! Viramah residents (seed 002 §3–§6): the resident standing and the KYC gate, role assignment, the
//! inquiry gate, onboarding drafts and the final submission, and the approval machine.

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::Error;
use crate::id::{IdSource, TenantId, UserId};
use crate::kernel::access::{require, require_visible};
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::ValidationErrors;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub mod access;
pub mod inquiry;
pub mod onboarding;
pub mod roles;
mod standing;
mod store;
pub use access::{permits, ResidentAction, Scope, STAFF_ROLES};
pub use inquiry::{Inquiry, InquiryReceipt, SubmitInquiry};
pub use onboarding::{OnboardingDraft, OnboardingStore, ResidentProfile, ReviewAction, StepInput, Submission};
pub use roles::{acting_as, with_standing, AssignRole, RoleChange, RoleGrant, RoleRoster, RoleStore, StoredRoles};
pub use standing::{kyc_cleared, require_kyc, ResidentRole, ResidentStanding, SubmissionStatus};
pub use store::{ResidentStore, DOMAIN};

/// A user signs up as a Viramah resident: their standing starts as `pending_resident` (seed 002 §3,
/// "User signs up → assigned `PENDING_RESIDENT` role automatically"). Signing up again changes
/// nothing; a staff account (a stored staff role and no standing) does not sign up (`forbidden`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUp {}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SignUp {
    const NAME: &'static str = "residents.sign_up";
    type Valid = ();
    type Loaded = (Vec<Versioned<RoleGrant>>, Option<Versioned<ResidentStanding>>);
    type Output = ResidentStanding;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        match actor.user_id() {
            Some(u) => Ok((store.role_grants(u).await?, store.resident_standing(u).await?)),
            None => Ok((Vec::new(), None)),
        }
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (grants, mine): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<ResidentStanding, Error> {
        let me = acting_as(actor, &StoredRoles::of(&grants, mine.as_ref().map(|s| &s.value)));
        require(
            &me,
            Decision::when(
                permits(&me, ResidentAction::SignUp, Scope::Own),
                "staff accounts do not onboard as residents",
            ),
        )?;
        let user = me.user_id().ok_or_else(Error::unauthenticated)?;
        if let Some(s) = mine {
            return Ok(s.value);
        }
        let s = ResidentStanding::signed_up(user, cx.now());
        cx.insert(s.clone())?;
        Ok(s)
    }
}

/// One user's application as the admin portal and the user see it (§6, §11 "Admin Portal: all
/// resident data, approvals").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// The user.
    pub user_id: UserId,
    /// Their standing, if they signed up.
    pub standing: Option<ResidentStanding>,
    /// Their saved drafts, by step.
    pub drafts: Vec<OnboardingDraft>,
    /// Their submission.
    pub submission: Option<Submission>,
    /// The permanent record the submission copied.
    pub profile: Option<ResidentProfile>,
}

fn scope_of(me: &Actor, target: UserId) -> Scope {
    if me.is(target) {
        Scope::Own
    } else {
        Scope::Other
    }
}

/// `not_found` (or `unauthenticated`) unless `me` may read `target`'s data under `action`.
fn may_read(me: &Actor, action: ResidentAction, target: UserId, what: &str) -> Result<(), Error> {
    require_visible(me, permits(me, action, scope_of(me, target)), what)
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
    /// The `Actor` a host should run `user`'s calls as: their stored roles (staff grants and the
    /// resident role of their standing), read in one snapshot, scoped to `tenant`. Call it after
    /// verifying the user's token, instead of trusting the token's role claims (§14 B). The
    /// residents domain needs no such care: it reads the caller's stored roles itself.
    pub async fn actor(&self, user: UserId, tenant: Option<TenantId>) -> Result<Actor, Error> {
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let a = acting_as(&Actor::user(user, []), &roles::stored_roles(view.as_ref(), user).await?);
        Ok(match tenant {
            Some(t) => a.in_tenant(t),
            None => a,
        })
    }
    /// Signs the caller up (`pending_resident`).
    pub async fn sign_up(&self, actor: &Actor) -> Result<ResidentStanding, Error> {
        self.runner.execute(actor, None, &SignUp {}).await
    }
    /// Submits an inquiry (anyone, signed in or not).
    pub async fn inquire(&self, actor: &Actor, input: SubmitInquiry) -> Result<InquiryReceipt, Error> {
        self.runner.execute(actor, None, &input).await
    }
    /// Whether a device fingerprint hash is known (then the inquiry gate is bypassed).
    pub async fn device_known(&self, hash: &str) -> Result<bool, Error> {
        inquiry::device_known(self.runner.store(), hash).await
    }
    /// Inquiries, newest first, at most `limit` (sales agents and admins, as stored).
    pub async fn inquiries(&self, actor: &Actor, limit: u32) -> Result<Vec<Inquiry>, Error> {
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let me = roles::caller(view.as_ref(), actor).await?;
        let allowed = permits(&me, ResidentAction::ReadInquiries, Scope::Other);
        require(&me, Decision::when(allowed, "only sales agents and admins read inquiries"))?;
        inquiry::inquiries(view.as_ref(), &me, limit).await
    }
    /// Saves one onboarding step's draft.
    pub async fn save_draft(&self, actor: &Actor, step: i64, data: StepInput) -> Result<OnboardingDraft, Error> {
        self.runner.execute(actor, None, &onboarding::SaveDraft { step, data }).await
    }
    /// The final submission (or a resubmission).
    pub async fn submit(&self, actor: &Actor) -> Result<Submission, Error> {
        self.runner.execute(actor, None, &onboarding::Submit {}).await
    }
    /// An admin's review step.
    pub async fn review(
        &self,
        actor: &Actor,
        submission: crate::id::SubmissionId,
        action: ReviewAction,
        reason: Option<&str>,
        flagged_fields: &[&str],
    ) -> Result<Submission, Error> {
        let cmd = onboarding::Review {
            submission_id: submission,
            action,
            reason: reason.map(str::to_owned),
            flagged_fields: flagged_fields.iter().map(|f| (*f).to_owned()).collect(),
        };
        self.runner.execute(actor, None, &cmd).await
    }
    /// Submissions in `status`, oldest first, at most `limit` (admins: §6 "Admin sees all
    /// `pending_review` submissions").
    pub async fn review_queue(
        &self,
        actor: &Actor,
        status: SubmissionStatus,
        limit: u32,
    ) -> Result<Vec<Submission>, Error> {
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let me = roles::caller(view.as_ref(), actor).await?;
        let allowed = permits(&me, ResidentAction::ReviewQueue, Scope::Other);
        require(&me, Decision::when(allowed, "only admins review onboarding"))?;
        Ok(view.submissions_in(status, limit).await?.into_iter().map(|s| s.value).collect())
    }
    /// Grants (`RoleChange::Grant`) or revokes a staff role: super admins only (§3 step 4).
    pub async fn assign_role(
        &self,
        actor: &Actor,
        user: UserId,
        role: Role,
        change: RoleChange,
    ) -> Result<RoleGrant, Error> {
        let cmd = AssignRole { user_id: Some(user), role: Some(role.as_str().to_owned()), change };
        self.runner.execute(actor, None, &cmd).await
    }
    /// Grants a staff role (see [`Residents::assign_role`]).
    pub async fn grant_role(&self, actor: &Actor, user: UserId, role: Role) -> Result<RoleGrant, Error> {
        self.assign_role(actor, user, role, RoleChange::Grant).await
    }
    /// Revokes a staff role (see [`Residents::assign_role`]).
    pub async fn revoke_role(&self, actor: &Actor, user: UserId, role: Role) -> Result<RoleGrant, Error> {
        self.assign_role(actor, user, role, RoleChange::Revoke).await
    }
    /// `user`'s stored roles (their own; admins read anyone's).
    pub async fn roles(&self, actor: &Actor, user: UserId) -> Result<StoredRoles, Error> {
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let me = roles::caller(view.as_ref(), actor).await?;
        may_read(&me, ResidentAction::ViewRoles, user, "user")?;
        roles::stored_roles(view.as_ref(), user).await
    }
    /// `user`'s application: standing, drafts, submission, permanent record (their own; admins read
    /// anyone's). Someone else's is `not_found` to everyone else, whether or not it exists.
    pub async fn application(&self, actor: &Actor, user: UserId) -> Result<Application, Error> {
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let me = roles::caller(view.as_ref(), actor).await?;
        may_read(&me, ResidentAction::ViewApplication, user, "application")?;
        Ok(Application {
            user_id: user,
            standing: view.resident_standing(user).await?.map(|s| s.value),
            drafts: view.drafts(user).await?.into_iter().map(|d| d.value).collect(),
            submission: view.submission_of(user).await?.map(|s| s.value),
            profile: view.resident_profile(user).await?.map(|p| p.value),
        })
    }
    /// `user`'s standing (their own; admins read anyone's).
    pub async fn standing(&self, actor: &Actor, user: UserId) -> Result<ResidentStanding, Error> {
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let me = roles::caller(view.as_ref(), actor).await?;
        may_read(&me, ResidentAction::ViewApplication, user, "resident standing")?;
        let s = view.resident_standing(user).await?;
        s.map(|s| s.value).ok_or_else(|| Error::not_found("resident standing"))
    }
}
