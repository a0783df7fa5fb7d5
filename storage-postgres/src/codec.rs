//! The value mapping, in ONE place: hearth-core's dialect-neutral [`Value`]s bound as typed Postgres
//! parameters ([`Param`]), and stored rows read back by column name ([`PgRead`]).
//!
//! | value | bound as | read from |
//! | --- | --- | --- |
//! | `Uuid` | `uuid` | `UUID` |
//! | `Text` | `text` | `TEXT`, `VARCHAR`, `CHAR(n)` (trailing pad removed), `NAME` |
//! | `Int` | `int8` (assignment casts fill `SMALLINT`/`INTEGER`) | `INT2`, `INT4`, `INT8` |
//! | `Float` | `float8` | `FLOAT4`, `FLOAT8` |
//! | `Bool` | `bool` | `BOOL` |
//! | `Ts` | `timestamptz` | `TIMESTAMPTZ` |
//! | `Date` | `date` | `DATE` |
//! | `Decimal`, `Money` | `numeric` | `NUMERIC` (and integer columns) |
//! | `Json` | `jsonb` | `JSONB`, `JSON` |
//! | `TextList` | `text[]` | `TEXT[]`, `VARCHAR[]`, `CHAR[]` |
//!
//! `Null(ty)` binds a NULL of `ty`'s type, so every parameter is typed.

use chrono::{DateTime, NaiveDate, Utc};
use hearth_core::kernel::value::{DecodeError, Decoded, RowRead, Value, ValueType};
use hearth_core::kernel::StoreError;
use hearth_core::time::Timestamp;
use rust_decimal::Decimal;
use serde_json::Value as JsonValue;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{Column, Postgres, Row, TypeInfo, ValueRef};
use std::sync::Arc;
use uuid::Uuid;

/// One typed statement parameter: a single value (`None` is a typed NULL) or an array (for
/// `= ANY($n)` and `uuid[]` columns).
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Ts(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
    Decimal(Option<Decimal>),
    Json(Option<JsonValue>),
    TextList(Option<Vec<String>>),
    Uuids(Vec<Uuid>),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Bools(Vec<bool>),
    Tss(Vec<DateTime<Utc>>),
    Dates(Vec<NaiveDate>),
    Decimals(Vec<Decimal>),
}

impl Param {
    /// The parameter for `value`.
    pub(crate) fn of(value: &Value) -> Result<Param, StoreError> {
        Ok(match value {
            Value::Null(ty) => Param::null(*ty)?,
            Value::Uuid(u) => Param::Uuid(Some(*u)),
            Value::Text(t) => Param::Text(Some(t.clone())),
            Value::Int(i) => Param::Int(Some(*i)),
            Value::Float(f) => Param::Float(Some(*f)),
            Value::Bool(b) => Param::Bool(Some(*b)),
            Value::Ts(t) => Param::Ts(Some(t.as_datetime())),
            Value::Date(d) => Param::Date(Some(*d)),
            Value::Decimal(d) => Param::Decimal(Some(*d)),
            Value::Money(m) => Param::Decimal(Some(m.amount())),
            Value::Json(j) => Param::Json(Some(j.clone())),
            Value::TextList(l) => Param::TextList(Some(l.clone())),
            other => return Err(unsupported(&format!("{:?}", other.value_type()))),
        })
    }

    /// A NULL of `ty`.
    fn null(ty: ValueType) -> Result<Param, StoreError> {
        Ok(match ty {
            ValueType::Uuid => Param::Uuid(None),
            ValueType::Text => Param::Text(None),
            ValueType::Int => Param::Int(None),
            ValueType::Float => Param::Float(None),
            ValueType::Bool => Param::Bool(None),
            ValueType::Ts => Param::Ts(None),
            ValueType::Date => Param::Date(None),
            ValueType::Decimal | ValueType::Money => Param::Decimal(None),
            ValueType::Json => Param::Json(None),
            ValueType::TextList => Param::TextList(None),
            other => return Err(unsupported(&format!("{other:?}"))),
        })
    }

    /// One typed array holding `values`, when they are all non-NULL values of one type that has
    /// an array form; `None` otherwise (the caller lists them one placeholder each).
    pub(crate) fn array(values: &[Value]) -> Option<Param> {
        fn all<T>(values: &[Value], f: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
            values.iter().map(f).collect()
        }
        match values.first()? {
            Value::Uuid(_) => all(values, |v| if let Value::Uuid(u) = v { Some(*u) } else { None }).map(Param::Uuids),
            Value::Text(_) => all(values, |v| if let Value::Text(t) = v { Some(t.clone()) } else { None })
                .map(|l| Param::TextList(Some(l))),
            Value::Int(_) => all(values, |v| if let Value::Int(i) = v { Some(*i) } else { None }).map(Param::Ints),
            Value::Float(_) => {
                all(values, |v| if let Value::Float(f) = v { Some(*f) } else { None }).map(Param::Floats)
            }
            Value::Bool(_) => all(values, |v| if let Value::Bool(b) = v { Some(*b) } else { None }).map(Param::Bools),
            Value::Ts(_) => {
                all(values, |v| if let Value::Ts(t) = v { Some(t.as_datetime()) } else { None }).map(Param::Tss)
            }
            Value::Date(_) => all(values, |v| if let Value::Date(d) = v { Some(*d) } else { None }).map(Param::Dates),
            Value::Decimal(_) | Value::Money(_) => all(values, |v| match v {
                Value::Decimal(d) => Some(*d),
                Value::Money(m) => Some(m.amount()),
                _ => None,
            })
            .map(Param::Decimals),
            _ => None,
        }
    }

    /// The SQL type name, for explicit casts in `VALUES` lists.
    pub(crate) fn sql_type(&self) -> &'static str {
        match self {
            Param::Uuid(_) => "uuid",
            Param::Text(_) => "text",
            Param::Int(_) => "bigint",
            Param::Float(_) => "double precision",
            Param::Bool(_) => "boolean",
            Param::Ts(_) => "timestamptz",
            Param::Date(_) => "date",
            Param::Decimal(_) => "numeric",
            Param::Json(_) => "jsonb",
            Param::TextList(_) => "text[]",
            Param::Uuids(_) => "uuid[]",
            Param::Ints(_) => "bigint[]",
            Param::Floats(_) => "double precision[]",
            Param::Bools(_) => "boolean[]",
            Param::Tss(_) => "timestamptz[]",
            Param::Dates(_) => "date[]",
            Param::Decimals(_) => "numeric[]",
        }
    }

    /// Binds the parameter (typed, NULL included).
    pub(crate) fn bind<'q>(self, q: Query<'q, Postgres, PgArguments>) -> Query<'q, Postgres, PgArguments> {
        match self {
            Param::Uuid(x) => q.bind(x),
            Param::Text(x) => q.bind(x),
            Param::Int(x) => q.bind(x),
            Param::Float(x) => q.bind(x),
            Param::Bool(x) => q.bind(x),
            Param::Ts(x) => q.bind(x),
            Param::Date(x) => q.bind(x),
            Param::Decimal(x) => q.bind(x),
            Param::Json(x) => q.bind(x),
            Param::TextList(x) => q.bind(x),
            Param::Uuids(x) => q.bind(x),
            Param::Ints(x) => q.bind(x),
            Param::Floats(x) => q.bind(x),
            Param::Bools(x) => q.bind(x),
            Param::Tss(x) => q.bind(x),
            Param::Dates(x) => q.bind(x),
            Param::Decimals(x) => q.bind(x),
        }
    }
}

fn unsupported(what: &str) -> StoreError {
    StoreError::Backend { message: format!("value type `{what}` has no postgres mapping") }
}

/// A SQL text with its parameters, built from static names and `$n` placeholders only.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) params: Vec<Param>,
}

impl Sql {
    /// Adds a parameter; returns its placeholder.
    pub(crate) fn param(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }
    /// Adds a value; returns its placeholder.
    pub(crate) fn value(&mut self, v: &Value) -> Result<String, StoreError> {
        Ok(self.param(Param::of(v)?))
    }
    /// The query, every parameter bound.
    pub(crate) fn query(self) -> Query<'static, Postgres, PgArguments> {
        // Safe: the text is built only from validated static identifiers, fixed SQL and `$n`
        // placeholders; every value is a bound parameter.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text));
        for p in self.params {
            q = p.bind(q);
        }
        q
    }
}

/// A quoted identifier (a table or column name from a static declaration). Names are checked to be
/// plain lowercase SQL identifiers, so no declaration can smuggle SQL into a statement.
pub(crate) fn ident(name: &str) -> Result<String, StoreError> {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63;
    if plain {
        Ok(format!("\"{name}\""))
    } else {
        Err(StoreError::Backend { message: format!("`{name}` is not a plain identifier") })
    }
}

/// A version as the `BIGINT` column holds it.
pub(crate) fn version_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Backend { message: format!("version {v} is out of range") })
}

/// A `BIGINT` read back as a version or sequence number (never negative).
pub(crate) fn version_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt { message: format!("{what} {v} is negative") })
}

/// A stored row, read by column name: each column converted by the requested neutral type and
/// the column's actual Postgres type. `from..to` are the columns that belong to this row (a joined
/// row holds two entities' columns, split at a marker).
pub(crate) struct PgRead {
    row: Arc<PgRow>,
    from: usize,
    to: usize,
}

impl std::fmt::Debug for PgRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRead").field("columns", &(self.to - self.from)).finish()
    }
}

impl PgRead {
    /// The whole row.
    pub(crate) fn new(row: PgRow) -> Self {
        let to = row.len();
        Self { row: Arc::new(row), from: 0, to }
    }
    /// A joined row split at the column named `marker`: the columns before it and those after it.
    pub(crate) fn split(row: PgRow, marker: &str) -> Option<(Self, Self)> {
        let at = row.columns().iter().position(|c| c.name() == marker)?;
        let (len, row) = (row.len(), Arc::new(row));
        Some((Self { row: row.clone(), from: 0, to: at }, Self { row, from: at + 1, to: len }))
    }
    /// True when every column of this part is `NULL` (the missing side of a `LEFT JOIN`).
    pub(crate) fn is_all_null(&self) -> bool {
        (self.from..self.to).all(|i| self.row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(false))
    }
    fn index(&self, column: &str) -> Decoded<usize> {
        self.row.columns()[self.from..self.to]
            .iter()
            .position(|c| c.name() == column)
            .map(|i| i + self.from)
            .ok_or_else(|| DecodeError::new(column, "no such column"))
    }
    fn get<'r, T>(&'r self, column: &str) -> Decoded<T>
    where
        T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        let i = self.index(column)?;
        self.row.try_get::<T, _>(i).map_err(|e| DecodeError::new(column, e.to_string()))
    }
}

impl RowRead for PgRead {
    fn read(&self, column: &str, ty: ValueType) -> Decoded<Value> {
        let i = self.index(column)?;
        let pg_type = self.row.columns()[i].type_info().name().to_owned();
        let raw = self.row.try_get_raw(i).map_err(|e| DecodeError::new(column, e.to_string()))?;
        if raw.is_null() {
            return Ok(Value::Null(ty));
        }
        let value = match (ty, pg_type.as_str()) {
            (ValueType::Uuid, "UUID") => Value::Uuid(self.get(column)?),
            (ValueType::Text, "TEXT" | "VARCHAR" | "NAME") => Value::Text(self.get(column)?),
            // CHAR(n) pads with spaces that SQL itself ignores.
            (ValueType::Text, "CHAR") => Value::Text(self.get::<String>(column)?.trim_end_matches(' ').to_owned()),
            (ValueType::Int | ValueType::Money | ValueType::Decimal, "INT2") => {
                int_as(ty, i64::from(self.get::<i16>(column)?))
            }
            (ValueType::Int | ValueType::Money | ValueType::Decimal, "INT4") => {
                int_as(ty, i64::from(self.get::<i32>(column)?))
            }
            (ValueType::Int | ValueType::Money | ValueType::Decimal, "INT8") => int_as(ty, self.get::<i64>(column)?),
            (ValueType::Float, "FLOAT8") => Value::Float(self.get(column)?),
            (ValueType::Float, "FLOAT4") => Value::Float(f64::from(self.get::<f32>(column)?)),
            (ValueType::Bool, "BOOL") => Value::Bool(self.get(column)?),
            (ValueType::Ts, "TIMESTAMPTZ") => Value::Ts(Timestamp::from_datetime(self.get(column)?)),
            (ValueType::Date, "DATE") => Value::Date(self.get(column)?),
            // Money's currency lives in its own column: the reader pairs them (`RowRead::money`).
            (ValueType::Decimal | ValueType::Money, "NUMERIC") => Value::Decimal(self.get(column)?),
            (ValueType::Json, "JSONB" | "JSON") => Value::Json(self.get(column)?),
            (ValueType::TextList, "TEXT[]" | "VARCHAR[]" | "CHAR[]") => Value::TextList(self.get(column)?),
            (ty, found) => {
                return Err(DecodeError::new(column, format!("a {found} column does not read as {ty:?}")));
            }
        };
        Ok(value)
    }
}

/// An integer column read as the requested type: `Int` as is, `Decimal` exactly, `Money` as minor
/// units (`RowRead::money` scales them by the currency).
fn int_as(ty: ValueType, i: i64) -> Value {
    match ty {
        ValueType::Decimal => Value::Decimal(Decimal::from(i)),
        _ => Value::Int(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_lowercase_names() {
        assert_eq!(ident("created_at").unwrap(), "\"created_at\"");
        for bad in ["", "Name", "a b", "a\"b", "x;drop", "1a"] {
            assert!(ident(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arrays_need_one_type_and_no_null() {
        let u = Uuid::from_u128(7);
        assert!(matches!(Param::array(&[Value::Uuid(u)]), Some(Param::Uuids(v)) if v == vec![u]));
        assert!(Param::array(&[Value::Uuid(u), Value::Int(1)]).is_none());
        assert!(Param::array(&[Value::Null(ValueType::Uuid)]).is_none());
        assert!(Param::array(&[]).is_none());
        assert!(matches!(Param::array(&[Value::Text("a".into())]), Some(Param::TextList(Some(_)))));
    }

    #[test]
    fn nulls_bind_typed() {
        assert!(matches!(Param::of(&Value::Null(ValueType::Ts)).unwrap(), Param::Ts(None)));
        assert!(matches!(Param::of(&Value::Null(ValueType::Money)).unwrap(), Param::Decimal(None)));
        assert_eq!(Param::of(&Value::Null(ValueType::TextList)).unwrap().sql_type(), "text[]");
    }
}
