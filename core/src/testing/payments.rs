//! Payment conformance tests: the same on every store.

use super::fixtures::refused;
use super::ledger::transfer;
use crate::actor::{Actor, Role};
use crate::error::ErrorCode;
use crate::id::UserId;
use crate::kernel::store::Store;
use crate::ledger::model::{AccountKind, TransferCode, TransferResult as R};
use crate::ledger::Ledger;
use crate::ledger::LedgerStore;
use crate::money::Currency;
use crate::payments::gateway::{Gateway, GatewayKind, Headers, PhonePeStyle, StripeStyle};
use crate::payments::{
    ConfirmationOutcome as C, IntentStatus, PaymentIntent, PaymentStore, Payments, ReviewState, TopUpInput,
};
use crate::system::RandomIds;
use crate::time::{Clock, ManualClock};
use crate::validate::Violation;
use rust_decimal::Decimal;
use std::sync::Arc;

pub const PHONEPE_SECRET: &[u8] = b"phonepe-salt-key";
pub const STRIPE_SECRET: &[u8] = b"whsec_test_secret";

pub struct Shop<S> {
    pub pay: Payments<S>,
    pub ledger: Ledger<S>,
    pub clock: Arc<ManualClock>,
    pub phonepe: Arc<PhonePeStyle>,
    pub stripe: Arc<StripeStyle>,
}

impl<S: Store + Clone + 'static> Shop<S> {
    pub fn new(store: S) -> Self {
        let clock = Arc::new(ManualClock::new(super::fixtures::epoch()));
        let phonepe = Arc::new(PhonePeStyle::new(PHONEPE_SECRET.to_vec(), 1));
        let stripe = Arc::new(StripeStyle::new(STRIPE_SECRET.to_vec()));
        let gateways: Vec<Arc<dyn Gateway>> = vec![phonepe.clone(), stripe.clone()];
        let pay = Payments::new(store.clone(), clock.clone(), Arc::new(RandomIds), gateways);
        let ledger = Ledger::new(store, clock.clone(), Arc::new(RandomIds));
        Self { pay, ledger, clock, phonepe, stripe }
    }
    pub fn resident(&self) -> Actor {
        Actor::user(UserId::generate(&RandomIds), [Role::Resident])
    }
    pub async fn intent(&self, who: &Actor, rupees: i64) -> PaymentIntent {
        let input = TopUpInput {
            amount: Some(Decimal::new(rupees, 0)),
            currency: Some("INR".into()),
            gateway: Some("phonepe".into()),
            reauthenticated: true,
        };
        let i = self.pay.create_top_up(who, input, None).await.unwrap();
        self.pay.mark_pending(&Actor::System, i.id, &format!("order-{}", i.id)).await.unwrap()
    }
    /// A PhonePe-style delivery for `intent`: (headers, body).
    pub fn phonepe_event(
        &self,
        intent: &PaymentIntent,
        txn: &str,
        amount_minor: i64,
        state: &str,
    ) -> (Headers, Vec<u8>) {
        let body = serde_json::json!({
            "merchantTransactionId": intent.id.to_string(),
            "transactionId": txn,
            "amount": amount_minor,
            "currency": "INR",
            "state": state,
        })
        .to_string()
        .into_bytes();
        (self.phonepe.sign(&body, self.clock.now()), body)
    }
    pub async fn deliver(&self, intent: &PaymentIntent, txn: &str) -> crate::payments::WebhookOutcome {
        let (h, b) = self.phonepe_event(intent, txn, intent.amount.to_minor().unwrap(), "COMPLETED");
        self.pay.handle_webhook(GatewayKind::PhonePe, &h, &b).await.unwrap()
    }
    pub async fn available(&self, who: &Actor, intent: &PaymentIntent) -> i64 {
        self.ledger.balance(who, intent.wallet_account_id).await.unwrap().available.to_minor().unwrap()
    }
}

pub async fn payments_webhook_credits_once_however_often_delivered<S: Store + Clone + 'static>(store: S) {
    let shop = Arc::new(Shop::new(store));
    let alice = shop.resident();
    let intent = shop.intent(&alice, 500).await;
    assert_eq!(intent.status, IntentStatus::Pending);
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(shop.deliver(&intent, "T-1").await);
    }
    assert_eq!(outcomes[0].outcome, C::Credited);
    assert!(!outcomes[0].replayed);
    assert!(outcomes[1..].iter().all(|o| o.replayed && o.outcome == C::Credited), "{outcomes:?}");
    assert_eq!(shop.available(&alice, &intent).await, 50_000, "credited exactly once");
    // Racing deliveries of another payment: one applies, the rest replay its answer.
    shop.clock.advance(chrono::Duration::minutes(2));
    let second = shop.intent(&alice, 300).await;
    let events_before = shop.pay.runner().store().outbox_after(0, 10_000).await.unwrap().len();
    const DELIVERIES: usize = 8;
    let barrier = Arc::new(tokio::sync::Barrier::new(DELIVERIES));
    let tasks: Vec<_> = (0..DELIVERIES)
        .map(|_| {
            let (shop, second, barrier) = (shop.clone(), second.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                shop.deliver(&second, "T-2").await
            })
        })
        .collect();
    let mut fresh = 0;
    for t in tasks {
        let o = t.await.unwrap();
        assert_eq!(o.outcome, C::Credited);
        fresh += usize::from(!o.replayed);
    }
    assert_eq!(fresh, 1);
    assert_eq!(shop.available(&alice, &intent).await, 80_000);
    // Exactly one confirmation, one credit transfer and one commit's events for the racing deliveries.
    let store = shop.pay.runner().store();
    let confirmation = store.payment_confirmation(GatewayKind::PhonePe, "T-2").await.unwrap().expect("recorded");
    assert_eq!(confirmation.outcome, C::Credited);
    let credits = store.account_transfers(second.wallet_account_id, 1_000).await.unwrap();
    assert_eq!(
        credits.iter().filter(|t| t.code == TransferCode::TopUp).map(|t| t.amount).collect::<Vec<_>>(),
        [50_000, 30_000]
    );
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let mut topics: Vec<_> = events[events_before..].iter().map(|(_, e)| e.topic.as_str()).collect();
    topics.sort_unstable();
    assert_eq!(topics, ["ledger.transfer.applied", "payments.confirmation.create", "payments.intent.succeeded"]);
    let done = shop.pay.intent(&alice, second.id).await.unwrap();
    assert_eq!(
        (done.status, done.transfer_id.map(|t| t.as_uuid())),
        (IntentStatus::Succeeded, Some(second.id.as_uuid()))
    );
    // A second transaction for an already-paid intent is refused and alerted, never credited.
    let dup = shop.deliver(&second, "T-3").await;
    assert_eq!(dup.outcome, C::RejectedDuplicateForIntent);
    assert_eq!(shop.available(&alice, &intent).await, 80_000);
    assert!(shop.ledger.reconcile(&Actor::System).await.unwrap().is_clean());
}

pub async fn payments_bad_signatures_and_mismatches_write_nothing_or_only_alerts<S: Store + Clone + 'static>(store: S) {
    let shop = Shop::new(store);
    let alice = shop.resident();
    let intent = shop.intent(&alice, 500).await;
    let events_before = shop.pay.runner().store().outbox_after(0, 10_000).await.unwrap().len();
    let (headers, body) = shop.phonepe_event(&intent, "T-9", 50_000, "COMPLETED");
    let mut tampered = body.clone();
    let pos = tampered.len() - 5;
    tampered[pos] ^= 0x01;
    for (h, b) in [(&headers, &tampered), (&Headers::default(), &body)] {
        refused(
            shop.pay.runner().store(),
            ErrorCode::Unauthorized,
            shop.pay.handle_webhook(GatewayKind::PhonePe, h, b),
        )
        .await;
    }
    let wrong_key = PhonePeStyle::new(b"not-the-key".to_vec(), 1).sign(&body, shop.clock.now());
    let store = shop.pay.runner().store();
    refused(store, ErrorCode::Unauthorized, shop.pay.handle_webhook(GatewayKind::PhonePe, &wrong_key, &body)).await;
    // A PhonePe signature presented as a Stripe delivery is refused too.
    refused(store, ErrorCode::Unauthorized, shop.pay.handle_webhook(GatewayKind::Stripe, &headers, &body)).await;
    let store = shop.pay.runner().store();
    assert!(store.payment_confirmation(GatewayKind::PhonePe, "T-9").await.unwrap().is_none(), "nothing written");
    assert_eq!(store.outbox_after(0, 10_000).await.unwrap().len(), events_before);
    assert_eq!(shop.pay.intent(&alice, intent.id).await.unwrap().status, IntentStatus::Pending);
    // The amount is the intent's: a webhook claiming more is rejected with a P0 alert.
    let (h, b) = shop.phonepe_event(&intent, "T-10", 5_000_000, "COMPLETED");
    assert_eq!(shop.pay.handle_webhook(GatewayKind::PhonePe, &h, &b).await.unwrap().outcome, C::RejectedMismatch);
    assert_eq!(shop.available(&alice, &intent).await, 0);
    let topics: Vec<String> = store.outbox_after(0, 10_000).await.unwrap().into_iter().map(|(_, e)| e.topic).collect();
    assert!(topics.iter().any(|t| t == "alert.p0.payment_mismatch"), "{topics:?}");
    // Unknown intents, and failures, are recorded; a failure then a success does not credit.
    let stranger = crate::payments::PaymentIntent {
        id: crate::payments::PaymentIntentId::from_uuid(uuid::Uuid::now_v7()),
        ..intent.clone()
    };
    let (h, b) = shop.phonepe_event(&stranger, "T-11", 50_000, "COMPLETED");
    assert_eq!(shop.pay.handle_webhook(GatewayKind::PhonePe, &h, &b).await.unwrap().outcome, C::RejectedUnknownIntent);
    let (h, b) = shop.phonepe_event(&intent, "T-12", 50_000, "FAILED");
    assert_eq!(shop.pay.handle_webhook(GatewayKind::PhonePe, &h, &b).await.unwrap().outcome, C::Failed);
    assert_eq!(shop.pay.intent(&alice, intent.id).await.unwrap().status, IntentStatus::Failed);
    assert_eq!(shop.deliver(&intent, "T-13").await.outcome, C::Ignored);
    assert_eq!(shop.available(&alice, &intent).await, 0);
    // Malformed but signed bodies are a validation error.
    let junk = b"{not json".to_vec();
    let h = shop.phonepe.sign(&junk, shop.clock.now());
    refused(store, ErrorCode::Validation, shop.pay.handle_webhook(GatewayKind::PhonePe, &h, &junk)).await;
}

pub async fn payments_stripe_style_gateway_credits_too<S: Store + Clone + 'static>(store: S) {
    let shop = Shop::new(store);
    let bob = shop.resident();
    let input = TopUpInput {
        amount: Some(Decimal::new(12_345, 2)),
        currency: Some("INR".into()),
        gateway: Some("stripe".into()),
        reauthenticated: false,
    };
    let intent = shop.pay.create_top_up(&bob, input, None).await.unwrap();
    let body = serde_json::json!({
        "id": "evt_1", "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_77", "amount": 12_345, "currency": "inr", "metadata": {"merchant_ref": intent.id.to_string()}}}
    })
    .to_string()
    .into_bytes();
    let h = shop.stripe.sign(&body, shop.clock.now());
    assert_eq!(shop.pay.handle_webhook(GatewayKind::Stripe, &h, &body).await.unwrap().outcome, C::Credited);
    assert_eq!(shop.available(&bob, &intent).await, 12_345);
    // Stripe's replay tolerance is 300 s (`STRIPE_TOLERANCE_SECS`): a signature exactly 300 s old
    // is still accepted (the delivery replays the recorded answer); at 301 s it is refused.
    shop.clock.advance(chrono::Duration::seconds(crate::payments::gateway::STRIPE_TOLERANCE_SECS));
    let again = shop.pay.handle_webhook(GatewayKind::Stripe, &h, &body).await.unwrap();
    assert_eq!((again.outcome, again.replayed), (C::Credited, true));
    shop.clock.advance(chrono::Duration::seconds(1));
    let store = shop.pay.runner().store();
    refused(store, ErrorCode::Unauthorized, shop.pay.handle_webhook(GatewayKind::Stripe, &h, &body)).await;
    assert_eq!(shop.available(&bob, &intent).await, 12_345);
}

pub async fn payments_fraud_rules_limit_flag_and_hold<S: Store + Clone + 'static>(store: S) {
    let shop = Shop::new(store);
    let carol = shop.resident();
    let input = |rupees: i64, reauth: bool| TopUpInput {
        amount: Some(Decimal::new(rupees, 0)),
        currency: Some("INR".into()),
        gateway: Some("phonepe".into()),
        reauthenticated: reauth,
    };
    let store = shop.pay.runner().store();
    shop.pay.create_top_up(&carol, input(100, false), None).await.unwrap();
    // Viramah §14 E (velocity): a second intent within 60 s needs a fresh re-authentication — at
    // 0 s and 59 s it does; at exactly 60 s the first is no longer within the window.
    for wait in [0, 59] {
        shop.clock.advance(chrono::Duration::seconds(wait));
        refused(store, ErrorCode::ReauthenticationRequired, shop.pay.create_top_up(&carol, input(100, false), None))
            .await;
    }
    shop.clock.advance(chrono::Duration::seconds(1));
    let at_60 = shop.pay.create_top_up(&carol, input(100, false), None).await.unwrap();
    shop.pay.mark_pending(&Actor::System, at_60.id, "order-at-60").await.unwrap();
    shop.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(shop.pay.expire_intents(&Actor::System).await.unwrap().len(), 2, "both unpaid intents lapse");
    // History: three paid top-ups of 100.
    for k in 0..3 {
        shop.clock.advance(chrono::Duration::seconds(61));
        let i = shop.pay.create_top_up(&carol, input(100, false), None).await.unwrap();
        shop.deliver(&i, &format!("H-{k}")).await;
    }
    // 600 > 5 × 100: flagged; the credit is held, not spendable, until an admin decides.
    shop.clock.advance(chrono::Duration::seconds(61));
    let big = shop.pay.create_top_up(&carol, input(600, false), None).await.unwrap();
    assert_eq!(big.flags, [crate::payments::fraud::FraudFlag::AmountAnomaly]);
    assert_eq!(shop.deliver(&big, "BIG-1").await.outcome, C::HeldForReview);
    assert_eq!(shop.available(&carol, &big).await, 30_000, "the held 600 is not available");
    let admin = Actor::user(UserId::generate(&RandomIds), [Role::Admin]);
    refused(store, ErrorCode::Forbidden, shop.pay.review(&carol, big.id, true)).await;
    let approved = shop.pay.review(&admin, big.id, true).await.unwrap();
    assert_eq!(approved.review, Some(ReviewState::Approved));
    assert_eq!(shop.available(&carol, &big).await, 90_000);
    refused(store, ErrorCode::PreconditionFailed, shop.pay.review(&admin, big.id, false)).await;
    // Daily limit: 10 intents per rolling day (this user has 6 so far).
    for _ in 0..4 {
        shop.clock.advance(chrono::Duration::seconds(61));
        shop.pay.create_top_up(&carol, input(10, false), None).await.unwrap();
    }
    shop.clock.advance(chrono::Duration::seconds(61));
    let err = refused(store, ErrorCode::RateLimited, shop.pay.create_top_up(&carol, input(10, false), None)).await;
    // The wait is what the pure GCRA says of the stored bucket (`crate::limits::TOP_UPS`).
    let limit = crate::limits::TOP_UPS.limit(crate::limits::Subject::User(carol.user_id().unwrap())).unwrap();
    let bucket = crate::limits::bucket(store, limit).await.unwrap().unwrap();
    assert_eq!(bucket.version, 10, "ten takes, one per committed intent");
    let crate::limits::Verdict::Limited { retry_after_us } =
        crate::limits::TOP_UPS.decide(Some(bucket.value.tat_us), shop.clock.now())
    else {
        panic!("the pure decision refuses too")
    };
    assert_eq!(
        (err.message.as_str(), err.retry_after_ms),
        ("at most 10 top-ups per day", Some(crate::limits::retry_after_ms(retry_after_us)))
    );
    // Bad input is field errors; only residents top up.
    let bad = TopUpInput { amount: Some(Decimal::new(1, 3)), ..input(0, true) };
    let err = refused(store, ErrorCode::Validation, shop.pay.create_top_up(&carol, bad, None)).await;
    assert_eq!(err.fields[0].field, "amount");
    let guest = Actor::user(UserId::generate(&RandomIds), [Role::Customer]);
    refused(store, ErrorCode::Forbidden, shop.pay.create_top_up(&guest, input(10, true), None)).await;
    assert!(shop.ledger.reconcile(&Actor::System).await.unwrap().is_clean());
}

pub async fn payments_refunds_never_exceed_what_was_paid<S: Store + Clone + 'static>(store: S) {
    let shop = Arc::new(Shop::new(store));
    let dave = shop.resident();
    let intent = shop.intent(&dave, 1_000).await;
    shop.deliver(&intent, "R-1").await;
    let revenue = shop.ledger.system_account(&Actor::System, AccountKind::CanteenRevenue, Currency::INR).await.unwrap();
    let purchase = transfer(intent.wallet_account_id, revenue.id, 60_000, TransferCode::Purchase);
    assert_eq!(shop.ledger.create_transfers(&Actor::System, vec![purchase.clone()]).await.unwrap()[0].result, R::Ok);
    assert_eq!(shop.available(&dave, &intent).await, 40_000);
    // Eight racing refunds of 250.00 against a 600.00 purchase: exactly two land.
    const RACERS: usize = 8;
    let store = shop.pay.runner().store();
    let events_before = store.outbox_after(0, 10_000).await.unwrap().len();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (shop, id, barrier) = (shop.clone(), purchase.id, barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                shop.pay.refund(&Actor::System, id, Decimal::new(25_000, 2), None).await
            })
        })
        .collect();
    // The one answer for a loser is the sequential one: only 100.00 remains refundable, so 250.00 is
    // out of range on `amount` (a lost commit reloads and decides again; no refund can exhaust the
    // retries, as only two commits can land).
    let only_100_left = [crate::validate::FieldError {
        field: "amount".into(),
        violation: Violation::AmountOutOfRange { min: Decimal::new(1, 2), max: Decimal::new(10_000, 2) },
    }];
    let mut landed = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert_eq!(
                    (r.code, r.amount, r.credit_account_id),
                    (TransferCode::Refund, 25_000, intent.wallet_account_id)
                );
                landed.push(r.id);
            }
            Err(e) => {
                assert_eq!(e.code, ErrorCode::Validation, "{e:?}");
                assert_eq!(e.fields, only_100_left, "{e:?}");
            }
        }
    }
    assert_eq!(landed.len(), 2);
    // Exactly two refund transfers reference the purchase, each published once.
    let refunds = store.refunds_of(purchase.id).await.unwrap();
    let mut ids: Vec<_> = refunds.iter().map(|t| t.id).collect();
    ids.sort();
    landed.sort();
    assert_eq!(ids, landed);
    let events = store.outbox_after(0, 10_000).await.unwrap();
    let published: Vec<_> = events[events_before..].iter().map(|(_, e)| (e.topic.as_str(), e.entity.id)).collect();
    assert_eq!(published.len(), 2, "{published:?}");
    assert!(published.iter().all(|(t, id)| *t == "ledger.transfer.applied" && ids.iter().any(|r| r.as_uuid() == *id)));
    let err = refused(
        store,
        ErrorCode::Validation,
        shop.pay.refund(&Actor::System, purchase.id, Decimal::new(10_001, 2), None),
    )
    .await;
    assert_eq!(err.fields, only_100_left, "only 100.00 remains refundable");
    let last = shop.pay.refund(&Actor::System, purchase.id, Decimal::new(10_000, 2), None).await.unwrap();
    assert_eq!(last.amount, 10_000);
    assert_eq!(shop.available(&dave, &intent).await, 100_000, "fully refunded, never more");
    let user = dave.clone();
    refused(store, ErrorCode::Forbidden, shop.pay.refund(&user, purchase.id, Decimal::ONE, None)).await;
    // Refunding a top-up sends money back out of the wallet (to clearing), capped the same way.
    let out = shop
        .pay
        .refund(
            &Actor::System,
            crate::ledger::model::TransferId::from_uuid(intent.id.as_uuid()),
            Decimal::new(100_000, 2),
            None,
        )
        .await
        .unwrap();
    assert_eq!(out.debit_account_id, intent.wallet_account_id);
    assert_eq!(shop.available(&dave, &intent).await, 0);
    assert!(shop.ledger.reconcile(&Actor::System).await.unwrap().is_clean());
}

pub async fn payments_intents_expire_and_a_late_payment_still_credits<S: Store + Clone + 'static>(store: S) {
    let shop = Shop::new(store);
    let erin = shop.resident();
    let intent = shop.intent(&erin, 200).await;
    assert!(shop.pay.expire_intents(&Actor::System).await.unwrap().is_empty());
    // An intent lives `INTENT_TTL_SECS` (30 min): one second before, it is open; at exactly 30 min
    // it has expired.
    shop.clock.advance(chrono::Duration::seconds(crate::payments::INTENT_TTL_SECS - 1));
    assert!(shop.pay.expire_intents(&Actor::System).await.unwrap().is_empty());
    shop.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(shop.pay.expire_intents(&Actor::System).await.unwrap(), [intent.id]);
    assert_eq!(shop.pay.intent(&erin, intent.id).await.unwrap().status, IntentStatus::Expired);
    refused(shop.pay.runner().store(), ErrorCode::Forbidden, shop.pay.expire_intents(&erin)).await;
    // The user paid after all: the money was taken, so the late success credits.
    assert_eq!(shop.deliver(&intent, "L-1").await.outcome, C::Credited);
    assert_eq!(shop.available(&erin, &intent).await, 20_000);
    let other = shop.resident();
    assert_eq!(shop.pay.intent(&other, intent.id).await.unwrap_err().code, ErrorCode::NotFound);
}

crate::conformance_cases!("payments";
    payments_webhook_credits_once_however_often_delivered,
    payments_bad_signatures_and_mismatches_write_nothing_or_only_alerts,
    payments_stripe_style_gateway_credits_too,
    payments_fraud_rules_limit_flag_and_hold,
    payments_refunds_never_exceed_what_was_paid,
    payments_intents_expire_and_a_late_payment_still_credits,
);
