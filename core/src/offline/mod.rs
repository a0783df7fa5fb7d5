//! The offline action queue: exactly-once delivery of *domain actions* from clients that go offline.
//!
//! Modelled on Replicache's push, with typed answers. A client wraps each action ("create this
//! request", "express interest") — never a row write — in an [`Envelope`] numbered `1, 2, 3, …` per
//! client, validates it locally with the same rules the server runs, and keeps it in an
//! [`OfflineQueue`] (a plain value the host persists as JSON). The server's [`apply_batch`] applies a
//! batch in order and records each action's outcome **in the same commit as its effects**, keyed by
//! `(client_id, seq)`; a client's `last_seq` is its highest record. So a replay never applies twice
//! and always gets the first answer back, and a crash between two actions loses nothing acknowledged.
//!
//! Per action the server answers [`ActionResult`]: `applied`, `duplicate` (with the original
//! outcome), `rejected` (typed code and field errors; recorded, so it never blocks the queue; the
//! actions that depend on it are rejected with it) or `retry_later` (transient: the store is
//! unavailable, or contention outlasted the retries; nothing recorded). Retries are driven by a
//! timer with capped, jittered exponential backoff ([`backoff_delay_ms`]) that waits at least a
//! `rate_limited` answer's `retry_after_ms`, not only by new writes.
//!
//! A client stream belongs to the principal whose action the store recorded first: the store
//! records the owner with that action and checks it in every action's commit, and a `duplicate`
//! answers only the principal that wrote the action. Every [`BatchAnswer`] carries the stream's
//! [`StreamStatus`] (its last recorded `seq` and outcome; [`stream_status`] asks for it alone), so a
//! client restored from an old saved queue learns where the server stands and renumbers what the
//! server has not recorded ([`OfflineQueue::acknowledge_batch`], [`OfflineQueue::adopt_cursor`]).

mod action;
mod backoff;
mod queue;
mod server;

pub use action::{Action, Envelope};
pub use backoff::{backoff_delay_ms, next_jitter, BACKOFF_BASE_MS, BACKOFF_CAP_MS};
pub use queue::{AckReport, OfflineQueue, RejectedAction, QUEUE_FORMAT, QUEUE_PENDING_MAX};
pub use server::{apply_batch, stream_status};

use crate::error::Error;
use serde::{Deserialize, Serialize};

/// Most envelopes in one batch (a client's `peek` never returns more).
pub const BATCH_MAX: usize = 100;

/// What the server recorded for an action: kept with `(client_id, seq)` and replayed to duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied; `result` is the command's output then.
    Applied {
        /// The command's output.
        result: serde_json::Value,
    },
    /// Refused for good.
    Rejected {
        /// Why.
        error: Error,
    },
}

impl Outcome {
    /// True for `rejected`.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Outcome::Rejected { .. })
    }
}

/// Where a client stream stands on the server: its last recorded `seq` and what was recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamStatus {
    /// The highest recorded `seq` (0: nothing recorded yet).
    pub last_seq: u64,
    /// Its outcome (`None` when nothing is recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<Outcome>,
}

/// The server's answer to a batch: one result per envelope, in order, and where the stream stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchAnswer {
    /// One answer per envelope, in `seq` order.
    pub results: Vec<ActionResult>,
    /// The stream's last recorded `seq` and outcome once the batch was applied.
    pub cursor: StreamStatus,
}

/// The server's answer for one envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActionResult {
    /// Applied now.
    Applied {
        /// The envelope's `seq`.
        seq: u64,
        /// The command's output.
        result: serde_json::Value,
    },
    /// Seen before: nothing was applied again; `original` is what happened the first time.
    Duplicate {
        /// The envelope's `seq`.
        seq: u64,
        /// The first outcome.
        original: Outcome,
    },
    /// Refused for good (recorded): the client drops it from the queue and shows the error.
    Rejected {
        /// The envelope's `seq`.
        seq: u64,
        /// Code, message and field errors.
        error: Error,
    },
    /// Not applied; send it again later (nothing was recorded).
    RetryLater {
        /// The envelope's `seq`.
        seq: u64,
        /// The transient error.
        error: Error,
    },
}

impl ActionResult {
    /// The envelope's `seq`.
    pub fn seq(&self) -> u64 {
        match self {
            ActionResult::Applied { seq, .. }
            | ActionResult::Duplicate { seq, .. }
            | ActionResult::Rejected { seq, .. }
            | ActionResult::RetryLater { seq, .. } => *seq,
        }
    }
    /// The recorded outcome this answer stands for (`None` for `retry_later`).
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            ActionResult::Applied { result, .. } => Some(Outcome::Applied { result: result.clone() }),
            ActionResult::Duplicate { original, .. } => Some(original.clone()),
            ActionResult::Rejected { error, .. } => Some(Outcome::Rejected { error: error.clone() }),
            ActionResult::RetryLater { .. } => None,
        }
    }
}
