//! The ledger's entities (declared here, next to the model) and its reads over any [`Reader`],
//! written once here for every store.

use crate::id::UserId;
use crate::kernel::entity::{Domain, Entity, EntityDecl, Guard, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreError, StoreResult, Versioned};
use crate::kernel::value::{int_as, DecodeError, Decoded, Row, RowRead, Value, ValueType};
use crate::ledger::model::{
    Account, AccountFlags, AccountId, AccountKind, Balance, Transfer, TransferCode, TransferFlags, TransferId,
    TransferKind, TransferResult,
};
use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The ledger domain.
pub static DOMAIN: Domain = Domain { name: "ledger", entities: &[&ACCOUNT, &TRANSFER] };

/// Accounts read per page when a read walks every account (totals, reconciliation).
pub const ACCOUNT_PAGE: u32 = 500;

static ACCOUNT: EntityDecl = EntityDecl {
    kind: "ledger.account",
    aliases: &["ledger_account"],
    human: "ledger account",
    table: "ledger_accounts",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[
        // One wallet per owner, kind and currency; one system account per kind and currency — among
        // the accounts hearth opens itself (code 0); accounts created through `create_accounts`
        // carry a code and are as many as their callers choose.
        Unique {
            name: "ledger_accounts_one_per_owner",
            columns: &["owner_id", "kind", "currency"],
            when: Some(has_owner),
        },
        Unique { name: "ledger_accounts_one_system", columns: &["kind", "currency"], when: Some(has_no_owner) },
    ],
    // INVARIANT (flags): the flags' inequalities hold after every commit; they are the guards of
    // every balance delta (a delta that would overdraw fails and core decides again).
    guards: &[
        Guard { name: "ledger_accounts_debits_within_credits", holds: debits_within_credits },
        Guard { name: "ledger_accounts_credits_within_debits", holds: credits_within_debits },
        Guard { name: "ledger_accounts_totals_non_negative", holds: totals_non_negative },
        // At most one closing hold at a time (a closed account takes no second closing transfer).
        Guard { name: "ledger_accounts_closing_holds", holds: closing_holds_in_range },
    ],
};

fn managed(r: &dyn RowRead) -> bool {
    matches!(r.int("code"), Ok(0))
}

fn has_owner(r: &dyn RowRead) -> bool {
    managed(r) && matches!(r.opt_uuid("owner_id"), Ok(Some(_)))
}

fn has_no_owner(r: &dyn RowRead) -> bool {
    managed(r) && matches!(r.opt_uuid("owner_id"), Ok(None))
}

/// `closing_holds IN (0, 1)`.
fn closing_holds_in_range(r: &dyn RowRead) -> bool {
    matches!(r.int("closing_holds"), Ok(0 | 1))
}

/// `u64` user data kept in a signed 64-bit column, bit for bit (equality lookups only).
fn u64_to_column(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

fn u64_from_column(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

/// The four totals, widened so sums cannot overflow (SQL would raise; here the guard just fails).
fn totals(r: &dyn RowRead) -> Option<[i128; 4]> {
    let t = |c: &str| r.int(c).ok().map(i128::from);
    Some([t("debits_pending")?, t("debits_posted")?, t("credits_pending")?, t("credits_posted")?])
}

/// `NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted`.
fn debits_within_credits(r: &dyn RowRead) -> bool {
    let Ok(flag) = r.bool("debits_must_not_exceed_credits") else { return false };
    let Some([debits_pending, debits_posted, _, credits_posted]) = totals(r) else { return false };
    !flag || debits_posted + debits_pending <= credits_posted
}

/// `NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted`.
fn credits_within_debits(r: &dyn RowRead) -> bool {
    let Ok(flag) = r.bool("credits_must_not_exceed_debits") else { return false };
    let Some([_, debits_posted, credits_pending, credits_posted]) = totals(r) else { return false };
    !flag || credits_posted + credits_pending <= debits_posted
}

/// `debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0`.
fn totals_non_negative(r: &dyn RowRead) -> bool {
    totals(r).is_some_and(|t| t.iter().all(|v| *v >= 0))
}

static TRANSFER: EntityDecl = EntityDecl {
    kind: "ledger.transfer",
    aliases: &["ledger_transfer"],
    human: "ledger transfer",
    table: "ledger_transfers",
    key: "id",
    shape: Shape::AppendOnly { sequence: Some("seq") },
    uniques: &[
        // A pending transfer is posted, voided or expired at most once.
        Unique { name: "ledger_transfers_resolve_once", columns: &["pending_id"], when: Some(resolves_a_pending) },
    ],
    guards: &[],
};

fn resolves_a_pending(r: &dyn RowRead) -> bool {
    r.text("result").is_ok_and(|s| s == "ok") && matches!(r.opt_uuid("pending_id"), Ok(Some(_)))
}

impl Entity for Account {
    const DECL: &'static EntityDecl = &ACCOUNT;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        let (f, b) = (&self.flags, &self.balance);
        Row::new()
            .with("id", self.id.as_uuid())
            .with_opt("owner_id", ValueType::Uuid, self.owner.map(|o| o.as_uuid()))
            .with("kind", self.kind.as_str())
            .with("currency", self.currency)
            .with("debits_must_not_exceed_credits", f.debits_must_not_exceed_credits)
            .with("credits_must_not_exceed_debits", f.credits_must_not_exceed_debits)
            .with("frozen", f.frozen)
            .with("closed", f.closed)
            .with("debits_pending", b.debits_pending)
            .with("debits_posted", b.debits_posted)
            .with("credits_pending", b.credits_pending)
            .with("credits_posted", b.credits_posted)
            .with("created_at", self.created_at)
            .with("code", i64::from(self.code))
            .with_opt("user_data_128", ValueType::Uuid, self.user_data_128)
            .with("user_data_64", u64_to_column(self.user_data_64))
            .with("user_data_32", i64::from(self.user_data_32))
            .with("history", f.history)
            .with("closing_holds", self.closing_holds)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Account {
            id: AccountId::from_uuid(r.uuid("id")?),
            owner: r.opt_uuid("owner_id")?.map(UserId::from_uuid),
            kind: r.wire("kind", AccountKind::parse)?,
            currency: r.currency("currency")?,
            flags: AccountFlags {
                debits_must_not_exceed_credits: r.bool("debits_must_not_exceed_credits")?,
                credits_must_not_exceed_debits: r.bool("credits_must_not_exceed_debits")?,
                frozen: r.bool("frozen")?,
                closed: r.bool("closed")?,
                history: r.bool("history")?,
            },
            balance: Balance {
                debits_pending: r.int("debits_pending")?,
                debits_posted: r.int("debits_posted")?,
                credits_pending: r.int("credits_pending")?,
                credits_posted: r.int("credits_posted")?,
            },
            created_at: r.ts("created_at")?,
            code: int_as(r, "code")?,
            user_data_128: r.opt_uuid("user_data_128")?,
            user_data_64: u64_from_column(r.int("user_data_64")?),
            user_data_32: int_as(r, "user_data_32")?,
            closing_holds: r.int("closing_holds")?,
        })
    }
    /// A wallet is its owner's; system accounts are for admins and the system alone (who read
    /// everything).
    fn readers(&self) -> Readers {
        Readers::users(self.owner)
    }
}

impl Entity for Transfer {
    const DECL: &'static EntityDecl = &TRANSFER;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("debit_account_id", self.debit_account_id.as_uuid())
            .with("credit_account_id", self.credit_account_id.as_uuid())
            .with("amount", self.amount)
            .with("currency", self.currency)
            .with("kind", self.kind.as_str())
            .with_opt("pending_id", ValueType::Uuid, self.pending_id.map(|p| p.as_uuid()))
            .with("timeout_secs", i64::from(self.timeout_secs))
            .with_opt("expires_at", ValueType::Ts, self.expires_at)
            .with("linked", self.linked)
            .with("code", self.code.as_str())
            .with_opt("reference", ValueType::Text, self.reference.clone())
            .with("flags", self.flags.bits())
            .with_opt("user_data_128", ValueType::Uuid, self.user_data_128)
            .with("user_data_64", u64_to_column(self.user_data_64))
            .with("user_data_32", i64::from(self.user_data_32))
            .with("result", self.result.as_str())
            .with("actor", self.actor.as_str())
            .with("created_at", self.created_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(Transfer {
            id: TransferId::from_uuid(r.uuid("id")?),
            debit_account_id: AccountId::from_uuid(r.uuid("debit_account_id")?),
            credit_account_id: AccountId::from_uuid(r.uuid("credit_account_id")?),
            amount: r.int("amount")?,
            currency: r.currency("currency")?,
            kind: r.wire("kind", TransferKind::parse)?,
            pending_id: r.opt_uuid("pending_id")?.map(TransferId::from_uuid),
            timeout_secs: int_as(r, "timeout_secs")?,
            expires_at: r.opt_ts("expires_at")?,
            linked: r.bool("linked")?,
            code: r.wire("code", TransferCode::parse)?,
            reference: r.opt_text("reference")?,
            flags: TransferFlags::from_bits(r.int("flags")?)
                .ok_or_else(|| DecodeError::new("flags", "unknown transfer flag"))?,
            user_data_128: r.opt_uuid("user_data_128")?,
            user_data_64: u64_from_column(r.int("user_data_64")?),
            user_data_32: int_as(r, "user_data_32")?,
            result: r.wire("result", TransferResult::parse)?,
            actor: r.text("actor")?,
            created_at: r.ts("created_at")?,
        })
    }
    /// A transfer is read through its accounts: their owners read it (see [`transfer_readers`]),
    /// which the record alone does not name — on its own it is for admins and the system.
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

/// Who may read a transfer: the readers of its two accounts (the wallet owners), as far as
/// `accounts` knows them.
pub fn transfer_readers<'a>(t: &Transfer, accounts: impl Fn(AccountId) -> Option<&'a Account>) -> Readers {
    let owners = [t.debit_account_id, t.credit_account_id].into_iter().filter_map(accounts).filter_map(|a| a.owner);
    Readers::users(owners)
}

/// Totals over all accounts of one currency: Σdebits must equal Σcredits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotals {
    /// The currency.
    pub currency: Currency,
    /// Σ over accounts.
    pub totals: Balance,
}

fn uuids<T>(ids: &[T], f: impl Fn(&T) -> Uuid) -> Vec<Value> {
    ids.iter().map(|i| Value::Uuid(f(i))).collect()
}

fn ok() -> Filter {
    Filter::Eq("result", Value::Text(TransferResult::Ok.as_str()))
}

fn values<T>(v: Vec<Versioned<T>>) -> Vec<T> {
    v.into_iter().map(|v| v.value).collect()
}

/// The ledger's reads, written once over any [`Reader`] (a store, or one command's snapshot).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait LedgerStore: Reader {
    /// Accounts by id, by id (missing ids are left out; no ids, no read).
    async fn ledger_accounts(&self, ids: &[AccountId]) -> StoreResult<Vec<Versioned<Account>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.find(Query::of::<Account>().filter(Filter::In("id", uuids(ids, |i| i.as_uuid()))).order_by("id", Dir::Asc))
            .await
    }
    /// The account of `owner` (`None` for system accounts) of `kind` in `currency`.
    async fn ledger_account_for(
        &self,
        owner: Option<UserId>,
        kind: AccountKind,
        currency: Currency,
    ) -> StoreResult<Option<Versioned<Account>>> {
        let owner = match owner {
            Some(o) => Filter::Eq("owner_id", Value::Uuid(o.as_uuid())),
            None => Filter::IsNull("owner_id"),
        };
        self.find_one(
            Query::of::<Account>().filter(owner).eq("kind", kind.as_str()).eq("currency", currency).eq("code", 0i64),
        )
        .await
    }
    /// Accounts with an id after `after`, ascending, at most `limit` (a page of a sweep).
    async fn ledger_accounts_after(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> StoreResult<Vec<Versioned<Account>>> {
        let mut q = Query::of::<Account>().order_by("id", Dir::Asc).limit(limit);
        if let Some(a) = after {
            q = q.after(vec![Value::Uuid(a.as_uuid())]);
        }
        self.find(q).await
    }
    /// Account ids after `after`, ascending, at most `limit` (for reconciliation sweeps).
    async fn ledger_account_ids(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>> {
        Ok(self.ledger_accounts_after(after, limit).await?.into_iter().map(|a| a.value.id).collect())
    }
    /// Transfer records by id, in the order recorded (missing ids are left out; no ids, no read).
    async fn ledger_transfers(&self, ids: &[TransferId]) -> StoreResult<Vec<Transfer>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let q = Query::of::<Transfer>().filter(Filter::In("id", uuids(ids, |i| i.as_uuid()))).order_by("seq", Dir::Asc);
        Ok(values(self.find(q).await?))
    }
    /// For each of `pending` that is resolved, the kind of the resolving transfer (no ids, no read).
    async fn pending_resolutions(&self, pending: &[TransferId]) -> StoreResult<Vec<(TransferId, TransferKind)>> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let q = Query::of::<Transfer>().filter(ok()).filter(Filter::In("pending_id", uuids(pending, |i| i.as_uuid())));
        let resolving = self.find::<Transfer>(q).await?;
        resolving
            .into_iter()
            .map(|t| {
                let p = t.value.pending_id.ok_or_else(|| StoreError::Corrupt {
                    message: "ledger_transfers: a resolution without its pending id".into(),
                })?;
                Ok((p, t.value.kind))
            })
            .collect()
    }
    /// Successful pending transfers with `expires_at <= now` and no resolution, oldest first.
    async fn expired_pending(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Transfer>> {
        let q = Query::of::<Transfer>()
            .eq("kind", TransferKind::Pending.as_str())
            .filter(ok())
            .filter(Filter::NotNull("expires_at"))
            .filter(Filter::Le("expires_at", now.into()))
            .filter(Filter::NotExists { kind: Transfer::kind(), inner: "pending_id", outer: "id", filter: vec![ok()] })
            .order_by("expires_at", Dir::Asc)
            .order_by("seq", Dir::Asc)
            .limit(limit);
        Ok(values(self.find(q).await?))
    }
    /// Every successful transfer debiting or crediting any of `accounts`, in the order recorded
    /// (reconciliation recomputes balances from these with core's own rule; no accounts, no read).
    async fn ledger_transfers_touching(&self, accounts: &[AccountId]) -> StoreResult<Vec<Transfer>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = uuids(accounts, |a| a.as_uuid());
        let q = Query::of::<Transfer>()
            .filter(ok())
            .filter(Filter::Any(vec![
                vec![Filter::In("debit_account_id", ids.clone())],
                vec![Filter::In("credit_account_id", ids)],
            ]))
            .order_by("seq", Dir::Asc);
        Ok(values(self.find(q).await?))
    }
    /// Cached totals summed per currency over all accounts, by currency code.
    ///
    /// There is no aggregate in the query API: this pages through every account. Call it on one
    /// snapshot ([`crate::kernel::store::Store::snapshot`]) so the pages see one committed state.
    async fn currency_totals(&self) -> StoreResult<Vec<CurrencyTotals>> {
        let overflow = || StoreError::Corrupt { message: "ledger_accounts: total overflow".into() };
        let mut sums: BTreeMap<&'static str, CurrencyTotals> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self.ledger_accounts_after(after, ACCOUNT_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.value.id);
            let full = page.len() == ACCOUNT_PAGE as usize;
            for a in page {
                let a = a.value;
                let e = sums
                    .entry(a.currency.code())
                    .or_insert(CurrencyTotals { currency: a.currency, totals: Balance::default() });
                e.totals = e.totals.apply_signed(&a.balance).ok_or_else(overflow)?;
            }
            if !full {
                break;
            }
        }
        Ok(sums.into_values().collect())
    }
    /// Successful transfers touching `account`, oldest first (in the order recorded), at most `limit`.
    async fn account_transfers(&self, account: AccountId, limit: u32) -> StoreResult<Vec<Transfer>> {
        let id = Value::Uuid(account.as_uuid());
        let q = Query::of::<Transfer>()
            .filter(ok())
            .filter(Filter::Any(vec![
                vec![Filter::Eq("debit_account_id", id.clone())],
                vec![Filter::Eq("credit_account_id", id)],
            ]))
            .order_by("seq", Dir::Asc)
            .limit(limit);
        Ok(values(self.find(q).await?))
    }
}

impl<R: Reader + ?Sized> LedgerStore for R {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn account(flags: AccountFlags, balance: Balance) -> Account {
        Account {
            balance,
            user_data_64: u64::MAX - 1,
            user_data_32: u32::MAX,
            user_data_128: Some(Uuid::from_u128(9)),
            ..Account::managed(
                AccountId::from_uuid(Uuid::from_u128(1)),
                Some(UserId::from_uuid(Uuid::from_u128(2))),
                AccountKind::Wallet,
                Currency::INR,
                flags,
                Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap(),
            )
        }
    }

    #[test]
    fn rows_read_back_exactly() {
        let flags = AccountFlags { debits_must_not_exceed_credits: true, ..AccountFlags::default() };
        let a = account(flags, Balance::default());
        assert_eq!(Account::from_row(&a.to_row()).unwrap(), a);
        let system = Account { owner: None, kind: AccountKind::Fees, ..a.clone() };
        assert_eq!(Account::from_row(&system.to_row()).unwrap(), system);
        assert!(has_owner(&a.to_row()) && !has_no_owner(&a.to_row()));
        assert!(has_no_owner(&system.to_row()) && !has_owner(&system.to_row()));
        assert_eq!(a.readers().users, [UserId::from_uuid(Uuid::from_u128(2))]);
        assert!(system.readers().users.is_empty());
        let t = Transfer {
            id: TransferId::from_uuid(Uuid::from_u128(3)),
            debit_account_id: a.id,
            credit_account_id: AccountId::from_uuid(Uuid::from_u128(4)),
            amount: 1_250,
            currency: Currency::INR,
            kind: TransferKind::PostPending,
            pending_id: Some(TransferId::from_uuid(Uuid::from_u128(5))),
            timeout_secs: 0,
            expires_at: None,
            linked: true,
            code: TransferCode::Hold,
            reference: Some("order-9".into()),
            flags: TransferFlags { closing_debit: true, balancing_credit: true, ..TransferFlags::default() },
            user_data_128: Some(Uuid::from_u128(7)),
            user_data_64: u64::MAX,
            user_data_32: 7,
            result: TransferResult::Ok,
            actor: "system".into(),
            created_at: a.created_at,
        };
        assert_eq!(Transfer::from_row(&t.to_row()).unwrap(), t);
        assert!(resolves_a_pending(&t.to_row()));
        let failed = Transfer { result: TransferResult::ExceedsCredits, ..t.clone() };
        assert!(!resolves_a_pending(&failed.to_row()));
        let plain = Transfer { pending_id: None, kind: TransferKind::Single, ..t };
        assert!(!resolves_a_pending(&plain.to_row()));
    }

    proptest! {
        /// The guards are the model's own rule (and the SQL CHECKs): flags' inequalities and
        /// non-negative totals.
        #[test]
        fn guards_agree_with_the_model(
            d in any::<bool>(), c in any::<bool>(),
            t in prop::array::uniform4(-5i64..20),
            huge in any::<bool>(),
        ) {
            let big = if huge { i64::MAX - 3 } else { 0 };
            let balance = Balance {
                debits_pending: t[0].saturating_add(big),
                debits_posted: t[1],
                credits_pending: t[2],
                credits_posted: t[3],
            };
            let flags =
                AccountFlags { debits_must_not_exceed_credits: d, credits_must_not_exceed_debits: c, ..AccountFlags::default() };
            let row = account(flags, balance).to_row();
            prop_assert_eq!(debits_within_credits(&row) && credits_within_debits(&row), balance.within(&flags));
            let b = balance;
            let non_negative = [b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted].iter().all(|v| *v >= 0);
            prop_assert_eq!(totals_non_negative(&row), non_negative);
        }
    }
}
