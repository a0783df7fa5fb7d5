//! hearth-core: the business rules of hearth, pure.
//!
//! Validation with field-level errors, state machines as data, authorization as a pure function,
//! the storage contract (loads, queries, one atomic commit of a change set), the services that run
//! commands over it, and — behind the `testing` feature — the conformance suite every store runs.
//!
//! **Architecture invariant:** this crate does no I/O, spawns nothing, and reads neither the clock
//! nor randomness (a [`time::Clock`] and an [`id::IdSource`] are passed in). The one exception is
//! the opt-in `system` feature, which provides the OS-backed implementations of those two traits.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod actor;
pub mod authz;
pub mod error;
pub mod homeheroes;
pub mod id;
pub mod machine;
pub mod money;
pub mod service;
pub mod store;
pub mod time;
pub mod validate;

#[cfg(feature = "system")]
pub mod system;

#[cfg(feature = "testing")]
pub mod testing;

pub use actor::{Actor, Role};
pub use error::{Error, ErrorCode};
pub use money::{Currency, Money};
pub use time::{Clock, Timestamp};

#[cfg(test)]
mod testing_inputs {
    pub(crate) fn request() -> crate::homeheroes::input::ServiceRequestInput {
        use crate::homeheroes::input::{BudgetInput, LocationInput, ServiceRequestInput};
        ServiceRequestInput {
            title: Some("Fix the kitchen sink".into()),
            description: Some("The kitchen sink leaks under the cabinet.".into()),
            category: Some("repairs".into()),
            location: Some(LocationInput {
                address: Some("12 Elm Street".into()),
                city: Some("Springfield".into()),
                state: Some("IL".into()),
                zip_code: Some("62701".into()),
                latitude: Some(39.78),
                longitude: Some(-89.65),
            }),
            scheduled_date: Some("2026-06-03T09:00:00Z".into()),
            estimated_duration: Some(2),
            budget_range: Some(BudgetInput {
                min: Some(rust_decimal::Decimal::new(5000, 2)),
                max: Some(rust_decimal::Decimal::new(12000, 2)),
                currency: Some("USD".into()),
            }),
        }
    }
}
