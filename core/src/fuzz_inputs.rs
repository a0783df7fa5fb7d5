//! No input panics the library: arbitrary values and arbitrary JSON for every public input type of
//! the Viramah and Khedma modules validate or fail with field errors (the HomeHeroes inputs, the
//! ledger engine and the gateways have their own property tests next to them).
#![cfg(test)]

use crate::amenities::TemplateInput;
use crate::canteen::{AddMenuItem, LineInput, OrderInput, PlaceOrder};
use crate::id::{JobRequestId, MenuItemId};
use crate::khedma::{PostJobRequest, SubmitQuote};
use crate::payments::TopUpInput;
use crate::rooms::AddRoom;
use crate::time::Timestamp;
use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
}
fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof!["\\PC{0,40}", "[0-9:]{0,6}", Just("x".repeat(3000)), "[A-Za-z/_]{0,20}"])
}
fn decimal() -> impl Strategy<Value = Option<Decimal>> {
    prop::option::of((any::<i64>(), 0u32..12).prop_map(|(m, s)| Decimal::new(m, s)))
}

proptest! {
    #[test]
    fn viramah_and_khedma_inputs_never_panic(
        a in text(), b in text(), c in text(), n in prop::option::of(any::<i64>()), m in prop::option::of(any::<i64>()),
        amount in decimal(), reauth in any::<bool>(), lines in prop::collection::vec((any::<bool>(), prop::option::of(any::<i64>())), 0..25),
        json in "\\PC{0,200}",
    ) {
        let _ = TemplateInput { opens: a.clone(), closes: b.clone(), slot_minutes: n, capacity: m, time_zone: c.clone() }.validate();
        let top_up = TopUpInput { amount, currency: a.clone(), gateway: b.clone(), reauthenticated: reauth };
        if let Ok(v) = top_up.validate() {
            prop_assert!(v.amount.is_positive() && v.amount.amount() <= crate::payments::TOP_UP_MAX);
        }
        let order = PlaceOrder { input: OrderInput {
            date: NaiveDate::from_ymd_opt(2026, 6, 1),
            lines: lines.iter().map(|(some, q)| LineInput { item_id: some.then(|| MenuItemId::from_uuid(Uuid::nil())), quantity: *q }).collect(),
            expected_total: amount,
        }};
        if let Ok(v) = order.check(now()) {
            let n = v.line_count();
            prop_assert!((1..=crate::canteen::ORDER_LINES_MAX).contains(&n));
        }
        let dish = AddMenuItem { date: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(), name: a.clone(), price: amount };
        let _ = dish.check(now());
        let room = AddRoom { number: a.clone().unwrap_or_default(), beds: n.unwrap_or(0) };
        let _ = room.check(now());
        let post = PostJobRequest { title: a.clone(), description: b.clone() };
        let _ = post.check(now());
        let quote = SubmitQuote { request_id: JobRequestId::from_uuid(Uuid::nil()), amount, message: c, valid_days: n };
        let _ = quote.check(now());
        let _ = serde_json::from_str::<TopUpInput>(&json);
        let _ = serde_json::from_str::<TemplateInput>(&json);
        let _ = serde_json::from_str::<OrderInput>(&json);
    }
}

/// A line of an order drawn near the rules: mostly a distinct menu item (sometimes a repeated one,
/// sometimes none) and a quantity mostly in 1–10 (sometimes 0, 11, negative or anything).
fn order_line() -> impl Strategy<Value = (Option<u128>, Option<i64>)> {
    let item = prop_oneof![18 => (1u128..1_000).prop_map(Some), 1 => Just(Some(0u128)), 1 => Just(None)];
    let quantity = prop_oneof![16 => (1i64..=10).prop_map(Some), 2 => (-1i64..=12).prop_map(Some), 1 => any::<i64>().prop_map(Some), 1 => Just(None)];
    (item, quantity)
}

/// Orders and top-ups drawn near their limits reach both the valid and the refused region, and the
/// rule alone decides which: an order is valid exactly when it has 1–20 lines, each naming a
/// distinct item with a quantity of 1–10; a top-up exactly when 0 < amount ≤ 100,000 INR with at
/// most two decimals (and a known gateway).
#[test]
fn orders_and_top_ups_near_the_limits_reach_the_valid_region() {
    use crate::canteen::{ORDER_LINES_MAX, QUANTITY_MAX};
    use crate::payments::TOP_UP_MAX;
    use std::sync::atomic::{AtomicU32, Ordering};
    let counts: [AtomicU32; 4] = Default::default();
    let strategy = (
        prop_oneof![3 => prop::collection::vec(order_line(), 0..4), 1 => prop::collection::vec(order_line(), 0..24)],
        prop_oneof![4 => (-100i64..2_000_000, 0u32..4).prop_map(|(m, s)| Decimal::new(m, s)), 1 => (any::<i64>(), 0u32..12).prop_map(|(m, s)| Decimal::new(m, s))],
    );
    const CASES: u32 = 1024;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&strategy, |(lines, amount)| {
            let input = OrderInput {
                date: NaiveDate::from_ymd_opt(2026, 6, 1),
                lines: lines
                    .iter()
                    .map(|(item, q)| LineInput {
                        item_id: item.map(|i| MenuItemId::from_uuid(Uuid::from_u128(i))),
                        quantity: *q,
                    })
                    .collect(),
                expected_total: None,
            };
            let mut distinct = std::collections::BTreeSet::new();
            let order_ok = (1..=ORDER_LINES_MAX).contains(&lines.len())
                && lines.iter().all(|(item, q)| {
                    item.is_some_and(|i| distinct.insert(i)) && q.is_some_and(|q| (1..=QUANTITY_MAX).contains(&q))
                });
            let checked = PlaceOrder { input }.check(now());
            prop_assert_eq!(checked.is_ok(), order_ok, "{:?}: {:?}", lines, checked.err());
            if let Ok(v) = &checked {
                prop_assert_eq!(v.line_count(), lines.len());
            }
            counts[usize::from(order_ok)].fetch_add(1, Ordering::Relaxed);
            let top_up = TopUpInput {
                amount: Some(amount),
                currency: Some("INR".into()),
                gateway: Some("phonepe".into()),
                reauthenticated: false,
            };
            let top_up_ok = amount > Decimal::ZERO && amount <= TOP_UP_MAX && amount.normalize().scale() <= 2;
            prop_assert_eq!(top_up.validate().is_ok(), top_up_ok, "{}", amount);
            counts[2 + usize::from(top_up_ok)].fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    let [order_refused, order_valid, top_up_refused, top_up_valid] = counts.map(AtomicU32::into_inner);
    for (what, n) in [
        ("valid orders", order_valid),
        ("refused orders", order_refused),
        ("valid top-ups", top_up_valid),
        ("refused top-ups", top_up_refused),
    ] {
        assert!(n >= CASES / 10, "only {n} {what} of {CASES}");
    }
}
