//! Khedma (seed 001): clients post requests, providers quote, the client accepts one quote — the
//! booking is created, that quote accepted and every other pending quote declined, in one commit —
//! and the booking follows its own workflow. Only a booking's participants change it; they (and
//! admins, who read everything) see it.

use crate::actor::{Actor, Role, RoleFamily};
use crate::authz::Decision;
use crate::error::Error;
use crate::id::{BookingId, IdSource, JobRequestId, QuoteId, UserId};
use crate::kernel::access::{require, require_visible};
use crate::kernel::entity::Entity;
use crate::kernel::store::{Reader, Reads, Store, Versioned};
use crate::machine::{held_parties, Machine, Party, Row};
use crate::money::{Currency, Money};
use crate::service::{Command, Decide, Runner};
use crate::time::{Clock, Timestamp};
use crate::validate::{TextRule, ValidationErrors, Validator, Violation};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

mod store;
pub use store::{KhedmaStore, DOMAIN};

/// Khedma trades in Moroccan dirhams.
pub const KHEDMA_CURRENCY: Currency = Currency::MAD;
/// A request's title.
pub const TITLE: TextRule = TextRule { min_chars: 5, max_chars: 100, multiline: false };
/// A request's description or a quote's message.
pub const TEXT: TextRule = TextRule { min_chars: 1, max_chars: 1000, multiline: true };
/// Longest validity of a quote, in days.
pub const QUOTE_VALID_DAYS_MAX: i64 = 30;
/// Highest quote, in dirhams.
pub const QUOTE_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

crate::homeheroes::model::wire_enum!(
    /// A request's state.
    JobRequestStatus { Open = "open", Booked = "booked", Closed = "closed" }
);
crate::homeheroes::model::wire_enum!(
    /// A quote's state.
    QuoteStatus { Pending = "pending", Accepted = "accepted", Declined = "declined", Withdrawn = "withdrawn" }
);
crate::homeheroes::model::wire_enum!(
    /// A booking's state.
    BookingStatus {
        Pending = "pending",
        Confirmed = "confirmed",
        InProgress = "in_progress",
        Completed = "completed",
        Cancelled = "cancelled",
        Declined = "declined",
    }
);
crate::homeheroes::model::wire_enum!(
    /// Booking actions.
    BookingAction {
        Confirm = "confirm",
        Decline = "decline",
        Start = "start",
        Complete = "complete",
        Cancel = "cancel",
    }
);

/// How an actor relates to a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Participant {
    /// The client who accepted the quote.
    Client,
    /// The provider who quoted.
    Provider,
}

use BookingStatus as B;
const PROVIDER: &[Party<Participant>] = &[Party::Relation(Participant::Provider)];
const EITHER: &[Party<Participant>] = &[Party::Relation(Participant::Client), Party::Relation(Participant::Provider)];

/// The booking workflow.
pub static BOOKING: Machine<BookingStatus, BookingAction, Participant, ()> = Machine {
    name: "booking",
    rows: &[
        Row { from: &[B::Pending], action: BookingAction::Confirm, to: B::Confirmed, parties: PROVIDER, guard: None },
        Row { from: &[B::Pending], action: BookingAction::Decline, to: B::Declined, parties: PROVIDER, guard: None },
        Row { from: &[B::Confirmed], action: BookingAction::Start, to: B::InProgress, parties: PROVIDER, guard: None },
        Row {
            from: &[B::InProgress],
            action: BookingAction::Complete,
            to: B::Completed,
            parties: PROVIDER,
            guard: None,
        },
        Row {
            from: &[B::Pending, B::Confirmed],
            action: BookingAction::Cancel,
            to: B::Cancelled,
            parties: EITHER,
            guard: None,
        },
    ],
};

/// A client's request for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRequest {
    /// Id.
    pub id: JobRequestId,
    /// The client.
    pub client_id: UserId,
    /// Title.
    pub title: String,
    /// Details.
    pub description: String,
    /// State.
    pub status: JobRequestStatus,
    /// When posted.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A provider's price for a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Id.
    pub id: QuoteId,
    /// The request.
    pub request_id: JobRequestId,
    /// The provider.
    pub provider_id: UserId,
    /// The price.
    pub amount: Money,
    /// The provider's note.
    pub message: String,
    /// After this it cannot be accepted.
    pub valid_until: Timestamp,
    /// State.
    pub status: QuoteStatus,
    /// When made.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// An accepted quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// Id.
    pub id: BookingId,
    /// The request.
    pub request_id: JobRequestId,
    /// The accepted quote.
    pub quote_id: QuoteId,
    /// The client.
    pub client_id: UserId,
    /// The provider.
    pub provider_id: UserId,
    /// The agreed price.
    pub amount: Money,
    /// State.
    pub status: BookingStatus,
    /// When created.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// Posts a request (clients).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostJobRequest {
    /// Title.
    pub title: Option<String>,
    /// Details.
    pub description: Option<String>,
}

impl PostJobRequest {
    /// Validates the input against `now`, without a store (clients call this offline).
    pub fn check(&self, _now: Timestamp) -> Result<(String, String), ValidationErrors> {
        let mut v = Validator::new();
        let title = v.text("title", self.title.as_deref(), TITLE);
        let description = v.text("description", self.description.as_deref(), TEXT);
        v.finish(|| Some((title?, description?)))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for PostJobRequest {
    const NAME: &'static str = "khedma.post_request";
    const READS: Reads = Reads::One;
    type Valid = (String, String);
    type Loaded = ();
    type Output = JobRequest;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, _store: &dyn Reader, _actor: &Actor, _: &Self::Valid) -> Result<(), Error> {
        Ok(())
    }
    fn decide(
        &self,
        actor: &Actor,
        (title, description): &Self::Valid,
        _: (),
        cx: &mut Decide<'_>,
    ) -> Result<JobRequest, Error> {
        let client = actor.user_id().ok_or_else(Error::unauthenticated)?;
        require(actor, Decision::when(actor.has_family(RoleFamily::Customer), "only clients post requests"))?;
        let r = JobRequest {
            id: JobRequestId::generate(cx.ids()),
            client_id: client,
            title: title.clone(),
            description: description.clone(),
            status: JobRequestStatus::Open,
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        cx.insert(r.clone())?;
        Ok(r)
    }
}

/// A provider quotes on an open request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitQuote {
    /// The request.
    pub request_id: JobRequestId,
    /// Price in dirhams.
    pub amount: Option<Decimal>,
    /// Note.
    pub message: Option<String>,
    /// Days the quote stays valid (1–30).
    pub valid_days: Option<i64>,
}

impl SubmitQuote {
    /// Validates the input against `now`, without a store (clients call this offline).
    pub fn check(&self, _now: Timestamp) -> Result<(Money, String, i64), ValidationErrors> {
        let mut v = Validator::new();
        let amount = match self.amount {
            None => {
                v.push("amount", Violation::Required);
                None
            }
            Some(a) if a <= Decimal::ZERO => {
                v.push("amount", Violation::NotPositive);
                None
            }
            Some(a) if a > QUOTE_MAX => {
                v.push("amount", Violation::AmountOutOfRange { min: Decimal::new(1, 2), max: QUOTE_MAX });
                None
            }
            Some(a) => Money::new(a, KHEDMA_CURRENCY)
                .map_err(|_| v.push("amount", Violation::TooPrecise { max_decimals: KHEDMA_CURRENCY.minor_units() }))
                .ok(),
        };
        let message = v.text("message", self.message.as_deref(), TEXT);
        let days = v.int_range("valid_days", self.valid_days, 1, QUOTE_VALID_DAYS_MAX);
        v.finish(|| Some((amount?, message?, days?)))
    }
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for SubmitQuote {
    const NAME: &'static str = "khedma.quote";
    type Valid = (Money, String, i64);
    type Loaded = (Option<Versioned<JobRequest>>, Vec<Versioned<Quote>>);
    type Output = Quote;

    fn validate(&self, now: Timestamp) -> Result<Self::Valid, ValidationErrors> {
        self.check(now)
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &Self::Valid) -> Result<Self::Loaded, Error> {
        Ok((store.job_request(self.request_id).await?, store.quotes_for(self.request_id).await?))
    }
    fn decide(
        &self,
        actor: &Actor,
        (amount, message, days): &Self::Valid,
        (request, quotes): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Quote, Error> {
        let provider = actor.user_id().ok_or_else(Error::unauthenticated)?;
        require(actor, Decision::when(actor.has_role(Role::Provider), "only providers quote"))?;
        let request = request.ok_or_else(|| Error::not_found("request"))?.value;
        if request.status != JobRequestStatus::Open {
            return Err(Error::precondition("the request is no longer open"));
        }
        if request.client_id == provider {
            return Err(Error::forbidden("a provider cannot quote on their own request"));
        }
        if quotes.iter().any(|q| q.value.provider_id == provider && q.value.status == QuoteStatus::Pending) {
            return Err(Error::conflict("you already have a pending quote on this request"));
        }
        let q = Quote {
            id: QuoteId::generate(cx.ids()),
            request_id: request.id,
            provider_id: provider,
            amount: *amount,
            message: message.clone(),
            valid_until: cx.now().checked_add(chrono::Duration::days(*days)).unwrap_or(cx.now()),
            status: QuoteStatus::Pending,
            created_at: cx.now(),
            updated_at: cx.now(),
        };
        cx.insert(q.clone())?;
        Ok(q)
    }
}

/// The client accepts one quote: booking created, that quote accepted, the others declined, the
/// request booked — one commit. Racing accepts: the request's versioned update lets one win, and
/// every loser is told `conflict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptQuote {
    /// The quote.
    pub quote_id: QuoteId,
    /// Its request.
    pub request_id: JobRequestId,
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for AcceptQuote {
    const NAME: &'static str = "khedma.accept_quote";
    type Valid = ();
    type Loaded = (Option<Versioned<JobRequest>>, Vec<Versioned<Quote>>);
    type Output = Booking;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok((store.job_request(self.request_id).await?, store.quotes_for(self.request_id).await?))
    }
    fn decide(
        &self,
        actor: &Actor,
        _: &(),
        (request, quotes): Self::Loaded,
        cx: &mut Decide<'_>,
    ) -> Result<Booking, Error> {
        let request = request.ok_or_else(|| Error::not_found("request"))?;
        if !actor.is(request.value.client_id) {
            return Err(if matches!(actor, Actor::Anonymous) {
                Error::unauthenticated()
            } else {
                Error::not_found("request")
            });
        }
        // Losing a race for the request is `conflict` ("already taken") on every attempt: a loser
        // that reads after the winner's commit is told the same as one whose commit failed.
        if request.value.status != JobRequestStatus::Open {
            return Err(Error::conflict("the request already has a booking"));
        }
        let chosen = quotes.iter().find(|q| q.value.id == self.quote_id).ok_or_else(|| Error::not_found("quote"))?;
        if chosen.value.status != QuoteStatus::Pending {
            return Err(Error::conflict(format!("the quote is `{}`", chosen.value.status)));
        }
        if chosen.value.valid_until <= cx.now() {
            return Err(Error::precondition("the quote has expired"));
        }
        let now = cx.now();
        let client = request.value.client_id;
        for q in quotes.iter().filter(|q| q.value.status == QuoteStatus::Pending) {
            let mut next = q.value.clone();
            let accepted = q.value.id == self.quote_id;
            next.status = if accepted { QuoteStatus::Accepted } else { QuoteStatus::Declined };
            next.updated_at = now;
            cx.update(q, next, if accepted { "accepted" } else { "declined" })?;
        }
        let mut booked = request.value.clone();
        booked.status = JobRequestStatus::Booked;
        booked.updated_at = now;
        cx.update(&request, booked, "booked")?;
        let b = Booking {
            id: BookingId::generate(cx.ids()),
            request_id: request.value.id,
            quote_id: chosen.value.id,
            client_id: client,
            provider_id: chosen.value.provider_id,
            amount: chosen.value.amount,
            status: BookingStatus::Pending,
            created_at: now,
            updated_at: now,
        };
        cx.insert(b.clone())?;
        Ok(b)
    }
}

/// A participant moves a booking along its workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActOnBooking {
    /// The booking.
    pub booking_id: BookingId,
    /// The action.
    pub action: BookingAction,
}

fn participants(actor: &Actor, b: &Booking) -> Vec<Participant> {
    let mut p = Vec::new();
    if actor.is(b.client_id) {
        p.push(Participant::Client);
    }
    if actor.is(b.provider_id) {
        p.push(Participant::Provider);
    }
    p
}

#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
impl Command for ActOnBooking {
    const NAME: &'static str = "khedma.act";
    const READS: Reads = Reads::One;
    type Valid = ();
    type Loaded = Option<Versioned<Booking>>;
    type Output = Booking;

    fn validate(&self, _now: Timestamp) -> Result<(), ValidationErrors> {
        Ok(())
    }
    async fn load(&self, store: &dyn Reader, _actor: &Actor, _: &()) -> Result<Self::Loaded, Error> {
        Ok(store.booking(self.booking_id).await?)
    }
    fn decide(&self, actor: &Actor, _: &(), loaded: Self::Loaded, cx: &mut Decide<'_>) -> Result<Booking, Error> {
        let before = loaded.ok_or_else(|| Error::not_found("booking"))?;
        require_visible(actor, before.value.readers().admits(actor), "booking")?;
        let rel = participants(actor, &before.value);
        let to = BOOKING.fire(before.value.status, self.action, &held_parties(actor, &rel), &())?;
        let mut after = before.value.clone();
        after.status = to;
        after.updated_at = cx.now();
        cx.update(&before, after.clone(), self.action.as_str())?;
        Ok(after)
    }
}

/// The Khedma service.
pub struct Khedma<S> {
    runner: Runner<S>,
}

impl<S: Clone> Clone for Khedma<S> {
    fn clone(&self) -> Self {
        Self { runner: self.runner.clone() }
    }
}

impl<S: Store> Khedma<S> {
    /// The service over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> Self {
        Self { runner: Runner::new(store, clock, ids) }
    }
    /// The runner.
    pub fn runner(&self) -> &Runner<S> {
        &self.runner
    }
    /// Posts a request.
    pub async fn post_request(&self, actor: &Actor, title: &str, description: &str) -> Result<JobRequest, Error> {
        let cmd = PostJobRequest { title: Some(title.to_owned()), description: Some(description.to_owned()) };
        self.runner.execute(actor, None, &cmd).await
    }
    /// Quotes on an open request.
    pub async fn quote(
        &self,
        actor: &Actor,
        request: JobRequestId,
        amount: Decimal,
        message: &str,
        valid_days: i64,
    ) -> Result<Quote, Error> {
        let cmd = SubmitQuote {
            request_id: request,
            amount: Some(amount),
            message: Some(message.to_owned()),
            valid_days: Some(valid_days),
        };
        self.runner.execute(actor, None, &cmd).await
    }
    /// Accepts a quote.
    pub async fn accept(&self, actor: &Actor, request: JobRequestId, quote: QuoteId) -> Result<Booking, Error> {
        self.runner.execute(actor, None, &AcceptQuote { quote_id: quote, request_id: request }).await
    }
    /// Moves a booking along its workflow.
    pub async fn act(&self, actor: &Actor, booking: BookingId, action: BookingAction) -> Result<Booking, Error> {
        self.runner.execute(actor, None, &ActOnBooking { booking_id: booking, action }).await
    }
    /// A booking (its participants; admins read everything).
    pub async fn booking(&self, actor: &Actor, id: BookingId) -> Result<Booking, Error> {
        let b = self.runner.store().booking(id).await?.ok_or_else(|| Error::not_found("booking"))?.value;
        require_visible(actor, b.readers().admits(actor), "booking")?;
        Ok(b)
    }
    /// The quotes on a request: all for its client, their own for a provider.
    pub async fn quotes(&self, actor: &Actor, request: JobRequestId) -> Result<Vec<Quote>, Error> {
        let r = self.runner.store().job_request(request).await?.ok_or_else(|| Error::not_found("request"))?.value;
        let all = self.runner.store().quotes_for(request).await?.into_iter().map(|q| q.value);
        if actor.is(r.client_id) {
            return Ok(all.collect());
        }
        let me = actor.user_id().ok_or_else(Error::unauthenticated)?;
        Ok(all.filter(|q| q.provider_id == me).collect())
    }
}
