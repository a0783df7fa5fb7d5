//! Canteen orders (Viramah §8): a daily menu managed by staff, orders whose total core computes from
//! menu prices and whose wallet debit is committed with the order itself, the kitchen's workflow as a
//! transition table, and refunds by rule — automatic before `preparing`, by an admin's decision after.
//!
//! The payment transfer's id is the order id and the refund's id is derived from it, so an order is
//! paid at most once and refunded at most once whatever races.

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::{Error, ErrorCode};
use crate::id::{IdSource, MenuItemId, OrderId, UserId};
use crate::kernel::access::{require, require_visible};
use crate::kernel::entity::Entity;
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::ledger::engine::{self, Phase, Snapshot, TransferInput};
use crate::ledger::model::{AccountKind, TransferCode, TransferFlags, TransferId, TransferResult};
use crate::ledger::{error_for, load_snapshot_with, record_decision, LedgerStore};
use crate::limits::{LimitState, Subject, CANTEEN_ORDERS};
use crate::machine::{held_parties, Machine, Party, Row};
use crate::money::{Currency, Money};
use crate::service::{Command, Decide, IdempotencyKey, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

mod menu;
mod store;
pub use menu::{AddMenuItem, SetAvailability};
pub use store::{CanteenStore, DOMAIN};

/// Orders a resident may place at once, and per day on average (Viramah §14 E): the burst of
/// [`crate::limits::CANTEEN_ORDERS`], which takes it.
pub const ORDERS_PER_DAY_MAX: u64 = 20;
/// Lines in one order.
pub const ORDER_LINES_MAX: usize = 20;
/// Units of one item in one order.
pub const QUANTITY_MAX: i64 = 10;
/// A dish's name.
pub const DISH_NAME: TextRule = TextRule { min_chars: 2, max_chars: 80, multiline: false };
/// The canteen's currency.
pub const CANTEEN_CURRENCY: Currency = Currency::INR;

/// A dish on the menu of one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuItem {
    /// Id.
    pub id: MenuItemId,
    /// The date it is served.
    pub date: NaiveDate,
    /// Name.
    pub name: String,
    /// Price of one.
    pub price: Money,
    /// Whether it can be ordered now.
    pub available: bool,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// One line of an order, priced from the menu when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The dish.
    pub item_id: MenuItemId,
    /// Its name then.
    pub name: String,
    /// Its price then.
    pub unit_price: Money,
    /// How many.
    pub quantity: u32,
}

crate::homeheroes::model::wire_enum!(
    /// Order states (the cart lives on the client until it is placed and paid).
    OrderStatus {
        Placed = "placed",
        Confirmed = "confirmed",
        Preparing = "preparing",
        Ready = "ready",
        Delivered = "delivered",
        Completed = "completed",
        Cancelled = "cancelled",
    }
);

crate::homeheroes::model::wire_enum!(
    /// Order actions.
    OrderAction {
        Confirm = "confirm",
        StartPreparing = "start_preparing",
        MarkReady = "mark_ready",
        Deliver = "deliver",
        Complete = "complete",
        Cancel = "cancel",
    }
);

crate::homeheroes::model::wire_enum!(
    /// Where an order's refund stands.
    RefundState {
        /// Refunded (automatically before `preparing`, or approved).
        Refunded = "refunded",
        /// Cancelled after `preparing` started: waiting for an admin.
        Requested = "requested",
        /// An admin denied it.
        Denied = "denied",
    }
);

/// How an actor relates to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderRelation {
    /// The resident who placed it.
    Owner,
}

use OrderStatus as O;
const KITCHEN: &[Party<OrderRelation>] = &[Party::Role(Role::CanteenStaff)];
const OWNER_OR_KITCHEN: &[Party<OrderRelation>] =
    &[Party::Relation(OrderRelation::Owner), Party::Role(Role::CanteenStaff)];

/// The canteen order workflow (Viramah §8). Kitchen staff drive the kitchen states; the resident (or
/// staff) completes a delivered order and may cancel until delivery.
pub static ORDER: Machine<OrderStatus, OrderAction, OrderRelation, ()> = Machine {
    name: "canteen_order",
    rows: &[
        Row { from: &[O::Placed], action: OrderAction::Confirm, to: O::Confirmed, parties: KITCHEN, guard: None },
        Row {
            from: &[O::Confirmed],
            action: OrderAction::StartPreparing,
            to: O::Preparing,
            parties: KITCHEN,
            guard: None,
        },
        Row { from: &[O::Preparing], action: OrderAction::MarkReady, to: O::Ready, parties: KITCHEN, guard: None },
        Row { from: &[O::Ready], action: OrderAction::Deliver, to: O::Delivered, parties: KITCHEN, guard: None },
        Row {
            from: &[O::Delivered],
            action: OrderAction::Complete,
            to: O::Completed,
            parties: OWNER_OR_KITCHEN,
            guard: None,
        },
        Row {
            from: &[O::Placed, O::Confirmed, O::Preparing, O::Ready],
            action: OrderAction::Cancel,
            to: O::Cancelled,
            parties: OWNER_OR_KITCHEN,
            guard: None,
        },
    ],
};

/// A placed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Id (also its payment transfer's id).
    pub id: OrderId,
    /// Who ordered.
    pub user_id: UserId,
    /// Where to deliver (the resident's room when the order was placed).
    pub room: String,
    /// The menu date.
    pub date: NaiveDate,
    /// What was ordered, priced.
    pub lines: Vec<OrderLine>,
    /// Σ unit price × quantity, computed by core.
    pub total: Money,
    /// State.
    pub status: OrderStatus,
    /// Refund, if any.
    pub refund: Option<RefundState>,
    /// When placed.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A resident's delivery room: set when their bed is confirmed (rooms) or by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentRoom {
    /// The resident (the key: one room per resident).
    pub user_id: UserId,
    /// The room (`B-204`).
    pub room: String,
}

/// Records `room` as `user`'s delivery room: inserted the first time, updated after (audited and
/// told to its readers either way), nothing when it is already that room. `current` is `user`'s
/// record as the command loaded it ([`CanteenStore::assigned_room`]); a concurrent assignment makes
/// the insert or the versioned update fail, and the runner decides again on fresh data.
pub fn set_resident_room(
    cx: &mut Decide<'_>,
    current: Option<&Versioned<ResidentRoom>>,
    user: UserId,
    room: &str,
) -> Result<(), Error> {
    let next = ResidentRoom { user_id: user, room: room.to_owned() };
    match current {
        Some(before) if before.value == next => Ok(()),
        Some(before) => cx.update(before, next, "reassigned"),
        None => cx.insert(next),
    }
}

fn is_kitchen(actor: &Actor) -> bool {
    matches!(actor, Actor::System) || actor.has_role(Role::CanteenStaff) || actor.is_admin()
}

/// The payment of an order: wallet → canteen revenue, named by the order.
fn payment(
    order: OrderId,
    wallet: crate::ledger::model::AccountId,
    revenue: crate::ledger::model::AccountId,
    total: &Money,
) -> TransferInput {
    TransferInput {
        id: TransferId::from_uuid(order.as_uuid()),
        debit_account_id: wallet,
        credit_account_id: revenue,
        amount: Some(total.amount()),
        currency: total.currency(),
        phase: Phase::Single,
        pending_id: None,
        timeout_secs: 0,
        linked: false,
        code: Some(TransferCode::Purchase),
        reference: Some(order.to_string()),
        flags: TransferFlags::default(),
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    }
}

/// The refund of an order: revenue → wallet, its id derived from the order's (so at most one).
fn refund(
    order: &Order,
    wallet: crate::ledger::model::AccountId,
    revenue: crate::ledger::model::AccountId,
) -> TransferInput {
    TransferInput {
        id: TransferId::from_uuid(Uuid::new_v5(&order.id.as_uuid(), b"refund")),
        debit_account_id: revenue,
        credit_account_id: wallet,
        amount: Some(order.total.amount()),
        currency: order.total.currency(),
        phase: Phase::Single,
        pending_id: None,
        timeout_secs: 0,
        linked: false,
        code: Some(TransferCode::Refund),
        reference: Some(TransferId::from_uuid(order.id.as_uuid()).to_string()),
        flags: TransferFlags::default(),
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    }
}

/// One line as a resident sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LineInput {
    /// The dish.
    pub item_id: Option<MenuItemId>,
    /// How many (1–10).
    pub quantity: Option<i64>,
}

/// An order as a resident sends it. A client-side total, when sent, must equal core's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderInput {
    /// The menu date.
    pub date: Option<NaiveDate>,
    /// The lines.
    pub lines: Vec<LineInput>,
    /// What the client showed; ignored when absent, refused when different.
    pub expected_total: Option<Decimal>,
}

/// Places and pays an order in one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrder {
    /// The order.
    pub input: OrderInput,
}

/// A validated order request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidOrder {
    date: NaiveDate,
    // INVARIANT (lines): 1–20 distinct items, each quantity 1–10.
    lines: Vec<(MenuItemId, u32)>,
    now: Timestamp,
}

impl ValidOrder {
    /// How many lines the order has.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }
}

/// What placing an order reads.
#[derive(Clone)]
pub struct PlaceScene {
    items: HashMap<MenuItemId, MenuItem>,
    /// The resident's order bucket ([`crate::limits::CANTEEN_ORDERS`]).
    limit: Option<LimitState>,
    room: Option<String>,
    wallet: Option<crate::ledger::model::Account>,
    revenue: Option<crate::ledger::model::Account>,
    snapshot: Snapshot,
}

impl PlaceOrder {
    /// Validates the input against `now`, without a store (clients call this offline).
    pub fn check(&self, now: Timestamp) -> Result<ValidOrder, ValidationErrors> {
        let mut v = Validator::new();
        if self.input.date.is_none() {
            v.push("date", Violation::Required);
        }
        match self.input.lines.len() {
            0 => v.push("lines", Violation::TooFew { min: 1 }),
            n if n > ORDER_LINES_MAX => v.push("lines", Violation::TooMany { max: ORDER_LINES_MAX as u32 }),
            _ => {}
        }
        let mut lines = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, l) in self.input.lines.iter().enumerate().take(ORDER_LINES_MAX) {
            let item = match l.item_id {
                None => {
                    v.push(&format!("lines[{i}].item_id"), Violation::Required);
                    None
                }
                Some(id) if !seen.insert(id) => {
                    v.push(&format!("lines[{i}].item_id"), Violation::Duplicate);
                    None
                }
                Some(id) => Some(id),
            };
            let q = v.int_range(&format!("lines[{i}].quantity"), l.quantity, 1, QUANTITY_MAX);
            if let (Some(item), Some(q)) = (item, q.and_then(|q| u32::try_from(q).ok())) {
                lines.push((item, q));
            }
        }
        v.finish(|| Some(ValidOrder { date: self.input.date?, lines, now }))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for PlaceOrder {
    const NAME: &'static str = "canteen.place_order";
    type Valid = ValidOrder;
    type Loaded = PlaceScene;
    type Output = Order;

    fn validate(&self, now: Timestamp) -> Result<ValidOrder, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, valid: &ValidOrder) -> Result<PlaceScene, Error> {
        let ids: Vec<MenuItemId> = valid.lines.iter().map(|(id, _)| *id).collect();
        let items = store.menu_items(&ids).await?.into_iter().map(|i| (i.value.id, i.value)).collect();
        let Some(user) = actor.user_id() else {
            return Ok(PlaceScene {
                items,
                limit: None,
                room: None,
                wallet: None,
                revenue: None,
                snapshot: Snapshot::default(),
            });
        };
        let wallet =
            store.ledger_account_for(Some(user), AccountKind::Wallet, CANTEEN_CURRENCY).await?.map(|a| a.value);
        let revenue =
            store.ledger_account_for(None, AccountKind::CanteenRevenue, CANTEEN_CURRENCY).await?.map(|a| a.value);
        let mut snapshot = Snapshot::default();
        if let (Some(w), Some(r)) = (&wallet, &revenue) {
            // The order's own payment id is not looked up: order ids are fresh, and a duplicate would
            // fail on the unique transfer id.
            let probe = payment(OrderId::from_uuid(Uuid::nil()), w.id, r.id, &Money::zero(CANTEEN_CURRENCY));
            snapshot = load_snapshot_with(store, std::slice::from_ref(&probe), false).await?;
        }
        Ok(PlaceScene {
            items,
            limit: Some(CANTEEN_ORDERS.limit(Subject::User(user))?.load(store).await?),
            room: store.resident_room(user).await?,
            wallet,
            revenue,
            snapshot,
        })
    }
    fn decide(
        &self,
        actor: &Actor,
        valid: &ValidOrder,
        scene: PlaceScene,
        cx: &mut Decide<'_>,
    ) -> Result<Order, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        require(actor, Decision::when(actor.has_role(Role::Resident), "only residents order from the canteen"))?;
        // Viramah §14 E: 20 orders per user per day, taken in this commit (`crate::limits`).
        scene.limit.ok_or_else(Error::unauthenticated)?.take(cx)?;
        let room = scene.room.ok_or_else(|| Error::precondition("no room is assigned for deliveries yet"))?;
        let mut v = Validator::new();
        let mut lines = Vec::new();
        let mut total = Money::zero(CANTEEN_CURRENCY);
        for (i, (id, q)) in valid.lines.iter().enumerate() {
            let field = format!("lines[{i}].item_id");
            match scene.items.get(id) {
                None => v.push(&field, Violation::NotAllowed { allowed: vec!["an item of the menu".into()] }),
                Some(item) if item.date != valid.date || !item.available => v.push(
                    &field,
                    Violation::NotAllowed { allowed: vec![format!("an available item of {}", valid.date)] },
                ),
                Some(item) => {
                    let line_total = Money::new(item.price.amount() * Decimal::from(*q), CANTEEN_CURRENCY)
                        .and_then(|m| total.checked_add(&m))
                        .map_err(|e| Error::internal(format!("order total: {e}")))?;
                    total = line_total;
                    lines.push(OrderLine {
                        item_id: item.id,
                        name: item.name.clone(),
                        unit_price: item.price,
                        quantity: *q,
                    });
                }
            }
        }
        if let Some(expected) = self.input.expected_total {
            if v.is_ok() && Money::new(expected, CANTEEN_CURRENCY).ok() != Some(total) {
                v.push("expected_total", Violation::AmountOutOfRange { min: total.amount(), max: total.amount() });
            }
        }
        v.finish(|| Some(()))?;
        let wallet = scene.wallet.ok_or_else(|| Error::new(ErrorCode::InsufficientFunds, "insufficient funds"))?;
        let revenue = scene.revenue.ok_or_else(|| Error::precondition("the canteen has no revenue account yet"))?;
        let order = Order {
            id: OrderId::generate(cx.ids()),
            user_id: user,
            room,
            date: valid.date,
            lines,
            total,
            status: OrderStatus::Placed,
            refund: None,
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        let pay = payment(order.id, wallet.id, revenue.id, &total);
        let ctx =
            engine::Context { actor: cx.actor_principal(), now: cx.now(), allow_top_up: false, allow_refund: false };
        let d = engine::decide(std::slice::from_ref(&pay), &scene.snapshot, &ctx);
        match d.outcomes.first().map(|o| o.result) {
            Some(TransferResult::Ok) => {}
            // A failed payment writes nothing: neither the order nor a failure record.
            Some(r) => return Err(error_for(r)),
            None => return Err(Error::internal("no payment outcome")),
        }
        record_decision(&d, &scene.snapshot, cx);
        cx.insert(order.clone())?;
        Ok(order)
    }
}

/// Moves an order along its table; cancelling refunds by rule in the same commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActOnOrder {
    /// The order.
    pub order_id: OrderId,
    /// The action.
    pub action: OrderAction,
}

/// What an order action reads.
pub struct OrderScene {
    order: Option<Versioned<Order>>,
    accounts: Option<(crate::ledger::model::AccountId, crate::ledger::model::AccountId)>,
    snapshot: Snapshot,
}

async fn load_order_scene(store: &dyn Reader, id: OrderId) -> Result<OrderScene, Error> {
    // One load is one snapshot: the order and the balances it names come from one committed state,
    // so the order of the reads does not matter. A racing action or refund makes the commit fail
    // (the order's version, the refund's unique transfer id, a balance guard) and the runner decides
    // again on fresh data.
    let order = store.order(id).await?;
    let mut accounts = None;
    let mut snapshot = Snapshot::default();
    if let Some(o) = &order {
        let wallet = store.ledger_account_for(Some(o.value.user_id), AccountKind::Wallet, CANTEEN_CURRENCY).await?;
        let revenue = store.ledger_account_for(None, AccountKind::CanteenRevenue, CANTEEN_CURRENCY).await?;
        if let (Some(w), Some(r)) = (wallet, revenue) {
            let t = refund(&o.value, w.value.id, r.value.id);
            snapshot = load_snapshot_with(store, std::slice::from_ref(&t), false).await?;
            accounts = Some((w.value.id, r.value.id));
        }
    }
    Ok(OrderScene { order, accounts, snapshot })
}

fn refund_now(order: &Order, scene: &OrderScene, cx: &mut Decide<'_>) -> Result<(), Error> {
    let (wallet, revenue) = scene.accounts.ok_or_else(|| Error::internal("order accounts missing"))?;
    let t = refund(order, wallet, revenue);
    let ctx = engine::Context { actor: cx.actor_principal(), now: cx.now(), allow_top_up: false, allow_refund: true };
    let d = engine::decide(std::slice::from_ref(&t), &scene.snapshot, &ctx);
    match d.outcomes.first().map(|o| o.result) {
        Some(TransferResult::Ok) => {
            record_decision(&d, &scene.snapshot, cx);
            Ok(())
        }
        Some(r) => Err(error_for(r)),
        None => Err(Error::internal("no refund outcome")),
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for ActOnOrder {
    const NAME: &'static str = "canteen.act";
    type Valid = ();
    type Loaded = OrderScene;
    type Output = Order;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<OrderScene, Error> {
        load_order_scene(store, self.order_id).await
    }
    fn decide(&self, actor: &Actor, _: &(), scene: OrderScene, cx: &mut Decide<'_>) -> Result<Order, Error> {
        let before = scene.order.clone().ok_or_else(|| Error::not_found("order"))?;
        require_visible(actor, before.value.readers().admits(actor), "order")?;
        let own = actor.is(before.value.user_id);
        let relations: Vec<OrderRelation> = if own { vec![OrderRelation::Owner] } else { vec![] };
        let mut held = held_parties(actor, &relations);
        if matches!(actor, Actor::System) || actor.is_admin() {
            held.push(Party::Role(Role::CanteenStaff));
        }
        let to = ORDER.fire(before.value.status, self.action, &held, &())?;
        let mut after = before.value.clone();
        after.status = to;
        after.updated_at = cx.now();
        if self.action == OrderAction::Cancel {
            // Before the kitchen starts, the money goes back at once; after, an admin decides.
            if matches!(before.value.status, O::Placed | O::Confirmed) {
                refund_now(&before.value, &scene, cx)?;
                after.refund = Some(RefundState::Refunded);
            } else {
                after.refund = Some(RefundState::Requested);
            }
        }
        cx.update(&before, after.clone(), self.action.as_str())?;
        Ok(after)
    }
}

/// An admin approves or denies the refund of an order cancelled after `preparing` started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideRefund {
    /// The order.
    pub order_id: OrderId,
    /// Approve or deny.
    pub approve: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for DecideRefund {
    const NAME: &'static str = "canteen.decide_refund";
    type Valid = ();
    type Loaded = OrderScene;
    type Output = Order;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<OrderScene, Error> {
        load_order_scene(store, self.order_id).await
    }
    fn decide(&self, actor: &Actor, _: &(), scene: OrderScene, cx: &mut Decide<'_>) -> Result<Order, Error> {
        require(actor, Decision::when(actor.is_admin(), "only admins decide refund requests"))?;
        let before = scene.order.clone().ok_or_else(|| Error::not_found("order"))?;
        match before.value.refund {
            Some(RefundState::Requested) => {}
            // Another admin decided first: the same answer whether this one loaded before that
            // decision committed (the runner's retry says `conflict`) or after it.
            Some(RefundState::Refunded | RefundState::Denied) => {
                return Err(Error::conflict("the refund was already settled"));
            }
            None => return Err(Error::precondition("the order has no refund request")),
        }
        let mut after = before.value.clone();
        after.updated_at = cx.now();
        if self.approve {
            refund_now(&before.value, &scene, cx)?;
            after.refund = Some(RefundState::Refunded);
        } else {
            after.refund = Some(RefundState::Denied);
        }
        cx.update(&before, after.clone(), if self.approve { "refund_approved" } else { "refund_denied" })?;
        Ok(after)
    }
}

/// Assigns a resident's delivery room (set by the room approval flow; staff and the system).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignRoom {
    /// The resident.
    pub user_id: UserId,
    /// The room.
    pub room: String,
}

impl AssignRoom {
    /// Validates the input against `now`, without a store (clients call this offline).
    pub fn check(&self, _now: Timestamp) -> Result<String, ValidationErrors> {
        let mut v = Validator::new();
        let room = v.text("room", Some(&self.room), TextRule { min_chars: 1, max_chars: 20, multiline: false });
        v.finish(|| room)
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AssignRoom {
    const NAME: &'static str = "canteen.assign_room";
    const READS: Reads = Reads::One;
    type Valid = String;
    type Loaded = Option<Versioned<ResidentRoom>>;
    type Output = ();

    fn validate(&self, now: Timestamp) -> Result<String, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &String) -> Result<Self::Loaded, Error> {
        Ok(store.assigned_room(self.user_id).await?)
    }
    fn decide(&self, actor: &Actor, room: &String, current: Self::Loaded, cx: &mut Decide<'_>) -> Result<(), Error> {
        require(actor, Decision::when(matches!(actor, Actor::System) || actor.is_admin(), "only admins assign rooms"))?;
        set_resident_room(cx, current.as_ref(), self.user_id, room)
    }
}

/// The canteen service.
pub struct Canteen<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Canteen<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Canteen<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Adds a dish to a date's menu.
    pub async fn add_menu_item(
        &self,
        actor: &Actor,
        date: NaiveDate,
        name: &str,
        price: Decimal,
    ) -> Result<MenuItem, Error> {
        self.runner.execute(actor, None, &AddMenuItem { date, name: Some(name.to_owned()), price: Some(price) }).await
    }
    /// Marks a dish available or sold out.
    pub async fn set_availability(&self, actor: &Actor, item: MenuItemId, available: bool) -> Result<MenuItem, Error> {
        self.runner.execute(actor, None, &SetAvailability { item_id: item, available }).await
    }
    /// A date's menu (any signed-in user).
    pub async fn menu(&self, actor: &Actor, date: NaiveDate) -> Result<Vec<MenuItem>, Error> {
        if matches!(actor, Actor::Anonymous) {
            return Err(Error::unauthenticated());
        }
        Ok(self.runner.store().menu_of(date).await?)
    }
    /// Assigns a resident's delivery room.
    pub async fn assign_room(&self, actor: &Actor, user: UserId, room: &str) -> Result<(), Error> {
        self.runner.execute(actor, None, &AssignRoom { user_id: user, room: room.to_owned() }).await
    }
    /// Places and pays an order (one commit). Use a key to make a retry safe.
    pub async fn place_order(
        &self,
        actor: &Actor,
        input: OrderInput,
        key: Option<&IdempotencyKey>,
    ) -> Result<Order, Error> {
        self.runner.execute(actor, key, &PlaceOrder { input }).await
    }
    /// Moves an order along its workflow.
    pub async fn act(&self, actor: &Actor, order: OrderId, action: OrderAction) -> Result<Order, Error> {
        self.runner.execute(actor, None, &ActOnOrder { order_id: order, action }).await
    }
    /// Approves or denies a refund request.
    pub async fn decide_refund(&self, actor: &Actor, order: OrderId, approve: bool) -> Result<Order, Error> {
        self.runner.execute(actor, None, &DecideRefund { order_id: order, approve }).await
    }
    /// An order (its resident and staff).
    pub async fn order(&self, actor: &Actor, id: OrderId) -> Result<Order, Error> {
        let o = self.runner.store().order(id).await?.ok_or_else(|| Error::not_found("order"))?.value;
        require_visible(actor, o.readers().admits(actor), "order")?;
        Ok(o)
    }
    /// The kitchen's open orders of a date, grouped by room (staff).
    pub async fn open_orders(&self, actor: &Actor, date: NaiveDate) -> Result<Vec<Order>, Error> {
        require(actor, Decision::when(is_kitchen(actor), "only canteen staff see the kitchen's orders"))?;
        Ok(self.runner.store().open_orders(date).await?)
    }
}
