//! The pure transfer engine: decides a batch against a snapshot of the ledger.
//!
//! Transfers are judged in order; each sees the effects of the ones before it. A linked chain (each
//! transfer but the last has `linked = true`) applies all or nothing: on the first failure the chain's
//! effects are rolled back, the failing transfer reports its own code and the others
//! `linked_event_failed`. Each transfer's checks run in TigerBeetle's documented order of precedence
//! (`docs/reference/requests/create_transfers.md`), hearth's own rules where they are checked. The
//! result is the list of outcomes, the records to insert (successes and transient failures) and one
//! net delta per touched account.

use super::accounts::{check_event, EventCheck};
use super::model::{
    Account, AccountId, Balance, HistoricalBalance, Transfer, TransferCode, TransferFlags, TransferId, TransferKind,
    TransferResult,
};
use crate::money::{Currency, Money};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Longest transfer reference, in characters.
pub const REFERENCE_MAX_CHARS: usize = 200;
/// Most transfers in one batch.
pub const BATCH_TRANSFERS_MAX: usize = 8_190;
/// Longest pending timeout: 30 days.
pub const TIMEOUT_SECS_MAX: u32 = 30 * 24 * 3600;

/// Which phase a requested transfer is (expiry is the sweep's alone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Move posted money now.
    #[default]
    Single,
    /// Reserve money.
    Pending,
    /// Post (part of) a pending transfer.
    PostPending,
    /// Release a pending transfer.
    VoidPending,
}

impl Phase {
    fn kind(self) -> TransferKind {
        match self {
            Phase::Single => TransferKind::Single,
            Phase::Pending => TransferKind::Pending,
            Phase::PostPending => TransferKind::PostPending,
            Phase::VoidPending => TransferKind::VoidPending,
        }
    }
    fn resolves(self) -> bool {
        matches!(self, Phase::PostPending | Phase::VoidPending)
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A transfer as requested.
///
/// The fields added after the first release (`flags`, `user_data_*`) are left out of the JSON when
/// empty, so a command's canonical JSON (its idempotency fingerprint) is what it was before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferInput {
    /// Client-chosen id (not nil).
    pub id: TransferId,
    /// Debited account; for post/void, nil takes the pending transfer's.
    pub debit_account_id: AccountId,
    /// Credited account; for post/void, nil takes the pending transfer's.
    pub credit_account_id: AccountId,
    /// In currency units (`12.50`), > 0. Required for single and pending (for balancing transfers
    /// the upper limit, absent = no limit; for closing transfers absent = 0); for post, absent = the
    /// whole pending amount; for void, absent or exactly the pending amount.
    #[serde(default)]
    pub amount: Option<Decimal>,
    /// The currency (TigerBeetle's `ledger`): required, since the amount is a decimal of it; a
    /// post/void's must be its pending transfer's.
    pub currency: Currency,
    /// Phase.
    pub phase: Phase,
    /// The pending transfer to post or void.
    #[serde(default)]
    pub pending_id: Option<TransferId>,
    /// Seconds a pending transfer may wait before the sweep releases it (pending only; 0 = never).
    #[serde(default)]
    pub timeout_secs: u32,
    /// Linked with the next transfer of the batch.
    #[serde(default)]
    pub linked: bool,
    /// Why; required for single and pending, absent on a post/void takes the pending transfer's.
    #[serde(default)]
    pub code: Option<TransferCode>,
    /// What it refers to (a post/void without one takes the pending transfer's).
    #[serde(default)]
    pub reference: Option<String>,
    /// Balancing and closing flags.
    #[serde(default, skip_serializing_if = "is_default")]
    pub flags: TransferFlags,
    /// The caller's 128-bit reference (a post/void without one takes the pending transfer's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_128: Option<Uuid>,
    /// The caller's 64-bit reference (0 = none; a post/void with 0 takes the pending transfer's).
    #[serde(default, skip_serializing_if = "is_default")]
    pub user_data_64: u64,
    /// The caller's 32-bit reference (0 = none; a post/void with 0 takes the pending transfer's).
    #[serde(default, skip_serializing_if = "is_default")]
    pub user_data_32: u32,
    /// When it happened, for an imported transfer only (`flags.imported`; the ledger sets it
    /// otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// One transfer's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The transfer.
    pub id: TransferId,
    /// What happened.
    pub result: TransferResult,
}

/// What the engine reads: accounts, known transfers, and how pending transfers were resolved.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Accounts by id.
    pub accounts: HashMap<AccountId, Account>,
    /// Recorded transfers (successes and failures) by id.
    pub transfers: HashMap<TransferId, Transfer>,
    /// Pending transfer id → the kind of transfer that resolved it.
    pub resolved: HashMap<TransferId, TransferKind>,
    /// For an import: the newest transfer timestamp (imported or not); imports must be after it.
    pub import_floor: Option<Timestamp>,
}

/// The engine's decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// One per input, in order.
    pub outcomes: Vec<Outcome>,
    /// Records to insert: successes and transient failures.
    pub records: Vec<Transfer>,
    /// Net change per account, ordered by account id (the order stores lock in).
    pub deltas: BTreeMap<AccountId, Balance>,
    /// Net change of each account's `closing_holds` (closing transfers +1, their void or expiry −1).
    pub closing: BTreeMap<AccountId, i64>,
    /// Accounts a transfer other than a void touched, with the `closing_holds` the decision saw:
    /// their delta applies only while the account is still open as seen (a void also moves a
    /// closed account: TigerBeetle, `src/state_machine.zig`: "The only movement allowed in a closed
    /// account is voiding a pending transfer.").
    pub must_be_open: BTreeMap<AccountId, i64>,
    /// Balance history rows of the accounts with `flags.history`, in the order applied.
    pub history: Vec<HistoricalBalance>,
    /// The newest imported timestamp applied (advances the transfers' import cursor).
    pub imported_last: Option<Timestamp>,
}

impl Decision {
    /// History rows written for `account`.
    pub fn history_rows(&self, account: AccountId) -> i64 {
        self.history.iter().filter(|h| h.account_id == account).count() as i64
    }
}

/// Who and when, for the records.
#[derive(Debug, Clone)]
pub struct Context {
    /// The actor's principal.
    pub actor: String,
    /// Now.
    pub now: Timestamp,
    /// Whether `top_up` transfers are allowed (only the verified-payment path sets this).
    pub allow_top_up: bool,
    /// Whether `refund` transfers are allowed (only the refund path sets this).
    pub allow_refund: bool,
}

fn add_delta(deltas: &mut BTreeMap<AccountId, Balance>, id: AccountId, d: Balance) -> Option<()> {
    let e = deltas.entry(id).or_default();
    *e = e.apply_signed(&d)?;
    Some(())
}

/// The largest total an account may hold (the stores keep totals in `i64` minor units).
const TOTAL_MAX: i128 = i64::MAX as i128;

/// Minor units of a positive decimal amount (as `i128`: the overflow codes judge the sums).
fn minor(amount: Decimal, currency: Currency) -> Result<i128, TransferResult> {
    if amount <= Decimal::ZERO {
        return Err(TransferResult::AmountMustBePositive);
    }
    let m = Money::new(amount, currency).map_err(|_| TransferResult::AmountTooPrecise)?;
    Ok(m.amount().mantissa())
}

/// The minor units a retry names, or `None` when it names none that parses.
fn minor_opt(amount: Option<Decimal>, currency: Currency) -> Option<i128> {
    amount.and_then(|a| minor(a, currency).ok())
}

/// Compares a retry with its recorded first attempt, in TigerBeetle's order
/// (`src/state_machine.zig`, `create_transfer_exists`: "The flags change the behavior of the
/// remaining comparisons, so compare the flags first."). `pending` is the hold a post/void names.
fn compare_existing(t: &TransferInput, e: &Transfer, pending: Option<&Transfer>) -> TransferResult {
    use TransferResult::*;
    // create_transfers.md, `id_already_failed`: "A previous transfer with the same id failed due to
    // one of the following transient errors".
    if e.result != TransferResult::Ok {
        return IdAlreadyFailed;
    }
    if t.phase.kind() != e.kind || t.linked != e.linked || t.flags != e.flags {
        return ExistsWithDifferentFlags;
    }
    if t.pending_id != e.pending_id {
        return ExistsWithDifferentPendingId;
    }
    if t.timeout_secs != e.timeout_secs {
        return ExistsWithDifferentTimeout;
    }
    if t.phase.resolves() {
        // A post/void's empty fields took the pending transfer's: an empty field matches those.
        let held = pending.map_or(e.amount, |p| p.amount);
        if !t.debit_account_id.as_uuid().is_nil() && t.debit_account_id != e.debit_account_id {
            return ExistsWithDifferentDebitAccountId;
        }
        if !t.credit_account_id.as_uuid().is_nil() && t.credit_account_id != e.credit_account_id {
            return ExistsWithDifferentCreditAccountId;
        }
        // create_transfers.md, `exists`: "If the original posted amount was less than the pending
        // amount, then the transfer amount must be equal to the posted amount." (An absent amount is
        // TigerBeetle's AMOUNT_MAX for a post and 0 for a void: the whole pending amount.)
        let same_amount = match t.amount {
            None => i128::from(e.amount) == i128::from(held),
            Some(_) => minor_opt(t.amount, e.currency) == Some(i128::from(e.amount)),
        };
        if !same_amount {
            return ExistsWithDifferentAmount;
        }
        let ud128 = match t.user_data_128 {
            None => pending.is_none_or(|p| e.user_data_128 == p.user_data_128),
            Some(u) => e.user_data_128 == Some(u),
        };
        if !ud128 {
            return ExistsWithDifferentUserData128;
        }
        let p_ud64 = pending.map_or(e.user_data_64, |p| p.user_data_64);
        if (t.user_data_64 == 0 && e.user_data_64 != p_ud64)
            || (t.user_data_64 != 0 && t.user_data_64 != e.user_data_64)
        {
            return ExistsWithDifferentUserData64;
        }
        let p_ud32 = pending.map_or(e.user_data_32, |p| p.user_data_32);
        if (t.user_data_32 == 0 && e.user_data_32 != p_ud32)
            || (t.user_data_32 != 0 && t.user_data_32 != e.user_data_32)
        {
            return ExistsWithDifferentUserData32;
        }
        let p_ref = pending.map_or(&e.reference, |p| &p.reference);
        let same_reference = match &t.reference {
            None => &e.reference == p_ref,
            Some(r) => e.reference.as_ref() == Some(r),
        };
        if !same_reference {
            return ExistsWithDifferentReference;
        }
        if t.currency != e.currency {
            return ExistsWithDifferentLedger;
        }
        if t.code.is_some_and(|c| c != e.code) {
            return ExistsWithDifferentCode;
        }
        return Exists;
    }
    if t.debit_account_id != e.debit_account_id {
        return ExistsWithDifferentDebitAccountId;
    }
    if t.credit_account_id != e.credit_account_id {
        return ExistsWithDifferentCreditAccountId;
    }
    let same_amount = if t.flags.balancing() {
        // transfer.md, `flags.balancing_debit`: "Retrying a balancing transfer will return
        // exists_with_different_amount only when the maximum amount passed to create_transfers is
        // insufficient to fulfill the amount that was actually transferred."
        t.amount.is_none() || minor_opt(t.amount, e.currency).is_some_and(|limit| limit >= i128::from(e.amount))
    } else if t.flags.closing() && t.amount.is_none() {
        e.amount == 0
    } else {
        minor_opt(t.amount, e.currency) == Some(i128::from(e.amount))
            || (t.flags.closing() && t.amount == Some(Decimal::ZERO) && e.amount == 0)
    };
    if !same_amount {
        return ExistsWithDifferentAmount;
    }
    if t.user_data_128 != e.user_data_128 {
        return ExistsWithDifferentUserData128;
    }
    if t.user_data_64 != e.user_data_64 {
        return ExistsWithDifferentUserData64;
    }
    if t.user_data_32 != e.user_data_32 {
        return ExistsWithDifferentUserData32;
    }
    if t.reference != e.reference {
        return ExistsWithDifferentReference;
    }
    if t.currency != e.currency {
        return ExistsWithDifferentLedger;
    }
    if t.code != Some(e.code) {
        return ExistsWithDifferentCode;
    }
    Exists
}

/// A judged transfer: its record and its accounts' deltas, or why it failed.
type Judged = Result<Applied, TransferResult>;

/// What one successful transfer changes.
#[derive(Debug, Clone)]
struct Applied {
    record: Transfer,
    /// Balance deltas of its two accounts.
    deltas: [(AccountId, Balance); 2],
    /// `closing_holds` deltas.
    closing: Vec<(AccountId, i64)>,
    /// Whether the accounts must still be open (everything but a void).
    needs_open: bool,
    /// Balance history rows (accounts with `flags.history`).
    history: Vec<HistoricalBalance>,
}

/// The working state of one batch.
struct Work<'a> {
    snap: &'a Snapshot,
    accounts: HashMap<AccountId, Account>,
    transfers: HashMap<TransferId, Transfer>,
    resolved: HashMap<TransferId, TransferKind>,
    /// The newest transfer timestamp so far, for imports.
    floor: Option<Timestamp>,
    ctx: &'a Context,
}

/// The four totals widened, so sums are judged before they are stored.
fn wide(b: &Balance) -> [i128; 4] {
    [b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted].map(i128::from)
}

impl Work<'_> {
    fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id).or_else(|| self.snap.accounts.get(&id))
    }
    fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfers.get(&id).or_else(|| self.snap.transfers.get(&id))
    }
    fn resolution(&self, id: TransferId) -> Option<TransferKind> {
        self.resolved.get(&id).or_else(|| self.snap.resolved.get(&id)).copied()
    }

    /// The checks every phase shares that TigerBeetle does not have: hearth's money-entry policy.
    fn policy(&self, code: TransferCode) -> Result<(), TransferResult> {
        if code == TransferCode::TopUp && !self.ctx.allow_top_up {
            return Err(TransferResult::TopUpRequiresVerifiedPayment);
        }
        if code == TransferCode::Refund && !self.ctx.allow_refund {
            return Err(TransferResult::RefundRequiresRefundPath);
        }
        Ok(())
    }

    /// The transfer's timestamp: the caller's for an import, else now.
    fn event_time(&self, t: &TransferInput) -> Timestamp {
        match (t.flags.imported, t.timestamp) {
            (true, Some(ts)) => ts,
            _ => self.ctx.now,
        }
    }

    /// Judges one transfer; on success applies it to the working state.
    fn judge(&mut self, t: &TransferInput) -> Judged {
        let mut applied = if t.phase.resolves() { self.judge_resolution(t)? } else { self.judge_new(t)? };
        let r = applied.record.clone();
        for (id, d) in applied.deltas {
            let a = self.account(id).cloned().ok_or(TransferResult::DebitAccountNotFound)?;
            let balance = a.balance.apply(&d).ok_or(TransferResult::OverflowsDebits)?;
            let mut a = Account { balance, ..a };
            // account-balance.md: "The amounts refer to the account balance recorded _after_ the
            // transfer execution."
            if a.flags.history {
                a.history_len += 1;
                applied.history.push(HistoricalBalance {
                    account_id: id,
                    position: a.history_len,
                    transfer_id: r.id,
                    debit: id == r.debit_account_id,
                    code: r.code,
                    user_data_128: r.user_data_128,
                    user_data_64: r.user_data_64,
                    user_data_32: r.user_data_32,
                    balance,
                    timestamp: r.created_at,
                });
            }
            self.accounts.insert(id, a);
        }
        if r.flags.imported {
            self.floor = Some(r.created_at);
        }
        for (id, c) in &applied.closing {
            if let Some(a) = self.accounts.get_mut(id) {
                a.closing_holds += c;
            }
        }
        if let Some(p) = r.pending_id {
            self.resolved.insert(p, r.kind);
        }
        self.transfers.insert(r.id, r.clone());
        Ok(applied)
    }

    /// A single or pending transfer, in `create_transfer`'s order.
    fn judge_new(&self, t: &TransferInput) -> Judged {
        use TransferResult::*;
        let f = t.flags;
        if t.debit_account_id.as_uuid().is_nil() {
            return Err(DebitAccountIdMustNotBeZero);
        }
        if t.credit_account_id.as_uuid().is_nil() {
            return Err(CreditAccountIdMustNotBeZero);
        }
        if t.debit_account_id == t.credit_account_id {
            return Err(AccountsMustBeDifferent);
        }
        if t.pending_id.is_some() {
            return Err(PendingIdMustBeZero);
        }
        if t.phase != Phase::Pending {
            if t.timeout_secs != 0 {
                return Err(TimeoutReservedForPendingTransfer);
            }
            if f.closing() {
                return Err(ClosingTransferMustBePending);
            }
        }
        // hearth: no zero-amount transfers, except a closing hold (the close-account recipe's
        // closing transfers carry 0) — see ARCHITECTURE.md, "Ledger".
        let requested: Option<i128> = match t.amount {
            None if f.balancing() => None,
            None if f.closing() => Some(0),
            Some(a) if a == Decimal::ZERO && f.closing() => Some(0),
            None => return Err(AmountMustBePositive),
            Some(a) => Some(minor(a, t.currency)?),
        };
        let code = t.code.ok_or(CodeMustNotBeZero)?;
        if t.reference.as_ref().is_some_and(|r| r.chars().count() > REFERENCE_MAX_CHARS) {
            return Err(ReferenceTooLong);
        }
        self.policy(code)?;
        let debit = self.account(t.debit_account_id).cloned().ok_or(DebitAccountNotFound)?;
        let credit = self.account(t.credit_account_id).cloned().ok_or(CreditAccountNotFound)?;
        if debit.currency != credit.currency {
            return Err(AccountsMustHaveTheSameLedger);
        }
        if t.currency != debit.currency {
            return Err(TransferMustHaveTheSameLedgerAsAccounts);
        }
        // Money enters a wallet only as a verified top-up or a refund.
        if credit.kind == super::model::AccountKind::Wallet
            && !matches!(code, TransferCode::TopUp | TransferCode::Refund)
        {
            return Err(WalletCreditNotAllowed);
        }
        let timestamp = self.event_time(t);
        if t.flags.imported {
            // create_transfers.md: "it must be greater than the last timestamp assigned to any
            // Transfer"; `…_must_postdate_debit_account`: "must refer to an Account whose timestamp
            // is less than the Transfer.timestamp"; `imported_event_timeout_must_be_zero`.
            if self.floor.is_some_and(|f| timestamp <= f) {
                return Err(ImportedEventTimestampMustNotRegress);
            }
            if timestamp <= debit.created_at {
                return Err(ImportedEventTimestampMustPostdateDebitAccount);
            }
            if timestamp <= credit.created_at {
                return Err(ImportedEventTimestampMustPostdateCreditAccount);
            }
            if t.timeout_secs != 0 {
                return Err(ImportedEventTimeoutMustBeZero);
            }
        }
        if debit.is_closed() {
            return Err(DebitAccountAlreadyClosed);
        }
        if credit.is_closed() {
            return Err(CreditAccountAlreadyClosed);
        }
        if debit.flags.frozen {
            return Err(DebitAccountFrozen);
        }
        if credit.flags.frozen {
            return Err(CreditAccountFrozen);
        }
        let [dr_dp, dr_dd, _, dr_cd] = wide(&debit.balance);
        let [_, cr_dd, cr_cp, cr_cd] = wide(&credit.balance);
        let mut amount = requested.unwrap_or(TOTAL_MAX);
        if f.balancing_debit {
            amount = amount.min((dr_cd - dr_dd - dr_dp).max(0));
        }
        if f.balancing_credit {
            amount = amount.min((cr_dd - cr_cd - cr_cp).max(0));
        }
        if amount == 0 && requested != Some(0) {
            // Nothing to balance. hearth moves no zero amounts, so it answers as TigerBeetle did
            // before zero-amount transfers (transfer.md, `flags.balancing_debit`, release < 0.16.0:
            // "If the highest amount transferable is 0, returns exceeds_credits.").
            return Err(if f.balancing_debit { ExceedsCredits } else { ExceedsDebits });
        }
        let pending = t.phase == Phase::Pending;
        if pending && dr_dp + amount > TOTAL_MAX {
            return Err(OverflowsDebitsPending);
        }
        if pending && cr_cp + amount > TOTAL_MAX {
            return Err(OverflowsCreditsPending);
        }
        if dr_dd + amount > TOTAL_MAX {
            return Err(OverflowsDebitsPosted);
        }
        if cr_cd + amount > TOTAL_MAX {
            return Err(OverflowsCreditsPosted);
        }
        if dr_dp + dr_dd + amount > TOTAL_MAX {
            return Err(OverflowsDebits);
        }
        if cr_cp + cr_cd + amount > TOTAL_MAX {
            return Err(OverflowsCredits);
        }
        let expires_at = if pending && t.timeout_secs != 0 {
            // hearth keeps timeouts within 30 days; past that (or past the clock's range) the
            // expiry overflows.
            if t.timeout_secs > TIMEOUT_SECS_MAX {
                return Err(OverflowsTimeout);
            }
            Some(
                self.ctx
                    .now
                    .checked_add(chrono::Duration::seconds(i64::from(t.timeout_secs)))
                    .ok_or(OverflowsTimeout)?,
            )
        } else {
            None
        };
        if debit.flags.debits_must_not_exceed_credits && dr_dp + dr_dd + amount > dr_cd {
            return Err(ExceedsCredits);
        }
        if credit.flags.credits_must_not_exceed_debits && cr_cp + cr_cd + amount > cr_dd {
            return Err(ExceedsDebits);
        }
        let a = i64::try_from(amount).map_err(|_| OverflowsDebits)?;
        let (d_debit, d_credit) = if pending {
            (Balance { debits_pending: a, ..Balance::default() }, Balance { credits_pending: a, ..Balance::default() })
        } else {
            (Balance { debits_posted: a, ..Balance::default() }, Balance { credits_posted: a, ..Balance::default() })
        };
        let mut closing = Vec::new();
        if f.closing_debit {
            closing.push((debit.id, 1));
        }
        if f.closing_credit {
            closing.push((credit.id, 1));
        }
        let record =
            Transfer { amount: a, expires_at, code, created_at: timestamp, ..self.record(t, TransferResult::Ok) };
        Result::Ok(Applied {
            record,
            deltas: [(debit.id, d_debit), (credit.id, d_credit)],
            closing,
            needs_open: true,
            history: Vec::new(),
        })
    }

    /// A post or void, in `post_or_void_pending_transfer`'s order.
    fn judge_resolution(&self, t: &TransferInput) -> Judged {
        use TransferResult::*;
        if t.flags.any() {
            return Err(FlagsAreMutuallyExclusive);
        }
        let pid = t.pending_id.filter(|p| !p.as_uuid().is_nil()).ok_or(PendingIdMustNotBeZero)?;
        if pid == t.id {
            return Err(PendingIdMustBeDifferent);
        }
        if t.timeout_secs != 0 {
            return Err(TimeoutReservedForPendingTransfer);
        }
        let requested = match t.amount {
            None => None,
            Some(a) => Some(minor(a, t.currency)?),
        };
        if t.reference.as_ref().is_some_and(|r| r.chars().count() > REFERENCE_MAX_CHARS) {
            return Err(ReferenceTooLong);
        }
        let p = self.transfer(pid).filter(|p| p.result == TransferResult::Ok).ok_or(PendingTransferNotFound)?;
        if p.kind != TransferKind::Pending {
            return Err(PendingTransferNotPending);
        }
        // transfer.md / create_transfers.md: "The post/void transfer's debit_account_id must either
        // be 0 or identical to the pending transfer's debit_account_id." (and so on for each field)
        if !t.debit_account_id.as_uuid().is_nil() && t.debit_account_id != p.debit_account_id {
            return Err(PendingTransferHasDifferentDebitAccountId);
        }
        if !t.credit_account_id.as_uuid().is_nil() && t.credit_account_id != p.credit_account_id {
            return Err(PendingTransferHasDifferentCreditAccountId);
        }
        if t.currency != p.currency {
            return Err(PendingTransferHasDifferentLedger);
        }
        if t.code.is_some_and(|c| c != p.code) {
            return Err(PendingTransferHasDifferentCode);
        }
        let held = i128::from(p.amount);
        let amount = requested.unwrap_or(held);
        if amount > held {
            return Err(ExceedsPendingTransferAmount);
        }
        if t.phase == Phase::VoidPending && amount < held {
            return Err(PendingTransferHasDifferentAmount);
        }
        match self.resolution(pid) {
            Some(TransferKind::PostPending) => return Err(PendingTransferAlreadyPosted),
            Some(TransferKind::VoidPending) => return Err(PendingTransferAlreadyVoided),
            Some(_) => return Err(PendingTransferExpired),
            None => {}
        }
        if p.expires_at.is_some_and(|e| e <= self.ctx.now) {
            return Err(PendingTransferExpired);
        }
        if t.flags.imported && self.floor.is_some_and(|f| self.event_time(t) <= f) {
            return Err(ImportedEventTimestampMustNotRegress);
        }
        let debit = self.account(p.debit_account_id).cloned().ok_or(DebitAccountNotFound)?;
        let credit = self.account(p.credit_account_id).cloned().ok_or(CreditAccountNotFound)?;
        let post = t.phase == Phase::PostPending;
        // state_machine.zig: "The only movement allowed in a closed account is voiding a pending
        // transfer."
        if post && debit.is_closed() {
            return Err(DebitAccountAlreadyClosed);
        }
        if post && credit.is_closed() {
            return Err(CreditAccountAlreadyClosed);
        }
        if debit.flags.frozen {
            return Err(DebitAccountFrozen);
        }
        if credit.flags.frozen {
            return Err(CreditAccountFrozen);
        }
        let posted = if post { amount } else { 0 };
        if i128::from(debit.balance.debits_posted) + posted > TOTAL_MAX {
            return Err(OverflowsDebitsPosted);
        }
        if i128::from(credit.balance.credits_posted) + posted > TOTAL_MAX {
            return Err(OverflowsCreditsPosted);
        }
        let (a, posted) =
            (i64::try_from(amount).map_err(|_| OverflowsDebits)?, i64::try_from(posted).map_err(|_| OverflowsDebits)?);
        let d_debit = Balance { debits_pending: -p.amount, debits_posted: posted, ..Balance::default() };
        let d_credit = Balance { credits_pending: -p.amount, credits_posted: posted, ..Balance::default() };
        let mut closing = Vec::new();
        if !post && p.flags.closing_debit {
            closing.push((debit.id, -1));
        }
        if !post && p.flags.closing_credit {
            closing.push((credit.id, -1));
        }
        let record = Transfer {
            debit_account_id: p.debit_account_id,
            credit_account_id: p.credit_account_id,
            amount: a,
            currency: p.currency,
            code: p.code,
            reference: t.reference.clone().or_else(|| p.reference.clone()),
            user_data_128: t.user_data_128.or(p.user_data_128),
            user_data_64: if t.user_data_64 != 0 { t.user_data_64 } else { p.user_data_64 },
            user_data_32: if t.user_data_32 != 0 { t.user_data_32 } else { p.user_data_32 },
            ..self.record(t, TransferResult::Ok)
        };
        Result::Ok(Applied {
            record,
            deltas: [(debit.id, d_debit), (credit.id, d_credit)],
            closing,
            needs_open: post,
            history: Vec::new(),
        })
    }

    /// The record of `t` as requested (a success fills in what it decided).
    fn record(&self, t: &TransferInput, result: TransferResult) -> Transfer {
        let pending = t.pending_id.and_then(|p| self.transfer(p));
        Transfer {
            id: t.id,
            debit_account_id: t.debit_account_id,
            credit_account_id: t.credit_account_id,
            amount: minor_opt(t.amount, t.currency).and_then(|m| i64::try_from(m).ok()).unwrap_or(0),
            currency: t.currency,
            kind: t.phase.kind(),
            pending_id: t.pending_id,
            timeout_secs: t.timeout_secs,
            expires_at: None,
            linked: t.linked,
            // A failed post/void that names no code and no hold it could take one from is recorded
            // as resolving a hold.
            code: t.code.or(pending.map(|p| p.code)).unwrap_or(TransferCode::Hold),
            reference: t.reference.clone(),
            flags: t.flags,
            user_data_128: t.user_data_128,
            user_data_64: t.user_data_64,
            user_data_32: t.user_data_32,
            result,
            actor: self.ctx.actor.clone(),
            created_at: self.event_time(t),
        }
    }
}

/// Decides a batch against `snap`.
pub fn decide(batch: &[TransferInput], snap: &Snapshot, ctx: &Context) -> Decision {
    use TransferResult::{
        IdMustNotBeZero, ImportedEventExpected, ImportedEventNotExpected, ImportedEventTimestampMustNotAdvance,
        ImportedEventTimestampOutOfRange, LinkedEventChainOpen, LinkedEventFailed, TimestampMustBeZero,
    };
    // create_transfers.md, `imported_event_expected`: "Batches cannot mix imported transfers with
    // non-imported transfers." — the first transfer decides.
    let batch_imported = batch.first().is_some_and(|t| t.flags.imported);
    let mut w = Work {
        snap,
        accounts: HashMap::new(),
        transfers: HashMap::new(),
        resolved: HashMap::new(),
        floor: snap.import_floor,
        ctx,
    };
    let mut out = Decision::default();
    let mut i = 0;
    while i < batch.len() {
        // The chain is batch[i..=end]: up to and including the first transfer not linked.
        let end = (i..batch.len()).find(|&k| !batch[k].linked).unwrap_or(batch.len() - 1);
        let chain = &batch[i..=end];
        let chain_open = chain.last().is_some_and(|t| t.linked);
        // Only a chain of two or more is rolled back (a lone transfer that fails applied nothing):
        // copying the working state for every lone transfer made a batch of n of them O(n²).
        let saved = (chain.len() > 1).then(|| (w.accounts.clone(), w.transfers.clone(), w.resolved.clone(), w.floor));
        let mut results: Vec<Judged> = Vec::new();
        let mut failed_at = None;
        for (k, t) in chain.iter().enumerate() {
            let r = if chain_open && k == chain.len() - 1 {
                // create_transfers.md: linked_event_chain_open precedes every other failure.
                Err(LinkedEventChainOpen)
            } else if let Some(c) = check_event(batch_imported, t.flags.imported, t.timestamp, ctx.now) {
                Err(match c {
                    EventCheck::Expected => ImportedEventExpected,
                    EventCheck::NotExpected => ImportedEventNotExpected,
                    EventCheck::TimestampMustBeZero => TimestampMustBeZero,
                    EventCheck::OutOfRange => ImportedEventTimestampOutOfRange,
                    EventCheck::MustNotAdvance => ImportedEventTimestampMustNotAdvance,
                })
            } else if t.id.as_uuid().is_nil() {
                Err(IdMustNotBeZero)
            } else if let Some(answer) = retry_answer(&w, t) {
                // A retry never applies again; within a chain, even `exists` fails the chain
                // (TigerBeetle's execute_create: every result but `created` breaks the chain).
                Err(answer)
            } else {
                w.judge(t)
            };
            if r.is_err() && failed_at.is_none() {
                failed_at = Some(k);
            }
            results.push(r);
            if failed_at.is_some() && chain.len() > 1 {
                break;
            }
        }
        match failed_at {
            Some(f) if chain.len() > 1 => {
                if let Some(saved) = saved {
                    (w.accounts, w.transfers, w.resolved, w.floor) = saved;
                }
                for (k, t) in chain.iter().enumerate() {
                    let result = if k == f {
                        results[k].as_ref().err().copied().unwrap_or(LinkedEventFailed)
                    } else if chain_open && k == chain.len() - 1 {
                        // An open chain's last transfer is `linked_event_chain_open` even when an
                        // earlier one failed (state_machine_tests.zig, "linked_event_chain_open
                        // for an already failed batch").
                        LinkedEventChainOpen
                    } else {
                        LinkedEventFailed
                    };
                    push_failure(&mut w, &mut out, t, result);
                }
            }
            _ => {
                for (t, r) in chain.iter().zip(results) {
                    match r {
                        Ok(applied) => {
                            out.outcomes.push(Outcome { id: t.id, result: TransferResult::Ok });
                            for (id, d) in applied.deltas {
                                // Overflow was excluded when the balances were applied.
                                let _ = add_delta(&mut out.deltas, id, d);
                                if applied.needs_open {
                                    let seen = snap.accounts.get(&id).map_or(0, |a| a.closing_holds);
                                    out.must_be_open.entry(id).or_insert(seen);
                                }
                            }
                            for (id, c) in applied.closing {
                                *out.closing.entry(id).or_default() += c;
                            }
                            out.history.extend(applied.history);
                            out.records.push(applied.record);
                        }
                        Err(result) => push_failure(&mut w, &mut out, t, result),
                    }
                }
            }
        }
        i = end + 1;
    }
    out.closing.retain(|_, c| *c != 0);
    let with_history: std::collections::BTreeSet<AccountId> = out.history.iter().map(|h| h.account_id).collect();
    out.deltas.retain(|id, d| {
        *d != Balance::default()
            || out.closing.contains_key(id)
            || out.must_be_open.contains_key(id)
            || with_history.contains(id)
    });
    out.imported_last =
        out.records.iter().filter(|r| r.result == TransferResult::Ok && r.flags.imported).map(|r| r.created_at).max();
    out
}

/// The answer to a transfer whose id is already recorded (`None`: a new id).
fn retry_answer(w: &Work<'_>, t: &TransferInput) -> Option<TransferResult> {
    let e = w.transfer(t.id)?;
    let pending = e.pending_id.and_then(|p| w.transfer(p));
    Some(compare_existing(t, e, pending))
}

/// Reports a failure; a first attempt's transient failure is recorded, so the id answers
/// `id_already_failed` ever after (create_transfers.md, `id_already_failed`: "This behavior
/// guarantees that retrying a transfer will not produce a different outcome"). Validation failures
/// are not: "correcting a previously rejected malformed request" reuses the id.
fn push_failure(w: &mut Work<'_>, out: &mut Decision, t: &TransferInput, result: TransferResult) {
    out.outcomes.push(Outcome { id: t.id, result });
    if !result.is_transient() || t.id.as_uuid().is_nil() || w.transfer(t.id).is_some() {
        return;
    }
    let record = w.record(t, result);
    w.transfers.insert(record.id, record.clone());
    out.records.push(record);
}

/// The release of an expired pending transfer, as the sweep records it, with the balance deltas
/// and the `closing_holds` deltas (an expired closing hold reopens its account, as in TigerBeetle's
/// `expire_pending_transfers`).
pub fn expiry_record(pending: &Transfer, id: TransferId, now: Timestamp) -> (Transfer, [(AccountId, Balance); 2]) {
    let held = pending.amount;
    let record = Transfer {
        id,
        debit_account_id: pending.debit_account_id,
        credit_account_id: pending.credit_account_id,
        amount: held,
        currency: pending.currency,
        kind: TransferKind::ExpirePending,
        pending_id: Some(pending.id),
        timeout_secs: 0,
        expires_at: None,
        linked: false,
        code: pending.code,
        reference: pending.reference.clone(),
        flags: TransferFlags::default(),
        user_data_128: pending.user_data_128,
        user_data_64: pending.user_data_64,
        user_data_32: pending.user_data_32,
        result: TransferResult::Ok,
        actor: "system".to_owned(),
        created_at: now,
    };
    let d_debit = Balance { debits_pending: -held, ..Balance::default() };
    let d_credit = Balance { credits_pending: -held, ..Balance::default() };
    (record, [(pending.debit_account_id, d_debit), (pending.credit_account_id, d_credit)])
}

/// The `closing_holds` deltas releasing `pending` (void or expiry) undoes.
pub fn reopened_by(pending: &Transfer) -> Vec<(AccountId, i64)> {
    let mut v = Vec::new();
    if pending.flags.closing_debit {
        v.push((pending.debit_account_id, -1));
    }
    if pending.flags.closing_credit {
        v.push((pending.credit_account_id, -1));
    }
    v
}

/// The totals an account's successful transfers add up to: what its cached balance must equal.
/// `None` when a total does not fit (summed wide, so the order of the transfers does not matter).
pub fn balance_from_transfers<'a>(
    account: AccountId,
    transfers: impl IntoIterator<Item = &'a Transfer>,
) -> Option<Balance> {
    let transfers: Vec<&Transfer> = transfers.into_iter().filter(|t| t.result == TransferResult::Ok).collect();
    let pending_amount: HashMap<TransferId, i64> =
        transfers.iter().filter(|t| t.kind == TransferKind::Pending).map(|t| (t.id, t.amount)).collect();
    let mut b = [0i128; 4];
    for t in transfers {
        let (pending, posted) = match t.kind {
            TransferKind::Single => (0, t.amount),
            TransferKind::Pending => (t.amount, 0),
            TransferKind::PostPending => (-*pending_amount.get(&t.pending_id?)?, t.amount),
            TransferKind::VoidPending | TransferKind::ExpirePending => (-*pending_amount.get(&t.pending_id?)?, 0),
        };
        if t.debit_account_id == account {
            b[0] += i128::from(pending);
            b[1] += i128::from(posted);
        }
        if t.credit_account_id == account {
            b[2] += i128::from(pending);
            b[3] += i128::from(posted);
        }
    }
    let [debits_pending, debits_posted, credits_pending, credits_posted] = b.map(|v| i64::try_from(v).ok());
    Some(Balance {
        debits_pending: debits_pending?,
        debits_posted: debits_posted?,
        credits_pending: credits_pending?,
        credits_posted: credits_posted?,
    })
}

/// The `closing_holds` an account's successful transfers add up to: closing holds placed on it,
/// less those voided or expired (a posted closing hold keeps the account closed).
pub fn closing_holds_from_transfers<'a>(account: AccountId, transfers: impl IntoIterator<Item = &'a Transfer>) -> i64 {
    let transfers: Vec<&Transfer> = transfers.into_iter().filter(|t| t.result == TransferResult::Ok).collect();
    let closes = |t: &Transfer| {
        (t.flags.closing_debit && t.debit_account_id == account)
            || (t.flags.closing_credit && t.credit_account_id == account)
    };
    let closing: HashMap<TransferId, bool> =
        transfers.iter().filter(|t| t.kind == TransferKind::Pending).map(|t| (t.id, closes(t))).collect();
    let mut holds = 0i64;
    for t in transfers {
        match t.kind {
            TransferKind::Pending if closes(t) => holds += 1,
            TransferKind::VoidPending | TransferKind::ExpirePending
                if t.pending_id.and_then(|p| closing.get(&p)).copied().unwrap_or(false) =>
            {
                holds -= 1
            }
            _ => {}
        }
    }
    holds
}

/// The balance history an account with `flags.history` must have: replaying its successful
/// transfers in the order they applied, the totals after each one that moved it — every transfer
/// but an expiry (get_account_balances.md: "Pending balances automatically removed due to timeout
/// expiration don't change historical balances."), whose release still counts in later rows.
/// `None` when a total does not fit.
pub fn history_from_transfers<'a>(
    account: AccountId,
    transfers_in_order: impl IntoIterator<Item = &'a Transfer>,
) -> Option<Vec<(TransferId, Balance)>> {
    let mut seen: Vec<&Transfer> = Vec::new();
    let mut rows = Vec::new();
    for t in transfers_in_order.into_iter().filter(|t| t.result == TransferResult::Ok) {
        seen.push(t);
        let moved = t.debit_account_id == account || t.credit_account_id == account;
        if moved && t.kind != TransferKind::ExpirePending {
            rows.push((t.id, balance_from_transfers(account, seen.iter().copied())?));
        }
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::default_flags;
    use crate::ledger::model::{AccountKind, AccountResult, TransferFlags, TransferResult as R};
    use proptest::prelude::*;
    use uuid::Uuid;

    const WALLET_A: AccountId = AccountId::from_uuid(Uuid::from_u128(1));
    const WALLET_B: AccountId = AccountId::from_uuid(Uuid::from_u128(2));
    const CLEARING: AccountId = AccountId::from_uuid(Uuid::from_u128(3));
    const REVENUE: AccountId = AccountId::from_uuid(Uuid::from_u128(4));

    fn account(id: AccountId, kind: AccountKind) -> Account {
        Account::managed(id, None, kind, Currency::INR, default_flags(kind), Timestamp::from_unix_micros(0).unwrap())
    }

    fn ledger() -> Snapshot {
        let mut s = Snapshot::default();
        for (id, kind) in [
            (WALLET_A, AccountKind::Wallet),
            (WALLET_B, AccountKind::Wallet),
            (CLEARING, AccountKind::GatewayClearing),
            (REVENUE, AccountKind::CanteenRevenue),
        ] {
            s.accounts.insert(id, account(id, kind));
        }
        s
    }

    fn ctx(secs: i64) -> Context {
        Context {
            actor: "system".into(),
            now: Timestamp::from_unix_micros(secs * 1_000_000).unwrap(),
            allow_top_up: true,
            allow_refund: true,
        }
    }

    fn t(id: u128, debit: AccountId, credit: AccountId, amount: Option<i64>, phase: Phase) -> TransferInput {
        TransferInput {
            id: TransferId::from_uuid(Uuid::from_u128(id)),
            debit_account_id: debit,
            credit_account_id: credit,
            amount: amount.map(|a| Decimal::new(a, 2)),
            currency: Currency::INR,
            phase,
            pending_id: None,
            timeout_secs: 0,
            linked: false,
            // Wallets are credited only by top-ups (or refunds).
            code: Some(if matches!(credit, WALLET_A | WALLET_B) {
                TransferCode::TopUp
            } else {
                TransferCode::Adjustment
            }),
            reference: None,
            flags: TransferFlags::default(),
            user_data_128: None,
            user_data_64: 0,
            user_data_32: 0,
            timestamp: None,
        }
    }

    /// Commits a decision into the snapshot the way a store does.
    fn commit(s: &mut Snapshot, d: &Decision) {
        for r in &d.records {
            if r.result == R::Ok {
                if let Some(p) = r.pending_id {
                    assert!(s.resolved.insert(p, r.kind).is_none(), "a pending transfer resolved twice");
                }
            }
            assert!(s.transfers.insert(r.id, r.clone()).is_none(), "a transfer id recorded twice");
        }
        for (id, delta) in &d.deltas {
            let a = s.accounts.get_mut(id).unwrap();
            // What a store's guarded delta requires.
            if let Some(seen) = d.must_be_open.get(id) {
                assert_eq!((a.closing_holds, a.flags.closed), (*seen, false), "a closed account moved");
            }
            a.balance = a.balance.apply(delta).unwrap();
            a.closing_holds += d.closing.get(id).copied().unwrap_or(0);
            assert!((0..=1).contains(&a.closing_holds), "closing holds out of range on {id}");
            assert!(a.balance.within(&a.flags), "flags broken on {id}");
            // History rows continue the account's positions, and the last holds its new balance.
            let rows: Vec<&HistoricalBalance> = d.history.iter().filter(|h| h.account_id == *id).collect();
            for (k, h) in rows.iter().enumerate() {
                assert_eq!(h.position, a.history_len + 1 + k as i64, "history positions continue on {id}");
            }
            if let Some(last) = rows.last() {
                assert_eq!(last.balance, a.balance, "the last history row is the balance after the commit");
            }
            a.history_len += rows.len() as i64;
        }
        for h in &d.history {
            assert!(d.deltas.contains_key(&h.account_id), "a history row without its account's delta");
            assert!(s.accounts[&h.account_id].flags.history, "a history row for an account without history");
        }
    }

    fn run(s: &mut Snapshot, batch: &[TransferInput], c: &Context) -> Decision {
        let d = decide(batch, s, c);
        commit(s, &d);
        d
    }

    fn results(d: &Decision) -> Vec<R> {
        d.outcomes.iter().map(|o| o.result).collect()
    }

    #[test]
    fn overdraft_is_refused_and_failures_keep_failing() {
        let mut s = ledger();
        let d = decide(&[t(10, CLEARING, WALLET_A, Some(1000), Phase::Single)], &s, &ctx(0));
        commit(&mut s, &d);
        let spend = t(11, WALLET_A, REVENUE, Some(1500), Phase::Single);
        let d = decide(std::slice::from_ref(&spend), &s, &ctx(1));
        assert_eq!(results(&d), [R::ExceedsCredits]);
        commit(&mut s, &d);
        // Even after a top-up, the same id stays failed (a transient failure pins its id), whatever
        // the retry carries.
        run(&mut s, &[t(12, CLEARING, WALLET_A, Some(5000), Phase::Single)], &ctx(2));
        assert_eq!(results(&decide(std::slice::from_ref(&spend), &s, &ctx(3))), [R::IdAlreadyFailed]);
        let mut other = spend;
        other.amount = Some(Decimal::new(100, 2));
        assert_eq!(results(&decide(&[other], &s, &ctx(3))), [R::IdAlreadyFailed]);
    }

    #[test]
    fn idempotency_answers_name_the_differing_field() {
        let mut s = ledger();
        let first = t(20, CLEARING, WALLET_A, Some(1000), Phase::Single);
        run(&mut s, std::slice::from_ref(&first), &ctx(0));
        assert_eq!(results(&decide(std::slice::from_ref(&first), &s, &ctx(1))), [R::Exists]);
        let mut d = first.clone();
        d.credit_account_id = WALLET_B;
        assert_eq!(results(&decide(&[d], &s, &ctx(1))), [R::ExistsWithDifferentCreditAccountId]);
        let mut d = first.clone();
        d.code = Some(TransferCode::Fee);
        assert_eq!(results(&decide(&[d], &s, &ctx(1))), [R::ExistsWithDifferentCode]);
        let mut d = first;
        d.phase = Phase::Pending;
        assert_eq!(results(&decide(&[d], &s, &ctx(1))), [R::ExistsWithDifferentFlags]);
    }

    #[test]
    fn two_phase_post_void_and_expiry() {
        let mut s = ledger();
        run(&mut s, &[t(1, CLEARING, WALLET_A, Some(10_000), Phase::Single)], &ctx(0));
        let mut hold = t(2, WALLET_A, REVENUE, Some(6000), Phase::Pending);
        hold.timeout_secs = 60;
        run(&mut s, &[hold], &ctx(0));
        assert_eq!(s.accounts[&WALLET_A].balance.available(), Some(4000));
        // Another hold beyond what is available fails: pending amounts count.
        assert_eq!(
            results(&decide(&[t(3, WALLET_A, REVENUE, Some(5000), Phase::Pending)], &s, &ctx(1))),
            [R::ExceedsCredits]
        );
        let mut post = t(4, WALLET_A, REVENUE, Some(2500), Phase::PostPending);
        post.pending_id = Some(TransferId::from_uuid(Uuid::from_u128(2)));
        let mut void = t(5, WALLET_A, REVENUE, None, Phase::VoidPending);
        void.pending_id = post.pending_id;
        // Post and void in one batch: the second sees the first.
        let d = decide(&[post.clone(), void], &s, &ctx(10));
        assert_eq!(results(&d), [R::Ok, R::PendingTransferAlreadyPosted]);
        commit(&mut s, &d);
        let b = s.accounts[&WALLET_A].balance;
        assert_eq!((b.debits_pending, b.debits_posted, b.available()), (0, 2500, Some(7500)));
        assert_eq!(s.accounts[&REVENUE].balance.credits_posted, 2500);
        // Expiry: a hold past its timeout can be neither posted nor voided.
        let mut hold = t(6, WALLET_A, REVENUE, Some(1000), Phase::Pending);
        hold.timeout_secs = 60;
        run(&mut s, &[hold], &ctx(100));
        let mut late = t(7, WALLET_A, REVENUE, None, Phase::PostPending);
        late.pending_id = Some(TransferId::from_uuid(Uuid::from_u128(6)));
        assert_eq!(results(&decide(&[late], &s, &ctx(160))), [R::PendingTransferExpired]);
        let pending = s.transfers[&TransferId::from_uuid(Uuid::from_u128(6))].clone();
        let (rec, parts) = expiry_record(&pending, TransferId::from_uuid(Uuid::from_u128(8)), ctx(160).now);
        let mut d = Decision { records: vec![rec], ..Decision::default() };
        for (a, p) in parts {
            d.deltas.insert(a, p);
        }
        commit(&mut s, &d);
        assert_eq!(s.accounts[&WALLET_A].balance.debits_pending, 0);
        for id in [WALLET_A, REVENUE, CLEARING] {
            assert_eq!(Some(s.accounts[&id].balance), balance_from_transfers(id, s.transfers.values()));
        }
    }

    #[test]
    fn linked_chain_applies_all_or_nothing() {
        let mut s = ledger();
        run(&mut s, &[t(1, CLEARING, WALLET_A, Some(1000), Phase::Single)], &ctx(0));
        let mut a = t(2, WALLET_A, WALLET_B, Some(700), Phase::Single);
        a.linked = true;
        let b = t(3, WALLET_A, REVENUE, Some(700), Phase::Single);
        let d = decide(&[a.clone(), b.clone()], &s, &ctx(1));
        assert_eq!(results(&d), [R::LinkedEventFailed, R::ExceedsCredits]);
        assert!(d.deltas.is_empty(), "nothing of the chain moves money");
        commit(&mut s, &d);
        assert_eq!(s.accounts[&WALLET_B].balance, Balance::default());
        // An open chain at the end of a batch fails.
        let mut c = t(4, CLEARING, WALLET_B, Some(1), Phase::Single);
        c.linked = true;
        assert_eq!(results(&decide(&[c], &s, &ctx(2))), [R::LinkedEventChainOpen]);
        // A chain that applied, retried: its first transfer answers `exists`, which fails the chain
        // like any other result but `created` (TigerBeetle's `execute_create`; its
        // state_machine_tests.zig, "linked accounts": "Fail with .exists.").
        let mut x = t(5, CLEARING, WALLET_B, Some(100), Phase::Single);
        x.linked = true;
        let y = t(6, WALLET_B, REVENUE, Some(100), Phase::Single);
        let d = decide(&[x.clone(), y.clone()], &s, &ctx(3));
        assert_eq!(results(&d), [R::Ok, R::Ok]);
        commit(&mut s, &d);
        assert_eq!(results(&decide(&[x.clone(), y], &s, &ctx(4))), [R::Exists, R::LinkedEventFailed]);
        // An open chain whose first transfer failed still ends in `linked_event_chain_open`.
        let mut z = t(7, CLEARING, WALLET_B, Some(1), Phase::Single);
        z.linked = true;
        assert_eq!(results(&decide(&[x, z], &s, &ctx(5))), [R::Exists, R::LinkedEventChainOpen]);
    }

    #[test]
    fn shape_errors_are_specific() {
        let s = ledger();
        let cases = [
            (t(0, CLEARING, WALLET_A, Some(1), Phase::Single), R::IdMustNotBeZero),
            (t(1, WALLET_A, WALLET_A, Some(1), Phase::Single), R::AccountsMustBeDifferent),
            (t(2, CLEARING, WALLET_A, Some(0), Phase::Single), R::AmountMustBePositive),
            (t(3, CLEARING, WALLET_A, None, Phase::PostPending), R::PendingIdMustNotBeZero),
            (
                t(4, CLEARING, AccountId::from_uuid(Uuid::from_u128(77)), Some(1), Phase::Single),
                R::CreditAccountNotFound,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(results(&decide(&[input], &s, &ctx(0))), [expected]);
        }
        let mut fine = t(5, CLEARING, WALLET_A, None, Phase::Single);
        fine.amount = Some(Decimal::new(1001, 3));
        assert_eq!(results(&decide(&[fine], &s, &ctx(0))), [R::AmountTooPrecise]);
        let top_up = t(6, CLEARING, WALLET_A, Some(1), Phase::Single);
        let no_top_up = Context { allow_top_up: false, ..ctx(0) };
        assert_eq!(results(&decide(&[top_up], &s, &no_top_up)), [R::TopUpRequiresVerifiedPayment]);
        let mut sneaky = t(7, CLEARING, WALLET_A, Some(1), Phase::Single);
        sneaky.code = Some(TransferCode::Adjustment);
        assert_eq!(results(&decide(&[sneaky], &s, &ctx(0))), [R::WalletCreditNotAllowed]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Move {
            from: usize,
            to: usize,
            amount: i64,
            pending: bool,
            timeout: u32,
            linked: bool,
        },
        Balance {
            from: usize,
            to: usize,
            limit: Option<i64>,
            debit: bool,
        },
        Close {
            which: usize,
            debit: bool,
        },
        Resolve {
            which: usize,
            post: bool,
            amount: Option<i64>,
        },
        Retry {
            which: usize,
        },
        Sweep,
        /// `create_accounts`: each spec is (flag bits: debits limit, credits limit, history, closed,
        /// linked; in USD; an existing account's id again).
        Open {
            specs: Vec<(u8, bool, Option<usize>)>,
        },
    }

    /// Amounts: mostly small, sometimes within 5000 of `i64::MAX` (where the `overflows_*` codes live).
    fn amount() -> impl Strategy<Value = i64> {
        prop_oneof![6 => 1i64..5000, 1 => (i64::MAX - 5000)..=i64::MAX]
    }

    fn op() -> impl Strategy<Value = Op> {
        let spec = (0u8..32, prop::bool::weighted(0.3), prop::option::weighted(0.2, any::<usize>()));
        prop_oneof![
            // Timeouts are multiples of the clock's 7 s step, so resolutions land exactly on expiry.
            4 => (any::<usize>(), any::<usize>(), amount(), any::<bool>(), prop_oneof![Just(0u32), Just(7), Just(14)], prop::bool::weighted(0.2))
                .prop_map(|(from, to, amount, pending, timeout, linked)| Op::Move { from, to, amount, pending, timeout, linked }),
            1 => (any::<usize>(), any::<usize>(), prop::option::of(1i64..5000), any::<bool>()).prop_map(|(from, to, limit, debit)| Op::Balance { from, to, limit, debit }),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(which, debit)| Op::Close { which, debit }),
            3 => (any::<usize>(), any::<bool>(), prop::option::of(1i64..6000)).prop_map(|(which, post, amount)| Op::Resolve { which, post, amount }),
            1 => any::<usize>().prop_map(|which| Op::Retry { which }),
            1 => Just(Op::Sweep),
            1 => prop::collection::vec(spec, 1..4).prop_map(|specs| Op::Open { specs }),
        ]
    }

    /// What a walk reached (the interesting regions must be reached, not just allowed).
    #[derive(Debug, Default)]
    struct Reached {
        overflows: usize,
        exactly_at_expiry: usize,
        balancing: usize,
        closed_refusals: usize,
        reopened: usize,
        accounts_created: usize,
        accounts_existed: usize,
        account_chains_failed: usize,
        history_rows: usize,
        usd_moves: usize,
    }

    /// The walk's ledger: the four accounts, two of them keeping history.
    struct Books {
        s: Snapshot,
        /// Account ids, in creation order (ops pick them modulo the count).
        ids: Vec<AccountId>,
        /// Every record committed, in order.
        log: Vec<Transfer>,
        /// Every history row committed, per account.
        history: HashMap<AccountId, Vec<HistoricalBalance>>,
    }

    impl Books {
        fn pick(&self, i: usize) -> AccountId {
            self.ids[i % self.ids.len()]
        }
        fn apply(&mut self, d: &Decision) {
            commit(&mut self.s, d);
            self.log.extend(d.records.iter().cloned());
            for h in &d.history {
                self.history.entry(h.account_id).or_default().push(h.clone());
            }
        }
    }

    /// Opens a batch of accounts: what is created is new, nothing of a failed chain is, an existing
    /// id never answers `ok`.
    fn open(
        b: &mut Books,
        specs: &[(u8, bool, Option<usize>)],
        next_id: &mut u128,
        now: Timestamp,
        reached: &mut Reached,
    ) -> Result<(), TestCaseError> {
        use super::super::accounts::{decide_accounts, AccountInput, AccountInputFlags, AccountsSnapshot};
        use AccountResult as A;
        let batch: Vec<AccountInput> = specs
            .iter()
            .map(|(bits, usd, reuse)| {
                let id = match reuse {
                    Some(i) => b.pick(*i),
                    None => {
                        *next_id += 1;
                        AccountId::from_uuid(Uuid::from_u128(1_000_000_000 + *next_id))
                    }
                };
                AccountInput {
                    id,
                    currency: Some(if *usd { Currency::USD } else { Currency::INR }),
                    code: 7,
                    flags: AccountInputFlags {
                        debits_must_not_exceed_credits: bits & 1 != 0,
                        credits_must_not_exceed_debits: bits & 2 != 0,
                        history: bits & 4 != 0,
                        closed: bits & 8 != 0 && bits & 3 == 0,
                        linked: bits & 16 != 0,
                        imported: false,
                    },
                    user_data_128: None,
                    user_data_64: 0,
                    user_data_32: 0,
                    timestamp: None,
                }
            })
            .collect();
        let snap = AccountsSnapshot { existing: b.s.accounts.clone(), import_floor: None };
        let d = decide_accounts(&batch, &snap, now);
        prop_assert_eq!(d.outcomes.len(), batch.len());
        for (a, o) in batch.iter().zip(&d.outcomes) {
            if b.s.accounts.contains_key(&a.id) {
                prop_assert!(o.result != A::Ok, "an existing id was created again");
                if !matches!(o.result, A::LinkedEventFailed | A::LinkedEventChainOpen) {
                    reached.accounts_existed += 1;
                }
            }
            if matches!(o.result, A::LinkedEventFailed) {
                reached.account_chains_failed += 1;
            }
        }
        let created_ids: Vec<AccountId> = d.created.iter().map(|a| a.id).collect();
        let ok_ids: Vec<AccountId> = d.outcomes.iter().filter(|o| o.result == A::Ok).map(|o| o.id).collect();
        prop_assert_eq!(&created_ids, &ok_ids, "exactly the `ok` accounts are created");
        for a in d.created {
            prop_assert_eq!(a.balance, Balance::default());
            prop_assert!(!a.flags.debits_must_not_exceed_credits || !a.flags.credits_must_not_exceed_debits);
            reached.accounts_created += 1;
            b.ids.push(a.id);
            prop_assert!(b.s.accounts.insert(a.id, a).is_none());
        }
        Ok(())
    }

    /// Random batches against a simulated store: after every step money is conserved (Σdebits =
    /// Σcredits per currency), every account's flags hold, every cached balance equals the sum of
    /// its transfers, every history account's rows equal replaying its transfers, no id or pending
    /// resolution is recorded twice, a retry never moves money, and a closed account takes nothing
    /// but voids.
    fn walk(ops: Vec<Vec<Op>>, reached: &mut Reached) -> Result<(), TestCaseError> {
        let mut b = Books {
            s: ledger(),
            ids: vec![WALLET_A, WALLET_B, CLEARING, REVENUE],
            log: Vec::new(),
            history: HashMap::new(),
        };
        for id in [CLEARING, REVENUE] {
            b.s.accounts.get_mut(&id).unwrap().flags.history = true;
        }
        let mut next_id = 100u128;
        let mut inputs: Vec<TransferInput> = Vec::new();
        let mut clock = 0i64;
        for batch_ops in ops {
            clock += 7;
            let now = ctx(clock).now;
            let mut batch = Vec::new();
            for o in batch_ops {
                next_id += 1;
                let id = TransferId::from_uuid(Uuid::from_u128(next_id));
                match o {
                    Op::Move { from, to, amount, pending, timeout, linked } => {
                        let (from, to) = (b.pick(from), b.pick(to));
                        let mut x =
                            t(next_id, from, to, Some(amount), if pending { Phase::Pending } else { Phase::Single });
                        x.currency = b.s.accounts[&from].currency;
                        x.timeout_secs = if pending { timeout } else { 0 };
                        x.linked = linked;
                        batch.push(x);
                    }
                    Op::Balance { from, to, limit, debit } => {
                        let (from, to) = (b.pick(from), b.pick(to));
                        let mut x = t(next_id, from, to, limit, Phase::Single);
                        x.currency = b.s.accounts[&from].currency;
                        if debit {
                            x.flags.balancing_debit = true
                        } else {
                            x.flags.balancing_credit = true
                        }
                        batch.push(x);
                    }
                    Op::Close { which, debit } => {
                        let (account, other) = (b.pick(which), b.pick(which + 1));
                        let (d, c) = if debit { (account, other) } else { (other, account) };
                        let mut x = t(next_id, d, c, None, Phase::Pending);
                        x.currency = b.s.accounts[&d].currency;
                        if debit {
                            x.flags.closing_debit = true
                        } else {
                            x.flags.closing_credit = true
                        }
                        batch.push(x);
                    }
                    Op::Resolve { which, post, amount } => {
                        let s = &b.s;
                        let mut pendings: Vec<&Transfer> = s
                            .transfers
                            .values()
                            .filter(|t| t.kind == TransferKind::Pending && t.result == R::Ok)
                            .collect();
                        pendings.sort_by_key(|t| t.id);
                        if pendings.is_empty() {
                            continue;
                        }
                        let p = pendings[which % pendings.len()];
                        let mut x = t(
                            next_id,
                            p.debit_account_id,
                            p.credit_account_id,
                            if post { amount } else { None },
                            if post { Phase::PostPending } else { Phase::VoidPending },
                        );
                        x.pending_id = Some(p.id);
                        x.code = None;
                        x.currency = p.currency;
                        x.id = id;
                        // (An amount above the hold is named first: `exceeds_pending_transfer_amount`.)
                        let amount_fits = !post || amount.is_none_or(|a| a <= p.amount);
                        if p.expires_at == Some(now)
                            && !s.resolved.contains_key(&p.id)
                            && batch.is_empty()
                            && amount_fits
                        {
                            // Exactly at the expiry instant: the hold is expired.
                            reached.exactly_at_expiry += 1;
                            let d = decide(std::slice::from_ref(&x), s, &ctx(clock));
                            prop_assert_eq!(d.outcomes[0].result, R::PendingTransferExpired);
                        }
                        batch.push(x);
                    }
                    Op::Retry { which } => {
                        if inputs.is_empty() {
                            continue;
                        }
                        batch.push(inputs[which % inputs.len()].clone());
                    }
                    Op::Sweep => {
                        let s = &b.s;
                        let mut expired: Vec<Transfer> = s
                            .transfers
                            .values()
                            .filter(|t| {
                                t.kind == TransferKind::Pending
                                    && t.result == R::Ok
                                    && t.expires_at.is_some_and(|e| e <= now)
                                    && !s.resolved.contains_key(&t.id)
                            })
                            .cloned()
                            .collect();
                        expired.sort_by_key(|t| t.id);
                        let mut d = Decision::default();
                        for (k, p) in expired.iter().enumerate() {
                            let (rec, parts) = expiry_record(
                                p,
                                TransferId::from_uuid(Uuid::from_u128(1_000_000 + next_id * 100 + k as u128)),
                                now,
                            );
                            d.records.push(rec);
                            for (a, part) in parts {
                                add_delta(&mut d.deltas, a, part).unwrap();
                            }
                            for (a, c) in reopened_by(p) {
                                *d.closing.entry(a).or_default() += c;
                                reached.reopened += 1;
                            }
                        }
                        b.apply(&d);
                    }
                    Op::Open { specs } => open(&mut b, &specs, &mut next_id, now, reached)?,
                }
            }
            if batch.is_empty() {
                continue;
            }
            let before: Vec<Balance> = b.ids.iter().map(|a| b.s.accounts[a].balance).collect();
            let closed_before: Vec<AccountId> = b.ids.iter().copied().filter(|a| b.s.accounts[a].is_closed()).collect();
            let d = decide(&batch, &b.s, &ctx(clock));
            prop_assert_eq!(d.outcomes.len(), batch.len());
            for o in &d.outcomes {
                use TransferResult::*;
                if matches!(
                    o.result,
                    OverflowsDebitsPending
                        | OverflowsCreditsPending
                        | OverflowsDebitsPosted
                        | OverflowsCreditsPosted
                        | OverflowsDebits
                        | OverflowsCredits
                ) {
                    reached.overflows += 1;
                }
                if matches!(o.result, DebitAccountAlreadyClosed | CreditAccountAlreadyClosed) {
                    reached.closed_refusals += 1;
                }
            }
            // Replays the batch's successes in order: while closed, an account takes only voids.
            let mut closed = closed_before;
            let in_batch: HashMap<TransferId, &Transfer> = d.records.iter().map(|r| (r.id, r)).collect();
            for r in d.records.iter().filter(|r| r.result == R::Ok) {
                if r.flags.balancing() {
                    reached.balancing += 1;
                }
                if r.currency == Currency::USD {
                    reached.usd_moves += 1;
                }
                for a in [r.debit_account_id, r.credit_account_id] {
                    prop_assert!(
                        !closed.contains(&a) || r.kind == TransferKind::VoidPending,
                        "a closed account took {:?}",
                        r.kind
                    );
                }
                if r.kind == TransferKind::VoidPending {
                    let p = r.pending_id.and_then(|p| b.s.transfers.get(&p).or(in_batch.get(&p).copied())).unwrap();
                    for (a, _) in reopened_by(p) {
                        reached.reopened += 1;
                        closed.retain(|c| *c != a);
                    }
                }
                if r.flags.closing_debit {
                    closed.push(r.debit_account_id);
                }
                if r.flags.closing_credit {
                    closed.push(r.credit_account_id);
                }
            }
            reached.history_rows += d.history.len();
            let applied = d.outcomes.iter().any(|o| o.result == R::Ok);
            b.apply(&d);
            if !applied {
                let after: Vec<Balance> = b.ids.iter().map(|a| b.s.accounts[a].balance).collect();
                prop_assert_eq!(before, after, "no success, no movement");
            }
            inputs.extend(batch);
            let mut sums: HashMap<Currency, [i128; 4]> = HashMap::new();
            for a in &b.ids {
                let acct = &b.s.accounts[a];
                prop_assert!(acct.balance.within(&acct.flags), "a limit was crossed on {}", a);
                prop_assert_eq!(Some(acct.balance), balance_from_transfers(*a, b.s.transfers.values()));
                prop_assert_eq!(acct.closing_holds, closing_holds_from_transfers(*a, b.s.transfers.values()));
                let sum = sums.entry(acct.currency).or_default();
                for (total, v) in sum.iter_mut().zip(wide(&acct.balance)) {
                    *total += v;
                }
                // History rows are the balances of replaying the account's transfers in order.
                let rows: Vec<(TransferId, Balance)> = b
                    .history
                    .get(a)
                    .map(|rows| rows.iter().map(|h| (h.transfer_id, h.balance)).collect())
                    .unwrap_or_default();
                if acct.flags.history {
                    prop_assert_eq!(Some(rows), history_from_transfers(*a, &b.log));
                    prop_assert_eq!(acct.history_len as usize, b.history.get(a).map_or(0, Vec::len));
                } else {
                    prop_assert!(rows.is_empty(), "history rows for an account without history");
                }
            }
            for (currency, sum) in sums {
                prop_assert_eq!(sum[0], sum[2], "Σ debits pending = Σ credits pending in {}", currency);
                prop_assert_eq!(sum[1], sum[3], "Σ debits posted = Σ credits posted in {}", currency);
            }
        }
        Ok(())
    }

    /// The walk, 256 cases, and proof it reached the edges: overflows, resolutions exactly at expiry,
    /// balancing transfers, refusals by closed accounts, reopenings, accounts created (and refused
    /// as existing, and rolled back with their chain), history rows, and a second currency.
    #[test]
    fn invariants_hold_after_every_step() {
        let reached = std::cell::RefCell::new(Reached::default());
        let mut runner =
            proptest::test_runner::TestRunner::new(ProptestConfig { cases: 256, ..ProptestConfig::default() });
        let ops = prop::collection::vec(prop::collection::vec(op(), 1..6), 1..25);
        runner.run(&ops, |ops| walk(ops, &mut reached.borrow_mut())).unwrap();
        let r = reached.into_inner();
        assert!(
            r.overflows > 0
                && r.exactly_at_expiry > 0
                && r.balancing > 0
                && r.closed_refusals > 0
                && r.reopened > 0
                && r.accounts_created > 0
                && r.accounts_existed > 0
                && r.account_chains_failed > 0
                && r.history_rows > 0
                && r.usd_moves > 0,
            "{r:?}"
        );
    }
}
