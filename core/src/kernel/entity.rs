//! Entity declarations: an entity names itself (kind, table, key, shape, unique keys and counter
//! guards) next to its model, and converts itself to and from a dialect-neutral [`Row`].
//!
//! There is no central list of entities: each domain lists its own in a [`Domain`], and the one
//! registration line per domain in [`crate::domains`] makes them known to the kernel (wire names for
//! audit trails, tables for error mapping, the conformance test that visits every entity on every
//! store).

use super::value::{Decoded, Row, RowRead, Value};
use crate::actor::Actor;
use crate::id::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// How an entity's rows change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shape {
    /// Inserted at version 1, then replaced under optimistic concurrency (`version` column).
    /// Counter columns may also move by guarded deltas.
    Versioned,
    /// Inserted once, never changed (no `version` column). `sequence` names the column the store
    /// fills with an increasing insertion number, if the table has one (reads may order by it).
    AppendOnly {
        /// The insertion-order column.
        sequence: Option<&'static str>,
    },
}

/// A unique key (the store has a UNIQUE constraint or a (partial) unique index of this name).
/// The memory store enforces it from this declaration; SQL stores from their schema.
#[derive(Debug, Clone, Copy)]
pub struct Unique {
    /// The constraint or index name, as in both SQL schemas.
    pub name: &'static str,
    /// Its columns.
    pub columns: &'static [&'static str],
    /// For a partial index: which rows it covers.
    pub when: Option<fn(&dyn RowRead) -> bool>,
}

/// A counter guard: a named CHECK that a guarded delta must keep true. A delta that would break it
/// fails with `GuardFailed` (decide again), not with a constraint error.
///
/// `holds` must agree with the SQL CHECK of the same name, including on `NULL`: a SQL CHECK passes
/// when its expression is `NULL`, so a guard over a nullable column must accept `NULL` explicitly.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    /// The CHECK constraint's name, as in both SQL schemas.
    pub name: &'static str,
    /// The rule, for stores that hold no SQL (the memory store).
    pub holds: fn(&dyn RowRead) -> bool,
}

/// What the kernel knows about one entity.
#[derive(Debug)]
pub struct EntityDecl {
    /// Namespaced wire name, `<domain>.<entity>` (`amenities.slot`): audit trails, events.
    pub kind: &'static str,
    /// Earlier wire names still found in stored audit records and events.
    pub aliases: &'static [&'static str],
    /// A human name (`slot`), for messages.
    pub human: &'static str,
    /// The table.
    pub table: &'static str,
    /// The key column (one column; a UUID).
    pub key: &'static str,
    /// How rows change.
    pub shape: Shape,
    /// Unique keys besides the key.
    pub uniques: &'static [Unique],
    /// Counter guards.
    pub guards: &'static [Guard],
}

impl EntityDecl {
    /// True when rows carry a `version` column.
    pub fn is_versioned(&self) -> bool {
        matches!(self.shape, Shape::Versioned)
    }
    /// True when `name` is one of this entity's guards.
    pub fn is_guard(&self, name: &str) -> bool {
        self.guards.iter().any(|g| g.name == name)
    }
}

/// An entity kind: a handle on its declaration, compared and serialised by wire name.
#[derive(Clone, Copy)]
pub struct EntityKind(&'static EntityDecl);

impl EntityKind {
    /// The kind of a declaration.
    pub const fn of(decl: &'static EntityDecl) -> Self {
        Self(decl)
    }
    /// The declaration.
    pub fn decl(self) -> &'static EntityDecl {
        self.0
    }
    /// The wire name (`amenities.slot`).
    pub fn as_str(self) -> &'static str {
        self.0.kind
    }
    /// A human name, for messages.
    pub fn human(self) -> &'static str {
        self.0.human
    }
    /// The registered kind with this wire name (or an earlier alias of it).
    pub fn parse(name: &str) -> Option<Self> {
        crate::domains::entities().find(|d| d.kind == name || d.aliases.contains(&name)).map(Self)
    }
    /// The registered kind stored in `table`.
    pub fn of_table(table: &str) -> Option<Self> {
        crate::domains::entities().find(|d| d.table == table).map(Self)
    }
}

impl PartialEq for EntityKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.kind == other.0.kind
    }
}
impl Eq for EntityKind {}
impl std::hash::Hash for EntityKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.kind.hash(state)
    }
}
impl PartialOrd for EntityKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for EntityKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.kind.cmp(other.0.kind)
    }
}
impl fmt::Debug for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.kind)
    }
}
impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.kind)
    }
}
impl Serialize for EntityKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.kind)
    }
}
impl<'de> Deserialize<'de> for EntityKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        EntityKind::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown entity kind `{name}`")))
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

/// Who may read an entity — and so who receives the events that carry it. One rule serves both:
/// [`Readers::admits`] is what a read checks, and an event's audience is the same value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readers {
    /// These users.
    pub users: Vec<UserId>,
    /// Anyone holding one of these roles (by wire name).
    pub roles: Vec<crate::actor::Role>,
    /// Every signed-in user.
    pub signed_in: bool,
    /// When set, `roles` and `signed_in` admit only an actor whose session is in this tenant (the
    /// maintenance staff of one hostel read its requests, not every hostel's: Viramah §10
    /// "filtered by `hostel_id`"). Named `users` are admitted in any session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
}

impl Readers {
    /// Exactly these users.
    pub fn users(users: impl IntoIterator<Item = UserId>) -> Self {
        let mut users: Vec<UserId> = users.into_iter().collect();
        users.sort();
        users.dedup();
        Self { users, roles: Vec::new(), signed_in: false, tenant: None }
    }
    /// Nobody but admins and the system (who read everything).
    pub fn nobody() -> Self {
        Self::default()
    }
    /// Adds roles.
    pub fn and_roles(mut self, roles: impl IntoIterator<Item = crate::actor::Role>) -> Self {
        self.roles.extend(roles);
        self.roles.sort_by_key(|r| r.as_str());
        self.roles.dedup();
        self
    }
    /// Adds every signed-in user.
    pub fn and_signed_in(mut self) -> Self {
        self.signed_in = true;
        self
    }
    /// Scopes the roles and `signed_in` to sessions in `tenant` (see [`Readers::tenant`]).
    pub fn in_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }
    /// True when `actor` may read: the system, admins, a listed user, a listed role, or any
    /// signed-in user when open to them — the last two only in the tenant, when one is set.
    pub fn admits(&self, actor: &Actor) -> bool {
        match actor {
            Actor::System => true,
            Actor::Anonymous => false,
            _ if actor.is_admin() => true,
            _ => {
                let in_scope = self.tenant.is_none_or(|t| actor.tenant_id() == Some(t));
                actor.user_id().is_some_and(|u| self.users.contains(&u))
                    || (in_scope && (self.signed_in || self.roles.iter().any(|r| actor.has_role(*r))))
            }
        }
    }
}

/// An entity a change set can write: its declaration, its key, and its row both ways.
pub trait Entity: Serialize + Clone + crate::kernel::store::MaybeSendSync + 'static {
    /// The declaration.
    const DECL: &'static EntityDecl;
    /// Its id (the key column's value).
    fn id(&self) -> Uuid;
    /// Its row (the key column first; `version` is the store's).
    fn to_row(&self) -> Row;
    /// Reads it back from a stored row.
    fn from_row(row: &dyn RowRead) -> Decoded<Self>;
    /// Who may read it — and so who is told of its changes.
    fn readers(&self) -> Readers;

    /// Its kind.
    fn kind() -> EntityKind {
        EntityKind::of(Self::DECL)
    }
    /// Its reference.
    fn entity_ref(&self) -> EntityRef {
        EntityRef { kind: Self::kind(), id: self.id() }
    }
}

/// A key value for lookups.
pub fn key(id: Uuid) -> Value {
    Value::Uuid(id)
}

/// A domain: its name and the entities it declares. Listed once in [`crate::domains`].
#[derive(Debug)]
pub struct Domain {
    /// The namespace of its wire names (`amenities`).
    pub name: &'static str,
    /// Its entities.
    pub entities: &'static [&'static EntityDecl],
}
