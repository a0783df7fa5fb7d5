//! The change feed: the outbox read in an order in which no reader can skip an event, with
//! retention, and the one rule that decides who receives an event.
//!
//! **Order.** A store hands out event positions when a transaction writes them, not when it
//! commits: on Postgres a transaction that took position 7 may commit after one that took 8, so a
//! reader that has passed 8 would never see 7. The feed therefore releases an event only once no
//! transaction that could still commit an event before it is running, and orders events by a
//! [`FeedCursor`] — `(tx, position)`:
//!
//! - Postgres: `tx` is the writing transaction's id (`pg_current_xact_id()`), and only events whose
//!   transaction is older than the oldest still running (`pg_snapshot_xmin(pg_current_snapshot())`)
//!   are released, ordered by `(tx, position)`. A transaction that starts later gets a larger id, so
//!   nothing can ever appear behind a released event. Cost: one long-running writing transaction
//!   holds back the whole feed until it ends (the feed waits, never skips).
//! - SQLite: one writer at a time, and the position is assigned inside the write transaction, so
//!   position order is commit order; `tx` is 0.
//! - [`crate::kernel::memory::MemoryStore`]: commits are instantaneous; a commit held open by
//!   [`HoldCommit`] reserves its positions and holds back the feed past them, as Postgres does.
//!
//! Per entity, events keep their version order (a write at version `n + 1` is decided after the
//! commit of version `n`, so its transaction is younger); causally related commits keep their
//! order; concurrent ones are ordered by transaction.
//!
//! **Retention.** [`Feed::prune_feed`] deletes released events recorded before an instant, in feed
//! order, and remembers the last cursor it deleted (the horizon). A reader whose cursor is older
//! than the horizon may have missed deleted events: [`Feed::feed_after`] answers
//! [`StoreError::CursorExpired`] (`cursor_expired`) instead of silently skipping them. Readers
//! start from [`FeedCursor::START`] (the oldest event kept) or from [`Feed::feed_head`] (only what
//! happens from now on) and resume from the last cursor they handled.
//!
//! **Delivery.** [`may_receive`] decides whether an actor receives an event: the event's readers
//! (the entity's [`Readers`](super::entity::Readers) after the change — the value the domain's
//! reads check) admit the actor. It is pure and reads only what the event carries, so a hub with a
//! thousand subscribers makes no store read per subscriber.

use super::store::{ChangeSet, MaybeSendSync, OutboxEvent, Store, StoreError, StoreResult};
use crate::actor::Actor;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

/// Most events one [`Feed::feed_after`] returns.
pub const FEED_PAGE_MAX: u32 = 10_000;

/// A place in the feed: after the event with this `(tx, position)`. Ordered by `tx`, then
/// `position`. Its text form is `<tx>.<position>` (`0.0` is [`FeedCursor::START`]).
///
/// INVARIANT (cursor): `position >= 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FeedCursor {
    tx: u64,
    position: i64,
}

impl FeedCursor {
    /// Before every event the store keeps.
    pub const START: FeedCursor = FeedCursor { tx: 0, position: 0 };

    /// The cursor of the event at `position` written by transaction `tx` (0 on stores with one
    /// writer). `None` for a negative position.
    pub fn new(tx: u64, position: i64) -> Option<Self> {
        (position >= 0).then_some(Self { tx, position })
    }
    /// The writing transaction (0 on stores with one writer).
    pub fn tx(self) -> u64 {
        self.tx
    }
    /// The event's position in the outbox.
    pub fn position(self) -> i64 {
        self.position
    }
}

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.tx, self.position)
    }
}

/// A cursor that does not parse (`<tx>.<position>`, both non-negative integers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a feed cursor (expected `<tx>.<position>`)")]
pub struct BadCursor(String);

impl FromStr for FeedCursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, BadCursor> {
        let bad = || BadCursor(s.chars().take(64).collect());
        let (tx, position) = s.split_once('.').ok_or_else(bad)?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(tx) || !digits(position) {
            return Err(bad());
        }
        let tx = tx.parse().map_err(|_| bad())?;
        let position = position.parse().map_err(|_| bad())?;
        FeedCursor::new(tx, position).ok_or_else(bad)
    }
}

impl Serialize for FeedCursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FeedCursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One released event and its place in the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Where it is: resume after it from here.
    pub cursor: FeedCursor,
    /// The event.
    pub event: OutboxEvent,
}

/// What one read of the feed returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedPage {
    /// Released events after the cursor asked for, in feed order.
    pub events: Vec<FeedEvent>,
    /// True when committed events exist that are not released yet, because an older transaction
    /// is still running: read again soon (its end may send no wake-up).
    pub held_back: bool,
}

impl FeedPage {
    /// The cursor to read on from: the last event's, or `after` when the page is empty.
    pub fn next(&self, after: FeedCursor) -> FeedCursor {
        self.events.last().map_or(after, |e| e.cursor)
    }
}

/// The change feed a store offers (Postgres, SQLite, memory).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait Feed: MaybeSendSync {
    /// Up to `limit` (at most [`FEED_PAGE_MAX`]) released events after `after`, in feed order. A
    /// cursor older than the pruning horizon is [`StoreError::CursorExpired`].
    async fn feed_after(&self, after: FeedCursor, limit: u32) -> StoreResult<FeedPage>;
    /// The cursor of the last released event ([`FeedCursor::START`] when there is none): where a
    /// subscriber that wants only what happens from now on starts.
    async fn feed_head(&self) -> StoreResult<FeedCursor>;
    /// Deletes the released events up to (in feed order) the last one recorded before `before`,
    /// and moves the horizon there; returns how many were deleted.
    async fn prune_feed(&self, before: Timestamp) -> StoreResult<u64>;
}

/// Called once a held commit's events have their positions.
pub type Positioned = Box<dyn FnOnce() + Send>;
/// Resolves when a held commit may end: `true` commits it, `false` rolls it back.
pub type Release = Pin<Box<dyn Future<Output = bool> + Send>>;

/// A commit held open after its events were given positions: what the feed's ordering tests race
/// ([`crate::kernel::feed`]: a slow transaction that took an earlier position than a fast one).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait HoldCommit: Store {
    /// Commits `changes` as [`Store::commit`] does, except that once the store has written its
    /// events (they have positions) and before the commit is made, it calls `positioned` and waits
    /// for `release`: `true` commits (`Ok(true)`), `false` rolls back (`Ok(false)`).
    async fn commit_held(&self, changes: ChangeSet, positioned: Positioned, release: Release) -> StoreResult<bool>;
    /// True when a held commit keeps every other commit waiting (one writer at a time: SQLite).
    fn single_writer(&self) -> bool;
}

/// Whether `actor` receives `event`: exactly when the event's readers — the entity's readers after
/// the change, the value the domain's own reads check — admit them. Pure: no store read.
pub fn may_receive(actor: &Actor, event: &OutboxEvent) -> bool {
    event.readers.admits(actor)
}

/// The error a store answers for a cursor older than its horizon.
pub fn cursor_expired(after: FeedCursor, horizon: FeedCursor) -> StoreError {
    StoreError::CursorExpired { cursor: after.to_string(), horizon: horizon.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_order_by_transaction_then_position_and_round_trip_as_text() {
        let a = FeedCursor::new(5, 9).unwrap();
        let b = FeedCursor::new(6, 1).unwrap();
        assert!(FeedCursor::START < a && a < b);
        assert_eq!(a.to_string(), "5.9");
        assert_eq!("5.9".parse::<FeedCursor>().unwrap(), a);
        assert_eq!(serde_json::to_value(b).unwrap(), serde_json::json!("6.1"));
        for bad in ["", "5", "5.", ".9", "-1.2", "1.-2", "a.b", "1.2.3", "99999999999999999999.1", " 1.2"] {
            assert!(bad.parse::<FeedCursor>().is_err(), "{bad:?}");
        }
        assert!(FeedCursor::new(1, -1).is_none());
        let page = FeedPage::default();
        assert_eq!(page.next(a), a);
    }
}
