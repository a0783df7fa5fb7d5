//! Random walks across slots and orders (issue 5): proptest draws reproducible operation sequences,
//! each runs against the store, and every invariant is checked after every step.

use super::amenities::{tomorrow, Gym};
use super::canteen::Kitchen;
use crate::actor::Actor;
use crate::canteen::{OrderAction, RefundState};
use crate::error::ErrorCode;
use crate::kernel::store::Store;
use crate::ledger::model::{TransferId, TransferResult};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Book { who: usize, slot: usize },
    CancelSeat { who: usize },
    Order { who: usize, biryanis: i64 },
    Kitchen { order: usize, action: usize },
    Cancel { order: usize },
    Refund { order: usize, approve: bool },
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0usize..5, 0usize..3).prop_map(|(who, slot)| Op::Book { who, slot }),
        2 => (0usize..5).prop_map(|who| Op::CancelSeat { who }),
        3 => (0usize..3, 1i64..4).prop_map(|(who, biryanis)| Op::Order { who, biryanis }),
        3 => (any::<usize>(), 0usize..5).prop_map(|(order, action)| Op::Kitchen { order, action }),
        2 => any::<usize>().prop_map(|order| Op::Cancel { order }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(order, approve)| Op::Refund { order, approve }),
    ];
    prop::collection::vec(op, 20..60)
}

pub async fn random_walks_over_slots_and_orders_keep_every_invariant<S: Store + Clone + 'static>(store: S) {
    let gym = Gym::new(store.clone(), 2).await;
    let kitchen = Kitchen::new(store.clone()).await;
    gym.svc.generate_slots(&gym.manager, gym.gym.id, tomorrow()).await.unwrap();
    let slots = gym.svc.slots(&gym.manager, gym.gym.id, tomorrow()).await.unwrap();
    let residents: Vec<Actor> = (0..5).map(|_| gym.resident()).collect();
    let mut diners = Vec::new();
    for _ in 0..3 {
        diners.push(kitchen.resident(500).await);
    }
    let mut seats: Vec<Option<crate::id::AmenityBookingId>> = vec![None; residents.len()];
    let mut orders: Vec<crate::canteen::Order> = Vec::new();
    let kitchen_steps = [
        OrderAction::Confirm,
        OrderAction::StartPreparing,
        OrderAction::MarkReady,
        OrderAction::Deliver,
        OrderAction::Complete,
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for case in 0..3 {
        let seq = ops().new_tree(&mut runner).unwrap().current();
        for op in &seq {
            let outcome = match op.clone() {
                Op::Book { who, slot } => match gym.svc.book(&residents[who], slots[slot].id).await {
                    Ok(b) => {
                        if let Some(previous) = seats[who].replace(b.id) {
                            gym.svc.cancel(&residents[who], previous).await.map(|_| ())
                        } else {
                            Ok(())
                        }
                    }
                    Err(e) => Err(e),
                },
                Op::CancelSeat { who } => match seats[who].take() {
                    Some(b) => gym.svc.cancel(&residents[who], b).await.map(|_| ()),
                    None => Ok(()),
                },
                Op::Order { who, biryanis } => {
                    let input = kitchen.order(&[(&kitchen.biryani, biryanis)], None);
                    kitchen.canteen.place_order(&diners[who].0, input, None).await.map(|o| orders.push(o))
                }
                Op::Kitchen { order, action } if !orders.is_empty() => {
                    let id = orders[order % orders.len()].id;
                    kitchen.canteen.act(&kitchen.staff, id, kitchen_steps[action]).await.map(|_| ())
                }
                Op::Cancel { order } if !orders.is_empty() => {
                    let o = &orders[order % orders.len()];
                    let owner = diners.iter().find(|(a, _)| a.is(o.user_id)).map(|(a, _)| a.clone()).unwrap();
                    kitchen.canteen.act(&owner, o.id, OrderAction::Cancel).await.map(|_| ())
                }
                Op::Refund { order, approve } if !orders.is_empty() => {
                    let id = orders[order % orders.len()].id;
                    kitchen.canteen.decide_refund(&kitchen.admin, id, approve).await.map(|_| ())
                }
                _ => Ok(()),
            };
            if let Err(e) = outcome {
                assert!(
                    matches!(
                        e.code,
                        ErrorCode::CapacityExhausted
                            | ErrorCode::Conflict
                            | ErrorCode::InsufficientFunds
                            | ErrorCode::InvalidTransition
                            | ErrorCode::PreconditionFailed
                            | ErrorCode::RateLimited
                    ),
                    "case {case}: {op:?} failed unexpectedly: {e:?}"
                );
            }
            // Every slot's counter equals its live seats and never exceeds capacity.
            for s in &slots {
                gym.assert_counter_matches(s).await;
            }
            // No wallet below zero.
            for (who, wallet) in &diners {
                assert!(kitchen.available(who, wallet).await >= 0, "case {case}: a wallet went negative");
            }
        }
        // Every order has its payment; refunded ones have exactly their refund; books balance.
        for o in &orders {
            let now = kitchen.canteen.order(&kitchen.staff, o.id).await.unwrap();
            let paid = kitchen.ledger.transfer(&Actor::System, TransferId::from_uuid(o.id.as_uuid())).await.unwrap();
            assert_eq!((paid.result, paid.amount), (TransferResult::Ok, o.total.to_minor().unwrap()));
            let refund_id = TransferId::from_uuid(Uuid::new_v5(&o.id.as_uuid(), b"refund"));
            let refunded = kitchen.ledger.transfer(&Actor::System, refund_id).await.is_ok();
            assert_eq!(refunded, now.refund == Some(RefundState::Refunded), "case {case}: order {:?}", now);
        }
        assert!(kitchen.ledger.reconcile(&Actor::System).await.unwrap().is_clean());
    }
}

crate::conformance_cases!("walks"; random_walks_over_slots_and_orders_keep_every_invariant);
