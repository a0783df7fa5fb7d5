//! `create_accounts`, pure: decides a batch of accounts against the ones that exist, as TigerBeetle
//! does (`docs/reference/requests/create_accounts.md`, `src/state_machine.zig`, `execute_create` and
//! `create_account`).
//!
//! Accounts are judged in order; each sees the ones created before it in the batch. A linked chain
//! (each account but the last has `flags.linked`) is created all or nothing: the first failure
//! reports its own code (an `exists` too — TigerBeetle's `state_machine_tests.zig`, "linked
//! accounts": "Fail with .exists."), the chain's other accounts `linked_event_failed`, and an open
//! chain's last account `linked_event_chain_open`. The first account decides whether the batch is an
//! import (`flags.imported`, with caller timestamps).

use super::model::{Account, AccountFlags, AccountId, AccountKind, AccountResult};
use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// Most accounts in one batch.
pub const BATCH_ACCOUNTS_MAX: usize = 8_190;

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// The flags an account is created with (TigerBeetle's `Account.flags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountInputFlags {
    /// Linked with the next account of the batch: created together or not at all.
    pub linked: bool,
    /// `debits_pending + debits_posted + amount <= credits_posted` on every transfer.
    pub debits_must_not_exceed_credits: bool,
    /// `credits_pending + credits_posted + amount <= debits_posted` on every transfer.
    pub credits_must_not_exceed_debits: bool,
    /// Keep the balance after every transfer (`get_account_balances`).
    pub history: bool,
    /// Imported: created at the caller's `timestamp`.
    pub imported: bool,
    /// Created closed: it takes no transfer (TigerBeetle: "This flag can be set during the account
    /// creation.").
    pub closed: bool,
}

/// An account as a caller asks for it (TigerBeetle's `Account` at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInput {
    /// Client-chosen id (not nil).
    pub id: AccountId,
    /// The currency (TigerBeetle's `ledger`): accounts transact only within one. Absent is
    /// `ledger_must_not_be_zero`.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// The caller's account category (not 0: 0 marks the accounts hearth opens itself).
    #[serde(default)]
    pub code: u16,
    /// Flags.
    #[serde(default, skip_serializing_if = "is_default")]
    pub flags: AccountInputFlags,
    /// The caller's 128-bit reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data_128: Option<Uuid>,
    /// The caller's 64-bit reference (0 = none).
    #[serde(default, skip_serializing_if = "is_default")]
    pub user_data_64: u64,
    /// The caller's 32-bit reference (0 = none).
    #[serde(default, skip_serializing_if = "is_default")]
    pub user_data_32: u32,
    /// When it was created, for an imported account only (the ledger sets it otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
}

/// One account's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOutcome {
    /// The account.
    pub id: AccountId,
    /// What happened.
    pub result: AccountResult,
}

/// What the decision reads.
#[derive(Debug, Clone, Default)]
pub struct AccountsSnapshot {
    /// The accounts with the batch's ids that exist.
    pub existing: HashMap<AccountId, Account>,
    /// For an import: the newest account timestamp (imported or not); imports must be after it.
    pub import_floor: Option<Timestamp>,
}

/// The decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountsDecision {
    /// One per input, in order.
    pub outcomes: Vec<AccountOutcome>,
    /// The accounts to insert, in order.
    pub created: Vec<Account>,
    /// The newest imported timestamp created (advances the accounts' import cursor).
    pub imported_last: Option<Timestamp>,
}

/// Why an imported event's timestamp is refused before anything else is looked at, or `None`
/// (`execute_create`'s batch-level checks, shared by accounts and transfers).
pub(crate) enum EventCheck {
    /// The first event is imported, this one is not.
    Expected,
    /// The first event is not imported, this one is.
    NotExpected,
    /// A timestamp on an event that is not imported.
    TimestampMustBeZero,
    /// An imported event without a timestamp after the Unix epoch.
    OutOfRange,
    /// An imported event's timestamp is not before `now`.
    MustNotAdvance,
}

/// The batch-level import checks of one event, in TigerBeetle's order.
pub(crate) fn check_event(
    batch_imported: bool,
    imported: bool,
    timestamp: Option<Timestamp>,
    now: Timestamp,
) -> Option<EventCheck> {
    if batch_imported != imported {
        return Some(if imported { EventCheck::NotExpected } else { EventCheck::Expected });
    }
    match (imported, timestamp) {
        (false, Some(_)) => Some(EventCheck::TimestampMustBeZero),
        (false, None) => None,
        // account.md, `timestamp`: "Must be greater than 0 and less than 2^63 when the Account is
        // created with flags.imported set" — hearth's 0 is the Unix epoch.
        (true, None) => Some(EventCheck::OutOfRange),
        (true, Some(t)) if t.unix_micros() <= 0 => Some(EventCheck::OutOfRange),
        (true, Some(t)) if t >= now => Some(EventCheck::MustNotAdvance),
        (true, Some(_)) => None,
    }
}

/// Compares a retry with the account that exists, in `create_account_exists`'s order.
fn compare_existing(a: &AccountInput, e: &Account) -> AccountResult {
    use AccountResult::*;
    let f = &e.flags;
    // TigerBeetle compares every flag bit, and a closing transfer sets the stored `closed` bit.
    let same_flags = a.flags.linked == f.linked
        && a.flags.debits_must_not_exceed_credits == f.debits_must_not_exceed_credits
        && a.flags.credits_must_not_exceed_debits == f.credits_must_not_exceed_debits
        && a.flags.history == f.history
        && a.flags.imported == f.imported
        && a.flags.closed == e.is_closed();
    if !same_flags {
        return ExistsWithDifferentFlags;
    }
    if a.user_data_128 != e.user_data_128 {
        return ExistsWithDifferentUserData128;
    }
    if a.user_data_64 != e.user_data_64 {
        return ExistsWithDifferentUserData64;
    }
    if a.user_data_32 != e.user_data_32 {
        return ExistsWithDifferentUserData32;
    }
    if a.currency != Some(e.currency) {
        return ExistsWithDifferentLedger;
    }
    if a.code != e.code {
        return ExistsWithDifferentCode;
    }
    Exists
}

/// The working state of a batch.
struct Work<'a> {
    snap: &'a AccountsSnapshot,
    created: Vec<Account>,
    floor: Option<Timestamp>,
    now: Timestamp,
}

impl Work<'_> {
    fn find(&self, id: AccountId) -> Option<&Account> {
        self.created.iter().rev().find(|a| a.id == id).or_else(|| self.snap.existing.get(&id))
    }

    /// `create_account`: one account, after the batch-level checks.
    fn create(&mut self, a: &AccountInput) -> AccountResult {
        use AccountResult::*;
        if a.id.as_uuid().is_nil() {
            return IdMustNotBeZero;
        }
        if let Some(e) = self.find(a.id) {
            return compare_existing(a, e);
        }
        if a.flags.debits_must_not_exceed_credits && a.flags.credits_must_not_exceed_debits {
            return FlagsAreMutuallyExclusive;
        }
        let Some(currency) = a.currency else { return LedgerMustNotBeZero };
        if a.code == 0 {
            return CodeMustNotBeZero;
        }
        let created_at = match (a.flags.imported, a.timestamp) {
            (true, Some(ts)) => {
                // "This validation must be called _after_ the idempotency checks so the user can
                // still handle `exists` results when importing." (state_machine.zig)
                if self.floor.is_some_and(|f| ts <= f) {
                    return ImportedEventTimestampMustNotRegress;
                }
                self.floor = Some(ts);
                ts
            }
            _ => self.now,
        };
        self.created.push(Account {
            flags: AccountFlags {
                debits_must_not_exceed_credits: a.flags.debits_must_not_exceed_credits,
                credits_must_not_exceed_debits: a.flags.credits_must_not_exceed_debits,
                frozen: false,
                closed: a.flags.closed,
                history: a.flags.history,
                linked: a.flags.linked,
                imported: a.flags.imported,
            },
            code: a.code,
            user_data_128: a.user_data_128,
            user_data_64: a.user_data_64,
            user_data_32: a.user_data_32,
            ..Account::managed(a.id, None, AccountKind::Ledger, currency, AccountFlags::default(), created_at)
        });
        Ok
    }
}

/// Decides a batch of accounts against `snap` at `now`.
pub fn decide_accounts(batch: &[AccountInput], snap: &AccountsSnapshot, now: Timestamp) -> AccountsDecision {
    use AccountResult::*;
    let batch_imported = batch.first().is_some_and(|a| a.flags.imported);
    let mut w = Work { snap, created: Vec::new(), floor: snap.import_floor, now };
    let mut outcomes: Vec<AccountOutcome> = Vec::with_capacity(batch.len());
    // The chain's first index, and the state to restore if it breaks.
    let mut chain: Option<(usize, usize, Option<Timestamp>)> = None;
    let mut chain_broken = false;
    for (i, a) in batch.iter().enumerate() {
        let result = 'result: {
            if a.flags.linked {
                if chain.is_none() {
                    chain = Some((i, w.created.len(), w.floor));
                }
                if i + 1 == batch.len() {
                    break 'result LinkedEventChainOpen;
                }
            }
            if chain_broken {
                break 'result LinkedEventFailed;
            }
            match check_event(batch_imported, a.flags.imported, a.timestamp, now) {
                Some(EventCheck::Expected) => break 'result ImportedEventExpected,
                Some(EventCheck::NotExpected) => break 'result ImportedEventNotExpected,
                Some(EventCheck::TimestampMustBeZero) => break 'result TimestampMustBeZero,
                Some(EventCheck::OutOfRange) => break 'result ImportedEventTimestampOutOfRange,
                Some(EventCheck::MustNotAdvance) => break 'result ImportedEventTimestampMustNotAdvance,
                None => {}
            }
            w.create(a)
        };
        if result != Ok {
            if let Some((start, created, floor)) = chain {
                if !chain_broken {
                    chain_broken = true;
                    w.created.truncate(created);
                    w.floor = floor;
                    for o in &mut outcomes[start..i] {
                        o.result = LinkedEventFailed;
                    }
                }
            }
        }
        outcomes.push(AccountOutcome { id: a.id, result });
        if chain.is_some() && (!a.flags.linked || result == LinkedEventChainOpen) {
            chain = None;
            chain_broken = false;
        }
    }
    let imported_last = if batch_imported { w.created.iter().map(|a| a.created_at).max() } else { None };
    AccountsDecision { outcomes, created: w.created, imported_last }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountResult as R;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_micros(secs * 1_000_000).unwrap()
    }

    fn input(id: u128) -> AccountInput {
        AccountInput {
            id: AccountId::from_uuid(Uuid::from_u128(id)),
            currency: Some(Currency::INR),
            code: 1,
            flags: AccountInputFlags::default(),
            user_data_128: None,
            user_data_64: 0,
            user_data_32: 0,
            timestamp: None,
        }
    }

    fn linked(mut a: AccountInput) -> AccountInput {
        a.flags.linked = true;
        a
    }

    fn results(d: &AccountsDecision) -> Vec<R> {
        d.outcomes.iter().map(|o| o.result).collect()
    }

    /// TigerBeetle's `state_machine_tests.zig`, test "linked accounts", row by row.
    #[test]
    fn linked_chains_as_tigerbeetle_tests_them() {
        let snap = AccountsSnapshot::default();
        let mut a1_other_code = linked(input(1));
        a1_other_code.code = 2;
        let mut a1_other_ledger = input(1);
        a1_other_ledger.currency = Some(Currency::USD);
        let batch = vec![
            input(7),
            linked(input(1)),
            linked(input(2)),
            linked(input(1)), // "Fail with .exists."
            input(3),
            input(1),
            a1_other_code,
            input(2),
            input(2),
            linked(input(3)),
            a1_other_ledger,
            linked(input(3)),
            input(4),
        ];
        let d = decide_accounts(&batch, &snap, at(100));
        assert_eq!(
            results(&d),
            [
                R::Ok,
                R::LinkedEventFailed,
                R::LinkedEventFailed,
                R::Exists,
                R::LinkedEventFailed,
                R::Ok,
                R::ExistsWithDifferentFlags,
                R::LinkedEventFailed,
                R::Ok,
                R::LinkedEventFailed,
                R::ExistsWithDifferentLedger,
                R::Ok,
                R::Ok,
            ]
        );
        let ids: Vec<u128> = d.created.iter().map(|a| a.id.as_uuid().as_u128()).collect();
        assert_eq!(ids, [7, 1, 2, 3, 4]);
    }

    /// "linked_event_chain_open for an already failed batch" and "for a batch of 1".
    #[test]
    fn an_open_chain_ends_in_chain_open() {
        let snap = AccountsSnapshot::default();
        let d = decide_accounts(&[input(1), linked(input(2)), linked(input(1)), linked(input(3))], &snap, at(1));
        assert_eq!(results(&d), [R::Ok, R::LinkedEventFailed, R::ExistsWithDifferentFlags, R::LinkedEventChainOpen]);
        assert_eq!(results(&decide_accounts(&[linked(input(1))], &snap, at(1))), [R::LinkedEventChainOpen]);
    }

    #[test]
    fn imports_are_batches_of_their_own_with_increasing_past_timestamps() {
        let mut snap = AccountsSnapshot { import_floor: Some(at(10)), ..AccountsSnapshot::default() };
        let imported = |id: u128, ts: Option<i64>| {
            let mut a = input(id);
            a.flags.imported = true;
            a.timestamp = ts.map(at);
            a
        };
        let d = decide_accounts(
            &[
                imported(1, Some(20)),
                input(2),
                imported(3, None),
                imported(4, Some(0)),
                imported(5, Some(100)),
                imported(6, Some(20)),
                imported(7, Some(21)),
            ],
            &snap,
            at(100),
        );
        assert_eq!(
            results(&d),
            [
                R::Ok,
                R::ImportedEventExpected,
                R::ImportedEventTimestampOutOfRange,
                R::ImportedEventTimestampOutOfRange,
                R::ImportedEventTimestampMustNotAdvance,
                R::ImportedEventTimestampMustNotRegress,
                R::Ok,
            ]
        );
        assert_eq!(d.imported_last, Some(at(21)));
        assert_eq!(d.created[0].created_at, at(20));
        snap.existing.insert(d.created[0].id, d.created[0].clone());
        // An existing id answers `exists` before the timestamp is judged.
        assert_eq!(results(&decide_accounts(&[imported(1, Some(20))], &snap, at(100))), [R::Exists]);
        let mut stamped = input(9);
        stamped.timestamp = Some(at(5));
        assert_eq!(
            results(&decide_accounts(&[input(8), stamped.clone(), imported(10, Some(50))], &snap, at(100))),
            [R::Ok, R::TimestampMustBeZero, R::ImportedEventNotExpected]
        );
    }

    #[test]
    fn validation_in_order() {
        let snap = AccountsSnapshot::default();
        let mut both = input(1);
        both.flags.debits_must_not_exceed_credits = true;
        both.flags.credits_must_not_exceed_debits = true;
        both.currency = None;
        let mut no_ledger = input(2);
        no_ledger.currency = None;
        no_ledger.code = 0;
        let mut no_code = input(3);
        no_code.code = 0;
        let d = decide_accounts(&[input(0), both, no_ledger, no_code], &snap, at(1));
        assert_eq!(
            results(&d),
            [R::IdMustNotBeZero, R::FlagsAreMutuallyExclusive, R::LedgerMustNotBeZero, R::CodeMustNotBeZero]
        );
        assert!(d.created.is_empty());
    }
}
