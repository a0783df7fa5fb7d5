//! The offline queue against a real store: exactly once under replays, concurrent copies and
//! crashes; dependencies, gaps and stream ownership.

use super::fixtures::{request_input, World};
use crate::actor::Actor;
use crate::error::ErrorCode;
use crate::homeheroes::commands::{CreateServiceRequest, RequestCommand, RequestOp, UpdateProfile};
use crate::homeheroes::input::ProfileInput;
use crate::homeheroes::{HomeHeroesStore, RequestFilter};
use crate::id::{ClientId, ServiceRequestId};
use crate::kernel::entity::Entity;
use crate::kernel::store::{Reader, Store};
use crate::offline::{Action, ActionResult, Envelope, OfflineQueue, Outcome};
use crate::system::RandomIds;
use crate::time::{Clock, Timestamp};
use std::collections::BTreeSet;

fn create(id: ServiceRequestId) -> Action {
    Action::CreateServiceRequest(CreateServiceRequest { id: Some(id), input: request_input() })
}

fn act(id: ServiceRequestId, op: RequestOp) -> Action {
    Action::ServiceRequest(RequestCommand { request_id: id, op })
}

async fn request_ids<S: Reader + ?Sized>(store: &S, civilian: &Actor) -> BTreeSet<ServiceRequestId> {
    let filter = RequestFilter { civilian_id: civilian.user_id(), ..RequestFilter::default() };
    store.service_requests(&filter, None, 1000).await.unwrap().into_iter().map(|r| r.value.id).collect()
}

/// A civilian's queue: two requests, a rename, a cancel of the first and a rating the table refuses.
fn civilian_queue(civilian: &Actor, now: Timestamp) -> (OfflineQueue, [ServiceRequestId; 2]) {
    let ids = [ServiceRequestId::generate(&RandomIds), ServiceRequestId::generate(&RandomIds)];
    let user = civilian.user_id().unwrap();
    let mut q = OfflineQueue::new(ClientId::generate(&RandomIds));
    q.enqueue(create(ids[0]), now).unwrap();
    q.enqueue(create(ids[1]), now).unwrap();
    let rename = ProfileInput { full_name: Some("Ada Lovelace".into()), phone: None };
    q.enqueue(Action::UpdateProfile(UpdateProfile { user_id: user, input: rename }), now).unwrap();
    q.enqueue(act(ids[0], RequestOp::Cancel { reason: Some("plans changed".into()) }), now).unwrap();
    q.enqueue(act(ids[1], RequestOp::Rate { score: 5 }), now).unwrap();
    (q, ids)
}

fn statuses(results: &[ActionResult]) -> Vec<&'static str> {
    results
        .iter()
        .map(|r| match r {
            ActionResult::Applied { .. } => "applied",
            ActionResult::Duplicate { original: Outcome::Applied { .. }, .. } => "duplicate_applied",
            ActionResult::Duplicate { original: Outcome::Rejected { .. }, .. } => "duplicate_rejected",
            ActionResult::Rejected { .. } => "rejected",
            ActionResult::RetryLater { .. } => "retry_later",
        })
        .collect()
}

pub async fn offline_batches_replayed_five_times_apply_exactly_once<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civilian = w.civilian().await;
    let (mut q, ids) = civilian_queue(&civilian, w.clock.now());
    let batch = q.peek(100);
    let client = q.client_id();

    let first = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
    assert_eq!(statuses(&first), ["applied", "applied", "applied", "applied", "rejected"]);
    let ActionResult::Rejected { error, .. } = &first[4] else { unreachable!() };
    assert_eq!(error.code, ErrorCode::InvalidTransition);

    // Five sequential replays and five concurrent copies: nothing applies again, every answer is the first.
    for _ in 0..5 {
        let again = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
        assert_eq!(
            statuses(&again),
            ["duplicate_applied"; 4].iter().copied().chain(["duplicate_rejected"]).collect::<Vec<_>>()
        );
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(a.outcome(), b.outcome(), "a duplicate carries the first outcome");
        }
    }
    let mut racers = Vec::new();
    for _ in 0..5 {
        let (hh, civilian, batch) = (w.hh.clone(), civilian.clone(), batch.clone());
        racers.push(tokio::spawn(async move { hh.apply_batch(&civilian, client, &batch).await.unwrap() }));
    }
    for r in racers {
        let again = r.await.unwrap();
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(a.outcome(), b.outcome());
        }
    }
    assert_eq!(request_ids(w.store(), &civilian).await, ids.into_iter().collect());
    let cancelled = w.store().service_request(ids[0]).await.unwrap().unwrap();
    assert_eq!(cancelled.version, 2, "created once and cancelled once");
    let trail = w.hh.runner().store().audit_trail(cancelled.value.entity_ref()).await.unwrap();
    assert_eq!(trail.len(), 2);

    // The client takes the answers: the queue empties, the refused rating waits for the user.
    let report = q.acknowledge(&first, w.clock.now());
    assert_eq!((report.applied.len(), report.rejected, q.pending_count()), (4, vec![5], 0));
    assert_eq!(q.rejected()[0].error.code, ErrorCode::InvalidTransition);
    assert_eq!(w.store().client_cursor(client).await.unwrap().unwrap().last_seq, 5);
}

pub async fn offline_copies_of_a_fresh_batch_race_and_apply_once<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    for _ in 0..4 {
        let civilian = w.civilian().await;
        let (q, ids) = civilian_queue(&civilian, w.clock.now());
        let batch = q.peek(100);
        let mut racers = Vec::new();
        for _ in 0..6 {
            let (hh, civilian, batch) = (w.hh.clone(), civilian.clone(), batch.clone());
            let client = q.client_id();
            racers.push(tokio::spawn(async move { hh.apply_batch(&civilian, client, &batch).await }));
        }
        let mut applied = vec![0; 5];
        let mut outcomes: Vec<Option<Outcome>> = vec![None; 5];
        for r in racers {
            for result in r.await.unwrap().unwrap() {
                let i = usize::try_from(result.seq() - 1).unwrap();
                if matches!(result, ActionResult::Applied { .. } | ActionResult::Rejected { .. }) {
                    applied[i] += 1;
                }
                match (&outcomes[i], result.outcome()) {
                    (Some(seen), Some(now)) => assert_eq!(seen, &now, "every copy answers the same outcome"),
                    (None, now) => outcomes[i] = now,
                    (Some(_), None) => {}
                }
            }
        }
        assert!(applied.iter().all(|n| *n <= 1), "no action is applied twice: {applied:?}");
        let finished = w.hh.apply_batch(&civilian, q.client_id(), &batch).await.unwrap();
        assert!(finished.iter().all(|r| matches!(r, ActionResult::Duplicate { .. })), "{finished:?}");
        assert_eq!(request_ids(w.store(), &civilian).await, ids.into_iter().collect());
        w.clock.advance(chrono::Duration::minutes(2));
    }
}

pub async fn offline_a_crash_mid_batch_loses_nothing_acknowledged<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    // Cut the server off after a growing number of polls: before, during and after each commit.
    for cut in 0..12u32 {
        let civilian = w.civilian().await;
        let (q, ids) = civilian_queue(&civilian, w.clock.now());
        // The first two actions go through and are acknowledged; the host persists the queue.
        let mut q = q;
        let first = w.hh.apply_batch(&civilian, q.client_id(), &q.peek(2)).await.unwrap();
        q.acknowledge(&first, w.clock.now());
        let saved = q.export().unwrap();

        // The rest is sent, and the server dies part-way: the future is dropped mid-flight.
        let rest = q.peek(100);
        {
            let hh = w.hh.clone();
            let (civilian, client) = (civilian.clone(), q.client_id());
            let mut fut = Box::pin(async move { hh.apply_batch(&civilian, client, &rest).await });
            for _ in 0..cut {
                if futures_poll_once(&mut fut).await {
                    break;
                }
            }
        }
        // The app restarts from what it persisted and sends again.
        let mut q = OfflineQueue::import(&saved).unwrap();
        assert_eq!(q.pending_count(), 3, "acknowledged actions stay done; the rest waits");
        let results = w.hh.apply_batch(&civilian, q.client_id(), &q.peek(100)).await.unwrap();
        q.acknowledge(&results, w.clock.now());
        assert_eq!(q.pending_count(), 0);
        assert_eq!(q.rejected().len(), 1, "the rating is refused exactly once");
        assert_eq!(request_ids(w.store(), &civilian).await, ids.into_iter().collect());
        let cancelled = w.store().service_request(ids[0]).await.unwrap().unwrap();
        assert_eq!((cancelled.version, cancelled.value.status.to_string()), (2, "cancelled".to_owned()));
        assert_eq!(w.store().client_cursor(q.client_id()).await.unwrap().unwrap().last_seq, 5);
        w.clock.advance(chrono::Duration::minutes(2));
    }
}

/// Polls `fut` once, then lets the runtime (and blocking threads) run a moment. True when it finished.
async fn futures_poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> bool {
    let done =
        std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *fut).poll(cx).is_ready())).await;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    done
}

pub async fn offline_dependents_gaps_and_ownership<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civilian = w.civilian().await;
    let now = w.clock.now();
    let id = ServiceRequestId::generate(&RandomIds);
    let mut q = OfflineQueue::new(ClientId::generate(&RandomIds));
    // Valid when queued; by the time it syncs, the scheduled date has passed.
    let mut late = request_input();
    late.scheduled_date = Some("2026-06-01T13:00:00Z".into());
    q.enqueue(Action::CreateServiceRequest(CreateServiceRequest { id: Some(id), input: late }), now).unwrap();
    q.enqueue(act(id, RequestOp::Cancel { reason: None }), now).unwrap();
    assert_eq!(q.pending()[1].depends_on, vec![1], "acting on a queued creation depends on it");
    w.clock.advance(chrono::Duration::hours(2));

    let results = w.hh.apply_batch(&civilian, q.client_id(), &q.peek(10)).await.unwrap();
    let [ActionResult::Rejected { error: parent, .. }, ActionResult::Rejected { error: child, .. }] = &results[..]
    else {
        panic!("both rejected: {results:?}")
    };
    assert_eq!(parent.code, ErrorCode::Validation);
    assert_eq!(parent.fields[0].field, "scheduled_date");
    assert_eq!(child.code, ErrorCode::DependencyRejected);
    assert!(request_ids(w.store(), &civilian).await.is_empty());

    // A gap is refused and writes nothing.
    let next = Envelope {
        client_id: q.client_id(),
        seq: 4,
        action: create(ServiceRequestId::generate(&RandomIds)),
        created_at: now,
        depends_on: vec![],
    };
    let before = crate::testing::digest(w.store()).await;
    let cursor = w.store().client_cursor(q.client_id()).await.unwrap();
    let err = w.hh.apply_batch(&civilian, q.client_id(), std::slice::from_ref(&next)).await.unwrap_err();
    assert_eq!((err.code, err.fields[0].field.as_str()), (ErrorCode::PreconditionFailed, "envelopes[0].seq"));
    assert_eq!(crate::testing::digest(w.store()).await, before, "a gap writes nothing");
    assert_eq!(w.store().client_cursor(q.client_id()).await.unwrap(), cursor, "the cursor stands");
    assert_eq!(err.fields[0].violation, crate::validate::Violation::SeqGap { expected: 3 });

    // Someone else's stream is not theirs to write or read.
    let other = w.civilian().await;
    let third = Envelope { seq: 3, ..next.clone() };
    let err = w.hh.apply_batch(&other, q.client_id(), std::slice::from_ref(&third)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Forbidden);
    let err = w.hh.apply_batch(&Actor::Anonymous, q.client_id(), std::slice::from_ref(&third)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Unauthenticated);

    // A different action under a recorded seq is refused and changes nothing.
    let mut forged = q.peek(1)[0].clone();
    forged.action = create(ServiceRequestId::generate(&RandomIds));
    let before = crate::testing::digest(w.store()).await;
    let cursor = w.store().client_cursor(q.client_id()).await.unwrap();
    let r = w.hh.apply_batch(&civilian, q.client_id(), &[forged]).await.unwrap();
    assert!(matches!(&r[0], ActionResult::Rejected { error, .. } if error.code == ErrorCode::IdempotencyMismatch));
    assert_eq!(crate::testing::digest(w.store()).await, before, "a forged action writes nothing");
    assert_eq!(w.store().client_cursor(q.client_id()).await.unwrap(), cursor, "the cursor stands");

    // Out-of-order envelopes and foreign client ids are field errors.
    let bad = [third.clone(), Envelope { seq: 5, client_id: ClientId::generate(&RandomIds), ..third.clone() }];
    let err = w.hh.apply_batch(&civilian, q.client_id(), &bad).await.unwrap_err();
    let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["envelopes[1].client_id", "envelopes[1].seq"]);

    // Rate limits are transient: the action and everything after it wait; nothing is recorded.
    let mut q2 = OfflineQueue::new(ClientId::generate(&RandomIds));
    for _ in 0..7 {
        q2.enqueue(create(ServiceRequestId::generate(&RandomIds)), w.clock.now()).unwrap();
    }
    let r = w.hh.apply_batch(&civilian, q2.client_id(), &q2.peek(10)).await.unwrap();
    assert_eq!(statuses(&r), ["applied", "applied", "applied", "applied", "applied", "retry_later", "retry_later"]);
    let report = q2.acknowledge(&r, w.clock.now());
    assert_eq!((q2.pending_count(), report.retry_later), (2, vec![6, 7]));
    let retry_at = report.next_attempt_at.expect("a backoff is scheduled");
    assert!(!q2.is_due(w.clock.now()) && q2.is_due(retry_at));
    w.clock.advance(chrono::Duration::minutes(2));
    let r = w.hh.apply_batch(&civilian, q2.client_id(), &q2.peek(10)).await.unwrap();
    assert_eq!(statuses(&r), ["applied", "applied"]);
    q2.acknowledge(&r, w.clock.now());
    assert_eq!((q2.pending_count(), q2.failures(), q2.next_attempt_at()), (0, 0, None));
}

crate::conformance_cases!("offline";
    offline_batches_replayed_five_times_apply_exactly_once,
    offline_copies_of_a_fresh_batch_race_and_apply_once,
    offline_a_crash_mid_batch_loses_nothing_acknowledged,
    offline_dependents_gaps_and_ownership
);
