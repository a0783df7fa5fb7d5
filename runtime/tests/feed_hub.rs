//! The change-feed hub on real stores (issue 10, "Change feed"; the seeds' Supabase Realtime
//! subscriptions: Viramah §10–§11, HomeHeroes §4 and §10): delivery filtered by core per actor,
//! wake-ups (Postgres LISTEN/NOTIFY, SQLite in-process) with lost notifications covered by the
//! poll, replay from a cursor, `cursor_expired` past the retention, and a slow subscriber
//! disconnected with its cursor while the others go on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "feed_common/mod.rs"]
mod common;

use common::{emit, event, someone};
use hearth_core::actor::{Actor, Role};
use hearth_core::error::ErrorCode;
use hearth_core::id::TenantId;
use hearth_core::kernel::entity::Readers;
use hearth_core::kernel::feed::{may_receive, Feed, FeedCursor};
use hearth_core::kernel::store::{OutboxEvent, Store};
use hearth_core::system::RandomIds;
use hearth_core::time::Timestamp;
use hearth_runtime::feed::wake::{PgWake, PollOnly, SqliteWake, WakeUp};
use hearth_runtime::feed::{Closed, Hub, HubConfig, Subscription};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

/// Receives `n` events, failing after [`PATIENCE`].
async fn take(sub: &mut Subscription, n: usize) -> Vec<OutboxEvent> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(PATIENCE, sub.recv()).await {
            Ok(Some(e)) => got.push(e.event.clone()),
            Ok(None) => panic!("subscription ended after {} of {n}: {:?}", got.len(), sub.closed()),
            Err(_) => panic!("only {} of {n} events arrived", got.len()),
        }
    }
    got
}

/// Waits until `n` subscribers receive live events.
async fn live<S: Feed + Clone + Send + Sync + 'static>(hub: &Hub<S>, n: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while hub.live_subscribers().await < n {
        assert!(tokio::time::Instant::now() < deadline, "subscribers never went live");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Nothing more arrives within a moment.
async fn quiet(sub: &mut Subscription) {
    if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
        panic!("unexpected event {}", e.event.topic)
    }
}

/// Actors and events of every reader shape; each subscriber gets exactly what core lets it read.
async fn delivery_by_actor<S: Store + Feed + Clone + Send + Sync + 'static>(store: S, wake: impl WakeUp + 'static) {
    // No poll in practice: what arrives came through the wake-up.
    let config = HubConfig { poll_interval: Duration::from_secs(3_600), ..HubConfig::default() };
    let hub = Hub::start(store.clone(), wake, config).await.unwrap();
    let hostel = TenantId::generate(&RandomIds);
    let (ada, bob, staff, far_staff) = (someone(), someone(), someone(), someone());
    let actors = [
        Actor::user(ada, [Role::Resident]).in_tenant(hostel),
        Actor::user(bob, [Role::Hero]),
        Actor::user(staff, [Role::MaintenanceStaff]).in_tenant(hostel),
        Actor::user(far_staff, [Role::MaintenanceStaff]).in_tenant(TenantId::generate(&RandomIds)),
        Actor::user(someone(), [Role::Admin]),
    ];
    let mut subs = Vec::new();
    for a in &actors {
        subs.push(hub.subscribe(a.clone(), store.feed_head().await.unwrap()).await.unwrap());
    }
    live(&hub, actors.len()).await;
    let events = [
        event(1, Readers::users([ada])),
        event(2, Readers::nobody().and_signed_in()),
        event(3, Readers::users([ada]).and_roles([Role::MaintenanceStaff]).in_tenant(hostel)),
        event(4, Readers::nobody()),
        event(5, Readers::users([bob])),
    ];
    for e in &events {
        emit(&store, e.clone()).await;
    }
    for (a, sub) in actors.iter().zip(subs.iter_mut()) {
        let expected: Vec<_> = events.iter().filter(|e| may_receive(a, e)).cloned().collect();
        assert!(!expected.is_empty());
        assert_eq!(take(sub, expected.len()).await, expected, "{a:?}");
        quiet(sub).await;
    }
    assert!(hub.subscribe(Actor::Anonymous, FeedCursor::START).await.is_err(), "no anonymous subscriptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_hub_delivers_what_core_allows_woken_in_process() {
    let store = common::sqlite().await;
    let wake = SqliteWake::new(&store);
    delivery_by_actor(store, wake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hub_delivers_what_core_allows_woken_by_notify() {
    let store = common::postgres().await;
    let wake = PgWake::connect(&store).await.unwrap();
    delivery_by_actor(store, wake).await;
}

/// A wake-up source that loses every notification (the listener's connection dropping them all).
struct LosesEverything(PgWake);

#[async_trait::async_trait]
impl WakeUp for LosesEverything {
    async fn wait(&mut self) {
        loop {
            self.0.wait().await; // received, then dropped
        }
    }
}

/// "NOTIFY's 8,000-byte limit and lost notifications must not lose events": with every
/// notification lost, the poll delivers every event, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lost_notifications_lose_no_event() {
    let store = common::postgres().await;
    let wake = LosesEverything(PgWake::connect(&store).await.unwrap());
    let config = HubConfig { poll_interval: Duration::from_millis(100), ..HubConfig::default() };
    let hub = Hub::start(store.clone(), wake, config).await.unwrap();
    let user = someone();
    let mut sub = hub.subscribe(Actor::user(user, [Role::Civilian]), FeedCursor::START).await.unwrap();
    let mut sent = Vec::new();
    for n in 0..40 {
        let e = event(n, Readers::users([user]));
        sent.push(e.clone());
        emit(&store, e).await;
    }
    assert_eq!(take(&mut sub, sent.len()).await, sent);
    quiet(&mut sub).await;
}

/// HomeHeroes §10 "Real-time Subscription Failure" (the WebSocket drops): after a disconnect, a
/// subscriber resumes from its last cursor and gets exactly what it missed; past the retention it
/// gets `cursor_expired`, never a silent gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replay_after_disconnect_and_cursor_expired() {
    let store = common::sqlite().await;
    let hub = Hub::start(store.clone(), SqliteWake::new(&store), HubConfig::default()).await.unwrap();
    let user = someone();
    let actor = Actor::user(user, [Role::Civilian]);
    let mut sub = hub.subscribe(actor.clone(), FeedCursor::START).await.unwrap();
    let first: Vec<_> = (0..5).map(|n| event(n, Readers::users([user]))).collect();
    for e in &first {
        emit(&store, e.clone()).await;
    }
    assert_eq!(take(&mut sub, 3).await, first[..3]);
    let resume = sub.last_cursor();
    drop(sub); // the connection drops
    let later: Vec<_> = (5..9).map(|n| event(n, Readers::users([user]))).collect();
    for e in &later {
        emit(&store, e.clone()).await;
    }
    let mut again = hub.subscribe(actor.clone(), resume).await.unwrap();
    let missed: Vec<_> = first[3..].iter().chain(&later).cloned().collect();
    assert_eq!(take(&mut again, missed.len()).await, missed, "exactly what it missed, in order");
    quiet(&mut again).await;
    // Retention: everything is pruned; the old cursor is now expired.
    let future = Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
    assert_eq!(store.prune_feed(future).await.unwrap(), 9);
    let mut expired = hub.subscribe(actor.clone(), resume).await.unwrap();
    assert!(tokio::time::timeout(PATIENCE, expired.recv()).await.unwrap().is_none());
    let closed = expired.closed().unwrap();
    assert!(matches!(closed, Closed::Expired { .. }), "{closed:?}");
    assert_eq!(closed.code(), Some(ErrorCode::CursorExpired));
    // The live subscriber is unaffected, and a fresh one from the head gets what comes next.
    let mut fresh = hub.subscribe(actor, store.feed_head().await.unwrap()).await.unwrap();
    let next = event(10, Readers::users([user]));
    emit(&store, next.clone()).await;
    assert_eq!(take(&mut again, 1).await, std::slice::from_ref(&next));
    assert_eq!(take(&mut fresh, 1).await, [next]);
}

/// Backpressure: a subscriber that never reads is disconnected once its queue is full, with the
/// cursor of the last event it was given; the others get everything, at once; the slow one
/// resubscribes from its cursor and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_slow_subscriber_is_cut_off_with_its_cursor_and_stalls_nobody() {
    let store = common::sqlite().await;
    let config = HubConfig { subscriber_buffer: 4, ..HubConfig::default() };
    let hub = Hub::start(store.clone(), SqliteWake::new(&store), config).await.unwrap();
    let everyone = Readers::nobody().and_signed_in();
    let slow_actor = Actor::user(someone(), [Role::Civilian]);
    let mut slow = hub.subscribe(slow_actor.clone(), FeedCursor::START).await.unwrap();
    let mut fast = hub.subscribe(Actor::user(someone(), [Role::Hero]), FeedCursor::START).await.unwrap();
    // Both live (a subscriber still replaying from the store waits for its reader instead: its
    // own task, nobody else's).
    live(&hub, 2).await;
    let sent: Vec<_> = (0..20).map(|n| event(n, everyone.clone())).collect();
    for e in &sent {
        emit(&store, e.clone()).await;
        // The fast one reads each event as it comes; the slow one reads nothing.
        assert_eq!(take(&mut fast, 1).await, std::slice::from_ref(e), "the fast subscriber is not held up");
    }
    let mut got = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(5), slow.recv()).await {
        got.push(e.event.clone());
    }
    assert_eq!(got, sent[..4], "it kept what its queue held");
    let Some(Closed::Lagged { resume_from }) = slow.closed() else { panic!("{:?}", slow.closed()) };
    assert_eq!(resume_from, slow.last_cursor());
    let mut back = hub.subscribe(slow_actor, resume_from).await.unwrap();
    assert_eq!(take(&mut back, 16).await, sent[4..], "resubscribed from its cursor: nothing lost");
}

/// The memory store, polled: the same hub (what a test or an embedded single process uses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_hub_delivers_by_polling() {
    let store = hearth_core::kernel::memory::MemoryStore::new();
    let config = HubConfig { poll_interval: Duration::from_millis(20), ..HubConfig::default() };
    let hub = Hub::start(store.clone(), PollOnly, config).await.unwrap();
    let user = someone();
    let mut sub = hub.subscribe(Actor::user(user, [Role::Civilian]), FeedCursor::START).await.unwrap();
    let mine = event(1, Readers::users([user]));
    emit(&store, event(0, Readers::users([someone()]))).await;
    emit(&store, mine.clone()).await;
    assert_eq!(take(&mut sub, 1).await, [mine]);
}
