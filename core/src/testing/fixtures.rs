//! Fixtures for the conformance suite: a world with a manual clock, users and inputs.

use crate::actor::{Actor, Role};
use crate::homeheroes::model::{ProfileRole, ServiceRequest};
use crate::homeheroes::HomeHeroes;
use crate::id::UserId;
use crate::kernel::store::Store;
use crate::system::RandomIds;
use crate::time::{ManualClock, Timestamp};
use std::sync::Arc;

/// The instant every world starts at.
pub fn epoch() -> Timestamp {
    Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").expect("valid fixed instant")
}

/// A service over a fresh store with a clock the test moves.
pub struct World<S> {
    pub hh: HomeHeroes<S>,
    pub clock: Arc<ManualClock>,
}

impl<S: Store + Clone + 'static> World<S> {
    pub fn new(store: S) -> Self {
        let clock = Arc::new(ManualClock::new(epoch()));
        let hh = HomeHeroes::new(store, clock.clone(), Arc::new(RandomIds));
        Self { hh, clock }
    }

    pub fn store(&self) -> &S {
        self.hh.runner().store()
    }

    /// A signed-up civilian.
    pub async fn civilian(&self) -> Actor {
        let id = UserId::generate(&RandomIds);
        let actor = Actor::user(id, [Role::Civilian]);
        self.hh.ensure_profile(&actor, id, ProfileRole::Civilian).await.expect("civilian signup");
        actor
    }

    /// A hero who finished onboarding (skills and rate).
    pub async fn hero(&self) -> Actor {
        let actor = self.bare_hero().await;
        let id = actor.user_id().expect("user");
        self.hh.update_hero_profile(&actor, id, hero_input()).await.expect("hero onboarding");
        actor
    }

    /// A signed-up hero who did not finish onboarding.
    pub async fn bare_hero(&self) -> Actor {
        let id = UserId::generate(&RandomIds);
        let actor = Actor::user(id, [Role::Hero]);
        self.hh.ensure_profile(&actor, id, ProfileRole::Hero).await.expect("hero signup");
        actor
    }

    /// A pending request by `civilian`.
    pub async fn request(&self, civilian: &Actor) -> ServiceRequest {
        self.hh.create_service_request(civilian, request_input(), None).await.expect("create request")
    }
}

pub use crate::samples::{hero_input, request_input};

/// Awaits `refusal`, asserts it failed with exactly `code`, and that it wrote nothing: the store's
/// [`super::digest`] (every row with its version, and the outbox) is the same after as before.
/// Returns the error for further checks (fields, message).
pub async fn refused<S, T>(
    store: &S,
    code: crate::error::ErrorCode,
    refusal: impl std::future::Future<Output = Result<T, crate::error::Error>>,
) -> crate::error::Error
where
    S: Store + ?Sized,
    T: std::fmt::Debug,
{
    let before = super::digest(store).await;
    let err = match refusal.await {
        Ok(v) => panic!("expected `{code:?}`, got Ok({v:?})"),
        Err(e) => e,
    };
    assert_eq!(err.code, code, "{err:?}");
    assert_eq!(super::digest(store).await, before, "the refusal ({err:?}) wrote nothing");
    err
}
