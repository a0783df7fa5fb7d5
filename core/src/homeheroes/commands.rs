//! HomeHeroes commands: each one validate → load → decide, run by [`crate::kernel::command::Runner`].

use super::input::{
    validate_cancel_reason, validate_score, CivilianProfileInput, HeroProfileInput, InterestInput, ProfileInput,
    ServiceRequestInput, ValidCivilianProfile, ValidHeroProfile, ValidInterest, ValidProfile, ValidServiceRequest,
};
use super::model::{
    CivilianProfile, HeroProfile, InterestStatus, JobInterest, NotificationPreferences, Profile, ProfileRole, Rating,
    RequestStatus, ServiceRequest, WeeklyAvailability,
};
use super::store::HomeHeroesStore;
use super::workflow::{self, authorize, Action, RequestAction, RequestContext, Resource};
use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::Error;
use crate::id::{CivilianProfileId, HeroProfileId, JobInterestId, ServiceRequestId, UserId};
use crate::kernel::access::{self, require, require_visible_or_taken};
use crate::kernel::command::{Command, Decide};
use crate::kernel::store::{Reader, Reads, Versioned};
use crate::limits::{LimitState, Subject, REQUEST_CREATION};
use crate::time::Timestamp;
use crate::validate::ValidationErrors;
use serde::{Deserialize, Serialize};

/// A profile with its role-specific part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileBundle {
    /// The canonical profile.
    pub profile: Profile,
    /// The civilian part, for civilians.
    pub civilian: Option<CivilianProfile>,
    /// The hero part, for heroes.
    pub hero: Option<HeroProfile>,
}

/// What profile commands load.
pub struct ProfileScene {
    profile: Option<Versioned<Profile>>,
    civilian: Option<Versioned<CivilianProfile>>,
    hero: Option<Versioned<HeroProfile>>,
}

async fn load_profile_scene<S: HomeHeroesStore + ?Sized>(store: &S, user: UserId) -> Result<ProfileScene, Error> {
    Ok(ProfileScene {
        profile: store.profile(user).await?,
        civilian: store.civilian_profile(user).await?,
        hero: store.hero_profile(user).await?,
    })
}

/// Creates the profile and its role part at signup; a repeat (the seed's signup race) returns what
/// exists and writes nothing. Replaces the `on_auth_user_created` trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnsureProfile {
    /// The new user.
    pub user_id: UserId,
    /// `civilian` or `hero`.
    pub role: ProfileRole,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for EnsureProfile {
    const NAME: &'static str = "homeheroes.profile.ensure";
    const FINGERPRINT_NAME: &'static str = "profile.ensure";
    type Valid = ();
    type Loaded = ProfileScene;
    type Output = ProfileBundle;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<ProfileScene, Error> {
        load_profile_scene(store, self.user_id).await
    }
    fn decide(&self, actor: &Actor, _: &(), scene: ProfileScene, cx: &mut Decide<'_>) -> Result<ProfileBundle, Error> {
        let role_needed = match self.role {
            ProfileRole::Civilian => Role::Civilian,
            ProfileRole::Hero => Role::Hero,
        };
        let self_signup = actor.is(self.user_id) && actor.has_role(role_needed);
        require(
            actor,
            Decision::when(
                self_signup || matches!(actor, Actor::System),
                "a profile is created by its user, in a role they hold",
            ),
        )?;
        let now = cx.now();
        let profile = match scene.profile {
            Some(p) if p.value.role != self.role => {
                return Err(Error::conflict(format!("the profile already exists with role `{}`", p.value.role)));
            }
            Some(p) => p.value,
            None => {
                let p = Profile {
                    id: self.user_id,
                    role: self.role,
                    full_name: None,
                    phone: None,
                    created_at: now,
                    updated_at: now,
                };
                cx.insert(p.clone())?;
                p
            }
        };
        // The role part is created when missing, also for a profile that exists without one.
        let civilian = match (self.role, scene.civilian) {
            (ProfileRole::Civilian, Some(c)) => Some(c.value),
            (ProfileRole::Civilian, None) => {
                let c = CivilianProfile {
                    id: CivilianProfileId::generate(cx.ids()),
                    profile_id: self.user_id,
                    address: None,
                    notifications: NotificationPreferences::default(),
                    created_at: now,
                    updated_at: now,
                };
                cx.insert(c.clone())?;
                Some(c)
            }
            (ProfileRole::Hero, _) => None,
        };
        let hero = match (self.role, scene.hero) {
            (ProfileRole::Hero, Some(h)) => Some(h.value),
            (ProfileRole::Hero, None) => {
                let h = HeroProfile {
                    id: HeroProfileId::generate(cx.ids()),
                    profile_id: self.user_id,
                    skills: Vec::new(),
                    hourly_rate: None,
                    availability: WeeklyAvailability::new(),
                    rating: Rating::default(),
                    completed_jobs: 0,
                    profile_image_url: None,
                    created_at: now,
                    updated_at: now,
                };
                cx.insert(h.clone())?;
                Some(h)
            }
            (ProfileRole::Civilian, _) => None,
        };
        Ok(ProfileBundle { profile, civilian, hero })
    }
}

/// Updates a profile's name and phone (onboarding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateProfile {
    /// Whose.
    pub user_id: UserId,
    /// The changes.
    pub input: ProfileInput,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for UpdateProfile {
    const NAME: &'static str = "homeheroes.profile.update";
    const FINGERPRINT_NAME: &'static str = "profile.update";
    const READS: Reads = Reads::One;
    type Valid = ValidProfile;
    type Loaded = Option<Versioned<Profile>>;
    type Output = Profile;

    fn validate(&self, _now: Timestamp) -> Result<ValidProfile, ValidationErrors> {
        self.input.validate()
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &ValidProfile) -> Result<Self::Loaded, Error> {
        Ok(store.profile(self.user_id).await?)
    }
    fn decide(
        &self,
        actor: &Actor,
        valid: &ValidProfile,
        loaded: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Profile, Error> {
        require(actor, authorize(actor, Action::Update, Resource::Profile { owner: self.user_id }))?;
        let before = loaded.ok_or_else(|| Error::not_found("profile"))?;
        let mut after = before.value.clone();
        if let Some(n) = &valid.full_name {
            after.full_name = n.clone();
        }
        if let Some(p) = &valid.phone {
            after.phone = p.clone();
        }
        if after == before.value {
            return Ok(after);
        }
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), "update")?;
        Ok(after)
    }
}

/// Updates a civilian's address and notification preferences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateCivilianProfile {
    /// Whose.
    pub user_id: UserId,
    /// The changes.
    pub input: CivilianProfileInput,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for UpdateCivilianProfile {
    const NAME: &'static str = "homeheroes.civilian_profile.update";
    const FINGERPRINT_NAME: &'static str = "civilian_profile.update";
    const READS: Reads = Reads::One;
    type Valid = ValidCivilianProfile;
    type Loaded = Option<Versioned<CivilianProfile>>;
    type Output = CivilianProfile;

    fn validate(&self, _now: Timestamp) -> Result<ValidCivilianProfile, ValidationErrors> {
        self.input.validate()
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &ValidCivilianProfile) -> Result<Self::Loaded, Error> {
        Ok(store.civilian_profile(self.user_id).await?)
    }
    fn decide(
        &self,
        actor: &Actor,
        valid: &ValidCivilianProfile,
        loaded: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<CivilianProfile, Error> {
        require(actor, authorize(actor, Action::Update, Resource::CivilianProfile { owner: self.user_id }))?;
        let before = loaded.ok_or_else(|| Error::not_found("civilian profile"))?;
        let mut after = before.value.clone();
        if let Some(a) = &valid.address {
            after.address = a.clone();
        }
        after.notifications = valid.notifications.apply(after.notifications);
        if after == before.value {
            return Ok(after);
        }
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), "update")?;
        Ok(after)
    }
}

/// Sets a hero's skills, rate, availability and image (onboarding and later edits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateHeroProfile {
    /// Whose.
    pub user_id: UserId,
    /// The new values.
    pub input: HeroProfileInput,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for UpdateHeroProfile {
    const NAME: &'static str = "homeheroes.hero_profile.update";
    const FINGERPRINT_NAME: &'static str = "hero_profile.update";
    const READS: Reads = Reads::One;
    type Valid = ValidHeroProfile;
    type Loaded = Option<Versioned<HeroProfile>>;
    type Output = HeroProfile;

    fn validate(&self, _now: Timestamp) -> Result<ValidHeroProfile, ValidationErrors> {
        self.input.validate()
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &ValidHeroProfile) -> Result<Self::Loaded, Error> {
        Ok(store.hero_profile(self.user_id).await?)
    }
    fn decide(
        &self,
        actor: &Actor,
        valid: &ValidHeroProfile,
        loaded: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<HeroProfile, Error> {
        require(actor, authorize(actor, Action::Update, Resource::HeroProfile { owner: self.user_id }))?;
        let before = loaded.ok_or_else(|| Error::not_found("hero profile"))?;
        let mut after = before.value.clone();
        after.skills = valid.skills.clone();
        after.hourly_rate = Some(valid.hourly_rate);
        after.availability = valid.availability.clone();
        after.profile_image_url = valid.profile_image_url.clone();
        if after == before.value {
            return Ok(after);
        }
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), "update")?;
        Ok(after)
    }
}

/// Posts a new service request (seed 000 §3 "Create Request").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateServiceRequest {
    /// A client-chosen id (offline clients name the request before it reaches the server, so later
    /// queued actions can refer to it); the server generates one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ServiceRequestId>,
    /// The request as sent.
    pub input: ServiceRequestInput,
}

/// What creating a request loads.
#[derive(Clone)]
pub struct CreateScene {
    profile: Option<Versioned<Profile>>,
    /// The caller's request-creation bucket ([`crate::limits::REQUEST_CREATION`]).
    limit: Option<LimitState>,
    id_taken: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for CreateServiceRequest {
    const NAME: &'static str = "homeheroes.service_request.create";
    const FINGERPRINT_NAME: &'static str = "service_request.create";
    type Valid = (ValidServiceRequest, Timestamp);
    type Loaded = CreateScene;
    type Output = ServiceRequest;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        Ok((self.input.validate(now)?, now))
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _valid: &Self::Valid) -> Result<CreateScene, Error> {
        let Some(user) = actor.user_id() else {
            return Ok(CreateScene { profile: None, limit: None, id_taken: false });
        };
        let id_taken = match self.id {
            Some(id) => store.service_request(id).await?.is_some(),
            None => false,
        };
        let limit = REQUEST_CREATION.limit(Subject::User(user))?.load(store).await?;
        Ok(CreateScene { profile: store.profile(user).await?, limit: Some(limit), id_taken })
    }
    fn decide(
        &self,
        actor: &Actor,
        valid: &Self::Valid,
        scene: CreateScene,
        cx: &mut Decide<'_>,
    ) -> Result<ServiceRequest, Error> {
        let Some(civilian) = actor.user_id() else {
            return Err(Error::unauthenticated());
        };
        require(actor, authorize(actor, Action::Create, Resource::NewServiceRequest { civilian }))?;
        match scene.profile {
            Some(p) if p.value.role == ProfileRole::Civilian => {}
            _ => return Err(Error::precondition("complete your civilian profile first")),
        }
        // Seed 000 "Rate Limiting": 5 per minute per user, taken in this commit (`crate::limits`).
        scene.limit.ok_or_else(Error::unauthenticated)?.take(cx)?;
        if scene.id_taken {
            return Err(Error::conflict("a service request with this id already exists"));
        }
        let v = &valid.0;
        let now = cx.now();
        let request = ServiceRequest {
            id: self.id.unwrap_or_else(|| ServiceRequestId::generate(cx.ids())),
            civilian_id: civilian,
            hero_id: None,
            title: v.title.clone(),
            description: v.description.clone(),
            category: v.category,
            location: v.location.clone(),
            scheduled_at: v.scheduled_at,
            estimated_duration_hours: v.estimated_duration_hours,
            budget: v.budget,
            status: RequestStatus::Pending,
            cancel_reason: None,
            rating: None,
            created_at: now,
            updated_at: now,
            assigned_at: None,
            completed_at: None,
            cancelled_at: None,
        };
        cx.insert(request.clone())?;
        Ok(request)
    }
}

/// One workflow action on a service request, with the action's own arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RequestOp {
    /// A hero takes the pending request.
    Accept,
    /// The owner picks an interested hero.
    ChooseHero {
        /// The hero.
        hero_id: UserId,
    },
    /// A hero registers interest.
    ExpressInterest {
        /// How.
        #[serde(default)]
        interest: InterestInput,
    },
    /// A hero withdraws an open interest.
    WithdrawInterest,
    /// The assigned hero starts work.
    Start,
    /// The assigned hero finishes.
    Complete,
    /// The owner cancels.
    Cancel {
        /// Why (optional).
        #[serde(default)]
        reason: Option<String>,
    },
    /// The owner rates the hero of a completed request.
    Rate {
        /// 1–5.
        score: i64,
    },
}

impl RequestOp {
    /// Checks the action's own arguments (no store needed).
    pub fn validate(&self) -> Result<ValidOp, ValidationErrors> {
        Ok(match self {
            RequestOp::ExpressInterest { interest } => ValidOp::Interest(interest.validate()?),
            RequestOp::Cancel { reason } => ValidOp::Cancel(validate_cancel_reason(reason.as_deref())?),
            RequestOp::Rate { score } => ValidOp::Score(validate_score(*score)?),
            _ => ValidOp::Plain,
        })
    }
    /// The workflow action.
    pub fn action(&self) -> RequestAction {
        match self {
            RequestOp::Accept => RequestAction::Accept,
            RequestOp::ChooseHero { .. } => RequestAction::ChooseHero,
            RequestOp::ExpressInterest { .. } => RequestAction::ExpressInterest,
            RequestOp::WithdrawInterest => RequestAction::WithdrawInterest,
            RequestOp::Start => RequestAction::Start,
            RequestOp::Complete => RequestAction::Complete,
            RequestOp::Cancel { .. } => RequestAction::Cancel,
            RequestOp::Rate { .. } => RequestAction::Rate,
        }
    }
}

/// A validated [`RequestOp`].
pub enum ValidOp {
    /// No arguments.
    Plain,
    /// Interest details.
    Interest(ValidInterest),
    /// Cleaned cancel reason.
    Cancel(Option<String>),
    /// Score.
    Score(u8),
}

/// A workflow action on one service request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestCommand {
    /// The request.
    pub request_id: ServiceRequestId,
    /// The action.
    #[serde(flatten)]
    pub op: RequestOp,
}

/// What the result of a request action is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOutcome {
    /// The request after the action.
    pub request: ServiceRequest,
    /// The actor's interest after the action (interest actions).
    pub interest: Option<JobInterest>,
}

/// Everything a request action may look at.
#[derive(Clone)]
pub struct RequestScene {
    pub(crate) request: Versioned<ServiceRequest>,
    pub(crate) interests: Vec<Versioned<JobInterest>>,
    pub(crate) actor_hero: Option<Versioned<HeroProfile>>,
    pub(crate) assigned_hero: Option<Versioned<HeroProfile>>,
}

impl RequestScene {
    /// The guard facts for `actor`.
    pub(crate) fn context(&self, actor: &Actor) -> RequestContext {
        let own = actor
            .user_id()
            .and_then(|u| self.interests.iter().find(|i| i.value.hero_user_id == u))
            .map(|i| i.value.status);
        RequestContext {
            is_owner: actor.is(self.request.value.civilian_id),
            hero_ready: self.actor_hero.as_ref().is_some_and(|h| h.value.is_ready()),
            own_interest: own,
            open_interests: self.interests.iter().filter(|i| i.value.status == InterestStatus::Interested).count(),
            rated: self.request.value.rating.is_some(),
        }
    }
}

/// Loads a request with its interests and the relevant hero profiles; `not_found` when absent.
pub(crate) async fn load_request_scene<S: HomeHeroesStore + ?Sized>(
    store: &S,
    actor: &Actor,
    id: ServiceRequestId,
) -> Result<RequestScene, Error> {
    let request = store.service_request(id).await?.ok_or_else(|| Error::not_found("service request"))?;
    let interests = store.interests(id).await?;
    let actor_hero = match actor.user_id() {
        Some(u) if actor.has_role(Role::Hero) => store.hero_profile(u).await?,
        _ => None,
    };
    let assigned_hero = match request.value.hero_id {
        Some(h) if Some(h) == actor.user_id() => actor_hero.clone(),
        Some(h) => store.hero_profile(h).await?,
        None => None,
    };
    Ok(RequestScene { request, interests, actor_hero, assigned_hero })
}

/// What a refused hero is told when a request it could see is no longer open to it.
pub(crate) const TAKEN: &str = "the service request was already taken or cancelled";

/// `not_found` unless `actor` may see `request` (invisible requests do not reveal that they exist).
pub(crate) fn require_visible(actor: &Actor, request: &ServiceRequest) -> Result<(), Error> {
    let visible = authorize(actor, Action::Read, Resource::ServiceRequest(request)).allowed;
    access::require_visible(actor, visible, "service request")
}

/// The visibility check before `op`. Taking the job (accept, express interest) is acting on what was
/// public: every request is created `pending`, open to every signed-in user, so its existence is no
/// secret. A caller who no longer sees it lost a race — another hero was assigned, or the owner
/// cancelled — and is told `conflict`, never `not_found`. Every other action keeps `not_found`.
fn require_visible_for(actor: &Actor, request: &ServiceRequest, op: &RequestOp) -> Result<(), Error> {
    let visible = authorize(actor, Action::Read, Resource::ServiceRequest(request)).allowed;
    match op {
        RequestOp::Accept | RequestOp::ExpressInterest { .. } => {
            require_visible_or_taken(actor, visible, true, "service request", TAKEN)
        }
        _ => access::require_visible(actor, visible, "service request"),
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for RequestCommand {
    const NAME: &'static str = "homeheroes.service_request.act";
    const FINGERPRINT_NAME: &'static str = "service_request.act";
    type Valid = ValidOp;
    type Loaded = RequestScene;
    type Output = RequestOutcome;

    fn validate(&self, _now: Timestamp) -> Result<ValidOp, ValidationErrors> {
        self.op.validate()
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, _: &ValidOp) -> Result<RequestScene, Error> {
        load_request_scene(store, actor, self.request_id).await
    }
    fn decide(
        &self,
        actor: &Actor,
        valid: &ValidOp,
        scene: RequestScene,
        cx: &mut Decide<'_>,
    ) -> Result<RequestOutcome, Error> {
        let before = &scene.request;
        require_visible_for(actor, &before.value, &self.op)?;
        let ctx = scene.context(actor);
        let to = workflow::fire(actor, &before.value, self.op.action(), &ctx)?;
        let now = cx.now();
        let civilian = before.value.civilian_id;
        let mut after = before.value.clone();
        after.status = to;
        after.updated_at = now;
        let mut interest_out = None;
        match (&self.op, valid) {
            (RequestOp::Accept, _) => {
                let hero = actor.user_id().ok_or_else(Error::unauthenticated)?;
                after.hero_id = Some(hero);
                after.assigned_at = Some(now);
                settle_interests(&scene, hero, cx)?;
                cx.update(before, after.clone(), "assigned")?;
            }
            (RequestOp::ChooseHero { hero_id }, _) => {
                let chosen = scene
                    .interests
                    .iter()
                    .find(|i| i.value.hero_user_id == *hero_id && i.value.status == InterestStatus::Interested);
                if chosen.is_none() {
                    return Err(Error::precondition("that hero has no open interest in this request"));
                }
                after.hero_id = Some(*hero_id);
                after.assigned_at = Some(now);
                settle_interests(&scene, *hero_id, cx)?;
                cx.update(before, after.clone(), "assigned")?;
            }
            (RequestOp::ExpressInterest { .. }, ValidOp::Interest(i)) => {
                let hero = actor.user_id().ok_or_else(Error::unauthenticated)?;
                let existing = scene.interests.iter().find(|x| x.value.hero_user_id == hero);
                let interest = match existing {
                    Some(prev) => {
                        let mut next = prev.value.clone();
                        next.status = InterestStatus::Interested;
                        next.source = i.source;
                        next.phone = i.phone.clone();
                        next.updated_at = now;
                        cx.update(prev, next.clone(), "interested")?;
                        next
                    }
                    None => {
                        let next = JobInterest {
                            id: JobInterestId::generate(cx.ids()),
                            job_id: before.value.id,
                            hero_user_id: hero,
                            civilian_id: civilian,
                            source: i.source,
                            status: InterestStatus::Interested,
                            phone: i.phone.clone(),
                            created_at: now,
                            updated_at: now,
                        };
                        cx.insert(next.clone())?;
                        next
                    }
                };
                interest_out = Some(interest);
                // The request itself is unchanged.
                after = before.value.clone();
            }
            (RequestOp::WithdrawInterest, _) => {
                let hero = actor.user_id().ok_or_else(Error::unauthenticated)?;
                let prev = scene
                    .interests
                    .iter()
                    .find(|x| x.value.hero_user_id == hero)
                    .ok_or_else(|| Error::not_found("job interest"))?;
                let mut next = prev.value.clone();
                next.status = InterestStatus::Withdrawn;
                next.updated_at = now;
                cx.update(prev, next.clone(), "withdrawn")?;
                interest_out = Some(next);
                after = before.value.clone();
            }
            (RequestOp::Start, _) => {
                before.value.hero_id.ok_or_else(|| Error::internal("assigned request without hero"))?;
                cx.update(before, after.clone(), "started")?;
            }
            (RequestOp::Complete, _) => {
                before.value.hero_id.ok_or_else(|| Error::internal("assigned request without hero"))?;
                after.completed_at = Some(now);
                cx.update(before, after.clone(), "completed")?;
                let profile =
                    scene.assigned_hero.as_ref().ok_or_else(|| Error::precondition("the hero has no profile"))?;
                let mut p = profile.value.clone();
                p.completed_jobs =
                    p.completed_jobs.checked_add(1).ok_or_else(|| Error::internal("completed_jobs overflow"))?;
                p.updated_at = now;
                cx.update(profile, p, "job_completed")?;
            }
            (RequestOp::Cancel { .. }, ValidOp::Cancel(reason)) => {
                after.cancel_reason = reason.clone();
                after.cancelled_at = Some(now);
                // Open interests close with the request: each hero learns it from their interest's
                // event, not from the request's, which they no longer read once it is cancelled.
                for i in scene.interests.iter().filter(|i| i.value.status == InterestStatus::Interested) {
                    let mut next = i.value.clone();
                    next.status = InterestStatus::Rejected;
                    next.updated_at = now;
                    cx.update(i, next, "rejected")?;
                }
                cx.update(before, after.clone(), "cancelled")?;
            }
            (RequestOp::Rate { .. }, ValidOp::Score(score)) => {
                before.value.hero_id.ok_or_else(|| Error::internal("completed request without hero"))?;
                after.rating = Some(*score);
                after.updated_at = now;
                cx.update(before, after.clone(), "rated")?;
                let profile =
                    scene.assigned_hero.as_ref().ok_or_else(|| Error::precondition("the hero has no profile"))?;
                let mut p = profile.value.clone();
                p.rating = p.rating.with(*score).ok_or_else(|| Error::internal("rating overflow"))?;
                p.updated_at = now;
                cx.update(profile, p, "rated")?;
            }
            _ => return Err(Error::internal("operation and validated input disagree")),
        }
        Ok(RequestOutcome { request: after, interest: interest_out })
    }
}

/// On assignment: the chosen hero's interest becomes `selected`, every other open one `rejected`
/// (each hero is told through their own interest's event).
fn settle_interests(scene: &RequestScene, chosen: UserId, cx: &mut Decide<'_>) -> Result<(), Error> {
    for i in scene.interests.iter().filter(|i| i.value.status == InterestStatus::Interested) {
        let mut next = i.value.clone();
        let (status, action) = if i.value.hero_user_id == chosen {
            (InterestStatus::Selected, "selected")
        } else {
            (InterestStatus::Rejected, "rejected")
        };
        next.status = status;
        next.updated_at = cx.now();
        cx.update(i, next, action)?;
    }
    Ok(())
}
