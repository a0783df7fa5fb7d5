//! The pure transfer engine: decides a batch against a snapshot of the ledger.
//!
//! Transfers are judged in order; each sees the effects of the ones before it. A linked chain (each
//! transfer but the last has `linked = true`) applies all or nothing: on the first failure the chain's
//! effects are rolled back, the failing transfer reports its own code and the others
//! `linked_event_failed`. The result is the list of outcomes, the records to insert (successes and
//! first-attempt failures) and one net balance delta per touched account.

use super::model::{Account, AccountId, Balance, Transfer, TransferCode, TransferId, TransferKind, TransferResult};
use crate::money::{Currency, Money};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Longest transfer reference, in characters.
pub const REFERENCE_MAX_CHARS: usize = 200;
/// Most transfers in one batch.
pub const BATCH_TRANSFERS_MAX: usize = 8_190;
/// Longest pending timeout: 30 days.
pub const TIMEOUT_SECS_MAX: u32 = 30 * 24 * 3600;

/// Which phase a requested transfer is (expiry is the sweep's alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Move posted money now.
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
}

/// A transfer as requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferInput {
    /// Client-chosen id (not nil).
    pub id: TransferId,
    /// Debited account.
    pub debit_account_id: AccountId,
    /// Credited account.
    pub credit_account_id: AccountId,
    /// In currency units (`12.50`). Required for single and pending; for post, absent = the whole
    /// pending amount; for void, absent or the pending amount.
    #[serde(default)]
    pub amount: Option<Decimal>,
    /// The currency of both accounts.
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
    /// Why.
    pub code: TransferCode,
    /// What it refers to.
    #[serde(default)]
    pub reference: Option<String>,
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
}

/// The engine's decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// One per input, in order.
    pub outcomes: Vec<Outcome>,
    /// Records to insert: successes and first-attempt failures.
    pub records: Vec<Transfer>,
    /// Net change per account, ordered by account id (the order stores lock in).
    pub deltas: BTreeMap<AccountId, Balance>,
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
    *e = Balance {
        debits_pending: e.debits_pending.checked_add(d.debits_pending)?,
        debits_posted: e.debits_posted.checked_add(d.debits_posted)?,
        credits_pending: e.credits_pending.checked_add(d.credits_pending)?,
        credits_posted: e.credits_posted.checked_add(d.credits_posted)?,
    };
    Some(())
}

fn minor(amount: Decimal, currency: Currency) -> Result<i64, TransferResult> {
    if amount <= Decimal::ZERO {
        return Err(TransferResult::AmountMustBePositive);
    }
    let m = Money::new(amount, currency).map_err(|_| TransferResult::AmountTooPrecise)?;
    m.to_minor().ok_or(TransferResult::OverflowsBalance)
}

/// Compares a retry with its recorded first attempt (TigerBeetle's order of fields).
fn compare_existing(t: &TransferInput, e: &Transfer) -> TransferResult {
    use TransferResult::*;
    if t.phase.kind() != e.kind {
        return ExistsWithDifferentKind;
    }
    if t.pending_id != e.pending_id {
        return ExistsWithDifferentPendingId;
    }
    if t.timeout_secs != e.timeout_secs {
        return ExistsWithDifferentTimeout;
    }
    if t.debit_account_id != e.debit_account_id {
        return ExistsWithDifferentDebitAccountId;
    }
    if t.credit_account_id != e.credit_account_id {
        return ExistsWithDifferentCreditAccountId;
    }
    if t.currency != e.currency {
        return ExistsWithDifferentCurrency;
    }
    let same_amount = match t.amount {
        // Post/void without an amount meant "all of it": the record holds what that was.
        None => matches!(e.kind, TransferKind::PostPending | TransferKind::VoidPending) || !e.result.is_applied(),
        Some(a) => Money::new(a, e.currency).ok().and_then(|m| m.to_minor()) == Some(e.amount),
    };
    if !same_amount {
        return ExistsWithDifferentAmount;
    }
    if t.code != e.code {
        return ExistsWithDifferentCode;
    }
    if t.reference != e.reference {
        return ExistsWithDifferentReference;
    }
    if e.result == TransferResult::Ok {
        Exists
    } else {
        e.result
    }
}

/// A judged transfer: its record and its two accounts' deltas, or why it failed.
type Judged = Result<(Transfer, [(AccountId, Balance); 2]), TransferResult>;

/// The working state of one batch.
struct Work<'a> {
    snap: &'a Snapshot,
    accounts: HashMap<AccountId, Account>,
    transfers: HashMap<TransferId, Transfer>,
    resolved: HashMap<TransferId, TransferKind>,
    ctx: &'a Context,
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

    /// Judges one transfer; on success applies it to the working state and returns its record
    /// and the deltas of its two accounts.
    fn judge(&mut self, t: &TransferInput) -> Judged {
        use TransferResult::*;
        if t.debit_account_id == t.credit_account_id {
            return Err(AccountsMustBeDifferent);
        }
        if t.reference.as_ref().is_some_and(|r| r.chars().count() > REFERENCE_MAX_CHARS) {
            return Err(ReferenceTooLong);
        }
        if t.code == TransferCode::TopUp && !self.ctx.allow_top_up {
            return Err(TopUpRequiresVerifiedPayment);
        }
        if t.code == TransferCode::Refund && !self.ctx.allow_refund {
            return Err(RefundRequiresRefundPath);
        }
        match t.phase {
            Phase::Pending if t.timeout_secs > TIMEOUT_SECS_MAX => return Err(TimeoutReservedForPendingTransfer),
            Phase::Pending => {}
            _ if t.timeout_secs != 0 => return Err(TimeoutReservedForPendingTransfer),
            _ => {}
        }
        match (t.phase, t.pending_id) {
            (Phase::Single | Phase::Pending, Some(_)) => return Err(PendingIdMustBeEmpty),
            (Phase::PostPending | Phase::VoidPending, None) => return Err(PendingIdRequired),
            (_, Some(p)) if p == t.id => return Err(PendingIdMustBeDifferent),
            _ => {}
        }
        let debit = self.account(t.debit_account_id).cloned().ok_or(DebitAccountNotFound)?;
        let credit = self.account(t.credit_account_id).cloned().ok_or(CreditAccountNotFound)?;
        if debit.currency != credit.currency {
            return Err(AccountsMustHaveTheSameCurrency);
        }
        // Money enters a wallet only as a verified top-up or a refund (posting or voiding a hold
        // that was itself allowed is fine).
        let credits_wallet = credit.kind == super::model::AccountKind::Wallet;
        if credits_wallet
            && matches!(t.phase, Phase::Single | Phase::Pending)
            && !matches!(t.code, TransferCode::TopUp | TransferCode::Refund)
        {
            return Err(WalletCreditNotAllowed);
        }
        if t.currency != debit.currency {
            return Err(TransferCurrencyMustMatchAccounts);
        }
        for (acct, frozen, closed) in
            [(&debit, DebitAccountFrozen, DebitAccountClosed), (&credit, CreditAccountFrozen, CreditAccountClosed)]
        {
            if acct.flags.closed {
                return Err(closed);
            }
            if acct.flags.frozen {
                return Err(frozen);
            }
        }
        let (amount, d_debit, d_credit, expires_at) = match t.phase {
            Phase::Single | Phase::Pending => {
                let a = minor(t.amount.ok_or(AmountMustBePositive)?, t.currency)?;
                if t.phase == Phase::Single {
                    (
                        a,
                        Balance { debits_posted: a, ..Balance::default() },
                        Balance { credits_posted: a, ..Balance::default() },
                        None,
                    )
                } else {
                    let expires = if t.timeout_secs == 0 {
                        None
                    } else {
                        Some(
                            self.ctx
                                .now
                                .checked_add(chrono::Duration::seconds(i64::from(t.timeout_secs)))
                                .ok_or(TimeoutReservedForPendingTransfer)?,
                        )
                    };
                    (
                        a,
                        Balance { debits_pending: a, ..Balance::default() },
                        Balance { credits_pending: a, ..Balance::default() },
                        expires,
                    )
                }
            }
            Phase::PostPending | Phase::VoidPending => {
                let pid = t.pending_id.ok_or(PendingIdRequired)?;
                let p = self.transfer(pid).ok_or(PendingTransferNotFound)?;
                if p.result != TransferResult::Ok {
                    return Err(PendingTransferNotFound);
                }
                if p.kind != TransferKind::Pending {
                    return Err(PendingTransferNotPending);
                }
                if p.debit_account_id != t.debit_account_id {
                    return Err(PendingTransferHasDifferentDebitAccountId);
                }
                if p.credit_account_id != t.credit_account_id {
                    return Err(PendingTransferHasDifferentCreditAccountId);
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
                let held = p.amount;
                let a = match t.amount {
                    None => held,
                    Some(x) => minor(x, t.currency)?,
                };
                if a > held {
                    return Err(ExceedsPendingTransferAmount);
                }
                if t.phase == Phase::VoidPending && a != held {
                    return Err(ExceedsPendingTransferAmount);
                }
                let posted = if t.phase == Phase::PostPending { a } else { 0 };
                (
                    a,
                    Balance { debits_pending: -held, debits_posted: posted, ..Balance::default() },
                    Balance { credits_pending: -held, credits_posted: posted, ..Balance::default() },
                    None,
                )
            }
        };
        let new_debit = debit.balance.apply(&d_debit).ok_or(OverflowsBalance)?;
        let new_credit = credit.balance.apply(&d_credit).ok_or(OverflowsBalance)?;
        if !new_debit.within(&debit.flags) {
            return Err(ExceedsCredits);
        }
        if !new_credit.within(&credit.flags) {
            return Err(ExceedsDebits);
        }
        let record = self.record(t, amount, expires_at, TransferResult::Ok);
        self.accounts.insert(debit.id, Account { balance: new_debit, ..debit.clone() });
        self.accounts.insert(credit.id, Account { balance: new_credit, ..credit.clone() });
        if let Some(p) = t.pending_id {
            self.resolved.insert(p, t.phase.kind());
        }
        self.transfers.insert(record.id, record.clone());
        Result::Ok((record, [(debit.id, d_debit), (credit.id, d_credit)]))
    }

    fn record(
        &self,
        t: &TransferInput,
        amount: i64,
        expires_at: Option<Timestamp>,
        result: TransferResult,
    ) -> Transfer {
        Transfer {
            id: t.id,
            debit_account_id: t.debit_account_id,
            credit_account_id: t.credit_account_id,
            amount,
            currency: t.currency,
            kind: t.phase.kind(),
            pending_id: t.pending_id,
            timeout_secs: t.timeout_secs,
            expires_at,
            linked: t.linked,
            code: t.code,
            reference: t.reference.clone(),
            result,
            actor: self.ctx.actor.clone(),
            created_at: self.ctx.now,
        }
    }

    /// The amount a failed record keeps: what was asked, when it parses.
    fn failed_amount(t: &TransferInput) -> i64 {
        t.amount.and_then(|a| Money::new(a, t.currency).ok()).and_then(|m| m.to_minor()).unwrap_or(0)
    }
}

/// Decides a batch against `snap`.
pub fn decide(batch: &[TransferInput], snap: &Snapshot, ctx: &Context) -> Decision {
    let mut w = Work { snap, accounts: HashMap::new(), transfers: HashMap::new(), resolved: HashMap::new(), ctx };
    let mut out = Decision::default();
    let mut i = 0;
    while i < batch.len() {
        // The chain is batch[i..=end]: up to and including the first transfer not linked.
        let end = (i..batch.len()).find(|&k| !batch[k].linked).unwrap_or(batch.len() - 1);
        let chain = &batch[i..=end];
        let chain_open = chain.last().is_some_and(|t| t.linked);
        // A retried chain that fully applied before answers `exists` for every member.
        if chain.len() > 1
            && chain.iter().all(|t| w.transfer(t.id).is_some_and(|e| compare_existing(t, e) == TransferResult::Exists))
        {
            out.outcomes.extend(chain.iter().map(|t| Outcome { id: t.id, result: TransferResult::Exists }));
            i = end + 1;
            continue;
        }
        let saved = (w.accounts.clone(), w.transfers.clone(), w.resolved.clone());
        let mut results: Vec<Judged> = Vec::new();
        let mut failed_at = None;
        for (k, t) in chain.iter().enumerate() {
            let r = if t.id.as_uuid().is_nil() {
                Err(TransferResult::IdMustNotBeZero)
            } else if let Some(e) = w.transfer(t.id) {
                // A retry: never applies again. (Within a chain, `exists` fails the chain.)
                Err(compare_existing(t, e))
            } else if chain_open && k == chain.len() - 1 {
                Err(TransferResult::LinkedEventChainOpen)
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
                (w.accounts, w.transfers, w.resolved) = saved;
                for (k, t) in chain.iter().enumerate() {
                    let result = if k == f {
                        results[k].as_ref().err().copied().unwrap_or(TransferResult::LinkedEventFailed)
                    } else {
                        TransferResult::LinkedEventFailed
                    };
                    push_failure(&mut w, &mut out, t, result);
                }
            }
            _ => {
                for (t, r) in chain.iter().zip(results) {
                    match r {
                        Ok((record, deltas)) => {
                            out.outcomes.push(Outcome { id: t.id, result: TransferResult::Ok });
                            out.records.push(record);
                            for (id, d) in deltas {
                                // Overflow was excluded when the balances were applied.
                                let _ = add_delta(&mut out.deltas, id, d);
                            }
                        }
                        Err(result) => push_failure(&mut w, &mut out, t, result),
                    }
                }
            }
        }
        i = end + 1;
    }
    out.deltas.retain(|_, d| *d != Balance::default());
    out
}

/// Reports a failure; first-attempt failures (not retries, not nil ids) are recorded so the id keeps
/// failing the same way.
fn push_failure(w: &mut Work<'_>, out: &mut Decision, t: &TransferInput, result: TransferResult) {
    use TransferResult::*;
    out.outcomes.push(Outcome { id: t.id, result });
    let is_retry_answer = matches!(
        result,
        Exists
            | ExistsWithDifferentKind
            | ExistsWithDifferentPendingId
            | ExistsWithDifferentTimeout
            | ExistsWithDifferentDebitAccountId
            | ExistsWithDifferentCreditAccountId
            | ExistsWithDifferentAmount
            | ExistsWithDifferentCurrency
            | ExistsWithDifferentCode
            | ExistsWithDifferentReference
    );
    let first_attempt = w.transfer(t.id).is_none();
    if result == IdMustNotBeZero || is_retry_answer || !first_attempt {
        return;
    }
    let record = w.record(t, Work::failed_amount(t), None, result);
    w.transfers.insert(record.id, record.clone());
    out.records.push(record);
}

/// The release of an expired pending transfer, as the sweep records it.
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
        result: TransferResult::Ok,
        actor: "system".to_owned(),
        created_at: now,
    };
    let d_debit = Balance { debits_pending: -held, ..Balance::default() };
    let d_credit = Balance { credits_pending: -held, ..Balance::default() };
    (record, [(pending.debit_account_id, d_debit), (pending.credit_account_id, d_credit)])
}

/// The totals an account's successful transfers add up to: what its cached balance must equal.
pub fn balance_from_transfers<'a>(
    account: AccountId,
    transfers: impl IntoIterator<Item = &'a Transfer>,
) -> Option<Balance> {
    let transfers: Vec<&Transfer> = transfers.into_iter().filter(|t| t.result == TransferResult::Ok).collect();
    let pending_amount: HashMap<TransferId, i64> =
        transfers.iter().filter(|t| t.kind == TransferKind::Pending).map(|t| (t.id, t.amount)).collect();
    let mut b = Balance::default();
    for t in transfers {
        let (pending, posted) = match t.kind {
            TransferKind::Single => (0, t.amount),
            TransferKind::Pending => (t.amount, 0),
            TransferKind::PostPending => (-*pending_amount.get(&t.pending_id?)?, t.amount),
            TransferKind::VoidPending | TransferKind::ExpirePending => (-*pending_amount.get(&t.pending_id?)?, 0),
        };
        if t.debit_account_id == account {
            b.debits_pending = b.debits_pending.checked_add(pending)?;
            b.debits_posted = b.debits_posted.checked_add(posted)?;
        }
        if t.credit_account_id == account {
            b.credits_pending = b.credits_pending.checked_add(pending)?;
            b.credits_posted = b.credits_posted.checked_add(posted)?;
        }
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::default_flags;
    use crate::ledger::model::{AccountKind, TransferResult as R};
    use proptest::prelude::*;
    use uuid::Uuid;

    const WALLET_A: AccountId = AccountId::from_uuid(Uuid::from_u128(1));
    const WALLET_B: AccountId = AccountId::from_uuid(Uuid::from_u128(2));
    const CLEARING: AccountId = AccountId::from_uuid(Uuid::from_u128(3));
    const REVENUE: AccountId = AccountId::from_uuid(Uuid::from_u128(4));

    fn account(id: AccountId, kind: AccountKind) -> Account {
        Account {
            id,
            owner: None,
            kind,
            currency: Currency::INR,
            flags: default_flags(kind),
            balance: Balance::default(),
            created_at: Timestamp::from_unix_micros(0).unwrap(),
        }
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
            code: if matches!(credit, WALLET_A | WALLET_B) { TransferCode::TopUp } else { TransferCode::Adjustment },
            reference: None,
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
            a.balance = a.balance.apply(delta).unwrap();
            assert!(a.balance.within(&a.flags), "flags broken on {id}");
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
        // Even after a top-up, the same id keeps its first answer.
        run(&mut s, &[t(12, CLEARING, WALLET_A, Some(5000), Phase::Single)], &ctx(2));
        assert_eq!(results(&decide(std::slice::from_ref(&spend), &s, &ctx(3))), [R::ExceedsCredits]);
        let mut other = spend;
        other.amount = Some(Decimal::new(100, 2));
        assert_eq!(results(&decide(&[other], &s, &ctx(3))), [R::ExistsWithDifferentAmount]);
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
        d.code = TransferCode::Fee;
        assert_eq!(results(&decide(&[d], &s, &ctx(1))), [R::ExistsWithDifferentCode]);
        let mut d = first;
        d.phase = Phase::Pending;
        assert_eq!(results(&decide(&[d], &s, &ctx(1))), [R::ExistsWithDifferentKind]);
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
        // A chain that applied answers `exists` for every member when retried.
        let mut x = t(5, CLEARING, WALLET_B, Some(100), Phase::Single);
        x.linked = true;
        let y = t(6, WALLET_B, REVENUE, Some(100), Phase::Single);
        let d = decide(&[x.clone(), y.clone()], &s, &ctx(3));
        assert_eq!(results(&d), [R::Ok, R::Ok]);
        commit(&mut s, &d);
        assert_eq!(results(&decide(&[x, y], &s, &ctx(4))), [R::Exists, R::Exists]);
    }

    #[test]
    fn shape_errors_are_specific() {
        let s = ledger();
        let cases = [
            (t(0, CLEARING, WALLET_A, Some(1), Phase::Single), R::IdMustNotBeZero),
            (t(1, WALLET_A, WALLET_A, Some(1), Phase::Single), R::AccountsMustBeDifferent),
            (t(2, CLEARING, WALLET_A, Some(0), Phase::Single), R::AmountMustBePositive),
            (t(3, CLEARING, WALLET_A, None, Phase::PostPending), R::PendingIdRequired),
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
        sneaky.code = TransferCode::Adjustment;
        assert_eq!(results(&decide(&[sneaky], &s, &ctx(0))), [R::WalletCreditNotAllowed]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Move { from: usize, to: usize, amount: i64, pending: bool, timeout: bool, linked: bool },
        Resolve { which: usize, post: bool, amount: Option<i64> },
        Retry { which: usize },
        Sweep,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..4, 0usize..4, 1i64..5000, any::<bool>(), any::<bool>(), prop::bool::weighted(0.2))
                .prop_map(|(from, to, amount, pending, timeout, linked)| Op::Move { from, to, amount, pending, timeout, linked }),
            2 => (any::<usize>(), any::<bool>(), prop::option::of(1i64..6000)).prop_map(|(which, post, amount)| Op::Resolve { which, post, amount }),
            1 => any::<usize>().prop_map(|which| Op::Retry { which }),
            1 => Just(Op::Sweep),
        ]
    }

    proptest! {
        /// Random batches against a simulated store: after every step money is conserved per currency,
        /// every account's flags hold, every cached balance equals the sum of its transfers, no id or
        /// pending resolution is recorded twice, and a retry never moves money.
        #[test]
        fn invariants_hold_after_every_step(ops in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..25)) {
            let accounts = [WALLET_A, WALLET_B, CLEARING, REVENUE];
            let mut s = ledger();
            let mut next_id = 100u128;
            let mut inputs: Vec<TransferInput> = Vec::new();
            let mut clock = 0i64;
            for batch_ops in ops {
                clock += 7;
                let mut batch = Vec::new();
                for o in batch_ops {
                    next_id += 1;
                    let id = TransferId::from_uuid(Uuid::from_u128(next_id));
                    match o {
                        Op::Move { from, to, amount, pending, timeout, linked } => {
                            let mut x = t(next_id, accounts[from], accounts[to], Some(amount), if pending { Phase::Pending } else { Phase::Single });
                            x.timeout_secs = if pending && timeout { 10 } else { 0 };
                            x.linked = linked;
                            batch.push(x);
                        }
                        Op::Resolve { which, post, amount } => {
                            let pendings: Vec<&Transfer> = s.transfers.values().filter(|t| t.kind == TransferKind::Pending && t.result == R::Ok).collect();
                            if pendings.is_empty() { continue; }
                            let p = pendings[which % pendings.len()];
                            let mut x = t(next_id, p.debit_account_id, p.credit_account_id, if post { amount } else { None }, if post { Phase::PostPending } else { Phase::VoidPending });
                            x.pending_id = Some(p.id);
                            x.id = id;
                            batch.push(x);
                        }
                        Op::Retry { which } => {
                            if inputs.is_empty() { continue; }
                            batch.push(inputs[which % inputs.len()].clone());
                        }
                        Op::Sweep => {
                            let now = ctx(clock).now;
                            let expired: Vec<Transfer> = s.transfers.values()
                                .filter(|t| t.kind == TransferKind::Pending && t.result == R::Ok && t.expires_at.is_some_and(|e| e <= now) && !s.resolved.contains_key(&t.id))
                                .cloned().collect();
                            let mut d = Decision::default();
                            for (k, p) in expired.iter().enumerate() {
                                let (rec, parts) = expiry_record(p, TransferId::from_uuid(Uuid::from_u128(1_000_000 + next_id * 100 + k as u128)), now);
                                d.records.push(rec);
                                for (a, part) in parts { add_delta(&mut d.deltas, a, part).unwrap(); }
                            }
                            commit(&mut s, &d);
                        }
                    }
                }
                if batch.is_empty() { continue; }
                let before: Vec<Balance> = accounts.iter().map(|a| s.accounts[a].balance).collect();
                let d = decide(&batch, &s, &ctx(clock));
                prop_assert_eq!(d.outcomes.len(), batch.len());
                let applied = d.outcomes.iter().any(|o| o.result == R::Ok);
                commit(&mut s, &d);
                if !applied {
                    let after: Vec<Balance> = accounts.iter().map(|a| s.accounts[a].balance).collect();
                    prop_assert_eq!(before, after, "no success, no movement");
                }
                inputs.extend(batch);
                let mut total = Balance::default();
                for a in accounts {
                    let acct = &s.accounts[&a];
                    prop_assert!(acct.balance.within(&acct.flags));
                    prop_assert_eq!(Some(acct.balance), balance_from_transfers(a, s.transfers.values()));
                    total = total.apply_signed(&acct.balance).unwrap();
                }
                prop_assert_eq!(total.debits_posted, total.credits_posted, "money is conserved");
                prop_assert_eq!(total.debits_pending, total.credits_pending);
            }
        }
    }
}
