//! The kernel every domain builds on: entity declarations and neutral rows ([`entity`],
//! [`value`]), generic queries ([`query`]), the storage contract ([`store`]), commands and the
//! runner ([`command`]), background jobs and schedules ([`jobs`]), access helpers ([`access`]), and a
//! store in memory ([`memory`]).
//! runner ([`command`]), access helpers ([`access`]), the change feed ([`feed`]), and a store in
//! memory ([`memory`]).
//!
//! **Architecture invariant:** the kernel names no domain, except the sealed list of self-audited
//! ledger records in [`command::SelfAudited`]; domains depend on the kernel and never on each
//! other's internals. A new domain is its folder, one migration per store, and one line in
//! [`crate::domains`] (see `docs/adding-a-domain.md`).

pub mod access;
pub mod command;
pub mod entity;
pub mod feed;
pub mod jobs;
pub mod memory;
pub mod query;
pub mod store;
pub mod value;

pub use access::{found, require, require_visible};
pub use command::{Command, Decide, Runner};
pub use entity::{Domain, Entity, EntityDecl, EntityKind, EntityRef, Guard, Readers, Shape, Unique};
pub use query::{Dir, Filter, Query};
pub use store::{ReadExt, Reader, Reads, Store, StoreError, StoreResult, Versioned};
pub use value::{DecodeError, Row, RowRead, Value, ValueType};

/// How to add a domain: the checklist and the smallest complete example (`docs/adding-a-domain.md`,
/// whose example runs as a doc test).
#[doc = include_str!("../../../docs/adding-a-domain.md")]
pub mod guide {}
