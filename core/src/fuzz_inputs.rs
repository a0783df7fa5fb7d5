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
