//! The change feed's wake-up, sent after a commit rather than inside it.
//!
//! A transaction that calls `NOTIFY` takes Postgres' database-wide notification lock in its
//! pre-commit step and holds it until its commit record is flushed (`PreCommit_Notify` in
//! `src/backend/commands/async.c`: "serialize writers by acquiring a special lock that we hold till
//! after commit"). With a `NOTIFY` in every commit statement, every hearth commit that emits events
//! waited for every other one's WAL flush: commits ran one at a time, and Postgres' group commit
//! could never batch their flushes.
//!
//! So a commit only *pokes* the [`Notifier`], and one task per store sends the notifications: one
//! `pg_notify` per wake-up, however many commits poked meanwhile (a channel of capacity one
//! coalesces them), at most one per [`NOTIFY_INTERVAL`], in its own short transaction with `synchronous_commit` off (a wake-up need not
//! be durable; its commit does not wait for a flush while it holds the lock). The payload is the
//! store's schema (`current_schema()`), so a listener skips the wake-ups of other hearth schemas in
//! the same database; the hub reads from its own cursor, and a lost wake-up costs latency, never an
//! event (readers also poll).

use crate::statement::FEED_CHANNEL;
use sqlx::postgres::PgPool;
use std::sync::OnceLock;
use tokio::sync::mpsc;

/// Sends the feed's `NOTIFY` for the commits that poke it, coalesced, from a task of its own
/// (started on the first poke; it ends when the store's last handle is dropped).
#[derive(Debug)]
pub(crate) struct Notifier {
    pool: PgPool,
    pokes: OnceLock<mpsc::Sender<()>>,
}

impl Notifier {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool, pokes: OnceLock::new() }
    }

    /// After a commit that appended events: one notification will follow (shared with the other
    /// commits that poke before it is sent). Must be called from within a tokio runtime.
    pub(crate) fn poke(&self) {
        let pokes = self.pokes.get_or_init(|| {
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(send_notifications(self.pool.clone(), rx));
            tx
        });
        // Full: a notification is already due, and it will cover this commit too.
        let _ = pokes.try_send(());
    }
}

/// The least time between two wake-ups: under load, one `NOTIFY` covers every commit of the
/// millisecond instead of each commit paying a notifying transaction of its own.
pub(crate) const NOTIFY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);

/// One `pg_notify` per wake-up, at most one per [`NOTIFY_INTERVAL`], until the store is gone. A
/// failed send is dropped (the readers' poll covers it).
async fn send_notifications(pool: PgPool, mut pokes: mpsc::Receiver<()>) {
    let mut last: Option<tokio::time::Instant> = None;
    while pokes.recv().await.is_some() {
        if let Some(last) = last {
            tokio::time::sleep_until(last + NOTIFY_INTERVAL).await;
        }
        last = Some(tokio::time::Instant::now());
        // `set_config(…, true)` lasts until the end of this one-statement transaction, whose commit
        // is when Postgres reads `synchronous_commit`.
        let _ = sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, current_schema())")
            .bind(FEED_CHANNEL)
            .execute(&pool)
            .await;
    }
}
