//! The JetStream relay (issue 10: "a relay publishes the feed to NATS JetStream exactly once per
//! event, with deduplication by event id; test: kill the relay mid-stream, restart, no event lost
//! or duplicated downstream"). NATS at 127.0.0.1:4222 with JetStream, started here when absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "feed_common/mod.rs"]
mod common;

use async_nats::jetstream::{self, consumer};
use common::{emit, event, someone};
use futures_util::StreamExt;
use hearth_core::kernel::entity::Readers;
use hearth_core::kernel::feed::{Feed, FeedCursor};
use hearth_core::kernel::store::Store;
use hearth_runtime::feed::relay::{self, RelayConfig, CURSOR_HEADER, MSG_ID_HEADER};
use hearth_runtime::feed::wake::{PgWake, SqliteWake, WakeUp};
use std::time::Duration;

const EVENTS: u64 = 300;
const PATIENCE: Duration = Duration::from_secs(60);

async fn stored(stream: &mut jetstream::stream::Stream) -> u64 {
    stream.info().await.unwrap().state.messages
}

/// Kills the relay mid-stream, restarts it, replays the whole feed at the stream once more, then
/// reads the stream with a JetStream consumer: every committed event exactly once, in feed order.
async fn killed_mid_stream<S, W>(store: S, mut wake: impl FnMut() -> W)
where
    S: Store + Feed + Clone + Send + Sync + 'static,
    W: WakeUp + 'static,
{
    let js = common::nats().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let config = RelayConfig {
        poll_interval: Duration::from_millis(50),
        page_size: 16,
        ..RelayConfig::new(format!("HEARTH_FEED_T_{tag}"), format!("hearth_t_{tag}"))
    };
    let mut stream = relay::ensure_stream(&js, &config)
        .await
        .unwrap_or_else(|e| panic!("NATS at {} has no usable JetStream (start it with -js): {e}", common::nats_url()));
    // The producer: commits events one by one while the relay runs.
    let user = someone();
    let producer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..EVENTS {
                emit(&store, event(n, Readers::users([user]))).await;
                if n % 10 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };
    let first = tokio::spawn(relay::run(store.clone(), js.clone(), wake(), config.clone()));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while stored(&mut stream).await < 60 {
        assert!(tokio::time::Instant::now() < deadline, "the relay published nothing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort(); // killed mid-stream
    assert!(first.await.unwrap_err().is_cancelled());
    let at_kill = stored(&mut stream).await;
    producer.await.unwrap();
    assert!(at_kill < EVENTS, "killed before the end ({at_kill} of {EVENTS})");
    // Restarted: resumes after the stream's last message.
    let second = tokio::spawn(relay::run(store.clone(), js.clone(), wake(), config.clone()));
    while stored(&mut stream).await < EVENTS {
        assert!(tokio::time::Instant::now() < deadline, "the restarted relay did not catch up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    second.abort();
    let _ = second.await;
    assert_eq!(stored(&mut stream).await, EVENTS, "nothing published twice after the restart");
    // A relay started from an older cursor publishes everything again: JetStream drops every
    // repeat by its event id.
    let mut feed = Vec::new();
    let mut cursor = FeedCursor::START;
    loop {
        let page = store.feed_after(cursor, 100).await.unwrap();
        if page.events.is_empty() {
            break;
        }
        cursor = page.events.last().unwrap().cursor;
        feed.extend(page.events);
    }
    assert_eq!(feed.len() as u64, EVENTS);
    for e in &feed {
        assert!(relay::publish(&js, &config, e).await.unwrap(), "{} is a duplicate", e.event.id);
    }
    assert_eq!(stored(&mut stream).await, EVENTS);
    // Downstream: a JetStream consumer reads every event once, in feed order.
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut got = Vec::new();
    while (got.len() as u64) < EVENTS {
        let m = tokio::time::timeout(PATIENCE, messages.next()).await.unwrap().unwrap().unwrap();
        let headers = m.headers.clone().unwrap();
        let id = headers.get(MSG_ID_HEADER).unwrap().as_str().to_owned();
        let cursor: FeedCursor = headers.get(CURSOR_HEADER).unwrap().as_str().parse().unwrap();
        let body: hearth_core::kernel::store::OutboxEvent = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(body.id.to_string(), id);
        assert_eq!(m.subject.as_str(), format!("{}.feed.test", config.subject_prefix));
        got.push((id, cursor));
    }
    let expected: Vec<(String, FeedCursor)> = feed.iter().map(|e| (e.event.id.to_string(), e.cursor)).collect();
    assert_eq!(got, expected, "every event exactly once, in feed order");
    js.delete_stream(&config.stream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relay_killed_mid_stream_loses_and_duplicates_nothing() {
    let store = common::postgres().await;
    let wakes = store.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // A listener per relay run, connected up front (a relay's wake-up is its own connection).
    for _ in 0..2 {
        tx.send(PgWake::connect(&wakes).await.unwrap()).unwrap();
    }
    killed_mid_stream(store, move || rx.try_recv().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relay_killed_mid_stream_loses_and_duplicates_nothing() {
    let store = common::sqlite().await;
    let signal = store.clone();
    killed_mid_stream(store, move || SqliteWake::new(&signal)).await;
}
