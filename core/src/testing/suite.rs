//! The conformance tests. Each takes a fresh store; the macro gives each its own.

use super::fixtures::{epoch, hero_input, refused, request_input, World};
use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::homeheroes::input::{BudgetInput, InterestInput, ProfileInput};
use crate::homeheroes::model::{
    CivilianProfile, HeroProfile, InterestStatus, JobInterest, Profile, ProfileRole, RequestStatus, ServiceRequest,
};
use crate::homeheroes::{
    HomeHeroesStore, MyRequestsQuery, PageRequest, PendingQuery, RequestAction, RequestOp, SERVICE_REQUEST,
};
use crate::id::{ServiceRequestId, UserId};
use crate::kernel::command::IdempotencyKey;
use crate::kernel::entity::{Entity, Readers};
use crate::kernel::store::{ChangeSet, Expect, OutboxEvent, Store, StoreError, Write};
use crate::money::{Currency, Money};
use crate::system::RandomIds;
use crate::time::Timestamp;
use crate::validate::Violation;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::sync::Arc;

fn admin() -> Actor {
    Actor::user(UserId::generate(&RandomIds), [Role::Admin])
}

fn uid(a: &Actor) -> UserId {
    a.user_id().expect("user actor")
}

pub async fn ensure_profile_is_idempotent_under_a_signup_race<S: Store + Clone + 'static>(store: S) {
    let w = Arc::new(World::new(store));
    let id = UserId::generate(&RandomIds);
    let actor = Actor::user(id, [Role::Hero]);
    const RACERS: usize = 16;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
        let (w, actor, barrier) = (w.clone(), actor.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            w.hh.ensure_profile(&actor, id, ProfileRole::Hero).await
        }));
    }
    let mut hero_ids = HashSet::new();
    for t in tasks {
        let bundle = t.await.unwrap().expect("every racer gets the profile");
        assert_eq!(bundle.profile.id, id);
        hero_ids.insert(bundle.hero.expect("hero part").id);
    }
    assert_eq!(hero_ids.len(), 1, "one hero profile row, whoever won");
    let again = w.hh.ensure_profile(&actor, id, ProfileRole::Hero).await.unwrap();
    assert!(hero_ids.contains(&again.hero.as_ref().unwrap().id));
    let trail = w.store().audit_trail(again.profile.entity_ref()).await.unwrap();
    assert_eq!(trail.len(), 1, "created once, so audited once");
    let hero_trail = w.store().audit_trail(again.hero.as_ref().unwrap().entity_ref()).await.unwrap();
    assert_eq!(hero_trail.len(), 1, "one hero profile, audited once");
    let events = w.store().outbox_after(0, 10_000).await.unwrap();
    let mut topics: Vec<_> = events.iter().map(|(_, e)| e.topic.as_str()).collect();
    topics.sort_unstable();
    assert_eq!(topics, ["homeheroes.hero_profile.create", "homeheroes.profile.create"], "one signup, published once");
    // The other role is a conflict, not a second profile.
    let as_civ = Actor::user(id, [Role::Hero, Role::Civilian]);
    refused(w.store(), ErrorCode::Conflict, w.hh.ensure_profile(&as_civ, id, ProfileRole::Civilian)).await;
    // Nobody creates someone else's profile.
    let other = Actor::user(UserId::generate(&RandomIds), [Role::Hero]);
    refused(
        w.store(),
        ErrorCode::Forbidden,
        w.hh.ensure_profile(&other, UserId::generate(&RandomIds), ProfileRole::Hero),
    )
    .await;
}

pub async fn profile_updates_are_validated_and_owner_only<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let me = uid(&civ);
    let p =
        w.hh.update_profile(
            &civ,
            me,
            ProfileInput { full_name: Some("  Ada <b>Lovelace</b> ".into()), phone: Some("+1 (555) 123-4567".into()) },
        )
        .await
        .unwrap();
    assert_eq!(p.full_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(p.phone.as_deref(), Some("+15551234567"));
    let bad_phone = ProfileInput { full_name: None, phone: Some("555-CALL".into()) };
    let err = refused(w.store(), ErrorCode::Validation, w.hh.update_profile(&civ, me, bad_phone)).await;
    assert_eq!(err.fields[0].field, "phone");
    let other = w.civilian().await;
    refused(w.store(), ErrorCode::Forbidden, w.hh.update_profile(&other, me, ProfileInput::default())).await;
    assert_eq!(w.hh.profile(&other, me).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(w.hh.profile(&civ, me).await.unwrap().profile, p);

    let hero = w.bare_hero().await;
    let hid = uid(&hero);
    let mut bad = hero_input();
    bad.hourly_rate = Some(Decimal::new(999, 2));
    bad.skills = Some(vec![]);
    let err = refused(w.store(), ErrorCode::Validation, w.hh.update_hero_profile(&hero, hid, bad)).await;
    let fields: Vec<_> = err.fields.iter().map(|f| (f.field.as_str(), f.violation.code())).collect();
    assert_eq!(fields, [("skills", "too_few"), ("hourly_rate", "amount_out_of_range")]);
    let hp = w.hh.update_hero_profile(&hero, hid, hero_input()).await.unwrap();
    assert_eq!(hp.hourly_rate, Some(Money::from_minor(3500, Currency::USD)));
    // Hero profiles are public, even to anonymous callers; updates are the hero's own.
    assert_eq!(w.hh.hero_profile(&Actor::Anonymous, hid).await.unwrap(), hp);
    refused(w.store(), ErrorCode::Forbidden, w.hh.update_hero_profile(&civ, hid, hero_input())).await;
    assert_eq!(w.store().hero_profile(hid).await.unwrap().unwrap().version, 2);
}

pub async fn created_request_round_trips_exactly<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let mut input = request_input();
    input.title = Some("  Réparer <script>alert(1)</script>l'évier  ".into());
    input.description = Some("Ligne un\r\nLigne deux — 水漏れ".into());
    let created = w.hh.create_service_request(&civ, input, None).await.unwrap();
    assert_eq!(created.title, "Réparer l'évier");
    assert_eq!(created.description, "Ligne un\nLigne deux — 水漏れ");
    assert_eq!(created.budget.min.amount().to_string(), "50.00");
    let loaded = w.store().service_request(created.id).await.unwrap().expect("stored");
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.value, created, "what the store returns is exactly what core decided");
    assert_eq!(w.hh.service_request(&civ, created.id).await.unwrap(), created);
}

pub async fn invalid_request_is_refused_with_every_field_error_and_nothing_written<S: Store + Clone + 'static>(
    store: S,
) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let mut input = request_input();
    input.title = Some("Fix".into());
    input.description = None;
    input.category = Some("gardening".into());
    input.scheduled_date = Some("2026-05-01T00:00:00Z".into());
    input.estimated_duration = Some(25);
    input.budget_range = Some(BudgetInput {
        min: Some(Decimal::new(100, 0)),
        max: Some(Decimal::new(50, 0)),
        currency: Some("USD".into()),
    });
    if let Some(l) = input.location.as_mut() {
        l.latitude = Some(91.0);
    }
    let err = refused(w.store(), ErrorCode::Validation, w.hh.create_service_request(&civ, input, None)).await;
    let got: Vec<_> = err.fields.iter().map(|f| (f.field.as_str(), f.violation.code())).collect();
    assert_eq!(
        got,
        [
            ("title", "too_short"),
            ("description", "required"),
            ("category", "not_allowed"),
            ("location.latitude", "out_of_range"),
            ("scheduled_date", "must_be_future"),
            ("estimated_duration", "out_of_range"),
            ("budget_range.max", "less_than_field"),
        ]
    );
    assert_eq!(err.fields[0].violation, Violation::TooShort { min: 5 });
    let mine = w.hh.list_my_requests(&civ, &MyRequestsQuery::default()).await.unwrap();
    assert!(mine.items.is_empty(), "nothing written");
    // A hero without a civilian profile cannot post; neither can a civilian who never signed up.
    let ghost = Actor::user(UserId::generate(&RandomIds), [Role::Civilian]);
    refused(w.store(), ErrorCode::PreconditionFailed, w.hh.create_service_request(&ghost, request_input(), None)).await;
    let hero = w.hero().await;
    refused(w.store(), ErrorCode::Forbidden, w.hh.create_service_request(&hero, request_input(), None)).await;
}

pub async fn job_lifecycle_runs_end_to_end<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let hero = w.hero().await;
    let r = w.request(&civ).await;
    assert_eq!(
        w.hh.available_actions(&hero, r.id).await.unwrap(),
        [RequestAction::Accept, RequestAction::ExpressInterest]
    );
    assert_eq!(w.hh.available_actions(&civ, r.id).await.unwrap(), [RequestAction::Cancel]);
    let r = w.hh.accept(&hero, r.id).await.unwrap();
    assert_eq!((r.status, r.hero_id), (RequestStatus::Assigned, Some(uid(&hero))));
    assert_eq!(w.hh.available_actions(&hero, r.id).await.unwrap(), [RequestAction::Start]);
    // Only the assigned hero moves it on.
    let err = refused(w.store(), ErrorCode::InvalidTransition, w.hh.complete(&hero, r.id)).await;
    assert!(err.message.contains("`complete`") && err.message.contains("`assigned`"), "{}", err.message);
    refused(w.store(), ErrorCode::Forbidden, w.hh.start(&civ, r.id)).await;
    let r = w.hh.start(&hero, r.id).await.unwrap();
    assert_eq!(r.status, RequestStatus::Active);
    w.clock.advance(chrono::Duration::hours(2));
    let r = w.hh.complete(&hero, r.id).await.unwrap();
    assert_eq!(r.status, RequestStatus::Completed);
    assert_eq!(r.completed_at, Some(w.clock_now()));
    let hp = w.hh.hero_profile(&civ, uid(&hero)).await.unwrap();
    assert_eq!(hp.completed_jobs, 1, "completion increments completed_jobs in the same commit");
    refused(w.store(), ErrorCode::InvalidTransition, w.hh.cancel(&civ, r.id, None)).await;
    let r = w.hh.rate(&civ, r.id, 4).await.unwrap();
    assert_eq!(r.rating, Some(4));
    refused(w.store(), ErrorCode::InvalidTransition, w.hh.rate(&civ, r.id, 5)).await;
    let hp = w.hh.hero_profile(&civ, uid(&hero)).await.unwrap();
    assert_eq!(hp.rating.average().to_string(), "4.00");
    let earnings =
        w.hh.earnings(&hero, uid(&hero), epoch(), w.clock_now().checked_add(chrono::Duration::seconds(1)).unwrap())
            .await
            .unwrap();
    assert_eq!(earnings.jobs, 1);
    assert_eq!(earnings.totals, [Money::from_minor(8500, Currency::USD)]);
    let assigned = w.hh.list_assigned(&hero, &MyRequestsQuery::default()).await.unwrap();
    assert_eq!(assigned.items, [r]);
}

impl<S: Store + Clone + 'static> World<S> {
    fn clock_now(&self) -> Timestamp {
        crate::time::Clock::now(self.clock.as_ref())
    }
}

pub async fn cancel_rules_follow_the_table<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let hero = w.hero().await;
    let other = w.civilian().await;
    // From pending, with open interests: they are rejected with it.
    let r = w.request(&civ).await;
    w.hh.express_interest(&hero, r.id, InterestInput::default()).await.unwrap();
    refused(w.store(), ErrorCode::Forbidden, w.hh.cancel(&other, r.id, None)).await;
    refused(w.store(), ErrorCode::Forbidden, w.hh.cancel(&hero, r.id, None)).await;
    let c = w.hh.cancel(&civ, r.id, Some("  changed my mind ".into())).await.unwrap();
    assert_eq!((c.status, c.cancel_reason.as_deref()), (RequestStatus::Cancelled, Some("changed my mind")));
    let interests = w.hh.interests(&civ, r.id).await.unwrap();
    assert_eq!(interests[0].status, InterestStatus::Rejected);
    // From assigned and active.
    for steps in [1, 2] {
        let r = w.request(&civ).await;
        w.hh.accept(&hero, r.id).await.unwrap();
        if steps == 2 {
            w.hh.start(&hero, r.id).await.unwrap();
        }
        let c = w.hh.cancel(&civ, r.id, None).await.unwrap();
        assert_eq!((c.status, c.hero_id), (RequestStatus::Cancelled, Some(uid(&hero))));
        assert!(c.cancelled_at.is_some());
        // Cancelled is final.
        refused(w.store(), ErrorCode::InvalidTransition, w.hh.start(&hero, r.id)).await;
        refused(w.store(), ErrorCode::InvalidTransition, w.hh.cancel(&civ, r.id, None)).await;
    }
}

pub async fn choose_hero_settles_every_interest_in_one_commit<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let heroes = [w.hero().await, w.hero().await, w.hero().await];
    let unready = w.bare_hero().await;
    let r = w.request(&civ).await;
    assert_eq!(w.hh.available_actions(&civ, r.id).await.unwrap(), [RequestAction::Cancel]);
    for h in &heroes {
        let i = w.hh.express_interest(h, r.id, InterestInput::default()).await.unwrap();
        assert_eq!(i.status, InterestStatus::Interested);
    }
    let sms = InterestInput { source: Some("sms".into()), phone: None };
    refused(w.store(), ErrorCode::Validation, w.hh.express_interest(&heroes[0], r.id, sms)).await;
    refused(w.store(), ErrorCode::InvalidTransition, w.hh.express_interest(&unready, r.id, InterestInput::default()))
        .await;
    // a hero must finish onboarding first
    refused(w.store(), ErrorCode::InvalidTransition, w.hh.express_interest(&heroes[0], r.id, InterestInput::default()))
        .await;
    // Withdraw and come back.
    assert_eq!(w.hh.withdraw_interest(&heroes[2], r.id).await.unwrap().status, InterestStatus::Withdrawn);
    assert_eq!(
        w.hh.express_interest(&heroes[2], r.id, InterestInput::default()).await.unwrap().status,
        InterestStatus::Interested
    );
    // A hero sees only their own interest; the owner sees all.
    assert_eq!(w.hh.interests(&heroes[0], r.id).await.unwrap().len(), 1);
    assert_eq!(w.hh.interests(&civ, r.id).await.unwrap().len(), 3);
    assert!(w.hh.available_actions(&civ, r.id).await.unwrap().contains(&RequestAction::ChooseHero));
    refused(w.store(), ErrorCode::PreconditionFailed, w.hh.choose_hero(&civ, r.id, uid(&unready))).await;
    let before_events = w.store().outbox_after(0, 10_000).await.unwrap().len();
    let chosen = uid(&heroes[1]);
    let r2 = w.hh.choose_hero(&civ, r.id, chosen).await.unwrap();
    assert_eq!((r2.status, r2.hero_id), (RequestStatus::Assigned, Some(chosen)));
    let statuses: Vec<_> =
        w.hh.interests(&civ, r.id).await.unwrap().into_iter().map(|i| (i.hero_user_id == chosen, i.status)).collect();
    for (is_chosen, status) in statuses {
        assert_eq!(status, if is_chosen { InterestStatus::Selected } else { InterestStatus::Rejected });
    }
    let events = w.store().outbox_after(0, 10_000).await.unwrap();
    assert_eq!(events.len() - before_events, 4, "request + three interests, one commit");
    // The rejected heroes no longer see the request; the chosen one does.
    assert_eq!(w.hh.service_request(&heroes[0], r.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(w.hh.service_request(&heroes[1], r.id).await.unwrap().id, r.id);
}

pub async fn concurrent_accepts_exactly_one_hero_wins<S: Store + Clone + 'static>(store: S) {
    const HEROES: usize = 32;
    let w = Arc::new(World::new(store));
    let civ = w.civilian().await;
    let r = w.request(&civ).await;
    let mut heroes = Vec::new();
    for _ in 0..HEROES {
        let h = w.hero().await;
        // Every racer showed interest first: the winner's interest must end `selected`, the rest `rejected`.
        w.hh.express_interest(&h, r.id, InterestInput::default()).await.unwrap();
        heroes.push(h);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(HEROES));
    let mut tasks = Vec::new();
    for h in heroes.clone() {
        let (w, barrier) = (w.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            (uid(&h), w.hh.accept(&h, r.id).await)
        }));
    }
    let mut winners = Vec::new();
    let mut losers = 0;
    for t in tasks {
        match t.await.unwrap() {
            (h, Ok(req)) => {
                assert_eq!(req.hero_id, Some(h));
                winners.push(h);
            }
            (_, Err(e)) => {
                // The request was public while pending: losing the race is `conflict` ("already
                // taken"), never `not_found`.
                assert_eq!(e.code, ErrorCode::Conflict, "a loser gets a clear conflict, got {e:?}");
                losers += 1;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one hero wins");
    assert_eq!(losers, HEROES - 1);
    let stored = w.store().service_request(r.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.value.status, stored.value.hero_id, stored.version),
        (RequestStatus::Assigned, Some(winners[0]), 2)
    );
    let trail = w.store().audit_trail(stored.value.entity_ref()).await.unwrap();
    assert_eq!(trail.iter().filter(|a| a.action == "assigned").count(), 1);
    let events = w.store().outbox_after(0, 10_000).await.unwrap();
    let assigned = events
        .iter()
        .filter(|(_, e)| e.entity.id == r.id.as_uuid() && e.topic == "homeheroes.service_request.assigned")
        .count();
    assert_eq!(assigned, 1, "exactly one assignment is published");
    let interests = w.store().interests(r.id).await.unwrap();
    assert_eq!(interests.len(), HEROES);
    for i in &interests {
        let expected =
            if i.value.hero_user_id == winners[0] { InterestStatus::Selected } else { InterestStatus::Rejected };
        assert_eq!(i.value.status, expected, "{:?}", i.value.hero_user_id);
    }
    assert_eq!(interests.iter().filter(|i| i.value.status == InterestStatus::Selected).count(), 1);
    // A late loser is told the same; reading the request, which it no longer may, stays `not_found`.
    let loser = heroes.iter().find(|h| uid(h) != winners[0]).unwrap();
    refused(w.store(), ErrorCode::Conflict, w.hh.accept(loser, r.id)).await;
    assert_eq!(w.hh.service_request(loser, r.id).await.unwrap_err().code, ErrorCode::NotFound);
    // A request its owner just cancelled is gone for heroes too: `conflict`, to accept or to show interest.
    let cancelled = w.request(&civ).await;
    w.hh.cancel(&civ, cancelled.id, None).await.unwrap();
    refused(w.store(), ErrorCode::Conflict, w.hh.accept(loser, cancelled.id)).await;
    refused(w.store(), ErrorCode::Conflict, w.hh.express_interest(loser, cancelled.id, InterestInput::default())).await;
    // An id that never existed is `not_found`.
    let ghost = ServiceRequestId::generate(&RandomIds);
    refused(w.store(), ErrorCode::NotFound, w.hh.accept(loser, ghost)).await;
}

pub async fn concurrent_cancel_and_accept_never_leave_a_mixed_state<S: Store + Clone + 'static>(store: S) {
    let w = Arc::new(World::new(store));
    let civ = w.civilian().await;
    let hero = w.hero().await;
    for _ in 0..12 {
        w.clock.advance(chrono::Duration::seconds(13)); // under the rate limit
        let r = w.request(&civ).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (w1, b1, h, id) = (w.clone(), barrier.clone(), hero.clone(), r.id);
        let accept = tokio::spawn(async move {
            b1.wait().await;
            w1.hh.accept(&h, id).await
        });
        let (w2, b2, c) = (w.clone(), barrier.clone(), civ.clone());
        let cancel = tokio::spawn(async move {
            b2.wait().await;
            w2.hh.cancel(&c, id, None).await
        });
        let (accepted, cancelled) = (accept.await.unwrap(), cancel.await.unwrap());
        // Cancel is legal from pending and assigned, so it always lands; accept only if first.
        cancelled.expect("the owner's cancel always lands");
        let v = w.store().service_request(r.id).await.unwrap().unwrap().value;
        assert_eq!(v.status, RequestStatus::Cancelled);
        assert!(v.cancelled_at.is_some());
        match accepted {
            Ok(_) => {
                assert_eq!((v.hero_id.is_some(), v.assigned_at.is_some()), (true, true), "accepted, then cancelled")
            }
            Err(e) => {
                // Accepting a request its owner just cancelled is a lost race: `conflict`.
                assert_eq!(e.code, ErrorCode::Conflict, "{e:?}");
                assert_eq!((v.hero_id, v.assigned_at), (None, None), "never half-assigned");
            }
        }
        check_trail_replays(w.store(), &v).await;
    }
}

/// The audit trail of `r` replays to its stored state, and every step is a row of the table.
async fn check_trail_replays<S: Store + Clone + 'static>(store: &S, r: &ServiceRequest) {
    let trail = store.audit_trail(r.entity_ref()).await.unwrap();
    assert_eq!(trail[0].action, "create");
    assert!(trail[0].before.is_none());
    let mut state: ServiceRequest = serde_json::from_value(trail[0].after.clone()).unwrap();
    for (i, rec) in trail.iter().enumerate().skip(1) {
        let before: ServiceRequest = serde_json::from_value(rec.before.clone().expect("updates carry before")).unwrap();
        assert_eq!(before, state, "each record starts where the previous ended");
        let after: ServiceRequest = serde_json::from_value(rec.after.clone()).unwrap();
        let action = match rec.action.as_str() {
            "assigned" if after.assigned_at.is_some() => {
                // accept or choose_hero: both go pending → assigned.
                RequestAction::Accept
            }
            "started" => RequestAction::Start,
            "completed" => RequestAction::Complete,
            "cancelled" => RequestAction::Cancel,
            "rated" => RequestAction::Rate,
            other => panic!("unexpected audit action {other}"),
        };
        assert!(
            SERVICE_REQUEST.permits(before.status, action, after.status),
            "{:?} --{action}--> {:?}",
            before.status,
            after.status
        );
        assert_eq!(rec.version, i as u64 + 1);
        state = after;
    }
    assert_eq!(&state, r, "the trail replays to the current state");
}

pub async fn idempotency_key_replays_apply_once<S: Store + Clone + 'static>(store: S) {
    let w = Arc::new(World::new(store));
    let civ = w.civilian().await;
    let key = IdempotencyKey::new("create-sink-42").unwrap();
    let first = w.hh.create_service_request(&civ, request_input(), Some(&key)).await.unwrap();
    for _ in 0..4 {
        let again = w.hh.create_service_request(&civ, request_input(), Some(&key)).await.unwrap();
        assert_eq!(again, first);
    }
    // Racing replays of a fresh key: all get the same answer, one request exists.
    let key2 = IdempotencyKey::new("create-sink-43").unwrap();
    const REPLAYS: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(REPLAYS));
    let events_before = w.store().outbox_after(0, 10_000).await.unwrap().len();
    let mut tasks = Vec::new();
    for _ in 0..REPLAYS {
        let (w, civ, key2, barrier) = (w.clone(), civ.clone(), key2.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            w.hh.create_service_request(&civ, request_input(), Some(&key2)).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap().expect("a replay answers like the first"));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "every racer gets the winner's answer");
    let ids: HashSet<_> = answers.iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 1);
    let trail = w.store().audit_trail(answers[0].entity_ref()).await.unwrap();
    assert_eq!(trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create"]);
    let events = w.store().outbox_after(0, 10_000).await.unwrap();
    let published: Vec<_> = events[events_before..].iter().map(|(_, e)| (e.topic.as_str(), e.entity.id)).collect();
    assert_eq!(published, [("homeheroes.service_request.create", answers[0].id.as_uuid())]);
    let mine = w.hh.list_my_requests(&civ, &MyRequestsQuery::default()).await.unwrap();
    assert_eq!(mine.items.len(), 2, "two keys, two requests");
    // The same key for another request is refused; keys are per caller.
    let mut other_input = request_input();
    other_input.title = Some("Another job entirely".into());
    refused(w.store(), ErrorCode::IdempotencyMismatch, w.hh.create_service_request(&civ, other_input, Some(&key)))
        .await;
    let civ2 = w.civilian().await;
    let theirs = w.hh.create_service_request(&civ2, request_input(), Some(&key)).await.unwrap();
    assert_ne!(theirs.id, first.id);
    // Workflow actions are idempotent too.
    let hero = w.hero().await;
    let k = IdempotencyKey::new("accept-1").unwrap();
    let a = w.hh.act(&hero, first.id, RequestOp::Accept, Some(&k)).await.unwrap();
    let b = w.hh.act(&hero, first.id, RequestOp::Accept, Some(&k)).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(w.store().service_request(first.id).await.unwrap().unwrap().version, 2);
}

pub async fn listing_is_filtered_paginated_and_authorized<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let civ2 = w.civilian().await;
    let hero = w.hero().await;
    let mut created = Vec::new();
    for i in 0..23u32 {
        let mut input = request_input();
        input.category = Some(if i % 3 == 0 { "cleaning" } else { "repairs" }.into());
        input.budget_range = Some(BudgetInput {
            min: Some(Decimal::from(10 + i)),
            max: Some(Decimal::from(20 + i * 10)),
            currency: Some("USD".into()),
        });
        let owner = if i % 2 == 0 { &civ } else { &civ2 };
        created.push(w.hh.create_service_request(owner, input, None).await.unwrap());
        w.clock.advance(chrono::Duration::seconds(13)); // stay under the rate limit, keep order strict
    }
    w.hh.accept(&hero, created[5].id).await.unwrap();
    // Pages of 10: newest first, every pending request once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let q =
            PendingQuery { page: PageRequest { limit: Some(10), cursor: cursor.clone() }, ..PendingQuery::default() };
        let page = w.hh.list_pending(&hero, &q).await.unwrap();
        seen.extend(page.items.iter().map(|r| r.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<ServiceRequestId> =
        created.iter().rev().filter(|r| r.id != created[5].id).map(|r| r.id).collect();
    assert_eq!(seen, expected);
    let q = PendingQuery { category: Some("cleaning".into()), ..PendingQuery::default() };
    let cleaning = w.hh.list_pending(&hero, &q).await.unwrap();
    assert_eq!(cleaning.items.len(), 8);
    let q = PendingQuery {
        min_budget: Some(Decimal::from(200)),
        max_budget: Some(Decimal::from(25)),
        ..PendingQuery::default()
    };
    let rich: Vec<_> =
        w.hh.list_pending(&hero, &q).await.unwrap().items.into_iter().map(|r| r.budget.min.amount()).collect();
    // max = 20 + 10i >= 200 → i >= 18; min = 10 + i <= 25 → i <= 15: none.
    assert!(rich.is_empty(), "{rich:?}");
    let q = PendingQuery { min_budget: Some(Decimal::from(200)), ..PendingQuery::default() };
    assert_eq!(w.hh.list_pending(&hero, &q).await.unwrap().items.len(), 5);
    let q = PendingQuery {
        category: Some("gardening".into()),
        page: PageRequest { limit: Some(0), cursor: Some("nope".into()) },
        ..PendingQuery::default()
    };
    let err = w.hh.list_pending(&hero, &q).await.unwrap_err();
    let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["category", "limit", "cursor"]);
    // Own lists.
    let mine =
        w.hh.list_my_requests(
            &civ,
            &MyRequestsQuery { page: PageRequest { limit: Some(100), cursor: None }, ..MyRequestsQuery::default() },
        )
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 12);
    assert!(mine.items.iter().all(|r| r.civilian_id == uid(&civ)));
    let assigned = w
        .hh
        .list_my_requests(&civ2, &MyRequestsQuery { status: Some("assigned".into()), ..MyRequestsQuery::default() })
        .await
        .unwrap();
    assert_eq!(assigned.items.iter().map(|r| r.id).collect::<Vec<_>>(), [created[5].id]);
    assert_eq!(w.hh.list_assigned(&hero, &MyRequestsQuery::default()).await.unwrap().items.len(), 1);
    assert_eq!(
        w.hh.list_pending(&Actor::Anonymous, &PendingQuery::default()).await.unwrap_err().code,
        ErrorCode::Unauthenticated
    );
}

pub async fn authorization_follows_the_rls_policies<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let stranger = w.civilian().await;
    let hero = w.hero().await;
    let other_hero = w.hero().await;
    let r = w.request(&civ).await;
    // Pending: visible to any signed-in user, never to anonymous callers.
    assert_eq!(w.hh.service_request(&stranger, r.id).await.unwrap().id, r.id);
    assert_eq!(w.hh.service_request(&Actor::Anonymous, r.id).await.unwrap_err().code, ErrorCode::Unauthenticated);
    refused(w.store(), ErrorCode::Unauthenticated, w.hh.accept(&Actor::Anonymous, r.id)).await;
    // Civilians do not accept; the owner cannot accept their own even holding the hero role.
    refused(w.store(), ErrorCode::Forbidden, w.hh.accept(&stranger, r.id)).await;
    w.hh.accept(&hero, r.id).await.unwrap();
    // Assigned: only its civilian and its hero.
    assert_eq!(w.hh.service_request(&stranger, r.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(w.hh.service_request(&other_hero, r.id).await.unwrap_err().code, ErrorCode::NotFound);
    refused(w.store(), ErrorCode::NotFound, w.hh.cancel(&stranger, r.id, None)).await;
    assert_eq!(w.hh.service_request(&hero, r.id).await.unwrap().id, r.id);
    // Earnings and profiles are own-only; audit trails are for admins.
    let hid = uid(&hero);
    w.clock.advance(chrono::Duration::hours(1));
    assert_eq!(w.hh.earnings(&other_hero, hid, epoch(), w.clock_now()).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(w.hh.earnings(&hero, hid, w.clock_now(), epoch()).await.unwrap_err().code, ErrorCode::Validation);
    assert_eq!(w.hh.audit_trail(&hero, r.entity_ref()).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(w.hh.audit_trail(&admin(), r.entity_ref()).await.unwrap().len(), 2);
    assert_eq!(w.hh.profile(&hero, uid(&civ)).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(w.hh.hero_profiles(&Actor::Anonymous, 0, 20).await.unwrap().len(), 2);
}

pub async fn every_change_is_audited_and_published_in_the_same_commit<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let hero = w.hero().await;
    let r = w.request(&civ).await;
    w.hh.accept(&hero, r.id).await.unwrap();
    w.hh.start(&hero, r.id).await.unwrap();
    let done = w.hh.complete(&hero, r.id).await.unwrap();
    let trail = w.store().audit_trail(done.entity_ref()).await.unwrap();
    let actions: Vec<_> = trail.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["create", "assigned", "started", "completed"]);
    assert_eq!(trail[0].actor, uid(&civ).to_string());
    assert!(trail[1..].iter().all(|a| a.actor == uid(&hero).to_string()));
    check_trail_replays(w.store(), &done).await;
    let events = w.store().outbox_after(0, 10_000).await.unwrap();
    let positions: Vec<i64> = events.iter().map(|(p, _)| *p).collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "positions grow");
    let topics: Vec<_> =
        events.iter().filter(|(_, e)| e.entity.id == r.id.as_uuid()).map(|(_, e)| e.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            "homeheroes.service_request.create",
            "homeheroes.service_request.assigned",
            "homeheroes.service_request.started",
            "homeheroes.service_request.completed"
        ]
    );
    assert!(events
        .iter()
        .filter(|(_, e)| e.entity.id == r.id.as_uuid())
        .all(|(_, e)| e.entity.kind == ServiceRequest::kind()));
    let completed = &events.iter().find(|(_, e)| e.topic == "homeheroes.service_request.completed").unwrap().1;
    let mut audience = vec![uid(&civ), uid(&hero)];
    audience.sort();
    assert_eq!(completed.audience, audience);
    // Paging the outbox.
    let (first_pos, _) = events[0];
    let rest = w.store().outbox_after(first_pos, 2).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].0, events[1].0);
    // Every audit record has its event: as many events as audit records across all entities touched.
    let hero_trail = w
        .store()
        .audit_trail(w.store().hero_profile(uid(&hero)).await.unwrap().unwrap().value.entity_ref())
        .await
        .unwrap();
    assert_eq!(hero_trail.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["create", "update", "job_completed"]);
}

pub async fn commit_is_all_or_nothing_and_checks_versions<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let r = w.request(&civ).await;
    let stored = w.store().service_request(r.id).await.unwrap().unwrap();
    let events_before = w.store().outbox_after(0, 10_000).await.unwrap().len();
    // A good insert plus a stale update: nothing of it lands.
    let mut fresh = r.clone();
    fresh.id = ServiceRequestId::generate(&RandomIds);
    let mut stale = r.clone();
    stale.title = "Stale title here".into();
    let cs = ChangeSet {
        writes: vec![row_write(&fresh, Expect::Absent), row_write(&stale, Expect::Version(stored.version + 5))],
        ..ChangeSet::default()
    };
    assert!(matches!(w.store().commit(cs).await, Err(StoreError::VersionConflict { .. })));
    assert!(w.store().service_request(fresh.id).await.unwrap().is_none(), "the insert rolled back");
    // Inserting an existing id is AlreadyExists; a correct version applies and bumps it.
    let cs = ChangeSet { writes: vec![row_write(&r, Expect::Absent)], ..ChangeSet::default() };
    assert!(matches!(w.store().commit(cs).await, Err(StoreError::AlreadyExists { .. })));
    let cs = ChangeSet { writes: vec![row_write(&stale, Expect::Version(stored.version))], ..ChangeSet::default() };
    w.store().commit(cs).await.unwrap();
    let now = w.store().service_request(r.id).await.unwrap().unwrap();
    assert_eq!((now.version, now.value.title.as_str()), (2, "Stale title here"));
    assert_eq!(w.store().outbox_after(0, 10_000).await.unwrap().len(), events_before);
    // The constraints are a backstop: a status the table never produces is refused by the store.
    let mut broken = now.value.clone();
    broken.status = RequestStatus::Assigned; // assigned without a hero
    let cs = ChangeSet { writes: vec![row_write(&broken, Expect::Version(2))], ..ChangeSet::default() };
    // The memory store holds no SQL schema: it enforces declared keys, uniques and guards, not the
    // SQL `CHECK`s that back core up, and says so (`Store::enforces_backstops`).
    if w.store().enforces_backstops() {
        assert!(matches!(w.store().commit(cs).await, Err(StoreError::Constraint { .. })));
        assert_eq!(w.store().service_request(r.id).await.unwrap().unwrap().version, 2);
    }
}

/// A whole-row write of a service request, as `Decide` would build it.
fn row_write(r: &ServiceRequest, expect: Expect) -> Write {
    Write::Row { kind: ServiceRequest::kind(), id: r.id.as_uuid(), row: r.to_row(), expect }
}

/// Seed 000 "Rate Limiting": "Request creation: 5 per minute per user" (line 877) — GCRA
/// (`crate::limits::REQUEST_CREATION`): five at once, then one place back every 12 s.
pub async fn request_creation_is_rate_limited<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    for _ in 0..5 {
        w.request(&civ).await;
    }
    // One over the limit: refused, nothing written, and told to come back in exactly 12 s.
    let err =
        refused(w.store(), ErrorCode::RateLimited, w.hh.create_service_request(&civ, request_input(), None)).await;
    assert_eq!((err.message.as_str(), err.retry_after_ms), ("at most 5 requests per minute", Some(12_000)));
    // One unit of `Timestamp` (1 µs) before the place frees: still refused, 1 ms to wait (rounded up).
    w.clock.advance(chrono::Duration::seconds(12) - chrono::Duration::microseconds(1));
    let err =
        refused(w.store(), ErrorCode::RateLimited, w.hh.create_service_request(&civ, request_input(), None)).await;
    assert_eq!(err.retry_after_ms, Some(1));
    // At 12 s exactly one place is back — and only one.
    w.clock.advance(chrono::Duration::microseconds(1));
    w.request(&civ).await;
    let err =
        refused(w.store(), ErrorCode::RateLimited, w.hh.create_service_request(&civ, request_input(), None)).await;
    assert_eq!(err.retry_after_ms, Some(12_000));
    // Another civilian has a bucket of their own.
    w.request(&w.civilian().await).await;
}

pub async fn earnings_follow_the_midpoint_rule_per_currency<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civ = w.civilian().await;
    let hero = w.hero().await;
    let budgets = [("10.01", "10.02", "USD"), ("100", "300", "USD"), ("500", "700", "INR")];
    let mut done_at = Vec::new();
    for (min, max, cur) in budgets {
        let mut input = request_input();
        input.budget_range = Some(BudgetInput {
            min: Some(min.parse().unwrap()),
            max: Some(max.parse().unwrap()),
            currency: Some(cur.into()),
        });
        let r = w.hh.create_service_request(&civ, input, None).await.unwrap();
        w.hh.accept(&hero, r.id).await.unwrap();
        w.hh.start(&hero, r.id).await.unwrap();
        w.clock.advance(chrono::Duration::hours(1));
        done_at.push(w.hh.complete(&hero, r.id).await.unwrap().completed_at.unwrap());
    }
    let hid = uid(&hero);
    let all =
        w.hh.earnings(&hero, hid, epoch(), w.clock_now().checked_add(chrono::Duration::seconds(1)).unwrap())
            .await
            .unwrap();
    assert_eq!(all.jobs, 3);
    // 10.015 + 200 = 210.015 → 210.02 (half to even on the total, once); 600 INR.
    assert_eq!(
        all.totals,
        [
            Money::new("600".parse().unwrap(), Currency::INR).unwrap(),
            Money::new("210.02".parse().unwrap(), Currency::USD).unwrap()
        ]
    );
    // Half-open period: [first completion, second completion) holds only the first.
    let one = w.hh.earnings(&hero, hid, done_at[0], done_at[1]).await.unwrap();
    assert_eq!((one.jobs, one.totals.len()), (1, 1));
    assert_eq!(one.totals[0].amount().to_string(), "10.02");
}

/// One random step: an actor index and an action.
#[derive(Debug, Clone)]
enum Step {
    Act(usize, RequestAction),
    Create(usize),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let action = prop::sample::select(RequestAction::ALL.iter().map(|(a, _)| *a).collect::<Vec<_>>());
    let step = prop_oneof![
        4 => (0usize..6, action).prop_map(|(a, x)| Step::Act(a, x)),
        1 => (0usize..6).prop_map(Step::Create),
    ];
    prop::collection::vec(step, 1..40)
}

pub async fn random_action_sequences_respect_the_transition_table<S: Store + Clone + 'static>(store: S) {
    // Sequences are drawn by proptest with a fixed seed (reproducible); each runs against the store.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let w = World::new(store);
    // Actors: two civilians, three ready heroes, one unready hero.
    let actors =
        [w.civilian().await, w.civilian().await, w.hero().await, w.hero().await, w.hero().await, w.bare_hero().await];
    let mut requests: Vec<ServiceRequestId> = Vec::new();
    for case in 0..12 {
        let seq = steps().new_tree(&mut runner).unwrap().current();
        for step in &seq {
            w.clock.advance(chrono::Duration::seconds(20));
            match step {
                Step::Create(a) => {
                    if let Ok(r) = w.hh.create_service_request(&actors[*a], request_input(), None).await {
                        requests.push(r.id);
                    }
                }
                Step::Act(a, action) => {
                    let Some(&id) = requests.last() else { continue };
                    let actor = &actors[*a];
                    let op = match action {
                        RequestAction::Accept => RequestOp::Accept,
                        RequestAction::ChooseHero => RequestOp::ChooseHero { hero_id: uid(&actors[2 + a % 3]) },
                        RequestAction::ExpressInterest => {
                            RequestOp::ExpressInterest { interest: InterestInput::default() }
                        }
                        RequestAction::WithdrawInterest => RequestOp::WithdrawInterest,
                        RequestAction::Start => RequestOp::Start,
                        RequestAction::Complete => RequestOp::Complete,
                        RequestAction::Cancel => RequestOp::Cancel { reason: None },
                        RequestAction::Rate => RequestOp::Rate { score: 1 + (*a as i64 % 5) },
                    };
                    let before = w.store().service_request(id).await.unwrap().unwrap().value;
                    let allowed_before = w.hh.available_actions(actor, id).await.unwrap_or_default();
                    let result = w.hh.act(actor, id, op, None).await;
                    let after = w.store().service_request(id).await.unwrap().unwrap().value;
                    match &result {
                        Ok(_) => {
                            assert!(
                                allowed_before.contains(action),
                                "case {case}: {action} succeeded but was not offered: {seq:?}"
                            );
                            assert!(
                                SERVICE_REQUEST.permits(before.status, *action, after.status),
                                "case {case}: {seq:?}"
                            );
                        }
                        Err(e) => {
                            // Not an exact code (left for a model of the HomeHeroes commands, as the
                            // slots-and-orders walk has): the rule checked is the table's — a step
                            // not offered is refused, whatever the reason; an offered one fails only
                            // on a precondition the offer does not know (`choose_hero` naming a hero
                            // without an open interest: `precondition_failed`).
                            assert!(
                                !allowed_before.contains(action) || e.code == ErrorCode::PreconditionFailed,
                                "case {case}: {action} was offered but failed with {e:?}"
                            );
                            assert_eq!(before, after, "case {case}: a refused action changed nothing");
                        }
                    }
                    assert_eq!(after.hero_id.is_some(), after.assigned_at.is_some());
                    assert_eq!(after.status == RequestStatus::Completed, after.completed_at.is_some());
                }
            }
        }
    }
    for id in requests {
        let r = w.store().service_request(id).await.unwrap().unwrap().value;
        check_trail_replays(w.store(), &r).await;
    }
}

/// Who may read the entity an event carries, from the event's own payload (the entity after the
/// change).
fn readers_of(e: &OutboxEvent) -> Readers {
    fn decode<T: Entity + serde::de::DeserializeOwned>(e: &OutboxEvent) -> Readers {
        serde_json::from_value::<T>(e.payload.clone()).unwrap_or_else(|err| panic!("{}: {err}", e.topic)).readers()
    }
    let kind = e.entity.kind;
    if kind == ServiceRequest::kind() {
        decode::<ServiceRequest>(e)
    } else if kind == JobInterest::kind() {
        decode::<JobInterest>(e)
    } else if kind == Profile::kind() {
        decode::<Profile>(e)
    } else if kind == CivilianProfile::kind() {
        decode::<CivilianProfile>(e)
    } else if kind == HeroProfile::kind() {
        decode::<HeroProfile>(e)
    } else {
        panic!("unexpected entity kind {kind} in {}", e.topic)
    }
}

pub async fn events_reach_exactly_the_readers_of_what_changed<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let owner = w.civilian().await;
    let chosen = w.hero().await;
    let rejected = w.hero().await;
    let stranger = w.civilian().await;
    let admin = admin();
    // One request runs create → two interests → choose one → cancel; another is cancelled while
    // two heroes are still interested.
    let r = w.request(&owner).await;
    let open = w.request(&owner).await;
    for h in [&chosen, &rejected] {
        w.hh.express_interest(h, r.id, InterestInput::default()).await.unwrap();
        w.hh.express_interest(h, open.id, InterestInput::default()).await.unwrap();
    }
    w.hh.choose_hero(&owner, r.id, uid(&chosen)).await.unwrap();
    w.hh.cancel(&owner, r.id, Some("found someone else".into())).await.unwrap();
    w.hh.cancel(&owner, open.id, None).await.unwrap();

    let events = w.store().outbox_after(0, 10_000).await.unwrap();
    let actors = [&owner, &chosen, &rejected, &stranger, &admin];
    for (_, e) in &events {
        let readers = readers_of(e);
        for a in actors {
            let u = uid(a);
            assert_eq!(
                e.audience.contains(&u),
                readers.users.contains(&u),
                "{} ({}): the audience is the readers of the entity after the change",
                e.topic,
                e.entity.id
            );
        }
        // A realtime layer may deliver to the listed users only if they may read what it carries.
        for u in &e.audience {
            let reader = actors.iter().find(|a| uid(a) == *u);
            if let Some(a) = reader {
                assert!(readers.admits(a), "{}: {u} is told but may not read it", e.topic);
            }
        }
    }
    let about = |id: ServiceRequestId| {
        events.iter().map(|(p, e)| (*p, e)).filter(move |(_, e)| {
            e.entity.id == id.as_uuid()
                || serde_json::from_value::<JobInterest>(e.payload.clone()).is_ok_and(|i| i.job_id == id)
        })
    };
    // Once the owner chose, the rejected hero no longer reads the request, so hears nothing of it…
    let (chosen_at, _) =
        about(r.id).find(|(_, e)| e.topic == "homeheroes.service_request.assigned").expect("assigned event");
    for (p, e) in about(r.id).filter(|(p, e)| *p >= chosen_at && e.topic.starts_with("homeheroes.service_request.")) {
        assert!(!e.audience.contains(&uid(&rejected)), "{} at {p} leaked to the rejected hero", e.topic);
        assert!(!readers_of(e).admits(&rejected), "{}", e.topic);
        assert!(e.audience.contains(&uid(&owner)) && e.audience.contains(&uid(&chosen)), "{}", e.topic);
    }
    // …except through their own interest, which tells them the outcome.
    let told: Vec<_> = about(r.id)
        .filter(|(_, e)| e.topic == "homeheroes.job_interest.rejected")
        .map(|(_, e)| e.audience.clone())
        .collect();
    assert_eq!(told.len(), 1);
    assert!(told[0].contains(&uid(&rejected)) && told[0].contains(&uid(&owner)) && !told[0].contains(&uid(&chosen)));
    let topics: Vec<_> = about(r.id).filter(|(p, _)| *p >= chosen_at).map(|(_, e)| e.topic.as_str()).collect();
    assert_eq!(
        topics.iter().filter(|t| t.starts_with("homeheroes.service_request.")).collect::<Vec<_>>(),
        [&"homeheroes.service_request.assigned", &"homeheroes.service_request.cancelled"]
    );
    // A request cancelled while pending is told to its owner alone; each interested hero hears of it
    // through their interest.
    let cancelled = about(open.id).find(|(_, e)| e.topic == "homeheroes.service_request.cancelled").unwrap().1;
    assert_eq!(cancelled.audience, [uid(&owner)]);
    let mut rejections: Vec<_> = about(open.id)
        .filter(|(_, e)| e.topic == "homeheroes.job_interest.rejected")
        .flat_map(|(_, e)| e.audience.iter().copied().filter(|u| *u != uid(&owner)).collect::<Vec<_>>())
        .collect();
    rejections.sort();
    let mut heroes = vec![uid(&chosen), uid(&rejected)];
    heroes.sort();
    assert_eq!(rejections, heroes);
    // The stranger hears nothing about either request; reads agree with every audience above.
    assert!(about(r.id).chain(about(open.id)).all(|(_, e)| !e.audience.contains(&uid(&stranger))));
    assert_eq!(w.hh.service_request(&rejected, r.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(w.hh.service_request(&stranger, r.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(w.hh.service_request(&chosen, r.id).await.unwrap().status, RequestStatus::Cancelled);
    assert_eq!(w.hh.service_request(&admin, r.id).await.unwrap().id, r.id, "admins read everything");
    assert_eq!(w.hh.interests(&rejected, r.id).await.unwrap_err().code, ErrorCode::NotFound);
}

crate::conformance_cases!("homeheroes";
    ensure_profile_is_idempotent_under_a_signup_race,
    profile_updates_are_validated_and_owner_only,
    created_request_round_trips_exactly,
    invalid_request_is_refused_with_every_field_error_and_nothing_written,
    job_lifecycle_runs_end_to_end,
    cancel_rules_follow_the_table,
    choose_hero_settles_every_interest_in_one_commit,
    concurrent_accepts_exactly_one_hero_wins,
    concurrent_cancel_and_accept_never_leave_a_mixed_state,
    idempotency_key_replays_apply_once,
    listing_is_filtered_paginated_and_authorized,
    authorization_follows_the_rls_policies,
    every_change_is_audited_and_published_in_the_same_commit,
    events_reach_exactly_the_readers_of_what_changed,
    commit_is_all_or_nothing_and_checks_versions,
    request_creation_is_rate_limited,
    earnings_follow_the_midpoint_rule_per_currency,
    random_action_sequences_respect_the_transition_table
);
