//! Dialect-neutral column values: what an entity writes ([`Row`]) and how it reads a stored row back
//! by column name ([`RowRead`]).
//!
//! Every store maps these few types onto its own columns, in ONE place per adapter:
//!
//! | value | SQLite | Postgres | memory |
//! | --- | --- | --- | --- |
//! | `Uuid` | `TEXT` (hyphenated, lowercase) | `UUID` | as is |
//! | `Text` | `TEXT` | `TEXT` / `CHAR(n)` | as is |
//! | `Int` | `INTEGER` | `SMALLINT` / `INTEGER` / `BIGINT` | as is |
//! | `Float` | `REAL` | `DOUBLE PRECISION` | as is |
//! | `Bool` | `INTEGER` 0/1 | `BOOLEAN` | as is |
//! | `Ts` | `INTEGER` microseconds since the epoch | `TIMESTAMPTZ` | as is |
//! | `Date` | `TEXT` `YYYY-MM-DD` | `DATE` | as is |
//! | `Decimal` | `TEXT` | `NUMERIC` | as is |
//! | `Money` | `INTEGER` minor units | `NUMERIC` | as is |
//! | `Json` | `TEXT` | `JSONB` | as is |
//! | `TextList` | `TEXT` (a JSON array) | `TEXT[]` | as is |
//!
//! Money is the one value whose representation differs in kind: SQLite has no exact decimal type
//! (REAL would lose cents), so it keeps integer minor units; Postgres keeps `NUMERIC`, which its
//! CHECKs and reports read naturally. The currency always lives in a column of its own, and both
//! adapters convert through [`Money`]'s exact scale, so the value read back equals the value written.

use crate::money::{Currency, Money};
use crate::time::Timestamp;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::fmt;
use uuid::Uuid;

/// The type of a column value (also the type of a `NULL`, which some drivers must bind typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// A UUID.
    Uuid,
    /// Text.
    Text,
    /// A 64-bit integer.
    Int,
    /// A 64-bit float.
    Float,
    /// A boolean.
    Bool,
    /// An instant.
    Ts,
    /// A calendar date.
    Date,
    /// An exact decimal.
    Decimal,
    /// An amount of money (its currency is another column).
    Money,
    /// A JSON document.
    Json,
    /// A list of strings.
    TextList,
}

/// One column value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `NULL` of a type.
    Null(ValueType),
    /// A UUID.
    Uuid(Uuid),
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An instant (microsecond precision).
    Ts(Timestamp),
    /// A date.
    Date(NaiveDate),
    /// An exact decimal.
    Decimal(Decimal),
    /// Money.
    Money(Money),
    /// JSON.
    Json(serde_json::Value),
    /// A list of strings.
    TextList(Vec<String>),
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Null(t) => *t,
            Value::Uuid(_) => ValueType::Uuid,
            Value::Text(_) => ValueType::Text,
            Value::Int(_) => ValueType::Int,
            Value::Float(_) => ValueType::Float,
            Value::Bool(_) => ValueType::Bool,
            Value::Ts(_) => ValueType::Ts,
            Value::Date(_) => ValueType::Date,
            Value::Decimal(_) => ValueType::Decimal,
            Value::Money(_) => ValueType::Money,
            Value::Json(_) => ValueType::Json,
            Value::TextList(_) => ValueType::TextList,
        }
    }
    /// True for `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null(_))
    }
    /// SQL ordering between two values of one type (`None` across types, or with `NULL`, or for
    /// JSON and lists, which are not ordered). Money compares by amount; stores compare amounts of
    /// one currency only (queries filter the currency too).
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Uuid(a), Value::Uuid(b)) => Some(a.cmp(b)),
            (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Ts(a), Value::Ts(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::Decimal(a), Value::Decimal(b)) => Some(a.cmp(b)),
            (Value::Money(a), Value::Money(b)) => Some(a.amount().cmp(&b.amount())),
            (Value::Decimal(a), Value::Money(b)) => Some(a.cmp(&b.amount())),
            (Value::Money(a), Value::Decimal(b)) => Some(a.amount().cmp(b)),
            _ => None,
        }
    }
}

impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Value::Uuid(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Self {
        Value::Ts(v)
    }
}
impl From<NaiveDate> for Value {
    fn from(v: NaiveDate) -> Self {
        Value::Date(v)
    }
}
impl From<Money> for Value {
    fn from(v: Money) -> Self {
        Value::Money(v)
    }
}
impl From<Currency> for Value {
    fn from(v: Currency) -> Self {
        Value::Text(v.code().to_owned())
    }
}

/// A row as an entity writes it: column names with values, the key column first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    cols: Vec<(&'static str, Value)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Self { cols: Vec::new() }
    }
    /// Adds a column (builder style).
    pub fn with(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.cols.push((name, value.into()));
        self
    }
    /// Adds a nullable column: `None` is a `NULL` of type `ty`.
    pub fn with_opt<V: Into<Value>>(mut self, name: &'static str, ty: ValueType, value: Option<V>) -> Self {
        self.cols.push((name, value.map_or(Value::Null(ty), Into::into)));
        self
    }
    /// Adds a column.
    pub fn push(&mut self, name: &'static str, value: Value) {
        self.cols.push((name, value));
    }
    /// The columns in order.
    pub fn columns(&self) -> &[(&'static str, Value)] {
        &self.cols
    }
    /// Consumes the row into its columns.
    pub fn into_columns(self) -> Vec<(&'static str, Value)> {
        self.cols
    }
    /// A column's value.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.cols.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    /// Sets (replaces or appends) a column.
    pub fn set(&mut self, name: &'static str, value: Value) {
        match self.cols.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.cols.push((name, value)),
        }
    }
}

/// A stored value that does not decode into what the entity expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column `{column}`: {problem}")]
pub struct DecodeError {
    /// The column.
    pub column: String,
    /// What is wrong.
    pub problem: String,
}

impl DecodeError {
    /// A decode error on `column`.
    pub fn new(column: &str, problem: impl Into<String>) -> Self {
        Self { column: column.to_owned(), problem: problem.into() }
    }
}

/// The result of reading one column.
pub type Decoded<T> = Result<T, DecodeError>;

/// Reads a stored row by column name. Each store implements it once over its own row type; an
/// entity's `from_row` uses it, so the same decoder serves every store.
///
/// The `opt_*` readers answer `None` for `NULL`; the plain ones refuse `NULL`.
pub trait RowRead {
    /// The value of `column` as the store holds it, converted to the neutral type `ty`.
    fn read(&self, column: &str, ty: ValueType) -> Decoded<Value>;

    /// A UUID.
    fn uuid(&self, column: &str) -> Decoded<Uuid> {
        match self.read(column, ValueType::Uuid)? {
            Value::Uuid(u) => Ok(u),
            other => Err(mismatch(column, "uuid", &other)),
        }
    }
    /// A nullable UUID.
    fn opt_uuid(&self, column: &str) -> Decoded<Option<Uuid>> {
        match self.read(column, ValueType::Uuid)? {
            Value::Null(_) => Ok(None),
            Value::Uuid(u) => Ok(Some(u)),
            other => Err(mismatch(column, "uuid", &other)),
        }
    }
    /// Text.
    fn text(&self, column: &str) -> Decoded<String> {
        match self.read(column, ValueType::Text)? {
            Value::Text(t) => Ok(t),
            other => Err(mismatch(column, "text", &other)),
        }
    }
    /// Nullable text.
    fn opt_text(&self, column: &str) -> Decoded<Option<String>> {
        match self.read(column, ValueType::Text)? {
            Value::Null(_) => Ok(None),
            Value::Text(t) => Ok(Some(t)),
            other => Err(mismatch(column, "text", &other)),
        }
    }
    /// An integer.
    fn int(&self, column: &str) -> Decoded<i64> {
        match self.read(column, ValueType::Int)? {
            Value::Int(i) => Ok(i),
            other => Err(mismatch(column, "integer", &other)),
        }
    }
    /// A nullable integer.
    fn opt_int(&self, column: &str) -> Decoded<Option<i64>> {
        match self.read(column, ValueType::Int)? {
            Value::Null(_) => Ok(None),
            Value::Int(i) => Ok(Some(i)),
            other => Err(mismatch(column, "integer", &other)),
        }
    }
    /// A float.
    fn float(&self, column: &str) -> Decoded<f64> {
        match self.read(column, ValueType::Float)? {
            Value::Float(f) => Ok(f),
            other => Err(mismatch(column, "float", &other)),
        }
    }
    /// A boolean.
    fn bool(&self, column: &str) -> Decoded<bool> {
        match self.read(column, ValueType::Bool)? {
            Value::Bool(b) => Ok(b),
            other => Err(mismatch(column, "boolean", &other)),
        }
    }
    /// An instant.
    fn ts(&self, column: &str) -> Decoded<Timestamp> {
        match self.read(column, ValueType::Ts)? {
            Value::Ts(t) => Ok(t),
            other => Err(mismatch(column, "timestamp", &other)),
        }
    }
    /// A nullable instant.
    fn opt_ts(&self, column: &str) -> Decoded<Option<Timestamp>> {
        match self.read(column, ValueType::Ts)? {
            Value::Null(_) => Ok(None),
            Value::Ts(t) => Ok(Some(t)),
            other => Err(mismatch(column, "timestamp", &other)),
        }
    }
    /// A date.
    fn date(&self, column: &str) -> Decoded<NaiveDate> {
        match self.read(column, ValueType::Date)? {
            Value::Date(d) => Ok(d),
            other => Err(mismatch(column, "date", &other)),
        }
    }
    /// A nullable exact decimal.
    fn opt_decimal(&self, column: &str) -> Decoded<Option<Decimal>> {
        match self.read(column, ValueType::Decimal)? {
            Value::Null(_) => Ok(None),
            Value::Decimal(d) => Ok(Some(d)),
            other => Err(mismatch(column, "decimal", &other)),
        }
    }
    /// Money in `currency` (the currency is read from its own column by the caller).
    fn money(&self, column: &str, currency: Currency) -> Decoded<Money> {
        match self.read(column, ValueType::Money)? {
            Value::Money(m) if m.currency() == currency => Ok(m),
            Value::Money(m) => Money::new(m.amount(), currency).map_err(|e| DecodeError::new(column, e.to_string())),
            Value::Int(minor) => Ok(Money::from_minor(minor, currency)),
            Value::Decimal(d) => Money::new(d, currency).map_err(|e| DecodeError::new(column, e.to_string())),
            other => Err(mismatch(column, "money", &other)),
        }
    }
    /// A currency code.
    fn currency(&self, column: &str) -> Decoded<Currency> {
        let code = self.text(column)?;
        Currency::from_code(code.trim()).ok_or_else(|| DecodeError::new(column, format!("unknown currency `{code}`")))
    }
    /// A nullable currency code.
    fn opt_currency(&self, column: &str) -> Decoded<Option<Currency>> {
        match self.opt_text(column)? {
            None => Ok(None),
            Some(code) => Currency::from_code(code.trim())
                .map(Some)
                .ok_or_else(|| DecodeError::new(column, format!("unknown currency `{code}`"))),
        }
    }
    /// JSON.
    fn json(&self, column: &str) -> Decoded<serde_json::Value> {
        match self.read(column, ValueType::Json)? {
            Value::Json(j) => Ok(j),
            other => Err(mismatch(column, "json", &other)),
        }
    }
    /// A list of strings.
    fn text_list(&self, column: &str) -> Decoded<Vec<String>> {
        match self.read(column, ValueType::TextList)? {
            Value::TextList(l) => Ok(l),
            other => Err(mismatch(column, "text list", &other)),
        }
    }
}

impl dyn RowRead + '_ {
    /// A wire enum stored as text (`parse` is the enum's own parser).
    pub fn wire<T>(&self, column: &str, parse: fn(&str) -> Option<T>) -> Decoded<T> {
        let text = self.text(column)?;
        parse(&text).ok_or_else(|| DecodeError::new(column, format!("unknown value `{text}`")))
    }
    /// A nullable wire enum stored as text.
    pub fn opt_wire<T>(&self, column: &str, parse: fn(&str) -> Option<T>) -> Decoded<Option<T>> {
        match self.opt_text(column)? {
            None => Ok(None),
            Some(text) => {
                parse(&text).map(Some).ok_or_else(|| DecodeError::new(column, format!("unknown value `{text}`")))
            }
        }
    }
}

/// A JSON column decoded into `T`.
pub fn json_as<T: serde::de::DeserializeOwned>(r: &dyn RowRead, column: &str) -> Decoded<T> {
    serde_json::from_value(r.json(column)?).map_err(|e| DecodeError::new(column, e.to_string()))
}

fn mismatch(column: &str, expected: &str, got: &Value) -> DecodeError {
    DecodeError::new(column, format!("expected {expected}, found {:?}", got.value_type()))
}

/// The memory store's rows (and any caller's [`Row`]) read back the same way.
impl RowRead for Row {
    fn read(&self, column: &str, ty: ValueType) -> Decoded<Value> {
        let v = self.value(column).ok_or_else(|| DecodeError::new(column, "no such column"))?;
        match (v, ty) {
            (Value::Null(_), _) => Ok(Value::Null(ty)),
            (Value::Money(m), ValueType::Money) => Ok(Value::Money(*m)),
            (v, t) if v.value_type() == t => Ok(v.clone()),
            (v, _) => Err(mismatch(column, &format!("{ty:?}").to_lowercase(), v)),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An integer column converted to a narrower type (a stored value out of its range is corrupt).
pub fn int_as<T: TryFrom<i64>>(r: &dyn RowRead, column: &str) -> Decoded<T> {
    let i = r.int(column)?;
    T::try_from(i).map_err(|_| DecodeError::new(column, format!("{i} is out of range")))
}

/// A nullable integer column converted to a narrower type.
pub fn opt_int_as<T: TryFrom<i64>>(r: &dyn RowRead, column: &str) -> Decoded<Option<T>> {
    match r.opt_int(column)? {
        None => Ok(None),
        Some(i) => T::try_from(i).map(Some).map_err(|_| DecodeError::new(column, format!("{i} is out of range"))),
    }
}
