//! HomeHeroes (seed 000): profiles, service requests and their lifecycle, job interest, earnings.
//!
//! [`HomeHeroes`] is the service: every method authorizes its caller and, for changes, runs a
//! [`commands`] command through the [`Runner`] — one atomic commit each.

pub mod commands;
pub mod input;
pub mod model;
mod store;
pub mod workflow;

pub use commands::{ProfileBundle, RequestCommand, RequestOp, RequestOutcome};
pub use store::{After, HomeHeroesStore, RequestFilter, DOMAIN};
pub use workflow::{authorize, available_actions, Action, RequestAction, Resource, SERVICE_REQUEST};

use crate::actor::Actor;
use crate::error::Error;
use crate::id::{IdSource, ServiceRequestId, UserId};
use crate::kernel::access::require;
use crate::kernel::command::{IdempotencyKey, Runner};
use crate::kernel::entity::EntityRef;
use crate::kernel::store::{AuditRecord, Store};
use crate::money::{Currency, Money};
use crate::time::{Clock, Timestamp};
use crate::validate::{ValidationErrors, Validator, Violation};
use commands::{
    load_request_scene, require_visible, CreateServiceRequest, EnsureProfile, UpdateCivilianProfile, UpdateHeroProfile,
    UpdateProfile,
};
use input::{CivilianProfileInput, HeroProfileInput, InterestInput, ProfileInput, ServiceRequestInput};
use model::{Category, CivilianProfile, HeroProfile, JobInterest, Profile, ProfileRole, RequestStatus, ServiceRequest};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Default page size.
pub const PAGE_LIMIT_DEFAULT: u32 = 20;
/// Largest page size.
pub const PAGE_LIMIT_MAX: u32 = 100;

/// A page request: size and an opaque cursor from the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageRequest {
    /// 1–100; 20 when absent.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn parse_page(v: &mut Validator, page: &PageRequest) -> (u32, Option<After>) {
    let limit = match page.limit {
        None => PAGE_LIMIT_DEFAULT,
        Some(l) if (1..=PAGE_LIMIT_MAX).contains(&l) => l,
        Some(_) => {
            v.push("limit", Violation::OutOfRange { min: 1, max: i64::from(PAGE_LIMIT_MAX) });
            PAGE_LIMIT_DEFAULT
        }
    };
    let after = page.cursor.as_deref().and_then(|c| {
        let parsed = c.split_once('.').and_then(|(t, id)| {
            Some(After { created_at: Timestamp::from_unix_micros(t.parse().ok()?)?, id: id.parse().ok()? })
        });
        if parsed.is_none() {
            v.push("cursor", Violation::InvalidFormat { expected: "cursor".into() });
        }
        parsed
    });
    (limit, after)
}

fn cursor_of(r: &ServiceRequest) -> String {
    format!("{}.{}", r.created_at.unix_micros(), r.id)
}

/// Filters for the heroes' list of pending requests (seed 000 §6 `list-jobs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PendingQuery {
    /// One category.
    pub category: Option<String>,
    /// Only requests whose budget can reach at least this.
    pub min_budget: Option<Decimal>,
    /// Only requests whose budget starts at most at this.
    pub max_budget: Option<Decimal>,
    /// Currency of the budget filters; USD when absent.
    pub currency: Option<String>,
    /// Paging.
    #[serde(flatten)]
    pub page: PageRequest,
}

/// Filters for a user's own requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MyRequestsQuery {
    /// One status.
    pub status: Option<String>,
    /// Paging.
    #[serde(flatten)]
    pub page: PageRequest,
}

/// A hero's earnings over a period: the seed's rule, each completed request counting the midpoint of
/// its budget; one total per currency, rounded once (half to even) to the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earnings {
    /// The hero.
    pub hero_id: UserId,
    /// Period start (inclusive).
    pub from: Timestamp,
    /// Period end (exclusive).
    pub to: Timestamp,
    /// Completed requests counted.
    pub jobs: u32,
    /// Totals, one per currency, by currency code.
    pub totals: Vec<Money>,
}

/// Sums the seed's earnings rule over `requests` (pure).
pub fn compute_earnings(requests: &[ServiceRequest]) -> Result<(u32, Vec<Money>), Error> {
    let mut sums: BTreeMap<Currency, Decimal> = BTreeMap::new();
    for r in requests {
        let entry = sums.entry(r.budget.min.currency()).or_insert(Decimal::ZERO);
        *entry = entry.checked_add(r.budget.midpoint()).ok_or_else(|| Error::internal("earnings overflow"))?;
    }
    let mut totals = Vec::with_capacity(sums.len());
    for (currency, sum) in sums {
        let rounded =
            sum.round_dp_with_strategy(currency.minor_units(), rust_decimal::RoundingStrategy::MidpointNearestEven);
        totals.push(Money::new(rounded, currency).map_err(|e| Error::internal(format!("earnings: {e}")))?);
    }
    let jobs = u32::try_from(requests.len()).map_err(|_| Error::internal("too many jobs"))?;
    Ok((jobs, totals))
}

/// The HomeHeroes service over a store.
pub struct HomeHeroes<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for HomeHeroes<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> HomeHeroes<S> {
    /// The service over `store`, with the injected clock and id source.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The command runner (for callers that build commands themselves, like the offline queue).
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    fn store(&self) -> &S {
        self.runner.store()
    }

    /// Creates `user`'s profile and role part at signup; repeats return what exists.
    pub async fn ensure_profile(&self, actor: &Actor, user: UserId, role: ProfileRole) -> Result<ProfileBundle, Error> {
        self.runner.execute(actor, None, &EnsureProfile { user_id: user, role }).await
    }
    /// Updates name and phone.
    pub async fn update_profile(&self, actor: &Actor, user: UserId, input: ProfileInput) -> Result<Profile, Error> {
        self.runner.execute(actor, None, &UpdateProfile { user_id: user, input }).await
    }
    /// Updates address and notification toggles.
    pub async fn update_civilian_profile(
        &self,
        actor: &Actor,
        user: UserId,
        input: CivilianProfileInput,
    ) -> Result<CivilianProfile, Error> {
        self.runner.execute(actor, None, &UpdateCivilianProfile { user_id: user, input }).await
    }
    /// Sets skills, rate, availability and image.
    pub async fn update_hero_profile(
        &self,
        actor: &Actor,
        user: UserId,
        input: HeroProfileInput,
    ) -> Result<HeroProfile, Error> {
        self.runner.execute(actor, None, &UpdateHeroProfile { user_id: user, input }).await
    }

    /// Posts a service request. With a key, a retry returns the first result and creates nothing.
    pub async fn create_service_request(
        &self,
        actor: &Actor,
        input: ServiceRequestInput,
        key: Option<&IdempotencyKey>,
    ) -> Result<ServiceRequest, Error> {
        self.runner.execute(actor, key, &CreateServiceRequest { id: None, input }).await
    }
    /// Applies a batch of a client's offline actions in order, exactly once each
    /// ([`crate::offline::apply_batch`]).
    pub async fn apply_batch(
        &self,
        actor: &Actor,
        client_id: crate::id::ClientId,
        envelopes: &[crate::offline::Envelope],
    ) -> Result<crate::offline::BatchAnswer, Error> {
        crate::offline::apply_batch(&self.runner, actor, client_id, envelopes).await
    }
    /// Where the caller's offline client stream stands: its last recorded `seq` and outcome
    /// ([`crate::offline::stream_status`]); what a client restored from an old saved queue asks first.
    pub async fn stream_status(
        &self,
        actor: &Actor,
        client_id: crate::id::ClientId,
    ) -> Result<crate::offline::StreamStatus, Error> {
        crate::offline::stream_status(self.runner.store(), actor, client_id).await
    }
    /// Runs one workflow action on a request.
    pub async fn act(
        &self,
        actor: &Actor,
        request_id: ServiceRequestId,
        op: RequestOp,
        key: Option<&IdempotencyKey>,
    ) -> Result<RequestOutcome, Error> {
        self.runner.execute(actor, key, &RequestCommand { request_id, op }).await
    }
    /// A hero accepts a pending request (only while still pending: exactly one of racing heroes wins).
    pub async fn accept(&self, actor: &Actor, id: ServiceRequestId) -> Result<ServiceRequest, Error> {
        Ok(self.act(actor, id, RequestOp::Accept, None).await?.request)
    }
    /// The owner picks an interested hero: that interest `selected`, the others `rejected`.
    pub async fn choose_hero(
        &self,
        actor: &Actor,
        id: ServiceRequestId,
        hero: UserId,
    ) -> Result<ServiceRequest, Error> {
        Ok(self.act(actor, id, RequestOp::ChooseHero { hero_id: hero }, None).await?.request)
    }
    /// A hero registers interest (again, after withdrawing).
    pub async fn express_interest(
        &self,
        actor: &Actor,
        id: ServiceRequestId,
        interest: InterestInput,
    ) -> Result<JobInterest, Error> {
        let out = self.act(actor, id, RequestOp::ExpressInterest { interest }, None).await?;
        out.interest.ok_or_else(|| Error::internal("interest missing from outcome"))
    }
    /// A hero withdraws an open interest.
    pub async fn withdraw_interest(&self, actor: &Actor, id: ServiceRequestId) -> Result<JobInterest, Error> {
        let out = self.act(actor, id, RequestOp::WithdrawInterest, None).await?;
        out.interest.ok_or_else(|| Error::internal("interest missing from outcome"))
    }
    /// The assigned hero starts work.
    pub async fn start(&self, actor: &Actor, id: ServiceRequestId) -> Result<ServiceRequest, Error> {
        Ok(self.act(actor, id, RequestOp::Start, None).await?.request)
    }
    /// The assigned hero completes; the hero's `completed_jobs` grows in the same commit.
    pub async fn complete(&self, actor: &Actor, id: ServiceRequestId) -> Result<ServiceRequest, Error> {
        Ok(self.act(actor, id, RequestOp::Complete, None).await?.request)
    }
    /// The owner cancels (not after completion).
    pub async fn cancel(
        &self,
        actor: &Actor,
        id: ServiceRequestId,
        reason: Option<String>,
    ) -> Result<ServiceRequest, Error> {
        Ok(self.act(actor, id, RequestOp::Cancel { reason }, None).await?.request)
    }
    /// The owner rates the hero of a completed request, once.
    pub async fn rate(&self, actor: &Actor, id: ServiceRequestId, score: i64) -> Result<ServiceRequest, Error> {
        Ok(self.act(actor, id, RequestOp::Rate { score }, None).await?.request)
    }

    /// The caller's own profile with its role part.
    pub async fn profile(&self, actor: &Actor, user: UserId) -> Result<ProfileBundle, Error> {
        require(actor, authorize(actor, Action::Read, Resource::Profile { owner: user }))?;
        let profile = self.store().profile(user).await?.ok_or_else(|| Error::not_found("profile"))?.value;
        let civilian = self.store().civilian_profile(user).await?.map(|v| v.value);
        let hero = self.store().hero_profile(user).await?.map(|v| v.value);
        Ok(ProfileBundle { profile, civilian, hero })
    }
    /// A hero's public profile.
    pub async fn hero_profile(&self, actor: &Actor, hero: UserId) -> Result<HeroProfile, Error> {
        require(actor, authorize(actor, Action::Read, Resource::HeroProfile { owner: hero }))?;
        Ok(self.store().hero_profile(hero).await?.ok_or_else(|| Error::not_found("hero profile"))?.value)
    }
    /// Hero profiles, oldest first, offset-paged (seed 000 §12).
    pub async fn hero_profiles(&self, actor: &Actor, offset: u64, limit: u32) -> Result<Vec<HeroProfile>, Error> {
        if !(1..=PAGE_LIMIT_MAX).contains(&limit) {
            return Err(ValidationErrors::single(
                "limit",
                Violation::OutOfRange { min: 1, max: i64::from(PAGE_LIMIT_MAX) },
            )
            .into());
        }
        let any = UserId::from_uuid(uuid::Uuid::nil());
        require(actor, authorize(actor, Action::Read, Resource::HeroProfile { owner: any }))?;
        Ok(self.store().hero_profiles(offset, limit).await?.into_iter().map(|v| v.value).collect())
    }
    /// One request, if the caller may see it (else `not_found`).
    pub async fn service_request(&self, actor: &Actor, id: ServiceRequestId) -> Result<ServiceRequest, Error> {
        let r = self.store().service_request(id).await?.ok_or_else(|| Error::not_found("service request"))?;
        require_visible(actor, &r.value)?;
        Ok(r.value)
    }
    /// The interests in a request the caller may see: all for its owner, their own for a hero.
    pub async fn interests(&self, actor: &Actor, id: ServiceRequestId) -> Result<Vec<JobInterest>, Error> {
        // The request must be visible first: its interests do not reveal an invisible request.
        self.service_request(actor, id).await?;
        let all = self.store().interests(id).await?;
        Ok(all
            .into_iter()
            .map(|v| v.value)
            .filter(|i| authorize(actor, Action::Read, Resource::JobInterest(i)).allowed)
            .collect())
    }
    /// The actions the caller may take on a request now (the transition table, asked).
    pub async fn available_actions(&self, actor: &Actor, id: ServiceRequestId) -> Result<Vec<RequestAction>, Error> {
        let scene = load_request_scene(self.store(), actor, id).await?;
        require_visible(actor, &scene.request.value)?;
        Ok(available_actions(actor, &scene.request.value, &scene.context(actor)))
    }

    /// Pending requests, newest first, for heroes browsing (any signed-in user may read them, §7).
    pub async fn list_pending(&self, actor: &Actor, query: &PendingQuery) -> Result<Page<ServiceRequest>, Error> {
        let mut v = Validator::new();
        let category = query.category.as_deref().map(|c| v.one_of("category", Some(c), Category::OPTIONS));
        let currency = v.currency("currency", query.currency.as_deref(), Some(Currency::USD));
        let money = |v: &mut Validator, field: &str, amount: Option<Decimal>| {
            let (amount, currency) = (amount?, currency?);
            Money::new(amount, currency)
                .map_err(|_| v.push(field, Violation::TooPrecise { max_decimals: currency.minor_units() }))
                .ok()
        };
        let at_least = money(&mut v, "min_budget", query.min_budget);
        let at_most = money(&mut v, "max_budget", query.max_budget);
        let (limit, after) = parse_page(&mut v, &query.page);
        v.finish(|| Some(()))?;
        require(actor, authorize(actor, Action::Read, Resource::PendingRequests))?;
        let filter = RequestFilter {
            status: Some(RequestStatus::Pending),
            category: category.flatten(),
            budget_at_least: at_least,
            budget_at_most: at_most,
            ..RequestFilter::default()
        };
        self.page(&filter, after, limit).await
    }
    /// The caller's own requests (civilian), newest first.
    pub async fn list_my_requests(
        &self,
        actor: &Actor,
        query: &MyRequestsQuery,
    ) -> Result<Page<ServiceRequest>, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        let filter = RequestFilter { civilian_id: Some(user), ..self.parse_my(query)? };
        let (limit, after) = self.parse_paging(&query.page)?;
        self.page(&filter, after, limit).await
    }
    /// Requests assigned to the caller (hero), newest first.
    pub async fn list_assigned(&self, actor: &Actor, query: &MyRequestsQuery) -> Result<Page<ServiceRequest>, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        let filter = RequestFilter { hero_id: Some(user), ..self.parse_my(query)? };
        let (limit, after) = self.parse_paging(&query.page)?;
        self.page(&filter, after, limit).await
    }
    fn parse_my(&self, query: &MyRequestsQuery) -> Result<RequestFilter, Error> {
        let mut v = Validator::new();
        let status = query.status.as_deref().map(|s| v.one_of("status", Some(s), RequestStatus::OPTIONS));
        v.finish(|| Some(()))?;
        Ok(RequestFilter { status: status.flatten(), ..RequestFilter::default() })
    }
    fn parse_paging(&self, page: &PageRequest) -> Result<(u32, Option<After>), Error> {
        let mut v = Validator::new();
        let parsed = parse_page(&mut v, page);
        v.finish(|| Some(parsed)).map_err(Error::from)
    }
    async fn page(
        &self,
        filter: &RequestFilter,
        after: Option<After>,
        limit: u32,
    ) -> Result<Page<ServiceRequest>, Error> {
        // One extra row tells whether another page exists.
        let mut rows: Vec<ServiceRequest> =
            self.store().service_requests(filter, after, limit + 1).await?.into_iter().map(|v| v.value).collect();
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(cursor_of) } else { None };
        Ok(Page { items: rows, next_cursor })
    }

    /// A hero's earnings over `[from, to)` (seed 000 §5).
    pub async fn earnings(
        &self,
        actor: &Actor,
        hero: UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Earnings, Error> {
        if from >= to {
            return Err(ValidationErrors::single("from", Violation::NotBeforeField { other: "to".into() }).into());
        }
        require(actor, authorize(actor, Action::Read, Resource::Earnings { hero }))?;
        let done = self.store().completed_requests(hero, from, to).await?;
        let (jobs, totals) = compute_earnings(&done)?;
        Ok(Earnings { hero_id: hero, from, to, jobs, totals })
    }

    /// The audit trail of an entity (admins and the system only).
    pub async fn audit_trail(&self, actor: &Actor, entity: EntityRef) -> Result<Vec<AuditRecord>, Error> {
        require(actor, authorize(actor, Action::Read, Resource::AuditTrail))?;
        Ok(self.store().audit_trail(entity).await?)
    }
}
