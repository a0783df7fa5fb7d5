//! Identifiers: one UUID newtype per entity, and the injected source of new ids.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Where new identifiers come from. Core never generates randomness itself: a service is given one.
///
/// Implementations must return a fresh, never-repeated UUID on every call.
pub trait IdSource: Send + Sync {
    /// A new UUID.
    fn new_uuid(&self) -> Uuid;
}

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
            /// A new id from the given source.
            pub fn generate(ids: &dyn IdSource) -> Self {
                Self(ids.new_uuid())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

id_newtype!(
    /// A user (the canonical identity: `profiles.id` = the auth user's id).
    UserId
);
id_newtype!(
    /// A tenant (an organisation in the multi-tenant products).
    TenantId
);
id_newtype!(
    /// A civilian (customer) profile row.
    CivilianProfileId
);
id_newtype!(
    /// A hero (provider) profile row.
    HeroProfileId
);
id_newtype!(
    /// A HomeHeroes service request (a job).
    ServiceRequestId
);
id_newtype!(
    /// A hero's interest in a service request.
    JobInterestId
);
id_newtype!(
    /// An audit record.
    AuditId
);
id_newtype!(
    /// An outbox event.
    EventId
);
id_newtype!(
    /// A ledger account.
    AccountId
);
id_newtype!(
    /// A ledger transfer; chosen by the client, so a retry names the same transfer.
    TransferId
);
id_newtype!(
    /// A payment intent; also the merchant reference the gateway echoes back.
    PaymentIntentId
);
id_newtype!(
    /// A bookable amenity (gym, laundry…).
    AmenityId
);
id_newtype!(
    /// One time slot of an amenity; derived from the amenity and the slot's start.
    SlotId
);
id_newtype!(
    /// A resident's seat in a slot.
    AmenityBookingId
);
id_newtype!(
    /// A canteen menu item (one dish on one date).
    MenuItemId
);
id_newtype!(
    /// A hostel room.
    RoomId
);
id_newtype!(
    /// A Khedma client's request for a service.
    JobRequestId
);
id_newtype!(
    /// A Khedma provider's quote.
    QuoteId
);
id_newtype!(
    /// A Khedma booking (an accepted quote).
    BookingId
);
id_newtype!(
    /// A resident's bed reservation in a room.
    ReservationId
);
id_newtype!(
    /// A canteen order; also the id of its payment transfer.
    OrderId
);
id_newtype!(
    /// One installation of a client app: the stream its offline actions are numbered in.
    ClientId
);
id_newtype!(
    /// A notification record (Viramah Group E).
    NotificationId
);
id_newtype!(
    /// A Viramah inquiry (the gate before sign-up).
    InquiryId
);
id_newtype!(
    /// A Viramah onboarding submission.
    SubmissionId
);
id_newtype!(
    /// A resident's maintenance request.
    MaintenanceRequestId
);
id_newtype!(
    /// One record of a maintenance request (assignment, status change, comment, attachment).
    MaintenanceRecordId
);
id_newtype!(
    /// A background job (the kernel's queue, `kernel::jobs`); a schedule's occurrence has an id derived
    /// from its unique key.
    JobId
);

/// A deterministic id source for tests and replays: UUIDs counting up from a seed.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: std::sync::atomic::AtomicU64,
    prefix: u64,
}

impl SequentialIds {
    /// Ids whose high 64 bits are `prefix` and low 64 bits count from 1.
    pub fn with_prefix(prefix: u64) -> Self {
        Self { next: std::sync::atomic::AtomicU64::new(1), prefix }
    }
}

impl IdSource for SequentialIds {
    fn new_uuid(&self) -> Uuid {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = if n == 0 { self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) } else { n };
        Uuid::from_u64_pair(self.prefix, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_are_distinct_and_round_trip_as_text() {
        let ids = SequentialIds::with_prefix(7);
        let a = UserId::generate(&ids);
        let b = UserId::generate(&ids);
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<UserId>().ok(), Some(a));
        assert_eq!(serde_json::to_string(&a).ok(), Some(format!("\"{a}\"")));
    }
}
