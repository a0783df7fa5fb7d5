//! The server side: apply a client's batch in order, exactly once per `(client_id, seq)`.

use super::{ActionResult, BatchAnswer, Envelope, Outcome, StreamStatus, BATCH_MAX};
use crate::actor::Actor;
use crate::error::{Error, ErrorCode};
use crate::id::ClientId;
use crate::kernel::command::{fingerprint, RecordSlot, RunError, Runner};
use crate::kernel::store::{ChangeSet, ClientActionRecord, Reader, Store, StoreError};
use crate::validate::{ValidationErrors, Validator, Violation};
use std::collections::BTreeMap;

/// Applies `envelopes` (one client's, in `seq` order) for `actor`, answering per envelope.
///
/// Each action runs as its own command, and its outcome is recorded under `(client_id, seq)` in
/// the same commit as its effects — a rejection is recorded alone — so sending a batch again, or
/// two copies at once, applies each action once and answers the copies `duplicate` with the first
/// outcome. An action whose `depends_on` names a rejected one is rejected (`dependency_rejected`).
///
/// Final and transient answers: only a refusal that would be the same if sent again (validation,
/// state, authorization, a failed dependency, `conflict` that is not contention) is recorded as
/// `rejected`. A transient failure — the store unavailable (a cancelled or timed-out statement, a
/// lock not available, a lost connection, a full pool, a busy SQLite file), a full rate window,
/// contention that outlasted the retries, or an `internal` error — records nothing and answers
/// `retry_later` for that action and every later one (order is kept). So is an action whose `seq`
/// the server recorded for a different action (`idempotency_mismatch`, not recorded): the stream
/// moved on without this client (a restored old queue), and the answer's cursor says where to.
///
/// Errors for the whole batch: an empty or oversized batch, envelopes of another client or out of
/// order (`validation`); a first new `seq` that skips one (`precondition_failed`, field `seq_gap`
/// with the expected number); a client stream that belongs to another caller (`forbidden`, also
/// when that caller's first action won a race with this batch: the store checks the stream's owner
/// in every action's commit); the store unavailable before anything was applied (`unavailable`).
pub async fn apply_batch<S: Store>(
    runner: &Runner<S>,
    actor: &Actor,
    client_id: ClientId,
    envelopes: &[Envelope],
) -> Result<BatchAnswer, Error> {
    check_batch(client_id, envelopes)?;
    if actor.user_id().is_none() {
        return Err(Error::unauthenticated());
    }
    let principal = actor.principal();
    let store = runner.store();
    let last = match store.client_cursor(client_id).await? {
        Some(c) if c.principal != principal => return Err(not_yours()),
        Some(c) => c.last_seq,
        None => 0,
    };
    let (first, end) = match (envelopes.first(), envelopes.last()) {
        (Some(f), Some(l)) => (f.seq, l.seq),
        _ => return Err(Error::internal("an empty batch passed its check")),
    };
    if first > last + 1 {
        let mut e = Error::precondition(format!("sequence gap: the server expects seq {} next", last + 1));
        e.fields = ValidationErrors::single("envelopes[0].seq", Violation::SeqGap { expected: last + 1 }).into_errors();
        return Err(e);
    }
    let recorded: BTreeMap<u64, ClientActionRecord> =
        if first <= last { store.client_actions(client_id, first, end.min(last)).await? } else { Vec::new() }
            .into_iter()
            .map(|r| (r.seq, r))
            .collect();

    // Whether each action answered so far (in this batch) ended rejected, for `depends_on`.
    let mut rejected: BTreeMap<u64, bool> = BTreeMap::new();
    let mut results = Vec::with_capacity(envelopes.len());
    let mut stop: Option<Error> = None;
    // The stream's cursor as this batch leaves it: the highest seq known recorded, and its outcome.
    let mut cursor = (last, recorded.get(&last).map(stored_outcome).transpose()?);
    for env in envelopes {
        if let Some(error) = &stop {
            results.push(ActionResult::RetryLater { seq: env.seq, error: error.clone() });
            continue;
        }
        let slot = RecordSlot {
            client_id,
            seq: env.seq,
            action: env.action.name(),
            fingerprint: fingerprint(env.action.fingerprint_name(), &env.action)?,
        };
        let step = match recorded.get(&env.seq) {
            Some(rec) => duplicate(rec, &slot, &principal),
            None => apply_one(runner, actor, &principal, env, &slot, &rejected).await,
        };
        let result = match step {
            Ok(result) => result,
            Err(Stop::NotYours) => return Err(not_yours()),
            // A read or record failed on the way: nothing of this action was recorded.
            Err(Stop::Retry(error)) => ActionResult::RetryLater { seq: env.seq, error },
        };
        match (&result, result.outcome()) {
            (ActionResult::Rejected { error, .. }, _) if error.code == ErrorCode::IdempotencyMismatch => {
                stop = Some(Error::new(
                    ErrorCode::IdempotencyMismatch,
                    format!("seq {} was recorded for a different action; renumber from the cursor", env.seq),
                ));
            }
            (_, Some(outcome)) => {
                rejected.insert(env.seq, outcome.is_rejected());
                if env.seq >= cursor.0 {
                    cursor = (env.seq, Some(outcome));
                }
            }
            (ActionResult::RetryLater { error, .. }, None) => stop = Some(error.clone()),
            (_, None) => {}
        }
        results.push(result);
    }
    let (last_seq, last_outcome) = cursor;
    let last_outcome = match last_outcome {
        Some(o) => Some(o),
        // Recorded before this batch and not among its envelopes: one more read (best effort — the
        // answers above stand even if it fails).
        None if last_seq > 0 => match store.client_actions(client_id, last_seq, last_seq).await {
            Ok(recs) => recs.first().map(stored_outcome).transpose()?,
            Err(_) => None,
        },
        None => None,
    };
    Ok(BatchAnswer { results, cursor: StreamStatus { last_seq, last_outcome } })
}

/// Where `client_id`'s stream stands, for its owner: the last recorded `seq` and its outcome
/// (`last_seq` 0 for a stream nothing was recorded on). One cheap read for a client that lost track
/// (restored from an old saved queue) before it sends again.
///
/// Errors: `unauthenticated` for anonymous callers; `forbidden` when another caller owns the stream.
pub async fn stream_status<S: Reader + ?Sized>(
    store: &S,
    actor: &Actor,
    client_id: ClientId,
) -> Result<StreamStatus, Error> {
    if actor.user_id().is_none() {
        return Err(Error::unauthenticated());
    }
    match store.client_cursor(client_id).await? {
        None => Ok(StreamStatus::default()),
        Some(c) if c.principal != actor.principal() => Err(not_yours()),
        Some(c) if c.last_seq == 0 => Ok(StreamStatus::default()),
        Some(c) => {
            let last_outcome = match store.client_actions(client_id, c.last_seq, c.last_seq).await?.first() {
                Some(rec) => Some(stored_outcome(rec)?),
                None => None,
            };
            Ok(StreamStatus { last_seq: c.last_seq, last_outcome })
        }
    }
}

fn not_yours() -> Error {
    Error::forbidden("this client stream belongs to another caller")
}

/// Why an action's step ended without an answer of its own.
enum Stop {
    /// The stream is another principal's: the whole batch is refused (`forbidden`).
    NotYours,
    /// Transient: this action and the rest answer `retry_later` with this error.
    Retry(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Retry(e)
    }
}

impl From<crate::kernel::store::StoreError> for Stop {
    fn from(e: crate::kernel::store::StoreError) -> Self {
        Stop::Retry(e.into())
    }
}

/// Applies one new action (or records why not).
async fn apply_one<S: Store>(
    runner: &Runner<S>,
    actor: &Actor,
    principal: &str,
    env: &Envelope,
    slot: &RecordSlot,
    rejected: &BTreeMap<u64, bool>,
) -> Result<ActionResult, Stop> {
    let store = runner.store();
    Ok(match rejected_dependency(store, env, rejected).await? {
        Some(dep) => {
            let error = Error::new(
                ErrorCode::DependencyRejected,
                format!("action {dep}, which this one depends on, was rejected"),
            );
            reject(runner, principal, slot, error).await?
        }
        None => match env.action.apply(runner, actor, slot).await {
            Ok(result) => ActionResult::Applied { seq: env.seq, result },
            Err(RunError::SeqTaken) => recorded_since(store, slot, principal).await?,
            Err(RunError::StreamOwned) => return Err(Stop::NotYours),
            Err(RunError::Exhausted(error)) => ActionResult::RetryLater { seq: env.seq, error },
            Err(RunError::Refused(error)) if !is_final(&error) => ActionResult::RetryLater { seq: env.seq, error },
            Err(RunError::Refused(error)) => reject(runner, principal, slot, env.action.locate(error)).await?,
        },
    })
}

/// True when a refusal is the action's final answer, to be recorded: sending the same action again
/// would be refused the same way. Not final: the store was unavailable (`unavailable`: the adapters
/// map cancelled and timed-out statements, unavailable locks, lost connections, pool timeouts and
/// busy SQLite files there), a rate window was full (`rate_limited`), or something broke on the
/// server (`internal`: a bug or an unclassified store error is never the user's final answer).
fn is_final(error: &Error) -> bool {
    !(error.code.is_transient() || matches!(error.code, ErrorCode::RateLimited | ErrorCode::Internal))
}

fn check_batch(client_id: ClientId, envelopes: &[Envelope]) -> Result<(), Error> {
    let mut v = Validator::new();
    if envelopes.is_empty() {
        v.push("envelopes", Violation::TooFew { min: 1 });
    }
    if envelopes.len() > BATCH_MAX {
        v.push("envelopes", Violation::TooMany { max: BATCH_MAX as u32 });
    }
    let mut prev: Option<u64> = None;
    for (i, env) in envelopes.iter().enumerate() {
        if env.client_id != client_id {
            v.push(
                &format!("envelopes[{i}].client_id"),
                Violation::InvalidFormat { expected: "batch_client_id".into() },
            );
        }
        match prev {
            None if env.seq == 0 => {
                v.push(&format!("envelopes[{i}].seq"), Violation::OutOfRange { min: 1, max: i64::MAX })
            }
            Some(p) if env.seq != p + 1 => {
                v.push(&format!("envelopes[{i}].seq"), Violation::SeqGap { expected: p + 1 })
            }
            _ => {}
        }
        prev = Some(env.seq);
        for (j, dep) in env.depends_on.iter().enumerate() {
            if *dep == 0 || *dep >= env.seq {
                v.push(&format!("envelopes[{i}].depends_on[{j}]"), Violation::NotEarlier);
            }
        }
    }
    v.finish(|| Some(())).map_err(Error::from)
}

/// The answer for an action recorded before: the first outcome, for the principal that wrote it
/// only, and unless the envelope now carries a different action under the same `seq` (a client
/// bug or a restored old queue: `idempotency_mismatch`, not recorded).
fn duplicate(rec: &ClientActionRecord, slot: &RecordSlot, principal: &str) -> Result<ActionResult, Stop> {
    if rec.principal != principal {
        return Err(Stop::NotYours);
    }
    if rec.fingerprint != slot.fingerprint {
        return Ok(ActionResult::Rejected {
            seq: slot.seq,
            error: Error::new(
                ErrorCode::IdempotencyMismatch,
                format!("seq {} was recorded for a different action", slot.seq),
            ),
        });
    }
    Ok(ActionResult::Duplicate { seq: slot.seq, original: stored_outcome(rec)? })
}

/// The rejected action among `env`'s dependencies, if any: answered in this batch, else recorded.
async fn rejected_dependency<S: Reader + ?Sized>(
    store: &S,
    env: &Envelope,
    answered: &BTreeMap<u64, bool>,
) -> Result<Option<u64>, Error> {
    for &dep in &env.depends_on {
        let rejected = match answered.get(&dep) {
            Some(r) => *r,
            None => match store.client_actions(env.client_id, dep, dep).await?.first() {
                Some(rec) => stored_outcome(rec)?.is_rejected(),
                // Not recorded: impossible for an earlier seq once the stream has no gaps.
                None => false,
            },
        };
        if rejected {
            return Ok(Some(dep));
        }
    }
    Ok(None)
}

fn stored_outcome(rec: &ClientActionRecord) -> Result<Outcome, Error> {
    serde_json::from_value(rec.outcome.clone())
        .map_err(|e| Error::internal(format!("stored client action outcome: {e}")))
}

/// Records a final refusal (nothing else is written); a concurrent recording wins. A refusal whose
/// record cannot be written is not an answer: `retry_later`.
async fn reject<S: Store>(
    runner: &Runner<S>,
    principal: &str,
    slot: &RecordSlot,
    error: Error,
) -> Result<ActionResult, Stop> {
    debug_assert!(is_final(&error), "only final refusals are recorded");
    let record = slot.record(principal, Outcome::Rejected { error: error.clone() }, runner.now())?;
    match runner.store().commit(ChangeSet { client_action: Some(record), ..ChangeSet::default() }).await {
        Ok(()) => Ok(ActionResult::Rejected { seq: slot.seq, error }),
        Err(StoreError::ClientSeqTaken) => recorded_since(runner.store(), slot, principal).await,
        Err(StoreError::ClientStreamOwned) => Err(Stop::NotYours),
        Err(e) => Ok(ActionResult::RetryLater { seq: slot.seq, error: e.into() }),
    }
}

/// The answer after a concurrent copy of the batch recorded this action first.
async fn recorded_since<S: Reader + ?Sized>(
    store: &S,
    slot: &RecordSlot,
    principal: &str,
) -> Result<ActionResult, Stop> {
    match store.client_actions(slot.client_id, slot.seq, slot.seq).await?.first() {
        Some(rec) => duplicate(rec, slot, principal),
        None => Ok(ActionResult::RetryLater {
            seq: slot.seq,
            error: Error::new(ErrorCode::Unavailable, "the action's record is not visible yet; retry"),
        }),
    }
}
