//! Generic queries over one entity's table: a conjunction of filters, an order, a keyset position,
//! a limit. Every store executes them from the entity's declaration (SQL from column names; the
//! memory store by evaluating the same filters), so a domain's reads need no adapter code.

use super::entity::{Entity, EntityKind};
use super::value::Value;

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// One condition on a row.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Filter {
    /// `column = value`.
    Eq(&'static str, Value),
    /// `column <> value`.
    Ne(&'static str, Value),
    /// `column < value`.
    Lt(&'static str, Value),
    /// `column <= value`.
    Le(&'static str, Value),
    /// `column > value`.
    Gt(&'static str, Value),
    /// `column >= value`.
    Ge(&'static str, Value),
    /// `column IN (values)` (an empty list matches nothing).
    In(&'static str, Vec<Value>),
    /// `column NOT IN (values)` (an empty list matches everything).
    NotIn(&'static str, Vec<Value>),
    /// `column IS NULL`.
    IsNull(&'static str),
    /// `column IS NOT NULL`.
    NotNull(&'static str),
    /// Any of these (each a conjunction).
    Any(Vec<Vec<Filter>>),
    /// No row of `kind` whose `inner` column equals this row's `outer` column matches `filter`.
    NotExists {
        /// The other entity.
        kind: EntityKind,
        /// Its column.
        inner: &'static str,
        /// This row's column.
        outer: &'static str,
        /// Conditions on the other row.
        filter: Vec<Filter>,
    },
}

/// A query over one entity kind.
///
/// Every store answers it the same way: comparisons with `NULL` match nothing (SQL), rows are
/// sorted by `order` with `NULL`s last ascending and first descending (Postgres' rule), ties and
/// unordered results come in key order, and a money column is compared with `Value::Money` values
/// of the same currency (SQLite keeps minor units: a `Decimal` would compare as text).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The entity.
    pub kind: EntityKind,
    /// Every filter must hold.
    pub filter: Vec<Filter>,
    /// Sort keys; with a keyset position all must share one direction.
    pub order: Vec<(&'static str, Dir)>,
    /// Strictly after this position (values of the sort keys, in order).
    pub after: Option<Vec<Value>>,
    /// Rows skipped (offset paging; prefer `after`).
    pub offset: u64,
    /// At most this many rows.
    pub limit: Option<u32>,
}

impl Query {
    /// Every row of `T`.
    pub fn of<T: Entity>() -> Self {
        Self::kind(T::kind())
    }
    /// Every row of `kind`.
    pub fn kind(kind: EntityKind) -> Self {
        Self { kind, filter: Vec::new(), order: Vec::new(), after: None, offset: 0, limit: None }
    }
    /// Adds a filter.
    pub fn filter(mut self, f: Filter) -> Self {
        self.filter.push(f);
        self
    }
    /// Adds `column = value`.
    pub fn eq(self, column: &'static str, value: impl Into<Value>) -> Self {
        self.filter(Filter::Eq(column, value.into()))
    }
    /// Adds a sort key.
    pub fn order_by(mut self, column: &'static str, dir: Dir) -> Self {
        self.order.push((column, dir));
        self
    }
    /// Strictly after this keyset position.
    pub fn after(mut self, position: Vec<Value>) -> Self {
        self.after = Some(position);
        self
    }
    /// Skips rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }
    /// At most `n` rows.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
    /// The direction of a keyset query (all sort keys share it), or `None` if they differ.
    pub fn keyset_dir(&self) -> Option<Dir> {
        let first = self.order.first()?.1;
        self.order.iter().all(|(_, d)| *d == first).then_some(first)
    }
}
