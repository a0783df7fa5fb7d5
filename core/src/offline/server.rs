//! The server side: apply a client's batch in order, exactly once per `(client_id, seq)`.

use super::{ActionResult, Envelope, Outcome, BATCH_MAX};
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
/// A transient failure answers `retry_later` for that action and every later one (order is kept).
///
/// Errors for the whole batch: an empty or oversized batch, envelopes of another client or out of
/// order (`validation`); a first new `seq` that skips one (`precondition_failed`, field `seq_gap`
/// with the expected number); a client stream that belongs to another caller (`forbidden`).
pub async fn apply_batch<S: Store>(
    runner: &Runner<S>,
    actor: &Actor,
    client_id: ClientId,
    envelopes: &[Envelope],
) -> Result<Vec<ActionResult>, Error> {
    check_batch(client_id, envelopes)?;
    if actor.user_id().is_none() {
        return Err(Error::unauthenticated());
    }
    let principal = actor.principal();
    let store = runner.store();
    let last = match store.client_cursor(client_id).await? {
        Some(c) if c.principal != principal => {
            return Err(Error::forbidden("this client stream belongs to another caller"));
        }
        Some(c) => c.last_seq,
        None => 0,
    };
    let (first, end) = match (envelopes.first(), envelopes.last()) {
        (Some(f), Some(l)) => (f.seq, l.seq),
        _ => return Ok(Vec::new()),
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
        let result = match recorded.get(&env.seq) {
            Some(rec) => duplicate(rec, &slot)?,
            None => apply_one(runner, actor, &principal, env, &slot, &rejected).await?,
        };
        match result.outcome() {
            Some(outcome) => {
                rejected.insert(env.seq, outcome.is_rejected());
            }
            None => {
                if let ActionResult::RetryLater { error, .. } = &result {
                    stop = Some(error.clone());
                }
            }
        }
        results.push(result);
    }
    Ok(results)
}

/// Applies one new action (or records why not).
async fn apply_one<S: Store>(
    runner: &Runner<S>,
    actor: &Actor,
    principal: &str,
    env: &Envelope,
    slot: &RecordSlot,
    rejected: &BTreeMap<u64, bool>,
) -> Result<ActionResult, Error> {
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
            Err(RunError::SeqTaken) => recorded_since(store, slot).await?,
            Err(RunError::Exhausted(error)) => ActionResult::RetryLater { seq: env.seq, error },
            Err(RunError::Refused(error)) if retry_later(error.code) => {
                ActionResult::RetryLater { seq: env.seq, error }
            }
            Err(RunError::Refused(error)) => reject(runner, principal, slot, error).await?,
        },
    })
}

/// Codes worth sending again unchanged: the store was unavailable, or a rate window was full.
fn retry_later(code: ErrorCode) -> bool {
    code.is_transient() || code == ErrorCode::RateLimited
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

/// The answer for an action recorded before: the first outcome, unless the envelope now carries a
/// different action under the same `seq` (a client bug: `idempotency_mismatch`, not recorded).
fn duplicate(rec: &ClientActionRecord, slot: &RecordSlot) -> Result<ActionResult, Error> {
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

/// Records a final refusal (nothing else is written); a concurrent recording wins.
async fn reject<S: Store>(
    runner: &Runner<S>,
    principal: &str,
    slot: &RecordSlot,
    error: Error,
) -> Result<ActionResult, Error> {
    let record = slot.record(principal, Outcome::Rejected { error: error.clone() }, runner.now())?;
    match runner.store().commit(ChangeSet { client_action: Some(record), ..ChangeSet::default() }).await {
        Ok(()) => Ok(ActionResult::Rejected { seq: slot.seq, error }),
        Err(StoreError::ClientSeqTaken) => recorded_since(runner.store(), slot).await,
        Err(e) if Error::from(e.clone()).code.is_transient() => {
            Ok(ActionResult::RetryLater { seq: slot.seq, error: e.into() })
        }
        Err(e) => Err(e.into()),
    }
}

/// The answer after a concurrent copy of the batch recorded this action first.
async fn recorded_since<S: Reader + ?Sized>(store: &S, slot: &RecordSlot) -> Result<ActionResult, Error> {
    match store.client_actions(slot.client_id, slot.seq, slot.seq).await?.first() {
        Some(rec) => duplicate(rec, slot),
        None => Ok(ActionResult::RetryLater {
            seq: slot.seq,
            error: Error::new(ErrorCode::Unavailable, "the action's record is not visible yet; retry"),
        }),
    }
}
