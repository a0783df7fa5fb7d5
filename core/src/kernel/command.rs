//! The command runner: validate → load → authorize → decide (pure) → commit, retrying on version
//! conflicts, with idempotency keys and the audit/outbox records every state change must write.

use crate::actor::Actor;
use crate::error::{Error, ErrorCode};
use crate::id::{AuditId, EventId, IdSource, TenantId};
use crate::kernel::entity::{Entity, EntityRef, Readers};
use crate::kernel::jobs;
use crate::kernel::store::{
    AuditRecord, ChangeSet, Expect, IdempotencyRecord, MaybeSendSync, OutboxEvent, Reader, Reads, Store, StoreError,
    Versioned, Write,
};
use crate::kernel::value::Value;
use crate::time::{Clock, Timestamp};
use crate::validate::{ValidationErrors, Violation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How many times one command is decided again after a version conflict before giving up with
/// `conflict`. Each retry reloads, so contention resolves in a few turns.
pub const COMMIT_ATTEMPTS_MAX: u32 = 8;

/// Longest idempotency key, in bytes.
pub const IDEMPOTENCY_KEY_MAX_BYTES: usize = 255;

/// A caller-chosen key that makes a command apply at most once per caller.
///
/// INVARIANT (key): 1–255 bytes of printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks and wraps a key.
    pub fn new(key: impl Into<String>) -> Result<Self, ValidationErrors> {
        let key = key.into();
        if key.is_empty() {
            return Err(ValidationErrors::single("idempotency_key", Violation::Required));
        }
        if key.len() > IDEMPOTENCY_KEY_MAX_BYTES {
            return Err(ValidationErrors::single(
                "idempotency_key",
                Violation::TooLong { max: IDEMPOTENCY_KEY_MAX_BYTES as u32 },
            ));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValidationErrors::single(
                "idempotency_key",
                Violation::InvalidFormat { expected: "printable_ascii".into() },
            ));
        }
        Ok(Self(key))
    }
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = ValidationErrors;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}
impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}

/// The decide step's context: the injected time and ids, and the change set being built.
///
/// Every entity write goes through [`Decide::insert`] or [`Decide::update`], which append the audit
/// record and the outbox event for it — so no state change can be committed without both.
pub struct Decide<'a> {
    now: Timestamp,
    ids: &'a dyn IdSource,
    actor: &'a Actor,
    changes: ChangeSet,
    tenant: Option<TenantId>,
}

mod sealed {
    /// Only the kernel implements this (see [`super::SelfAudited`]).
    pub trait Sealed {}
}

/// Records that are their own audit trail: immutable rows carrying their actor. The kernel seals
/// this list — the ledger's transfers, the account balances they move and the balance history rows
/// they write — so no other domain can write without an audit record and an outbox event.
pub trait SelfAudited: Entity + sealed::Sealed {}

impl sealed::Sealed for crate::ledger::model::Transfer {}
impl SelfAudited for crate::ledger::model::Transfer {}
impl sealed::Sealed for crate::ledger::model::Account {}
impl SelfAudited for crate::ledger::model::Account {}
impl sealed::Sealed for crate::ledger::model::HistoricalBalance {}
impl SelfAudited for crate::ledger::model::HistoricalBalance {}

impl<'a> Decide<'a> {
    /// A context for one decision.
    pub fn new(now: Timestamp, ids: &'a dyn IdSource, actor: &'a Actor) -> Self {
        Self { now, ids, actor, changes: ChangeSet::default(), tenant: None }
    }
    /// The command's "now".
    pub fn now(&self) -> Timestamp {
        self.now
    }
    /// The id source.
    pub fn ids(&self) -> &dyn IdSource {
        self.ids
    }
    /// Inserts a new entity (`create` in the audit trail); its readers are told.
    pub fn insert<T: Entity>(&mut self, value: T) -> Result<(), Error> {
        self.record(None, &value, "create", Expect::Absent)?;
        self.changes.writes.push(Write::Row {
            kind: T::kind(),
            id: value.id(),
            row: value.to_row(),
            expect: Expect::Absent,
        });
        Ok(())
    }
    /// Replaces `before` by `after` under `action`, expecting `before`'s version. The event carries
    /// `after`, so its audience is exactly `after`'s readers.
    pub fn update<T: Entity>(&mut self, before: &Versioned<T>, after: T, action: &str) -> Result<(), Error> {
        let expect = Expect::Version(before.version);
        self.record(Some(&before.value), &after, action, expect)?;
        self.changes.writes.push(Write::Row { kind: T::kind(), id: after.id(), row: after.to_row(), expect });
        Ok(())
    }
    /// Appends an immutable record of an append-only entity, audited and emitted like an insert.
    pub fn append<T: Entity>(&mut self, value: T) -> Result<(), Error> {
        self.record(None, &value, "create", Expect::Absent)?;
        self.changes.writes.push(Write::Append { kind: T::kind(), id: value.id(), row: value.to_row() });
        Ok(())
    }
    /// Adds to counter columns of `T`'s row `id` in place, guarded by `T`'s declared guards.
    ///
    /// A counter is a cache of rows the same change set writes through [`Decide::insert`] /
    /// [`Decide::update`] (a slot's `booked` counts its live seats): that write is the audited and
    /// emitted change, so the delta itself adds no record. Only entities that declare guards take
    /// deltas.
    pub fn delta<T: Entity>(&mut self, id: uuid::Uuid, add: &[(&'static str, i64)]) -> Result<(), Error> {
        if T::DECL.guards.is_empty() {
            return Err(Error::internal(format!("{} declares no counter guard", T::DECL.kind)));
        }
        self.changes.writes.push(Write::Delta { kind: T::kind(), id, add: add.to_vec(), require: Vec::new() });
        Ok(())
    }
    /// Appends a record that is its own audit trail, or a delta on such an entity's counters — the
    /// ledger's immutable transfers and the balances they move. Only [`SelfAudited`] types may, and
    /// the kernel seals that list.
    pub fn append_self_audited<T: SelfAudited>(&mut self, value: T) {
        self.changes.writes.push(Write::Append { kind: T::kind(), id: value.id(), row: value.to_row() });
    }
    /// A guarded delta on a [`SelfAudited`] entity's counters, applied only while every `require`
    /// column holds its value.
    pub fn delta_self_audited<T: SelfAudited>(
        &mut self,
        id: uuid::Uuid,
        add: &[(&'static str, i64)],
        require: &[(&'static str, Value)],
    ) {
        self.changes.writes.push(Write::Delta { kind: T::kind(), id, add: add.to_vec(), require: require.to_vec() });
    }
    /// Takes one place from the rate-limit bucket `value` (a GCRA step, [`Write::Take`]) at this
    /// decision's "now": committed with the change it guards, or not at all. `value` is the bucket
    /// as inserted when none exists yet (its `column` holding `now + cost`); `cost` is the policy's
    /// emission interval and `window` its burst window, in microseconds.
    ///
    /// Like a delta, a take adds no audit record or event: the bucket is bookkeeping of the change
    /// it admits, which is audited. The caller decided first that the take is admitted (on the
    /// bucket its snapshot read); if a concurrent take filled the bucket since, the commit fails
    /// with `GuardFailed` and the runner decides again on fresh data.
    pub fn take<T: Entity>(&mut self, value: &T, column: &'static str, cost: i64, window: i64) -> Result<(), Error> {
        if cost <= 0 || window < cost {
            return Err(Error::internal(format!("a take on {} costs {cost} µs in a window of {window} µs", T::kind())));
        }
        self.changes.writes.push(Write::Take {
            kind: T::kind(),
            id: value.id(),
            row: value.to_row(),
            column,
            now: self.now.unix_micros(),
            cost,
            window,
        });
        Ok(())
    }
    fn record<T: Entity>(&mut self, before: Option<&T>, after: &T, action: &str, expect: Expect) -> Result<(), Error> {
        let entity = after.entity_ref();
        let snapshot = |v: &T| serde_json::to_value(v).map_err(|e| Error::internal(format!("snapshot: {e}")));
        let after_json = snapshot(after)?;
        let before_json = before.map(snapshot).transpose()?;
        self.changes.audit.push(AuditRecord {
            id: AuditId::generate(self.ids),
            entity,
            action: action.to_owned(),
            actor: self.actor.principal(),
            before: before_json,
            after: after_json.clone(),
            version: expect.next_version(),
            at: self.now,
        });
        // The event carries `after`: exactly its readers receive it (not who could read `before`).
        self.push_event(format!("{}.{action}", entity.kind), entity, after_json, after.readers());
        Ok(())
    }
    fn push_event(&mut self, topic: String, entity: EntityRef, payload: serde_json::Value, mut readers: Readers) {
        readers.users.sort();
        readers.users.dedup();
        if let Some(tenant) = self.tenant {
            readers.tenant = Some(tenant);
        }
        self.changes.events.push(OutboxEvent {
            id: EventId::generate(self.ids),
            topic,
            entity,
            payload,
            audience: readers.users.clone(),
            at: self.now,
            readers,
        });
    }
    /// Scopes the events this decision emits from now on to `tenant`: their roles (and
    /// signed-in openness) admit only sessions in it ([`Readers::tenant`]). A domain whose records
    /// belong to one tenant but do not carry it (a maintenance comment belongs to its request's
    /// hostel) calls this once it knows the tenant, so the events reach exactly who may read them.
    pub fn scope_events_to(&mut self, tenant: TenantId) {
        self.tenant = Some(tenant);
    }
    /// Adds an outbox event that is not tied to one entity write, for `readers`.
    pub fn emit(&mut self, topic: &str, entity: EntityRef, payload: serde_json::Value, readers: Readers) {
        self.push_event(topic.to_owned(), entity, payload, readers);
    }
    /// Enqueues a job of kind `decl` in this change set: it exists if and only if the change
    /// commits. The payload is checked by the kind (field errors under `payload.`), the options are
    /// checked too ([`jobs::new_job`]); an unregistered kind is `internal`. With a unique key that a
    /// pending job already holds, the commit goes ahead and the job is not added (never an error).
    /// Returns the id the job has if it is added.
    pub fn enqueue(
        &mut self,
        decl: &'static jobs::JobDecl,
        payload: &impl Serialize,
        options: jobs::EnqueueOptions,
    ) -> Result<crate::id::JobId, Error> {
        let payload = serde_json::to_value(payload).map_err(|e| Error::internal(format!("job payload: {e}")))?;
        let job = jobs::new_job(decl, payload, options, self.now, self.ids)?;
        let id = job.id;
        self.changes.jobs.push(job);
        Ok(id)
    }
    /// The principal of the acting caller.
    pub fn actor_principal(&self) -> String {
        self.actor.principal()
    }
    /// The change set built so far.
    pub fn into_changes(self) -> ChangeSet {
        self.changes
    }
}

/// A state-changing command: a serialisable domain action with its validate, load and decide steps.
///
/// `decide` is pure: everything it needs was loaded, and time and ids come from [`Decide`]. Every
/// read `load` makes goes through one consistent view of the store ([`Store::snapshot`]).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait Command: Serialize + MaybeSendSync {
    /// Stable name, `<domain>.<verb>` (`amenities.book`): idempotency fingerprints and queue
    /// envelopes use it.
    const NAME: &'static str;
    /// The name idempotency and offline fingerprints are computed under: [`Command::NAME`] unless
    /// the command was renamed after records were written under an earlier name, which it keeps
    /// here so those records still replay (`duplicate`, never `idempotency_mismatch`).
    const FINGERPRINT_NAME: &'static str = Self::NAME;
    /// How many reads `load` makes: [`Reads::One`] lets a store skip the read transaction.
    const READS: Reads = Reads::Many;
    /// How many times the runner decides again after a lost commit before answering `conflict`.
    /// A command whose commits serialize on one hot row by design (a per-hostel reference counter)
    /// raises it: every lost attempt means another command committed, so `n` simultaneous callers
    /// need at most `n` attempts.
    const COMMIT_ATTEMPTS: u32 = COMMIT_ATTEMPTS_MAX;
    /// The validated input.
    type Valid: MaybeSendSync;
    /// What `load` fetched.
    type Loaded: MaybeSendSync;
    /// The result returned (and replayed for duplicate idempotency keys).
    type Output: Serialize + DeserializeOwned + MaybeSendSync;

    /// Checks the input against `now`; every field error at once.
    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors>;
    /// How many reads this command's load makes on attempt `attempt` (defaults to [`Command::READS`]):
    /// a command whose first attempt reads once but whose retries read more says so here.
    fn reads(&self, valid: &Self::Valid, attempt: u32) -> Reads {
        let _ = (valid, attempt);
        Self::READS
    }
    /// Loads what `decide` needs, from one consistent view.
    async fn load(&self, store: &dyn Reader, actor: &Actor, valid: &Self::Valid) -> Result<Self::Loaded, Error>;
    /// Loads for attempt `attempt` (0 first, then once per conflict). A command may load less on the
    /// first attempt when the store's unique keys will report what it skipped (the ledger skips the
    /// transfer-id lookup: a duplicate id fails the insert, and the retry loads it). Defaults to `load`.
    async fn load_attempt(
        &self,
        store: &dyn Reader,
        actor: &Actor,
        valid: &Self::Valid,
        attempt: u32,
    ) -> Result<Self::Loaded, Error> {
        let _ = attempt;
        self.load(store, actor, valid).await
    }
    /// Authorizes and decides: the output, with the writes recorded in `cx`.
    fn decide(
        &self,
        actor: &Actor,
        valid: &Self::Valid,
        loaded: Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Self::Output, Error>;
}

/// Runs commands against a store with an injected clock and id source.
pub struct Runner<S> {
    store: S,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl<S: Clone> Clone for Runner<S> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), clock: self.clock.clone(), ids: self.ids.clone() }
    }
}

impl<S: Store> Runner<S> {
    /// A runner over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { store, clock, ids }
    }
    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
    /// The clock's current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs `cmd` for `actor`. With a key, a repeat of the same command returns the first result
    /// without applying again, and the key reused for another command is `idempotency_mismatch`.
    pub async fn execute<C: Command>(
        &self,
        actor: &Actor,
        key: Option<&IdempotencyKey>,
        cmd: &C,
    ) -> Result<C::Output, Error> {
        self.run(actor, key, cmd, None).await.map_err(|e| match e {
            RunError::Refused(e) | RunError::Exhausted(e) => e,
            RunError::SeqTaken | RunError::StreamOwned => Error::internal("client action recorded without a slot"),
        })
    }

    /// [`Runner::execute`] that also commits `slot`'s offline-action record with the effects (the
    /// offline queue's exactly-once step), and tells a refusal from giving up under contention.
    pub(crate) async fn run<C: Command>(
        &self,
        actor: &Actor,
        key: Option<&IdempotencyKey>,
        cmd: &C,
        slot: Option<&RecordSlot>,
    ) -> Result<C::Output, RunError> {
        let scope = actor.principal();
        let fingerprint = match key {
            Some(_) => Some(fingerprint(C::FINGERPRINT_NAME, cmd)?),
            None => None,
        };
        if let (Some(key), Some(fp)) = (key, fingerprint.as_deref()) {
            if let Some(rec) = self.store.idempotency_record(&scope, key.as_str()).await.map_err(Error::from)? {
                return Ok(replay::<C::Output>(&rec, fp)?);
            }
        }
        let now = self.clock.now();
        let valid = cmd.validate(now).map_err(Error::from)?;
        for attempt in 0..C::COMMIT_ATTEMPTS {
            let loaded = {
                // The view is released before the commit (a Postgres snapshot holds a connection).
                let view = self.store.snapshot(cmd.reads(&valid, attempt)).await.map_err(Error::from)?;
                cmd.load_attempt(view.as_ref(), actor, &valid, attempt).await?
            };
            // The decision's time is read after its load, never before the validation's: what it
            // loaded was committed by decisions taken earlier, so time-ordered rules (a rate
            // limiter's arrival times) see arrivals in order, and a retry decides at its own time.
            let decided_at = self.clock.now().max(now);
            let mut cx = Decide::new(decided_at, self.ids.as_ref(), actor);
            let output = match cmd.decide(actor, &valid, loaded, &mut cx) {
                Ok(o) => o,
                // The first decision was legal; after a concurrent change it no longer is: the caller
                // lost a race, and is told so (`conflict`), not that the thing vanished.
                Err(e) if attempt > 0 && is_lost_race(e.code) => {
                    return Err(Error::conflict(format!("changed concurrently: {}", e.message)).into());
                }
                Err(e) => return Err(e.into()),
            };
            let mut changes = cx.into_changes();
            if let (Some(key), Some(fp)) = (key, fingerprint.as_ref()) {
                changes.idempotency = Some(IdempotencyRecord {
                    scope: scope.clone(),
                    key: key.as_str().to_owned(),
                    command: C::NAME.to_owned(),
                    fingerprint: fp.clone(),
                    response: serde_json::to_value(&output).map_err(|e| Error::internal(format!("response: {e}")))?,
                    at: decided_at,
                });
            }
            if let Some(slot) = slot {
                let result = serde_json::to_value(&output).map_err(|e| Error::internal(format!("response: {e}")))?;
                changes.client_action =
                    Some(slot.record(&scope, crate::offline::Outcome::Applied { result }, decided_at)?);
            }
            if changes.is_empty() {
                return Ok(output);
            }
            match self.store.commit(changes).await {
                Ok(()) => return Ok(output),
                // Someone else changed what we decided on: reload and decide again.
                Err(
                    StoreError::VersionConflict { .. }
                    | StoreError::AlreadyExists { .. }
                    | StoreError::GuardFailed { .. },
                ) => continue,
                Err(StoreError::IdempotencyKeyTaken) => {
                    let (Some(key), Some(fp)) = (key, fingerprint.as_deref()) else {
                        return Err(Error::internal("idempotency conflict without a key").into());
                    };
                    return match self.store.idempotency_record(&scope, key.as_str()).await.map_err(Error::from)? {
                        Some(rec) => Ok(replay::<C::Output>(&rec, fp)?),
                        None => {
                            Err(Error::new(ErrorCode::Unavailable, "idempotency record not visible yet; retry").into())
                        }
                    };
                }
                Err(StoreError::ClientSeqTaken) if slot.is_some() => return Err(RunError::SeqTaken),
                Err(StoreError::ClientStreamOwned) if slot.is_some() => return Err(RunError::StreamOwned),
                Err(e) => return Err(Error::from(e).into()),
            }
        }
        Err(RunError::Exhausted(Error::conflict(format!(
            "gave up after {} concurrent changes; try again",
            C::COMMIT_ATTEMPTS
        ))))
    }
}

/// The refusals that, on a retry after a concurrent change, mean "someone else got there first".
fn is_lost_race(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::InvalidTransition | ErrorCode::NotFound | ErrorCode::PreconditionFailed)
}

/// How [`Runner::run`] failed.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The command was refused (validation, authorization, state, store): a final answer, unless its
    /// code is transient.
    Refused(Error),
    /// Every attempt lost to a concurrent change: worth trying again later.
    Exhausted(Error),
    /// A concurrent run recorded the same offline action first.
    SeqTaken,
    /// The offline action's client stream belongs to another principal (its owner row, checked by
    /// the commit, names someone else): nothing was written.
    StreamOwned,
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        RunError::Refused(e.into())
    }
}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Refused(e)
    }
}

/// The offline action a run applies: recorded in the same commit as its effects.
#[derive(Debug, Clone)]
pub(crate) struct RecordSlot {
    pub(crate) client_id: crate::id::ClientId,
    pub(crate) seq: u64,
    pub(crate) action: &'static str,
    pub(crate) fingerprint: String,
}

impl RecordSlot {
    /// The record of this action with `outcome`.
    pub(crate) fn record(
        &self,
        principal: &str,
        outcome: crate::offline::Outcome,
        at: Timestamp,
    ) -> Result<crate::store::ClientActionRecord, Error> {
        Ok(crate::store::ClientActionRecord {
            client_id: self.client_id,
            seq: self.seq,
            principal: principal.to_owned(),
            action: self.action.to_owned(),
            fingerprint: self.fingerprint.clone(),
            outcome: serde_json::to_value(&outcome).map_err(|e| Error::internal(format!("outcome: {e}")))?,
            at,
        })
    }
}

/// SHA-256 (hex) of the command name and its canonical JSON.
pub fn fingerprint<T: Serialize + ?Sized>(name: &str, cmd: &T) -> Result<String, Error> {
    let json = serde_json::to_vec(cmd).map_err(|e| Error::internal(format!("fingerprint: {e}")))?;
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(&json);
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn replay<T: DeserializeOwned>(rec: &IdempotencyRecord, fingerprint: &str) -> Result<T, Error> {
    if rec.fingerprint != fingerprint {
        return Err(Error::new(
            ErrorCode::IdempotencyMismatch,
            format!("idempotency key `{}` was used for a different request", rec.key),
        ));
    }
    serde_json::from_value(rec.response.clone()).map_err(|e| Error::internal(format!("stored response: {e}")))
}
