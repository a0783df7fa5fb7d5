//! Refunds: part or all of an earlier top-up or purchase, never more than was paid in total.

use super::*;
/// Refunds part or all of an earlier top-up or purchase, never more than was paid in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// The transfer refunded.
    pub original: TransferId,
    /// Currency units.
    pub amount: Decimal,
}

/// What a refund reads.
pub struct RefundScene {
    original: Option<Transfer>,
    refunded_minor: i64,
    refunds: usize,
    snapshot: Snapshot,
}

/// The refund transfer: a purchase is refunded revenue → wallet; a top-up wallet → clearing.
fn refund_input(original: &Transfer, n: usize, amount: Decimal) -> TransferInput {
    TransferInput {
        // Refund ids are a function of (original, sequence): two racing refunds pick the same id and
        // only one lands; the other decides again against the refunds that exist.
        id: TransferId::from_uuid(Uuid::new_v5(&original.id.as_uuid(), format!("refund-{n}").as_bytes())),
        debit_account_id: original.credit_account_id,
        credit_account_id: original.debit_account_id,
        amount: Some(amount),
        currency: original.currency,
        phase: Phase::Single,
        pending_id: None,
        timeout_secs: 0,
        linked: false,
        code: Some(TransferCode::Refund),
        reference: Some(original.id.to_string()),
        flags: TransferFlags::default(),
        user_data_128: None,
        user_data_64: 0,
        user_data_32: 0,
        timestamp: None,
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for Refund {
    const NAME: &'static str = "payments.refund";
    const FINGERPRINT_NAME: &'static str = "payment.refund";
    type Valid = ();
    type Loaded = RefundScene;
    type Output = Transfer;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        if self.amount <= Decimal::ZERO {
            return Err(ValidationErrors::single("amount", Violation::NotPositive));
        }
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<RefundScene, Error> {
        // Every read sees one committed state, so the cap, the next refund id and the balances agree.
        // The refund's own id is not looked up: a racing refund that took it fails our insert on the
        // unique id, and we decide again on what it left.
        let original = store.ledger_transfers(&[self.original]).await?.into_iter().next();
        let mut snapshot = Snapshot::default();
        if let Some(o) = &original {
            let t = refund_input(o, 0, self.amount);
            snapshot = load_snapshot_with(store, std::slice::from_ref(&t), false).await?;
        }
        let refunds = store.refunds_of(self.original).await?;
        let refunded_minor = refunds
            .iter()
            .try_fold(0i64, |s, r| s.checked_add(r.amount))
            .ok_or_else(|| Error::internal("refund sum overflow"))?;
        Ok(RefundScene { original, refunded_minor, refunds: refunds.len(), snapshot })
    }
    fn decide(&self, actor: &Actor, _: &(), scene: RefundScene, cx: &mut Decide<'_>) -> Result<Transfer, Error> {
        require(
            actor,
            Decision::when(matches!(actor, Actor::System) || actor.is_admin(), "only admins and the system refund"),
        )?;
        let original =
            scene.original.filter(|o| o.result == TransferResult::Ok).ok_or_else(|| Error::not_found("transfer"))?;
        let refundable_kind = matches!(
            original.kind,
            crate::ledger::model::TransferKind::Single | crate::ledger::model::TransferKind::PostPending
        );
        if !refundable_kind || !matches!(original.code, TransferCode::TopUp | TransferCode::Purchase) {
            return Err(Error::precondition("only top-ups and purchases are refunded"));
        }
        let asked = Money::new(self.amount, original.currency).ok().and_then(|m| m.to_minor()).ok_or_else(|| {
            Error::from(ValidationErrors::single(
                "amount",
                Violation::TooPrecise { max_decimals: original.currency.minor_units() },
            ))
        })?;
        let remaining = original.amount - scene.refunded_minor;
        if asked > remaining {
            let max = Money::from_minor(remaining.max(0), original.currency).amount();
            return Err(ValidationErrors::single(
                "amount",
                Violation::AmountOutOfRange { min: Decimal::new(1, original.currency.minor_units()), max },
            )
            .into());
        }
        let t = refund_input(&original, scene.refunds + 1, self.amount);
        let ctx =
            engine::Context { actor: cx.actor_principal(), now: cx.now(), allow_top_up: false, allow_refund: true };
        let d = engine::decide(std::slice::from_ref(&t), &scene.snapshot, &ctx);
        match d.outcomes.first().map(|o| o.result) {
            Some(TransferResult::Ok) => {}
            Some(TransferResult::Exists) => return Err(Error::conflict("a concurrent refund landed; try again")),
            Some(r) => return Err(error_for(r)),
            None => return Err(Error::internal("no outcome")),
        }
        record_decision(&d, &scene.snapshot, cx);
        d.records.into_iter().next().ok_or_else(|| Error::internal("refund record missing"))
    }
}
