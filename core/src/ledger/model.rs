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
        /// An account a caller created through `create_accounts` (TigerBeetle's accounts: client-chosen
        /// id, categorised by its `code`; no owner, read by staff).
        Ledger = "ledger",
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
    /// No transfer may touch the account (set by an administrator; a closing transfer closes an
    /// account through [`Account::closing_holds`] instead, so voiding it reopens).
    pub closed: bool,
    /// Keep the balance after every transfer (`get_account_balances`; TigerBeetle's
    /// `flags.history`).
    #[serde(default)]
    pub history: bool,
    /// Created linked with the next account of its `create_accounts` batch (TigerBeetle keeps the
    /// flag: a retry compares it, `exists_with_different_flags`).
    #[serde(default)]
    pub linked: bool,
    /// Created by an import, with the caller's timestamp (TigerBeetle's `flags.imported`).
    #[serde(default)]
    pub imported: bool,
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
    /// The caller's account type (TigerBeetle's `code`); 0 for the accounts hearth opens itself
    /// (wallets and system accounts, one per owner, kind and currency).
    #[serde(default)]
    pub code: u16,
    /// The caller's 128-bit reference (indexed).
    #[serde(default)]
    pub user_data_128: Option<uuid::Uuid>,
    /// The caller's 64-bit reference (0 = none; indexed).
    #[serde(default)]
    pub user_data_64: u64,
    /// The caller's 32-bit reference (0 = none).
    #[serde(default)]
    pub user_data_32: u32,
    /// Pending closing transfers holding the account closed (0 or 1): a counter, so closing and
    /// reopening are balance deltas like any other (voiding the closing hold subtracts it).
    #[serde(default)]
    pub closing_holds: i64,
    /// Balance history rows recorded for the account (accounts with `flags.history`): the next row's
    /// position is this + 1. Moved by the same delta as the totals, which for a history account
    /// also requires the totals and this count as the decision read them — so history rows form one
    /// sequence, each holding the balance after its transfer.
    #[serde(default)]
    pub history_len: i64,
}

impl Account {
    /// An account hearth opens itself (code 0, no user data), empty.
    pub fn managed(
        id: AccountId,
        owner: Option<UserId>,
        kind: AccountKind,
        currency: Currency,
        flags: AccountFlags,
        created_at: Timestamp,
    ) -> Self {
        Account {
            id,
            owner,
            kind,
            currency,
            flags,
            balance: Balance::default(),
            created_at,
            code: 0,
            user_data_128: None,
            user_data_64: 0,
            user_data_32: 0,
            closing_holds: 0,
            history_len: 0,
        }
    }
    /// Closed by an administrator or by a pending closing transfer.
    pub fn is_closed(&self) -> bool {
        self.flags.closed || self.closing_holds > 0
    }
}

/// The outcome of one transfer, in TigerBeetle's order of descending precedence
/// (`docs/reference/requests/create_transfers.md`: "Status codes are listed in this section in order
/// of descending precedence — that is, if more than one error is applicable to the transfer being
/// created, only the result listed first is returned."). hearth's own codes (marked) sit where their
/// rule is checked. `Ok` and `Exists` mean the transfer is in the ledger; every other code means it
/// is not. Only the transient codes ([`TransferResult::is_transient`]) pin the id: a retry of such
/// an id answers `id_already_failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum TransferResult {
    Ok,
    /// Another transfer of its linked chain failed.
    LinkedEventFailed,
    /// The batch ended inside an open linked chain.
    LinkedEventChainOpen,
    /// The batch's first transfer is imported, this one is not.
    ImportedEventExpected,
    /// The batch's first transfer is not imported, this one is.
    ImportedEventNotExpected,
    /// A timestamp on a transfer that is not imported (the ledger sets it).
    TimestampMustBeZero,
    /// An imported transfer without a timestamp after the Unix epoch.
    ImportedEventTimestampOutOfRange,
    /// An imported transfer's timestamp is not in the past.
    ImportedEventTimestampMustNotAdvance,
    IdMustNotBeZero,
    ExistsWithDifferentFlags,
    ExistsWithDifferentPendingId,
    ExistsWithDifferentTimeout,
    ExistsWithDifferentDebitAccountId,
    ExistsWithDifferentCreditAccountId,
    ExistsWithDifferentAmount,
    ExistsWithDifferentUserData128,
    ExistsWithDifferentUserData64,
    ExistsWithDifferentUserData32,
    /// hearth: the caller's free-text reference differs.
    ExistsWithDifferentReference,
    ExistsWithDifferentLedger,
    ExistsWithDifferentCode,
    /// Already applied with the same content: nothing changed.
    Exists,
    /// A previous transfer with this id failed with a transient (state-dependent) code.
    IdAlreadyFailed,
    FlagsAreMutuallyExclusive,
    DebitAccountIdMustNotBeZero,
    CreditAccountIdMustNotBeZero,
    AccountsMustBeDifferent,
    #[serde(alias = "pending_id_must_be_empty")]
    PendingIdMustBeZero,
    #[serde(alias = "pending_id_required")]
    PendingIdMustNotBeZero,
    PendingIdMustBeDifferent,
    TimeoutReservedForPendingTransfer,
    ClosingTransferMustBePending,
    /// hearth: amounts are > 0 (no zero-amount transfers; "all of the hold" is an absent amount).
    AmountMustBePositive,
    /// hearth: more decimals than the currency's minor unit.
    AmountTooPrecise,
    /// The transfer names no code.
    CodeMustNotBeZero,
    /// hearth: the reference is longer than `REFERENCE_MAX_CHARS`.
    ReferenceTooLong,
    /// hearth: top-ups enter only through a verified payment webhook.
    TopUpRequiresVerifiedPayment,
    /// hearth: refunds go through the refund path, which checks what was paid.
    RefundRequiresRefundPath,
    DebitAccountNotFound,
    CreditAccountNotFound,
    #[serde(alias = "accounts_must_have_the_same_currency")]
    AccountsMustHaveTheSameLedger,
    #[serde(alias = "transfer_currency_must_match_accounts")]
    TransferMustHaveTheSameLedgerAsAccounts,
    /// hearth: a wallet is credited only by a verified top-up or a refund.
    WalletCreditNotAllowed,
    PendingTransferNotFound,
    PendingTransferNotPending,
    PendingTransferHasDifferentDebitAccountId,
    PendingTransferHasDifferentCreditAccountId,
    PendingTransferHasDifferentLedger,
    PendingTransferHasDifferentCode,
    ExceedsPendingTransferAmount,
    PendingTransferHasDifferentAmount,
    PendingTransferAlreadyPosted,
    PendingTransferAlreadyVoided,
    PendingTransferExpired,
    /// An imported transfer's timestamp is not after the last transfer's.
    ImportedEventTimestampMustNotRegress,
    ImportedEventTimestampMustPostdateDebitAccount,
    ImportedEventTimestampMustPostdateCreditAccount,
    /// An imported pending transfer with a timeout (nothing would expire it on the ledger's clock).
    ImportedEventTimeoutMustBeZero,
    #[serde(alias = "debit_account_closed")]
    DebitAccountAlreadyClosed,
    #[serde(alias = "credit_account_closed")]
    CreditAccountAlreadyClosed,
    /// hearth: reconciliation froze the debit account.
    DebitAccountFrozen,
    /// hearth: reconciliation froze the credit account.
    CreditAccountFrozen,
    OverflowsDebitsPending,
    OverflowsCreditsPending,
    OverflowsDebitsPosted,
    OverflowsCreditsPosted,
    #[serde(alias = "overflows_balance")]
    OverflowsDebits,
    OverflowsCredits,
    OverflowsTimeout,
    ExceedsCredits,
    ExceedsDebits,
}

impl TransferResult {
    /// Every code, in order of precedence (the conformance scenario table checks each is reached).
    pub const ALL: &'static [TransferResult] = &[
        TransferResult::Ok,
        TransferResult::LinkedEventFailed,
        TransferResult::LinkedEventChainOpen,
        TransferResult::ImportedEventExpected,
        TransferResult::ImportedEventNotExpected,
        TransferResult::TimestampMustBeZero,
        TransferResult::ImportedEventTimestampOutOfRange,
        TransferResult::ImportedEventTimestampMustNotAdvance,
        TransferResult::IdMustNotBeZero,
        TransferResult::ExistsWithDifferentFlags,
        TransferResult::ExistsWithDifferentPendingId,
        TransferResult::ExistsWithDifferentTimeout,
        TransferResult::ExistsWithDifferentDebitAccountId,
        TransferResult::ExistsWithDifferentCreditAccountId,
        TransferResult::ExistsWithDifferentAmount,
        TransferResult::ExistsWithDifferentUserData128,
        TransferResult::ExistsWithDifferentUserData64,
        TransferResult::ExistsWithDifferentUserData32,
        TransferResult::ExistsWithDifferentReference,
        TransferResult::ExistsWithDifferentLedger,
        TransferResult::ExistsWithDifferentCode,
        TransferResult::Exists,
        TransferResult::IdAlreadyFailed,
        TransferResult::FlagsAreMutuallyExclusive,
        TransferResult::DebitAccountIdMustNotBeZero,
        TransferResult::CreditAccountIdMustNotBeZero,
        TransferResult::AccountsMustBeDifferent,
        TransferResult::PendingIdMustBeZero,
        TransferResult::PendingIdMustNotBeZero,
        TransferResult::PendingIdMustBeDifferent,
        TransferResult::TimeoutReservedForPendingTransfer,
        TransferResult::ClosingTransferMustBePending,
        TransferResult::AmountMustBePositive,
        TransferResult::AmountTooPrecise,
        TransferResult::CodeMustNotBeZero,
        TransferResult::ReferenceTooLong,
        TransferResult::TopUpRequiresVerifiedPayment,
        TransferResult::RefundRequiresRefundPath,
        TransferResult::DebitAccountNotFound,
        TransferResult::CreditAccountNotFound,
        TransferResult::AccountsMustHaveTheSameLedger,
        TransferResult::TransferMustHaveTheSameLedgerAsAccounts,
        TransferResult::WalletCreditNotAllowed,
        TransferResult::PendingTransferNotFound,
        TransferResult::PendingTransferNotPending,
        TransferResult::PendingTransferHasDifferentDebitAccountId,
        TransferResult::PendingTransferHasDifferentCreditAccountId,
        TransferResult::PendingTransferHasDifferentLedger,
        TransferResult::PendingTransferHasDifferentCode,
        TransferResult::ExceedsPendingTransferAmount,
        TransferResult::PendingTransferHasDifferentAmount,
        TransferResult::PendingTransferAlreadyPosted,
        TransferResult::PendingTransferAlreadyVoided,
        TransferResult::PendingTransferExpired,
        TransferResult::ImportedEventTimestampMustNotRegress,
        TransferResult::ImportedEventTimestampMustPostdateDebitAccount,
        TransferResult::ImportedEventTimestampMustPostdateCreditAccount,
        TransferResult::ImportedEventTimeoutMustBeZero,
        TransferResult::DebitAccountAlreadyClosed,
        TransferResult::CreditAccountAlreadyClosed,
        TransferResult::DebitAccountFrozen,
        TransferResult::CreditAccountFrozen,
        TransferResult::OverflowsDebitsPending,
        TransferResult::OverflowsCreditsPending,
        TransferResult::OverflowsDebitsPosted,
        TransferResult::OverflowsCreditsPosted,
        TransferResult::OverflowsDebits,
        TransferResult::OverflowsCredits,
        TransferResult::OverflowsTimeout,
        TransferResult::ExceedsCredits,
        TransferResult::ExceedsDebits,
    ];
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
    /// True for the failures that depend on the ledger's state at that moment (and are recorded, so
    /// the id keeps failing: `id_already_failed`). TigerBeetle
    /// (`docs/reference/requests/create_transfers.md`, `id_already_failed`): "Transient errors depend
    /// on the database state at a given point in time, and each attempt is uniquely associated with
    /// the corresponding Transfer.id." hearth adds its `frozen` codes (reconciliation's state).
    pub fn is_transient(self) -> bool {
        use TransferResult::*;
        matches!(
            self,
            DebitAccountNotFound
                | CreditAccountNotFound
                | PendingTransferNotFound
                | ExceedsCredits
                | ExceedsDebits
                | DebitAccountAlreadyClosed
                | CreditAccountAlreadyClosed
                | DebitAccountFrozen
                | CreditAccountFrozen
        )
    }
}

impl fmt::Display for TransferResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// The flags of a transfer beyond its phase and `linked` (TigerBeetle's `Transfer.flags`; stored
/// as one integer with TigerBeetle's bit values, see [`TransferFlags::bits`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct TransferFlags {
    /// Move at most what the debit account has available (`credits_posted - debits_posted -
    /// debits_pending`); `amount` is the upper limit.
    pub balancing_debit: bool,
    /// Move at most what the credit account may still take (`debits_posted - credits_posted -
    /// credits_pending`); `amount` is the upper limit.
    pub balancing_credit: bool,
    /// Close the debit account (pending only; voiding the hold reopens it).
    pub closing_debit: bool,
    /// Close the credit account (pending only; voiding the hold reopens it).
    pub closing_credit: bool,
    /// Imported with the caller's `timestamp` (TigerBeetle's `flags.imported`, bit `1 << 8`; kept in
    /// its own column, so not part of [`TransferFlags::bits`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
}

impl TransferFlags {
    const BALANCING_DEBIT: i64 = 1 << 4;
    const BALANCING_CREDIT: i64 = 1 << 5;
    const CLOSING_DEBIT: i64 = 1 << 6;
    const CLOSING_CREDIT: i64 = 1 << 7;
    /// TigerBeetle's bit values (`balancing_debit = 1 << 4` … `closing_credit = 1 << 7`).
    pub fn bits(self) -> i64 {
        [
            (self.balancing_debit, Self::BALANCING_DEBIT),
            (self.balancing_credit, Self::BALANCING_CREDIT),
            (self.closing_debit, Self::CLOSING_DEBIT),
            (self.closing_credit, Self::CLOSING_CREDIT),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, b)| b)
        .sum()
    }
    /// The flags of `bits` (not imported); `None` when an unknown bit is set.
    pub fn from_bits(bits: i64) -> Option<Self> {
        let all = Self::BALANCING_DEBIT | Self::BALANCING_CREDIT | Self::CLOSING_DEBIT | Self::CLOSING_CREDIT;
        (bits & !all == 0).then_some(Self {
            balancing_debit: bits & Self::BALANCING_DEBIT != 0,
            balancing_credit: bits & Self::BALANCING_CREDIT != 0,
            closing_debit: bits & Self::CLOSING_DEBIT != 0,
            closing_credit: bits & Self::CLOSING_CREDIT != 0,
            imported: false,
        })
    }
    /// True when a balancing or closing flag is set (`imported` goes with any phase).
    pub fn any(self) -> bool {
        self.bits() != 0
    }
    /// Balancing on either side.
    pub fn balancing(self) -> bool {
        self.balancing_debit || self.balancing_credit
    }
    /// Closing on either side.
    pub fn closing(self) -> bool {
        self.closing_debit || self.closing_credit
    }
}

/// A transfer as recorded: immutable. Failed attempts with a transient code are recorded too (with
/// their `result`), so the id answers `id_already_failed` ever after; only `result = ok` transfers
/// move money.
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
    /// Balancing and closing flags.
    pub flags: TransferFlags,
    /// The caller's 128-bit reference (TigerBeetle's `user_data_128`; indexed).
    pub user_data_128: Option<uuid::Uuid>,
    /// The caller's 64-bit reference (`user_data_64`, 0 = none; indexed).
    pub user_data_64: u64,
    /// The caller's 32-bit reference (`user_data_32`, 0 = none).
    pub user_data_32: u32,
    /// Outcome of the first attempt.
    pub result: TransferResult,
    /// Who asked: a user id or `system`.
    pub actor: String,
    /// When recorded.
    pub created_at: Timestamp,
}

/// The outcome of creating one account, in TigerBeetle's order of descending precedence
/// (`docs/reference/requests/create_accounts.md`: "Status codes are listed in this section in order
/// of descending precedence"). TigerBeetle's codes for fields hearth's accounts do not have
/// (`reserved_field`, `reserved_flag`, `id_must_not_be_int_max`, `*_must_be_zero` balances) are not
/// here: no input can carry them. `Ok` and `Exists` mean the account is in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum AccountResult {
    Ok,
    /// Another account of its linked chain failed.
    LinkedEventFailed,
    /// The batch ended inside an open linked chain.
    LinkedEventChainOpen,
    /// The batch's first account is imported, this one is not.
    ImportedEventExpected,
    /// The batch's first account is not imported, this one is.
    ImportedEventNotExpected,
    /// A timestamp on an account that is not imported.
    TimestampMustBeZero,
    /// An imported account without a timestamp after the Unix epoch.
    ImportedEventTimestampOutOfRange,
    /// An imported account's timestamp is not in the past.
    ImportedEventTimestampMustNotAdvance,
    IdMustNotBeZero,
    ExistsWithDifferentFlags,
    ExistsWithDifferentUserData128,
    ExistsWithDifferentUserData64,
    ExistsWithDifferentUserData32,
    ExistsWithDifferentLedger,
    ExistsWithDifferentCode,
    /// Already created with the same fields: nothing changed.
    Exists,
    FlagsAreMutuallyExclusive,
    LedgerMustNotBeZero,
    CodeMustNotBeZero,
    /// An imported account's timestamp is not after the last account's.
    ImportedEventTimestampMustNotRegress,
}

impl AccountResult {
    /// Every code, in order of precedence (the scenario table checks each is reached).
    pub const ALL: &'static [AccountResult] = &[
        AccountResult::Ok,
        AccountResult::LinkedEventFailed,
        AccountResult::LinkedEventChainOpen,
        AccountResult::ImportedEventExpected,
        AccountResult::ImportedEventNotExpected,
        AccountResult::TimestampMustBeZero,
        AccountResult::ImportedEventTimestampOutOfRange,
        AccountResult::ImportedEventTimestampMustNotAdvance,
        AccountResult::IdMustNotBeZero,
        AccountResult::ExistsWithDifferentFlags,
        AccountResult::ExistsWithDifferentUserData128,
        AccountResult::ExistsWithDifferentUserData64,
        AccountResult::ExistsWithDifferentUserData32,
        AccountResult::ExistsWithDifferentLedger,
        AccountResult::ExistsWithDifferentCode,
        AccountResult::Exists,
        AccountResult::FlagsAreMutuallyExclusive,
        AccountResult::LedgerMustNotBeZero,
        AccountResult::CodeMustNotBeZero,
        AccountResult::ImportedEventTimestampMustNotRegress,
    ];
    /// The wire name (`exists_with_different_code`).
    pub fn as_str(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
    /// True when the account is (now, or already) in the ledger.
    pub fn is_applied(self) -> bool {
        matches!(self, AccountResult::Ok | AccountResult::Exists)
    }
}

impl fmt::Display for AccountResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// An account's balance after one transfer that moved it (TigerBeetle's `AccountBalance`), kept for
/// accounts with `flags.history`, written in the transfer's commit. Immutable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoricalBalance {
    /// The account.
    pub account_id: AccountId,
    /// 1, 2, 3, … per account, in the order the transfers applied (`Account::history_len` after).
    pub position: i64,
    /// The transfer that moved it (its timestamp is this row's).
    pub transfer_id: TransferId,
    /// The account was the transfer's debit account (else its credit account).
    pub debit: bool,
    /// The transfer's code (`AccountFilter.code` filters on it).
    pub code: TransferCode,
    /// The transfer's 128-bit user data.
    pub user_data_128: Option<uuid::Uuid>,
    /// The transfer's 64-bit user data (0 = none).
    pub user_data_64: u64,
    /// The transfer's 32-bit user data (0 = none).
    pub user_data_32: u32,
    /// The account's totals after the transfer.
    pub balance: Balance,
    /// The transfer's timestamp.
    pub timestamp: Timestamp,
}

impl HistoricalBalance {
    /// The row's key: derived from the account and the position (so two commits writing one
    /// position collide on the key as well as on the unique position).
    pub fn key(&self) -> uuid::Uuid {
        let mut name = [0u8; 24];
        name[..16].copy_from_slice(self.account_id.as_uuid().as_bytes());
        name[16..].copy_from_slice(&self.position.to_be_bytes());
        uuid::Uuid::new_v5(&BALANCE_NAMESPACE, &name)
    }
}

/// The namespace of balance history keys.
const BALANCE_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6b1d_3f8e_2c4a_4e0b_9f57_0d7c_1a2b_3c4d);

/// Which import cursor: accounts and transfers each keep their own timestamps increasing
/// (TigerBeetle: an imported account must postdate the last account, a transfer the last transfer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStream {
    /// Imported accounts.
    Accounts,
    /// Imported transfers.
    Transfers,
}

impl ImportStream {
    /// The cursor row's key.
    pub fn key(self) -> uuid::Uuid {
        match self {
            ImportStream::Accounts => uuid::Uuid::from_u128(1),
            ImportStream::Transfers => uuid::Uuid::from_u128(2),
        }
    }
}

/// The newest imported timestamp of a stream: the serialisation point of imports (each import batch
/// advances it with a versioned write, so two racing imports cannot both pass "must not regress").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCursor {
    /// Which stream.
    pub stream: ImportStream,
    /// The newest timestamp imported.
    pub last: Timestamp,
}
