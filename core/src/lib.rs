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
pub mod amenities;
pub mod authz;
pub mod canteen;
pub mod client;
pub mod domains;
pub mod error;
pub mod homeheroes;
pub mod id;
pub mod kernel;
pub mod khedma;
pub mod ledger;
pub mod limits;
pub mod machine;
pub mod maintenance;
pub mod money;
pub mod notifications;
pub mod offline;
pub mod payments;
pub mod residents;
pub mod rooms;
/// Commands and the runner (the kernel's [`kernel::command`], under its historical path).
pub use kernel::command as service;
/// The storage contract (the kernel's [`kernel::store`], under its historical path).
pub use kernel::store;
pub mod time;
pub mod validate;

#[cfg(feature = "system")]
pub mod system;

mod fuzz_inputs;

#[cfg(feature = "testing")]
pub mod testing;

/// Valid sample inputs, shared by core's unit tests and the conformance suite.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod samples;

pub use actor::{Actor, Role};
pub use error::{Error, ErrorCode};
pub use money::{Currency, Money};
pub use time::{Clock, Timestamp};
