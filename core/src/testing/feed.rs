//! The change feed's conformance tests (`crate::kernel::feed`): commit order, retention, and
//! delivery by the domains' own read authorization — the same on every store.
//!
//! Issue 10 ("Change feed"): the seeds run these as Supabase Realtime subscriptions (Viramah §10
//! "Cross-Domain Realtime Integration", §11 "Realtime Cross-Portal Events"; HomeHeroes §4 and §10
//! "Real-time Subscription Failure"). Supabase Realtime cannot replay after a disconnect; hearth's
//! feed reads from a cursor.

use super::fixtures::World;
use super::maintenance::{photo, Desk};
use crate::actor::{Actor, Role};
use crate::error::{Error, ErrorCode};
use crate::homeheroes::input::InterestInput;
use crate::homeheroes::model::{CivilianProfile, HeroProfile, JobInterest, Profile, RequestStatus, ServiceRequest};
use crate::homeheroes::{authorize, Action, Resource};
use crate::id::{EventId, TenantId, UserId};
use crate::kernel::entity::{Entity, EntityRef, Readers};
use crate::kernel::feed::{may_receive, Feed, FeedCursor, FeedEvent, HoldCommit, Release};
use crate::kernel::store::{ChangeSet, OutboxEvent, ReadExt, Store, StoreError};
use crate::maintenance::{Assignment, Attachment, Comment, HostelCounter, MaintenanceRequest, StatusChange};
use crate::notifications::{Notification, Notifications};
use crate::system::RandomIds;
use crate::time::Timestamp;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Every feed case (they need the store's [`Feed`] and [`HoldCommit`] besides [`Store`]).
pub fn cases<S: Store + Feed + HoldCommit + Clone + 'static>() -> Vec<super::Case<S>> {
    vec![
        super::Case {
            domain: "feed",
            name: "feed_never_skips_a_commit_held_open",
            run: |s| Box::pin(feed_never_skips_a_commit_held_open(s)),
        },
        super::Case {
            domain: "feed",
            name: "feed_retention_answers_cursor_expired",
            run: |s| Box::pin(feed_retention_answers_cursor_expired(s)),
        },
        super::Case {
            domain: "feed",
            name: "feed_events_keep_their_readers",
            run: |s| Box::pin(feed_events_keep_their_readers(s)),
        },
        super::Case {
            domain: "feed",
            name: "feed_delivery_is_the_read_authorization_homeheroes",
            run: |s| Box::pin(feed_delivery_is_the_read_authorization_homeheroes(s)),
        },
        super::Case {
            domain: "feed",
            name: "feed_delivery_is_the_read_authorization_maintenance",
            run: |s| Box::pin(feed_delivery_is_the_read_authorization_maintenance(s)),
        },
    ]
}

/// How long a test waits for the feed to release what it must (a long-running writing transaction
/// elsewhere on a shared Postgres holds the feed back: it waits, never skips).
const PATIENCE: Duration = Duration::from_secs(60);

/// An event of `n` for `user`, recorded `at`.
pub fn event(n: u64, at: Timestamp, user: UserId) -> OutboxEvent {
    OutboxEvent {
        id: EventId::generate(&RandomIds),
        topic: "feed.test".into(),
        entity: EntityRef { kind: ServiceRequest::kind(), id: uuid::Uuid::from_u128(u128::from(n)) },
        payload: serde_json::json!({ "n": n }),
        audience: vec![user],
        at,
        readers: Readers::users([user]),
    }
}

fn changes(events: Vec<OutboxEvent>) -> ChangeSet {
    ChangeSet { events, ..ChangeSet::default() }
}

/// Reads everything released after `after` (following pages), until `until` holds of what was read
/// or `PATIENCE` runs out.
pub async fn drain<F: Feed + ?Sized>(
    feed: &F,
    mut after: FeedCursor,
    until: impl Fn(&[FeedEvent]) -> bool,
) -> (Vec<FeedEvent>, FeedCursor) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut got: Vec<FeedEvent> = Vec::new();
    loop {
        let page = feed.feed_after(after, 7).await.expect("feed read");
        for e in &page.events {
            assert!(e.cursor > after, "the feed moves forward: {} after {after}", e.cursor);
            after = e.cursor;
        }
        let empty = page.events.is_empty();
        got.extend(page.events);
        if empty && !page.held_back && until(&got) {
            return (got, after);
        }
        assert!(tokio::time::Instant::now() < deadline, "the feed did not release what it must: {got:?}");
        if empty {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A commit held open by the test: positioned, waiting for its release.
struct Held {
    ids: Vec<EventId>,
    release: tokio::sync::oneshot::Sender<bool>,
    done: tokio::task::JoinHandle<bool>,
}

async fn hold<S: HoldCommit + Clone + 'static>(store: &S, events: Vec<OutboxEvent>) -> Held {
    let ids = events.iter().map(|e| e.id).collect();
    let (positioned_tx, positioned_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<bool>();
    let release: Release = Box::pin(async move { release_rx.await.unwrap_or(false) });
    let s = store.clone();
    let done = tokio::spawn(async move {
        let positioned = Box::new(move || {
            let _ = positioned_tx.send(());
        });
        s.commit_held(changes(events), positioned, release).await.expect("held commit")
    });
    positioned_rx.await.expect("the held commit wrote its events");
    Held { ids, release: release_tx, done }
}

/// Issue 10: "a consumer reading by position never skips an event that commits later with a lower
/// position (today Postgres identity values can become visible out of order)". Slow commits are
/// held open after their events took positions (one of them then rolls back) while fast commits go
/// on; a reader polls by cursor throughout. Its sequence must be exactly the committed events, each
/// once, in strictly increasing cursor order — on every store. Where the store has many writers,
/// the test also shows what a reader by raw position would have done: skipped the slow events.
pub async fn feed_never_skips_a_commit_held_open<S: Store + Feed + HoldCommit + Clone + 'static>(store: S) {
    let user = UserId::generate(&RandomIds);
    let now = super::fixtures::epoch();
    let start = store.feed_head().await.unwrap();
    let mut n = 0u64;
    let mut next_events = |k: usize| {
        (0..k)
            .map(|_| {
                n += 1;
                event(n, now, user)
            })
            .collect::<Vec<_>>()
    };
    // The reader: polls by cursor until told to stop and the feed is drained.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen: Vec<FeedEvent> = Vec::new();
            let mut after = start;
            let deadline = tokio::time::Instant::now() + PATIENCE;
            loop {
                let stopping = stop.load(Ordering::SeqCst);
                let page = store.feed_after(after, 3).await.unwrap();
                for e in &page.events {
                    assert!(e.cursor > after, "cursors only grow: {} after {after}", e.cursor);
                    after = e.cursor;
                }
                let empty = page.events.is_empty();
                seen.extend(page.events);
                if stopping && empty && !page.held_back {
                    return seen;
                }
                assert!(tokio::time::Instant::now() < deadline, "the reader never drained");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut committed: Vec<EventId> = Vec::new();
    let mut rolled_back: Vec<EventId> = Vec::new();
    let fast = |events: Vec<OutboxEvent>| {
        let s = store.clone();
        let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
        (ids, tokio::spawn(async move { s.commit(changes(events)).await.unwrap() }))
    };
    let slow_commits = [true, false, true];
    if store.single_writer() {
        // One writer (SQLite): a held commit keeps every other commit waiting, so the position it
        // took is commit order. Each round: hold one, start fast ones, see them wait, release.
        for commit in slow_commits {
            let held = hold(&store, next_events(2)).await;
            let fasts: Vec<_> = (0..3).map(|_| fast(next_events(1))).collect();
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert!(fasts.iter().all(|(_, h)| !h.is_finished()), "one writer: the others wait for the held commit");
            held.release.send(commit).unwrap();
            assert_eq!(held.done.await.unwrap(), commit);
            if commit {
                committed.extend(&held.ids)
            } else {
                rolled_back.extend(&held.ids)
            }
            for (ids, h) in fasts {
                h.await.unwrap();
                committed.extend(ids);
            }
        }
    } else {
        // Many writers (Postgres, memory): all slow commits hold their positions while fast ones
        // commit after them.
        let mut held = Vec::new();
        for _ in slow_commits {
            held.push(hold(&store, next_events(2)).await);
        }
        let mut fast_ids = Vec::new();
        for (ids, h) in (0..6).map(|_| fast(next_events(1))).collect::<Vec<_>>() {
            h.await.unwrap();
            fast_ids.extend(ids);
        }
        // By raw position the fast events are already visible, beyond positions the slow ones hold.
        let raw = store.outbox_after(0, 100_000).await.unwrap();
        let visible: BTreeSet<EventId> = raw.iter().map(|(_, e)| e.id).collect();
        assert!(fast_ids.iter().all(|id| visible.contains(id)), "fast commits are visible");
        assert!(held.iter().flat_map(|h| &h.ids).all(|id| !visible.contains(id)), "held ones are not");
        // The feed releases none of them while an older commit is open.
        let page = store.feed_after(start, 1_000).await.unwrap();
        assert!(page.events.is_empty(), "nothing released past an open commit: {:?}", page.events);
        assert!(page.held_back, "the feed says it is holding events back");
        // Release the youngest first; the oldest still holds everything back.
        let mut slow: Vec<(Held, bool)> = held.into_iter().zip(slow_commits).collect();
        while slow.len() > 1 {
            let (h, commit) = slow.pop().unwrap();
            h.release.send(commit).unwrap();
            assert_eq!(h.done.await.unwrap(), commit);
            if commit {
                committed.extend(&h.ids)
            } else {
                rolled_back.extend(&h.ids)
            }
            let page = store.feed_after(start, 1_000).await.unwrap();
            assert!(page.events.is_empty() && page.held_back, "the oldest open commit still holds the feed");
        }
        let (oldest, commit) = slow.pop().unwrap();
        oldest.release.send(commit).unwrap();
        assert_eq!(oldest.done.await.unwrap(), commit);
        committed.extend(&oldest.ids);
        committed.extend(fast_ids);
        // What a reader by raw position would have skipped: slow events sit below fast positions.
        let positions: std::collections::BTreeMap<EventId, i64> =
            store.outbox_after(0, 100_000).await.unwrap().into_iter().map(|(p, e)| (e.id, p)).collect();
        let lowest_fast = positions.iter().filter(|(id, _)| !oldest.ids.contains(id)).map(|(_, p)| *p).max();
        assert!(
            oldest.ids.iter().all(|id| Some(positions[id]) < lowest_fast),
            "the slow commit's positions are below ones that were visible before it committed"
        );
    }
    stop.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let seen_ids: Vec<EventId> = seen.iter().map(|e| e.event.id).collect();
    let unique: BTreeSet<EventId> = seen_ids.iter().copied().collect();
    assert_eq!(unique.len(), seen_ids.len(), "no event twice");
    assert_eq!(unique, committed.iter().copied().collect::<BTreeSet<_>>(), "exactly the committed events");
    assert!(rolled_back.iter().all(|id| !unique.contains(id)), "no rolled-back event");
    // The feed's order is the order a fresh reader gets too, and every event of a commit is adjacent.
    let (again, _) = drain(&store, start, |got| got.len() >= committed.len()).await;
    assert_eq!(again.iter().map(|e| e.event.id).collect::<Vec<_>>(), seen_ids, "replay gives the same order");
}

/// Issue 10: "Replay from a cursor after a disconnect … with retention and a clear `cursor_expired`
/// answer past it" (Supabase Realtime cannot replay: HomeHeroes §10 "Real-time Subscription
/// Failure" only reconnects).
pub async fn feed_retention_answers_cursor_expired<S: Store + Feed + HoldCommit + Clone + 'static>(store: S) {
    let user = UserId::generate(&RandomIds);
    let t0 = super::fixtures::epoch();
    let at = |minutes: i64| t0.checked_add(chrono::Duration::minutes(minutes)).unwrap();
    assert_eq!(store.feed_head().await.unwrap(), FeedCursor::START, "an empty feed's head");
    for (n, m) in [(1, 0), (2, 10), (3, 20)] {
        store.commit(changes(vec![event(n, at(m), user)])).await.unwrap();
    }
    let (all, head) = drain(&store, FeedCursor::START, |got| got.len() == 3).await;
    assert_eq!(store.feed_head().await.unwrap(), head);
    let cursor = |i: usize| all[i].cursor;
    // A disconnected reader resumes after what it handled: nothing lost, nothing twice.
    let (rest, _) = drain(&store, cursor(0), |got| got.len() == 2).await;
    assert_eq!(rest.iter().map(|e| e.event.id).collect::<Vec<_>>(), [all[1].event.id, all[2].event.id]);
    // Prune what was recorded before minute 10: the first event.
    assert_eq!(store.prune_feed(at(10)).await.unwrap(), 1);
    assert_eq!(store.prune_feed(at(10)).await.unwrap(), 0, "pruning again deletes nothing");
    let page = store.feed_after(FeedCursor::START, 100).await.unwrap();
    assert_eq!(page.events.len(), 2, "START reads from the oldest event kept");
    assert_eq!(store.feed_after(cursor(0), 100).await.unwrap().events.len(), 2, "a reader at the horizon lost nothing");
    // Prune the rest: a reader still at the first event may have missed events: cursor_expired.
    assert_eq!(store.prune_feed(at(30)).await.unwrap(), 2);
    let expired = store.feed_after(cursor(0), 100).await.unwrap_err();
    assert!(matches!(expired, StoreError::CursorExpired { .. }), "{expired:?}");
    let public = Error::from(expired);
    assert_eq!((public.code, public.code.as_str()), (ErrorCode::CursorExpired, "cursor_expired"));
    assert!(public.message.contains(&cursor(0).to_string()), "{}", public.message);
    let also = store.feed_after(cursor(1), 1).await.unwrap_err();
    assert!(matches!(also, StoreError::CursorExpired { .. }), "every cursor below the horizon: {also:?}");
    // The head survives an empty feed, so a reader caught up at the last event loses nothing.
    assert_eq!(store.feed_head().await.unwrap(), head);
    assert!(store.feed_after(head, 100).await.unwrap().events.is_empty());
    store.commit(changes(vec![event(4, at(40), user)])).await.unwrap();
    let (next, _) = drain(&store, head, |got| !got.is_empty()).await;
    assert_eq!(next.len(), 1);
    assert!(next[0].cursor > head);
}

/// Issue 10: an event's audience is everyone who may read what it carries — users, roles scoped to a
/// tenant, every signed-in user — and the store keeps all of it.
pub async fn feed_events_keep_their_readers<S: Store + Feed + HoldCommit + Clone + 'static>(store: S) {
    let user = UserId::generate(&RandomIds);
    let hostel = TenantId::generate(&RandomIds);
    let now = super::fixtures::epoch();
    let shapes = [
        Readers::users([user]),
        Readers::nobody().and_signed_in(),
        Readers::users([user]).and_roles([Role::MaintenanceStaff, Role::Admin]).in_tenant(hostel),
        Readers::nobody(),
    ];
    let events: Vec<OutboxEvent> = shapes
        .iter()
        .enumerate()
        .map(|(i, r)| OutboxEvent { readers: r.clone(), audience: r.users.clone(), ..event(i as u64, now, user) })
        .collect();
    store.commit(changes(events.clone())).await.unwrap();
    let (got, _) = drain(&store, FeedCursor::START, |g| g.len() == events.len()).await;
    assert_eq!(got.into_iter().map(|e| e.event).collect::<Vec<_>>(), events);
    let raw = store.outbox_after(0, 100).await.unwrap();
    assert_eq!(raw.into_iter().map(|(_, e)| e).collect::<Vec<_>>(), events);
}

/// Checks every event released after `after` against every actor: [`may_receive`] must equal what
/// `can_read` says the domain's own reads allow, right after the change (the state the event
/// carries). Returns the new cursor and the events.
async fn check_delivery<F, R, Fut>(
    feed: &F,
    after: FeedCursor,
    actors: &[(&str, &Actor)],
    can_read: R,
) -> (FeedCursor, Vec<OutboxEvent>)
where
    F: Feed + ?Sized,
    R: Fn(Actor, OutboxEvent) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (events, next) = drain(feed, after, |_| true).await;
    assert!(!events.is_empty(), "the action emitted events");
    for e in &events {
        for (name, actor) in actors {
            let reads = can_read((*actor).clone(), e.event.clone()).await;
            assert_eq!(
                may_receive(actor, &e.event),
                reads,
                "{} to {name}: delivery must equal the read authorization",
                e.event.topic
            );
        }
        assert!(!may_receive(&Actor::Anonymous, &e.event), "no event reaches an anonymous subscriber");
    }
    (next, events.into_iter().map(|e| e.event).collect())
}

fn decode<T: serde::de::DeserializeOwned>(e: &OutboxEvent) -> T {
    serde_json::from_value(e.payload.clone()).unwrap_or_else(|err| panic!("{}: {err}", e.topic))
}

/// Issue 10, HomeHeroes (seed 000 §7 and §9 "Real-time subscription" of requests): delivery equals
/// the read authorization for owners, the chosen and the rejected hero, a ready hero who never
/// took part, an unready hero, a stranger and an admin — and "every ready hero sees a NEW pending
/// request" (before the feed, its event went to its owner only).
pub async fn feed_delivery_is_the_read_authorization_homeheroes<S: Store + Feed + HoldCommit + Clone + 'static>(
    store: S,
) {
    let w = World::new(store.clone());
    let owner = w.civilian().await;
    let chosen = w.hero().await;
    let rejected = w.hero().await;
    let bystander = w.hero().await;
    let unready = w.bare_hero().await;
    let stranger = w.civilian().await;
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    let actors = [
        ("owner", &owner),
        ("chosen hero", &chosen),
        ("rejected hero", &rejected),
        ("ready bystander hero", &bystander),
        ("unready hero", &unready),
        ("stranger", &stranger),
        ("admin", &admin),
    ];
    let hh = &w.hh;
    let can_read = |actor: Actor, e: OutboxEvent| async move {
        let kind = e.entity.kind;
        if kind == ServiceRequest::kind() {
            let r: ServiceRequest = decode(&e);
            hh.service_request(&actor, r.id).await.is_ok()
        } else if kind == JobInterest::kind() {
            let i: JobInterest = decode(&e);
            authorize(&actor, Action::Read, Resource::JobInterest(&i)).allowed
        } else if kind == Profile::kind() {
            hh.profile(&actor, decode::<Profile>(&e).id).await.is_ok()
        } else if kind == CivilianProfile::kind() {
            hh.profile(&actor, decode::<CivilianProfile>(&e).profile_id).await.is_ok()
        } else if kind == HeroProfile::kind() {
            hh.hero_profile(&actor, decode::<HeroProfile>(&e).profile_id).await.is_ok()
        } else {
            panic!("unexpected event {}", e.topic)
        }
    };
    let mut at = store.feed_head().await.unwrap();
    let r = w.request(&owner).await;
    let (next, events) = check_delivery(&store, at, &actors, can_read).await;
    at = next;
    let created = events.iter().find(|e| e.topic == "homeheroes.service_request.create").expect("creation event");
    for hero in [&chosen, &rejected, &bystander, &unready] {
        assert!(may_receive(hero, created), "every hero receives a NEW pending request");
    }
    for h in [&chosen, &rejected] {
        hh.express_interest(h, r.id, InterestInput::default()).await.unwrap();
        at = check_delivery(&store, at, &actors, can_read).await.0;
    }
    hh.choose_hero(&owner, r.id, chosen.user_id().unwrap()).await.unwrap();
    let (next, events) = check_delivery(&store, at, &actors, can_read).await;
    at = next;
    let assigned = events.iter().find(|e| e.entity.kind == ServiceRequest::kind()).expect("request event");
    assert_eq!(decode::<ServiceRequest>(assigned).status, RequestStatus::Assigned);
    assert!(!may_receive(&bystander, assigned) && !may_receive(&rejected, assigned), "assigned: out of their sight");
    hh.start(&chosen, r.id).await.unwrap();
    at = check_delivery(&store, at, &actors, can_read).await.0;
    hh.complete(&chosen, r.id).await.unwrap();
    at = check_delivery(&store, at, &actors, can_read).await.0;
    hh.rate(&owner, r.id, 5).await.unwrap();
    at = check_delivery(&store, at, &actors, can_read).await.0;
    let open = w.request(&owner).await;
    at = check_delivery(&store, at, &actors, can_read).await.0;
    hh.cancel(&owner, open.id, None).await.unwrap();
    check_delivery(&store, at, &actors, can_read).await;
}

/// Issue 10, Viramah (§10 "Cross-Domain Realtime Integration", §11 "Realtime Cross-Portal
/// Events": the Management Portal's `maintenance_requests` filtered by `hostel_id = :hostel`, the
/// resident's by `user_id = auth.uid()`, comments to the resident of the request): delivery equals
/// the maintenance read authorization for the resident, another resident, staff of the hostel,
/// staff of another hostel and an admin. A staff comment names its author, so its record reaches
/// staff only and the resident gets its resident form; a staff-only comment never reaches them.
pub async fn feed_delivery_is_the_read_authorization_maintenance<S: Store + Feed + HoldCommit + Clone + 'static>(
    store: S,
) {
    let d = Desk::new(store.clone()).await;
    let ada = d.resident().await;
    let bob = d.resident().await;
    let claimer = d.staff();
    let colleague = d.staff();
    let elsewhere = TenantId::generate(&RandomIds);
    let other_staff = Actor::user(UserId::generate(&RandomIds), [Role::MaintenanceStaff]).in_tenant(elsewhere);
    let admin = d.admin.clone();
    let actors = [
        ("resident", &ada),
        ("another resident", &bob),
        ("claiming staff", &claimer),
        ("staff of the hostel", &colleague),
        ("staff of another hostel", &other_staff),
        ("admin", &admin),
    ];
    let notes = Notifications::new(store.clone(), d.clock.clone(), Arc::new(RandomIds));
    let (svc, notes) = (&d.svc, &notes);
    let can_read = |actor: Actor, e: OutboxEvent| async move {
        let kind = e.entity.kind;
        let who = &actor;
        let staff_view = |id| async move { svc.staff_view(who, id).await.ok() };
        if kind == MaintenanceRequest::kind() {
            let r: MaintenanceRequest = decode(&e);
            svc.resident_view(&actor, r.id).await.is_ok() || staff_view(r.id).await.is_some()
        } else if kind == Comment::kind() && e.topic == "maintenance.comment.for_resident" {
            // The resident form of a staff comment: what the resident's view lists.
            let id = e.entity.id;
            let record = svc.runner().store().get::<Comment>(id).await.unwrap().expect("the comment").value;
            // A projection of the record: whoever reads the resident's view or the staff records.
            let mine = svc.resident_view(&actor, record.request_id).await;
            mine.is_ok_and(|v| v.comments.iter().any(|c| c.id.as_uuid() == id))
                || staff_view(record.request_id).await.is_some_and(|v| v.comments.iter().any(|c| c.id == record.id))
        } else if kind == Comment::kind() {
            let c: Comment = decode(&e);
            // The full record (with its author): staff records for staff and admins; the resident
            // reads their own comments, never a staff member's record (§10: staff identity hidden).
            let as_staff = staff_view(c.request_id).await.is_some_and(|v| v.comments.iter().any(|x| x.id == c.id));
            let as_resident = !c.from_staff
                && svc.resident_view(&actor, c.request_id).await.is_ok_and(|v| v.comments.iter().any(|x| x.id == c.id));
            as_staff || as_resident
        } else if kind == Assignment::kind() {
            staff_view(decode::<Assignment>(&e).request_id).await.is_some()
        } else if kind == StatusChange::kind() {
            staff_view(decode::<StatusChange>(&e).request_id).await.is_some()
        } else if kind == Attachment::kind() {
            let a: Attachment = decode(&e);
            svc.resident_view(&actor, a.request_id).await.is_ok() || staff_view(a.request_id).await.is_some()
        } else if kind == HostelCounter::kind() {
            actor.is_admin() // bookkeeping: no read but the admins' audit
        } else if kind == Notification::kind() {
            let n: Notification = decode(&e);
            notes.mine(&actor, false).await.is_ok_and(|mine| mine.iter().any(|m| m.id == n.id))
                || (actor.is_admin() && !n.recipient.includes(&actor))
        } else {
            panic!("unexpected event {}", e.topic)
        }
    };
    let mut at = store.feed_head().await.unwrap();
    let r = d
        .svc
        .submit(
            &ada,
            crate::maintenance::SubmitRequest {
                attachments: vec![photo(1)],
                ..super::maintenance::request("wifi", "router", "high")
            },
        )
        .await
        .unwrap();
    let (next, events) = check_delivery(&store, at, &actors, can_read).await;
    at = next;
    let created = events.iter().find(|e| e.entity.kind == MaintenanceRequest::kind()).expect("request event");
    assert!(may_receive(&colleague, created), "the hostel's staff see a new request live (§10 step 7)");
    assert!(!may_receive(&other_staff, created), "another hostel's staff do not");
    assert!(!may_receive(&bob, created), "no cross-resident leakage (§11)");
    d.svc.claim(&claimer, r.id).await.unwrap();
    at = check_delivery(&store, at, &actors, can_read).await.0;
    d.svc.comment(&claimer, r.id, "Router replaced, please check.", false).await.unwrap();
    at = check_delivery(&store, at, &actors, can_read).await.0;
    d.svc.comment(&claimer, r.id, "Cable was chewed.", true).await.unwrap();
    at = check_delivery(&store, at, &actors, can_read).await.0;
    d.svc.comment(&ada, r.id, "Works now, thanks!", false).await.unwrap();
    let (next, events) = check_delivery(&store, at, &actors, can_read).await;
    at = next;
    let comment = events.iter().find(|e| e.entity.kind == Comment::kind()).expect("comment event");
    assert!(may_receive(&ada, comment) && may_receive(&colleague, comment), "resident ↔ staff comment thread");
    d.svc.change(&claimer, r.id, crate::maintenance::Transition::Resolve, None, Some("swapped")).await.unwrap();
    check_delivery(&store, at, &actors, can_read).await;
}
