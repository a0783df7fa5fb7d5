//! Ledger conformance tests: the same on every store.

use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::entity::Entity;
use crate::kernel::store::{ChangeSet, Store, Write};
use crate::kernel::value::Value;
use crate::ledger::engine::{Outcome, Phase, TransferInput};
use crate::ledger::model::{Account, AccountId, AccountKind, Balance, TransferCode, TransferFlags, TransferId, TransferResult as R};
use crate::ledger::{Ledger, LedgerStore};
use crate::money::Currency;
use crate::system::RandomIds;
use crate::time::ManualClock;
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
        assert_eq!(recorded.iter().map(|t| (t.id, t.result, t.amount)).collect::<Vec<_>>(), [(winner.id, R::Ok, 1_000)]);
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
    for _case in 0..4 {
        let seq = moves().new_tree(&mut runner).unwrap().current();
        for m in seq {
            let t = match m {
                Move::TopUp(w, a) => transfer(b.clearing.id, wallets[w].id, a, TransferCode::TopUp),
                Move::Spend(w, a) => transfer(wallets[w].id, b.revenue.id, a, TransferCode::Purchase),
                Move::Hold(w, a) => {
                    let mut t = transfer(wallets[w].id, b.revenue.id, a, TransferCode::Hold);
                    t.phase = Phase::Pending;
                    t.timeout_secs = 45;
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
                    b.ledger.expire_pending(&Actor::System, 100).await.unwrap();
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
}

crate::conformance_cases!("ledger";
    ledger_accounts_open_once_and_balances_are_private,
    ledger_transfers_apply_once_and_failures_keep_failing,
    ledger_two_phase_holds_post_void_and_expire_once,
    ledger_concurrent_debits_never_overdraw,
    ledger_concurrent_post_and_void_exactly_one_wins,
    ledger_reconciliation_freezes_a_tampered_account,
    ledger_random_operations_keep_every_invariant,
);
