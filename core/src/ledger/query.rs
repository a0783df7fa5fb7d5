//! The ledger's filtered, paged reads, as TigerBeetle's `AccountFilter` (`get_account_transfers`,
//! `get_account_balances`) and `QueryFilter` (`query_accounts`, `query_transfers`) describe them
//! (`docs/reference/account-filter.md`, `docs/reference/query-filter.md`).
//!
//! Zero / absent fields filter nothing; timestamps bound the range inclusively; `limit` caps the
//! page; `reversed` reads newest first. Where TigerBeetle pages by setting `timestamp_min` past the
//! last result (its timestamps are unique), hearth's are not (a batch shares one instant), so a page
//! ends with a [`Cursor`] — its last item's position — that the next call passes as `after`. An
//! invalid filter is a validation error naming the field (TigerBeetle's reads answer nothing).

use super::model::{AccountId, TransferCode};
use crate::money::Currency;
use crate::time::Timestamp;
use crate::validate::{ValidationErrors, Validator, Violation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most results one page holds: a larger `limit` is capped (TigerBeetle: "Limited by the maximum
/// message size").
pub const QUERY_LIMIT_MAX: u32 = 8_190;
/// Most ids one lookup takes.
pub const LOOKUP_IDS_MAX: usize = 8_190;

/// Where a page ended: the position of its last item (a transfer's insertion position, a balance
/// row's position in its account's history, an account's creation time in microseconds) and its
/// id. Pass it back as the filter's `after` for the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort position.
    pub key: i64,
    /// The item's id (accounts sort by time, then id).
    pub id: Uuid,
}

/// One page of results. `next` is set when the page is full: there may be more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The results, in the filter's order.
    pub items: Vec<T>,
    /// Where to continue (`after`), when the page is full.
    pub next: Option<Cursor>,
}

/// `AccountFilter.flags`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountFilterFlags {
    /// Include transfers debiting the account.
    pub debits: bool,
    /// Include transfers crediting the account.
    pub credits: bool,
    /// Newest first.
    pub reversed: bool,
}

/// `QueryFilter.flags`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueryFilterFlags {
    /// Newest first.
    pub reversed: bool,
}

/// TigerBeetle's `AccountFilter`: one account's transfers or balance history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFilter {
    /// The account (not nil).
    pub account_id: AccountId,
    /// Only transfers with this `user_data_128`.
    #[serde(default)]
    pub user_data_128: Option<Uuid>,
    /// Only transfers with this `user_data_64` (0 = any).
    #[serde(default)]
    pub user_data_64: u64,
    /// Only transfers with this `user_data_32` (0 = any).
    #[serde(default)]
    pub user_data_32: u32,
    /// Only transfers with this code.
    #[serde(default)]
    pub code: Option<TransferCode>,
    /// From this instant, inclusive.
    #[serde(default)]
    pub timestamp_min: Option<Timestamp>,
    /// Up to this instant, inclusive.
    #[serde(default)]
    pub timestamp_max: Option<Timestamp>,
    /// Most results (1 or more; capped at [`QUERY_LIMIT_MAX`]).
    pub limit: u32,
    /// Debits, credits (at least one), order.
    #[serde(default)]
    pub flags: AccountFilterFlags,
    /// Continue after this cursor (a previous page's `next`).
    #[serde(default)]
    pub after: Option<Cursor>,
}

impl AccountFilter {
    /// The whole history of `account` (debits and credits), oldest first, `limit` at a time.
    pub fn all(account: AccountId, limit: u32) -> Self {
        Self {
            account_id: account,
            user_data_128: None,
            user_data_64: 0,
            user_data_32: 0,
            code: None,
            timestamp_min: None,
            timestamp_max: None,
            limit,
            flags: AccountFilterFlags { debits: true, credits: true, reversed: false },
            after: None,
        }
    }

    /// Checks the filter (TigerBeetle's `filter_valid`), every field error at once; returns it with
    /// `limit` capped.
    pub fn check(&self) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new();
        if self.account_id.as_uuid().is_nil() {
            v.push("account_id", Violation::Required);
        }
        if !self.flags.debits && !self.flags.credits {
            // account-filter.md, `flags.debits` / `flags.credits`: which side to include.
            v.push("flags", Violation::NotAllowed { allowed: vec!["debits".into(), "credits".into()] });
        }
        common(&mut v, self.limit, self.timestamp_min, self.timestamp_max);
        v.finish(|| Some(Self { limit: self.limit.min(QUERY_LIMIT_MAX), ..self.clone() }))
    }
}

/// TigerBeetle's `QueryFilter`, over accounts (`C = u16`, the account code) or transfers
/// (`C = TransferCode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFilter<C> {
    /// Only rows with this `user_data_128`.
    #[serde(default)]
    pub user_data_128: Option<Uuid>,
    /// Only rows with this `user_data_64` (0 = any).
    #[serde(default)]
    pub user_data_64: u64,
    /// Only rows with this `user_data_32` (0 = any).
    #[serde(default)]
    pub user_data_32: u32,
    /// Only rows in this currency (TigerBeetle's `ledger`).
    #[serde(default)]
    pub ledger: Option<Currency>,
    /// Only rows with this code.
    #[serde(default = "none")]
    pub code: Option<C>,
    /// From this instant, inclusive.
    #[serde(default)]
    pub timestamp_min: Option<Timestamp>,
    /// Up to this instant, inclusive.
    #[serde(default)]
    pub timestamp_max: Option<Timestamp>,
    /// Most results (1 or more; capped at [`QUERY_LIMIT_MAX`]).
    pub limit: u32,
    /// Order.
    #[serde(default)]
    pub flags: QueryFilterFlags,
    /// Continue after this cursor (a previous page's `next`).
    #[serde(default)]
    pub after: Option<Cursor>,
}

fn none<C>() -> Option<C> {
    None
}

impl<C: Clone> QueryFilter<C> {
    /// Everything, oldest first, `limit` at a time.
    pub fn all(limit: u32) -> Self {
        Self {
            user_data_128: None,
            user_data_64: 0,
            user_data_32: 0,
            ledger: None,
            code: None,
            timestamp_min: None,
            timestamp_max: None,
            limit,
            flags: QueryFilterFlags::default(),
            after: None,
        }
    }

    /// Checks the filter, every field error at once; returns it with `limit` capped.
    pub fn check(&self) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new();
        common(&mut v, self.limit, self.timestamp_min, self.timestamp_max);
        v.finish(|| Some(Self { limit: self.limit.min(QUERY_LIMIT_MAX), ..self.clone() }))
    }
}

/// The checks both filters share: a limit, an ordered range.
fn common(v: &mut Validator, limit: u32, min: Option<Timestamp>, max: Option<Timestamp>) {
    if limit == 0 {
        v.push("limit", Violation::NotPositive);
    }
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            v.push("timestamp_max", Violation::LessThanField { other: "timestamp_min".into() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_micros(secs * 1_000_000).unwrap()
    }

    #[test]
    fn filters_name_every_invalid_field() {
        let mut f = AccountFilter::all(AccountId::from_uuid(Uuid::nil()), 0);
        f.flags = AccountFilterFlags::default();
        (f.timestamp_min, f.timestamp_max) = (Some(at(2)), Some(at(1)));
        let fields: Vec<String> = f.check().unwrap_err().errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["account_id", "flags", "limit", "timestamp_max"]);
        let ok = AccountFilter::all(AccountId::from_uuid(Uuid::from_u128(1)), u32::MAX).check().unwrap();
        assert_eq!(ok.limit, QUERY_LIMIT_MAX, "a larger limit is capped");
        let same = AccountFilter { timestamp_min: Some(at(1)), timestamp_max: Some(at(1)), ..ok };
        assert!(same.check().is_ok(), "the range is inclusive");
        assert!(QueryFilter::<u16>::all(0).check().is_err());
        assert_eq!(QueryFilter::<TransferCode>::all(5).check().unwrap().limit, 5);
    }
}
