//! The client's queue: a plain value the host persists (browser storage, app files, SQLite).

use super::backoff::{backoff_delay_ms, next_jitter};
use super::{Action, ActionResult, BatchAnswer, Envelope, Outcome, StreamStatus, BATCH_MAX};
use crate::error::{Error, ErrorCode};
use crate::id::ClientId;
use crate::time::Timestamp;
use crate::validate::{parse_json, ValidationErrors, Violation};
use serde::{Deserialize, Serialize};

/// Version of the exported JSON; `import` refuses other versions.
pub const QUEUE_FORMAT: u32 = 1;
/// Most actions waiting at once; `enqueue` refuses more (`capacity_exhausted`).
pub const QUEUE_PENDING_MAX: usize = 10_000;

/// An action the server refused for good, kept for the UI until dismissed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedAction {
    /// The envelope as sent.
    pub envelope: Envelope,
    /// Why.
    pub error: Error,
}

/// What one acknowledgement changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckReport {
    /// Seqs that are done (applied now or before).
    pub applied: Vec<u64>,
    /// Seqs the server refused (now in the rejected list).
    pub rejected: Vec<u64>,
    /// Seqs still waiting for a retry.
    pub retry_later: Vec<u64>,
    /// When the host's timer should try again (`None`: no backoff in force).
    pub next_attempt_at: Option<Timestamp>,
    /// Waiting actions given new numbers (`[old, new]`) because the server recorded their `seq` for
    /// other actions (a queue restored from an old export): send them again now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renumbered: Vec<(u64, u64)>,
}

/// What [`OfflineQueue::acknowledge_json`] takes: a whole batch answer, or just its results.
#[derive(Deserialize)]
#[serde(untagged)]
enum AnswerJson {
    Batch(BatchAnswer),
    Results(Vec<ActionResult>),
}

#[derive(Deserialize)]
struct Wrapped<T> {
    v: T,
}

/// A client's offline action queue.
///
/// INVARIANT (order): `pending` is in strictly increasing `seq` order, every `seq` is below
/// `next_seq`, and every envelope names this queue's client; `import` checks it for stored queues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineQueue {
    format: u32,
    client_id: ClientId,
    next_seq: u64,
    pending: Vec<Envelope>,
    rejected: Vec<RejectedAction>,
    failures: u32,
    not_before: Option<Timestamp>,
    jitter: u64,
}

impl OfflineQueue {
    /// An empty queue for one client installation.
    pub fn new(client_id: ClientId) -> Self {
        let folded = client_id.as_uuid().as_u128();
        Self {
            format: QUEUE_FORMAT,
            client_id,
            next_seq: 1,
            pending: Vec::new(),
            rejected: Vec::new(),
            failures: 0,
            not_before: None,
            jitter: (folded >> 64) as u64 ^ folded as u64,
        }
    }

    /// The client stream.
    pub fn client_id(&self) -> ClientId {
        self.client_id
    }

    /// Validates `action` against `now` with the server's rules and queues it; its `seq`.
    ///
    /// It depends on every waiting action that creates what it acts on, so if that one is rejected,
    /// this one is rejected with it. Invalid input is a `validation` error and queues nothing.
    pub fn enqueue(&mut self, action: Action, now: Timestamp) -> Result<u64, Error> {
        action.validate(now)?;
        if self.pending.len() >= QUEUE_PENDING_MAX {
            return Err(Error::new(
                ErrorCode::CapacityExhausted,
                format!("at most {QUEUE_PENDING_MAX} actions may wait; sync first"),
            ));
        }
        let target = action.acts_on();
        let depends_on =
            self.pending.iter().filter(|e| target.is_some() && e.action.creates() == target).map(|e| e.seq).collect();
        let seq = self.next_seq;
        self.pending.push(Envelope { client_id: self.client_id, seq, action, created_at: now, depends_on });
        self.next_seq += 1;
        Ok(seq)
    }

    /// Validates and queues an action given as JSON (what the SDKs call).
    pub fn enqueue_json(&mut self, action_json: &str, now: Timestamp) -> Result<u64, Error> {
        let action: Action = parse_json(action_json)?;
        self.enqueue(action, now)
    }

    /// The next batch to send: the oldest `max` waiting actions (at most [`BATCH_MAX`]).
    pub fn peek(&self, max: usize) -> Vec<Envelope> {
        self.pending.iter().take(max.min(BATCH_MAX)).cloned().collect()
    }

    /// Takes the server's answers: done and rejected actions leave the queue (rejected ones are kept
    /// in [`OfflineQueue::rejected`]); `retry_later` keeps them and starts the backoff. Answers for
    /// actions no longer waiting are ignored, so acknowledging twice is harmless.
    ///
    /// A `retry_later` answer that says how long to wait (`rate_limited` with `retry_after_ms`)
    /// holds the next attempt back at least that long, whatever the backoff schedule says.
    pub fn acknowledge(&mut self, results: &[ActionResult], now: Timestamp) -> AckReport {
        let mut report = AckReport::default();
        let mut wait_ms: Option<u64> = None;
        for result in results {
            let seq = result.seq();
            let Some(pos) = self.pending.iter().position(|e| e.seq == seq) else { continue };
            match result.outcome() {
                Some(Outcome::Applied { .. }) => {
                    self.pending.remove(pos);
                    report.applied.push(seq);
                }
                Some(Outcome::Rejected { error }) => {
                    let envelope = self.pending.remove(pos);
                    self.rejected.push(RejectedAction { envelope, error });
                    report.rejected.push(seq);
                }
                None => {
                    if let ActionResult::RetryLater { error, .. } = result {
                        wait_ms = wait_ms.max(error.retry_after_ms);
                    }
                    report.retry_later.push(seq)
                }
            }
        }
        if !report.retry_later.is_empty() {
            let backoff = self.record_failure(now);
            let asked = wait_ms
                .and_then(|ms| i64::try_from(ms).ok())
                .and_then(|ms| now.checked_add(chrono::Duration::milliseconds(ms)));
            if let Some(at) = asked.filter(|at| *at > backoff) {
                self.not_before = Some(at);
            }
        } else if !report.applied.is_empty() || !report.rejected.is_empty() {
            self.failures = 0;
            self.not_before = None;
        }
        report.next_attempt_at = self.not_before;
        report
    }

    /// Takes a whole [`BatchAnswer`]: like [`OfflineQueue::acknowledge`], and learns the server's
    /// cursor.
    ///
    /// An `idempotency_mismatch` answer means the server recorded that `seq` for another action:
    /// the stream moved on without this queue (it was restored from an old export). The server
    /// applied none of this action nor anything after it in the batch, so this action and every
    /// later waiting one are renumbered after the cursor's `last_seq`, in order, their
    /// `depends_on` following, and are due at once (no backoff). An action the server did record —
    /// the same action under the same `seq` — answers `duplicate` instead and is never renumbered,
    /// so nothing applies twice.
    pub fn acknowledge_batch(&mut self, answer: &BatchAnswer, now: Timestamp) -> AckReport {
        let mismatch = answer.results.iter().find_map(|r| match r {
            ActionResult::Rejected { seq, error } if error.code == ErrorCode::IdempotencyMismatch => Some(*seq),
            _ => None,
        });
        match mismatch.filter(|seq| self.pending.iter().any(|e| e.seq == *seq)) {
            Some(from) => {
                let before: Vec<ActionResult> = answer.results.iter().filter(|r| r.seq() < from).cloned().collect();
                let mut report = self.acknowledge(&before, now);
                report.renumbered = self.renumber_from(from, answer.cursor.last_seq);
                report.next_attempt_at = self.not_before;
                report
            }
            None => {
                let report = self.acknowledge(&answer.results, now);
                self.adopt_cursor(&answer.cursor);
                report
            }
        }
    }

    /// Takes the server's answer as JSON: a [`BatchAnswer`] object, or the array of its results
    /// (what the SDKs call).
    pub fn acknowledge_json(&mut self, answer_json: &str, now: Timestamp) -> Result<AckReport, Error> {
        let answer: AnswerJson = parse_json::<Wrapped<AnswerJson>>(&format!("{{\"v\":{answer_json}}}"))?.v;
        Ok(match answer {
            AnswerJson::Batch(b) => self.acknowledge_batch(&b, now),
            AnswerJson::Results(r) => self.acknowledge(&r, now),
        })
    }

    /// Learns where the server's stream stands ([`StreamStatus`], from a batch answer or the
    /// status call): with nothing waiting, the next action is numbered after `last_seq`, so a queue
    /// restored from an old export does not reuse numbers the server has recorded. Waiting actions
    /// keep their numbers: the server alone can tell whether it recorded them (a resend answers
    /// `duplicate`, or `idempotency_mismatch`, which [`OfflineQueue::acknowledge_batch`] renumbers).
    pub fn adopt_cursor(&mut self, status: &StreamStatus) {
        if self.pending.is_empty() {
            self.next_seq = self.next_seq.max(status.last_seq.saturating_add(1));
        }
    }

    /// [`OfflineQueue::adopt_cursor`] with the status as JSON (what the SDKs call).
    pub fn adopt_cursor_json(&mut self, status_json: &str) -> Result<(), Error> {
        let status: StreamStatus = parse_json(status_json)?;
        self.adopt_cursor(&status);
        Ok(())
    }

    /// Renumbers the waiting actions from `from` on to `last_seq + 1, + 2, …` (order kept,
    /// `depends_on` remapped); the `[old, new]` pairs.
    fn renumber_from(&mut self, from: u64, last_seq: u64) -> Vec<(u64, u64)> {
        let mut map: Vec<(u64, u64)> = Vec::new();
        let mut next = last_seq.max(from.saturating_sub(1)).saturating_add(1);
        for e in self.pending.iter_mut().filter(|e| e.seq >= from) {
            map.push((e.seq, next));
            e.seq = next;
            e.depends_on =
                e.depends_on.iter().map(|d| map.iter().find(|(old, _)| old == d).map_or(*d, |(_, new)| *new)).collect();
            next = next.saturating_add(1);
        }
        self.next_seq = self.next_seq.max(next);
        // Due now: the server is reachable and told us where to go.
        self.failures = 0;
        self.not_before = None;
        map
    }

    /// Records a failed attempt (network down, server error): the next attempt waits longer. Returns
    /// when the host's timer should fire.
    pub fn record_failure(&mut self, now: Timestamp) -> Timestamp {
        self.failures = self.failures.saturating_add(1);
        self.jitter = next_jitter(self.jitter);
        let delay = backoff_delay_ms(self.failures, self.jitter);
        let at =
            i64::try_from(delay).ok().and_then(|ms| now.checked_add(chrono::Duration::milliseconds(ms))).unwrap_or(now);
        self.not_before = Some(at);
        at
    }

    /// Consecutive failed attempts so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next attempt is allowed (`None`: now).
    pub fn next_attempt_at(&self) -> Option<Timestamp> {
        self.not_before
    }

    /// True when something waits and no backoff holds it back at `now`.
    pub fn is_due(&self, now: Timestamp) -> bool {
        !self.pending.is_empty() && self.not_before.is_none_or(|t| t <= now)
    }

    /// How many actions wait.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The waiting actions, oldest first.
    pub fn pending(&self) -> &[Envelope] {
        &self.pending
    }

    /// The actions the server refused, oldest first.
    pub fn rejected(&self) -> &[RejectedAction] {
        &self.rejected
    }

    /// Forgets a rejected action once the user has seen it; false when there was none.
    pub fn dismiss_rejected(&mut self, seq: u64) -> bool {
        let before = self.rejected.len();
        self.rejected.retain(|r| r.envelope.seq != seq);
        self.rejected.len() != before
    }

    /// The queue as JSON, for the host to persist.
    pub fn export(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(|e| Error::internal(format!("export: {e}")))
    }

    /// A queue from [`OfflineQueue::export`]'s JSON; refuses other formats and broken invariants.
    pub fn import(json: &str) -> Result<Self, Error> {
        let q: OfflineQueue = parse_json(json)?;
        let mut errors = Vec::new();
        if q.format != QUEUE_FORMAT {
            errors.push(("format", Violation::OutOfRange { min: QUEUE_FORMAT.into(), max: QUEUE_FORMAT.into() }));
        }
        let mut last = 0;
        for e in &q.pending {
            if e.client_id != q.client_id {
                errors.push(("pending", Violation::InvalidFormat { expected: "same_client_id".into() }));
            }
            if e.seq <= last || e.seq >= q.next_seq {
                errors.push(("pending", Violation::InvalidFormat { expected: "increasing_seq".into() }));
            }
            last = e.seq;
        }
        if let Some((field, violation)) = errors.into_iter().next() {
            return Err(ValidationErrors::single(field, violation).into());
        }
        Ok(q)
    }
}
