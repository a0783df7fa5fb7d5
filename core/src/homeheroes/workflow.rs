//! The HomeHeroes service-request workflow as data, and authorization for every HomeHeroes
//! resource (seed 000 §7, the RLS policies, as one pure function).

use super::model::{InterestStatus, JobInterest, RequestStatus, ServiceRequest};
use super::store::own_readers;
use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::id::UserId;
use crate::kernel::entity::Entity;
use crate::machine::{held_parties, FireError, Guard, Machine, Party, Row};
use serde::{Deserialize, Serialize};
use std::fmt;

super::model::wire_enum!(
    /// Actions on a service request. Interest actions leave the request's state unchanged but live in
    /// the same table, so "what may I do with this request?" has one answer.
    RequestAction {
        /// A hero takes a pending request directly.
        Accept = "accept",
        /// The owner picks one of the interested heroes.
        ChooseHero = "choose_hero",
        /// A hero registers interest.
        ExpressInterest = "express_interest",
        /// A hero takes back an open interest.
        WithdrawInterest = "withdraw_interest",
        /// The assigned hero starts work.
        Start = "start",
        /// The assigned hero finishes.
        Complete = "complete",
        /// The owner cancels.
        Cancel = "cancel",
        /// The owner rates the hero of a completed request, once.
        Rate = "rate",
    }
);

/// How an actor relates to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// The civilian who posted it.
    Owner,
    /// The hero assigned to it.
    AssignedHero,
}

/// What the guards look at: facts about the request and this actor, gathered by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The actor posted the request.
    pub is_owner: bool,
    /// The actor has a hero profile with skills and a rate.
    pub hero_ready: bool,
    /// The actor's own interest in the request, if any.
    pub own_interest: Option<InterestStatus>,
    /// Interests still open (`interested`).
    pub open_interests: usize,
    /// The request was already rated.
    pub rated: bool,
}

const HERO: &[Party<Relation>] = &[Party::Role(Role::Hero)];
const OWNER: &[Party<Relation>] = &[Party::Relation(Relation::Owner)];
const ASSIGNED: &[Party<Relation>] = &[Party::Relation(Relation::AssignedHero)];

use RequestStatus as S;

/// The service-request workflow (seed 000 §1 "Status Transitions", §3).
pub static SERVICE_REQUEST: Machine<RequestStatus, RequestAction, Relation, RequestContext> = Machine {
    name: "service_request",
    rows: &[
        Row {
            from: &[S::Pending],
            action: RequestAction::Accept,
            to: S::Assigned,
            parties: HERO,
            guard: Some(Guard { name: "ready_hero_not_owner", check: |c| c.hero_ready && !c.is_owner }),
        },
        Row {
            from: &[S::Pending],
            action: RequestAction::ChooseHero,
            to: S::Assigned,
            parties: OWNER,
            guard: Some(Guard { name: "has_open_interest", check: |c| c.open_interests > 0 }),
        },
        Row {
            from: &[S::Pending],
            action: RequestAction::ExpressInterest,
            to: S::Pending,
            parties: HERO,
            guard: Some(Guard {
                name: "ready_hero_without_open_interest",
                check: |c| {
                    c.hero_ready && !c.is_owner && matches!(c.own_interest, None | Some(InterestStatus::Withdrawn))
                },
            }),
        },
        Row {
            from: &[S::Pending],
            action: RequestAction::WithdrawInterest,
            to: S::Pending,
            parties: HERO,
            guard: Some(Guard {
                name: "own_open_interest",
                check: |c| c.own_interest == Some(InterestStatus::Interested),
            }),
        },
        Row { from: &[S::Assigned], action: RequestAction::Start, to: S::Active, parties: ASSIGNED, guard: None },
        Row { from: &[S::Active], action: RequestAction::Complete, to: S::Completed, parties: ASSIGNED, guard: None },
        Row {
            from: &[S::Pending, S::Assigned, S::Active],
            action: RequestAction::Cancel,
            to: S::Cancelled,
            parties: OWNER,
            guard: None,
        },
        Row {
            from: &[S::Completed],
            action: RequestAction::Rate,
            to: S::Completed,
            parties: OWNER,
            guard: Some(Guard { name: "not_yet_rated", check: |c| !c.rated }),
        },
    ],
};

/// The relations `actor` holds to `request`.
pub fn relations(actor: &Actor, request: &ServiceRequest) -> Vec<Relation> {
    relations_to(actor, request.civilian_id, request.hero_id)
}

fn relations_to(actor: &Actor, civilian: UserId, hero: Option<UserId>) -> Vec<Relation> {
    let mut out = Vec::new();
    if actor.is(civilian) {
        out.push(Relation::Owner);
    }
    if hero.is_some_and(|h| actor.is(h)) {
        out.push(Relation::AssignedHero);
    }
    out
}

/// What a client knows about a request and about itself: enough to ask the transition table which
/// actions it may take, without a store (the SDKs' "what can I do here?" query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFacts {
    /// The request's status.
    pub status: RequestStatus,
    /// Who posted it.
    pub civilian_id: UserId,
    /// The assigned hero, if any.
    #[serde(default)]
    pub hero_id: Option<UserId>,
    /// Whether it was rated.
    #[serde(default)]
    pub rated: bool,
    /// Whether the asking actor has a hero profile with skills and a rate.
    #[serde(default)]
    pub hero_ready: bool,
    /// The asking actor's own interest in it.
    #[serde(default)]
    pub own_interest: Option<InterestStatus>,
    /// Interests still open.
    #[serde(default)]
    pub open_interests: u32,
}

impl RequestFacts {
    /// The actions `actor` may take given these facts — the same table the server fires.
    pub fn available_actions(&self, actor: &Actor) -> Vec<RequestAction> {
        let held = held_parties(actor, &relations_to(actor, self.civilian_id, self.hero_id));
        let ctx = RequestContext {
            is_owner: actor.is(self.civilian_id),
            hero_ready: self.hero_ready,
            own_interest: self.own_interest,
            open_interests: self.open_interests as usize,
            rated: self.rated,
        };
        SERVICE_REQUEST.available(self.status, &held, &ctx)
    }
}

/// Fires `action` on `request` for `actor`: the new status, or why not.
pub fn fire(
    actor: &Actor,
    request: &ServiceRequest,
    action: RequestAction,
    ctx: &RequestContext,
) -> Result<RequestStatus, FireError> {
    let held = held_parties(actor, &relations(actor, request));
    SERVICE_REQUEST.fire(request.status, action, &held, ctx)
}

/// The actions `actor` may take on `request` now.
pub fn available_actions(actor: &Actor, request: &ServiceRequest, ctx: &RequestContext) -> Vec<RequestAction> {
    let held = held_parties(actor, &relations(actor, request));
    SERVICE_REQUEST.available(request.status, &held, ctx)
}

/// What is being done, for [`authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read a resource.
    Read,
    /// Change a resource outside a workflow (profile fields).
    Update,
    /// Create a resource.
    Create,
}

/// A HomeHeroes resource, with the facts the policies look at.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// A canonical profile of `owner`.
    Profile {
        /// Whose.
        owner: UserId,
    },
    /// A civilian profile of `owner`.
    CivilianProfile {
        /// Whose.
        owner: UserId,
    },
    /// A hero profile of `owner` (public to read).
    HeroProfile {
        /// Whose.
        owner: UserId,
    },
    /// A service request.
    ServiceRequest(&'a ServiceRequest),
    /// A new service request owned by `civilian`.
    NewServiceRequest {
        /// The owner it would have.
        civilian: UserId,
    },
    /// A hero's interest in a request.
    JobInterest(&'a JobInterest),
    /// The list of pending requests.
    PendingRequests,
    /// The earnings of `hero`.
    Earnings {
        /// Whose.
        hero: UserId,
    },
    /// The audit trail of any entity.
    AuditTrail,
}

/// Decides whether `actor` may do `action` to `resource` (seed 000 §7). Workflow transitions are
/// decided by the transition table ([`fire`]), not here.
///
/// Reads of an entity ask the entity's own [`Entity::readers`] — the same value that addresses its
/// events — so who may read something and who is told of its changes cannot drift apart. (Admins
/// and the system read everything, as [`crate::kernel::entity::Readers::admits`] rules.) The one
/// exception is the public directory of hero profiles, which anonymous callers may read too.
pub fn authorize(actor: &Actor, action: Action, resource: Resource<'_>) -> Decision {
    use Action::*;
    if matches!(actor, Actor::System) {
        return Decision::allow("the system acts for triggers and jobs");
    }
    let hero_profiles_public = matches!((action, resource), (Read, Resource::HeroProfile { .. }));
    if matches!(actor, Actor::Anonymous) && !hero_profiles_public {
        return Decision::deny("sign in first");
    }
    match (action, resource) {
        (Read, Resource::Profile { owner }) | (Read, Resource::CivilianProfile { owner }) => {
            Decision::when(own_readers(owner).admits(actor), "users can only access their own profile")
        }
        (Update, Resource::Profile { owner }) | (Update, Resource::CivilianProfile { owner }) => {
            Decision::when(actor.is(owner), "users can only access their own profile")
        }
        (Read, Resource::HeroProfile { .. }) => Decision::allow("anyone can read hero profiles"),
        (Update, Resource::HeroProfile { owner }) => {
            Decision::when(actor.is(owner), "heroes can only update their own profile")
        }
        (Create, Resource::NewServiceRequest { civilian }) => Decision::when(
            actor.is(civilian) && actor.has_role(Role::Civilian),
            "only a civilian can create a request, and only as themselves",
        ),
        (Read, Resource::ServiceRequest(r)) => Decision::when(
            r.readers().admits(actor),
            "requests are visible to their civilian, their assigned hero, and everyone while pending",
        ),
        (Read, Resource::PendingRequests) => Decision::allow("pending requests are visible to signed-in users"),
        (Read, Resource::JobInterest(interest)) => Decision::when(
            interest.readers().admits(actor),
            "an interest is visible to the request's civilian and to its hero",
        ),
        (Read, Resource::Earnings { hero }) => {
            Decision::when(actor.is(hero), "heroes can only read their own earnings")
        }
        (Read, Resource::AuditTrail) => Decision::when(actor.is_admin(), "only admins can read audit trails"),
        _ => Decision::deny("not allowed"),
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Relation::Owner => "owner",
            Relation::AssignedHero => "assigned_hero",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::homeheroes::model::{BudgetRange, Category, Location};
    use crate::id::ServiceRequestId;
    use crate::money::{Currency, Money};
    use crate::time::Timestamp;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn request(civilian: UserId) -> ServiceRequest {
        let t = Timestamp::from_unix_micros(0).unwrap();
        ServiceRequest {
            id: ServiceRequestId::from_uuid(Uuid::from_u128(99)),
            civilian_id: civilian,
            hero_id: None,
            title: "Fix the sink".into(),
            description: "It leaks a lot.".into(),
            category: Category::Repairs,
            location: Location {
                address: "1 A St".into(),
                city: "B".into(),
                state: "C".into(),
                zip_code: "12345".into(),
                latitude: 0.0,
                longitude: 0.0,
            },
            scheduled_at: t,
            estimated_duration_hours: 1,
            budget: BudgetRange {
                min: Money::from_minor(100, Currency::USD),
                max: Money::from_minor(200, Currency::USD),
            },
            status: RequestStatus::Pending,
            cancel_reason: None,
            rating: None,
            created_at: t,
            updated_at: t,
            assigned_at: None,
            completed_at: None,
            cancelled_at: None,
        }
    }

    fn actors() -> Vec<Actor> {
        let u = |n| UserId::from_uuid(Uuid::from_u128(n));
        vec![
            Actor::Anonymous,
            Actor::user(u(1), [Role::Civilian]),
            Actor::user(u(2), [Role::Civilian]),
            Actor::user(u(3), [Role::Hero]),
            Actor::user(u(4), [Role::Hero]),
            Actor::user(u(1), [Role::Civilian, Role::Hero]),
            Actor::user(u(5), [Role::Admin]),
        ]
    }

    fn action_strategy() -> impl Strategy<Value = RequestAction> {
        prop::sample::select(RequestAction::ALL.iter().map(|(a, _)| *a).collect::<Vec<_>>())
    }

    proptest! {
        /// The pure model: random actions by random actors; `available` and `fire` agree, and the
        /// request only ever moves along rows of the table. Shrinks to a minimal failing sequence.
        #[test]
        fn fire_and_available_agree_and_only_table_rows_are_taken(
            steps in prop::collection::vec((0usize..7, action_strategy(), any::<bool>(), 0usize..3), 1..60)
        ) {
            let all = actors();
            let mut r = request(all[1].user_id().unwrap());
            let mut rated = false;
            for (who, action, ready, open) in steps {
                let actor = &all[who];
                let ctx = RequestContext { is_owner: actor.is(r.civilian_id), hero_ready: ready, own_interest: None, open_interests: open, rated };
                let offered = available_actions(actor, &r, &ctx).contains(&action);
                match fire(actor, &r, action, &ctx) {
                    Ok(to) => {
                        prop_assert!(offered, "{action} fired but was not offered");
                        prop_assert!(SERVICE_REQUEST.permits(r.status, action, to));
                        match action {
                            RequestAction::Accept => r.hero_id = actor.user_id(),
                            RequestAction::ChooseHero => r.hero_id = all[3].user_id(),
                            _ => {}
                        }
                        rated |= action == RequestAction::Rate;
                        r.status = to;
                    }
                    Err(_) => prop_assert!(!offered, "{action} offered but refused"),
                }
                // Terminal states stay terminal except for the owner's one rating.
                if r.status == RequestStatus::Cancelled {
                    prop_assert!(available_actions(actor, &r, &ctx).is_empty());
                }
            }
        }
    }

    /// The `ready_hero_not_owner` guard on `accept`: a ready hero accepts, the owner never does — not
    /// even an owner who also holds the hero role and finished onboarding; an unready hero neither.
    #[test]
    fn an_owner_who_is_also_a_ready_hero_cannot_accept_their_own_request() {
        let all = actors();
        let owner_hero = &all[5]; // user 1 (the owner) with the civilian and hero roles
        let r = request(all[1].user_id().unwrap());
        let ready = |is_owner| RequestContext { is_owner, hero_ready: true, ..RequestContext::default() };
        assert!(!available_actions(owner_hero, &r, &ready(true)).contains(&RequestAction::Accept));
        let blocked = |e: FireError| match e {
            FireError::Invalid(t) => t.guard,
            FireError::Forbidden(m) => panic!("forbidden, not the guard: {m}"),
        };
        let err = fire(owner_hero, &r, RequestAction::Accept, &ready(true)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot `accept` a service_request that is `pending` (guard `ready_hero_not_owner` does not hold)"
        );
        assert_eq!(blocked(err), Some("ready_hero_not_owner"));
        // The same actor on someone else's request, ready: accepted.
        let theirs = request(all[2].user_id().unwrap());
        assert_eq!(fire(owner_hero, &theirs, RequestAction::Accept, &ready(false)).unwrap(), RequestStatus::Assigned);
        // A hero who is not the owner but not ready: the same guard blocks.
        let unready = RequestContext { hero_ready: false, ..RequestContext::default() };
        assert_eq!(
            blocked(fire(&all[3], &r, RequestAction::Accept, &unready).unwrap_err()),
            Some("ready_hero_not_owner")
        );
        assert_eq!(fire(&all[3], &r, RequestAction::Accept, &ready(false)).unwrap(), RequestStatus::Assigned);
    }

    #[test]
    fn nobody_acts_on_a_request_anonymously_or_as_a_stranger_after_pending() {
        let all = actors();
        let mut r = request(all[1].user_id().unwrap());
        r.status = RequestStatus::Assigned;
        r.hero_id = all[3].user_id();
        let ctx = RequestContext::default();
        assert!(available_actions(&all[0], &r, &ctx).is_empty());
        assert!(available_actions(&all[4], &r, &ctx).is_empty());
        assert_eq!(available_actions(&all[3], &r, &ctx), [RequestAction::Start]);
        assert_eq!(available_actions(&all[1], &r, &ctx), [RequestAction::Cancel]);
        let err = fire(&all[3], &r, RequestAction::Complete, &ctx).unwrap_err();
        assert_eq!(err.to_string(), "cannot `complete` a service_request that is `assigned`");
    }
}
