//! Wake-ups: what tells the hub that a commit appended events. Only a hint — the payload is never
//! trusted, and a lost wake-up costs latency, never an event (the hub also polls).

use hearth_postgres::{PgStore, FEED_CHANNEL};
use hearth_sqlite::SqliteStore;
use sqlx::postgres::PgListener;

/// Something that says "the feed may have grown".
#[async_trait::async_trait]
pub trait WakeUp: Send {
    /// Returns at the next wake-up (or when the source failed: the caller reads the feed anyway,
    /// and its poll covers a source that is down).
    async fn wait(&mut self);
}

/// No wake-ups: the hub finds new events by polling alone (the memory store, or a store written
/// by other processes only).
#[derive(Debug, Default)]
pub struct PollOnly;

#[async_trait::async_trait]
impl WakeUp for PollOnly {
    async fn wait(&mut self) {
        std::future::pending::<()>().await
    }
}

/// SQLite's in-process wake-up: [`SqliteStore::feed_signal`], changed right after each commit that
/// appended events through this store.
#[derive(Debug)]
pub struct SqliteWake {
    signal: tokio::sync::watch::Receiver<u64>,
}

impl SqliteWake {
    /// Wakes on `store`'s commits.
    pub fn new(store: &SqliteStore) -> Self {
        Self { signal: store.feed_signal() }
    }
}

#[async_trait::async_trait]
impl WakeUp for SqliteWake {
    async fn wait(&mut self) {
        if self.signal.changed().await.is_err() {
            // The store is gone: nothing will ever signal again.
            std::future::pending::<()>().await
        }
    }
}

/// Postgres: `LISTEN` on [`FEED_CHANNEL`]; the store sends a `NOTIFY` after the commits that append
/// events, coalesced, with its schema as the payload: a wake-up for another schema of the same
/// database is skipped (the hub reads from its own cursor). sqlx reconnects a
/// dropped listener; notifications sent meanwhile are lost, which the hub's poll covers.
pub struct PgWake {
    listener: PgListener,
    /// The store's schema: the payload of its own wake-ups.
    schema: String,
}

impl std::fmt::Debug for PgWake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWake").finish_non_exhaustive()
    }
}

impl PgWake {
    /// Listens on a connection of its own from `store`'s pool settings.
    pub async fn connect(store: &PgStore) -> Result<Self, sqlx::Error> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(store.pool()).await?;
        let mut listener = PgListener::connect_with(store.pool()).await?;
        listener.listen(FEED_CHANNEL).await?;
        Ok(Self { listener, schema })
    }
}

#[async_trait::async_trait]
impl WakeUp for PgWake {
    async fn wait(&mut self) {
        // Several notifications may be queued: one read covers them all, so take what is there.
        loop {
            match self.listener.recv().await {
                Ok(n) if n.payload() != self.schema => continue, // another schema's commit
                Ok(_) => break,
                // Reconnecting: wake the hub so it reads whatever the gap hid.
                Err(_) => return,
            }
        }
        while self.listener.next_buffered().is_some() {}
    }
}
