//! The ledger's entities (declared here, next to the model) and its reads over any [`Reader`],
//! written once here for every store.

use crate::id::UserId;
use crate::kernel::entity::{Domain, Entity, EntityDecl, Guard, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{decode, ReadExt, Reader, StoreError, StoreResult, StoredRow, Versioned};
use crate::kernel::value::{int_as, DecodeError, Decoded, Row, RowRead, Value, ValueType};
use crate::ledger::model::{
    Account, AccountFlags, AccountId, AccountKind, Balance, HistoricalBalance, ImportCursor, ImportStream, Transfer,
    TransferCode, TransferFlags, TransferId, TransferKind, TransferResult,
};
use crate::ledger::query::{AccountFilter, Cursor, Page, QueryFilter};
use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The ledger domain.
pub static DOMAIN: Domain = Domain { name: "ledger", entities: &[&ACCOUNT, &TRANSFER, &BALANCE, &IMPORT_CURSOR] };

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

static BALANCE: EntityDecl = EntityDecl {
    kind: "ledger.balance",
    aliases: &[],
    human: "historical balance",
    table: "ledger_account_balances",
    key: "id",
    shape: Shape::AppendOnly { sequence: None },
    uniques: &[
        // One row per position of an account: two commits that both read the account at one
        // history length cannot both write the next row.
        Unique { name: "ledger_account_balances_position", columns: &["account_id", "position"], when: None },
    ],
    guards: &[],
};

static IMPORT_CURSOR: EntityDecl = EntityDecl {
    kind: "ledger.import_cursor",
    aliases: &[],
    human: "import cursor",
    table: "ledger_import_cursors",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
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
            .with("linked", f.linked)
            .with("imported", f.imported)
            .with("history_len", self.history_len)
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
                linked: r.bool("linked")?,
                imported: r.bool("imported")?,
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
            history_len: r.int("history_len")?,
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
            .with("imported", self.flags.imported)
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
            flags: TransferFlags {
                imported: r.bool("imported")?,
                ..TransferFlags::from_bits(r.int("flags")?)
                    .ok_or_else(|| DecodeError::new("flags", "unknown transfer flag"))?
            },
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

impl Entity for HistoricalBalance {
    const DECL: &'static EntityDecl = &BALANCE;
    fn id(&self) -> Uuid {
        self.key()
    }
    fn to_row(&self) -> Row {
        let b = &self.balance;
        Row::new()
            .with("id", self.key())
            .with("account_id", self.account_id.as_uuid())
            .with("position", self.position)
            .with("transfer_id", self.transfer_id.as_uuid())
            .with("debit", self.debit)
            .with("code", self.code.as_str())
            .with_opt("user_data_128", ValueType::Uuid, self.user_data_128)
            .with("user_data_64", u64_to_column(self.user_data_64))
            .with("user_data_32", i64::from(self.user_data_32))
            .with("debits_pending", b.debits_pending)
            .with("debits_posted", b.debits_posted)
            .with("credits_pending", b.credits_pending)
            .with("credits_posted", b.credits_posted)
            .with("created_at", self.timestamp)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(HistoricalBalance {
            account_id: AccountId::from_uuid(r.uuid("account_id")?),
            position: r.int("position")?,
            transfer_id: TransferId::from_uuid(r.uuid("transfer_id")?),
            debit: r.bool("debit")?,
            code: r.wire("code", TransferCode::parse)?,
            user_data_128: r.opt_uuid("user_data_128")?,
            user_data_64: u64_from_column(r.int("user_data_64")?),
            user_data_32: int_as(r, "user_data_32")?,
            balance: Balance {
                debits_pending: r.int("debits_pending")?,
                debits_posted: r.int("debits_posted")?,
                credits_pending: r.int("credits_pending")?,
                credits_posted: r.int("credits_posted")?,
            },
            timestamp: r.ts("created_at")?,
        })
    }
    /// Read through its account (its owner and staff); on its own, for admins and the system.
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

impl Entity for ImportCursor {
    const DECL: &'static EntityDecl = &IMPORT_CURSOR;
    fn id(&self) -> Uuid {
        self.stream.key()
    }
    fn to_row(&self) -> Row {
        let stream = match self.stream {
            ImportStream::Accounts => "accounts",
            ImportStream::Transfers => "transfers",
        };
        Row::new().with("id", self.stream.key()).with("stream", stream).with("last_at", self.last)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let stream = r.wire("stream", |s| match s {
            "accounts" => Some(ImportStream::Accounts),
            "transfers" => Some(ImportStream::Transfers),
            _ => None,
        })?;
        Ok(ImportCursor { stream, last: r.ts("last_at")? })
    }
    /// Staff only.
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

/// Totals over all accounts of one currency: Σdebits must equal Σcredits. Summed in `i128`: each
/// account's total fits `i64`, and 2^64 accounts would be needed to overflow the sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotals {
    /// The currency.
    pub currency: Currency,
    /// Σ debits_pending.
    pub debits_pending: i128,
    /// Σ debits_posted.
    pub debits_posted: i128,
    /// Σ credits_pending.
    pub credits_pending: i128,
    /// Σ credits_posted.
    pub credits_posted: i128,
}

impl CurrencyTotals {
    /// Zero sums in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self { currency, debits_pending: 0, debits_posted: 0, credits_pending: 0, credits_posted: 0 }
    }
    /// Adds an account's totals; `None` on overflow.
    pub fn add(&self, b: &Balance) -> Option<Self> {
        Some(Self {
            currency: self.currency,
            debits_pending: self.debits_pending.checked_add(i128::from(b.debits_pending))?,
            debits_posted: self.debits_posted.checked_add(i128::from(b.debits_posted))?,
            credits_pending: self.credits_pending.checked_add(i128::from(b.credits_pending))?,
            credits_posted: self.credits_posted.checked_add(i128::from(b.credits_posted))?,
        })
    }
    /// Σdebits = Σcredits, pending and posted.
    pub fn balanced(&self) -> bool {
        self.debits_pending == self.credits_pending && self.debits_posted == self.credits_posted
    }
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
                let e = sums.entry(a.currency.code()).or_insert(CurrencyTotals::zero(a.currency));
                *e = e.add(&a.balance).ok_or_else(overflow)?;
            }
            if !full {
                break;
            }
        }
        Ok(sums.into_values().collect())
    }
    /// The import cursor of `stream`, if anything was imported.
    async fn ledger_import_cursor(&self, stream: ImportStream) -> StoreResult<Option<Versioned<ImportCursor>>> {
        self.get::<ImportCursor>(stream.key()).await
    }
    /// The newest account's timestamp.
    async fn latest_account_time(&self) -> StoreResult<Option<Timestamp>> {
        let q = Query::of::<Account>().order_by("created_at", Dir::Desc).order_by("id", Dir::Desc);
        Ok(self.find_one::<Account>(q).await?.map(|a| a.value.created_at))
    }
    /// The newest successful transfer's timestamp.
    async fn latest_transfer_time(&self) -> StoreResult<Option<Timestamp>> {
        let q = Query::of::<Transfer>().filter(ok()).order_by("created_at", Dir::Desc).order_by("seq", Dir::Desc);
        Ok(self.find_one::<Transfer>(q).await?.map(|t| t.value.created_at))
    }
    /// `get_account_transfers`: the page of `filter` (validated) over the successful transfers of its
    /// account (expiry records left out: TigerBeetle's expiry is no transfer), ordered by position.
    async fn account_transfers_page(&self, filter: &AccountFilter) -> StoreResult<Page<Transfer>> {
        let id = Value::Uuid(filter.account_id.as_uuid());
        let mut sides = Vec::new();
        if filter.flags.debits {
            sides.push(vec![Filter::Eq("debit_account_id", id.clone())]);
        }
        if filter.flags.credits {
            sides.push(vec![Filter::Eq("credit_account_id", id)]);
        }
        let mut q = Query::of::<Transfer>()
            .filter(ok())
            .filter(Filter::Ne("kind", Value::Text(TransferKind::ExpirePending.as_str().to_owned())))
            .filter(Filter::Any(sides));
        q = transfer_fields(q, filter.user_data_128, filter.user_data_64, filter.user_data_32, filter.code);
        q = time_range(q, filter.timestamp_min, filter.timestamp_max);
        transfers_page(self, q, filter.flags.reversed, filter.after, filter.limit).await
    }
    /// `query_transfers`: the page of `filter` (validated) over all successful transfers.
    async fn transfers_page(&self, filter: &QueryFilter<TransferCode>) -> StoreResult<Page<Transfer>> {
        let mut q = Query::of::<Transfer>()
            .filter(ok())
            .filter(Filter::Ne("kind", Value::Text(TransferKind::ExpirePending.as_str().to_owned())));
        q = transfer_fields(q, filter.user_data_128, filter.user_data_64, filter.user_data_32, filter.code);
        if let Some(c) = filter.ledger {
            q = q.eq("currency", c);
        }
        q = time_range(q, filter.timestamp_min, filter.timestamp_max);
        transfers_page(self, q, filter.flags.reversed, filter.after, filter.limit).await
    }
    /// `get_account_balances`: the page of `filter` (validated) over the account's balance history,
    /// ordered by position.
    async fn account_balances_page(&self, filter: &AccountFilter) -> StoreResult<Page<HistoricalBalance>> {
        let mut q = Query::of::<HistoricalBalance>().eq("account_id", filter.account_id.as_uuid());
        match (filter.flags.debits, filter.flags.credits) {
            (true, false) => q = q.eq("debit", true),
            (false, true) => q = q.eq("debit", false),
            _ => {}
        }
        q = transfer_fields(q, filter.user_data_128, filter.user_data_64, filter.user_data_32, filter.code);
        q = time_range(q, filter.timestamp_min, filter.timestamp_max);
        let dir = if filter.flags.reversed { Dir::Desc } else { Dir::Asc };
        q = q.order_by("position", dir).limit(filter.limit);
        if let Some(c) = filter.after {
            q = q.after(vec![Value::Int(c.key)]);
        }
        let items = values(self.find::<HistoricalBalance>(q).await?);
        let next = page_end(&items, filter.limit, |h| Cursor { key: h.position, id: h.transfer_id.as_uuid() });
        Ok(Page { items, next })
    }
    /// `query_accounts`: the page of `filter` (validated) over all accounts, by creation time.
    async fn accounts_page(&self, filter: &QueryFilter<u16>) -> StoreResult<Page<Account>> {
        let mut q = Query::of::<Account>();
        if let Some(u) = filter.user_data_128 {
            q = q.eq("user_data_128", u);
        }
        if filter.user_data_64 != 0 {
            q = q.eq("user_data_64", u64_to_column(filter.user_data_64));
        }
        if filter.user_data_32 != 0 {
            q = q.eq("user_data_32", i64::from(filter.user_data_32));
        }
        if let Some(c) = filter.ledger {
            q = q.eq("currency", c);
        }
        if let Some(code) = filter.code {
            q = q.eq("code", i64::from(code));
        }
        q = time_range(q, filter.timestamp_min, filter.timestamp_max);
        let dir = if filter.flags.reversed { Dir::Desc } else { Dir::Asc };
        q = q.order_by("created_at", dir).order_by("id", dir).limit(filter.limit);
        if let Some(c) = filter.after {
            let at = Timestamp::from_unix_micros(c.key)
                .ok_or_else(|| StoreError::Backend { message: "an account cursor out of range".into() })?;
            q = q.after(vec![Value::from(at), Value::Uuid(c.id)]);
        }
        let items = values(self.find::<Account>(q).await?);
        let next = page_end(&items, filter.limit, |a| Cursor { key: a.created_at.unix_micros(), id: a.id.as_uuid() });
        Ok(Page { items, next })
    }
    /// Every balance history row of `account`, by position (tests and audits).
    async fn balance_history(&self, account: AccountId) -> StoreResult<Vec<HistoricalBalance>> {
        let q = Query::of::<HistoricalBalance>().eq("account_id", account.as_uuid()).order_by("position", Dir::Asc);
        Ok(values(self.find(q).await?))
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

/// Adds the transfer-field filters (`user_data_*` and `code`; zero / absent = no filter).
fn transfer_fields(
    mut q: Query,
    user_data_128: Option<Uuid>,
    user_data_64: u64,
    user_data_32: u32,
    code: Option<TransferCode>,
) -> Query {
    if let Some(u) = user_data_128 {
        q = q.eq("user_data_128", u);
    }
    if user_data_64 != 0 {
        q = q.eq("user_data_64", u64_to_column(user_data_64));
    }
    if user_data_32 != 0 {
        q = q.eq("user_data_32", i64::from(user_data_32));
    }
    if let Some(c) = code {
        q = q.eq("code", c.as_str());
    }
    q
}

/// Adds the inclusive timestamp range (on `created_at`).
fn time_range(mut q: Query, min: Option<Timestamp>, max: Option<Timestamp>) -> Query {
    if let Some(t) = min {
        q = q.filter(Filter::Ge("created_at", t.into()));
    }
    if let Some(t) = max {
        q = q.filter(Filter::Le("created_at", t.into()));
    }
    q
}

/// The cursor of a full page's last item (a shorter page is the last one).
fn page_end<T>(items: &[T], limit: u32, cursor: impl Fn(&T) -> Cursor) -> Option<Cursor> {
    (items.len() == limit as usize).then(|| items.last().map(cursor)).flatten()
}

/// Runs a transfer query ordered by position (`seq`), after the cursor, and reads each row's
/// position with it.
async fn transfers_page<R: Reader + ?Sized>(
    store: &R,
    q: Query,
    reversed: bool,
    after: Option<Cursor>,
    limit: u32,
) -> StoreResult<Page<Transfer>> {
    let dir = if reversed { Dir::Desc } else { Dir::Asc };
    let mut q = q.order_by("seq", dir).limit(limit);
    if let Some(c) = after {
        q = q.after(vec![Value::Int(c.key)]);
    }
    let rows: Vec<StoredRow> = store.query_rows(&q).await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for r in &rows {
        let seq = r.row.int("seq").map_err(|e| StoreError::Corrupt { message: format!("ledger_transfers: {e}") })?;
        let t = decode::<Transfer>(r)?.value;
        last = Some(Cursor { key: seq, id: t.id.as_uuid() });
        items.push(t);
    }
    let next = if items.len() == limit as usize { last } else { None };
    Ok(Page { items, next })
}

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
        let imported = Transfer { flags: TransferFlags { imported: true, ..TransferFlags::default() }, ..plain };
        assert_eq!(Transfer::from_row(&imported.to_row()).unwrap(), imported);
        let created = Account {
            code: 9,
            kind: AccountKind::Ledger,
            owner: None,
            history_len: 3,
            flags: AccountFlags { linked: true, imported: true, history: true, ..AccountFlags::default() },
            ..a.clone()
        };
        assert_eq!(Account::from_row(&created.to_row()).unwrap(), created);
        let h = HistoricalBalance {
            account_id: a.id,
            position: 4,
            transfer_id: imported.id,
            debit: false,
            code: TransferCode::Fee,
            user_data_128: Some(Uuid::from_u128(5)),
            user_data_64: u64::MAX,
            user_data_32: u32::MAX,
            balance: Balance { debits_pending: 1, debits_posted: 2, credits_pending: 3, credits_posted: 4 },
            timestamp: a.created_at,
        };
        assert_eq!(HistoricalBalance::from_row(&h.to_row()).unwrap(), h);
        assert_ne!(h.key(), HistoricalBalance { position: 5, ..h.clone() }.key(), "one key per position");
        for stream in [ImportStream::Accounts, ImportStream::Transfers] {
            let c = ImportCursor { stream, last: a.created_at };
            assert_eq!(ImportCursor::from_row(&c.to_row()).unwrap(), c);
        }
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
