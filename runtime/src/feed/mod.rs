//! The change feed's hub: reads the store's commit-ordered feed
//! ([`hearth_core::kernel::feed`]) once, and fans each event out to the subscribers core lets
//! receive it ([`may_receive`]: pure, on what the event carries — no store read per subscriber).
//!
//! - **Wake-up** ([`wake`]): Postgres `LISTEN`/`NOTIFY` (payload: the position, unused), SQLite an
//!   in-process signal after each commit. Only hints: the hub also polls every
//!   [`HubConfig::poll_interval`], so a lost notification delays an event, never loses it. When the
//!   feed says committed events wait behind an older open transaction (`held_back`), the hub reads
//!   again after a short backoff, since that transaction's end may notify nothing.
//! - **Subscriptions** ([`Hub::subscribe`]) are per actor, from a cursor: [`FeedCursor::START`],
//!   the store's head (only what happens from now on), or the last cursor a subscriber handled
//!   (replay after a disconnect). A subscriber behind the hub catches up from the store, filtered
//!   by the same rule, then joins the live fan-out. A cursor older than the feed's retention ends
//!   the subscription with [`Closed::Expired`] (`cursor_expired`).
//! - **Backpressure**: each subscriber has a bounded queue ([`HubConfig::subscriber_buffer`]). A
//!   subscriber that lets it fill is disconnected with [`Closed::Lagged`] and the cursor of the last
//!   event it was given, to resubscribe from: a slow subscriber never stalls the others and never
//!   loses an event.
//! - **Relay** ([`relay`]): for services that run many instances, publishes the feed to NATS
//!   JetStream exactly once per event.

pub mod relay;
pub mod wake;

use hearth_core::actor::Actor;
use hearth_core::error::{Error, ErrorCode};
use hearth_core::kernel::feed::{may_receive, Feed, FeedCursor, FeedEvent};
use hearth_core::kernel::StoreError;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wake::WakeUp;

/// How the hub reads and delivers.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How often the hub reads the feed without a wake-up (the cover for lost notifications and for
    /// commits by other processes).
    pub poll_interval: Duration,
    /// Events per feed read.
    pub page_size: u32,
    /// Events a subscriber may have waiting before it is disconnected ([`Closed::Lagged`]).
    pub subscriber_buffer: usize,
    /// The longest wait between reads while the feed holds committed events back.
    pub held_back_backoff_max: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            page_size: 500,
            subscriber_buffer: 1_024,
            held_back_backoff_max: Duration::from_millis(100),
        }
    }
}

/// Why a subscription ended (the queue closes after this is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The subscriber let its queue fill: resubscribe from `resume_from` (the last event it was
    /// given), losing nothing.
    Lagged {
        /// The cursor to resubscribe from.
        resume_from: FeedCursor,
    },
    /// The cursor is older than the feed's retention: reload state and subscribe from the head.
    Expired {
        /// The store's answer (`cursor_expired`).
        error: Error,
    },
    /// The store failed while the subscriber caught up (retry later from `resume_from`).
    Failed {
        /// The store's answer.
        error: Error,
        /// The cursor to resubscribe from.
        resume_from: FeedCursor,
    },
    /// The hub stopped.
    HubStopped,
}

impl Closed {
    /// The stable code of an ending that is an error (`cursor_expired`, `unavailable`, …).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Closed::Expired { error } | Closed::Failed { error, .. } => Some(error.code),
            Closed::Lagged { .. } | Closed::HubStopped => None,
        }
    }
}

/// One subscriber's stream of events.
#[derive(Debug)]
pub struct Subscription {
    events: mpsc::Receiver<Arc<FeedEvent>>,
    closed: Arc<Mutex<Option<Closed>>>,
    last: FeedCursor,
}

impl Subscription {
    /// The next event this subscriber may receive, in feed order; `None` once the subscription
    /// ended ([`Subscription::closed`] says why).
    pub async fn recv(&mut self) -> Option<Arc<FeedEvent>> {
        let e = self.events.recv().await?;
        self.last = e.cursor;
        Some(e)
    }
    /// Why the subscription ended (`None` while it runs).
    pub fn closed(&self) -> Option<Closed> {
        self.closed.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
    /// The cursor of the last event received: where to resubscribe after a disconnect.
    pub fn last_cursor(&self) -> FeedCursor {
        self.last
    }
}

/// A subscriber as the hub holds it.
struct Sub {
    actor: Actor,
    /// The last cursor it was given (or caught up to).
    cursor: FeedCursor,
    tx: mpsc::Sender<Arc<FeedEvent>>,
    closed: Arc<Mutex<Option<Closed>>>,
}

impl Sub {
    fn close(&self, why: Closed) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
    }
}

enum Command {
    /// Join the live fan-out at `sub.cursor`, or answer the hub's cursor when the subscriber is behind.
    Attach(Sub, oneshot::Sender<Result<(), (Sub, FeedCursor)>>),
    /// How many subscribers are attached.
    Count(oneshot::Sender<usize>),
}

/// The hub: one task reading the feed, fanning out to subscribers. Dropping it stops the task.
pub struct Hub<S> {
    store: S,
    config: HubConfig,
    commands: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl<S> Drop for Hub<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<S: Feed + Clone + Send + Sync + 'static> Hub<S> {
    /// Starts a hub over `store`, from the feed's head (what happens from now on), woken by `wake`.
    pub async fn start(store: S, wake: impl WakeUp + 'static, config: HubConfig) -> Result<Self, Error> {
        let head = store.feed_head().await?;
        let (commands, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(store.clone(), wake, config.clone(), head, rx));
        Ok(Self { store, config, commands, task })
    }

    /// Subscribes `actor` from `from` (exclusive): every later event core lets them receive, in
    /// feed order. Anonymous callers are `unauthenticated`; a cursor older than the retention
    /// ends the subscription with [`Closed::Expired`].
    pub async fn subscribe(&self, actor: Actor, from: FeedCursor) -> Result<Subscription, Error> {
        if matches!(actor, Actor::Anonymous) {
            return Err(Error::unauthenticated());
        }
        let (tx, events) = mpsc::channel(self.config.subscriber_buffer.max(1));
        let closed = Arc::new(Mutex::new(None));
        let sub = Sub { actor, cursor: from, tx, closed: closed.clone() };
        // Catch up from the store until the hub takes the subscriber in (on a task of its own, so
        // the caller gets its subscription at once and the hub never waits for a replay).
        let (store, commands, page) = (self.store.clone(), self.commands.clone(), self.config.page_size);
        tokio::spawn(catch_up(store, commands, sub, page));
        Ok(Subscription { events, closed, last: from })
    }

    /// How many subscribers receive live events now (those still catching up are not counted).
    pub async fn live_subscribers(&self) -> usize {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Count(tx)).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}

/// Replays the store to `sub` from its cursor until the hub attaches it.
async fn catch_up<S: Feed>(store: S, commands: mpsc::Sender<Command>, mut sub: Sub, page: u32) {
    loop {
        let (tx, rx) = oneshot::channel();
        if commands.send(Command::Attach(sub, tx)).await.is_err() {
            return;
        }
        let hub_at = match rx.await {
            Ok(Ok(())) => return,
            Ok(Err((back, hub_at))) => {
                sub = back;
                hub_at
            }
            Err(_) => return,
        };
        // Behind the hub: read up to (at least) where the hub was, then try again.
        while sub.cursor < hub_at {
            let read = match store.feed_after(sub.cursor, page).await {
                Ok(p) => p,
                Err(e) => {
                    let why = match e {
                        StoreError::CursorExpired { .. } => Closed::Expired { error: e.into() },
                        other => Closed::Failed { error: other.into(), resume_from: sub.cursor },
                    };
                    sub.close(why);
                    return;
                }
            };
            if read.events.is_empty() {
                // Nothing released yet past its cursor (an older transaction still open): wait a
                // moment rather than spin against the hub.
                tokio::time::sleep(Duration::from_millis(10)).await;
                break;
            }
            for e in read.events {
                sub.cursor = e.cursor;
                if may_receive(&sub.actor, &e.event) && sub.tx.send(Arc::new(e)).await.is_err() {
                    return; // the subscriber went away
                }
            }
        }
    }
}

/// The hub's loop: read, fan out, wait for a wake-up, a poll tick or a command.
async fn run<S: Feed>(
    store: S,
    mut wake: impl WakeUp,
    config: HubConfig,
    mut cursor: FeedCursor,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut subs: Vec<Sub> = Vec::new();
    let mut backoff = Duration::from_millis(2);
    loop {
        // Read everything released since the cursor.
        let mut held_back = false;
        // A failed read (the store unavailable) ends the round: the next tick reads again from the
        // same cursor.
        while let Ok(page) = store.feed_after(cursor, config.page_size).await {
            held_back = page.held_back;
            let full = page.events.len() >= config.page_size as usize;
            for e in page.events {
                cursor = e.cursor;
                fan_out(&mut subs, Arc::new(e));
            }
            if !full {
                break;
            }
        }
        let wait = if held_back {
            let w = backoff;
            backoff = (backoff * 2).min(config.held_back_backoff_max);
            w
        } else {
            backoff = Duration::from_millis(2);
            config.poll_interval
        };
        tokio::select! {
            () = wake.wait() => {}
            () = tokio::time::sleep(wait) => {}
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { break };
                handle(cmd, &mut subs, cursor);
                // Take every command already waiting (a thousand subscribers joining at once cost
                // one feed read, not a thousand).
                while let Ok(cmd) = commands.try_recv() {
                    handle(cmd, &mut subs, cursor);
                }
            }
        }
    }
    for s in &subs {
        s.close(Closed::HubStopped);
    }
}

/// Takes a subscriber in at the hub's `cursor` (or tells it to catch up), or answers a count.
fn handle(cmd: Command, subs: &mut Vec<Sub>, cursor: FeedCursor) {
    match cmd {
        Command::Attach(sub, reply) => {
            if sub.cursor >= cursor {
                subs.push(sub);
                let _ = reply.send(Ok(()));
            } else {
                let _ = reply.send(Err((sub, cursor)));
            }
        }
        Command::Count(reply) => {
            let _ = reply.send(subs.len());
        }
    }
}

/// Gives `e` to every subscriber core lets receive it (and who has not had it yet); disconnects
/// those whose queue is full or gone.
fn fan_out(subs: &mut Vec<Sub>, e: Arc<FeedEvent>) {
    subs.retain_mut(|s| {
        if e.cursor <= s.cursor {
            return true; // it caught up past this event on its own
        }
        if !may_receive(&s.actor, &e.event) {
            s.cursor = e.cursor;
            return true;
        }
        match s.tx.try_send(e.clone()) {
            Ok(()) => {
                s.cursor = e.cursor;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                s.close(Closed::Lagged { resume_from: s.cursor });
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    });
}
