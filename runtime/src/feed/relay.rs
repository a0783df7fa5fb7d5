//! The relay: publishes the change feed to NATS JetStream, exactly once per event, for services
//! that run many instances (each consumes the stream instead of reading the database).
//!
//! - Each event is published to `<subject_prefix>.<topic>` with the header `Nats-Msg-Id` = the
//!   event's id — JetStream drops a repeat within the stream's duplicate window — and
//!   `Hearth-Feed-Cursor` = its feed cursor. The payload is the event as JSON.
//! - Publishing is sequential, each acknowledged before the next, so the stream holds the feed's
//!   order and its last message names the last event stored.
//! - **The resume point is the stream itself**: on start the relay reads the stream's last
//!   message's `Hearth-Feed-Cursor` and reads the feed after it. A relay killed anywhere — before a
//!   publish, after a publish before its acknowledgement — restarts after exactly the last event
//!   stored; an event published twice (a relay started from an older cursor) is dropped by the
//!   duplicate window.

use super::wake::WakeUp;
use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use hearth_core::kernel::feed::{Feed, FeedCursor, FeedEvent};
use std::time::Duration;

/// The header naming the event's feed cursor.
pub const CURSOR_HEADER: &str = "Hearth-Feed-Cursor";
/// JetStream's de-duplication header.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Where and how the relay publishes.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The stream (created when missing, capturing `<subject_prefix>.>`).
    pub stream: String,
    /// Subjects are `<subject_prefix>.<topic>`.
    pub subject_prefix: String,
    /// Where to start when the stream is empty.
    pub start: FeedCursor,
    /// How often to read the feed without a wake-up.
    pub poll_interval: Duration,
    /// Events per feed read.
    pub page_size: u32,
    /// JetStream's duplicate window for the stream it creates.
    pub duplicate_window: Duration,
}

impl RelayConfig {
    /// A relay into `stream` under `subject_prefix`, from the beginning of the feed.
    pub fn new(stream: impl Into<String>, subject_prefix: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            subject_prefix: subject_prefix.into(),
            start: FeedCursor::START,
            poll_interval: Duration::from_millis(500),
            page_size: 500,
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// JetStream refused or failed (stream, publish, acknowledgement).
    #[error("jetstream: {0}")]
    JetStream(String),
    /// The store failed (a `cursor_expired` means events were pruned before they were relayed).
    #[error("store: {0}")]
    Store(#[from] hearth_core::kernel::StoreError),
    /// The stream's last message carries no readable cursor.
    #[error("the stream's last message has no `{CURSOR_HEADER}` header")]
    NoCursor,
}

fn js<E: std::fmt::Display>(e: E) -> RelayError {
    RelayError::JetStream(e.to_string())
}

/// The stream the relay publishes to (created when missing).
pub async fn ensure_stream(js_ctx: &jetstream::Context, config: &RelayConfig) -> Result<stream::Stream, RelayError> {
    js_ctx
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![format!("{}.>", config.subject_prefix)],
            duplicate_window: config.duplicate_window,
            ..Default::default()
        })
        .await
        .map_err(js)
}

/// Where the relay resumes: after the stream's last message, or `config.start` when it is empty.
pub async fn resume_point(stream: &mut stream::Stream, config: &RelayConfig) -> Result<FeedCursor, RelayError> {
    let last = stream.info().await.map_err(js)?.state.last_sequence;
    if last == 0 {
        return Ok(config.start);
    }
    let message = stream.get_raw_message(last).await.map_err(js)?;
    let cursor = message.headers.get(CURSOR_HEADER).ok_or(RelayError::NoCursor)?;
    cursor.as_str().parse().map_err(|_| RelayError::NoCursor)
}

/// Publishes one event and waits for JetStream's acknowledgement; `true` when the stream already
/// had it (a duplicate within the window).
pub async fn publish(js_ctx: &jetstream::Context, config: &RelayConfig, e: &FeedEvent) -> Result<bool, RelayError> {
    let mut headers = HeaderMap::new();
    headers.insert(MSG_ID_HEADER, e.event.id.to_string().as_str());
    headers.insert(CURSOR_HEADER, e.cursor.to_string().as_str());
    let payload = serde_json::to_vec(&e.event).map_err(|err| RelayError::JetStream(format!("payload: {err}")))?;
    let subject = format!("{}.{}", config.subject_prefix, e.event.topic);
    let ack = js_ctx.publish_with_headers(subject, headers, payload.into()).await.map_err(js)?;
    Ok(ack.await.map_err(js)?.duplicate)
}

/// Relays the feed of `store` to JetStream for ever (until an error): resumes after the stream's
/// last message, publishes each released event once, in order, then waits for a wake-up or the
/// poll interval.
pub async fn run<S: Feed>(
    store: S,
    js_ctx: jetstream::Context,
    mut wake: impl WakeUp,
    config: RelayConfig,
) -> Result<(), RelayError> {
    let mut stream = ensure_stream(&js_ctx, &config).await?;
    let mut cursor = resume_point(&mut stream, &config).await?;
    relay_from(&store, &js_ctx, &mut wake, &config, &mut cursor).await
}

/// [`run`] from an explicit cursor (events the stream already holds are dropped as duplicates
/// within the window).
pub async fn relay_from<S: Feed>(
    store: &S,
    js_ctx: &jetstream::Context,
    wake: &mut impl WakeUp,
    config: &RelayConfig,
    cursor: &mut FeedCursor,
) -> Result<(), RelayError> {
    loop {
        let page = store.feed_after(*cursor, config.page_size).await?;
        let caught_up = page.events.len() < config.page_size as usize;
        for e in &page.events {
            publish(js_ctx, config, e).await?;
            *cursor = e.cursor;
        }
        if caught_up {
            let wait = if page.held_back { Duration::from_millis(10) } else { config.poll_interval };
            tokio::select! {
                () = wake.wait() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
