//! The one mapping between hearth-core's neutral values and SQLite's, both ways, and SQLite errors
//! to [`StoreError`].
//!
//! | value | SQLite |
//! | --- | --- |
//! | `Uuid` | `TEXT`, hyphenated lowercase |
//! | `Text` | `TEXT` |
//! | `Int` | `INTEGER` |
//! | `Float` | `REAL` |
//! | `Bool` | `INTEGER` 0/1 |
//! | `Ts` | `INTEGER` microseconds since the Unix epoch |
//! | `Date` | `TEXT` `YYYY-MM-DD` |
//! | `Decimal` | `TEXT` |
//! | `Money` | `INTEGER` minor units of the currency in the row's currency column |
//! | `Json` | `TEXT` |
//! | `TextList` | `TEXT`, a JSON array of strings |
//!
//! Reads convert by the type the entity asks for, not by the stored type alone: a stored row is an
//! owned [`SqlRow`] that implements [`RowRead`].

use chrono::NaiveDate;
use hearth_core::id::{AuditId, ClientId, EventId, UserId};
use hearth_core::kernel::entity::{EntityKind, EntityRef, Readers};
use hearth_core::kernel::store::{AuditRecord, ClientActionRecord, OutboxEvent, StoreError, StoreResult};
use hearth_core::kernel::value::{DecodeError, Decoded, RowRead, Value, ValueType};
use hearth_core::time::Timestamp;
use rusqlite::ErrorCode;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

pub(crate) type SqlValue = rusqlite::types::Value;

/// A failure inside a blocking closure: a driver error or an already-mapped store error.
#[derive(Debug)]
pub(crate) enum Fail {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}
impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}
impl Fail {
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Fail::Sql(e) => map_err(e),
            Fail::Store(e) => e,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values to SQLite.

/// A neutral value as SQLite stores it (see the table above).
pub(crate) fn to_sql(v: &Value) -> StoreResult<SqlValue> {
    Ok(match v {
        Value::Null(_) => SqlValue::Null,
        Value::Uuid(u) => SqlValue::Text(uuid_text(*u)),
        Value::Text(t) => SqlValue::Text(t.clone()),
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Float(f) => SqlValue::Real(*f),
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Ts(t) => SqlValue::Integer(t.unix_micros()),
        Value::Date(d) => SqlValue::Text(d.format("%Y-%m-%d").to_string()),
        Value::Decimal(d) => SqlValue::Text(d.to_string()),
        Value::Money(m) => SqlValue::Integer(m.to_minor().ok_or_else(|| StoreError::Backend {
            message: format!("amount `{}` does not fit in minor units", m.amount()),
        })?),
        Value::Json(j) => SqlValue::Text(j.to_string()),
        Value::TextList(l) => SqlValue::Text(
            serde_json::to_string(l).map_err(|e| StoreError::Backend { message: format!("text list: {e}") })?,
        ),
        other => {
            return Err(StoreError::Backend { message: format!("no SQLite mapping for {:?}", other.value_type()) });
        }
    })
}

/// A UUID as stored: hyphenated, lowercase.
pub(crate) fn uuid_text(u: Uuid) -> String {
    u.hyphenated().to_string()
}

// ---------------------------------------------------------------------------------------------
// SQLite to values.

/// One fetched row: the statement's column names (shared by every row of one query) and the values.
#[derive(Debug, Clone)]
pub(crate) struct SqlRow {
    names: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl SqlRow {
    /// Fetches the current row of a query.
    pub(crate) fn fetch(names: &Arc<[String]>, row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let mut values = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            values.push(row.get::<_, SqlValue>(i)?);
        }
        Ok(Self { names: names.clone(), values })
    }

    /// Splits a joined row at the marker column: the columns before it, and those after it.
    pub(crate) fn split_at_marker(self, marker: &str) -> Option<(SqlRow, SqlRow)> {
        let at = self.names.iter().position(|n| n == marker)?;
        let names_before: Arc<[String]> = self.names[..at].iter().cloned().collect();
        let names_after: Arc<[String]> = self.names[at + 1..].iter().cloned().collect();
        let mut values = self.values;
        let after = values.split_off(at + 1);
        values.truncate(at);
        Some((SqlRow { names: names_before, values }, SqlRow { names: names_after, values: after }))
    }

    /// True when every value is `NULL` (the missing side of a `LEFT JOIN`).
    pub(crate) fn is_all_null(&self) -> bool {
        self.values.iter().all(|v| matches!(v, SqlValue::Null))
    }

    fn raw(&self, column: &str) -> Decoded<&SqlValue> {
        self.names
            .iter()
            .position(|n| n == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| DecodeError::new(column, "no such column"))
    }

    /// The row's `version` column.
    pub(crate) fn version(&self) -> StoreResult<u64> {
        match self.raw("version") {
            Ok(SqlValue::Integer(v)) => {
                u64::try_from(*v).map_err(|_| StoreError::Corrupt { message: format!("version {v} is negative") })
            }
            Ok(other) => Err(StoreError::Corrupt { message: format!("version is {}", kind_of(other)) }),
            Err(e) => Err(StoreError::Corrupt { message: e.to_string() }),
        }
    }
}

impl RowRead for SqlRow {
    fn read(&self, column: &str, ty: ValueType) -> Decoded<Value> {
        from_sql(column, self.raw(column)?, ty)
    }
}

fn kind_of(v: &SqlValue) -> &'static str {
    match v {
        SqlValue::Null => "NULL",
        SqlValue::Integer(_) => "INTEGER",
        SqlValue::Real(_) => "REAL",
        SqlValue::Text(_) => "TEXT",
        SqlValue::Blob(_) => "BLOB",
    }
}

/// A stored value converted to the neutral type `ty` (see the table above).
pub(crate) fn from_sql(column: &str, v: &SqlValue, ty: ValueType) -> Decoded<Value> {
    let bad = |problem: String| DecodeError::new(column, problem);
    let mismatch = || bad(format!("expected {ty}, found {}", kind_of(v)));
    Ok(match (ty, v) {
        (_, SqlValue::Null) => Value::Null(ty),
        (ValueType::Uuid, SqlValue::Text(t)) => {
            Value::Uuid(Uuid::parse_str(t).map_err(|_| bad(format!("`{t}` is not a uuid")))?)
        }
        (ValueType::Text, SqlValue::Text(t)) => Value::Text(t.clone()),
        (ValueType::Int, SqlValue::Integer(i)) => Value::Int(*i),
        (ValueType::Float, SqlValue::Real(f)) => Value::Float(*f),
        // REAL columns may hand back integral values as INTEGER.
        (ValueType::Float, SqlValue::Integer(i)) => Value::Float(*i as f64),
        (ValueType::Bool, SqlValue::Integer(0)) => Value::Bool(false),
        (ValueType::Bool, SqlValue::Integer(1)) => Value::Bool(true),
        (ValueType::Bool, SqlValue::Integer(i)) => return Err(bad(format!("{i} is not a boolean"))),
        (ValueType::Ts, SqlValue::Integer(i)) => {
            Value::Ts(Timestamp::from_unix_micros(*i).ok_or_else(|| bad(format!("timestamp {i} is out of range")))?)
        }
        (ValueType::Date, SqlValue::Text(t)) => {
            Value::Date(NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad(format!("`{t}` is not a date")))?)
        }
        (ValueType::Decimal, SqlValue::Text(t)) => Value::Decimal(decimal(column, t)?),
        (ValueType::Decimal, SqlValue::Integer(i)) => Value::Decimal(Decimal::from(*i)),
        // Money is INTEGER minor units; `RowRead::money` applies the currency's scale. A decimal in
        // TEXT is accepted too (and must already be at most the currency's scale).
        (ValueType::Money, SqlValue::Integer(i)) => Value::Int(*i),
        (ValueType::Money, SqlValue::Text(t)) => Value::Decimal(decimal(column, t)?),
        (ValueType::Json, SqlValue::Text(t)) => {
            Value::Json(serde_json::from_str(t).map_err(|e| bad(format!("invalid json: {e}")))?)
        }
        (ValueType::TextList, SqlValue::Text(t)) => {
            Value::TextList(serde_json::from_str(t).map_err(|e| bad(format!("not a json array of strings: {e}")))?)
        }
        _ => return Err(mismatch()),
    })
}

fn decimal(column: &str, text: &str) -> Decoded<Decimal> {
    Decimal::from_str(text.trim()).map_err(|_| DecodeError::new(column, format!("`{text}` is not a decimal")))
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// Maps a SQLite error onto the store contract.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        let msg = msg.clone().unwrap_or_default();
        return match f.code {
            // Worth sending again later: another connection holds the lock past the busy timeout
            // (BUSY, LOCKED), the statement was interrupted, the WAL locking protocol lost a race,
            // the disk was full or failed an I/O. Nothing of the transaction was committed.
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::OperationInterrupted
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure => StoreError::Unavailable { message: msg },
            ErrorCode::ConstraintViolation => match f.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
                    StoreError::Constraint { name: format!("unique: {msg}") }
                }
                _ => StoreError::Constraint { name: constraint_name(&msg) },
            },
            _ => StoreError::Backend { message: e.to_string() },
        };
    }
    StoreError::Backend { message: e.to_string() }
}

/// True when the trigger `client_actions_stream_owner` refused an offline action of a principal
/// that does not own its client stream.
pub(crate) fn is_stream_owner_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(msg))
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER && msg == "client_actions_stream_owner")
}

/// True for a primary-key or unique violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.extended_code, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE))
}

/// The name of a failed CHECK, if `e` is one.
pub(crate) fn failed_check(e: &rusqlite::Error) -> Option<String> {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(msg)) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => {
            Some(constraint_name(msg))
        }
        _ => None,
    }
}

fn constraint_name(msg: &str) -> String {
    // "CHECK constraint failed: service_requests_hero_matches_status"
    msg.rsplit(": ").next().unwrap_or(msg).trim().to_owned()
}

pub(crate) fn corrupt(what: impl Into<String>) -> Fail {
    Fail::Store(StoreError::Corrupt { message: what.into() })
}

// ---------------------------------------------------------------------------------------------
// The kernel's own tables.

pub(crate) fn ts(micros: i64) -> Result<Timestamp, Fail> {
    Timestamp::from_unix_micros(micros).ok_or_else(|| corrupt("timestamp out of range"))
}
pub(crate) fn json(text: &str) -> Result<serde_json::Value, Fail> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("json: {e}")))
}
pub(crate) fn parse_uuid(text: &str, what: &str) -> Result<Uuid, Fail> {
    Uuid::parse_str(text).map_err(|_| corrupt(format!("{what} `{text}` is not a uuid")))
}
fn version(v: i64) -> Result<u64, Fail> {
    u64::try_from(v).map_err(|_| corrupt("negative version"))
}

/// A stored entity reference; an unknown kind is corrupt (never guessed).
fn entity(kind: &str, id: &str) -> Result<EntityRef, Fail> {
    let kind = EntityKind::parse(kind).ok_or_else(|| corrupt(format!("unknown entity kind `{kind}`")))?;
    Ok(EntityRef { kind, id: parse_uuid(id, "entity id")? })
}

pub(crate) fn decode_audit(r: &rusqlite::Row<'_>) -> Result<AuditRecord, Fail> {
    let before: Option<String> = r.get(5)?;
    Ok(AuditRecord {
        id: AuditId::from_uuid(parse_uuid(&r.get::<_, String>(0)?, "audit id")?),
        entity: entity(&r.get::<_, String>(1)?, &r.get::<_, String>(2)?)?,
        action: r.get(3)?,
        actor: r.get(4)?,
        before: before.as_deref().map(json).transpose()?,
        after: json(&r.get::<_, String>(6)?)?,
        version: version(r.get(7)?)?,
        at: ts(r.get(8)?)?,
    })
}

pub(crate) fn decode_client_action(r: &rusqlite::Row<'_>) -> Result<ClientActionRecord, Fail> {
    Ok(ClientActionRecord {
        client_id: ClientId::from_uuid(parse_uuid(&r.get::<_, String>(0)?, "client id")?),
        seq: u64::try_from(r.get::<_, i64>(1)?).map_err(|_| corrupt("client action seq"))?,
        principal: r.get(2)?,
        action: r.get(3)?,
        fingerprint: r.get(4)?,
        outcome: json(&r.get::<_, String>(5)?)?,
        at: ts(r.get(6)?)?,
    })
}

pub(crate) fn decode_event(r: &rusqlite::Row<'_>) -> Result<(i64, OutboxEvent), Fail> {
    let audience: Vec<UserId> =
        serde_json::from_str(&r.get::<_, String>(6)?).map_err(|e| corrupt(format!("audience: {e}")))?;
    Ok((
        r.get(0)?,
        OutboxEvent {
            id: EventId::from_uuid(parse_uuid(&r.get::<_, String>(1)?, "event id")?),
            topic: r.get(2)?,
            entity: entity(&r.get::<_, String>(3)?, &r.get::<_, String>(4)?)?,
            payload: json(&r.get::<_, String>(5)?)?,
            audience: audience.clone(),
            at: ts(r.get(7)?)?,
            // Events written before the change feed carry their users only.
            readers: match r.get::<_, Option<String>>(8)? {
                Some(readers) => serde_json::from_str(&readers).map_err(|e| corrupt(format!("readers: {e}")))?,
                None => Readers::users(audience),
            },
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::money::{Currency, Money};

    fn roundtrip(v: Value) -> Value {
        let stored = to_sql(&v).unwrap();
        let ty = v.value_type();
        let row = SqlRow { names: Arc::from(vec!["c".to_owned()]), values: vec![stored] };
        row.read("c", ty).unwrap()
    }

    #[test]
    fn every_value_reads_back_as_written() {
        let inr = Currency::from_code("INR").unwrap();
        let values = vec![
            Value::Uuid(Uuid::from_u128(0xABCD)),
            Value::Text("héllo".into()),
            Value::Int(-7),
            Value::Float(1.25),
            Value::Bool(true),
            Value::Bool(false),
            Value::Ts(Timestamp::from_unix_micros(1_700_000_000_123_456).unwrap()),
            Value::Date(NaiveDate::from_ymd_opt(2025, 2, 28).unwrap()),
            Value::Decimal(Decimal::new(2550, 2)),
            Value::Json(serde_json::json!({"a": [1, 2]})),
            Value::TextList(vec!["a".into(), "b".into()]),
            Value::Null(ValueType::Ts),
        ];
        for v in values {
            assert_eq!(roundtrip(v.clone()), v);
        }
        let price = Money::new(Decimal::new(12050, 2), inr).unwrap();
        let row =
            SqlRow { names: Arc::from(vec!["p".to_owned()]), values: vec![to_sql(&Value::Money(price)).unwrap()] };
        assert_eq!(row.values[0], SqlValue::Integer(12050));
        assert_eq!(row.money("p", inr).unwrap(), price);
    }

    #[test]
    fn uuids_are_lowercase_hyphenated_and_money_accepts_text_decimals() {
        let u = Uuid::from_u128(0xABCDEF);
        assert_eq!(to_sql(&Value::Uuid(u)).unwrap(), SqlValue::Text("00000000-0000-0000-0000-000000abcdef".into()));
        let inr = Currency::from_code("INR").unwrap();
        let row = SqlRow { names: Arc::from(vec!["p".to_owned()]), values: vec![SqlValue::Text("12.5".into())] };
        assert_eq!(row.money("p", inr).unwrap(), Money::new(Decimal::new(1250, 2), inr).unwrap());
    }

    #[test]
    fn wrong_types_and_missing_columns_are_decode_errors() {
        let row = SqlRow { names: Arc::from(vec!["b".to_owned()]), values: vec![SqlValue::Integer(2)] };
        assert!(row.bool("b").is_err());
        assert!(row.text("b").is_err());
        assert!(row.int("missing").is_err());
    }
}
