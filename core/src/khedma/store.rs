//! Khedma's entities (declared here, next to the model) and their reads over any [`Reader`].

use super::{Booking, BookingStatus, JobRequest, JobRequestStatus, Quote, QuoteStatus};
use crate::actor::Role;
use crate::id::{BookingId, JobRequestId, QuoteId, UserId};
use crate::kernel::entity::{Domain, Entity, EntityDecl, Readers, Shape, Unique};
use crate::kernel::query::{Dir, Query};
use crate::kernel::store::{ReadExt, Reader, StoreResult, Versioned};
use crate::kernel::value::{Decoded, Row, RowRead};
use uuid::Uuid;

/// The Khedma domain.
pub static DOMAIN: Domain = Domain { name: "khedma", entities: &[&REQUEST, &QUOTE, &BOOKING] };

static REQUEST: EntityDecl = EntityDecl {
    kind: "khedma.request",
    aliases: &["job_request"],
    human: "request",
    table: "khedma_requests",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[],
    guards: &[],
};

static QUOTE: EntityDecl = EntityDecl {
    kind: "khedma.quote",
    aliases: &["quote"],
    human: "quote",
    table: "khedma_quotes",
    key: "id",
    shape: Shape::Versioned,
    uniques: &[
        // One pending quote per provider per request.
        Unique { name: "khedma_quotes_one_pending", columns: &["request_id", "provider_id"], when: Some(is_pending) },
        // One accepted quote per request.
        Unique { name: "khedma_quotes_one_accepted", columns: &["request_id"], when: Some(is_accepted) },
    ],
    guards: &[],
};

fn is_pending(r: &dyn RowRead) -> bool {
    r.wire("status", QuoteStatus::parse).is_ok_and(|s| s == QuoteStatus::Pending)
}

fn is_accepted(r: &dyn RowRead) -> bool {
    r.wire("status", QuoteStatus::parse).is_ok_and(|s| s == QuoteStatus::Accepted)
}

static BOOKING: EntityDecl = EntityDecl {
    kind: "khedma.booking",
    aliases: &["booking"],
    human: "booking",
    table: "khedma_bookings",
    key: "id",
    shape: Shape::Versioned,
    // `request_id … UNIQUE`, `quote_id … UNIQUE`: Postgres' default constraint names.
    uniques: &[
        Unique { name: "khedma_bookings_request_id_key", columns: &["request_id"], when: None },
        Unique { name: "khedma_bookings_quote_id_key", columns: &["quote_id"], when: None },
    ],
    guards: &[],
};

impl Entity for JobRequest {
    const DECL: &'static EntityDecl = &REQUEST;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("client_id", self.client_id.as_uuid())
            .with("title", self.title.as_str())
            .with("description", self.description.as_str())
            .with("status", self.status.as_str())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        Ok(JobRequest {
            id: JobRequestId::from_uuid(r.uuid("id")?),
            client_id: UserId::from_uuid(r.uuid("client_id")?),
            title: r.text("title")?,
            description: r.text("description")?,
            status: r.wire("status", JobRequestStatus::parse)?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A request is its client's; while it is open, every provider may see it (and quote on it).
    fn readers(&self) -> Readers {
        let readers = Readers::users([self.client_id]);
        match self.status {
            JobRequestStatus::Open => readers.and_roles([Role::Provider]),
            JobRequestStatus::Booked | JobRequestStatus::Closed => readers,
        }
    }
}

impl Entity for Quote {
    const DECL: &'static EntityDecl = &QUOTE;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("request_id", self.request_id.as_uuid())
            .with("provider_id", self.provider_id.as_uuid())
            .with("amount", self.amount)
            .with("currency", self.amount.currency())
            .with("message", self.message.as_str())
            .with("valid_until", self.valid_until)
            .with("status", self.status.as_str())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        Ok(Quote {
            id: QuoteId::from_uuid(r.uuid("id")?),
            request_id: JobRequestId::from_uuid(r.uuid("request_id")?),
            provider_id: UserId::from_uuid(r.uuid("provider_id")?),
            amount: r.money("amount", currency)?,
            message: r.text("message")?,
            valid_until: r.ts("valid_until")?,
            status: r.wire("status", QuoteStatus::parse)?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A quote is its provider's. The request's client also reads every quote on it (through the
    /// request), but a quote does not carry the client's id, so quote events reach the provider only.
    fn readers(&self) -> Readers {
        Readers::users([self.provider_id])
    }
}

impl Entity for Booking {
    const DECL: &'static EntityDecl = &BOOKING;
    fn id(&self) -> Uuid {
        self.id.as_uuid()
    }
    fn to_row(&self) -> Row {
        Row::new()
            .with("id", self.id.as_uuid())
            .with("request_id", self.request_id.as_uuid())
            .with("quote_id", self.quote_id.as_uuid())
            .with("client_id", self.client_id.as_uuid())
            .with("provider_id", self.provider_id.as_uuid())
            .with("amount", self.amount)
            .with("currency", self.amount.currency())
            .with("status", self.status.as_str())
            .with("created_at", self.created_at)
            .with("updated_at", self.updated_at)
    }
    fn from_row(r: &dyn RowRead) -> Decoded<Self> {
        let currency = r.currency("currency")?;
        Ok(Booking {
            id: BookingId::from_uuid(r.uuid("id")?),
            request_id: JobRequestId::from_uuid(r.uuid("request_id")?),
            quote_id: QuoteId::from_uuid(r.uuid("quote_id")?),
            client_id: UserId::from_uuid(r.uuid("client_id")?),
            provider_id: UserId::from_uuid(r.uuid("provider_id")?),
            amount: r.money("amount", currency)?,
            status: r.wire("status", BookingStatus::parse)?,
            created_at: r.ts("created_at")?,
            updated_at: r.ts("updated_at")?,
        })
    }
    /// A booking is its participants': the client and the provider (admins read everything).
    fn readers(&self) -> Readers {
        Readers::users([self.client_id, self.provider_id])
    }
}

/// Khedma's reads, written once over any [`Reader`] (a store, or one command's snapshot).
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait KhedmaStore: Reader {
    /// A request.
    async fn job_request(&self, id: JobRequestId) -> StoreResult<Option<Versioned<JobRequest>>> {
        self.get(id.as_uuid()).await
    }
    /// All quotes on a request, oldest first.
    async fn quotes_for(&self, request: JobRequestId) -> StoreResult<Vec<Versioned<Quote>>> {
        self.find(
            Query::of::<Quote>()
                .eq("request_id", request.as_uuid())
                .order_by("created_at", Dir::Asc)
                .order_by("id", Dir::Asc),
        )
        .await
    }
    /// A booking.
    async fn booking(&self, id: BookingId) -> StoreResult<Option<Versioned<Booking>>> {
        self.get(id.as_uuid()).await
    }
    /// The bookings made on a request (at most one: `khedma_bookings_request_id_key`).
    async fn bookings_for(&self, request: JobRequestId) -> StoreResult<Vec<Versioned<Booking>>> {
        self.find(Query::of::<Booking>().eq("request_id", request.as_uuid()).order_by("id", Dir::Asc)).await
    }
}

impl<R: Reader + ?Sized> KhedmaStore for R {}
