//! Payments, gateway-agnostic: top-up intents, verified webhooks that credit wallets exactly once,
//! held credits for flagged amounts, refunds capped by what was paid, and intent expiry.
//!
//! The amount is fixed by the intent — never by the client or the webhook. Only a verified
//! `succeeded` webhook credits a wallet: the ledger refuses `top_up` transfers from any other path.

pub mod fraud;
pub mod gateway;
pub mod jobs;
mod refund;
mod store;

pub use refund::{Refund, RefundScene};
pub use store::{confirmation_id, PaymentStore, CONFIRMATION_NAMESPACE, DOMAIN};

use crate::actor::{Actor, Role};
use crate::authz::Decision;
use crate::error::{Error, ErrorCode};
use crate::id::{IdSource, UserId};
use crate::kernel::access::{require, require_visible};
use crate::kernel::entity::{Entity, EntityRef, Readers};
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::ledger::engine::{self, Phase, Snapshot, TransferInput};
use crate::ledger::model::{Account, AccountKind, Transfer, TransferCode, TransferFlags, TransferId, TransferResult};
use crate::ledger::{default_flags, error_for, load_snapshot, load_snapshot_with, record_decision, LedgerStore};
use crate::limits::{LimitState, Subject, TOP_UPS};
use crate::machine::{held_parties, Machine, Party, Row};
use crate::money::{Currency, Money};
use crate::service::{Command, Decide, IdempotencyKey, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{ValidationErrors, Validator, Violation};
use fraud::{FraudFlag, Refusal};
use gateway::{EventStatus, Gateway, GatewayKind, Headers, WebhookError, WebhookEvent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// How long an intent waits for its payment before the expiry job closes it.
pub const INTENT_TTL_SECS: i64 = 30 * 60;
/// Largest single top-up, in currency units.
pub const TOP_UP_MAX: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);
/// Intents closed per expiry run.
pub const INTENT_EXPIRY_MAX: u32 = 1_000;

pub use crate::id::PaymentIntentId;

crate::homeheroes::model::wire_enum!(
    /// Payment intent states.
    IntentStatus {
        /// Created; the gateway order not yet made.
        Initiated = "initiated",
        /// The gateway order exists; waiting for the payment.
        Pending = "pending",
        /// Paid and credited (or held for review).
        Succeeded = "succeeded",
        /// The gateway reported failure.
        Failed = "failed",
        /// Nothing arrived in time.
        Expired = "expired",
    }
);

crate::homeheroes::model::wire_enum!(
    /// Payment intent actions.
    IntentAction {
        MarkPending = "mark_pending",
        Succeed = "succeed",
        Fail = "fail",
        Expire = "expire",
    }
);

use IntentStatus as I;
const SYSTEM: &[Party<()>] = &[Party::System];

/// The payment intent workflow. A late success (after expiry) still credits: the money was taken.
pub static PAYMENT_INTENT: Machine<IntentStatus, IntentAction, (), ()> = Machine {
    name: "payment_intent",
    rows: &[
        Row { from: &[I::Initiated], action: IntentAction::MarkPending, to: I::Pending, parties: SYSTEM, guard: None },
        Row {
            from: &[I::Initiated, I::Pending, I::Expired],
            action: IntentAction::Succeed,
            to: I::Succeeded,
            parties: SYSTEM,
            guard: None,
        },
        Row {
            from: &[I::Initiated, I::Pending],
            action: IntentAction::Fail,
            to: I::Failed,
            parties: SYSTEM,
            guard: None,
        },
        Row {
            from: &[I::Initiated, I::Pending],
            action: IntentAction::Expire,
            to: I::Expired,
            parties: SYSTEM,
            guard: None,
        },
    ],
};

crate::homeheroes::model::wire_enum!(
    /// Where a held (flagged) credit stands.
    ReviewState {
        /// Waiting for an admin.
        Held = "held",
        /// Approved: the hold was posted.
        Approved = "approved",
        /// Rejected: the hold was voided.
        Rejected = "rejected",
    }
);

/// A wallet top-up in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// Id and merchant reference.
    pub id: PaymentIntentId,
    /// Who pays.
    pub user_id: UserId,
    /// The wallet credited.
    pub wallet_account_id: crate::ledger::model::AccountId,
    /// Fixed here; the webhook must match it.
    pub amount: Money,
    /// Which gateway.
    pub gateway: GatewayKind,
    /// State.
    pub status: IntentStatus,
    /// The gateway's order id, once created.
    pub provider_order_id: Option<String>,
    /// Fraud flags raised at creation.
    pub flags: Vec<FraudFlag>,
    /// For flagged intents that succeeded: the review.
    pub review: Option<ReviewState>,
    /// The credit transfer, once made (its id is the intent id).
    pub transfer_id: Option<TransferId>,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
    /// When the expiry job may close it.
    pub expires_at: Timestamp,
}

crate::homeheroes::model::wire_enum!(
    /// What a webhook delivery led to.
    ConfirmationOutcome {
        /// The wallet was credited.
        Credited = "credited",
        /// Credited as a hold pending an admin's review.
        HeldForReview = "held_for_review",
        /// The gateway reported a failed payment; the intent is failed.
        Failed = "failed",
        /// Amount or currency differ from the intent: nothing credited, alert raised.
        RejectedMismatch = "rejected_mismatch",
        /// No such intent: nothing credited, alert raised.
        RejectedUnknownIntent = "rejected_unknown_intent",
        /// The intent was already paid by another transaction: nothing credited, alert raised.
        RejectedDuplicateForIntent = "rejected_duplicate_for_intent",
        /// The intent cannot take this event (e.g. failure after success): recorded only.
        Ignored = "ignored",
        /// The ledger refused the credit (frozen wallet): alert raised.
        CreditRefused = "credit_refused",
    }
);

/// One processed webhook delivery; unique per (gateway, provider transaction id), so a replay is
/// answered from here and never credits twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentConfirmation {
    /// Which gateway.
    pub gateway: GatewayKind,
    /// The gateway's transaction id.
    pub provider_txn_id: String,
    /// The intent it named, when known.
    pub intent_id: Option<PaymentIntentId>,
    /// As reported.
    pub amount_minor: i64,
    /// As reported.
    pub currency: Option<Currency>,
    /// As reported.
    pub status: EventStatus,
    /// What we did.
    pub outcome: ConfirmationOutcome,
    /// The credit, if any.
    pub transfer_id: Option<TransferId>,
    /// When received.
    pub received_at: Timestamp,
}

/// The answer to a webhook delivery (the HTTP layer answers 200 to all of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOutcome {
    /// The intent, when known.
    pub intent_id: Option<PaymentIntentId>,
    /// What happened.
    pub outcome: ConfirmationOutcome,
    /// True when this delivery was a replay answered from the first one.
    pub replayed: bool,
}

/// A top-up as a user requests it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopUpInput {
    /// Currency units (`500.00`).
    pub amount: Option<Decimal>,
    /// ISO 4217.
    pub currency: Option<String>,
    /// `phonepe` or `stripe`.
    pub gateway: Option<String>,
    /// The host confirms the user re-authenticated just now (lifts the velocity check).
    pub reauthenticated: bool,
}

/// A validated top-up request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidTopUp {
    /// The amount, at its currency's scale.
    pub amount: Money,
    /// The gateway.
    pub gateway: GatewayKind,
}

impl TopUpInput {
    /// Validates (amount, currency, gateway), without a store.
    pub fn validate(&self) -> Result<ValidTopUp, ValidationErrors> {
        let mut v = Validator::new();
        let currency = v.currency("currency", self.currency.as_deref(), None);
        let amount = match (self.amount, currency) {
            (None, _) => {
                v.push("amount", Violation::Required);
                None
            }
            (Some(a), _) if a <= Decimal::ZERO => {
                v.push("amount", Violation::NotPositive);
                None
            }
            (Some(a), _) if a > TOP_UP_MAX => {
                v.push("amount", Violation::AmountOutOfRange { min: Decimal::new(1, 2), max: TOP_UP_MAX });
                None
            }
            (Some(a), Some(c)) => Money::new(a, c)
                .map_err(|_| v.push("amount", Violation::TooPrecise { max_decimals: c.minor_units() }))
                .ok(),
            (Some(_), None) => None,
        };
        let gateway = v.one_of("gateway", self.gateway.as_deref(), GatewayKind::OPTIONS);
        v.finish(|| Some(ValidTopUp { amount: amount?, gateway: gateway? }))
    }
}

/// Raises an alert about an intent: for admins and the system only.
fn alert(cx: &mut Decide<'_>, topic: &str, id: Uuid, payload: serde_json::Value) {
    cx.emit(topic, EntityRef { kind: PaymentIntent::kind(), id }, payload, Readers::nobody());
}

/// Creates a top-up intent after the fraud rules; opens the wallet and clearing account if needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTopUp {
    /// The request.
    pub input: TopUpInput,
}

/// What creating a top-up reads.
pub struct TopUpScene {
    /// The user's intents of the velocity window.
    recent: Vec<PaymentIntent>,
    /// The user's top-up bucket ([`crate::limits::TOP_UPS`]).
    limit: Option<LimitState>,
    succeeded: Vec<i64>,
    wallet: Option<Versioned<Account>>,
    clearing: Option<Versioned<Account>>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for CreateTopUp {
    const NAME: &'static str = "payments.create_top_up";
    const FINGERPRINT_NAME: &'static str = "payment.create_top_up";
    type Valid = (ValidTopUpWire, Timestamp);
    type Loaded = TopUpScene;
    type Output = PaymentIntent;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        let v = self.input.validate()?;
        Ok((ValidTopUpWire { amount: v.amount, gateway: v.gateway }, now))
    }
    async fn load(&self, store: &dyn Reader, actor: &Actor, (v, now): &Self::Valid) -> Result<TopUpScene, Error> {
        let Some(user) = actor.user_id() else {
            return Ok(TopUpScene { recent: vec![], limit: None, succeeded: vec![], wallet: None, clearing: None });
        };
        let currency = v.amount.currency();
        Ok(TopUpScene {
            recent: store.payment_intents_since(user, fraud::velocity_window_start(*now)).await?,
            limit: Some(TOP_UPS.limit(Subject::User(user))?.load(store).await?),
            succeeded: store.succeeded_amounts(user, fraud::ANOMALY_HISTORY_MAX).await?,
            wallet: store.ledger_account_for(Some(user), AccountKind::Wallet, currency).await?,
            clearing: store.ledger_account_for(None, AccountKind::GatewayClearing, currency).await?,
        })
    }
    fn decide(
        &self,
        actor: &Actor,
        (v, now): &Self::Valid,
        scene: TopUpScene,
        cx: &mut Decide<'_>,
    ) -> Result<PaymentIntent, Error> {
        let user = actor.user_id().ok_or_else(Error::unauthenticated)?;
        require(actor, Decision::when(actor.has_role(Role::Resident), "only residents top up a wallet"))?;
        let amount_minor = v.amount.to_minor().ok_or_else(|| Error::internal("amount out of range"))?;
        // Viramah §14 E: 10 per user per day, taken in this commit (`crate::limits`); before the
        // fraud rules, as the daily limit always was.
        scene.limit.ok_or_else(Error::unauthenticated)?.take(cx)?;
        let flags = match fraud::assess(*now, amount_minor, &scene.recent, &scene.succeeded, self.input.reauthenticated)
        {
            Ok(f) => f,
            Err(Refusal::Velocity) => {
                return Err(Error::new(
                    ErrorCode::ReauthenticationRequired,
                    "another top-up was started moments ago; sign in again to continue",
                ))
            }
        };
        let currency = v.amount.currency();
        let open = |owner: Option<UserId>, kind: AccountKind, cx: &mut Decide<'_>| -> Result<Account, Error> {
            let a = Account::managed(
                crate::ledger::model::AccountId::from_uuid(cx.ids().new_uuid()),
                owner,
                kind,
                currency,
                default_flags(kind),
                cx.now(),
            );
            cx.insert(a.clone())?;
            Ok(a)
        };
        let wallet = match scene.wallet {
            Some(w) => w.value,
            None => open(Some(user), AccountKind::Wallet, cx)?,
        };
        if scene.clearing.is_none() {
            open(None, AccountKind::GatewayClearing, cx)?;
        }
        let intent = PaymentIntent {
            id: PaymentIntentId::from_uuid(cx.ids().new_uuid()),
            user_id: user,
            wallet_account_id: wallet.id,
            amount: v.amount,
            gateway: v.gateway,
            status: IntentStatus::Initiated,
            provider_order_id: None,
            flags: flags.clone(),
            review: None,
            transfer_id: None,
            created_at: cx.now(),
            updated_at: cx.now(),
            expires_at: cx.now().checked_add(chrono::Duration::seconds(INTENT_TTL_SECS)).unwrap_or(cx.now()),
        };
        cx.insert(intent.clone())?;
        if flags.contains(&FraudFlag::AmountAnomaly) {
            alert(
                cx,
                "alert.p1.payment_amount_anomaly",
                intent.id.as_uuid(),
                serde_json::json!({ "intent": intent.id, "amount_minor": amount_minor }),
            );
        }
        Ok(intent)
    }
}

/// The validated top-up, serialisable for the command's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidTopUpWire {
    amount: Money,
    gateway: GatewayKind,
}

/// Moves an intent along its table (mark pending with the gateway's order id, or expire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvanceIntent {
    /// The intent.
    pub intent_id: PaymentIntentId,
    /// The action.
    pub action: IntentAction,
    /// For `mark_pending`: the gateway's order id.
    pub provider_order_id: Option<String>,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AdvanceIntent {
    const NAME: &'static str = "payments.advance_intent";
    const FINGERPRINT_NAME: &'static str = "payment.advance_intent";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Option<Versioned<PaymentIntent>>;
    type Output = PaymentIntent;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        if self.action == IntentAction::MarkPending && self.provider_order_id.as_deref().is_none_or(str::is_empty) {
            return Err(ValidationErrors::single("provider_order_id", Violation::Required));
        }
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok(store.payment_intent(self.intent_id).await?)
    }
    fn decide(&self, actor: &Actor, _: &(), loaded: Self::Loaded, cx: &mut Decide<'_>) -> Result<PaymentIntent, Error> {
        require(actor, Decision::when(matches!(actor, Actor::System), "only the system advances payment intents"))?;
        let before = loaded.ok_or_else(|| Error::not_found("payment intent"))?;
        let to = PAYMENT_INTENT.fire(before.value.status, self.action, &held_parties::<()>(actor, &[]), &())?;
        let mut after = before.value.clone();
        after.status = to;
        after.updated_at = cx.now();
        if let Some(o) = &self.provider_order_id {
            after.provider_order_id = Some(o.clone());
        }
        cx.update(&before, after.clone(), self.action.as_str())?;
        Ok(after)
    }
}

/// Processes one verified webhook event (the signature was checked before this command exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyWebhook {
    /// The verified event.
    pub event: WebhookEvent,
}

/// What a webhook reads.
pub struct WebhookScene {
    confirmation: Option<PaymentConfirmation>,
    intent: Option<Versioned<PaymentIntent>>,
    credit: Option<TransferInput>,
    snapshot: Snapshot,
}

fn credit_for(intent: &PaymentIntent, clearing: crate::ledger::model::AccountId) -> TransferInput {
    let held = intent.flags.contains(&FraudFlag::AmountAnomaly);
    TransferInput {
        // The intent's id names its credit: the ledger itself refuses a second one.
        id: TransferId::from_uuid(intent.id.as_uuid()),
        debit_account_id: clearing,
        credit_account_id: intent.wallet_account_id,
        amount: Some(intent.amount.amount()),
        currency: intent.amount.currency(),
        phase: if held { Phase::Pending } else { Phase::Single },
        pending_id: None,
        timeout_secs: 0,
        linked: false,
        code: Some(TransferCode::TopUp),
        reference: Some(intent.id.to_string()),
        flags: TransferFlags::default(),
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for ApplyWebhook {
    const NAME: &'static str = "payments.apply_webhook";
    const FINGERPRINT_NAME: &'static str = "payment.apply_webhook";
    type Valid = ();
    type Loaded = WebhookScene;
    type Output = WebhookOutcome;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        let mut v = Validator::new();
        if self.event.provider_txn_id.is_empty() || self.event.provider_txn_id.len() > 200 {
            v.push("provider_txn_id", Violation::OutOfRange { min: 1, max: 200 });
        }
        v.finish(|| Some(()))
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<WebhookScene, Error> {
        let e = &self.event;
        let confirmation = store.payment_confirmation(e.gateway, &e.provider_txn_id).await?;
        let intent = match e.merchant_ref.parse::<Uuid>() {
            Ok(id) => store.payment_intent(PaymentIntentId::from_uuid(id)).await?,
            Err(_) => None,
        };
        let mut credit = None;
        let mut snapshot = Snapshot::default();
        if let Some(i) = &intent {
            let clearing =
                store.ledger_account_for(None, AccountKind::GatewayClearing, i.value.amount.currency()).await?;
            if let Some(c) = clearing {
                let t = credit_for(&i.value, c.value.id);
                snapshot = load_snapshot(store, std::slice::from_ref(&t)).await?;
                credit = Some(t);
            }
        }
        Ok(WebhookScene { confirmation, intent, credit, snapshot })
    }
    fn decide(&self, actor: &Actor, _: &(), scene: WebhookScene, cx: &mut Decide<'_>) -> Result<WebhookOutcome, Error> {
        if !matches!(actor, Actor::System) {
            return Err(Error::forbidden("webhooks are applied by the system"));
        }
        let e = &self.event;
        if let Some(c) = scene.confirmation {
            return Ok(WebhookOutcome { intent_id: c.intent_id, outcome: c.outcome, replayed: true });
        }
        let mut confirmation = PaymentConfirmation {
            gateway: e.gateway,
            provider_txn_id: e.provider_txn_id.clone(),
            intent_id: scene.intent.as_ref().map(|i| i.value.id),
            amount_minor: e.amount_minor,
            currency: e.currency,
            status: e.status,
            outcome: ConfirmationOutcome::Ignored,
            transfer_id: None,
            received_at: cx.now(),
        };
        let payload = serde_json::json!({ "gateway": e.gateway, "provider_txn_id": e.provider_txn_id, "merchant_ref": e.merchant_ref });
        let outcome = match &scene.intent {
            None => {
                alert(cx, "alert.p1.payment_unknown_intent", Uuid::nil(), payload);
                ConfirmationOutcome::RejectedUnknownIntent
            }
            Some(i)
                if e.amount_minor != i.value.amount.to_minor().unwrap_or(-1)
                    || e.currency != Some(i.value.amount.currency()) =>
            {
                alert(cx, "alert.p0.payment_mismatch", i.value.id.as_uuid(), payload);
                ConfirmationOutcome::RejectedMismatch
            }
            Some(i) if e.gateway != i.value.gateway => {
                alert(cx, "alert.p0.payment_mismatch", i.value.id.as_uuid(), payload);
                ConfirmationOutcome::RejectedMismatch
            }
            Some(i) => {
                let action = match e.status {
                    EventStatus::Succeeded => IntentAction::Succeed,
                    EventStatus::Failed => IntentAction::Fail,
                };
                let fired = PAYMENT_INTENT.fire(i.value.status, action, &[Party::System], &());
                match (fired, e.status) {
                    (Ok(to), EventStatus::Failed) => {
                        let mut after = i.value.clone();
                        after.status = to;
                        after.updated_at = cx.now();
                        cx.update(i, after, "failed")?;
                        ConfirmationOutcome::Failed
                    }
                    (Ok(to), EventStatus::Succeeded) => {
                        let credit =
                            scene.credit.as_ref().ok_or_else(|| Error::internal("clearing account missing"))?;
                        let ctx = engine::Context {
                            actor: cx.actor_principal(),
                            now: cx.now(),
                            allow_top_up: true,
                            allow_refund: false,
                        };
                        let d = engine::decide(std::slice::from_ref(credit), &scene.snapshot, &ctx);
                        let result = d.outcomes.first().map(|o| o.result).unwrap_or(TransferResult::LinkedEventFailed);
                        if result == TransferResult::Ok {
                            record_decision(&d, &scene.snapshot, cx);
                            let held = credit.phase == Phase::Pending;
                            let mut after = i.value.clone();
                            after.status = to;
                            after.transfer_id = Some(credit.id);
                            after.review = held.then_some(ReviewState::Held);
                            after.updated_at = cx.now();
                            cx.update(i, after, "succeeded")?;
                            confirmation.transfer_id = Some(credit.id);
                            if held {
                                ConfirmationOutcome::HeldForReview
                            } else {
                                ConfirmationOutcome::Credited
                            }
                        } else {
                            alert(
                                cx,
                                "alert.p0.payment_credit_refused",
                                i.value.id.as_uuid(),
                                serde_json::json!({ "result": result }),
                            );
                            ConfirmationOutcome::CreditRefused
                        }
                    }
                    (Err(_), EventStatus::Succeeded) if i.value.status == IntentStatus::Succeeded => {
                        alert(cx, "alert.p1.payment_duplicate", i.value.id.as_uuid(), payload);
                        ConfirmationOutcome::RejectedDuplicateForIntent
                    }
                    (Err(_), _) => ConfirmationOutcome::Ignored,
                }
            }
        };
        confirmation.outcome = outcome;
        // Audited like any record; a racing copy of this delivery fails the insert on its unique
        // key, and its retry answers from this record.
        cx.append(confirmation)?;
        Ok(WebhookOutcome { intent_id: scene.intent.map(|i| i.value.id), outcome, replayed: false })
    }
}

/// An admin's decision on a held credit: approve posts the hold, reject voids it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCredit {
    /// The intent.
    pub intent_id: PaymentIntentId,
    /// Approve or reject.
    pub approve: bool,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for ReviewCredit {
    const NAME: &'static str = "payments.review_credit";
    const FINGERPRINT_NAME: &'static str = "payment.review_credit";
    type Valid = ();
    type Loaded = (Option<Versioned<PaymentIntent>>, Option<(TransferInput, Snapshot)>);
    type Output = PaymentIntent;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        let intent = store.payment_intent(self.intent_id).await?;
        let mut resolution = None;
        if let Some(i) = &intent {
            if let Some(hold) = i.value.transfer_id {
                if let Some(h) = store.ledger_transfers(&[hold]).await?.into_iter().next() {
                    let t = TransferInput {
                        id: TransferId::from_uuid(Uuid::new_v5(
                            &hold.as_uuid(),
                            if self.approve { b"approve" } else { b"reject" },
                        )),
                        debit_account_id: h.debit_account_id,
                        credit_account_id: h.credit_account_id,
                        amount: None,
                        currency: h.currency,
                        phase: if self.approve { Phase::PostPending } else { Phase::VoidPending },
                        pending_id: Some(hold),
                        timeout_secs: 0,
                        linked: false,
                        code: Some(TransferCode::TopUp),
                        reference: h.reference.clone(),
                        flags: TransferFlags::default(),
                        user_data_128: None,
                        user_data_64: 0,
                        user_data_32: 0,
                        timestamp: None,
                    };
                    let snap = load_snapshot(store, std::slice::from_ref(&t)).await?;
                    resolution = Some((t, snap));
                }
            }
        }
        Ok((intent, resolution))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (intent, resolution): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<PaymentIntent, Error> {
        require(actor, Decision::when(actor.is_admin(), "only admins review held payments"))?;
        let before = intent.ok_or_else(|| Error::not_found("payment intent"))?;
        if before.value.review != Some(ReviewState::Held) {
            return Err(Error::precondition("the payment is not held for review"));
        }
        let (t, snap) = resolution.ok_or_else(|| Error::internal("held credit missing"))?;
        let ctx =
            engine::Context { actor: cx.actor_principal(), now: cx.now(), allow_top_up: true, allow_refund: false };
        let d = engine::decide(std::slice::from_ref(&t), &snap, &ctx);
        match d.outcomes.first().map(|o| o.result) {
            Some(TransferResult::Ok) => record_decision(&d, &snap, cx),
            Some(r) => return Err(error_for(r)),
            None => return Err(Error::internal("no outcome")),
        }
        let mut after = before.value.clone();
        after.review = Some(if self.approve { ReviewState::Approved } else { ReviewState::Rejected });
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), if self.approve { "review_approved" } else { "review_rejected" })?;
        Ok(after)
    }
}

/// The payments service.
pub struct Payments<S> {
    runner: Runner<S>,
    gateways: HashMap<GatewayKind, Arc<dyn Gateway>>,
}

impl<S: Clone> Clone for Payments<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone(), gateways: self.gateways.clone() }
    }
}

impl<S: Store> Payments<S> {
    /// The service over `store`, accepting webhooks from `gateways`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>, gateways: Vec<Arc<dyn Gateway>>) -> Self {
        Self { runner: Runner::new(store, clock, ids), gateways: gateways.into_iter().map(|g| (g.kind(), g)).collect() }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// A resident starts a top-up.
    pub async fn create_top_up(
        &self,
        actor: &Actor,
        input: TopUpInput,
        key: Option<&IdempotencyKey>,
    ) -> Result<PaymentIntent, Error> {
        self.runner.execute(actor, key, &CreateTopUp { input }).await
    }
    /// The system records the gateway order for an intent.
    pub async fn mark_pending(
        &self,
        actor: &Actor,
        intent: PaymentIntentId,
        provider_order_id: &str,
    ) -> Result<PaymentIntent, Error> {
        let cmd = AdvanceIntent {
            intent_id: intent,
            action: IntentAction::MarkPending,
            provider_order_id: Some(provider_order_id.to_owned()),
        };
        self.runner.execute(actor, None, &cmd).await
    }
    /// An intent (its owner, admins, the system).
    pub async fn intent(&self, actor: &Actor, id: PaymentIntentId) -> Result<PaymentIntent, Error> {
        let i = self.runner.store().payment_intent(id).await?.ok_or_else(|| Error::not_found("payment intent"))?.value;
        // The intent's readers: its payer (admins and the system read everything); to anyone else it
        // does not exist.
        require_visible(actor, i.readers().admits(actor), "payment intent")?;
        Ok(i)
    }
    /// A webhook delivery: verified over the raw body (a bad signature is `unauthorized` and writes
    /// nothing), then applied once per provider transaction id.
    pub async fn handle_webhook(
        &self,
        gateway: GatewayKind,
        headers: &Headers,
        body: &[u8],
    ) -> Result<WebhookOutcome, Error> {
        let g = self.gateways.get(&gateway).ok_or_else(|| Error::not_found("gateway"))?;
        let event = g.receive(headers, body, self.runner.now()).map_err(|e| match e {
            WebhookError::Malformed(m) => Error::from(ValidationErrors::single(
                "body",
                Violation::InvalidFormat { expected: format!("{} event ({m})", gateway) },
            )),
            other => Error::new(ErrorCode::Unauthorized, format!("webhook refused: {other}")),
        })?;
        if event.gateway != gateway {
            return Err(Error::new(ErrorCode::Unauthorized, "webhook refused: gateway mismatch"));
        }
        self.runner.execute(&Actor::System, None, &ApplyWebhook { event }).await
    }
    /// An admin approves (posts) or rejects (voids) a credit held for review.
    pub async fn review(&self, actor: &Actor, intent: PaymentIntentId, approve: bool) -> Result<PaymentIntent, Error> {
        self.runner.execute(actor, None, &ReviewCredit { intent_id: intent, approve }).await
    }
    /// Refunds `amount` of `original` (admins and the system). Use a key to make a retry safe.
    pub async fn refund(
        &self,
        actor: &Actor,
        original: TransferId,
        amount: Decimal,
        key: Option<&IdempotencyKey>,
    ) -> Result<Transfer, Error> {
        self.runner.execute(actor, key, &Refund { original, amount }).await
    }
    /// Closes intents whose payment never came (the scheduled job).
    pub async fn expire_intents(&self, actor: &Actor) -> Result<Vec<PaymentIntentId>, Error> {
        require(actor, Decision::when(matches!(actor, Actor::System), "only the system expires intents"))?;
        let now = self.runner.now();
        let expired = self.runner.store().expired_intents(now, INTENT_EXPIRY_MAX).await?;
        let mut done = Vec::new();
        for i in expired {
            let cmd = AdvanceIntent { intent_id: i.value.id, action: IntentAction::Expire, provider_order_id: None };
            match self.runner.execute(actor, None, &cmd).await {
                Ok(_) => done.push(i.value.id),
                // Paid or failed meanwhile: nothing to expire.
                Err(e) if matches!(e.code, ErrorCode::InvalidTransition | ErrorCode::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}
