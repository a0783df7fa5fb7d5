//! The payments' entities (declared here, next to the model) and their reads over any [`Reader`],
//! written once here for every store.

use super::fraud::FraudFlag;
use super::gateway::{EventStatus, GatewayKind};
use super::{ConfirmationOutcome, IntentStatus, PaymentConfirmation, PaymentIntent, PaymentIntentId, ReviewState};
use crate::id::UserId;
use crate::kernel::entity::{Domain, Entity, EntityDecl, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Filter, Query};
use crate::kernel::store::{ReadExt, Reader, StoreError, StoreResult, Versioned};
use crate::kernel::value::{DecodeError, Decoded, Row, RowRead, Value, ValueType};
use crate::ledger::model::{AccountId, Transfer, TransferCode, TransferId, TransferResult};
use crate::ledger::LedgerStore;
use crate::time::Timestamp;
use uuid::Uuid;

/// The payments domain.
pub static DOMAIN: Domain = Domain { name: "payments", entities: &[&INTENT, &CONFIRMATION] };

static INTENT: EntityDecl = EntityDecl {
    kind: "payments.intent",
    aliases: &["payment_intent"],
    human: "payment intent",
    table: "payment_intents",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

static CONFIRMATION: EntityDecl = EntityDecl {
    kind: "payments.confirmation",
    aliases: &[],
    human: "payment confirmation",
    table: "payment_confirmations",
    key: "id",
    shape: Shape::AppendOnly { sequence: Some("seq") },
    // One per delivery: a replay (or a racing copy) of a processed delivery fails its insert here.
    uniques: &[Unique { name: "payment_confirmations_once", columns: &["gateway", "provider_txn_id"], when: None }],
    guards: &[],
};

/// The namespace of confirmation ids (UUIDv5 of `<gateway>:<provider transaction id>`).
pub const CONFIRMATION_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3c2a_8e4b_5f70_9a1c_2b3d_4e5f_6071);

/// The key of the confirmation of `(gateway, provider_txn_id)`: derived, so every copy of a delivery
/// names the same row.
pub fn confirmation_id(gateway: GatewayKind, provider_txn_id: &str) -> Uuid {
    Uuid::new_v5(&CONFIRMATION_NAMESPACE, format!("{}:{provider_txn_id}", gateway.as_str()).as_bytes())
}

impl Entity for PaymentIntent {
    const DECL: &'static EntityDecl = &INTENT;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("user_id", self.user_id.as_uuid())
            .with("wallet_account_id", self.wallet_account_id.as_uuid())
            .with("amount", self.amount)
            .with("currency", self.amount.currency())
            .with("gateway", self.gateway.as_str())
            .with("status", self.status.as_str())
            .with_opt("provider_order_id", ValueType::Text, self.provider_order_id.clone())
            .with("flags", Value::TextList(self.flags.iter().map(|f| f.as_str().to_owned()).collect()))
            .with_opt("review", ValueType::Text, self.review.map(ReviewState::as_str))
            .with_opt("transfer_id", ValueType::Uuid, self.transfer_id.map(|t| t.as_uuid()))
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
            .with("expires_at", self.expires_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        let flags = r
            .text_list("flags")?
            .into_iter()
            .map(|f| FraudFlag::parse(&f).ok_or_else(|| DecodeError::new("flags", format!("unknown flag `{f}`"))))
            .collect::<Decoded<Vec<FraudFlag>>>()?;
        Ok(PaymentIntent {
            id: PaymentIntentId::from_uuid(r.uuid("id")?),
            user_id: UserId::from_uuid(r.uuid("user_id")?),
            wallet_account_id: AccountId::from_uuid(r.uuid("wallet_account_id")?),
            amount: r.money("amount", currency)?,
            gateway: r.wire("gateway", GatewayKind::parse)?,
            status: r.wire("status", IntentStatus::parse)?,
            provider_order_id: r.opt_text("provider_order_id")?,
            flags,
            review: r.opt_wire("review", ReviewState::parse)?,
            transfer_id: r.opt_uuid("transfer_id")?.map(TransferId::from_uuid),
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
            expires_at: r.ts("expires_at")?,
        })
    }
    /// An intent is its payer's (admins and the system read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.user_id])
    }
}

impl Entity for PaymentConfirmation {
    const DECL: &'static EntityDecl = &CONFIRMATION;
    /// Derived from `(gateway, provider_txn_id)`, never stored state of its own.
    fn id(&self) -> Uuid {
        confirmation_id(self.gateway, &self.provider_txn_id)
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id())
            .with("gateway", self.gateway.as_str())
            .with("provider_txn_id", self.provider_txn_id.as_str())
            .with_opt("intent_id", ValueType::Uuid, self.intent_id.map(|i| i.as_uuid()))
            .with("amount_minor", self.amount_minor)
            .with_opt("currency", ValueType::Text, self.currency)
            .with("status", self.status.as_str())
            .with("outcome", self.outcome.as_str())
            .with_opt("transfer_id", ValueType::Uuid, self.transfer_id.map(|t| t.as_uuid()))
            .with("received_at", self.received_at)
    }
    /// The `id` column is not read: rows recorded before it existed hold `NULL`, and the id is
    /// recomputed from `(gateway, provider_txn_id)` anyway.
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(PaymentConfirmation {
            gateway: r.wire("gateway", GatewayKind::parse)?,
            provider_txn_id: r.text("provider_txn_id")?,
            intent_id: r.opt_uuid("intent_id")?.map(PaymentIntentId::from_uuid),
            amount_minor: r.int("amount_minor")?,
            currency: r.opt_currency("currency")?,
            status: r.wire("status", EventStatus::parse)?,
            outcome: r.wire("outcome", ConfirmationOutcome::parse)?,
            transfer_id: r.opt_uuid("transfer_id")?.map(TransferId::from_uuid),
            received_at: r.ts("received_at")?,
        })
    }
    /// Deliveries are for admins and the system: the record names its intent, not the intent's
    /// payer, so no user can be named from the record alone (the payer is told through the intent
    /// and the ledger transfer, whose events go to them).
    fn readers(&self) -> Readers {
        Readers::nobody()
    }
}

/// The payments' reads (and the ledger's), written once over any [`Reader`].
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait PaymentStore: LedgerStore {
    /// An intent by id.
    async fn payment_intent(&self, id: PaymentIntentId) -> StoreResult<Option<Versioned<PaymentIntent>>> {
        self.get(id.as_uuid()).await
    }
    /// `user`'s intents created at or after `since`, oldest first.
    async fn payment_intents_since(&self, user: UserId, since: Timestamp) -> StoreResult<Vec<PaymentIntent>> {
        let q = Query::of::<PaymentIntent>()
            .eq("user_id", user.as_uuid())
            .filter(Filter::Ge("created_at", since.into()))
            .order_by("created_at", Dir::Asc)
            .order_by("id", Dir::Asc);
        Ok(self.find::<PaymentIntent>(q).await?.into_iter().map(|v| v.value).collect())
    }
    /// Amounts (minor units) of `user`'s most recent succeeded intents, newest first, at most `limit`.
    async fn succeeded_amounts(&self, user: UserId, limit: u32) -> StoreResult<Vec<i64>> {
        let q = Query::of::<PaymentIntent>()
            .eq("user_id", user.as_uuid())
            .eq("status", IntentStatus::Succeeded.as_str())
            .order_by("created_at", Dir::Desc)
            .order_by("id", Dir::Desc)
            .limit(limit);
        self.find::<PaymentIntent>(q)
            .await?
            .into_iter()
            .map(|v| {
                v.value
                    .amount
                    .to_minor()
                    .ok_or_else(|| StoreError::Corrupt { message: "payment_intents: amount".into() })
            })
            .collect()
    }
    /// The confirmation of `(gateway, provider_txn_id)`, if that delivery was processed.
    async fn payment_confirmation(
        &self,
        gateway: GatewayKind,
        provider_txn_id: &str,
    ) -> StoreResult<Option<PaymentConfirmation>> {
        // By the unique key, not the derived id: rows recorded before the `id` column hold `NULL`.
        let q =
            Query::of::<PaymentConfirmation>().eq("gateway", gateway.as_str()).eq("provider_txn_id", provider_txn_id);
        Ok(self.find_one::<PaymentConfirmation>(q).await?.map(|v| v.value))
    }
    /// Initiated or pending intents with `expires_at <= now`, oldest first.
    async fn expired_intents(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Versioned<PaymentIntent>>> {
        let open = [IntentStatus::Initiated, IntentStatus::Pending].map(|s| Value::Text(s.as_str().to_owned()));
        let q = Query::of::<PaymentIntent>()
            .filter(Filter::In("status", open.to_vec()))
            .filter(Filter::Le("expires_at", now.into()))
            .order_by("expires_at", Dir::Asc)
            .order_by("id", Dir::Asc)
            .limit(limit);
        self.find(q).await
    }
    /// Successful refund transfers whose reference is `original`, in the order recorded.
    async fn refunds_of(&self, original: TransferId) -> StoreResult<Vec<Transfer>> {
        let q = Query::of::<Transfer>()
            .eq("code", TransferCode::Refund.as_str())
            .eq("result", TransferResult::Ok.as_str())
            .eq("reference", original.to_string())
            .order_by("seq", Dir::Asc);
        Ok(self.find::<Transfer>(q).await?.into_iter().map(|v| v.value).collect())
    }
}

impl<R: Reader + ?Sized> PaymentStore for R {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Money};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_micros(1_700_000_000_000_000 + secs * 1_000_000).unwrap()
    }

    #[test]
    fn rows_read_back_exactly() {
        let intent = PaymentIntent {
            id: PaymentIntentId::from_uuid(Uuid::from_u128(1)),
            user_id: UserId::from_uuid(Uuid::from_u128(2)),
            wallet_account_id: AccountId::from_uuid(Uuid::from_u128(3)),
            amount: Money::from_minor(12_345, Currency::INR),
            gateway: GatewayKind::Stripe,
            status: IntentStatus::Succeeded,
            provider_order_id: Some("order-1".into()),
            flags: vec![FraudFlag::AmountAnomaly],
            review: Some(ReviewState::Held),
            transfer_id: Some(TransferId::from_uuid(Uuid::from_u128(1))),
            created_at: at(0),
            updated_at: at(5),
            expires_at: at(1_800),
        };
        assert_eq!(PaymentIntent::from_row(&intent.to_row()).unwrap(), intent);
        assert_eq!(intent.readers().users, [intent.user_id]);
        let c = PaymentConfirmation {
            gateway: GatewayKind::PhonePe,
            provider_txn_id: "T-1".into(),
            intent_id: Some(intent.id),
            amount_minor: 12_345,
            currency: None,
            status: EventStatus::Failed,
            outcome: ConfirmationOutcome::Failed,
            transfer_id: None,
            received_at: at(9),
        };
        let mut row = c.to_row();
        assert_eq!(PaymentConfirmation::from_row(&row).unwrap(), c);
        assert_eq!(row.value("id"), Some(&Value::Uuid(c.id())));
        // Rows recorded before the `id` column read back the same.
        row.set("id", Value::Null(ValueType::Uuid));
        assert_eq!(PaymentConfirmation::from_row(&row).unwrap().id(), c.id());
    }

    #[test]
    fn confirmation_ids_name_one_delivery() {
        let a = confirmation_id(GatewayKind::PhonePe, "T-1");
        assert_eq!(a, confirmation_id(GatewayKind::PhonePe, "T-1"));
        assert_ne!(a, confirmation_id(GatewayKind::Stripe, "T-1"));
        assert_ne!(a, confirmation_id(GatewayKind::PhonePe, "T-2"));
        assert_eq!(a.get_version_num(), 5);
    }

    #[test]
    fn stored_wire_names_are_the_serialised_ones() {
        for s in [EventStatus::Succeeded, EventStatus::Failed] {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
            assert_eq!(EventStatus::parse(s.as_str()), Some(s));
        }
        let f = FraudFlag::AmountAnomaly;
        assert_eq!(serde_json::to_value(f).unwrap(), serde_json::json!(f.as_str()));
        assert_eq!(FraudFlag::parse(f.as_str()), Some(f));
    }
}
