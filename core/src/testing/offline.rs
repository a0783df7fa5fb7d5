//! The offline queue against a real store: exactly once under replays, concurrent copies and
//! crashes cut at exact commits; dependencies, gaps, stream ownership under racing first pushes,
//! transient store failures that record nothing, and a client restored from an old saved queue.

use super::fixtures::{request_input, World};
use crate::actor::Actor;
use crate::error::ErrorCode;
use crate::homeheroes::commands::{CreateServiceRequest, RequestCommand, RequestOp, UpdateProfile};
use crate::homeheroes::input::ProfileInput;
use crate::homeheroes::{HomeHeroesStore, RequestFilter};
use crate::id::{ClientId, ServiceRequestId};
use crate::kernel::entity::Entity;
use crate::kernel::store::{
    AuditRecord, ChangeSet, ClientActionRecord, ClientCursor, IdempotencyRecord, OutboxEvent, Reader, Reads, Store,
    StoreError, StoreResult, StoredRow,
};
use crate::kernel::{query::Query, EntityKind, EntityRef};
use crate::offline::{Action, ActionResult, Envelope, OfflineQueue, Outcome, StreamStatus};
use crate::system::RandomIds;
use crate::time::{Clock, Timestamp};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

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

    let answer = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
    let first = answer.results.clone();
    assert_eq!(statuses(&first), ["applied", "applied", "applied", "applied", "rejected"]);
    // The answer says where the stream stands: the last recorded seq and its outcome.
    assert_eq!(answer.cursor, StreamStatus { last_seq: 5, last_outcome: first[4].outcome() });
    let ActionResult::Rejected { error, .. } = &first[4] else { unreachable!() };
    assert_eq!(error.code, ErrorCode::InvalidTransition);

    // Five sequential replays and five concurrent copies: nothing applies again, every answer is the first.
    for _ in 0..5 {
        let again = w.hh.apply_batch(&civilian, client, &batch).await.unwrap().results;
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
        racers.push(tokio::spawn(async move { hh.apply_batch(&civilian, client, &batch).await.unwrap().results }));
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
            for result in r.await.unwrap().unwrap().results {
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
        let finished = w.hh.apply_batch(&civilian, q.client_id(), &batch).await.unwrap().results;
        assert!(finished.iter().all(|r| matches!(r, ActionResult::Duplicate { .. })), "{finished:?}");
        assert_eq!(request_ids(w.store(), &civilian).await, ids.into_iter().collect());
        w.clock.advance(chrono::Duration::minutes(2));
    }
}

pub async fn offline_a_crash_mid_batch_loses_nothing_acknowledged<S: Store + Clone + 'static>(store: S) {
    let store = FaultStore::new(store);
    let w = World::new(store.clone());
    // The rest of the queue (rename, cancel, refused rating) is three commits: the rename's, the
    // cancel's and the rating's rejection record. The server dies at each cut point in turn —
    // before commit k reaches the store, or after it committed but before the answer — and each cut
    // is checked to have landed exactly there (the stream's cursor) before the client retries.
    let cuts = [
        (Plan::HangBefore(0), 2), // before the first commit: nothing of the batch
        (Plan::HangAfter(0), 3),  // after action 3 committed, answer lost
        (Plan::HangBefore(1), 3), // mid-batch after action 3, before action 4's commit
        (Plan::HangAfter(1), 4),  // after action 4 committed
        (Plan::HangBefore(2), 4), // before the rejection of action 5 is recorded
        (Plan::HangAfter(2), 5),  // after the whole batch committed, before the answer
    ];
    for (plan, landed_at) in cuts {
        let civilian = w.civilian().await;
        let (q, ids) = civilian_queue(&civilian, w.clock.now());
        // The first two actions go through and are acknowledged; the host persists the queue.
        let mut q = q;
        let first = w.hh.apply_batch(&civilian, q.client_id(), &q.peek(2)).await.unwrap();
        q.acknowledge_batch(&first, w.clock.now());
        let saved = q.export().unwrap();

        // The rest is sent, and the server dies at the cut: the future is dropped there.
        let rest = q.peek(100);
        let reached = store.arm(plan.clone());
        {
            let hh = w.hh.clone();
            let (civilian, client) = (civilian.clone(), q.client_id());
            let batch = async move { hh.apply_batch(&civilian, client, &rest).await };
            tokio::select! {
                r = batch => panic!("the batch finished past its cut {plan:?}: {r:?}"),
                _ = reached.notified() => {}
            }
        }
        store.arm(Plan::Pass);
        let cursor = w.store().client_cursor(q.client_id()).await.unwrap().unwrap();
        assert_eq!(cursor.last_seq, landed_at, "the cut {plan:?} landed where it says");

        // The app restarts from what it persisted and sends again.
        let mut q = OfflineQueue::import(&saved).unwrap();
        assert_eq!(q.pending_count(), 3, "acknowledged actions stay done; the rest waits");
        let answer = w.hh.apply_batch(&civilian, q.client_id(), &q.peek(100)).await.unwrap();
        let done_before = usize::try_from(landed_at - 2).unwrap();
        let expected: Vec<&str> = ["duplicate_applied", "duplicate_applied", "duplicate_rejected"][..done_before]
            .iter()
            .copied()
            .chain(["applied", "applied", "rejected"][done_before..].iter().copied())
            .collect();
        assert_eq!(statuses(&answer.results), expected, "cut {plan:?}");
        q.acknowledge_batch(&answer, w.clock.now());
        assert_eq!(q.pending_count(), 0);
        assert_eq!(q.rejected().len(), 1, "the rating is refused exactly once");
        assert_eq!(request_ids(w.store(), &civilian).await, ids.into_iter().collect());
        let cancelled = w.store().service_request(ids[0]).await.unwrap().unwrap();
        assert_eq!((cancelled.version, cancelled.value.status.to_string()), (2, "cancelled".to_owned()));
        assert_eq!(w.store().client_cursor(q.client_id()).await.unwrap().unwrap().last_seq, 5);
        assert_eq!(answer.cursor.last_seq, 5);
        w.clock.advance(chrono::Duration::minutes(2));
    }
}

/// What [`FaultStore`] does to the commits after it is armed (counted from 0).
#[derive(Debug, Clone)]
pub enum Plan {
    /// Every commit reaches the store.
    Pass,
    /// Commit `k` fails with this error without reaching the store.
    FailAt(u32, StoreError),
    /// Commit `k` never reaches the store: the caller waits forever (the server dies there).
    HangBefore(u32),
    /// Commit `k` is applied, then the caller waits forever (the answer is lost).
    HangAfter(u32),
    /// The first `n` commits wait for each other at this barrier (of `n`) and then go on together:
    /// racers that all read before any of them commits.
    Gate(Arc<tokio::sync::Barrier>, u32),
}

/// A store that counts commits and fails or stops one of them on purpose: deterministic cut points
/// and injected failures on top of any store (reads pass straight through).
#[derive(Clone)]
pub struct FaultStore<S> {
    inner: S,
    commits: Arc<AtomicU32>,
    plan: Arc<Mutex<Plan>>,
    reached: Arc<Mutex<Arc<tokio::sync::Notify>>>,
}

impl<S: Store + Clone + 'static> FaultStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            commits: Arc::new(AtomicU32::new(0)),
            plan: Arc::new(Mutex::new(Plan::Pass)),
            reached: Arc::new(Mutex::new(Arc::new(tokio::sync::Notify::new()))),
        }
    }
    /// Arms `plan`, counting commits from 0 again; notified when a hang or failure is reached.
    pub fn arm(&self, plan: Plan) -> Arc<tokio::sync::Notify> {
        *self.plan.lock().unwrap() = plan;
        self.commits.store(0, Ordering::SeqCst);
        let fresh = Arc::new(tokio::sync::Notify::new());
        *self.reached.lock().unwrap() = fresh.clone();
        fresh
    }
}

#[async_trait::async_trait]
impl<S: Store + Clone + 'static> Reader for FaultStore<S> {
    async fn get_row(&self, kind: EntityKind, id: uuid::Uuid) -> StoreResult<Option<StoredRow>> {
        self.inner.get_row(kind, id).await
    }
    async fn query_rows(&self, query: &Query) -> StoreResult<Vec<StoredRow>> {
        self.inner.query_rows(query).await
    }
    async fn count_rows(&self, query: &Query) -> StoreResult<u64> {
        self.inner.count_rows(query).await
    }
    async fn get_with_parent(
        &self,
        kind: EntityKind,
        id: uuid::Uuid,
        via: &'static str,
        parent: EntityKind,
    ) -> StoreResult<Option<(StoredRow, Option<StoredRow>)>> {
        self.inner.get_with_parent(kind, id, via, parent).await
    }
    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        self.inner.idempotency_record(scope, key).await
    }
    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>> {
        self.inner.audit_trail(entity).await
    }
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>> {
        self.inner.outbox_after(after, limit).await
    }
    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>> {
        self.inner.client_cursor(client_id).await
    }
    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>> {
        self.inner.client_actions(client_id, from, to).await
    }
}

crate::delegate_job_queue!([S: Store + Clone + 'static] FaultStore<S>, inner);

#[async_trait::async_trait]
impl<S: Store + Clone + 'static> Store for FaultStore<S> {
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()> {
        let n = self.commits.fetch_add(1, Ordering::SeqCst);
        let plan = self.plan.lock().unwrap().clone();
        let reached = self.reached.lock().unwrap().clone();
        match plan.clone() {
            Plan::FailAt(k, e) if k == n => {
                reached.notify_one();
                return Err(e);
            }
            Plan::HangBefore(k) if k == n => {
                reached.notify_one();
                std::future::pending::<()>().await;
            }
            Plan::Gate(barrier, k) if n < k => {
                barrier.wait().await;
            }
            _ => {}
        }
        self.inner.commit(changes).await?;
        if matches!(plan, Plan::HangAfter(k) if k == n) {
            reached.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(())
    }
    async fn snapshot(&self, reads: Reads) -> StoreResult<Box<dyn Reader + '_>> {
        self.inner.snapshot(reads).await
    }
    fn enforces_backstops(&self) -> bool {
        self.inner.enforces_backstops()
    }
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

    let results = w.hh.apply_batch(&civilian, q.client_id(), &q.peek(10)).await.unwrap().results;
    let [ActionResult::Rejected { error: parent, .. }, ActionResult::Rejected { error: child, .. }] = &results[..]
    else {
        panic!("both rejected: {results:?}")
    };
    assert_eq!(parent.code, ErrorCode::Validation);
    // The server names the field by the action's JSON path, as the client's validation does.
    assert_eq!(parent.fields[0].field, "input.scheduled_date");
    let client_side = q.pending()[0].action.validate(w.clock.now()).unwrap_err();
    assert_eq!(client_side.errors()[0].field, parent.fields[0].field, "one field path, client and server");
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
    let r = w.hh.apply_batch(&civilian, q.client_id(), &[forged]).await.unwrap().results;
    assert!(matches!(&r[0], ActionResult::Rejected { error, .. } if error.code == ErrorCode::IdempotencyMismatch));
    assert_eq!(crate::testing::digest(w.store()).await, before, "a forged action writes nothing");
    assert_eq!(w.store().client_cursor(q.client_id()).await.unwrap(), cursor, "the cursor stands");

    // Out-of-order envelopes and foreign client ids are field errors.
    let bad = [third.clone(), Envelope { seq: 5, client_id: ClientId::generate(&RandomIds), ..third.clone() }];
    let err = w.hh.apply_batch(&civilian, q.client_id(), &bad).await.unwrap_err();
    let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["envelopes[1].client_id", "envelopes[1].seq"]);

    // Rate limits are transient: the action and everything after it wait; nothing is recorded.
    // The answer says when the window frees a place, and the queue waits that long, not the
    // backoff's first second (which would be a futile attempt).
    let mut q2 = OfflineQueue::new(ClientId::generate(&RandomIds));
    for _ in 0..7 {
        q2.enqueue(create(ServiceRequestId::generate(&RandomIds)), w.clock.now()).unwrap();
    }
    let r = w.hh.apply_batch(&civilian, q2.client_id(), &q2.peek(10)).await.unwrap();
    assert_eq!(
        statuses(&r.results),
        ["applied", "applied", "applied", "applied", "applied", "retry_later", "retry_later"]
    );
    let ActionResult::RetryLater { error, .. } = &r.results[5] else { unreachable!() };
    // All five were created at this instant: the request-creation limit (seed 000 "Rate Limiting",
    // 5 per minute; GCRA, `crate::limits`) gives one place back every 12 s.
    let emission_ms = 12_000;
    assert_eq!((error.code, error.retry_after_ms), (ErrorCode::RateLimited, Some(emission_ms)));
    assert_eq!(r.cursor.last_seq, 5, "the refused actions are not recorded");
    assert!(w.store().client_actions(q2.client_id(), 6, 7).await.unwrap().is_empty());
    let report = q2.acknowledge_batch(&r, w.clock.now());
    assert_eq!((q2.pending_count(), report.retry_later), (2, vec![6, 7]));
    let retry_at = report.next_attempt_at.expect("a backoff is scheduled");
    assert_eq!(retry_at, w.clock.now().checked_add(chrono::Duration::milliseconds(12_000)).unwrap());
    let just_before = w.clock.now().checked_add(chrono::Duration::milliseconds(11_999)).unwrap();
    assert!(!q2.is_due(just_before) && q2.is_due(retry_at));
    // One place is back: the sixth lands, the seventh waits one more interval.
    w.clock.advance(chrono::Duration::milliseconds(12_000));
    let r = w.hh.apply_batch(&civilian, q2.client_id(), &q2.peek(10)).await.unwrap();
    assert_eq!(statuses(&r.results), ["applied", "retry_later"]);
    let ActionResult::RetryLater { error, .. } = &r.results[1] else { unreachable!() };
    assert_eq!(error.retry_after_ms, Some(emission_ms));
    let report = q2.acknowledge_batch(&r, w.clock.now());
    assert_eq!(report.retry_later, vec![7]);
    w.clock.advance(chrono::Duration::milliseconds(12_000));
    let r = w.hh.apply_batch(&civilian, q2.client_id(), &q2.peek(10)).await.unwrap();
    assert_eq!(statuses(&r.results), ["applied"]);
    q2.acknowledge_batch(&r, w.clock.now());
    assert_eq!((q2.pending_count(), q2.failures(), q2.next_attempt_at()), (0, 0, None));
}

/// Issue 15 §2: two principals race the first push of one fresh client id. Replicache's push rule
/// (<https://doc.replicache.dev/reference/server-push>, "Checking clientID ownership"): "the
/// clientID must belong to the user" — checked inside each mutation's transaction. Here the store
/// records the owner with the stream's first action and checks it in every action's commit.
pub async fn offline_two_users_racing_a_fresh_stream_leave_one_owner<S: Store + Clone + 'static>(store: S) {
    const ROUNDS: usize = 20;
    let store = FaultStore::new(store);
    let w = World::new(store.clone());
    for round in 0..ROUNDS {
        let users = [w.civilian().await, w.civilian().await];
        let client = ClientId::generate(&RandomIds);
        // Each user's batch: create their own request, then rename themselves.
        let mut batches = Vec::new();
        let mut created = Vec::new();
        for u in &users {
            let id = ServiceRequestId::generate(&RandomIds);
            let rename = ProfileInput { full_name: Some(format!("Racer {round}")), phone: None };
            let actions =
                [create(id), Action::UpdateProfile(UpdateProfile { user_id: u.user_id().unwrap(), input: rename })];
            let batch: Vec<Envelope> = actions
                .into_iter()
                .zip(1..)
                .map(|(action, seq)| Envelope {
                    client_id: client,
                    seq,
                    action,
                    created_at: w.clock.now(),
                    depends_on: vec![],
                })
                .collect();
            batches.push(batch);
            created.push(id);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        // Both first commits wait until both are ready: both racers have read the (absent) cursor
        // before either commits, so the store's commit alone decides the owner, every round.
        store.arm(Plan::Gate(Arc::new(tokio::sync::Barrier::new(2)), 2));
        let mut racers = Vec::new();
        for (u, batch) in users.iter().cloned().zip(batches.clone()) {
            let (hh, barrier) = (w.hh.clone(), barrier.clone());
            racers.push(tokio::spawn(async move {
                barrier.wait().await;
                hh.apply_batch(&u, client, &batch).await
            }));
        }
        let mut answers = Vec::new();
        for r in racers {
            answers.push(r.await.unwrap());
        }
        store.arm(Plan::Pass);
        let winner = match (&answers[0], &answers[1]) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                assert_eq!(e.code, ErrorCode::Forbidden, "round {round}: the loser is refused: {e:?}");
                usize::from(answers[0].is_err())
            }
            other => panic!("round {round}: exactly one owner, got {other:?}"),
        };
        let loser = 1 - winner;
        let won = answers[winner].as_ref().unwrap();
        assert_eq!(statuses(&won.results), ["applied", "applied"], "round {round}");
        // The rows after: the owner row and every action row name the winner; the loser wrote nothing.
        let owner = users[winner].principal();
        let cursor = w.store().client_cursor(client).await.unwrap().unwrap();
        assert_eq!(cursor, ClientCursor { principal: owner.clone(), last_seq: 2 });
        let rows = w.store().client_actions(client, 1, u64::MAX).await.unwrap();
        assert_eq!(
            rows.iter().map(|r| (r.seq, r.principal.as_str())).collect::<Vec<_>>(),
            [(1, &*owner), (2, &*owner)]
        );
        assert_eq!(request_ids(w.store(), &users[winner]).await, BTreeSet::from([created[winner]]));
        assert!(
            request_ids(w.store(), &users[loser]).await.is_empty(),
            "round {round}: the loser's request was not created"
        );
        let loser_profile = w.store().profile(users[loser].user_id().unwrap()).await.unwrap().unwrap();
        assert_eq!(loser_profile.version, 1, "round {round}: the loser was not renamed");
        // No result crosses: the loser's resend (and status call) is refused, never a duplicate of
        // the owner's answers; the owner's resend answers duplicates.
        let before = crate::testing::digest(w.store()).await;
        let again = w.hh.apply_batch(&users[loser], client, &batches[loser]).await.unwrap_err();
        assert_eq!(again.code, ErrorCode::Forbidden);
        let status = w.hh.stream_status(&users[loser], client).await.unwrap_err();
        assert_eq!(status.code, ErrorCode::Forbidden);
        assert_eq!(crate::testing::digest(w.store()).await, before, "a refused stream writes nothing");
        let replay = w.hh.apply_batch(&users[winner], client, &batches[winner]).await.unwrap();
        assert_eq!(statuses(&replay.results), ["duplicate_applied", "duplicate_applied"]);
        w.clock.advance(chrono::Duration::minutes(2));
    }
}

/// Issue 15 §1: a transient store failure (here injected at an exact commit; each store's own test
/// provokes the real ones: cancelled statements, lock timeouts, killed backends, a busy SQLite file)
/// records nothing, answers `retry_later` for that action and the rest, and never becomes a final
/// refusal — nor does an `internal` error. Replicache's push rule
/// (<https://doc.replicache.dev/reference/server-push>, "Error handling"): "If a temporary error …
/// the server should halt processing … without marking the mutation processed".
pub async fn offline_transient_failures_record_nothing_and_stop_the_batch<S: Store + Clone + 'static>(store: S) {
    let store = FaultStore::new(store);
    let w = World::new(store.clone());
    let civilian = w.civilian().await;
    let (q, ids) = civilian_queue(&civilian, w.clock.now());
    let mut q = q;
    let client = q.client_id();
    let unavailable = |m: &str| StoreError::Unavailable { message: m.into() };
    let backend = || StoreError::Backend { message: "unexpected".into() };
    // (plan, actions applied before it fires, the code the failed action answers)
    let failures = [
        // Action 2's commit finds the store unavailable (a cancelled statement, a lost connection).
        (Plan::FailAt(1, unavailable("canceling statement due to statement timeout")), 1, ErrorCode::Unavailable),
        // An unclassified store error at action 2's commit: `internal`, never recorded.
        (Plan::FailAt(0, backend()), 0, ErrorCode::Internal),
        // Actions 2–4 apply; the rejection record of action 5 cannot be written.
        (Plan::FailAt(3, unavailable("database is locked")), 3, ErrorCode::Unavailable),
        (Plan::FailAt(0, backend()), 0, ErrorCode::Internal),
    ];
    for (plan, applied, code) in failures {
        let reached = store.arm(plan.clone());
        let before = crate::testing::digest(w.store()).await;
        let last = w.store().client_cursor(client).await.unwrap().map_or(0, |c| c.last_seq);
        let answer = w.hh.apply_batch(&civilian, client, &q.peek(100)).await.unwrap();
        reached.notified().await;
        let mut expected = vec!["applied"; applied];
        expected.resize(q.pending_count(), "retry_later");
        assert_eq!(statuses(&answer.results), expected, "{plan:?}");
        let failed = &answer.results[applied];
        let ActionResult::RetryLater { error, .. } = failed else { unreachable!() };
        assert_eq!(error.code, code, "{plan:?}");
        // Nothing of the failed action or after it was recorded; the cursor says so.
        let applied = u64::try_from(applied).unwrap();
        assert_eq!(answer.cursor.last_seq, last + applied, "{plan:?}");
        assert!(w.store().client_actions(client, failed.seq(), u64::MAX).await.unwrap().is_empty(), "{plan:?}");
        if applied == 0 {
            assert_eq!(crate::testing::digest(w.store()).await, before, "{plan:?}: nothing written");
        }
        q.acknowledge_batch(&answer, w.clock.now());
        w.clock.advance(chrono::Duration::minutes(10));
    }
    store.arm(Plan::Pass);
    let answer = w.hh.apply_batch(&civilian, client, &q.peek(100)).await.unwrap();
    assert_eq!(statuses(&answer.results), ["rejected"], "the rating is refused once, for good");
    let ActionResult::Rejected { error, .. } = &answer.results[0] else { unreachable!() };
    assert_eq!(error.code, ErrorCode::InvalidTransition);
    // Every action landed exactly once, and no `internal` or `unavailable` was ever recorded.
    let rows = w.store().client_actions(client, 1, u64::MAX).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    for r in &rows {
        let text = r.outcome.to_string();
        assert!(!text.contains("\"internal\"") && !text.contains("\"unavailable\""), "{text}");
    }
    assert_eq!(request_ids(w.store(), &civilian).await, ids.into_iter().collect());
    let cancelled = w.store().service_request(ids[0]).await.unwrap().unwrap();
    assert_eq!(cancelled.version, 2, "created once and cancelled once");
}

/// Issue 15 §3: a client restored from an old saved queue learns the server's cursor (from the
/// status call, or from a batch answer) and renumbers what the server did not record; what the
/// server did record answers `duplicate` and is never applied twice.
pub async fn offline_a_queue_restored_from_a_stale_export_catches_up<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civilian = w.civilian().await;
    let user = civilian.user_id().unwrap();
    let rename = |name: &str| {
        Action::UpdateProfile(UpdateProfile {
            user_id: user,
            input: ProfileInput { full_name: Some(name.into()), phone: None },
        })
    };
    let mut q = OfflineQueue::new(ClientId::generate(&RandomIds));
    let client = q.client_id();
    let first = ServiceRequestId::generate(&RandomIds);
    q.enqueue(create(first), w.clock.now()).unwrap();
    q.enqueue(rename("Ada One"), w.clock.now()).unwrap();
    let answer = w.hh.apply_batch(&civilian, client, &q.peek(100)).await.unwrap();
    q.acknowledge_batch(&answer, w.clock.now());
    // The export the device will be restored from: a rename waits in it, not yet sent.
    q.enqueue(rename("Ada Two"), w.clock.now()).unwrap();
    let stale = q.export().unwrap();
    // After the export the device sends it and goes on: the server reaches seq 5.
    q.enqueue(rename("Ada Three"), w.clock.now()).unwrap();
    q.enqueue(rename("Ada Four"), w.clock.now()).unwrap();
    let answer = w.hh.apply_batch(&civilian, client, &q.peek(100)).await.unwrap();
    assert_eq!(statuses(&answer.results), ["applied"; 3]);
    assert_eq!(answer.cursor.last_seq, 5);
    let status = w.hh.stream_status(&civilian, client).await.unwrap();
    assert_eq!(status, answer.cursor, "the status call and the batch answer agree");
    assert_eq!(w.hh.stream_status(&Actor::Anonymous, client).await.unwrap_err().code, ErrorCode::Unauthenticated);
    let fresh = w.hh.stream_status(&civilian, ClientId::generate(&RandomIds)).await.unwrap();
    assert_eq!(fresh, StreamStatus::default());

    // Restored from the stale export: the waiting rename (seq 3) was applied after the export; new
    // actions would reuse 4 and 5. The user creates a request and cancels it while offline.
    let mut restored = OfflineQueue::import(&stale).unwrap();
    let second = ServiceRequestId::generate(&RandomIds);
    assert_eq!(restored.enqueue(create(second), w.clock.now()).unwrap(), 4);
    assert_eq!(restored.enqueue(act(second, RequestOp::Cancel { reason: None }), w.clock.now()).unwrap(), 5);
    let before = crate::testing::digest(w.store()).await;
    let answer = w.hh.apply_batch(&civilian, client, &restored.peek(100)).await.unwrap();
    assert_eq!(statuses(&answer.results), ["duplicate_applied", "rejected", "retry_later"]);
    let ActionResult::Rejected { error, .. } = &answer.results[1] else { unreachable!() };
    assert_eq!(error.code, ErrorCode::IdempotencyMismatch);
    assert_eq!(answer.cursor.last_seq, 5);
    assert_eq!(crate::testing::digest(w.store()).await, before, "the mismatch wrote nothing, applied nothing after it");
    let report = restored.acknowledge_batch(&answer, w.clock.now());
    assert_eq!((report.applied, report.renumbered), (vec![3], vec![(4, 6), (5, 7)]));
    assert_eq!(restored.pending()[1].depends_on, vec![6], "the cancel still depends on its creation");
    assert!(restored.is_due(w.clock.now()), "renumbered actions go again at once");
    let answer = w.hh.apply_batch(&civilian, client, &restored.peek(100)).await.unwrap();
    assert_eq!(statuses(&answer.results), ["applied", "applied"]);
    restored.acknowledge_batch(&answer, w.clock.now());
    assert_eq!((restored.pending_count(), restored.rejected().len()), (0, 0));
    let profile = w.store().profile(user).await.unwrap().unwrap();
    assert_eq!(profile.value.full_name.as_deref(), Some("Ada Four"), "the stale rename was not applied again");
    assert_eq!(w.store().service_request(second).await.unwrap().unwrap().value.status.to_string(), "cancelled");

    // The other way in: a restored queue with nothing waiting asks the status call first.
    let mut again = OfflineQueue::import(&stale).unwrap();
    let answer = w.hh.apply_batch(&civilian, client, &again.peek(100)).await.unwrap();
    again.acknowledge_batch(&answer, w.clock.now());
    again.adopt_cursor(&w.hh.stream_status(&civilian, client).await.unwrap());
    assert_eq!(again.enqueue(rename("Ada Five"), w.clock.now()).unwrap(), 8);
    let answer = w.hh.apply_batch(&civilian, client, &again.peek(100)).await.unwrap();
    assert_eq!(statuses(&answer.results), ["applied"]);
    assert_eq!(answer.cursor.last_seq, 8);
}

/// Issue 15 §4: the server's rejection of an action names its fields by the action's JSON path,
/// exactly as the client's validation of the same action does (`input.title`, `interest.phone`).
pub async fn offline_a_server_rejection_names_the_client_s_field_path<S: Store + Clone + 'static>(store: S) {
    let w = World::new(store);
    let civilian = w.civilian().await;
    let user = civilian.user_id().unwrap();
    let mut short = request_input();
    short.title = Some("Fix".into());
    let bad_name = ProfileInput { full_name: Some("x".repeat(101)), phone: None };
    // Sent as a client that skipped validation would: the server finds the same fields.
    let actions = [
        Action::CreateServiceRequest(CreateServiceRequest {
            id: Some(ServiceRequestId::generate(&RandomIds)),
            input: short,
        }),
        Action::UpdateProfile(UpdateProfile { user_id: user, input: bad_name }),
    ];
    let client = ClientId::generate(&RandomIds);
    let batch: Vec<Envelope> = actions
        .iter()
        .cloned()
        .zip(1..)
        .map(|(action, seq)| Envelope { client_id: client, seq, action, created_at: w.clock.now(), depends_on: vec![] })
        .collect();
    let answer = w.hh.apply_batch(&civilian, client, &batch).await.unwrap();
    for (action, result) in actions.iter().zip(&answer.results) {
        let ActionResult::Rejected { error, .. } = result else { panic!("rejected: {result:?}") };
        let client_side = action.validate(w.clock.now()).unwrap_err();
        let server: Vec<&str> = error.fields.iter().map(|f| f.field.as_str()).collect();
        let local: Vec<&str> = client_side.errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(server, local, "one path for one field, client and server");
        assert!(server.iter().all(|f| f.starts_with("input.")), "{server:?}");
        assert_eq!(error.message, crate::Error::from(client_side).message);
    }
}

crate::conformance_cases!("offline";
    offline_batches_replayed_five_times_apply_exactly_once,
    offline_copies_of_a_fresh_batch_race_and_apply_once,
    offline_a_crash_mid_batch_loses_nothing_acknowledged,
    offline_dependents_gaps_and_ownership,
    offline_two_users_racing_a_fresh_stream_leave_one_owner,
    offline_transient_failures_record_nothing_and_stop_the_batch,
    offline_a_queue_restored_from_a_stale_export_catches_up,
    offline_a_server_rejection_names_the_client_s_field_path
);
