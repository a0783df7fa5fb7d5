//! Ledger values: accounts with flags and balances, immutable transfers and their result codes.
//!
//! Modelled on TigerBeetle: balanced double-entry transfers, overdraft flags that count pending
//! amounts, two-phase (pending → post | void | expiry) transfers, linked chains, and precise
//! idempotency results. Amounts are integers of the currency's minor unit (cents), always > 0.

use crate::id::UserId;
use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::id::{AccountId, TransferId};

crate::homeheroes::model::wire_enum!(
    /// What an account is for.
    AccountKind {
        /// A user's wallet: credits are money the user holds.
        Wallet = "wallet",
        /// Money received from a payment gateway, not yet settled.
        GatewayClearing = "gateway_clearing",
        /// Canteen sales.
        CanteenRevenue = "canteen_revenue",
        /// Money paid back to users.
        Refunds = "refunds",
        /// Fees the platform earns.
        Fees = "fees",
    }
);

crate::homeheroes::model::wire_enum!(
    /// Why money moved.
    TransferCode {
        /// A wallet top-up from a verified payment.
        TopUp = "top_up",
        /// A purchase paid from a wallet.
        Purchase = "purchase",
        /// A refund of an earlier transfer.
        Refund = "refund",
        /// A fee.
        Fee = "fee",
        /// A hold on funds (two-phase).
        Hold = "hold",
        /// An internal adjustment between system accounts.
        Adjustment = "adjustment",
    }
);

crate::homeheroes::model::wire_enum!(
    /// The phase a transfer record plays.
    TransferKind {
        /// Moves posted money at once.
        Single = "single",
        /// Reserves money (counts as pending) until posted, voided or expired.
        Pending = "pending",
        /// Posts (part of) a pending transfer; the rest is released.
        PostPending = "post_pending",
        /// Releases a pending transfer.
        VoidPending = "void_pending",
        /// Releases a pending transfer whose timeout passed (written by the expiry sweep).
        ExpirePending = "expire_pending",
    }
);

/// Rules an account enforces on every transfer, and its state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFlags {
    /// `debits_posted + debits_pending <= credits_posted`: a wallet can never go negative.
    pub debits_must_not_exceed_credits: bool,
    /// `credits_posted + credits_pending <= debits_posted`.
    pub credits_must_not_exceed_debits: bool,
    /// No transfer may touch the account (set by reconciliation on a mismatch).
    pub frozen: bool,
    /// No transfer may touch the account ever again.
    pub closed: bool,
}

/// An account's four running totals, in minor units.
///
/// INVARIANT (balance-sums): each total equals the sum over the account's successful transfers
/// (checked by reconciliation); INVARIANT (flags): the flags' inequalities hold after every commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Reserved by pending transfers debiting the account.
    pub debits_pending: i64,
    /// Posted debits.
    pub debits_posted: i64,
    /// Reserved by pending transfers crediting the account.
    pub credits_pending: i64,
    /// Posted credits.
    pub credits_posted: i64,
}

impl Balance {
    /// For credit-normal accounts (wallets): `credits_posted - debits_posted - debits_pending`, what
    /// may still be spent. `None` on overflow.
    pub fn available(&self) -> Option<i64> {
        self.credits_posted.checked_sub(self.debits_posted)?.checked_sub(self.debits_pending)
    }
    /// `credits_posted - debits_posted`. `None` on overflow.
    pub fn posted_net(&self) -> Option<i64> {
        self.credits_posted.checked_sub(self.debits_posted)
    }
    /// Applies a delta, or `None` on overflow or a negative total.
    pub fn apply(&self, d: &Balance) -> Option<Balance> {
        let add = |a: i64, b: i64| a.checked_add(b).filter(|v| *v >= 0);
        Some(Balance {
            debits_pending: add(self.debits_pending, d.debits_pending)?,
            debits_posted: add(self.debits_posted, d.debits_posted)?,
            credits_pending: add(self.credits_pending, d.credits_pending)?,
            credits_posted: add(self.credits_posted, d.credits_posted)?,
        })
    }
    /// True when `flags`' inequalities hold.
    pub fn within(&self, flags: &AccountFlags) -> bool {
        let debits_ok = !flags.debits_must_not_exceed_credits
            || self.debits_posted.checked_add(self.debits_pending).is_some_and(|d| d <= self.credits_posted);
        let credits_ok = !flags.credits_must_not_exceed_debits
            || self.credits_posted.checked_add(self.credits_pending).is_some_and(|c| c <= self.debits_posted);
        debits_ok && credits_ok
    }
}

/// A ledger account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// The owning user, for wallets; `None` for system accounts.
    pub owner: Option<UserId>,
    /// Purpose.
    pub kind: AccountKind,
    /// The one currency it holds.
    pub currency: Currency,
    /// Rules and state.
    pub flags: AccountFlags,
    /// Cached totals, updated in the same commit as every transfer.
    pub balance: Balance,
    /// When created.
    pub created_at: Timestamp,
}

/// The outcome of one transfer. `Ok` and `Exists` mean the transfer is in the ledger; every other
/// code means it is not, and the same id will keep failing with the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum TransferResult {
    Ok,
    /// Another transfer of its linked chain failed.
    LinkedEventFailed,
    /// The batch ended inside an open linked chain.
    LinkedEventChainOpen,
    /// Already applied with the same content: nothing changed.
    Exists,
    ExistsWithDifferentKind,
    ExistsWithDifferentPendingId,
    ExistsWithDifferentTimeout,
    ExistsWithDifferentDebitAccountId,
    ExistsWithDifferentCreditAccountId,
    ExistsWithDifferentAmount,
    ExistsWithDifferentCurrency,
    ExistsWithDifferentCode,
    ExistsWithDifferentReference,
    IdMustNotBeZero,
    AccountsMustBeDifferent,
    AmountMustBePositive,
    AmountTooPrecise,
    ReferenceTooLong,
    DebitAccountNotFound,
    CreditAccountNotFound,
    AccountsMustHaveTheSameCurrency,
    TransferCurrencyMustMatchAccounts,
    DebitAccountFrozen,
    CreditAccountFrozen,
    DebitAccountClosed,
    CreditAccountClosed,
    ExceedsCredits,
    ExceedsDebits,
    OverflowsBalance,
    TimeoutReservedForPendingTransfer,
    TimeoutRequiredForPendingTransfer,
    PendingIdRequired,
    PendingIdMustBeEmpty,
    PendingIdMustBeDifferent,
    PendingTransferNotFound,
    PendingTransferNotPending,
    PendingTransferHasDifferentDebitAccountId,
    PendingTransferHasDifferentCreditAccountId,
    ExceedsPendingTransferAmount,
    PendingTransferAlreadyPosted,
    PendingTransferAlreadyVoided,
    PendingTransferExpired,
    /// Top-ups enter only through a verified payment webhook.
    TopUpRequiresVerifiedPayment,
    /// Refunds go through the refund path, which checks what was paid.
    RefundRequiresRefundPath,
    /// A wallet is credited only by a verified top-up or a refund.
    WalletCreditNotAllowed,
}

impl TransferResult {
    /// The wire name (`exceeds_credits`).
    pub fn as_str(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
    /// True when the transfer is (now, or already) in the ledger.
    pub fn is_applied(self) -> bool {
        matches!(self, TransferResult::Ok | TransferResult::Exists)
    }
}

impl fmt::Display for TransferResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// A transfer as recorded: immutable. Failed attempts are recorded too (with their `result`), so an
/// id that failed keeps failing the same way; only `result = ok` transfers move money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Client-chosen id.
    pub id: TransferId,
    /// Debited account.
    pub debit_account_id: AccountId,
    /// Credited account.
    pub credit_account_id: AccountId,
    /// Minor units; for post-pending, what was posted; for void/expire, what was released.
    pub amount: i64,
    /// Currency.
    pub currency: Currency,
    /// Phase.
    pub kind: TransferKind,
    /// The pending transfer a post/void/expire resolves.
    pub pending_id: Option<TransferId>,
    /// Seconds a pending transfer may wait (0 = no expiry).
    pub timeout_secs: u32,
    /// When a pending transfer expires.
    pub expires_at: Option<Timestamp>,
    /// Part of a linked chain with the next transfer of its batch.
    pub linked: bool,
    /// Why.
    pub code: TransferCode,
    /// What it refers to (payment intent, order, refunded transfer).
    pub reference: Option<String>,
    /// Outcome of the first attempt.
    pub result: TransferResult,
    /// Who asked: a user id or `system`.
    pub actor: String,
    /// When recorded.
    pub created_at: Timestamp,
}
