//! Ledger conformance tests: the same on every store.

use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::entity::Entity;
use crate::kernel::store::{ChangeSet, Expect, Store, Write};
use crate::kernel::value::Value;
use crate::ledger::accounts::{AccountInput, AccountInputFlags};
use crate::ledger::engine::{Outcome, Phase, TransferInput, TIMEOUT_SECS_MAX};
use crate::ledger::model::{
    Account, AccountFlags, AccountId, AccountKind, AccountResult as A, Balance, HistoricalBalance, Transfer,
    TransferCode, TransferFlags, TransferId, TransferKind, TransferResult as R,
};
use crate::ledger::query::{AccountFilter, AccountFilterFlags, Cursor, QueryFilter};
use crate::ledger::{Ledger, LedgerStore};
use crate::money::Currency;
use crate::system::RandomIds;
use crate::time::{Clock, ManualClock, Timestamp};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rust_decimal::Decimal;
use std::sync::Arc;
use uuid::Uuid;

pub struct Books<S> {
    pub ledger: Ledger<S>,
    pub clock: Arc<ManualClock>,
    pub clearing: Account,
    pub revenue: Account,
}

impl<S: Store + Clone + 'static> Books<S> {
    pub async fn new(store: S) -> Self {
        let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
        let ledger = Ledger::new(store, clock.clone(), Arc::new(RandomIds));
        let clearing =
            ledger.system_account(&Actor::System, AccountKind::GatewayClearing, Currency::INR).await.unwrap();
        let revenue = ledger.system_account(&Actor::System, AccountKind::CanteenRevenue, Currency::INR).await.unwrap();
        Self { ledger, clock, clearing, revenue }
    }
    pub fn store(&self) -> &S {
        self.ledger.runner().store()
    }
    pub async fn wallet(&self) -> (Actor, Account) {
        let user = UserId::generate(&RandomIds);
        let actor = Actor::user(user, [Role::Resident]);
        let wallet = self.ledger.open_wallet(&actor, user, Currency::INR).await.unwrap();
        (actor, wallet)
    }
    /// Runs a batch as the verified-payment path does (top-ups allowed).
    pub async fn verified(&self, transfers: Vec<TransferInput>) -> Vec<Outcome> {
        let cmd = super::verified_transfers(transfers);
        self.ledger.runner().execute(&Actor::System, None, &cmd).await.unwrap()
    }
    pub async fn top_up(&self, wallet: &Account, minor: i64) {
        let out = self.verified(vec![transfer(self.clearing.id, wallet.id, minor, TransferCode::TopUp)]).await;
        assert_eq!(out[0].result, R::Ok);
    }
    pub async fn balance(&self, a: &Account) -> Balance {
        self.store().ledger_accounts(&[a.id]).await.unwrap()[0].value.balance
    }
    /// Reconciliation is clean and Σdebits = Σcredits.
    pub async fn assert_books_balance(&self) {
        let report = self.ledger.reconcile(&Actor::System).await.unwrap();
        assert!(report.is_clean(), "{report:?}");
    }
}

pub fn transfer(debit: AccountId, credit: AccountId, minor: i64, code: TransferCode) -> TransferInput {
    TransferInput {
        id: TransferId::from_uuid(Uuid::now_v7()),
        debit_account_id: debit,
        credit_account_id: credit,
        amount: Some(Decimal::new(minor, 2)),
        currency: Currency::INR,
        phase: Phase::Single,
        pending_id: None,
        timeout_secs: 0,
        linked: false,
        code: Some(code),
        reference: None,
        flags: TransferFlags::default(),
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    }
}

pub async fn ledger_accounts_open_once_and_balances_are_private<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let (alice, wallet) = b.wallet().await;
    let again = b.ledger.open_wallet(&alice, alice.user_id().unwrap(), Currency::INR).await.unwrap();
    assert_eq!(again.id, wallet.id, "one wallet per owner and currency");
    let clearing = b.ledger.system_account(&Actor::System, AccountKind::GatewayClearing, Currency::INR).await.unwrap();
    assert_eq!(clearing.id, b.clearing.id);
    let (bob, _) = b.wallet().await;
    assert_eq!(
        b.ledger.open_wallet(&bob, alice.user_id().unwrap(), Currency::USD).await.unwrap_err().code,
        ErrorCode::Forbidden
    );
    assert_eq!(b.ledger.balance(&bob, wallet.id).await.unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(b.ledger.balance(&alice, wallet.id).await.unwrap().available.to_minor(), Some(0));
    // Users do not move money directly, and nobody tops up without a verified payment.
    let t = transfer(b.clearing.id, wallet.id, 100, TransferCode::TopUp);
    assert_eq!(b.ledger.create_transfers(&alice, vec![t.clone()]).await.unwrap_err().code, ErrorCode::Forbidden);
    let out = b.ledger.create_transfers(&Actor::System, vec![t]).await.unwrap();
    assert_eq!(out[0].result, R::TopUpRequiresVerifiedPayment);
    let sneaky = transfer(b.clearing.id, wallet.id, 100, TransferCode::Adjustment);
    assert_eq!(
        b.ledger.create_transfers(&Actor::System, vec![sneaky]).await.unwrap()[0].result,
        R::WalletCreditNotAllowed
    );
    assert_eq!(b.balance(&wallet).await, Balance::default());
}

pub async fn ledger_transfers_apply_once_and_failures_keep_failing<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let (alice, wallet) = b.wallet().await;
    b.top_up(&wallet, 10_000).await;
    let buy = transfer(wallet.id, b.revenue.id, 2_500, TransferCode::Purchase);
    for expected in [R::Ok, R::Exists, R::Exists] {
        assert_eq!(b.ledger.create_transfers(&Actor::System, vec![buy.clone()]).await.unwrap()[0].result, expected);
    }
    let mut changed = buy.clone();
    changed.amount = Some(Decimal::new(2_600, 2));
    assert_eq!(
        b.ledger.create_transfers(&Actor::System, vec![changed]).await.unwrap()[0].result,
        R::ExistsWithDifferentAmount
    );
    let too_much = transfer(wallet.id, b.revenue.id, 20_000, TransferCode::Purchase);
    assert_eq!(
        b.ledger.create_transfers(&Actor::System, vec![too_much.clone()]).await.unwrap()[0].result,
        R::ExceedsCredits
    );
    b.top_up(&wallet, 50_000).await;
    // TigerBeetle, docs/reference/requests/create_transfers.md, `exceeds_credits`: "This is a
    // transient error. The Transfer.id associated with this particular attempt will always fail upon
    // retry, even if the underlying issue is resolved."
    assert_eq!(
        b.ledger.create_transfers(&Actor::System, vec![too_much]).await.unwrap()[0].result,
        R::IdAlreadyFailed,
        "an id whose first attempt failed with a transient code stays failed"
    );
    let bal = b.ledger.balance(&alice, wallet.id).await.unwrap();
    assert_eq!(bal.available.to_minor(), Some(57_500));
    assert_eq!(b.ledger.transfer(&Actor::System, buy.id).await.unwrap().amount, 2_500);
    // A linked chain: all or nothing.
    let mut first = transfer(wallet.id, b.revenue.id, 1_000, TransferCode::Purchase);
    first.linked = true;
    let second = transfer(wallet.id, b.revenue.id, 1_000_000, TransferCode::Purchase);
    let out = b.ledger.create_transfers(&Actor::System, vec![first, second]).await.unwrap();
    assert_eq!(out.iter().map(|o| o.result).collect::<Vec<_>>(), [R::LinkedEventFailed, R::ExceedsCredits]);
    assert_eq!(b.ledger.balance(&alice, wallet.id).await.unwrap().available.to_minor(), Some(57_500));
    b.assert_books_balance().await;
}

pub async fn ledger_two_phase_holds_post_void_and_expire_once<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let (_, wallet) = b.wallet().await;
    b.top_up(&wallet, 10_000).await;
    let mut hold = transfer(wallet.id, b.revenue.id, 4_000, TransferCode::Hold);
    hold.phase = Phase::Pending;
    hold.timeout_secs = 60;
    assert_eq!(b.ledger.create_transfers(&Actor::System, vec![hold.clone()]).await.unwrap()[0].result, R::Ok);
    let bal = b.balance(&wallet).await;
    assert_eq!((bal.debits_pending, bal.available()), (4_000, Some(6_000)));
    // Partial post: 3000 posted, 1000 released.
    let mut post = transfer(wallet.id, b.revenue.id, 3_000, TransferCode::Hold);
    post.phase = Phase::PostPending;
    post.pending_id = Some(hold.id);
    assert_eq!(b.ledger.create_transfers(&Actor::System, vec![post]).await.unwrap()[0].result, R::Ok);
    let bal = b.balance(&wallet).await;
    assert_eq!((bal.debits_pending, bal.debits_posted, bal.available()), (0, 3_000, Some(7_000)));
    let mut void = transfer(wallet.id, b.revenue.id, 0, TransferCode::Hold);
    void.amount = None;
    void.phase = Phase::VoidPending;
    void.pending_id = Some(hold.id);
    assert_eq!(
        b.ledger.create_transfers(&Actor::System, vec![void]).await.unwrap()[0].result,
        R::PendingTransferAlreadyPosted
    );
    // Expiry: the sweep releases a lapsed hold exactly once, even when sweeps race.
    let mut lapse = transfer(wallet.id, b.revenue.id, 2_000, TransferCode::Hold);
    lapse.phase = Phase::Pending;
    lapse.timeout_secs = 30;
    b.ledger.create_transfers(&Actor::System, vec![lapse.clone()]).await.unwrap();
    assert!(b.ledger.expire_pending(&Actor::System, 100).await.unwrap().is_empty(), "not yet");
    b.clock.advance(chrono::Duration::seconds(31));
    let mut late = transfer(wallet.id, b.revenue.id, 0, TransferCode::Hold);
    late.amount = None;
    late.phase = Phase::PostPending;
    late.pending_id = Some(lapse.id);
    assert_eq!(
        b.ledger.create_transfers(&Actor::System, vec![late]).await.unwrap()[0].result,
        R::PendingTransferExpired
    );
    let ledger = Arc::new(b.ledger.clone());
    let sweeps: Vec<_> = (0..4)
        .map(|_| {
            let l = ledger.clone();
            tokio::spawn(async move { l.expire_pending(&Actor::System, 100).await })
        })
        .collect();
    let mut released = 0;
    for s in sweeps {
        released += s.await.unwrap().map(|v| v.len()).unwrap_or(0);
    }
    assert_eq!(released, 1, "released exactly once across racing sweeps");
    let bal = b.balance(&wallet).await;
    assert_eq!((bal.debits_pending, bal.available()), (0, Some(7_000)));
    assert_eq!(b.ledger.expire_pending(&Actor::Anonymous, 1).await.unwrap_err().code, ErrorCode::Unauthenticated);
    b.assert_books_balance().await;
}

pub async fn ledger_concurrent_debits_never_overdraw<S: Store + Clone + 'static>(store: S) {
    const SPENDERS: usize = 32;
    let b = Arc::new(Books::new(store).await);
    let (_, wallet) = b.wallet().await;
    b.top_up(&wallet, 20 * 1_000).await; // room for exactly 20 debits of 10.00
    let barrier = Arc::new(tokio::sync::Barrier::new(SPENDERS));
    let tasks: Vec<_> = (0..SPENDERS)
        .map(|_| {
            let (b, barrier, wallet) = (b.clone(), barrier.clone(), wallet.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let t = transfer(wallet.id, b.revenue.id, 1_000, TransferCode::Purchase);
                b.ledger.create_transfers(&Actor::System, vec![t]).await
            })
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(out) if out[0].result == R::Ok => ok += 1,
            Ok(out) => {
                assert_eq!(out[0].result, R::ExceedsCredits);
                refused += 1;
            }
            Err(e) => panic!("a debit failed outright: {e:?}"),
        }
    }
    assert_eq!((ok, refused), (20, 12), "exactly the funds available are spent");
    let bal = b.balance(&wallet).await;
    assert_eq!((bal.debits_posted, bal.available()), (20_000, Some(0)));
    assert_eq!(b.balance(&b.revenue).await.credits_posted, 20_000, "money is conserved");
    b.assert_books_balance().await;
}

pub async fn ledger_concurrent_post_and_void_exactly_one_wins<S: Store + Clone + 'static>(store: S) {
    // The one right answer for the loser: TigerBeetle checks a post/void's amount before the hold's
    // state (docs/reference/requests/create_transfers.md lists `exceeds_pending_transfer_amount` and
    // `pending_transfer_has_different_amount` before `pending_transfer_already_posted` /
    // `pending_transfer_already_voided`, "in order of descending precedence"). Both racers ask for the
    // whole hold, so their amounts pass, and the loser is told what the winner did: a losing void
    // gets `pending_transfer_already_posted`, a losing post `pending_transfer_already_voided` — a
    // documented answer, so not the runner's `conflict`. Neither loss is transient, so the loser's id
    // is not recorded.
    let b = Arc::new(Books::new(store).await);
    let (_, wallet) = b.wallet().await;
    b.top_up(&wallet, 100_000).await;
    let (mut posted, mut voided) = (0, 0);
    for round in 0..8 {
        let mut hold = transfer(wallet.id, b.revenue.id, 1_000, TransferCode::Hold);
        hold.phase = Phase::Pending;
        assert_eq!(b.ledger.create_transfers(&Actor::System, vec![hold.clone()]).await.unwrap()[0].result, R::Ok);
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let racers: Vec<TransferInput> = [Phase::PostPending, Phase::VoidPending]
            .into_iter()
            .map(|phase| {
                let mut t = transfer(wallet.id, b.revenue.id, 0, TransferCode::Hold);
                t.amount = None;
                t.phase = phase;
                t.pending_id = Some(hold.id);
                t
            })
            .collect();
        let tasks: Vec<_> = racers
            .iter()
            .cloned()
            .map(|t| {
                let (b, barrier) = (b.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    b.ledger.create_transfers(&Actor::System, vec![t]).await.unwrap()[0].result
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let expected = match results[0] {
            R::Ok => {
                posted += 1;
                [R::Ok, R::PendingTransferAlreadyPosted]
            }
            _ => {
                voided += 1;
                [R::PendingTransferAlreadyVoided, R::Ok]
            }
        };
        assert_eq!(results, expected, "round {round}: one winner, and the loser told what the winner did");
        // Exactly the winner's record exists; the loser's id was not pinned.
        let (winner, loser) = if results[0] == R::Ok { (&racers[0], &racers[1]) } else { (&racers[1], &racers[0]) };
        let recorded = b.store().ledger_transfers(&[winner.id, loser.id]).await.unwrap();
        assert_eq!(
            recorded.iter().map(|t| (t.id, t.result, t.amount)).collect::<Vec<_>>(),
            [(winner.id, R::Ok, 1_000)]
        );
        let bal = b.balance(&wallet).await;
        assert_eq!(
            (bal.debits_pending, bal.debits_posted, bal.credits_posted),
            (0, posted * 1_000, 100_000),
            "round {round}: the hold is released and only posts moved money"
        );
        assert_eq!(b.balance(&b.revenue).await.credits_posted, posted * 1_000);
    }
    assert_eq!(posted + voided, 8);
    b.assert_books_balance().await;
}

pub async fn ledger_reconciliation_freezes_a_tampered_account<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let (alice, wallet) = b.wallet().await;
    b.top_up(&wallet, 5_000).await;
    b.assert_books_balance().await;
    // Someone changes the cached balance behind the ledger's back.
    let tamper = Write::Delta {
        kind: <Account as Entity>::kind(),
        id: wallet.id.as_uuid(),
        add: vec![("credits_posted", 1_000_000)],
        require: vec![("frozen", Value::Bool(false)), ("closed", Value::Bool(false))],
    };
    b.store().commit(ChangeSet { writes: vec![tamper], ..ChangeSet::default() }).await.unwrap();
    let before = b.store().outbox_after(0, 10_000).await.unwrap().len();
    let report = b.ledger.reconcile(&Actor::System).await.unwrap();
    assert_eq!(report.mismatches.len(), 1);
    assert_eq!(report.mismatches[0].account, wallet.id);
    assert_eq!(report.mismatches[0].computed.credits_posted, 5_000);
    assert_eq!(report.unbalanced_currencies, [Currency::INR], "Σdebits ≠ Σcredits too");
    let events = b.store().outbox_after(0, 10_000).await.unwrap();
    let topics: Vec<&str> = events[before..].iter().map(|(_, e)| e.topic.as_str()).collect();
    assert!(
        topics.contains(&"alert.p0.ledger_mismatch") && topics.contains(&"alert.p0.ledger_unbalanced"),
        "{topics:?}"
    );
    let bal = b.ledger.balance(&alice, wallet.id).await.unwrap();
    assert!(bal.frozen);
    let spend = transfer(wallet.id, b.revenue.id, 100, TransferCode::Purchase);
    assert_eq!(b.ledger.create_transfers(&Actor::System, vec![spend]).await.unwrap()[0].result, R::DebitAccountFrozen);
    assert_eq!(b.ledger.reconcile(&alice).await.unwrap_err().code, ErrorCode::Forbidden);
}

#[derive(Debug, Clone)]
enum Move {
    TopUp(usize, i64),
    Spend(usize, i64),
    Hold(usize, i64),
    Resolve(usize, bool),
    Retry(usize),
    Tick,
}

fn moves() -> impl Strategy<Value = Vec<Move>> {
    let m = prop_oneof![
        2 => (0usize..3, 1i64..3000).prop_map(|(w, a)| Move::TopUp(w, a)),
        3 => (0usize..3, 1i64..3000).prop_map(|(w, a)| Move::Spend(w, a)),
        2 => (0usize..3, 1i64..3000).prop_map(|(w, a)| Move::Hold(w, a)),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(i, p)| Move::Resolve(i, p)),
        1 => any::<usize>().prop_map(Move::Retry),
        1 => Just(Move::Tick),
    ];
    prop::collection::vec(m, 10..40)
}

pub async fn ledger_random_operations_keep_every_invariant<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let mut wallets = Vec::new();
    for _ in 0..3 {
        wallets.push(b.wallet().await.1);
    }
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut sent: Vec<TransferInput> = Vec::new();
    let mut holds: Vec<TransferInput> = Vec::new();
    let mut released_exactly_at_expiry = 0;
    for _case in 0..4 {
        let seq = moves().new_tree(&mut runner).unwrap().current();
        for m in seq {
            let t = match m {
                Move::TopUp(w, a) => transfer(b.clearing.id, wallets[w].id, a, TransferCode::TopUp),
                Move::Spend(w, a) => transfer(wallets[w].id, b.revenue.id, a, TransferCode::Purchase),
                Move::Hold(w, a) => {
                    let mut t = transfer(wallets[w].id, b.revenue.id, a, TransferCode::Hold);
                    t.phase = Phase::Pending;
                    // 40 s = two ticks: resolutions after ticks land exactly on the expiry instant.
                    t.timeout_secs = 40;
                    holds.push(t.clone());
                    t
                }
                Move::Resolve(i, post) if !holds.is_empty() => {
                    let h = &holds[i % holds.len()];
                    let mut t = transfer(h.debit_account_id, h.credit_account_id, 0, TransferCode::Hold);
                    t.amount = None;
                    t.phase = if post { Phase::PostPending } else { Phase::VoidPending };
                    t.pending_id = Some(h.id);
                    t
                }
                Move::Retry(i) if !sent.is_empty() => sent[i % sent.len()].clone(),
                Move::Tick | Move::Resolve(..) | Move::Retry(_) => {
                    b.clock.advance(chrono::Duration::seconds(20));
                    let now = b.clock.now();
                    for id in b.ledger.expire_pending(&Actor::System, 100).await.unwrap() {
                        let hold = b.ledger.transfer(&Actor::System, id).await.unwrap();
                        assert!(hold.expires_at.is_some_and(|e| e <= now), "released before its expiry");
                        if hold.expires_at == Some(now) {
                            released_exactly_at_expiry += 1;
                        }
                    }
                    continue;
                }
            };
            let before: Vec<Balance> = {
                let mut v = Vec::new();
                for w in &wallets {
                    v.push(b.balance(w).await);
                }
                v
            };
            let out = b.verified(vec![t.clone()]).await;
            if out[0].result != R::Ok {
                for (w, old) in wallets.iter().zip(&before) {
                    assert_eq!(b.balance(w).await, *old, "{:?} moved money", out[0].result);
                }
            }
            sent.push(t);
            for w in &wallets {
                let bal = b.balance(w).await;
                assert!(bal.available().is_some_and(|a| a >= 0), "a wallet went negative: {bal:?}");
            }
        }
        b.assert_books_balance().await;
    }
    // The generator lands the sweep exactly on expiry (holds of 40 s, ticks of 20 s), not past it.
    assert!(released_exactly_at_expiry > 0, "no hold was released exactly at its expiry");
}

crate::conformance_cases!("ledger";
    ledger_accounts_open_once_and_balances_are_private,
    ledger_transfers_apply_once_and_failures_keep_failing,
    ledger_two_phase_holds_post_void_and_expire_once,
    ledger_concurrent_debits_never_overdraw,
    ledger_concurrent_post_and_void_exactly_one_wins,
    ledger_reconciliation_freezes_a_tampered_account,
    ledger_random_operations_keep_every_invariant,
    ledger_answers_as_tigerbeetle_documents,
    ledger_accounts_answer_as_tigerbeetle_documents,
    ledger_history_and_filtered_reads_as_tigerbeetle_documents,
    ledger_concurrent_account_creation_exactly_one_creates,
    ledger_concurrent_transfers_keep_one_history,
    ledger_reconciliation_checks_closing_holds,
    ledger_currency_totals_are_exact_past_i64,
    ledger_a_wallet_history_migrates_in_order,
);

// ---------------------------------------------------------------------------------------------
// The scenario table: TigerBeetle's documented answers, on every store.
// ---------------------------------------------------------------------------------------------

/// Inserts an account the way the accounts API does (a caller `code`, so beside hearth's own
/// accounts); test setup only (it may carry flags `create_accounts` does not set, like `frozen`).
async fn raw_account<S: Store>(store: &S, currency: Currency, flags: AccountFlags) -> Account {
    raw_account_at(store, currency, flags, super::fixtures::epoch()).await
}

/// [`raw_account`] created at `at`.
async fn raw_account_at<S: Store>(store: &S, currency: Currency, flags: AccountFlags, at: Timestamp) -> Account {
    let mut a = Account::managed(AccountId::from_uuid(Uuid::now_v7()), None, AccountKind::Ledger, currency, flags, at);
    a.code = 1;
    let write =
        Write::Row { kind: <Account as Entity>::kind(), id: a.id.as_uuid(), row: a.to_row(), expect: Expect::Absent };
    store.commit(ChangeSet { writes: vec![write], ..ChangeSet::default() }).await.unwrap();
    a
}

fn minor_input(debit: AccountId, credit: AccountId, minor: i64) -> TransferInput {
    transfer(debit, credit, minor, TransferCode::Adjustment)
}

fn hold_input(debit: AccountId, credit: AccountId, minor: i64) -> TransferInput {
    TransferInput { phase: Phase::Pending, ..transfer(debit, credit, minor, TransferCode::Hold) }
}

/// A post/void naming only its hold (every other field empty: inherited).
fn resolve_input(pending: TransferId, phase: Phase, minor: Option<i64>) -> TransferInput {
    TransferInput {
        debit_account_id: AccountId::from_uuid(Uuid::nil()),
        credit_account_id: AccountId::from_uuid(Uuid::nil()),
        amount: minor.map(|m| Decimal::new(m, 2)),
        phase,
        pending_id: Some(pending),
        code: None,
        ..transfer(AccountId::from_uuid(Uuid::nil()), AccountId::from_uuid(Uuid::nil()), 0, TransferCode::Hold)
    }
}

/// Runs one row: the batch's results must be `expected`; a batch that applied nothing and failed
/// with no transient code (which pins its id by a record) wrote nothing at all.
async fn row<S: Store + Clone + 'static>(
    b: &Books<S>,
    seen: &mut Vec<R>,
    verified: bool,
    batch: Vec<TransferInput>,
    expected: &[R],
) {
    let before = super::digest(b.store()).await;
    let out = if verified {
        b.verified(batch.clone()).await
    } else {
        b.ledger.create_transfers(&Actor::System, batch.clone()).await.unwrap()
    };
    let got: Vec<R> = out.iter().map(|o| o.result).collect();
    assert_eq!(got, expected, "batch {batch:?}");
    seen.extend(&got);
    if got.iter().all(|r| !matches!(r, R::Ok) && !r.is_transient()) {
        assert_eq!(super::digest(b.store()).await, before, "a refusal wrote something: {got:?}");
    }
}

pub async fn ledger_answers_as_tigerbeetle_documents<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let s = b.store();
    let open = AccountFlags::default();
    let limited = AccountFlags { debits_must_not_exceed_credits: true, ..open };
    let credit_limited = AccountFlags { credits_must_not_exceed_debits: true, ..open };
    let (x, y, z) = (
        raw_account(s, Currency::INR, open).await,
        raw_account(s, Currency::INR, open).await,
        raw_account(s, Currency::INR, open).await,
    );
    let l = raw_account(s, Currency::INR, limited).await;
    let k = raw_account(s, Currency::INR, credit_limited).await;
    let usd = raw_account(s, Currency::USD, open).await;
    let frozen = raw_account(s, Currency::INR, AccountFlags { frozen: true, ..open }).await;
    let (_, wallet) = b.wallet().await;
    let missing = AccountId::from_uuid(Uuid::now_v7());
    let nil = AccountId::from_uuid(Uuid::nil());
    let mut seen = Vec::new();
    let v = &mut seen;

    // --- Two-phase transfers: docs/coding/two-phase-transfers.md, docs/reference/transfer.md ---
    let h1 = hold_input(x.id, y.id, 123);
    row(&b, v, true, vec![h1.clone()], &[R::Ok]).await;
    // create_transfers.md, `pending_transfer_has_different_amount`: "The voiding transfer's amount
    // must be either 0 or exactly the amount of the pending transfer." (issue 13, difference 1)
    row(
        &b,
        v,
        true,
        vec![resolve_input(h1.id, Phase::VoidPending, Some(100))],
        &[R::PendingTransferHasDifferentAmount],
    )
    .await;
    // `exceeds_pending_transfer_amount`: "The transfer's amount exceeds the amount of its pending transfer."
    row(&b, v, true, vec![resolve_input(h1.id, Phase::PostPending, Some(124))], &[R::ExceedsPendingTransferAmount])
        .await;
    // `pending_transfer_has_different_ledger`: "The post/void transfer's ledger must either be 0 or
    // identical to the pending transfer's ledger." (difference 3)
    let mut other_currency = resolve_input(h1.id, Phase::PostPending, None);
    other_currency.currency = Currency::USD;
    row(&b, v, true, vec![other_currency], &[R::PendingTransferHasDifferentLedger]).await;
    // `pending_transfer_has_different_code`: "The post/void transfer's code must either be 0 or
    // identical to the pending transfer's code." (difference 4: refused, nothing moves)
    let mut other_code = resolve_input(h1.id, Phase::PostPending, None);
    other_code.code = Some(TransferCode::Fee);
    row(&b, v, true, vec![other_code], &[R::PendingTransferHasDifferentCode]).await;
    // `pending_transfer_has_different_debit_account_id`: "The post/void transfer's debit_account_id
    // must either be 0 or identical to the pending transfer's debit_account_id." (and credit)
    let mut other_debit = resolve_input(h1.id, Phase::PostPending, None);
    other_debit.debit_account_id = z.id;
    row(&b, v, true, vec![other_debit], &[R::PendingTransferHasDifferentDebitAccountId]).await;
    let mut other_credit = resolve_input(h1.id, Phase::VoidPending, None);
    other_credit.credit_account_id = z.id;
    row(&b, v, true, vec![other_credit], &[R::PendingTransferHasDifferentCreditAccountId]).await;
    // Precedence: the accounts are compared before the amount (debit before `exceeds_pending_transfer_amount`).
    let mut two_wrong = resolve_input(h1.id, Phase::PostPending, Some(999));
    two_wrong.debit_account_id = z.id;
    row(&b, v, true, vec![two_wrong], &[R::PendingTransferHasDifferentDebitAccountId]).await;
    // `timeout_reserved_for_pending_transfer`: "Transfer.timeout is nonzero, but only pending
    // transfers have nonzero timeouts."
    let mut timed = resolve_input(h1.id, Phase::PostPending, None);
    timed.timeout_secs = 5;
    row(&b, v, true, vec![timed], &[R::TimeoutReservedForPendingTransfer]).await;
    // `pending_id_must_be_different`: "Transfer.pending_id is set to the same id as Transfer.id."
    let mut own = resolve_input(h1.id, Phase::PostPending, None);
    own.pending_id = Some(own.id);
    row(&b, v, true, vec![own], &[R::PendingIdMustBeDifferent]).await;
    // `pending_id_must_not_be_zero`: "A posting or voiding transfer must reference a pending transfer."
    let mut no_pending = resolve_input(h1.id, Phase::VoidPending, None);
    no_pending.pending_id = None;
    row(&b, v, true, vec![no_pending], &[R::PendingIdMustNotBeZero]).await;
    // `flags_are_mutually_exclusive`: post_pending_transfer "✗ flags.balancing_debit".
    let mut balancing_post = resolve_input(h1.id, Phase::PostPending, None);
    balancing_post.flags.balancing_debit = true;
    row(&b, v, true, vec![balancing_post], &[R::FlagsAreMutuallyExclusive]).await;
    // `pending_transfer_not_found`: "The transfer referenced by Transfer.pending_id does not exist."
    // — a transient error: recorded, and the id is pinned.
    let ghost = resolve_input(TransferId::from_uuid(Uuid::now_v7()), Phase::PostPending, None);
    row(&b, v, true, vec![ghost.clone()], &[R::PendingTransferNotFound]).await;
    // `id_already_failed`: "A previous transfer with the same id failed due to one of the following
    // transient errors".
    row(&b, v, true, vec![ghost], &[R::IdAlreadyFailed]).await;
    let plain = minor_input(x.id, y.id, 10);
    row(&b, v, true, vec![plain.clone()], &[R::Ok]).await;
    // `pending_transfer_not_pending`: "The transfer referenced by Transfer.pending_id exists, but does
    // not have flags.pending set."
    row(&b, v, true, vec![resolve_input(plain.id, Phase::PostPending, None)], &[R::PendingTransferNotPending]).await;
    // transfer.md, `amount`: post "must be less than or equal to the pending transfer's amount" — a
    // partial post; its empty fields take the pending transfer's.
    let partial = resolve_input(h1.id, Phase::PostPending, Some(100));
    row(&b, v, true, vec![partial.clone()], &[R::Ok]).await;
    let rec = b.ledger.transfer(&Actor::System, partial.id).await.unwrap();
    assert_eq!(
        (rec.debit_account_id, rec.credit_account_id, rec.code, rec.amount),
        (x.id, y.id, TransferCode::Hold, 100),
        "a post's empty fields inherit from the pending transfer"
    );
    // create_transfers.md, `exists`: "If the original posted amount was less than the pending amount,
    // then the transfer amount must be equal to the posted amount." (difference 6)
    row(
        &b,
        v,
        true,
        vec![TransferInput { id: partial.id, ..resolve_input(h1.id, Phase::PostPending, None) }],
        &[R::ExistsWithDifferentAmount],
    )
    .await;
    row(&b, v, true, vec![partial.clone()], &[R::Exists]).await;
    // `pending_transfer_already_posted`: "The referenced pending transfer was already posted".
    row(&b, v, true, vec![resolve_input(h1.id, Phase::VoidPending, None)], &[R::PendingTransferAlreadyPosted]).await;
    // Precedence (difference 2): the amount codes are listed before the `already_*` codes.
    let h2 = hold_input(x.id, y.id, 100);
    row(&b, v, true, vec![h2.clone(), resolve_input(h2.id, Phase::VoidPending, None)], &[R::Ok, R::Ok]).await;
    row(&b, v, true, vec![resolve_input(h2.id, Phase::PostPending, Some(200))], &[R::ExceedsPendingTransferAmount])
        .await;
    // `pending_transfer_already_voided`: "The referenced pending transfer was already voided".
    row(&b, v, true, vec![resolve_input(h2.id, Phase::PostPending, None)], &[R::PendingTransferAlreadyVoided]).await;
    // `pending_transfer_expired`: "The referenced pending transfer was already voided because its
    // timeout has passed." — exactly at the expiry instant (`expires_at <= now`), one second before not.
    let (mut h3, mut h4) = (hold_input(x.id, y.id, 50), hold_input(x.id, y.id, 50));
    (h3.timeout_secs, h4.timeout_secs) = (30, 31);
    row(&b, v, true, vec![h3.clone(), h4.clone()], &[R::Ok, R::Ok]).await;
    b.clock.advance(chrono::Duration::seconds(30));
    row(&b, v, true, vec![resolve_input(h3.id, Phase::PostPending, None)], &[R::PendingTransferExpired]).await;
    row(&b, v, true, vec![resolve_input(h4.id, Phase::PostPending, None)], &[R::Ok]).await;

    // --- Resubmissions: create_transfers.md, `exists_with_different_*` in order ---
    let mut s1 = minor_input(x.id, y.id, 500);
    (s1.user_data_128, s1.user_data_64, s1.user_data_32) = (Some(Uuid::from_u128(7)), 64, 32);
    s1.reference = Some("r".into());
    row(&b, v, true, vec![s1.clone()], &[R::Ok]).await;
    // `exists`: "the existing transfer is identical to the transfer in the request."
    row(&b, v, true, vec![s1.clone()], &[R::Exists]).await;
    // `exists_with_different_flags` — `linked` added (difference 5); inside a chain the failure fails
    // the chain: `linked_event_failed` "One or more of the other transfers in the linked chain is invalid".
    let next = minor_input(x.id, y.id, 1);
    row(
        &b,
        v,
        true,
        vec![TransferInput { linked: true, ..s1.clone() }, next.clone()],
        &[R::ExistsWithDifferentFlags, R::LinkedEventFailed],
    )
    .await;
    let mut changed = s1.clone();
    changed.pending_id = Some(TransferId::from_uuid(Uuid::now_v7()));
    row(&b, v, true, vec![changed], &[R::ExistsWithDifferentPendingId]).await;
    row(&b, v, true, vec![TransferInput { timeout_secs: 5, ..s1.clone() }], &[R::ExistsWithDifferentTimeout]).await;
    row(
        &b,
        v,
        true,
        vec![TransferInput { debit_account_id: z.id, ..s1.clone() }],
        &[R::ExistsWithDifferentDebitAccountId],
    )
    .await;
    row(
        &b,
        v,
        true,
        vec![TransferInput { credit_account_id: z.id, ..s1.clone() }],
        &[R::ExistsWithDifferentCreditAccountId],
    )
    .await;
    // Amount before ledger (difference 5): both differ, the amount is named.
    let amount_and_currency =
        TransferInput { amount: Some(Decimal::new(600, 2)), currency: Currency::USD, ..s1.clone() };
    row(&b, v, true, vec![amount_and_currency], &[R::ExistsWithDifferentAmount]).await;
    row(&b, v, true, vec![TransferInput { user_data_128: None, ..s1.clone() }], &[R::ExistsWithDifferentUserData128])
        .await;
    row(&b, v, true, vec![TransferInput { user_data_64: 1, ..s1.clone() }], &[R::ExistsWithDifferentUserData64]).await;
    row(&b, v, true, vec![TransferInput { user_data_32: 1, ..s1.clone() }], &[R::ExistsWithDifferentUserData32]).await;
    row(&b, v, true, vec![TransferInput { reference: None, ..s1.clone() }], &[R::ExistsWithDifferentReference]).await;
    row(&b, v, true, vec![TransferInput { currency: Currency::USD, ..s1.clone() }], &[R::ExistsWithDifferentLedger])
        .await;
    row(
        &b,
        v,
        true,
        vec![TransferInput { code: Some(TransferCode::Fee), ..s1.clone() }],
        &[R::ExistsWithDifferentCode],
    )
    .await;

    // --- Validation, in order: nothing written, the id stays free ---
    // `linked_event_chain_open`: "The Transfer.flags.linked flag was set on the last event in the
    // batch" — listed before `id_must_not_be_zero`.
    let nil_id = TransferInput { id: TransferId::from_uuid(Uuid::nil()), ..minor_input(x.id, y.id, 1) };
    row(&b, v, true, vec![TransferInput { linked: true, ..nil_id.clone() }], &[R::LinkedEventChainOpen]).await;
    // `id_must_not_be_zero`: "Transfer.id is zero, which is a reserved value."
    row(&b, v, true, vec![nil_id], &[R::IdMustNotBeZero]).await;
    // `debit_account_id_must_not_be_zero` / `credit_account_id_must_not_be_zero`.
    row(&b, v, true, vec![minor_input(nil, y.id, 1)], &[R::DebitAccountIdMustNotBeZero]).await;
    row(&b, v, true, vec![minor_input(x.id, nil, 1)], &[R::CreditAccountIdMustNotBeZero]).await;
    // `accounts_must_be_different`: "an account cannot transfer money to itself" — before `debit_account_not_found`.
    row(&b, v, true, vec![minor_input(missing, missing, 1)], &[R::AccountsMustBeDifferent]).await;
    // `pending_id_must_be_zero`: "Only post/void transfers can reference a pending transfer."
    row(
        &b,
        v,
        true,
        vec![TransferInput { pending_id: Some(h1.id), ..minor_input(x.id, y.id, 1) }],
        &[R::PendingIdMustBeZero],
    )
    .await;
    row(
        &b,
        v,
        true,
        vec![TransferInput { timeout_secs: 1, ..minor_input(x.id, y.id, 1) }],
        &[R::TimeoutReservedForPendingTransfer],
    )
    .await;
    // `closing_transfer_must_be_pending`: "closing transfers must be two-phase pending transfers."
    let mut closing_single = minor_input(x.id, y.id, 1);
    closing_single.flags.closing_debit = true;
    row(&b, v, true, vec![closing_single], &[R::ClosingTransferMustBePending]).await;
    // hearth: no zero-amount transfers (ARCHITECTURE.md, Ledger); the corrected request reuses the id
    // (`id_already_failed` note: "correcting a previously rejected malformed request").
    let zero = minor_input(x.id, y.id, 0);
    row(&b, v, true, vec![zero.clone()], &[R::AmountMustBePositive]).await;
    row(&b, v, true, vec![TransferInput { amount: Some(Decimal::new(1, 2)), ..zero }], &[R::Ok]).await;
    row(
        &b,
        v,
        true,
        vec![TransferInput { amount: Some(Decimal::new(1001, 3)), ..minor_input(x.id, y.id, 0) }],
        &[R::AmountTooPrecise],
    )
    .await;
    // `code_must_not_be_zero`: "Transfer.code is zero, but must be nonzero."
    row(&b, v, true, vec![TransferInput { code: None, ..minor_input(x.id, y.id, 1) }], &[R::CodeMustNotBeZero]).await;
    row(
        &b,
        v,
        true,
        vec![TransferInput { reference: Some("x".repeat(201)), ..minor_input(x.id, y.id, 1) }],
        &[R::ReferenceTooLong],
    )
    .await;
    row(&b, v, false, vec![transfer(x.id, y.id, 1, TransferCode::TopUp)], &[R::TopUpRequiresVerifiedPayment]).await;
    row(&b, v, false, vec![transfer(x.id, y.id, 1, TransferCode::Refund)], &[R::RefundRequiresRefundPath]).await;
    // `accounts_must_have_the_same_ledger` / `transfer_must_have_the_same_ledger_as_accounts`.
    row(&b, v, true, vec![minor_input(x.id, usd.id, 1)], &[R::AccountsMustHaveTheSameLedger]).await;
    row(
        &b,
        v,
        true,
        vec![TransferInput { currency: Currency::USD, ..minor_input(x.id, y.id, 1) }],
        &[R::TransferMustHaveTheSameLedgerAsAccounts],
    )
    .await;
    row(&b, v, true, vec![minor_input(x.id, wallet.id, 1)], &[R::WalletCreditNotAllowed]).await;
    // `debit_account_not_found` / `credit_account_not_found`: transient (recorded).
    row(&b, v, true, vec![minor_input(missing, y.id, 1)], &[R::DebitAccountNotFound]).await;
    row(&b, v, true, vec![minor_input(x.id, missing, 1)], &[R::CreditAccountNotFound]).await;
    row(&b, v, true, vec![minor_input(frozen.id, y.id, 1)], &[R::DebitAccountFrozen]).await;
    row(&b, v, true, vec![minor_input(x.id, frozen.id, 1)], &[R::CreditAccountFrozen]).await;
    // `exceeds_credits`: "debit_account.debits_pending + debit_account.debits_posted + transfer.amount
    // would exceed debit_account.credits_posted." — transient: retried after funding, still failed.
    let overdraw = minor_input(l.id, y.id, 1);
    row(&b, v, true, vec![overdraw.clone()], &[R::ExceedsCredits]).await;
    // `exceeds_debits`: "credit_account.credits_pending + credit_account.credits_posted +
    // transfer.amount would exceed credit_account.debits_posted."
    row(&b, v, true, vec![minor_input(x.id, k.id, 1)], &[R::ExceedsDebits]).await;
    row(&b, v, true, vec![minor_input(x.id, l.id, 300)], &[R::Ok]).await;
    row(&b, v, true, vec![overdraw], &[R::IdAlreadyFailed]).await;
    // hearth keeps timeouts within 30 days: beyond, the expiry overflows.
    row(
        &b,
        v,
        true,
        vec![TransferInput { timeout_secs: TIMEOUT_SECS_MAX + 1, ..hold_input(x.id, y.id, 1) }],
        &[R::OverflowsTimeout],
    )
    .await;

    // --- Balancing: transfer.md, `flags.balancing_debit`: "Transfer at most amount — automatically
    // transferring less than amount as necessary such that debit_account.debits_pending +
    // debit_account.debits_posted ≤ debit_account.credits_posted." ---
    let mut sweep = minor_input(l.id, y.id, 1_000);
    sweep.flags.balancing_debit = true;
    row(&b, v, true, vec![sweep.clone()], &[R::Ok]).await;
    assert_eq!(b.ledger.transfer(&Actor::System, sweep.id).await.unwrap().amount, 300, "the amount actually moved");
    // "Otherwise it may return exists even if the retry amount differs from the original value."
    row(&b, v, true, vec![TransferInput { amount: Some(Decimal::new(5_000, 2)), ..sweep.clone() }], &[R::Exists]).await;
    // "…exists_with_different_amount only when the maximum amount passed to create_transfers is
    // insufficient to fulfill the amount that was actually transferred."
    row(
        &b,
        v,
        true,
        vec![TransferInput { amount: Some(Decimal::new(299, 2)), ..sweep.clone() }],
        &[R::ExistsWithDifferentAmount],
    )
    .await;
    // Nothing left to balance (release < 0.16.0: "If the highest amount transferable is 0, returns exceeds_credits.").
    let mut again = minor_input(l.id, y.id, 1_000);
    again.flags.balancing_debit = true;
    row(&b, v, true, vec![again], &[R::ExceedsCredits]).await;
    // balancing_credit: at most what keeps credits ≤ debits on K.
    row(&b, v, true, vec![minor_input(k.id, x.id, 40)], &[R::Ok]).await;
    let mut fill = minor_input(x.id, k.id, 1_000);
    fill.flags.balancing_credit = true;
    row(&b, v, true, vec![fill.clone()], &[R::Ok]).await;
    assert_eq!(b.ledger.transfer(&Actor::System, fill.id).await.unwrap().amount, 40);

    // --- Closing: docs/coding/recipes/close-account.md: "The closing transfer must be also a pending
    // transfer so the action can be reversible." ---
    row(&b, v, true, vec![minor_input(x.id, l.id, 500)], &[R::Ok]).await;
    let lhold = hold_input(l.id, y.id, 100);
    let mut close = TransferInput { amount: None, ..hold_input(l.id, y.id, 0) };
    close.flags.closing_debit = true;
    row(&b, v, true, vec![lhold.clone(), close.clone()], &[R::Ok, R::Ok]).await;
    // `debit_account_already_closed` / `credit_account_already_closed`; closed precedes exceeds_credits.
    row(&b, v, true, vec![minor_input(l.id, y.id, 1_000_000)], &[R::DebitAccountAlreadyClosed]).await;
    row(&b, v, true, vec![minor_input(x.id, l.id, 1)], &[R::CreditAccountAlreadyClosed]).await;
    row(&b, v, true, vec![resolve_input(lhold.id, Phase::PostPending, None)], &[R::DebitAccountAlreadyClosed]).await;
    // state_machine.zig: "The only movement allowed in a closed account is voiding a pending transfer."
    row(&b, v, true, vec![resolve_input(lhold.id, Phase::VoidPending, None)], &[R::Ok]).await;
    // "To re-open the closed account, the pending closing transfer can be voided".
    row(&b, v, true, vec![resolve_input(close.id, Phase::VoidPending, None)], &[R::Ok]).await;
    row(&b, v, true, vec![minor_input(l.id, y.id, 100)], &[R::Ok]).await;

    // --- Overflows (i64 minor units; create_transfers.md `overflows_*`), in USD so the INR books
    // stay summable ---
    const NEAR: i64 = i64::MAX - 10;
    let mut fresh = Vec::new();
    for _ in 0..7 {
        fresh.push(raw_account(s, Currency::USD, open).await);
    }
    let [a1, b1, a2, a3, b3, a5, zz] = [0, 1, 2, 3, 4, 5, 6].map(|i| fresh[i].id);
    let usd_in = |t: TransferInput| TransferInput { currency: Currency::USD, ..t };
    row(&b, v, true, vec![usd_in(hold_input(a1, b1, NEAR)), usd_in(minor_input(a3, b3, NEAR))], &[R::Ok, R::Ok]).await;
    // `overflows_debits_pending`: "debit_account.debits_pending + transfer.amount would overflow".
    row(&b, v, true, vec![usd_in(hold_input(a1, zz, 20))], &[R::OverflowsDebitsPending]).await;
    // `overflows_credits_pending`: "credit_account.credits_pending + transfer.amount would overflow".
    row(&b, v, true, vec![usd_in(hold_input(a2, b1, 20))], &[R::OverflowsCreditsPending]).await;
    // `overflows_debits_posted` / `overflows_credits_posted`.
    row(&b, v, true, vec![usd_in(minor_input(a3, zz, 20))], &[R::OverflowsDebitsPosted]).await;
    row(&b, v, true, vec![usd_in(minor_input(a2, b3, 20))], &[R::OverflowsCreditsPosted]).await;
    // `overflows_debits`: "debit_account.debits_pending + debit_account.debits_posted + transfer.amount would overflow".
    row(&b, v, true, vec![usd_in(minor_input(a1, zz, 20))], &[R::OverflowsDebits]).await;
    // `overflows_credits`: "credit_account.credits_pending + credit_account.credits_posted + transfer.amount would overflow".
    row(&b, v, true, vec![usd_in(minor_input(a5, b1, 20))], &[R::OverflowsCredits]).await;

    // --- Imports: docs/reference/transfer.md, `flags.imported` (the system imports) ---
    b.clock.advance(chrono::Duration::hours(1));
    let now = b.clock.now();
    let ago = |minutes: i64| now.checked_sub(chrono::Duration::minutes(minutes)).unwrap();
    let import = |t: TransferInput, at: Option<Timestamp>| TransferInput {
        flags: TransferFlags { imported: true, ..t.flags },
        timestamp: at,
        ..t
    };
    let late_account = raw_account_at(s, Currency::INR, open, ago(30)).await;
    let i1 = import(minor_input(x.id, y.id, 7), Some(ago(50)));
    // create_transfers.md, `imported_event_expected`: "Batches cannot mix imported transfers with
    // non-imported transfers."
    row(&b, v, true, vec![i1.clone(), minor_input(x.id, y.id, 1)], &[R::Ok, R::ImportedEventExpected]).await;
    let rec = b.ledger.transfer(&Actor::System, i1.id).await.unwrap();
    assert_eq!((rec.created_at, rec.flags.imported), (ago(50), true), "recorded at the caller's timestamp");
    // `imported_event_not_expected`: "The first transfer determines the entire operation."
    row(
        &b,
        v,
        true,
        vec![minor_input(x.id, y.id, 1), import(minor_input(x.id, y.id, 1), Some(ago(45)))],
        &[R::Ok, R::ImportedEventNotExpected],
    )
    .await;
    // `timestamp_must_be_zero`: "The Transfer.timestamp is nonzero, but must be zero."
    row(
        &b,
        v,
        true,
        vec![TransferInput { timestamp: Some(ago(45)), ..minor_input(x.id, y.id, 1) }],
        &[R::TimestampMustBeZero],
    )
    .await;
    // `imported_event_timestamp_out_of_range`: "must be a user-defined timestamp greater than 0".
    row(&b, v, true, vec![import(minor_input(x.id, y.id, 1), None)], &[R::ImportedEventTimestampOutOfRange]).await;
    // `imported_event_timestamp_must_not_advance`: "it must be a past timestamp."
    row(&b, v, true, vec![import(minor_input(x.id, y.id, 1), Some(now))], &[R::ImportedEventTimestampMustNotAdvance])
        .await;
    // `imported_event_timestamp_must_not_regress`: "it must be greater than the last timestamp
    // assigned to any Transfer" — the transfer just made at `now` included.
    row(
        &b,
        v,
        true,
        vec![import(minor_input(x.id, y.id, 1), Some(ago(40)))],
        &[R::ImportedEventTimestampMustNotRegress],
    )
    .await;
    // Advance past every transfer so far; then the imports' own checks.
    b.clock.advance(chrono::Duration::hours(1));
    let now = b.clock.now();
    let ago = |minutes: i64| now.checked_sub(chrono::Duration::minutes(minutes)).unwrap();
    assert!(late_account.created_at < ago(45));
    let later_account = raw_account_at(s, Currency::INR, open, ago(20)).await;
    // `imported_event_timestamp_must_postdate_debit_account`: "must refer to an Account whose
    // timestamp is less than the Transfer.timestamp." (and credit)
    row(
        &b,
        v,
        true,
        vec![import(minor_input(later_account.id, y.id, 1), Some(ago(30)))],
        &[R::ImportedEventTimestampMustPostdateDebitAccount],
    )
    .await;
    row(
        &b,
        v,
        true,
        vec![import(minor_input(x.id, later_account.id, 1), Some(ago(30)))],
        &[R::ImportedEventTimestampMustPostdateCreditAccount],
    )
    .await;
    // `imported_event_timeout_must_be_zero`: "it cannot define a timeout for automatic expiration."
    row(
        &b,
        v,
        true,
        vec![import(TransferInput { timeout_secs: 60, ..hold_input(x.id, y.id, 1) }, Some(ago(30)))],
        &[R::ImportedEventTimeoutMustBeZero],
    )
    .await;
    // A migrated wallet history: its top-ups (the system imports them), a hold and its post, in order.
    let top_up = import(transfer(late_account.id, wallet.id, 900, TransferCode::TopUp), Some(ago(15)));
    let held = import(TransferInput { phase: Phase::Pending, ..minor_input(wallet.id, y.id, 400) }, Some(ago(10)));
    let posted = import(resolve_input(held.id, Phase::PostPending, None), Some(ago(5)));
    row(&b, v, false, vec![top_up.clone(), held.clone(), posted.clone()], &[R::Ok, R::Ok, R::Ok]).await;
    row(&b, v, false, vec![top_up.clone(), held.clone(), posted.clone()], &[R::Exists, R::Exists, R::Exists]).await;
    let bal = b.balance(&wallet).await;
    assert_eq!((bal.credits_posted, bal.debits_posted, bal.debits_pending), (900, 400, 0));
    // Only the system imports: an admin's import is refused, whole.
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    let by_admin = import(minor_input(x.id, y.id, 1), Some(ago(1)));
    super::fixtures::refused(b.store(), ErrorCode::Forbidden, b.ledger.create_transfers(&admin, vec![by_admin])).await;

    // Every code the engine can return was answered by some row.
    let missing_codes: Vec<R> = R::ALL.iter().copied().filter(|r| !seen.contains(r)).collect();
    assert!(missing_codes.is_empty(), "no row reaches {missing_codes:?}");
    b.assert_books_balance().await;
}

// ---------------------------------------------------------------------------------------------
// The accounts API: create_accounts, lookups, history, filtered and paged reads, imports.
// ---------------------------------------------------------------------------------------------

/// An account as a `create_accounts` caller sends it (INR, code 1, no flags).
fn account_input(code: u16) -> AccountInput {
    AccountInput {
        id: AccountId::from_uuid(Uuid::now_v7()),
        currency: Some(Currency::INR),
        code,
        flags: AccountInputFlags::default(),
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    }
}

/// Runs one `create_accounts` row: the results must be `expected`; a batch that created nothing
/// wrote nothing at all.
async fn account_row<S: Store + Clone + 'static>(
    b: &Books<S>,
    seen: &mut Vec<A>,
    actor: &Actor,
    batch: Vec<AccountInput>,
    expected: &[A],
) {
    let before = super::digest(b.store()).await;
    let out = b.ledger.create_accounts(actor, batch.clone()).await.unwrap();
    let got: Vec<A> = out.iter().map(|o| o.result).collect();
    assert_eq!(got, expected, "batch {batch:?}");
    assert_eq!(out.iter().map(|o| o.id).collect::<Vec<_>>(), batch.iter().map(|a| a.id).collect::<Vec<_>>());
    seen.extend(&got);
    if !got.contains(&A::Ok) {
        assert_eq!(super::digest(b.store()).await, before, "a batch that created nothing wrote something: {got:?}");
    }
}

fn linked_input(a: AccountInput) -> AccountInput {
    AccountInput { flags: AccountInputFlags { linked: true, ..a.flags }, ..a }
}

pub async fn ledger_accounts_answer_as_tigerbeetle_documents<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let sys = &Actor::System;
    let mut seen = Vec::new();
    let v = &mut seen;

    // docs/reference/requests/create_accounts.md, `created` (hearth's `ok`): "The account was
    // successfully created; it did not previously exist."
    let mut a1 = account_input(1);
    a1.flags.history = true;
    (a1.user_data_128, a1.user_data_64, a1.user_data_32) = (Some(Uuid::from_u128(128)), 64, 32);
    account_row(&b, v, sys, vec![a1.clone()], &[A::Ok]).await;
    let stored = b.ledger.lookup_accounts(sys, &[a1.id]).await.unwrap();
    assert_eq!(stored.len(), 1);
    let s1 = &stored[0];
    assert_eq!(
        (s1.kind, s1.owner, s1.currency, s1.code, s1.flags.history, s1.user_data_64, s1.balance, s1.created_at),
        (AccountKind::Ledger, None, Currency::INR, 1, true, 64, Balance::default(), b.clock.now()),
        "the account as created"
    );
    // `exists`: "the existing account is identical to the account in the request" — nothing written.
    account_row(&b, v, sys, vec![a1.clone()], &[A::Exists]).await;
    // The `exists_with_different_*` codes, in the documented order.
    let flags_and_code = AccountInput { flags: AccountInputFlags::default(), code: 9, ..a1.clone() };
    // `exists_with_different_flags`: "An account with the same id already exists, but with different
    // flags." — listed first, so it wins over a different code.
    account_row(&b, v, sys, vec![flags_and_code], &[A::ExistsWithDifferentFlags]).await;
    // `exists_with_different_user_data_128` (`_64`, `_32`): "An account with the same id already
    // exists, but with different user_data_128."
    account_row(
        &b,
        v,
        sys,
        vec![AccountInput { user_data_128: None, ..a1.clone() }],
        &[A::ExistsWithDifferentUserData128],
    )
    .await;
    account_row(&b, v, sys, vec![AccountInput { user_data_64: 1, ..a1.clone() }], &[A::ExistsWithDifferentUserData64])
        .await;
    account_row(&b, v, sys, vec![AccountInput { user_data_32: 1, ..a1.clone() }], &[A::ExistsWithDifferentUserData32])
        .await;
    // `exists_with_different_ledger`: "An account with the same id already exists, but with
    // different ledger." — before a different code.
    account_row(
        &b,
        v,
        sys,
        vec![AccountInput { currency: Some(Currency::USD), code: 9, ..a1.clone() }],
        &[A::ExistsWithDifferentLedger],
    )
    .await;
    // `exists_with_different_code`: "An account with the same id already exists, but with different
    // code."
    account_row(&b, v, sys, vec![AccountInput { code: 9, ..a1.clone() }], &[A::ExistsWithDifferentCode]).await;

    // --- Validation, in order: nothing written, the id stays free ---
    // `id_must_not_be_zero`: "Account.id is zero, which is a reserved value."
    let nil = AccountInput { id: AccountId::from_uuid(Uuid::nil()), ..account_input(1) };
    account_row(&b, v, sys, vec![nil], &[A::IdMustNotBeZero]).await;
    // `flags_are_mutually_exclusive`: "The following flags are mutually exclusive:
    // debits_must_not_exceed_credits, credits_must_not_exceed_debits" — before the ledger and code.
    let mut both = AccountInput { currency: None, code: 0, ..account_input(1) };
    (both.flags.debits_must_not_exceed_credits, both.flags.credits_must_not_exceed_debits) = (true, true);
    account_row(&b, v, sys, vec![both.clone()], &[A::FlagsAreMutuallyExclusive]).await;
    // `ledger_must_not_be_zero`: "Account.ledger is zero, but must be nonzero." (hearth: no currency)
    let no_ledger = AccountInput { currency: None, code: 0, ..account_input(1) };
    account_row(&b, v, sys, vec![no_ledger.clone()], &[A::LedgerMustNotBeZero]).await;
    // `code_must_not_be_zero`: "Account.code is zero, but must be nonzero."
    let no_code = account_input(0);
    account_row(&b, v, sys, vec![no_code.clone()], &[A::CodeMustNotBeZero]).await;
    // The corrected request reuses the id: validation failures pin nothing.
    account_row(&b, v, sys, vec![AccountInput { code: 3, ..no_code }], &[A::Ok]).await;

    // --- Linked chains: docs/coding/linked-events.md, "These chains of events will all succeed or
    // fail together." ---
    // `linked_event_failed`: "One or more of the accounts in the linked chain is invalid, so the
    // whole chain failed." — the first failure keeps its own code.
    let (c1, c2) = (linked_input(account_input(1)), account_input(0));
    account_row(&b, v, sys, vec![c1.clone(), c2], &[A::LinkedEventFailed, A::CodeMustNotBeZero]).await;
    assert!(b.ledger.lookup_accounts(sys, &[c1.id]).await.unwrap().is_empty(), "the chain was rolled back");
    // `linked_event_chain_open`: "The Account.flags.linked flag was set on the last event in the
    // batch, which is not legal."
    account_row(&b, v, sys, vec![linked_input(account_input(1))], &[A::LinkedEventChainOpen]).await;
    // An `exists` fails a chain too (TigerBeetle's state_machine_tests.zig, "linked accounts":
    // "Fail with .exists.").
    account_row(&b, v, sys, vec![linked_input(account_input(1)), a1.clone()], &[A::LinkedEventFailed, A::Exists]).await;
    let (e1, e2) = (linked_input(account_input(5)), account_input(5));
    account_row(&b, v, sys, vec![e1.clone(), e2.clone()], &[A::Ok, A::Ok]).await;
    assert_eq!(b.ledger.lookup_accounts(sys, &[e2.id, e1.id]).await.unwrap().len(), 2);
    // The linked flag is kept: retried alone without it, the account's flags differ.
    account_row(
        &b,
        v,
        sys,
        vec![AccountInput { flags: AccountInputFlags::default(), ..e1.clone() }],
        &[A::ExistsWithDifferentFlags],
    )
    .await;

    // --- Imports: docs/reference/account.md, `flags.imported` ---
    b.clock.advance(chrono::Duration::hours(1));
    let now = b.clock.now();
    let ago = |minutes: i64| now.checked_sub(chrono::Duration::minutes(minutes)).unwrap();
    let imported = |ts: Option<Timestamp>| {
        let mut a = account_input(4);
        a.flags.imported = true;
        a.timestamp = ts;
        a
    };
    let i1 = imported(Some(ago(40)));
    // `imported_event_expected`: "Batches cannot mix imported accounts with non-imported accounts."
    account_row(&b, v, sys, vec![i1.clone(), account_input(1)], &[A::Ok, A::ImportedEventExpected]).await;
    let got = b.ledger.lookup_accounts(sys, &[i1.id]).await.unwrap();
    assert_eq!((got[0].created_at, got[0].flags.imported), (ago(40), true), "created at the caller's timestamp");
    // `imported_event_not_expected`: "The first account determines the entire operation."
    account_row(&b, v, sys, vec![account_input(1), imported(Some(ago(30)))], &[A::Ok, A::ImportedEventNotExpected])
        .await;
    // `timestamp_must_be_zero`: "The Account.timestamp is nonzero, but must be zero."
    account_row(
        &b,
        v,
        sys,
        vec![AccountInput { timestamp: Some(ago(30)), ..account_input(1) }],
        &[A::TimestampMustBeZero],
    )
    .await;
    // `imported_event_timestamp_out_of_range`: "must be a user-defined timestamp greater than 0"
    // (hearth's 0 is the Unix epoch; an absent timestamp is 0).
    account_row(&b, v, sys, vec![imported(None)], &[A::ImportedEventTimestampOutOfRange]).await;
    account_row(&b, v, sys, vec![imported(Timestamp::from_unix_micros(0))], &[A::ImportedEventTimestampOutOfRange])
        .await;
    // `imported_event_timestamp_must_not_advance`: "it must be a past timestamp."
    account_row(&b, v, sys, vec![imported(Some(now))], &[A::ImportedEventTimestampMustNotAdvance]).await;
    // `imported_event_timestamp_must_not_regress`: "it must be greater than the last timestamp
    // assigned to any Account" — the non-imported accounts created just now included.
    account_row(&b, v, sys, vec![imported(Some(ago(20)))], &[A::ImportedEventTimestampMustNotRegress]).await;
    // "This validation must be called after the idempotency checks so the user can still handle
    // exists results when importing." (state_machine.zig)
    account_row(&b, v, sys, vec![i1.clone()], &[A::Exists]).await;
    // Imports are the system's; staff create accounts; users do not.
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    b.clock.advance(chrono::Duration::minutes(1));
    let later = imported(b.clock.now().checked_sub(chrono::Duration::seconds(1)));
    super::fixtures::refused(b.store(), ErrorCode::Forbidden, b.ledger.create_accounts(&admin, vec![later])).await;
    let (alice, wallet) = b.wallet().await;
    super::fixtures::refused(b.store(), ErrorCode::Forbidden, b.ledger.create_accounts(&alice, vec![account_input(1)]))
        .await;
    super::fixtures::refused(b.store(), ErrorCode::Validation, b.ledger.create_accounts(sys, Vec::new())).await;
    account_row(&b, v, &admin, vec![account_input(2)], &[A::Ok]).await;

    // lookup_accounts.md: "If the account does not exist, return nothing." — in the order asked; a
    // user sees only their own accounts.
    let missing = AccountId::from_uuid(Uuid::now_v7());
    let found = b.ledger.lookup_accounts(sys, &[e2.id, missing, a1.id, wallet.id]).await.unwrap();
    assert_eq!(found.iter().map(|a| a.id).collect::<Vec<_>>(), [e2.id, a1.id, wallet.id]);
    let own = b.ledger.lookup_accounts(&alice, &[a1.id, wallet.id]).await.unwrap();
    assert_eq!(own.iter().map(|a| a.id).collect::<Vec<_>>(), [wallet.id]);

    let missing_codes: Vec<A> = A::ALL.iter().copied().filter(|r| !seen.contains(r)).collect();
    assert!(missing_codes.is_empty(), "no row reaches {missing_codes:?}");
    b.assert_books_balance().await;
}

/// Creates `inputs` (all must be created).
async fn create_all<S: Store + Clone + 'static>(b: &Books<S>, inputs: &[AccountInput]) {
    let out = b.ledger.create_accounts(&Actor::System, inputs.to_vec()).await.unwrap();
    assert!(out.iter().all(|o| o.result == A::Ok), "{out:?}");
}

/// Every page of a paged read, following `next` (and checking each full page says so).
async fn all_pages<T, F, Fut>(limit: u32, mut read: F) -> Vec<T>
where
    F: FnMut(Option<Cursor>) -> Fut,
    Fut: std::future::Future<Output = crate::ledger::query::Page<T>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = read(after).await;
        assert!(page.items.len() <= limit as usize);
        let full = page.items.len() == limit as usize;
        assert_eq!(page.next.is_some(), full, "a full page names where to continue, a short one ends");
        all.extend(page.items);
        match page.next {
            Some(c) => after = Some(c),
            None => return all,
        }
    }
}

pub async fn ledger_history_and_filtered_reads_as_tigerbeetle_documents<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let sys = &Actor::System;
    let mut h = account_input(10);
    (h.flags.history, h.user_data_64) = (true, 77);
    let src = account_input(11);
    let mut lim = account_input(10);
    (lim.flags.history, lim.flags.debits_must_not_exceed_credits) = (true, true);
    let usd = AccountInput { currency: Some(Currency::USD), ..account_input(12) };
    create_all(&b, &[h.clone(), src.clone(), lim.clone()]).await;
    b.clock.advance(chrono::Duration::seconds(1));
    create_all(&b, std::slice::from_ref(&usd)).await;

    // Transfers one second apart, so their timestamps differ.
    let mut seen = Vec::new();
    let step = |b: &Books<S>| b.clock.advance(chrono::Duration::seconds(1));
    let t1 = TransferInput { user_data_64: 7, ..minor_input(src.id, h.id, 100) };
    let hold = TransferInput { user_data_32: 3, ..hold_input(src.id, h.id, 50) };
    let t3 = transfer(h.id, src.id, 30, TransferCode::Fee);
    let post = resolve_input(hold.id, Phase::PostPending, Some(20));
    let t5 = minor_input(src.id, lim.id, 500);
    let t6 = minor_input(lim.id, h.id, 200);
    let overdraw = minor_input(lim.id, h.id, 10_000);
    let mut t3_at = b.clock.now();
    for (t, expected) in [
        (&t1, R::Ok),
        (&hold, R::Ok),
        (&t3, R::Ok),
        (&post, R::Ok),
        (&t5, R::Ok),
        (&t6, R::Ok),
        (&overdraw, R::ExceedsCredits),
    ] {
        step(&b);
        if t.id == t3.id {
            t3_at = b.clock.now();
        }
        row(&b, &mut seen, true, vec![t.clone()], &[expected]).await;
    }

    // account.md, `flags.history`: "the account will retain the history of balances at each
    // transfer"; account-balance.md: "The amounts refer to the account balance recorded _after_ the
    // transfer execution." — equal to replaying the account's transfers in order.
    let touching = b.store().ledger_transfers_touching(&[h.id]).await.unwrap();
    let replay = crate::ledger::engine::history_from_transfers(h.id, &touching).unwrap();
    let ids = |rows: &[HistoricalBalance]| rows.iter().map(|r| r.transfer_id).collect::<Vec<_>>();
    let every = AccountFilter::all(h.id, 100);
    let rows = b.ledger.get_account_balances(sys, &every).await.unwrap().items;
    assert_eq!(rows.iter().map(|r| (r.transfer_id, r.balance)).collect::<Vec<_>>(), replay);
    assert_eq!(ids(&rows), [t1.id, hold.id, t3.id, post.id, t6.id]);
    assert_eq!(rows.iter().map(|r| r.position).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    let h_now = b.store().ledger_accounts(&[h.id]).await.unwrap().remove(0).value;
    assert_eq!((rows.last().unwrap().balance, h_now.history_len), (h_now.balance, 5));
    // get_account_balances.md: "Each balance returned has a corresponding transfer with the same
    // timestamp."
    for r in &rows {
        assert_eq!(b.ledger.transfer(sys, r.transfer_id).await.unwrap().created_at, r.timestamp);
    }
    // account-filter.md: `flags.debits` / `flags.credits` — "Whether or not to include results where
    // the field debit_account_id [credit_account_id] matches".
    let debits =
        AccountFilter { flags: AccountFilterFlags { debits: true, ..AccountFilterFlags::default() }, ..every.clone() };
    assert_eq!(ids(&b.ledger.get_account_balances(sys, &debits).await.unwrap().items), [t3.id]);
    let credits =
        AccountFilter { flags: AccountFilterFlags { credits: true, ..AccountFilterFlags::default() }, ..every.clone() };
    assert_eq!(
        ids(&b.ledger.get_account_balances(sys, &credits).await.unwrap().items),
        [t1.id, hold.id, post.id, t6.id]
    );
    // `code`, `user_data_*`: "Filter the results by the field Transfer.code" (and user data); a post
    // carries its hold's user data.
    let by_code = AccountFilter { code: Some(TransferCode::Fee), ..every.clone() };
    assert_eq!(ids(&b.ledger.get_account_balances(sys, &by_code).await.unwrap().items), [t3.id]);
    let by_64 = AccountFilter { user_data_64: 7, ..every.clone() };
    assert_eq!(ids(&b.ledger.get_account_balances(sys, &by_64).await.unwrap().items), [t1.id]);
    let by_32 = AccountFilter { user_data_32: 3, ..every.clone() };
    assert_eq!(ids(&b.ledger.get_account_balances(sys, &by_32).await.unwrap().items), [hold.id, post.id]);
    // `timestamp_min` / `timestamp_max`: "inclusive range".
    let at_t3 = AccountFilter { timestamp_min: Some(t3_at), timestamp_max: Some(t3_at), ..every.clone() };
    assert_eq!(ids(&b.ledger.get_account_balances(sys, &at_t3).await.unwrap().items), [t3.id]);
    // `flags.reversed`: "the event that happened last (has the largest timestamp) will come first."
    let reversed = AccountFilter { flags: AccountFilterFlags { reversed: true, ..every.flags }, ..every.clone() };
    let back = b.ledger.get_account_balances(sys, &reversed).await.unwrap().items;
    assert_eq!(ids(&back), [t6.id, post.id, t3.id, hold.id, t1.id]);
    // Pages of two, forwards and backwards, add up to the whole.
    for base in [&every, &reversed] {
        let paged = all_pages(2, |after| {
            let f = AccountFilter { limit: 2, after, ..base.clone() };
            let l = &b.ledger;
            async move { l.get_account_balances(&Actor::System, &f).await.unwrap() }
        })
        .await;
        assert_eq!(ids(&paged), ids(&b.ledger.get_account_balances(sys, base).await.unwrap().items));
    }
    // get_account_balances.md: "If the account does not have the flag history set, return nothing."
    assert!(b.ledger.get_account_balances(sys, &AccountFilter::all(src.id, 10)).await.unwrap().items.is_empty());

    // get_account_transfers.md: "Fetch Transfers involving a given Account." — the failed attempt
    // is no transfer; sorted chronologically, `reversed` the other way, paged by the cursor.
    let tids = |ts: &[Transfer]| ts.iter().map(|t| t.id).collect::<Vec<_>>();
    let all_h = b.ledger.get_account_transfers(sys, &every).await.unwrap();
    assert_eq!(tids(&all_h.items), [t1.id, hold.id, t3.id, post.id, t6.id]);
    assert_eq!(tids(&b.ledger.get_account_transfers(sys, &debits).await.unwrap().items), [t3.id]);
    assert_eq!(tids(&b.ledger.get_account_transfers(sys, &by_32).await.unwrap().items), [hold.id, post.id]);
    assert_eq!(tids(&b.ledger.get_account_transfers(sys, &at_t3).await.unwrap().items), [t3.id]);
    let lim_all = AccountFilter::all(lim.id, 100);
    assert_eq!(tids(&b.ledger.get_account_transfers(sys, &lim_all).await.unwrap().items), [t5.id, t6.id]);
    for base in [&every, &reversed] {
        let paged = all_pages(2, |after| {
            let f = AccountFilter { limit: 2, after, ..base.clone() };
            let l = &b.ledger;
            async move { l.get_account_transfers(&Actor::System, &f).await.unwrap() }
        })
        .await;
        assert_eq!(tids(&paged), tids(&b.ledger.get_account_transfers(sys, base).await.unwrap().items));
    }

    // query_accounts.md: "Query Accounts by the intersection of some fields and by timestamp range."
    let aids = |a: &[Account]| a.iter().map(|a| a.id).collect::<Vec<_>>();
    let code_10 = QueryFilter { code: Some(10u16), ..QueryFilter::all(100) };
    let mut expected = vec![h.id, lim.id];
    expected.sort_by_key(|id| *id); // created in one batch: one instant, then by id
    assert_eq!(aids(&b.ledger.query_accounts(sys, &code_10).await.unwrap().items), expected);
    let ud = QueryFilter { user_data_64: 77, ..QueryFilter::all(100) };
    assert_eq!(aids(&b.ledger.query_accounts(sys, &ud).await.unwrap().items), [h.id]);
    let in_usd = QueryFilter { ledger: Some(Currency::USD), ..QueryFilter::<u16>::all(100) };
    assert_eq!(aids(&b.ledger.query_accounts(sys, &in_usd).await.unwrap().items), [usd.id]);
    let everything = QueryFilter::<u16>::all(100);
    let all_accounts = b.ledger.query_accounts(sys, &everything).await.unwrap().items;
    assert!(all_accounts.windows(2).all(|w| (w[0].created_at, w[0].id) < (w[1].created_at, w[1].id)));
    for reversed in [false, true] {
        let base = QueryFilter { flags: crate::ledger::query::QueryFilterFlags { reversed }, ..everything.clone() };
        let paged = all_pages(1, |after| {
            let f = QueryFilter { limit: 1, after, ..base.clone() };
            let l = &b.ledger;
            async move { l.query_accounts(&Actor::System, &f).await.unwrap() }
        })
        .await;
        let mut want = aids(&all_accounts);
        if reversed {
            want.reverse();
        }
        assert_eq!(aids(&paged), want);
    }
    // query_transfers.md, the same over transfers.
    let fees = QueryFilter { code: Some(TransferCode::Fee), ..QueryFilter::all(100) };
    assert_eq!(tids(&b.ledger.query_transfers(sys, &fees).await.unwrap().items), [t3.id]);
    let t_64 = QueryFilter { user_data_64: 7, ledger: Some(Currency::INR), ..QueryFilter::<TransferCode>::all(100) };
    assert_eq!(tids(&b.ledger.query_transfers(sys, &t_64).await.unwrap().items), [t1.id]);
    let t_usd = QueryFilter { ledger: Some(Currency::USD), ..QueryFilter::<TransferCode>::all(100) };
    assert!(b.ledger.query_transfers(sys, &t_usd).await.unwrap().items.is_empty());
    // lookup_transfers.md: a transfer that was not created is not returned.
    assert_eq!(tids(&b.ledger.lookup_transfers(sys, &[overdraw.id, t6.id, t1.id]).await.unwrap()), [t6.id, t1.id]);

    // Who reads: an account's owner and staff; what a caller may not see does not exist for them.
    let (alice, wallet) = b.wallet().await;
    super::fixtures::refused(b.store(), ErrorCode::NotFound, b.ledger.get_account_transfers(&alice, &every)).await;
    super::fixtures::refused(b.store(), ErrorCode::NotFound, b.ledger.get_account_balances(&alice, &every)).await;
    super::fixtures::refused(
        b.store(),
        ErrorCode::Unauthenticated,
        b.ledger.get_account_transfers(&Actor::Anonymous, &every),
    )
    .await;
    super::fixtures::refused(b.store(), ErrorCode::Forbidden, b.ledger.query_accounts(&alice, &everything)).await;
    super::fixtures::refused(b.store(), ErrorCode::Forbidden, b.ledger.query_transfers(&alice, &fees)).await;
    b.top_up(&wallet, 300).await;
    let mine = b.ledger.get_account_transfers(&alice, &AccountFilter::all(wallet.id, 10)).await.unwrap();
    assert_eq!(mine.items.len(), 1);
    // An invalid filter names its fields (TigerBeetle answers nothing).
    let bad = AccountFilter { limit: 0, flags: AccountFilterFlags::default(), ..every.clone() };
    let e = super::fixtures::refused(b.store(), ErrorCode::Validation, b.ledger.get_account_transfers(sys, &bad)).await;
    let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["flags", "limit"]);
    b.assert_books_balance().await;
}

pub async fn ledger_concurrent_account_creation_exactly_one_creates<S: Store + Clone + 'static>(store: S) {
    // create_accounts.md: `exists` — "An account with the same id already exists." Racers creating
    // one id: one creates it, every other is told it exists — and, when what it asked for differs,
    // how (`exists_with_different_code`).
    const RACERS: usize = 8;
    let b = Arc::new(Books::new(store).await);
    for round in 0..6 {
        let id = AccountId::from_uuid(Uuid::now_v7());
        let differ = round % 2 == 1;
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|k| {
                let (b, barrier) = (b.clone(), barrier.clone());
                let code = if differ { k as u16 + 1 } else { 1 };
                tokio::spawn(async move {
                    barrier.wait().await;
                    let input = AccountInput { id, ..account_input(code) };
                    (code, b.ledger.create_accounts(&Actor::System, vec![input]).await.unwrap()[0].result)
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let winners: Vec<u16> = results.iter().filter(|(_, r)| *r == A::Ok).map(|(c, _)| *c).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one creates: {results:?}");
        let loser = if differ { A::ExistsWithDifferentCode } else { A::Exists };
        assert_eq!(results.iter().filter(|(_, r)| *r == loser).count(), RACERS - 1, "round {round}: {results:?}");
        let stored = b.ledger.lookup_accounts(&Actor::System, &[id]).await.unwrap();
        assert_eq!(stored[0].code, winners[0], "round {round}: the winner's account is stored");
    }
}

pub async fn ledger_concurrent_transfers_keep_one_history<S: Store + Clone + 'static>(store: S) {
    // account-balance.md: "The amounts refer to the account balance recorded _after_ the transfer
    // execution." Transfers racing on one history account (and sweeps releasing its expired holds
    // at the same time) leave rows at positions 1, 2, 3, … whose balances are the replay of its
    // transfers in the order they committed.
    const ROUNDS: usize = 4;
    const RACERS: usize = 12;
    const HOLDS: usize = 3;
    let b = Arc::new(Books::new(store).await);
    let mut h = account_input(20);
    h.flags.history = true;
    let (src, sink) = (account_input(21), account_input(22));
    create_all(&b, &[h.clone(), src.clone(), sink.clone()]).await;
    for round in 0..ROUNDS {
        let holds: Vec<TransferInput> =
            (0..HOLDS).map(|_| TransferInput { timeout_secs: 10, ..hold_input(h.id, sink.id, 5) }).collect();
        assert_eq!(b.verified(holds).await.iter().map(|o| o.result).collect::<Vec<_>>(), [R::Ok; HOLDS]);
        b.clock.advance(chrono::Duration::seconds(11));
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS + 2));
        let transfers: Vec<_> = (0..RACERS)
            .map(|k| {
                let (b, barrier, src, h) = (b.clone(), barrier.clone(), src.id, h.id);
                tokio::spawn(async move {
                    barrier.wait().await;
                    b.verified(vec![minor_input(src, h, k as i64 + 1)]).await[0].result
                })
            })
            .collect();
        let sweeps: Vec<_> = (0..2)
            .map(|k| {
                let (b, barrier) = (b.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    // One sweep starts at once, the other while the transfers are deciding.
                    tokio::time::sleep(std::time::Duration::from_millis(k * 2)).await;
                    b.ledger.expire_pending(&Actor::System, 100).await.unwrap().len()
                })
            })
            .collect();
        for t in transfers {
            assert_eq!(t.await.unwrap(), R::Ok, "round {round}: every transfer lands");
        }
        let mut released = 0;
        for s in sweeps {
            released += s.await.unwrap();
        }
        assert_eq!(released, HOLDS, "round {round}: each expired hold released once");
    }
    let rows = b.store().balance_history(h.id).await.unwrap();
    let n = (ROUNDS * (HOLDS + RACERS)) as i64;
    assert_eq!(rows.iter().map(|r| r.position).collect::<Vec<_>>(), (1..=n).collect::<Vec<_>>());
    let touching = b.store().ledger_transfers_touching(&[h.id]).await.unwrap();
    let replay = crate::ledger::engine::history_from_transfers(h.id, &touching).unwrap();
    assert_eq!(rows.iter().map(|r| (r.transfer_id, r.balance)).collect::<Vec<_>>(), replay);
    // Each row follows the one before by exactly its transfer and the expiries committed between
    // them.
    for pair in rows.windows(2) {
        let t = touching.iter().find(|t| t.id == pair[1].transfer_id).unwrap();
        let released: i64 = touching
            .iter()
            .skip_while(|x| x.id != pair[0].transfer_id)
            .skip(1)
            .take_while(|x| x.id != t.id)
            .filter(|x| x.kind == TransferKind::ExpirePending)
            .map(|x| x.amount)
            .sum();
        let (before, after) = (pair[0].balance, pair[1].balance);
        match t.kind {
            TransferKind::Single => {
                assert_eq!(after.credits_posted - before.credits_posted, t.amount);
                assert_eq!(after.debits_pending, before.debits_pending - released);
            }
            kind => {
                assert_eq!(kind, TransferKind::Pending);
                assert_eq!(after.debits_pending, before.debits_pending - released + t.amount);
                assert_eq!(after.credits_posted, before.credits_posted);
            }
        }
    }
    let account = b.store().ledger_accounts(&[h.id]).await.unwrap().remove(0).value;
    assert_eq!((account.history_len, account.balance.debits_pending), (n, 0));
    assert_eq!(rows.last().unwrap().balance.credits_posted, account.balance.credits_posted);
    b.assert_books_balance().await;
}

pub async fn ledger_reconciliation_checks_closing_holds<S: Store + Clone + 'static>(store: S) {
    let b = Books::new(store).await;
    let (x, y, z) = (account_input(30), account_input(30), account_input(30));
    create_all(&b, &[x.clone(), y.clone(), z.clone()]).await;
    // docs/coding/recipes/close-account.md: a pending closing transfer closes the account; the
    // counter it moves is checked against the open closing holds, like the totals.
    let mut close = TransferInput { amount: None, ..hold_input(x.id, z.id, 0) };
    close.flags.closing_debit = true;
    assert_eq!(b.verified(vec![close.clone()]).await[0].result, R::Ok);
    b.assert_books_balance().await;
    // Someone sets y's counter behind the ledger's back: y looks closed, no transfer closed it.
    let tamper = Write::Delta {
        kind: <Account as Entity>::kind(),
        id: y.id.as_uuid(),
        add: vec![("closing_holds", 1)],
        require: Vec::new(),
    };
    b.store().commit(ChangeSet { writes: vec![tamper], ..ChangeSet::default() }).await.unwrap();
    let report = b.ledger.reconcile(&Actor::System).await.unwrap();
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    let m = &report.mismatches[0];
    assert_eq!((m.account, m.cached_closing_holds, m.computed_closing_holds), (y.id, 1, 0));
    assert_eq!(m.cached, m.computed, "the totals agree: only the closing holds differ");
    assert!(report.unbalanced_currencies.is_empty());
    let frozen = b.store().ledger_accounts(&[y.id]).await.unwrap().remove(0).value;
    assert!(frozen.flags.frozen, "the mismatching account is frozen");
    // Voiding the closing hold reopens x, and the counter follows.
    assert_eq!(b.verified(vec![resolve_input(close.id, Phase::VoidPending, None)]).await[0].result, R::Ok);
    let report = b.ledger.reconcile(&Actor::System).await.unwrap();
    assert_eq!(report.mismatches.iter().map(|m| m.account).collect::<Vec<_>>(), [y.id]);
}

pub async fn ledger_currency_totals_are_exact_past_i64<S: Store + Clone + 'static>(store: S) {
    // Each account's totals fit i64; their sum over a currency need not. Reconciliation sums in
    // i128: two accounts each posted near i64::MAX still balance.
    const NEAR: i64 = i64::MAX - 10;
    let b = Books::new(store).await;
    let egp = |code| AccountInput { currency: Some(Currency::EGP), ..account_input(code) };
    let accounts = [egp(40), egp(40), egp(40), egp(40)];
    create_all(&b, &accounts).await;
    let in_egp =
        |d: &AccountInput, c: &AccountInput| TransferInput { currency: Currency::EGP, ..minor_input(d.id, c.id, NEAR) };
    let out = b.verified(vec![in_egp(&accounts[0], &accounts[1]), in_egp(&accounts[2], &accounts[3])]).await;
    assert_eq!(out.iter().map(|o| o.result).collect::<Vec<_>>(), [R::Ok, R::Ok]);
    let totals = b.store().snapshot(crate::kernel::store::Reads::Many).await.unwrap().currency_totals().await.unwrap();
    let t = totals.iter().find(|t| t.currency == Currency::EGP).unwrap();
    let twice = 2 * i128::from(NEAR);
    assert!(twice > i128::from(i64::MAX));
    assert_eq!((t.debits_posted, t.credits_posted, t.debits_pending, t.credits_pending), (twice, twice, 0, 0));
    assert!(t.balanced());
    b.assert_books_balance().await;
}

pub async fn ledger_a_wallet_history_migrates_in_order<S: Store + Clone + 'static>(store: S) {
    // transfer.md, `flags.imported`: "allows importing historical Transfers with their original
    // timestamp" — a wallet and its history, from the system hearth replaces, in order.
    let b = Books::new(store).await;
    b.clock.advance(chrono::Duration::days(30));
    let now = b.clock.now();
    let days_ago = |d: i64| now.checked_sub(chrono::Duration::days(d)).unwrap();
    let alice = UserId::generate(&RandomIds);
    let sys = &Actor::System;
    let wallet = b.ledger.import_wallet(sys, alice, Currency::INR, days_ago(10)).await.unwrap();
    assert_eq!((wallet.created_at, wallet.flags.imported, wallet.code), (days_ago(10), true, 0));
    // hearth's services find it: it is alice's wallet.
    let alice_actor = Actor::user(alice, [Role::Resident]);
    assert_eq!(b.ledger.open_wallet(&alice_actor, alice, Currency::INR).await.unwrap().id, wallet.id);
    // Retried, the import answers the wallet it made; it cannot be backdated to another instant.
    assert_eq!(b.ledger.import_wallet(sys, alice, Currency::INR, days_ago(10)).await.unwrap().id, wallet.id);
    super::fixtures::refused(
        b.store(),
        ErrorCode::Conflict,
        b.ledger.import_wallet(sys, alice, Currency::INR, days_ago(12)),
    )
    .await;
    // account.md, `flags.imported`: "Timestamps must be strictly increasing."
    let bob = UserId::generate(&RandomIds);
    super::fixtures::refused(
        b.store(),
        ErrorCode::PreconditionFailed,
        b.ledger.import_wallet(sys, bob, Currency::INR, days_ago(11)),
    )
    .await;
    // "User-defined timestamps must be a past date"; only the system imports.
    super::fixtures::refused(b.store(), ErrorCode::Validation, b.ledger.import_wallet(sys, bob, Currency::INR, now))
        .await;
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    super::fixtures::refused(
        b.store(),
        ErrorCode::Forbidden,
        b.ledger.import_wallet(&admin, bob, Currency::INR, days_ago(9)),
    )
    .await;

    // The history, as one linked chain ("It's recommended to submit the entire batch as a linked
    // chain, ensuring that if any transfer fails, none of them are committed").
    let at = |d: i64, t: TransferInput| TransferInput {
        flags: TransferFlags { imported: true, ..t.flags },
        timestamp: Some(days_ago(d)),
        linked: true,
        ..t
    };
    let top_up = at(9, transfer(b.clearing.id, wallet.id, 10_000, TransferCode::TopUp));
    let buy = at(8, transfer(wallet.id, b.revenue.id, 2_500, TransferCode::Purchase));
    let hold =
        at(7, TransferInput { phase: Phase::Pending, ..transfer(wallet.id, b.revenue.id, 1_000, TransferCode::Hold) });
    let post = at(6, resolve_input(hold.id, Phase::PostPending, Some(400)));
    let refund = TransferInput { linked: false, ..at(5, transfer(b.revenue.id, wallet.id, 300, TransferCode::Refund)) };
    let history = vec![top_up.clone(), buy, hold, post, refund];
    // A chain with one transfer out of order fails whole, and writes nothing.
    let mut shuffled = history.clone();
    shuffled.swap(1, 2);
    let before = super::digest(b.store()).await;
    let out = b.ledger.create_transfers(sys, shuffled).await.unwrap();
    assert_eq!(out[2].result, R::ImportedEventTimestampMustNotRegress, "{out:?}");
    assert!(out.iter().enumerate().all(|(i, o)| i == 2 || o.result == R::LinkedEventFailed), "{out:?}");
    assert_eq!(super::digest(b.store()).await, before);
    let out = b.ledger.create_transfers(sys, history.clone()).await.unwrap();
    assert_eq!(out.iter().map(|o| o.result).collect::<Vec<_>>(), [R::Ok; 5]);
    let bal = b.balance(&wallet).await;
    assert_eq!(
        (bal.credits_posted, bal.debits_posted, bal.debits_pending, bal.available()),
        (10_300, 2_900, 0, Some(7_400)),
        "the migrated balance"
    );
    for (t, d) in history.iter().zip([9, 8, 7, 6, 5]) {
        assert_eq!(b.ledger.transfer(sys, t.id).await.unwrap().created_at, days_ago(d));
    }
    // Nothing may be imported before what was imported.
    let late = TransferInput { linked: false, ..at(6, transfer(b.clearing.id, wallet.id, 1, TransferCode::TopUp)) };
    assert_eq!(
        b.ledger.create_transfers(sys, vec![late]).await.unwrap()[0].result,
        R::ImportedEventTimestampMustNotRegress
    );
    // The wallet goes on as any other: alice spends now.
    let spend = transfer(wallet.id, b.revenue.id, 7_400, TransferCode::Purchase);
    assert_eq!(b.ledger.create_transfers(sys, vec![spend]).await.unwrap()[0].result, R::Ok);
    assert_eq!(b.ledger.balance(&alice_actor, wallet.id).await.unwrap().available.to_minor(), Some(0));
    b.assert_books_balance().await;
}
