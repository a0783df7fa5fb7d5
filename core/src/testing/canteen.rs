//! Canteen conformance tests: the same on every store.

use super::fixtures::refused;
use super::ledger::transfer;
use crate::actor::{Actor, Role};
use crate::canteen::{Canteen, LineInput, MenuItem, OrderAction, OrderInput, OrderStatus, RefundState};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::entity::Entity;
use crate::kernel::store::Store;
use crate::ledger::model::{Account, AccountKind, TransferCode, TransferId, TransferResult as R};
use crate::ledger::{Ledger, LedgerStore};
use crate::money::Currency;
use crate::system::RandomIds;
use crate::time::ManualClock;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::sync::Arc;

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).expect("valid date")
}

pub struct Kitchen<S> {
    pub canteen: Canteen<S>,
    pub ledger: Ledger<S>,
    pub staff: Actor,
    pub admin: Actor,
    pub clearing: Account,
    pub biryani: MenuItem,
    pub chai: MenuItem,
    pub clock: Arc<ManualClock>,
}

impl<S: Store + Clone + 'static> Kitchen<S> {
    pub async fn new(store: S) -> Self {
        let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
        let canteen = Canteen::new(store.clone(), clock.clone(), Arc::new(RandomIds));
        let ledger = Ledger::new(store, clock.clone(), Arc::new(RandomIds));
        let clearing =
            ledger.system_account(&Actor::System, AccountKind::GatewayClearing, Currency::INR).await.unwrap();
        ledger.system_account(&Actor::System, AccountKind::CanteenRevenue, Currency::INR).await.unwrap();
        let staff = Actor::user(UserId::generate(&RandomIds), [Role::CanteenStaff]);
        let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
        let biryani = canteen.add_menu_item(&staff, today(), "Veg biryani", Decimal::new(12_000, 2)).await.unwrap();
        let chai = canteen.add_menu_item(&staff, today(), "Masala chai", Decimal::new(1_500, 2)).await.unwrap();
        Self { canteen, ledger, staff, admin, clearing, biryani, chai, clock }
    }
    /// A resident with a room and a wallet holding `rupees`.
    pub async fn resident(&self, rupees: i64) -> (Actor, Account) {
        let user = UserId::generate(&RandomIds);
        let actor = Actor::user(user, [Role::Resident]);
        self.canteen.assign_room(&self.admin, user, "B-204").await.unwrap();
        let wallet = self.ledger.open_wallet(&actor, user, Currency::INR).await.unwrap();
        if rupees > 0 {
            let top_up = transfer(self.clearing.id, wallet.id, rupees * 100, TransferCode::TopUp);
            let cmd = super::verified_transfers(vec![top_up]);
            assert_eq!(self.ledger.runner().execute(&Actor::System, None, &cmd).await.unwrap()[0].result, R::Ok);
        }
        (actor, wallet)
    }
    pub fn order(&self, lines: &[(&MenuItem, i64)], expected: Option<Decimal>) -> OrderInput {
        OrderInput {
            date: Some(today()),
            lines: lines.iter().map(|(m, q)| LineInput { item_id: Some(m.id), quantity: Some(*q) }).collect(),
            expected_total: expected,
        }
    }
    pub async fn available(&self, who: &Actor, wallet: &Account) -> i64 {
        self.ledger.balance(who, wallet.id).await.unwrap().available.to_minor().unwrap()
    }
}

pub async fn canteen_order_is_paid_and_placed_in_one_commit<S: Store + Clone + 'static>(store: S) {
    let k = Kitchen::new(store).await;
    let (asha, wallet) = k.resident(1_000).await;
    // 2 × 120.00 + 3 × 15.00 = 285.00, computed by core; a client total that differs is refused.
    let wrong = k.order(&[(&k.biryani, 2), (&k.chai, 3)], Some(Decimal::new(25_000, 2)));
    let err =
        refused(k.ledger.runner().store(), ErrorCode::Validation, k.canteen.place_order(&asha, wrong, None)).await;
    assert_eq!((err.code, err.fields[0].field.as_str()), (ErrorCode::Validation, "expected_total"));
    let order = k.canteen.place_order(&asha, k.order(&[(&k.biryani, 2), (&k.chai, 3)], None), None).await.unwrap();
    assert_eq!(
        (order.total.to_minor(), order.status, order.room.as_str()),
        (Some(28_500), OrderStatus::Placed, "B-204")
    );
    assert_eq!(k.available(&asha, &wallet).await, 71_500);
    let paid = k.ledger.transfer(&Actor::System, TransferId::from_uuid(order.id.as_uuid())).await.unwrap();
    assert_eq!((paid.amount, paid.code, paid.debit_account_id), (28_500, TransferCode::Purchase, wallet.id));
    // Not enough money: refused, and nothing is written.
    let greedy = k.order(&[(&k.biryani, 7)], None);
    refused(k.ledger.runner().store(), ErrorCode::InsufficientFunds, k.canteen.place_order(&asha, greedy, None)).await;
    assert_eq!(k.available(&asha, &wallet).await, 71_500);
    assert_eq!(k.canteen.open_orders(&k.staff, today()).await.unwrap().len(), 1);
    // Sold out, other dates, unknown dishes, bad quantities: field errors.
    k.canteen.set_availability(&k.staff, k.chai.id, false).await.unwrap();
    let err = refused(
        k.ledger.runner().store(),
        ErrorCode::Validation,
        k.canteen.place_order(&asha, k.order(&[(&k.chai, 1)], None), None),
    )
    .await;
    assert_eq!(err.fields[0].field, "lines[0].item_id");
    let tomorrow_dish =
        k.canteen.add_menu_item(&k.staff, today().succ_opt().unwrap(), "Dosa", Decimal::new(6_000, 2)).await.unwrap();
    refused(
        k.ledger.runner().store(),
        ErrorCode::Validation,
        k.canteen.place_order(&asha, k.order(&[(&tomorrow_dish, 1)], None), None),
    )
    .await;
    let err = refused(
        k.ledger.runner().store(),
        ErrorCode::Validation,
        k.canteen.place_order(&asha, k.order(&[(&k.biryani, 0), (&k.biryani, 1)], None), None),
    )
    .await;
    let fields: Vec<_> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["lines[0].quantity", "lines[1].item_id"]);
    // Only residents with a room order; only staff run the kitchen.
    let roomless = Actor::user(UserId::generate(&RandomIds), [Role::Resident]);
    refused(
        k.ledger.runner().store(),
        ErrorCode::PreconditionFailed,
        k.canteen.place_order(&roomless, k.order(&[(&k.biryani, 1)], None), None),
    )
    .await;
    let guest = Actor::user(UserId::generate(&RandomIds), [Role::Customer]);
    refused(
        k.ledger.runner().store(),
        ErrorCode::Forbidden,
        k.canteen.place_order(&guest, k.order(&[(&k.biryani, 1)], None), None),
    )
    .await;
    refused(k.ledger.runner().store(), ErrorCode::Forbidden, k.canteen.act(&asha, order.id, OrderAction::Confirm))
        .await;
    refused(
        k.ledger.runner().store(),
        ErrorCode::Forbidden,
        k.canteen.add_menu_item(&asha, today(), "Samosa", Decimal::ONE),
    )
    .await;
}

pub async fn canteen_cancellations_refund_by_rule_and_never_twice<S: Store + Clone + 'static>(store: S) {
    let k = Arc::new(Kitchen::new(store).await);
    let (ravi, wallet) = k.resident(1_000).await;
    let one = || k.order(&[(&k.biryani, 1)], None);
    // Cancelled before the kitchen starts: refunded at once.
    let a = k.canteen.place_order(&ravi, one(), None).await.unwrap();
    k.canteen.act(&k.staff, a.id, OrderAction::Confirm).await.unwrap();
    let a = k.canteen.act(&ravi, a.id, OrderAction::Cancel).await.unwrap();
    assert_eq!((a.status, a.refund), (OrderStatus::Cancelled, Some(RefundState::Refunded)));
    assert_eq!(k.available(&ravi, &wallet).await, 100_000);
    // Cancelled while preparing: a refund request an admin decides, once, even when admins race.
    let b = k.canteen.place_order(&ravi, one(), None).await.unwrap();
    for action in [OrderAction::Confirm, OrderAction::StartPreparing] {
        k.canteen.act(&k.staff, b.id, action).await.unwrap();
    }
    let b = k.canteen.act(&ravi, b.id, OrderAction::Cancel).await.unwrap();
    assert_eq!(b.refund, Some(RefundState::Requested));
    assert_eq!(k.available(&ravi, &wallet).await, 88_000);
    let store = k.ledger.runner().store();
    refused(store, ErrorCode::Forbidden, k.canteen.decide_refund(&k.staff, b.id, true)).await;
    // An order with no refund request: nothing to decide.
    let plain = k.canteen.place_order(&ravi, one(), None).await.unwrap();
    refused(store, ErrorCode::PreconditionFailed, k.canteen.decide_refund(&k.admin, plain.id, true)).await;
    k.canteen.act(&ravi, plain.id, OrderAction::Cancel).await.unwrap();
    assert_eq!(k.available(&ravi, &wallet).await, 88_000);
    const ADMINS: usize = 4;
    let barrier = Arc::new(tokio::sync::Barrier::new(ADMINS));
    let racers: Vec<_> = (0..ADMINS)
        .map(|_| {
            let (k, id, barrier) = (k.clone(), b.id, barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                k.canteen.decide_refund(&k.admin, id, true).await
            })
        })
        .collect();
    let mut approved = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(o) => {
                assert_eq!(o.refund, Some(RefundState::Refunded));
                approved += 1;
            }
            // The rule (canteen `DecideRefund`): a refund another admin already settled is `conflict`,
            // whether the loser loaded before or after the winner's commit.
            Err(e) => assert_eq!(e.code, ErrorCode::Conflict, "{e:?}"),
        }
    }
    assert_eq!(approved, 1);
    assert_eq!(k.available(&ravi, &wallet).await, 100_000, "refunded exactly once");
    // Exactly one refund transfer, one `refund_approved` audit record and event for the order.
    let refund_id = TransferId::from_uuid(uuid::Uuid::new_v5(&b.id.as_uuid(), b"refund"));
    let refund = k.ledger.transfer(&Actor::System, refund_id).await.unwrap();
    assert_eq!((refund.code, refund.amount, refund.credit_account_id), (TransferCode::Refund, 12_000, wallet.id));
    let refunds = store.account_transfers(wallet.id, 1_000).await.unwrap();
    assert_eq!(refunds.iter().filter(|t| t.code == TransferCode::Refund).count(), 3, "a's, plain's and b's, once each");
    let order = k.canteen.order(&k.admin, b.id).await.unwrap();
    let trail = store.audit_trail(order.entity_ref()).await.unwrap();
    let actions: Vec<_> = trail.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["create", "confirm", "start_preparing", "cancel", "refund_approved"]);
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let topics: Vec<_> =
        events.iter().filter(|(_, e)| e.entity.id == b.id.as_uuid()).map(|(_, e)| e.topic.as_str()).collect();
    let (ledger_events, topics): (Vec<&str>, Vec<&str>) = topics.into_iter().partition(|t| t.starts_with("ledger."));
    assert_eq!(ledger_events, ["ledger.transfer.applied"], "the purchase, whose id is the order's");
    assert_eq!(
        topics,
        [
            "canteen.order.create",
            "canteen.order.confirm",
            "canteen.order.start_preparing",
            "canteen.order.cancel",
            "canteen.order.refund_approved"
        ]
    );
    // A late decision is the same `conflict`, and writes nothing.
    refused(store, ErrorCode::Conflict, k.canteen.decide_refund(&k.admin, b.id, false)).await;
    // Denied requests refund nothing; completed orders cannot be cancelled.
    let c = k.canteen.place_order(&ravi, one(), None).await.unwrap();
    for action in [OrderAction::Confirm, OrderAction::StartPreparing, OrderAction::MarkReady] {
        k.canteen.act(&k.staff, c.id, action).await.unwrap();
    }
    k.canteen.act(&ravi, c.id, OrderAction::Cancel).await.unwrap();
    assert_eq!(k.canteen.decide_refund(&k.admin, c.id, false).await.unwrap().refund, Some(RefundState::Denied));
    assert_eq!(k.available(&ravi, &wallet).await, 88_000);
    refused(store, ErrorCode::Conflict, k.canteen.decide_refund(&k.admin, c.id, true)).await;
    let d = k.canteen.place_order(&ravi, one(), None).await.unwrap();
    for action in [OrderAction::Confirm, OrderAction::StartPreparing, OrderAction::MarkReady, OrderAction::Deliver] {
        k.canteen.act(&k.staff, d.id, action).await.unwrap();
    }
    refused(store, ErrorCode::InvalidTransition, k.canteen.act(&ravi, d.id, OrderAction::Cancel)).await;
    assert_eq!(k.canteen.act(&ravi, d.id, OrderAction::Complete).await.unwrap().status, OrderStatus::Completed);
    let stranger = k.resident(0).await.0;
    assert_eq!(k.canteen.order(&stranger, d.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert!(k.ledger.reconcile(&Actor::System).await.unwrap().is_clean());
}

pub async fn canteen_concurrent_orders_drain_one_wallet_exactly<S: Store + Clone + 'static>(store: S) {
    const ORDERS: usize = 16;
    let k = Arc::new(Kitchen::new(store).await);
    let (meera, wallet) = k.resident(1_000).await; // room for exactly 8 biryanis of 120.00 (960.00)
    let barrier = Arc::new(tokio::sync::Barrier::new(ORDERS));
    let tasks: Vec<_> = (0..ORDERS)
        .map(|_| {
            let (k, who, barrier) = (k.clone(), meera.clone(), barrier.clone());
            tokio::spawn(async move {
                let input = k.order(&[(&k.biryani, 1)], None);
                barrier.wait().await;
                k.canteen.place_order(&who, input, None).await
            })
        })
        .collect();
    let mut placed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => placed.push(o),
            Err(e) => assert_eq!(e.code, ErrorCode::InsufficientFunds, "{e:?}"),
        }
    }
    assert_eq!(placed.len(), 8);
    assert_eq!(k.available(&meera, &wallet).await, 4_000, "never negative");
    // Every order has its debit and every debit its order.
    for o in &placed {
        let t = k.ledger.transfer(&Actor::System, TransferId::from_uuid(o.id.as_uuid())).await.unwrap();
        assert_eq!((t.amount, t.result), (12_000, R::Ok));
    }
    let debits = k.ledger.runner().store().account_transfers(wallet.id, 1_000).await.unwrap();
    let purchases =
        debits.iter().filter(|t| t.code == TransferCode::Purchase && t.debit_account_id == wallet.id).count();
    assert_eq!(purchases, placed.len());
    assert_eq!(k.canteen.open_orders(&k.staff, today()).await.unwrap().len(), placed.len());
    assert!(k.ledger.reconcile(&Actor::System).await.unwrap().is_clean());
}

/// Viramah §14 E: "Canteen order placement | 20 per user per day" (seed 002, line 656) — GCRA
/// (`crate::limits::CANTEEN_ORDERS`): twenty at once, then one place back every 72 minutes.
pub async fn canteen_limits_orders_per_day<S: Store + Clone + 'static>(store: S) {
    let k = Kitchen::new(store).await;
    let (dev, _) = k.resident(10_000).await;
    let store = k.ledger.runner().store();
    for _ in 0..crate::canteen::ORDERS_PER_DAY_MAX {
        k.canteen.place_order(&dev, k.order(&[(&k.chai, 1)], None), None).await.unwrap();
    }
    // The refused order writes nothing (no order, no debit, no event, no bucket change) and says
    // when a place frees: one emission interval, 72 minutes.
    let chai = || k.order(&[(&k.chai, 1)], None);
    let err = refused(store, ErrorCode::RateLimited, k.canteen.place_order(&dev, chai(), None)).await;
    assert_eq!((err.message.as_str(), err.retry_after_ms), ("at most 20 orders per day", Some(72 * 60 * 1_000)));
    // 1 µs before the place frees, still refused; at 72 minutes exactly, one order passes, and one only.
    k.clock.advance(chrono::Duration::minutes(72) - chrono::Duration::microseconds(1));
    let err = refused(store, ErrorCode::RateLimited, k.canteen.place_order(&dev, chai(), None)).await;
    assert_eq!(err.retry_after_ms, Some(1));
    k.clock.advance(chrono::Duration::microseconds(1));
    assert_eq!(k.canteen.place_order(&dev, chai(), None).await.unwrap().total.to_minor(), Some(1_500));
    let err = refused(store, ErrorCode::RateLimited, k.canteen.place_order(&dev, chai(), None)).await;
    assert_eq!(err.retry_after_ms, Some(72 * 60 * 1_000));
}

crate::conformance_cases!("canteen";
    canteen_order_is_paid_and_placed_in_one_commit,
    canteen_cancellations_refund_by_rule_and_never_twice,
    canteen_concurrent_orders_drain_one_wallet_exactly,
    canteen_limits_orders_per_day
);
