//! The wallet ledger: double-entry accounts and immutable transfers (TigerBeetle's model), the
//! expiry sweep for holds, and reconciliation of cached balances against the transfers.
//!
//! [`Ledger`] authorizes and runs each operation as one command through the [`Runner`]: the pure
//! [`engine`] decides, the store commits the records and one guarded delta per account atomically.

pub mod accounts;
pub mod engine;
pub mod jobs;
pub mod model;
pub mod query;
mod store;

pub use store::{transfer_readers, CurrencyTotals, LedgerStore, ACCOUNT_PAGE, DOMAIN};

use crate::actor::Actor;
use crate::authz::Decision;
use crate::error::{Error, ErrorCode};
use crate::id::{IdSource, UserId};
use crate::kernel::access::require;
use crate::kernel::entity::{Entity, EntityRef, Readers};
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::kernel::value::Value;
use crate::money::{Currency, Money};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{ValidationErrors, Violation};
use accounts::{AccountInput, AccountOutcome, AccountsSnapshot, BATCH_ACCOUNTS_MAX};
use engine::{Context, Outcome, Snapshot, TransferInput, BATCH_TRANSFERS_MAX};
use model::{
    Account, AccountFlags, AccountId, AccountKind, Balance, HistoricalBalance, ImportCursor, ImportStream, Transfer,
    TransferCode, TransferId,
};
use query::{AccountFilter, Page, QueryFilter, LOOKUP_IDS_MAX};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Most expired holds one sweep releases.
pub const EXPIRY_SWEEP_MAX: u32 = 1_000;
/// Accounts reconciled per store round trip.
pub const RECONCILE_PAGE: u32 = 500;
/// How many times a transfer batch or a sweep is decided again before answering `conflict`: an
/// account with `flags.history` takes one decision at a time, so its writers retry.
pub const HISTORY_COMMIT_ATTEMPTS: u32 = 256;

/// The flags an account of `kind` gets: wallets and revenue accounts can never go negative.
pub fn default_flags(kind: AccountKind) -> AccountFlags {
    match kind {
        AccountKind::Wallet | AccountKind::CanteenRevenue | AccountKind::Fees => {
            AccountFlags { debits_must_not_exceed_credits: true, ..AccountFlags::default() }
        }
        AccountKind::GatewayClearing | AccountKind::Refunds | AccountKind::Ledger => AccountFlags::default(),
    }
}

fn is_staff(actor: &Actor) -> bool {
    matches!(actor, Actor::System) || actor.is_admin()
}

/// Imports (caller timestamps) are the system's: a migration job, not a person. An imported
/// transfer may carry the `top_up` and `refund` codes of the history it migrates.
fn may_import(actor: &Actor) -> Decision {
    Decision::when(matches!(actor, Actor::System), "only the system imports history")
}

/// The newest of two instants.
fn newest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

/// Advances `stream`'s import cursor to `last` (a versioned write: two racing imports cannot both
/// commit, and the loser decides again past the winner's timestamps).
fn advance_cursor(
    cx: &mut Decide<'_>,
    stream: ImportStream,
    loaded: Option<Versioned<ImportCursor>>,
    last: Option<Timestamp>,
) -> Result<(), Error> {
    let Some(last) = last else { return Ok(()) };
    let next = ImportCursor { stream, last };
    match loaded {
        Some(c) => cx.update(&c, next, "advance"),
        None => cx.insert(next),
    }
}

/// Opens an account, or returns the one that exists (one per owner, kind and currency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAccount {
    /// The owner (wallets); `None` for system accounts.
    pub owner: Option<UserId>,
    /// Purpose (not `ledger`: those accounts are created through `create_accounts`).
    pub kind: AccountKind,
    /// Currency.
    pub currency: Currency,
    /// For a migrated account: when it was opened in the system it comes from (the system only;
    /// in the past, after every account so far — TigerBeetle's `flags.imported` rules). Its
    /// history is then imported after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_at: Option<Timestamp>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for OpenAccount {
    const NAME: &'static str = "ledger.open_account";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = (Option<Versioned<Account>>, Option<Versioned<ImportCursor>>, Option<Timestamp>);
    type Output = Account;

    fn validate(&self, now: Timestamp) -> Result<(), ValidationErrors> {
        match (self.kind, self.owner) {
            (AccountKind::Ledger, _) => {
                return Err(ValidationErrors::single(
                    "kind",
                    Violation::NotAllowed {
                        allowed: AccountKind::ALL
                            .iter()
                            .filter(|(k, _)| *k != AccountKind::Ledger)
                            .map(|(_, w)| (*w).to_owned())
                            .collect(),
                    },
                ))
            }
            (AccountKind::Wallet, None) => return Err(ValidationErrors::single("owner", Violation::Required)),
            (AccountKind::Wallet, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(ValidationErrors::single(
                    "owner",
                    Violation::NotAllowed { allowed: vec!["none for system accounts".into()] },
                ))
            }
        }
        // account.md, `timestamp`: "greater than 0" (hearth's 0 is the Unix epoch), and "a past
        // date, never ahead of the cluster clock".
        match self.imported_at {
            Some(at) if at.unix_micros() <= 0 || at >= now => Err(ValidationErrors::single(
                "imported_at",
                Violation::OutOfRange { min: 1, max: now.unix_micros().saturating_sub(1) },
            )),
            _ => Ok(()),
        }
    }
    fn reads(&self, _: &(), _attempt: u32) -> Reads {
        if self.imported_at.is_some() {
            Reads::Many
        } else {
            Reads::One
        }
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        let existing = store.ledger_account_for(self.owner, self.kind, self.currency).await?;
        if self.imported_at.is_none() || existing.is_some() {
            return Ok((existing, None, None));
        }
        let cursor = store.ledger_import_cursor(ImportStream::Accounts).await?;
        let latest = store.latest_account_time().await?;
        let floor = newest(cursor.as_ref().map(|c| c.value.last), latest);
        Ok((existing, cursor, floor))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (loaded, cursor, floor): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Account, Error> {
        let own_wallet = self.kind == AccountKind::Wallet && self.owner.is_some_and(|o| actor.is(o));
        require(actor, Decision::when(own_wallet || is_staff(actor), "users open only their own wallet"))?;
        if self.imported_at.is_some() {
            require(actor, may_import(actor))?;
        }
        if let Some(existing) = loaded {
            // An import retried answers the account it made (TigerBeetle: `exists` before the
            // timestamp checks); an account opened at another time cannot be backdated.
            return match self.imported_at {
                Some(at) if existing.value.created_at != at => Err(Error::conflict(format!(
                    "the account exists since {} and cannot be imported at {at}",
                    existing.value.created_at
                ))),
                _ => Ok(existing.value),
            };
        }
        let created_at = match self.imported_at {
            // create_accounts.md, `imported_event_timestamp_must_not_regress`: "it must be greater
            // than the last timestamp assigned to any Account".
            Some(at) if floor.is_some_and(|f| at <= f) => {
                return Err(Error::precondition(format!(
                    "imported_event_timestamp_must_not_regress: {at} is not after the newest account"
                )))
            }
            Some(at) => at,
            None => cx.now(),
        };
        let mut account = Account::managed(
            AccountId::from_uuid(cx.ids().new_uuid()),
            self.owner,
            self.kind,
            self.currency,
            default_flags(self.kind),
            created_at,
        );
        account.flags.imported = self.imported_at.is_some();
        cx.insert(account.clone())?;
        advance_cursor(cx, ImportStream::Accounts, cursor, self.imported_at)?;
        Ok(account)
    }
}

/// Applies a batch of transfers (system and admins only; top-ups only through verified payments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTransfers {
    /// The batch, in order.
    pub transfers: Vec<TransferInput>,
    /// Set only by the verified-payment path.
    #[serde(skip)]
    pub(crate) allow_top_up: bool,
    /// Set only by the refund path.
    #[serde(skip)]
    pub(crate) allow_refund: bool,
}

impl CreateTransfers {
    /// A batch as a caller submits it.
    pub fn new(transfers: Vec<TransferInput>) -> Self {
        Self { transfers, allow_top_up: false, allow_refund: false }
    }
    /// An import batch: its first transfer is imported.
    fn imported(&self) -> bool {
        self.transfers.first().is_some_and(|t| t.flags.imported)
    }
}

/// Creates a batch of accounts (TigerBeetle's `create_accounts`; the system and admins; imports by
/// the system only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAccounts {
    /// The batch, in order.
    pub accounts: Vec<AccountInput>,
}

impl CreateAccounts {
    fn imported(&self) -> bool {
        self.accounts.first().is_some_and(|a| a.flags.imported)
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for CreateAccounts {
    const NAME: &'static str = "ledger.create_accounts";
    type Valid = ();
    type Loaded = (AccountsSnapshot, Option<Versioned<ImportCursor>>);
    type Output = Vec<AccountOutcome>;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        match self.accounts.len() {
            0 => Err(ValidationErrors::single("accounts", Violation::TooFew { min: 1 })),
            n if n > BATCH_ACCOUNTS_MAX => {
                Err(ValidationErrors::single("accounts", Violation::TooMany { max: BATCH_ACCOUNTS_MAX as u32 }))
            }
            _ => Ok(()),
        }
    }
    // The batch's ids, read on every attempt: a racer's insert of one of them fails this commit
    // (`AlreadyExists`), and the next attempt answers `exists` or `exists_with_different_*`.
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        let ids: BTreeSet<AccountId> = self.accounts.iter().map(|a| a.id).filter(|id| !id.as_uuid().is_nil()).collect();
        let existing = store.ledger_accounts(&ids.into_iter().collect::<Vec<_>>()).await?;
        let mut snap = AccountsSnapshot {
            existing: existing.into_iter().map(|a| (a.value.id, a.value)).collect(),
            import_floor: None,
        };
        if !self.imported() {
            return Ok((snap, None));
        }
        let cursor = store.ledger_import_cursor(ImportStream::Accounts).await?;
        let latest = store.latest_account_time().await?;
        snap.import_floor = newest(cursor.as_ref().map(|c| c.value.last), latest);
        Ok((snap, cursor))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (snap, cursor): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Vec<AccountOutcome>, Error> {
        require(actor, Decision::when(is_staff(actor), "only the system and admins create ledger accounts"))?;
        if self.imported() {
            require(actor, may_import(actor))?;
        }
        let decision = accounts::decide_accounts(&self.accounts, &snap, cx.now());
        for a in decision.created {
            cx.insert(a)?;
        }
        advance_cursor(cx, ImportStream::Accounts, cursor, decision.imported_last)?;
        Ok(decision.outcomes)
    }
}

/// Loads what the engine reads for `batch` (every read through the caller's one view).
pub(crate) async fn load_snapshot<S: LedgerStore + ?Sized>(
    store: &S,
    batch: &[TransferInput],
) -> Result<Snapshot, Error> {
    load_snapshot_with(store, batch, true).await
}

/// Like [`load_snapshot`]; without `batch_ids`, the batch's own ids are not looked up (only the
/// pending transfers they name). Safe only where a duplicate id fails the commit and is retried
/// with a full load: transfer inserts are unique by id.
pub(crate) async fn load_snapshot_with<S: LedgerStore + ?Sized>(
    store: &S,
    batch: &[TransferInput],
    batch_ids: bool,
) -> Result<Snapshot, Error> {
    let pending_ids: BTreeSet<TransferId> = batch.iter().filter_map(|t| t.pending_id).collect();
    let transfer_ids: Vec<TransferId> =
        batch.iter().filter(|_| batch_ids).map(|t| t.id).chain(pending_ids.iter().copied()).collect();
    let transfers = if transfer_ids.is_empty() { Vec::new() } else { store.ledger_transfers(&transfer_ids).await? };
    // The batch's accounts, and the accounts of the holds it names (a post/void may leave its
    // accounts empty: they are the hold's).
    let account_ids: BTreeSet<AccountId> = batch
        .iter()
        .flat_map(|t| [t.debit_account_id, t.credit_account_id])
        .chain(
            transfers
                .iter()
                .filter(|t| pending_ids.contains(&t.id))
                .flat_map(|t| [t.debit_account_id, t.credit_account_id]),
        )
        .filter(|a| !a.as_uuid().is_nil())
        .collect();
    let accounts = store.ledger_accounts(&account_ids.into_iter().collect::<Vec<_>>()).await?;
    // Plain transfers name no pending transfer: skip the round trip.
    let resolved = if pending_ids.is_empty() {
        Vec::new()
    } else {
        store.pending_resolutions(&pending_ids.into_iter().collect::<Vec<_>>()).await?
    };
    Ok(Snapshot {
        accounts: accounts.into_iter().map(|a| (a.value.id, a.value)).collect(),
        transfers: transfers.into_iter().map(|t| (t.id, t)).collect(),
        resolved: resolved.into_iter().collect(),
        import_floor: None,
    })
}

/// The columns an account delta adds to (the four totals, zeros included: the delta is one
/// statement; `closing_holds` when a closing hold is placed or released; `history_len` when
/// balance history rows are written).
fn delta_columns(d: &Balance, closing: i64, history: i64) -> Vec<(&'static str, i64)> {
    let mut v = vec![
        ("debits_pending", d.debits_pending),
        ("debits_posted", d.debits_posted),
        ("credits_pending", d.credits_pending),
        ("credits_posted", d.credits_posted),
    ];
    if closing != 0 {
        v.push(("closing_holds", closing));
    }
    if history != 0 {
        v.push(("history_len", history));
    }
    v
}

/// What a history account's delta requires on top: the totals and history length the decision
/// read. Its history rows hold the balance after each transfer, so the account takes one decision
/// at a time — a concurrent change (a transfer, an expiry) fails the delta and core decides again.
fn history_requirements(seen: &Account) -> Vec<(&'static str, Value)> {
    if !seen.flags.history {
        return Vec::new();
    }
    let b = &seen.balance;
    vec![
        ("debits_pending", Value::Int(b.debits_pending)),
        ("debits_posted", Value::Int(b.debits_posted)),
        ("credits_pending", Value::Int(b.credits_pending)),
        ("credits_posted", Value::Int(b.credits_posted)),
        ("history_len", Value::Int(seen.history_len)),
    ]
}

/// What an account delta requires: never frozen; unless only voids touched it, open as the
/// decision saw it (not closed, and still the `closing_holds` it read — so a racing closing
/// transfer makes the delta fail and core decide again); for a history account, unchanged since
/// read.
fn requirements(must_be_open: Option<i64>, seen: Option<&Account>) -> Vec<(&'static str, Value)> {
    let mut v = vec![("frozen", Value::Bool(false))];
    if let Some(seen) = must_be_open {
        v.push(("closed", Value::Bool(false)));
        v.push(("closing_holds", Value::Int(seen)));
    }
    v.extend(seen.map(history_requirements).unwrap_or_default());
    v
}

/// Records the engine's decision in the change set: records, one guarded delta per account (in id
/// order, the order stores lock in), and one outbox event telling the readers of the moved accounts
/// (their owners: an account's transfers are read through it).
pub(crate) fn record_decision(d: &engine::Decision, snap: &Snapshot, cx: &mut Decide<'_>) {
    for r in &d.records {
        cx.append_self_audited(r.clone());
    }
    for h in &d.history {
        cx.append_self_audited(h.clone());
    }
    for (account, delta) in &d.deltas {
        let closing = d.closing.get(account).copied().unwrap_or(0);
        let require = requirements(d.must_be_open.get(account).copied(), snap.accounts.get(account));
        let columns = delta_columns(delta, closing, d.history_rows(*account));
        cx.delta_self_audited::<Account>(account.as_uuid(), &columns, &require);
    }
    let applied: Vec<&Transfer> = d.records.iter().filter(|r| r.result == model::TransferResult::Ok).collect();
    if let Some(first) = applied.first() {
        let readers = applied.iter().flat_map(|t| transfer_readers(t, |a| snap.accounts.get(&a)).users);
        let ids: Vec<TransferId> = applied.iter().map(|t| t.id).collect();
        cx.emit(
            "ledger.transfer.applied",
            first.entity_ref(),
            serde_json::json!({ "transfers": ids }),
            Readers::users(readers),
        );
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for CreateTransfers {
    const NAME: &'static str = "ledger.create_transfers";
    /// A history account takes one decision at a time (its rows hold the balance after each
    /// transfer): every lost attempt means another transfer on it committed. A burst of this many
    /// simultaneous transfers on one all lands; under a sustained stream of `n` writers a caller
    /// needs about `n` attempts, and losing this many in a row is vanishingly rare below hundreds of
    /// writers (measured in BENCHMARKS.md). Other transfers never loop: their deltas commute.
    const COMMIT_ATTEMPTS: u32 = HISTORY_COMMIT_ATTEMPTS;
    type Valid = ();
    type Loaded = (Snapshot, Option<Versioned<ImportCursor>>);
    type Output = Vec<Outcome>;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        match self.transfers.len() {
            0 => Err(ValidationErrors::single("transfers", Violation::TooFew { min: 1 })),
            n if n > BATCH_TRANSFERS_MAX => {
                Err(ValidationErrors::single("transfers", Violation::TooMany { max: BATCH_TRANSFERS_MAX as u32 }))
            }
            _ => Ok(()),
        }
    }
    // Every attempt reads one snapshot (accounts, then the batch's ids and the holds it names): a
    // failure that is not recorded writes nothing, so a retried id must be looked up, not found by
    // its insert failing. An import also reads its cursor and the newest transfer's timestamp.
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        let mut snap = load_snapshot(store, &self.transfers).await?;
        if !self.imported() {
            return Ok((snap, None));
        }
        let cursor = store.ledger_import_cursor(ImportStream::Transfers).await?;
        let latest = store.latest_transfer_time().await?;
        snap.import_floor = newest(cursor.as_ref().map(|c| c.value.last), latest);
        Ok((snap, cursor))
    }

    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (snap, cursor): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Vec<Outcome>, Error> {
        require(actor, Decision::when(is_staff(actor), "only the system and admins move money directly"))?;
        let imported = self.imported();
        if imported {
            require(actor, may_import(actor))?;
        }
        let ctx = Context {
            actor: cx.actor_principal(),
            now: cx.now(),
            allow_top_up: self.allow_top_up || imported,
            allow_refund: self.allow_refund || imported,
        };
        let decision = engine::decide(&self.transfers, &snap, &ctx);
        record_decision(&decision, &snap, cx);
        advance_cursor(cx, ImportStream::Transfers, cursor, decision.imported_last)?;
        Ok(decision.outcomes)
    }
}

/// Releases expired holds (the sweep): each exactly once, whoever else sweeps at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpirePending {
    /// Most holds released by this call.
    pub limit: u32,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for ExpirePending {
    const NAME: &'static str = "ledger.expire_pending";
    /// A sweep releasing holds on a history account serialises with that account's transfers (see
    /// [`HISTORY_COMMIT_ATTEMPTS`]).
    const COMMIT_ATTEMPTS: u32 = HISTORY_COMMIT_ATTEMPTS;
    type Valid = Timestamp;
    type Loaded = (Vec<Transfer>, HashMap<AccountId, Account>);
    type Output = Vec<TransferId>;

    fn validate(&self, now: Timestamp) -> Result<Timestamp, ValidationErrors> {
        if !(1..=EXPIRY_SWEEP_MAX).contains(&self.limit) {
            return Err(ValidationErrors::single(
                "limit",
                Violation::OutOfRange { min: 1, max: i64::from(EXPIRY_SWEEP_MAX) },
            ));
        }
        Ok(now)
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, now: &Timestamp) -> Result<Self::Loaded, Error> {
        let expired = store.expired_pending(*now, self.limit).await?;
        let ids: BTreeSet<AccountId> = expired.iter().flat_map(|t| [t.debit_account_id, t.credit_account_id]).collect();
        let accounts = store.ledger_accounts(&ids.into_iter().collect::<Vec<_>>()).await?;
        Ok((expired, accounts.into_iter().map(|a| (a.value.id, a.value)).collect()))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &Timestamp,
        (expired, accounts): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Vec<TransferId>, Error> {
        require(actor, Decision::when(is_staff(actor), "only the system sweeps holds"))?;
        let mut deltas: std::collections::BTreeMap<AccountId, Balance> = std::collections::BTreeMap::new();
        let mut closing: std::collections::BTreeMap<AccountId, i64> = std::collections::BTreeMap::new();
        let mut released = Vec::new();
        let mut readers = Vec::new();
        for pending in &expired {
            let (record, parts) = engine::expiry_record(pending, TransferId::from_uuid(cx.ids().new_uuid()), cx.now());
            for (account, d) in parts {
                let e = deltas.entry(account).or_default();
                *e = e.apply_signed(&d).ok_or_else(|| Error::internal("expiry delta overflow"))?;
            }
            for (account, c) in engine::reopened_by(pending) {
                *closing.entry(account).or_default() += c;
            }
            readers.extend(transfer_readers(pending, |a| accounts.get(&a)).users);
            released.push(pending.id);
            cx.append_self_audited(record);
        }
        for (account, delta) in deltas {
            // Releasing a hold never breaks a flag, and must happen even on a frozen or closed
            // account (an expired closing hold reopens its account). An expiry writes no history
            // row (get_account_balances.md: "Pending balances automatically removed due to timeout
            // expiration don't change historical balances."), but a history account's later rows
            // count it: it must not land between a transfer's decision and its commit.
            let c = closing.get(&account).copied().unwrap_or(0);
            let require = accounts.get(&account).map(history_requirements).unwrap_or_default();
            cx.delta_self_audited::<Account>(account.as_uuid(), &delta_columns(&delta, c, 0), &require);
        }
        if let Some(first) = released.first() {
            cx.emit(
                "ledger.transfer.expired",
                EntityRef { kind: Transfer::kind(), id: first.as_uuid() },
                serde_json::json!({ "pending": released }),
                Readers::users(readers),
            );
        }
        Ok(released)
    }
}

/// One account whose cached totals (or closing holds) disagree with its transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The account (now frozen).
    pub account: AccountId,
    /// What the cache says.
    pub cached: Balance,
    /// What the transfers add up to.
    pub computed: Balance,
    /// The cached `closing_holds`.
    #[serde(default)]
    pub cached_closing_holds: i64,
    /// The closing holds its transfers leave open (placed, less voided or expired).
    #[serde(default)]
    pub computed_closing_holds: i64,
}

/// What a reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Accounts checked.
    pub accounts_checked: u64,
    /// Accounts whose cache disagrees with their transfers; each was frozen and alerted (P0).
    pub mismatches: Vec<Mismatch>,
    /// Currencies where Σdebits ≠ Σcredits (posted or pending), alerted (P0).
    pub unbalanced_currencies: Vec<Currency>,
}

impl Reconciliation {
    /// True when everything agrees.
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty() && self.unbalanced_currencies.is_empty()
    }
}

/// Freezes mismatching accounts and raises the P0 alerts, in one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FreezeMismatches {
    report: Reconciliation,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for FreezeMismatches {
    const NAME: &'static str = "ledger.freeze_mismatches";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Vec<Versioned<Account>>;
    type Output = ();

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        let ids: Vec<AccountId> = self.report.mismatches.iter().map(|m| m.account).collect();
        Ok(store.ledger_accounts(&ids).await?)
    }
    fn decide(&self, actor: &Actor, _: &(), accounts: Self::Loaded, cx: &mut Decide<'_>) -> Result<(), Error> {
        require(actor, Decision::when(is_staff(actor), "only the system and admins reconcile"))?;
        for a in accounts.iter().filter(|a| !a.value.flags.frozen) {
            let mut frozen = a.value.clone();
            frozen.flags.frozen = true;
            cx.update(a, frozen, "frozen")?;
        }
        // Alerts are for admins and the system.
        for m in &self.report.mismatches {
            cx.emit(
                "alert.p0.ledger_mismatch",
                EntityRef { kind: Account::kind(), id: m.account.as_uuid() },
                serde_json::to_value(m).map_err(|e| Error::internal(e.to_string()))?,
                Readers::nobody(),
            );
        }
        for c in &self.report.unbalanced_currencies {
            cx.emit(
                "alert.p0.ledger_unbalanced",
                EntityRef { kind: Account::kind(), id: uuid::Uuid::nil() },
                serde_json::json!({ "currency": c }),
                Readers::nobody(),
            );
        }
        Ok(())
    }
}

/// An account's balance as callers read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountBalance {
    /// The account.
    pub account: AccountId,
    /// What may be spent now (wallets): posted credits − posted debits − held debits.
    pub available: Money,
    /// Posted credits − posted debits.
    pub posted: Money,
    /// Held by pending debits.
    pub held: Money,
    /// The raw totals.
    pub totals: Balance,
    /// Frozen by reconciliation.
    pub frozen: bool,
}

/// The ledger service over a store.
pub struct Ledger<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Ledger<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Ledger<S> {
    /// The ledger over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner (shared with the payment and canteen services).
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Opens (or returns) `owner`'s wallet in `currency`.
    pub async fn open_wallet(&self, actor: &Actor, owner: UserId, currency: Currency) -> Result<Account, Error> {
        let open = OpenAccount { owner: Some(owner), kind: AccountKind::Wallet, currency, imported_at: None };
        self.runner.execute(actor, None, &open).await
    }
    /// Opens (or returns) the system account of `kind` in `currency`.
    pub async fn system_account(&self, actor: &Actor, kind: AccountKind, currency: Currency) -> Result<Account, Error> {
        self.runner.execute(actor, None, &OpenAccount { owner: None, kind, currency, imported_at: None }).await
    }
    /// Opens `owner`'s wallet in `currency` as it was opened in the system being migrated, at `at`
    /// (the system only): its history can then be imported after it (`create_transfers` with
    /// `flags.imported`). Retried, it answers the wallet it made.
    pub async fn import_wallet(
        &self,
        actor: &Actor,
        owner: UserId,
        currency: Currency,
        at: Timestamp,
    ) -> Result<Account, Error> {
        let open = OpenAccount { owner: Some(owner), kind: AccountKind::Wallet, currency, imported_at: Some(at) };
        self.runner.execute(actor, None, &open).await
    }
    /// Applies a batch; one outcome per transfer, in order.
    pub async fn create_transfers(&self, actor: &Actor, transfers: Vec<TransferInput>) -> Result<Vec<Outcome>, Error> {
        self.runner.execute(actor, None, &CreateTransfers::new(transfers)).await
    }
    /// Creates a batch of accounts (TigerBeetle's `create_accounts`); one outcome per account, in
    /// order.
    pub async fn create_accounts(
        &self,
        actor: &Actor,
        accounts: Vec<AccountInput>,
    ) -> Result<Vec<AccountOutcome>, Error> {
        self.runner.execute(actor, None, &CreateAccounts { accounts }).await
    }
    /// The accounts with these ids that `actor` may read (TigerBeetle's `lookup_accounts`: an id
    /// that does not exist — or that the caller may not see — is left out), in the order asked.
    pub async fn lookup_accounts(&self, actor: &Actor, ids: &[AccountId]) -> Result<Vec<Account>, Error> {
        require(actor, Decision::when(!matches!(actor, Actor::Anonymous), "sign in to read accounts"))?;
        lookup_limit(ids.len())?;
        let found = self.runner.store().ledger_accounts(ids).await?;
        let by_id: HashMap<AccountId, Account> = found.into_iter().map(|a| (a.value.id, a.value)).collect();
        Ok(ids.iter().filter_map(|id| by_id.get(id)).filter(|a| a.readers().admits(actor)).cloned().collect())
    }
    /// The successful transfers with these ids (TigerBeetle's `lookup_transfers`; staff only), in
    /// the order asked.
    pub async fn lookup_transfers(&self, actor: &Actor, ids: &[TransferId]) -> Result<Vec<Transfer>, Error> {
        require(actor, Decision::when(is_staff(actor), "transfer records are for staff"))?;
        lookup_limit(ids.len())?;
        let found = self.runner.store().ledger_transfers(ids).await?;
        let by_id: HashMap<TransferId, Transfer> =
            found.into_iter().filter(|t| t.result == model::TransferResult::Ok).map(|t| (t.id, t)).collect();
        Ok(ids.iter().filter_map(|id| by_id.get(id)).cloned().collect())
    }
    /// One account's transfers (TigerBeetle's `get_account_transfers`): its owner and staff. An
    /// account the caller may not see is `not_found`.
    pub async fn get_account_transfers(&self, actor: &Actor, filter: &AccountFilter) -> Result<Page<Transfer>, Error> {
        let filter = filter.check()?;
        let view = self.runner.store().snapshot(Reads::Many).await?;
        readable_account(view.as_ref(), actor, filter.account_id).await?;
        Ok(view.account_transfers_page(&filter).await?)
    }
    /// One account's balance history (TigerBeetle's `get_account_balances`): its owner and staff.
    /// An account without `flags.history` has none (an empty page).
    pub async fn get_account_balances(
        &self,
        actor: &Actor,
        filter: &AccountFilter,
    ) -> Result<Page<HistoricalBalance>, Error> {
        let filter = filter.check()?;
        let view = self.runner.store().snapshot(Reads::Many).await?;
        let account = readable_account(view.as_ref(), actor, filter.account_id).await?;
        if !account.flags.history {
            return Ok(Page { items: Vec::new(), next: None });
        }
        Ok(view.account_balances_page(&filter).await?)
    }
    /// Accounts by user data, currency, code and time (TigerBeetle's `query_accounts`; staff).
    pub async fn query_accounts(&self, actor: &Actor, filter: &QueryFilter<u16>) -> Result<Page<Account>, Error> {
        let filter = filter.check()?;
        require(actor, Decision::when(is_staff(actor), "account queries are for staff"))?;
        Ok(self.runner.store().accounts_page(&filter).await?)
    }
    /// Transfers by user data, currency, code and time (TigerBeetle's `query_transfers`; staff).
    pub async fn query_transfers(
        &self,
        actor: &Actor,
        filter: &QueryFilter<TransferCode>,
    ) -> Result<Page<Transfer>, Error> {
        let filter = filter.check()?;
        require(actor, Decision::when(is_staff(actor), "transfer queries are for staff"))?;
        Ok(self.runner.store().transfers_page(&filter).await?)
    }
    /// Releases up to `limit` expired holds; returns the pending ids released.
    pub async fn expire_pending(&self, actor: &Actor, limit: u32) -> Result<Vec<TransferId>, Error> {
        self.runner.execute(actor, None, &ExpirePending { limit }).await
    }
    /// An account's balance (its owner, admins and the system).
    pub async fn balance(&self, actor: &Actor, account: AccountId) -> Result<AccountBalance, Error> {
        let a = self.runner.store().ledger_accounts(&[account]).await?.into_iter().next();
        let a = a.ok_or_else(|| Error::not_found("account"))?.value;
        // The account's readers (its owner; admins and the system read everything).
        require(actor, Decision::when(a.readers().admits(actor), "a balance is visible to its owner and staff"))?;
        let m = |v: Option<i64>| {
            v.map(|v| Money::from_minor(v, a.currency)).ok_or_else(|| Error::internal("balance overflow"))
        };
        Ok(AccountBalance {
            account,
            available: m(a.balance.available())?,
            posted: m(a.balance.posted_net())?,
            held: m(Some(a.balance.debits_pending))?,
            totals: a.balance,
            frozen: a.flags.frozen,
        })
    }
    /// A transfer record (staff only).
    pub async fn transfer(&self, actor: &Actor, id: TransferId) -> Result<Transfer, Error> {
        require(actor, Decision::when(is_staff(actor), "transfer records are for staff"))?;
        let t = self.runner.store().ledger_transfers(&[id]).await?.into_iter().next();
        t.ok_or_else(|| Error::not_found("transfer"))
    }

    /// Compares every account's cached totals with its transfers, and Σdebits with Σcredits per
    /// currency. Mismatching accounts are frozen and a P0 alert is raised for each finding, in one
    /// commit. Callable by the system (the nightly job) and admins.
    pub async fn reconcile(&self, actor: &Actor) -> Result<Reconciliation, Error> {
        require(actor, Decision::when(is_staff(actor), "only the system and admins reconcile"))?;
        let store = self.runner.store();
        let mut report = Reconciliation::default();
        let mut after = None;
        loop {
            // Each page's balances and transfers come from one committed state: a transfer landing
            // between the two reads cannot look like a mismatch (and freeze an honest account).
            let view = store.snapshot(Reads::Many).await?;
            let accounts = view.ledger_accounts_after(after, RECONCILE_PAGE).await?;
            let Some(last) = accounts.last() else { break };
            after = Some(last.value.id);
            let ids: Vec<AccountId> = accounts.iter().map(|a| a.value.id).collect();
            let transfers = view.ledger_transfers_touching(&ids).await?;
            drop(view);
            for a in &accounts {
                report.accounts_checked += 1;
                let (id, cached) = (a.value.id, a.value.balance);
                let computed = engine::balance_from_transfers(id, &transfers)
                    .ok_or_else(|| Error::internal("transfer sums overflow"))?;
                let computed_closing_holds = engine::closing_holds_from_transfers(id, &transfers);
                if cached != computed || a.value.closing_holds != computed_closing_holds {
                    report.mismatches.push(Mismatch {
                        account: id,
                        cached,
                        computed,
                        cached_closing_holds: a.value.closing_holds,
                        computed_closing_holds,
                    });
                }
            }
            if accounts.len() < RECONCILE_PAGE as usize {
                break;
            }
        }
        // The totals page through every account: on one snapshot, so they add up one state.
        let totals = store.snapshot(Reads::Many).await?.currency_totals().await?;
        for ct in totals.iter().filter(|t| !t.balanced()) {
            report.unbalanced_currencies.push(ct.currency);
        }
        if !report.is_clean() {
            self.runner.execute(actor, None, &FreezeMismatches { report: report.clone() }).await?;
        }
        Ok(report)
    }
}

/// A lookup names at most [`LOOKUP_IDS_MAX`] ids.
fn lookup_limit(n: usize) -> Result<(), Error> {
    if n > LOOKUP_IDS_MAX {
        return Err(ValidationErrors::single("ids", Violation::TooMany { max: LOOKUP_IDS_MAX as u32 }).into());
    }
    Ok(())
}

/// The account `id`, when `actor` may read it; else `not_found` (existence does not leak).
async fn readable_account(view: &dyn Reader, actor: &Actor, id: AccountId) -> Result<Account, Error> {
    require(actor, Decision::when(!matches!(actor, Actor::Anonymous), "sign in to read accounts"))?;
    let a = view.ledger_accounts(&[id]).await?.into_iter().next().map(|a| a.value);
    a.filter(|a| a.readers().admits(actor)).ok_or_else(|| Error::not_found("account"))
}

impl Balance {
    /// Adds a delta whose components may be negative; `None` on overflow.
    pub fn apply_signed(&self, d: &Balance) -> Option<Balance> {
        Some(Balance {
            debits_pending: self.debits_pending.checked_add(d.debits_pending)?,
            debits_posted: self.debits_posted.checked_add(d.debits_posted)?,
            credits_pending: self.credits_pending.checked_add(d.credits_pending)?,
            credits_posted: self.credits_posted.checked_add(d.credits_posted)?,
        })
    }
}

/// `insufficient_funds` for the results that mean it, for services that wrap a transfer.
pub fn error_for(result: model::TransferResult) -> Error {
    use model::TransferResult::*;
    match result {
        ExceedsCredits => Error::new(ErrorCode::InsufficientFunds, "insufficient funds"),
        DebitAccountFrozen | CreditAccountFrozen => Error::forbidden("the account is frozen"),
        other => Error::conflict(format!("transfer failed: `{other}`")),
    }
}
