//! The storage contract: loads and queries, and one atomic [`Store::commit`] of a [`ChangeSet`].
//!
//! Adapters (`hearth-sqlite`, `hearth-postgres`) implement these traits and hold no business rule.
//! A commit applies every write with its expected version (optimistic concurrency), appends the
//! audit records and outbox events, and records the idempotency key — all or nothing.

use crate::amenities::{Amenity, AmenityBooking, Slot};
use crate::canteen::{MenuItem, Order};
use crate::homeheroes::model::{
    Category, CivilianProfile, HeroProfile, JobInterest, Profile, RequestStatus, ServiceRequest,
};
use crate::id::{AuditId, ClientId, EventId, ServiceRequestId, UserId};
use crate::khedma::{Booking, JobRequest, Quote};
use crate::ledger::model::{Account, AccountId, AccountKind, Balance, Transfer, TransferId, TransferKind};
use crate::money::{Currency, Money};
use crate::payments::{PaymentConfirmation, PaymentIntent};
use crate::rooms::{BedReservation, Room};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// `Send + Sync` where threads exist; nothing on wasm, so the same traits compile for the browser.
#[cfg(not(target_family = "wasm"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_family = "wasm"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` where threads exist; nothing on wasm, so the same traits compile for the browser.
#[cfg(target_family = "wasm")]
pub trait MaybeSendSync {}
#[cfg(target_family = "wasm")]
impl<T: ?Sized> MaybeSendSync for T {}

/// A loaded value with the version the store holds. Versions start at 1 and grow by 1 per write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version.
    pub version: u64,
}

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum Expect {
    /// Nothing: this is an insert (version 1).
    Absent,
    /// This version: the write stores `version + 1`.
    Version(u64),
}

impl Expect {
    /// The version the row has after the write.
    pub fn next_version(self) -> u64 {
        match self {
            Expect::Absent => 1,
            Expect::Version(v) => v.saturating_add(1),
        }
    }
}

/// The kinds of entity a change set can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// [`Profile`]
    Profile,
    /// [`CivilianProfile`]
    CivilianProfile,
    /// [`HeroProfile`]
    HeroProfile,
    /// [`ServiceRequest`]
    ServiceRequest,
    /// [`JobInterest`]
    JobInterest,
    /// A ledger [`Account`].
    LedgerAccount,
    /// A ledger [`Transfer`].
    LedgerTransfer,
    /// A [`PaymentIntent`].
    PaymentIntent,
    /// An [`Amenity`].
    Amenity,
    /// An amenity [`Slot`].
    AmenitySlot,
    /// An [`AmenityBooking`].
    AmenityBooking,
    /// A canteen [`MenuItem`].
    MenuItem,
    /// A canteen [`Order`].
    Order,
    /// A [`BedReservation`].
    BedReservation,
    /// A [`Room`].
    Room,
    /// A Khedma [`JobRequest`].
    JobRequest,
    /// A Khedma [`Quote`].
    Quote,
    /// A Khedma [`Booking`].
    Booking,
}

impl EntityKind {
    /// The wire name (`service_request`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Profile => "profile",
            EntityKind::CivilianProfile => "civilian_profile",
            EntityKind::HeroProfile => "hero_profile",
            EntityKind::ServiceRequest => "service_request",
            EntityKind::JobInterest => "job_interest",
            EntityKind::LedgerAccount => "ledger_account",
            EntityKind::LedgerTransfer => "ledger_transfer",
            EntityKind::PaymentIntent => "payment_intent",
            EntityKind::Amenity => "amenity",
            EntityKind::AmenitySlot => "amenity_slot",
            EntityKind::AmenityBooking => "amenity_booking",
            EntityKind::MenuItem => "menu_item",
            EntityKind::Order => "order",
            EntityKind::BedReservation => "bed_reservation",
            EntityKind::Room => "room",
            EntityKind::JobRequest => "job_request",
            EntityKind::Quote => "quote",
            EntityKind::Booking => "booking",
        }
    }
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Profile,
            Self::CivilianProfile,
            Self::HeroProfile,
            Self::ServiceRequest,
            Self::JobInterest,
            Self::LedgerAccount,
            Self::LedgerTransfer,
            Self::PaymentIntent,
            Self::Amenity,
            Self::AmenitySlot,
            Self::AmenityBooking,
            Self::MenuItem,
            Self::Order,
            Self::BedReservation,
            Self::Room,
            Self::JobRequest,
            Self::Quote,
            Self::Booking,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    /// A human name (`service request`), for messages.
    pub fn human(self) -> &'static str {
        match self {
            EntityKind::Profile => "profile",
            EntityKind::CivilianProfile => "civilian profile",
            EntityKind::HeroProfile => "hero profile",
            EntityKind::ServiceRequest => "service request",
            EntityKind::JobInterest => "job interest",
            EntityKind::LedgerAccount => "ledger account",
            EntityKind::LedgerTransfer => "ledger transfer",
            EntityKind::PaymentIntent => "payment intent",
            EntityKind::Amenity => "amenity",
            EntityKind::AmenitySlot => "slot",
            EntityKind::AmenityBooking => "booking",
            EntityKind::MenuItem => "menu item",
            EntityKind::Order => "order",
            EntityKind::BedReservation => "bed reservation",
            EntityKind::Room => "room",
            EntityKind::JobRequest => "request",
            EntityKind::Quote => "quote",
            EntityKind::Booking => "booking",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityRef {
    /// Its kind.
    pub kind: EntityKind,
    /// Its id.
    pub id: Uuid,
}

/// An entity a change set can write.
pub trait Entity: Serialize + Clone {
    /// Its kind.
    const KIND: EntityKind;
    /// Its id.
    fn id(&self) -> Uuid;
    /// Wraps it as a write.
    fn into_write(self, expect: Expect) -> Write;
    /// Its reference.
    fn entity_ref(&self) -> EntityRef {
        EntityRef { kind: Self::KIND, id: self.id() }
    }
}

macro_rules! entity {
    ($ty:ident, $kind:ident, $variant:ident, |$v:ident| $id:expr) => {
        impl Entity for $ty {
            const KIND: EntityKind = EntityKind::$kind;
            fn id(&self) -> Uuid {
                let $v = self;
                $id
            }
            fn into_write(self, expect: Expect) -> Write {
                Write::$variant { value: self, expect }
            }
        }
    };
}
entity!(Profile, Profile, Profile, |v| v.id.as_uuid());
entity!(CivilianProfile, CivilianProfile, CivilianProfile, |v| v.id.as_uuid());
entity!(HeroProfile, HeroProfile, HeroProfile, |v| v.id.as_uuid());
entity!(ServiceRequest, ServiceRequest, ServiceRequest, |v| v.id.as_uuid());
entity!(JobInterest, JobInterest, JobInterest, |v| v.id.as_uuid());
entity!(Account, LedgerAccount, LedgerAccount, |v| v.id.as_uuid());
entity!(PaymentIntent, PaymentIntent, PaymentIntent, |v| v.id.as_uuid());
entity!(Amenity, Amenity, Amenity, |v| v.id.as_uuid());
entity!(AmenityBooking, AmenityBooking, AmenityBooking, |v| v.id.as_uuid());
entity!(MenuItem, MenuItem, MenuItem, |v| v.id.as_uuid());
entity!(Order, Order, Order, |v| v.id.as_uuid());
entity!(BedReservation, BedReservation, BedReservation, |v| v.id.as_uuid());
entity!(JobRequest, JobRequest, JobRequest, |v| v.id.as_uuid());
entity!(Quote, Quote, Quote, |v| v.id.as_uuid());
entity!(Booking, Booking, Booking, |v| v.id.as_uuid());

/// One entity write: insert (`Expect::Absent`) or versioned update.
// A change set holds a handful of writes; boxing the large variants would buy nothing.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs, clippy::large_enum_variant)]
pub enum Write {
    Profile {
        value: Profile,
        expect: Expect,
    },
    CivilianProfile {
        value: CivilianProfile,
        expect: Expect,
    },
    HeroProfile {
        value: HeroProfile,
        expect: Expect,
    },
    ServiceRequest {
        value: ServiceRequest,
        expect: Expect,
    },
    JobInterest {
        value: JobInterest,
        expect: Expect,
    },
    /// A ledger account: inserted, or its flags changed (a versioned update of an account fails if
    /// any delta landed since it was loaded, so balances are never overwritten this way).
    LedgerAccount {
        value: Account,
        expect: Expect,
    },
    /// Adds `delta` to an account's totals in place. The store applies it only while the account is
    /// neither frozen nor closed (when `require_active`) and while the account's flag constraints
    /// hold afterwards; otherwise the commit fails with [`StoreError::GuardFailed`].
    AccountDelta {
        account: AccountId,
        delta: Balance,
        require_active: bool,
    },
    /// Appends a transfer record (successes and failed first attempts). Its id, and for
    /// post/void/expire its `pending_id`, are unique: a second insert is [`StoreError::AlreadyExists`].
    Transfer(Transfer),
    /// A payment intent: inserted or versioned update.
    PaymentIntent {
        value: PaymentIntent,
        expect: Expect,
    },
    /// Records a processed webhook delivery; unique per (gateway, provider transaction id): a second
    /// insert is [`StoreError::AlreadyExists`].
    PaymentConfirmation(PaymentConfirmation),
    /// An amenity: inserted, or its status changed (versioned).
    Amenity {
        value: Amenity,
        expect: Expect,
    },
    /// A slot: inserted once (its id is derived, so a second insert is `AlreadyExists`).
    Slot {
        value: Slot,
        expect: Expect,
    },
    /// Adds `booked` to a slot's counter in place; the store refuses it (`GuardFailed`) when the result
    /// would leave `0..=capacity`.
    SlotDelta {
        slot: crate::id::SlotId,
        booked: i32,
    },
    /// A booking: inserted, or cancelled (versioned). One live booking per (slot, user).
    AmenityBooking {
        value: AmenityBooking,
        expect: Expect,
    },
    /// A menu item: inserted, or its availability changed (versioned).
    MenuItem {
        value: MenuItem,
        expect: Expect,
    },
    /// A canteen order: inserted with its payment, then versioned updates.
    Order {
        value: Order,
        expect: Expect,
    },
    /// A room: inserted (its `reserved` counter changes only through `RoomDelta`).
    Room {
        value: Room,
        expect: Expect,
    },
    /// Adds `reserved` to a room's counter in place; refused (`GuardFailed`) outside `0..=beds`.
    RoomDelta {
        room: crate::id::RoomId,
        reserved: i32,
    },
    /// A bed reservation: inserted, then versioned updates. One live reservation per user.
    BedReservation {
        value: BedReservation,
        expect: Expect,
    },
    /// A Khedma request: inserted, then versioned updates.
    JobRequest {
        value: JobRequest,
        expect: Expect,
    },
    /// A Khedma quote: inserted, then versioned updates. One pending quote per provider per request.
    Quote {
        value: Quote,
        expect: Expect,
    },
    /// A Khedma booking: inserted, then versioned updates. One booking per request.
    Booking {
        value: Booking,
        expect: Expect,
    },
    /// Sets (inserts or replaces) a resident's delivery room.
    ResidentRoom {
        user: UserId,
        room: String,
    },
}

/// One audit record: who changed what, from what to what. Append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Id.
    pub id: AuditId,
    /// The entity.
    pub entity: EntityRef,
    /// The action's wire name (`accept`, `create`).
    pub action: String,
    /// The actor's principal: a user id or `system`.
    pub actor: String,
    /// The entity before (absent for inserts).
    pub before: Option<serde_json::Value>,
    /// The entity after.
    pub after: serde_json::Value,
    /// The entity's version after the change.
    pub version: u64,
    /// When.
    pub at: Timestamp,
}

/// An event for the realtime layer and other consumers, committed with the change it describes
/// (the transactional outbox). `audience` lists the users entitled to see it, so a realtime layer
/// routes without re-deriving authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Id.
    pub id: EventId,
    /// `<entity kind>.<action>` (`service_request.assigned`).
    pub topic: String,
    /// The entity.
    pub entity: EntityRef,
    /// The entity after the change.
    pub payload: serde_json::Value,
    /// Users entitled to receive it.
    pub audience: Vec<UserId>,
    /// When.
    pub at: Timestamp,
}

/// The stored outcome of an idempotent command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The caller's principal: keys are scoped per caller.
    pub scope: String,
    /// The caller's key.
    pub key: String,
    /// The command's name.
    pub command: String,
    /// SHA-256 of the command's canonical JSON: a reused key with another request is refused.
    pub fingerprint: String,
    /// The command's output, replayed on duplicates.
    pub response: serde_json::Value,
    /// When first applied.
    pub at: Timestamp,
}

/// The server's record of one offline action (`crate::offline`): committed with the action's
/// effects, so an action is applied exactly once and its answer can be replayed.
///
/// `(client_id, seq)` is unique; a client's `last_seq` is its highest recorded `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientActionRecord {
    /// The client stream.
    pub client_id: ClientId,
    /// The action's position in it (1, 2, 3, … without gaps).
    pub seq: u64,
    /// The principal that owns the stream.
    pub principal: String,
    /// The action's command name.
    pub action: String,
    /// SHA-256 of the action's canonical JSON: a replay must carry the same action.
    pub fingerprint: String,
    /// The recorded outcome (`crate::offline::Outcome` as JSON).
    pub outcome: serde_json::Value,
    /// When recorded.
    pub at: Timestamp,
}

/// Where a client stream stands on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCursor {
    /// The principal that owns the stream.
    pub principal: String,
    /// The highest recorded sequence number.
    pub last_seq: u64,
}

/// Everything one command changes, committed atomically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeSet {
    /// Entity writes, applied in order.
    pub writes: Vec<Write>,
    /// Audit records to append.
    pub audit: Vec<AuditRecord>,
    /// Outbox events to append.
    pub events: Vec<OutboxEvent>,
    /// The idempotency record to store (its key must not exist yet).
    pub idempotency: Option<IdempotencyRecord>,
    /// The offline action this change set applies (its `(client_id, seq)` must not exist yet).
    pub client_action: Option<ClientActionRecord>,
}

impl ChangeSet {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.audit.is_empty()
            && self.events.is_empty()
            && self.idempotency.is_none()
            && self.client_action.is_none()
    }
}

/// What a store can fail with. Adapters map their driver errors onto these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A versioned write found another version (or no row).
    #[error("version conflict on {entity}")]
    VersionConflict {
        /// The entity kind.
        entity: EntityKind,
    },
    /// An insert found the row (or its unique key) already there.
    #[error("{entity} already exists")]
    AlreadyExists {
        /// The entity kind.
        entity: EntityKind,
    },
    /// A guarded change (a balance delta, a counter) would break its guard; decide again on fresh data.
    #[error("guard `{guard}` failed on {entity}")]
    GuardFailed {
        /// The entity kind.
        entity: EntityKind,
        /// The guard or constraint name.
        guard: String,
    },
    /// The idempotency key was recorded by a concurrent commit.
    #[error("idempotency key already recorded")]
    IdempotencyKeyTaken,
    /// The offline action `(client_id, seq)` was recorded by a concurrent commit.
    #[error("client action already recorded")]
    ClientSeqTaken,
    /// A named backstop constraint refused the write: core let through something it should not have.
    #[error("constraint `{name}` violated")]
    Constraint {
        /// The constraint's name.
        name: String,
    },
    /// Busy, unreachable, or a serialization failure: retrying later may work.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// Detail for logs.
        message: String,
    },
    /// A stored row does not decode into a valid value.
    #[error("corrupt row: {message}")]
    Corrupt {
        /// Detail for logs.
        message: String,
    },
    /// Any other driver error.
    #[error("store error: {message}")]
    Backend {
        /// Detail for logs.
        message: String,
    },
}

/// The result type of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The contract every store honours, whatever the domain.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait Store: MaybeSendSync {
    /// Applies the change set atomically, or nothing of it.
    async fn commit(&self, changes: ChangeSet) -> StoreResult<()>;
    /// The idempotency record for `(scope, key)`, if any.
    async fn idempotency_record(&self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>>;
    /// The audit trail of one entity, oldest first.
    async fn audit_trail(&self, entity: EntityRef) -> StoreResult<Vec<AuditRecord>>;
    /// Outbox events with a position greater than `after`, in position order, at most `limit`.
    async fn outbox_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, OutboxEvent)>>;
    /// Where the client stream stands: its owner and highest recorded `seq`; `None` when unused.
    async fn client_cursor(&self, client_id: ClientId) -> StoreResult<Option<ClientCursor>>;
    /// The recorded actions of a client with `from <= seq <= to`, in `seq` order.
    async fn client_actions(&self, client_id: ClientId, from: u64, to: u64) -> StoreResult<Vec<ClientActionRecord>>;
}

/// Filters for listing service requests; every set field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFilter {
    /// Status.
    pub status: Option<RequestStatus>,
    /// Owner.
    pub civilian_id: Option<UserId>,
    /// Assigned hero.
    pub hero_id: Option<UserId>,
    /// Category.
    pub category: Option<Category>,
    /// Only budgets whose maximum is at least this (same currency).
    pub budget_at_least: Option<Money>,
    /// Only budgets whose minimum is at most this (same currency).
    pub budget_at_most: Option<Money>,
}

/// Keyset position: strictly after this `(created_at, id)` in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    /// `created_at` of the last row seen.
    pub created_at: Timestamp,
    /// `id` of the last row seen.
    pub id: ServiceRequestId,
}

/// The HomeHeroes part of the contract.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait HomeHeroesStore: Store {
    /// A profile by user id.
    async fn profile(&self, user: UserId) -> StoreResult<Option<Versioned<Profile>>>;
    /// A civilian profile by owning user.
    async fn civilian_profile(&self, user: UserId) -> StoreResult<Option<Versioned<CivilianProfile>>>;
    /// A hero profile by owning user.
    async fn hero_profile(&self, user: UserId) -> StoreResult<Option<Versioned<HeroProfile>>>;
    /// Hero profiles, ordered by `(created_at, id)`, `offset`/`limit` paged.
    async fn hero_profiles(&self, offset: u64, limit: u32) -> StoreResult<Vec<Versioned<HeroProfile>>>;
    /// A service request by id.
    async fn service_request(&self, id: ServiceRequestId) -> StoreResult<Option<Versioned<ServiceRequest>>>;
    /// Service requests matching `filter`, newest first (`created_at` desc, `id` desc), strictly after
    /// `after`, at most `limit`.
    async fn service_requests(
        &self,
        filter: &RequestFilter,
        after: Option<After>,
        limit: u32,
    ) -> StoreResult<Vec<Versioned<ServiceRequest>>>;
    /// How many requests `civilian` created at or after `since`.
    async fn count_requests_created_since(&self, civilian: UserId, since: Timestamp) -> StoreResult<u64>;
    /// Requests completed by `hero` with `completed_at` in `[from, to)`.
    async fn completed_requests(
        &self,
        hero: UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<ServiceRequest>>;
    /// All interests in a request, oldest first.
    async fn interests(&self, request: ServiceRequestId) -> StoreResult<Vec<Versioned<JobInterest>>>;
}

/// Totals over all accounts of one currency: Σdebits must equal Σcredits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotals {
    /// The currency.
    pub currency: Currency,
    /// Σ over accounts.
    pub totals: Balance,
}

/// The ledger part of the contract.
#[cfg_attr(not(target_family = "wasm"), async_trait::async_trait)]
#[cfg_attr(target_family = "wasm", async_trait::async_trait(?Send))]
pub trait LedgerStore: Store {
    /// Accounts by id (missing ids are left out).
    async fn ledger_accounts(&self, ids: &[AccountId]) -> StoreResult<Vec<Versioned<Account>>>;
    /// The account of `owner` (`None` for system accounts) of `kind` in `currency`.
    async fn ledger_account_for(
        &self,
        owner: Option<UserId>,
        kind: AccountKind,
        currency: Currency,
    ) -> StoreResult<Option<Versioned<Account>>>;
    /// Account ids after `after`, ascending, at most `limit` (for reconciliation sweeps).
    async fn ledger_account_ids(&self, after: Option<AccountId>, limit: u32) -> StoreResult<Vec<AccountId>>;
    /// Transfer records by id (missing ids are left out).
    async fn ledger_transfers(&self, ids: &[TransferId]) -> StoreResult<Vec<Transfer>>;
    /// For each of `pending` that is resolved, the kind of the resolving transfer.
    async fn pending_resolutions(&self, pending: &[TransferId]) -> StoreResult<Vec<(TransferId, TransferKind)>>;
    /// Successful pending transfers with `expires_at <= now` and no resolution, oldest first.
    async fn expired_pending(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Transfer>>;
    /// Every successful transfer debiting or crediting any of `accounts`, in the order recorded
    /// (reconciliation recomputes balances from these with core's own rule).
    async fn ledger_transfers_touching(&self, accounts: &[AccountId]) -> StoreResult<Vec<Transfer>>;
    /// Cached totals summed per currency over all accounts.
    async fn currency_totals(&self) -> StoreResult<Vec<CurrencyTotals>>;
    /// Successful transfers touching `account`, oldest first, at most `limit`.
    async fn account_transfers(&self, account: AccountId, limit: u32) -> StoreResult<Vec<Transfer>>;
}
