//! Random walks across slots and orders (issue 5): proptest draws reproducible operation sequences,
//! each runs against the store next to a small model of the rules, and every step must give the one
//! answer the model predicts (the exact error code, or success) and keep every invariant.
//!
//! The clock moves: each case starts on its own day a few hours before the gym opens, so its steps
//! cross the UTC date boundary and the starts of the slots it books; the canteen's rolling day moves
//! with it.

use super::amenities::Gym;
use super::canteen::{today, Kitchen};
use crate::actor::Actor;
use crate::amenities::Slot;
use crate::canteen::{OrderAction, OrderStatus, RefundState};
use crate::error::{Error, ErrorCode};
use crate::id::{AmenityBookingId, OrderId, SlotId};
use crate::kernel::store::Store;
use crate::ledger::model::{TransferId, TransferResult};
use crate::time::Clock;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Cases drawn (each on its own day; cheap: a few dozen commands each).
const CASES: u32 = 8;
/// Slots of a day the walk books (capacity 2 each).
const SLOTS: usize = 3;
const CAPACITY: u32 = 2;
const RESIDENTS: usize = 5;
const DINERS: usize = 3;
/// Each diner's wallet at the start, in paise (500.00 INR), and one biryani (120.00 INR).
const WALLET: i64 = 50_000;
const BIRYANI: i64 = 12_000;

#[derive(Debug, Clone)]
enum Op {
    Book {
        who: usize,
        slot: usize,
    },
    CancelSeat {
        who: usize,
    },
    Order {
        who: usize,
        biryanis: i64,
    },
    /// `next`: the order's next kitchen step (so orders reach `preparing` and refund requests);
    /// otherwise `action`, whatever the order's state.
    Kitchen {
        order: usize,
        next: bool,
        action: usize,
    },
    Cancel {
        order: usize,
    },
    Refund {
        order: usize,
        approve: bool,
    },
    Tick {
        minutes: i64,
    },
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..RESIDENTS, 0..SLOTS).prop_map(|(who, slot)| Op::Book { who, slot }),
        2 => (0..RESIDENTS).prop_map(|who| Op::CancelSeat { who }),
        3 => (0..DINERS, 1i64..4).prop_map(|(who, biryanis)| Op::Order { who, biryanis }),
        4 => (any::<usize>(), any::<bool>(), 0usize..5).prop_map(|(order, next, action)| Op::Kitchen { order, next, action }),
        2 => any::<usize>().prop_map(|order| Op::Cancel { order }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(order, approve)| Op::Refund { order, approve }),
        2 => (1i64..=75).prop_map(|minutes| Op::Tick { minutes }),
    ];
    prop::collection::vec(op, 20..60)
}

const KITCHEN_STEPS: [OrderAction; 5] = [
    OrderAction::Confirm,
    OrderAction::StartPreparing,
    OrderAction::MarkReady,
    OrderAction::Deliver,
    OrderAction::Complete,
];

/// The kitchen's transition table (canteen `ORDER`), as the model knows it.
fn kitchen_step(from: OrderStatus, action: OrderAction) -> Option<OrderStatus> {
    use OrderStatus as O;
    match (from, action) {
        (O::Placed, OrderAction::Confirm) => Some(O::Confirmed),
        (O::Confirmed, OrderAction::StartPreparing) => Some(O::Preparing),
        (O::Preparing, OrderAction::MarkReady) => Some(O::Ready),
        (O::Ready, OrderAction::Deliver) => Some(O::Delivered),
        (O::Delivered, OrderAction::Complete) => Some(O::Completed),
        _ => None,
    }
}

/// What the model knows of an order.
#[derive(Debug, Clone)]
struct ModelOrder {
    id: OrderId,
    diner: usize,
    total: i64,
    status: OrderStatus,
    refund: Option<RefundState>,
}

/// The rules, kept by hand: seats, balances, orders.
#[derive(Default)]
struct Model {
    seats: Vec<Option<(SlotId, AmenityBookingId)>>,
    booked: BTreeMap<SlotId, u32>,
    balance: Vec<i64>,
    /// Each diner's order bucket (the pure GCRA state, `crate::limits::CANTEEN_ORDERS`).
    order_bucket: Vec<Option<i64>>,
    orders: Vec<ModelOrder>,
}

/// `Ok` or the one error code the model expects.
type Expect = Result<(), ErrorCode>;

fn code<T>(r: &Result<T, Error>) -> Result<(), ErrorCode> {
    r.as_ref().map(|_| ()).map_err(|e| e.code)
}

pub async fn random_walks_over_slots_and_orders_keep_every_invariant<S: Store + Clone + 'static>(store: S) {
    let gym = Gym::new(store.clone(), i64::from(CAPACITY)).await;
    let kitchen = Kitchen::new(store.clone()).await;
    let residents: Vec<Actor> = (0..RESIDENTS).map(|_| gym.resident()).collect();
    let mut diners = Vec::new();
    for _ in 0..DINERS {
        diners.push(kitchen.resident(WALLET / 100).await);
    }
    let mut m = Model {
        seats: vec![None; RESIDENTS],
        balance: vec![WALLET; DINERS],
        order_bucket: vec![None; DINERS],
        ..Model::default()
    };
    // How often each kind of step succeeded and each refusal was met: the walk must reach them all.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for case in 0..CASES {
        // This case's day: slots from 06:00 Asia/Kolkata (00:30 UTC); start 2 h 30 min before the first.
        let day = super::amenities::tomorrow() + chrono::Days::new(u64::from(case));
        gym.svc.generate_slots(&gym.manager, gym.gym.id, day).await.unwrap();
        let slots: Vec<Slot> = gym.svc.slots(&gym.manager, gym.gym.id, day).await.unwrap()[..SLOTS].to_vec();
        let start = slots[0].starts_at.checked_sub(chrono::Duration::minutes(150)).unwrap();
        gym.clock.set(start);
        kitchen.clock.set(start);
        let seq = ops().new_tree(&mut runner).unwrap().current();
        for op in &seq {
            let now = gym.clock.now();
            let (kind, expected, got): (&str, Expect, Expect) = match op.clone() {
                Op::Tick { minutes } => {
                    gym.clock.advance(chrono::Duration::minutes(minutes));
                    kitchen.clock.advance(chrono::Duration::minutes(minutes));
                    ("tick", Ok(()), Ok(()))
                }
                Op::Book { who, slot } => {
                    let s = &slots[slot];
                    let booked = m.booked.get(&s.id).copied().unwrap_or(0);
                    // `BookSlot`'s order: a started slot, then a second seat, then a full slot.
                    let expected = if s.starts_at <= now {
                        Err(ErrorCode::PreconditionFailed)
                    } else if m.seats[who].is_some_and(|(held, _)| held == s.id) {
                        Err(ErrorCode::Conflict)
                    } else if booked >= CAPACITY {
                        Err(ErrorCode::CapacityExhausted)
                    } else {
                        Ok(())
                    };
                    let r = gym.svc.book(&residents[who], s.id).await;
                    if let Ok(b) = &r {
                        *m.booked.entry(s.id).or_default() += 1;
                        // The walk holds one seat per resident: the previous one is given back.
                        if let Some((old_slot, old)) = m.seats[who].replace((s.id, b.id)) {
                            gym.svc.cancel(&residents[who], old).await.unwrap();
                            *m.booked.get_mut(&old_slot).unwrap() -= 1;
                        }
                    }
                    ("book", expected, code(&r))
                }
                Op::CancelSeat { who } => match m.seats[who].take() {
                    Some((slot, b)) => {
                        let r = gym.svc.cancel(&residents[who], b).await;
                        *m.booked.get_mut(&slot).unwrap() -= 1;
                        ("cancel_seat", Ok(()), code(&r))
                    }
                    None => ("cancel_seat", Ok(()), Ok(())),
                },
                Op::Order { who, biryanis } => {
                    let cost = BIRYANI * biryanis;
                    // `PlaceOrder`'s order: the daily limit (GCRA), then the wallet.
                    let verdict = crate::limits::CANTEEN_ORDERS.decide(m.order_bucket[who], now);
                    let expected = if matches!(verdict, crate::limits::Verdict::Limited { .. }) {
                        Err(ErrorCode::RateLimited)
                    } else if m.balance[who] < cost {
                        Err(ErrorCode::InsufficientFunds)
                    } else {
                        Ok(())
                    };
                    let input = kitchen.order(&[(&kitchen.biryani, biryanis)], None);
                    let r = kitchen.canteen.place_order(&diners[who].0, input, None).await;
                    if let Ok(o) = &r {
                        assert_eq!((o.date, o.total.to_minor()), (today(), Some(cost)));
                        m.balance[who] -= cost;
                        let crate::limits::Verdict::Admitted { tat, .. } = verdict else { unreachable!() };
                        m.order_bucket[who] = Some(tat);
                        m.orders.push(ModelOrder {
                            id: o.id,
                            diner: who,
                            total: cost,
                            status: OrderStatus::Placed,
                            refund: None,
                        });
                    }
                    ("order", expected, code(&r))
                }
                Op::Kitchen { order, next, action } if !m.orders.is_empty() => {
                    let k = order % m.orders.len();
                    let status = m.orders[k].status;
                    let action = match KITCHEN_STEPS.iter().find(|a| kitchen_step(status, **a).is_some()) {
                        Some(step) if next => *step,
                        _ => KITCHEN_STEPS[action],
                    };
                    let next = kitchen_step(m.orders[k].status, action);
                    let r = kitchen.canteen.act(&kitchen.staff, m.orders[k].id, action).await;
                    if let (Some(to), Ok(_)) = (next, &r) {
                        m.orders[k].status = to;
                    }
                    ("kitchen", next.map(|_| ()).ok_or(ErrorCode::InvalidTransition), code(&r))
                }
                Op::Cancel { order } if !m.orders.is_empty() => {
                    let k = order % m.orders.len();
                    let o = m.orders[k].clone();
                    // Before the kitchen starts: refunded at once; after: a request; once delivered: final.
                    let (expected, refund) = match o.status {
                        OrderStatus::Placed | OrderStatus::Confirmed => (Ok(()), Some(RefundState::Refunded)),
                        OrderStatus::Preparing | OrderStatus::Ready => (Ok(()), Some(RefundState::Requested)),
                        _ => (Err(ErrorCode::InvalidTransition), None),
                    };
                    let r = kitchen.canteen.act(&diners[o.diner].0, o.id, OrderAction::Cancel).await;
                    if r.is_ok() {
                        m.orders[k].status = OrderStatus::Cancelled;
                        m.orders[k].refund = refund;
                        if refund == Some(RefundState::Refunded) {
                            m.balance[o.diner] += o.total;
                        }
                    }
                    ("cancel_order", expected, code(&r))
                }
                Op::Refund { order, approve } if !m.orders.is_empty() => {
                    let k = order % m.orders.len();
                    let o = m.orders[k].clone();
                    // Canteen `DecideRefund`: a pending request is decided; a settled one is `conflict`
                    // (what a racing admin gets too); no request at all is a precondition.
                    let expected = match o.refund {
                        Some(RefundState::Requested) => Ok(()),
                        Some(_) => Err(ErrorCode::Conflict),
                        None => Err(ErrorCode::PreconditionFailed),
                    };
                    let r = kitchen.canteen.decide_refund(&kitchen.admin, o.id, approve).await;
                    if r.is_ok() {
                        m.orders[k].refund = Some(if approve { RefundState::Refunded } else { RefundState::Denied });
                        if approve {
                            m.balance[o.diner] += o.total;
                        }
                    }
                    ("refund", expected, code(&r))
                }
                _ => ("nothing", Ok(()), Ok(())),
            };
            assert_eq!(got, expected, "case {case}: {op:?} at {now}");
            let outcome = match got {
                Ok(()) => format!("{kind} ok"),
                Err(c) => format!("{kind} {}", c.as_str()),
            };
            *seen.entry(outcome).or_default() += 1;
            // Every slot's counter equals its live seats (and the model's), never above capacity.
            for s in &slots {
                gym.assert_counter_matches(s).await;
                let stored = gym.svc.runner().store();
                let booked = crate::amenities::AmenityStore::slot(stored, s.id).await.unwrap().unwrap().value.booked;
                assert_eq!(booked, m.booked.get(&s.id).copied().unwrap_or(0), "case {case}: {op:?}");
            }
            // Every wallet holds exactly what the model says, never below zero.
            for (i, (who, wallet)) in diners.iter().enumerate() {
                assert_eq!(kitchen.available(who, wallet).await, m.balance[i], "case {case}: {op:?}");
                assert!(m.balance[i] >= 0);
            }
        }
        // Every order is as the model says, has its payment, and exactly its refund; books balance.
        for o in &m.orders {
            let now = kitchen.canteen.order(&kitchen.staff, o.id).await.unwrap();
            assert_eq!((now.status, now.refund), (o.status, o.refund), "case {case}: {o:?}");
            let paid = kitchen.ledger.transfer(&Actor::System, TransferId::from_uuid(o.id.as_uuid())).await.unwrap();
            assert_eq!((paid.result, paid.amount), (TransferResult::Ok, o.total));
            let refund_id = TransferId::from_uuid(Uuid::new_v5(&o.id.as_uuid(), b"refund"));
            let refunded = match kitchen.ledger.transfer(&Actor::System, refund_id).await {
                Ok(t) => {
                    assert_eq!((t.result, t.amount), (TransferResult::Ok, o.total));
                    true
                }
                Err(e) => {
                    assert_eq!(e.code, ErrorCode::NotFound, "{e:?}");
                    false
                }
            };
            assert_eq!(refunded, o.refund == Some(RefundState::Refunded), "case {case}: order {o:?}");
        }
        assert!(kitchen.ledger.reconcile(&Actor::System).await.unwrap().is_clean());
    }
    println!("walks: {CASES} cases reached {seen:?}");
    // The walk reached every region the rules have: each step kind succeeded, and each refusal
    // the model predicts was met at least once.
    for outcome in [
        "book ok",
        "book precondition_failed",
        "book conflict",
        "book capacity_exhausted",
        "cancel_seat ok",
        "order ok",
        "order insufficient_funds",
        "kitchen ok",
        "kitchen invalid_transition",
        "cancel_order ok",
        "cancel_order invalid_transition",
        "refund ok",
        "refund conflict",
        "refund precondition_failed",
    ] {
        assert!(seen.get(outcome).is_some_and(|n| *n > 0), "the walk never reached `{outcome}`: {seen:?}");
    }
}

crate::conformance_cases!("walks"; random_walks_over_slots_and_orders_keep_every_invariant);
