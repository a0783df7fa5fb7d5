//! Ledger conformance tests: the same on every store.

use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::entity::Entity;
use crate::kernel::store::{ChangeSet, Expect, Store, Write};
use crate::kernel::value::Value;
use crate::ledger::engine::{Outcome, Phase, TransferInput, TIMEOUT_SECS_MAX};
use crate::ledger::model::{
    Account, AccountFlags, AccountId, AccountKind, Balance, TransferCode, TransferFlags, TransferId,
    TransferResult as R,
};
use crate::ledger::{Ledger, LedgerStore};
use crate::money::Currency;
use crate::system::RandomIds;
use crate::time::{Clock, ManualClock};
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
);

// ---------------------------------------------------------------------------------------------
// The scenario table: TigerBeetle's documented answers, on every store.
// ---------------------------------------------------------------------------------------------

/// Inserts an account the way the accounts API does (a caller `code`, so beside hearth's own
/// accounts); test setup only.
async fn raw_account<S: Store>(store: &S, currency: Currency, flags: AccountFlags) -> Account {
    let mut a = Account::managed(
        AccountId::from_uuid(Uuid::now_v7()),
        None,
        AccountKind::Refunds,
        currency,
        flags,
        super::fixtures::epoch(),
    );
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

    // Every code the engine can return was answered by some row.
    let missing_codes: Vec<R> = R::ALL.iter().copied().filter(|r| !seen.contains(r)).collect();
    assert!(missing_codes.is_empty(), "no row reaches {missing_codes:?}");
    b.assert_books_balance().await;
}
