//! Postgres errors mapped onto the store contract ([`StoreError`]), by SQLSTATE, table and
//! constraint name — never by guessing a kind: a table no entity declares is a backend error.

use hearth_core::kernel::{EntityKind, StoreError};

/// The tables of the kernel's own records, whose unique keys have their own errors.
const IDEMPOTENCY_TABLE: &str = "idempotency_keys";
const CLIENT_ACTIONS_TABLE: &str = "client_actions";
/// The foreign key that ties every offline action to its stream's owner (migration `client_streams`).
const STREAM_OWNER_KEY: &str = "client_actions_stream_owner";

/// The prefix of the `hearth_assert` guard of a versioned update (`version:<kind>`).
pub(crate) const VERSION_GUARD: &str = "version:";
/// The prefix of the `hearth_assert` guard of a delta (`delta:<kind>`).
pub(crate) const DELTA_GUARD: &str = "delta:";
/// The prefix of the `hearth_assert` guard of a rate-limit take (`take:<kind>`).
pub(crate) const TAKE_GUARD: &str = "take:";

/// Maps an error of a read (or of anything but a commit statement).
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            let name = d.constraint().map(str::to_owned).unwrap_or_else(|| d.message().to_owned());
            match code.as_str() {
                // unique, check, foreign key, not null, restrict (append-only tables)
                "23505" | "23514" | "23503" | "23502" | "23001" => StoreError::Constraint { name },
                _ if is_transient(&code) => StoreError::Unavailable { message: d.message().to_owned() },
                _ => StoreError::Backend { message: e.to_string() },
            }
        }
        // The pool could not hand out a connection in time, or the connection broke mid-statement
        // (the server went away, the backend was terminated before it could answer, a TLS/protocol
        // stream cut short): nothing was committed that the caller can see, so try again later.
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => StoreError::Unavailable { message: e.to_string() },
        _ => StoreError::Backend { message: e.to_string() },
    }
}

/// SQLSTATEs after which the same statement may succeed if sent again later: the statement was
/// refused or stopped before it committed, for a reason outside the request.
///
/// - class 08 (connection exception) — the connection failed;
/// - 40001 serialization failure, 40P01 deadlock — lost to a concurrent writer;
/// - 53xxx (insufficient resources: 53300 too many connections, 53200 out of memory, 53100 disk full);
/// - 55P03 lock not available (`lock_timeout`, `NOWAIT`);
/// - 57014 query canceled (`statement_timeout`, `pg_cancel_backend`);
/// - 57P01 admin shutdown (`pg_terminate_backend`), 57P02 crash shutdown, 57P03 cannot connect now,
///   57P05 idle session timeout;
/// - 58000 / 58030 system / I/O error.
///
/// Everything else (constraints, syntax, data errors) is final: sending the same statement again
/// gives the same answer.
pub(crate) fn is_transient(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(
            sqlstate,
            "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03" | "57P05" | "58000" | "58030"
        )
}

/// Maps an error of a commit statement. `writing` is the entity kind of the statement's first
/// write, named by deadlocks and serialization failures (which report no table).
pub(crate) fn map_commit_err(e: sqlx::Error, writing: Option<EntityKind>) -> StoreError {
    let sqlx::Error::Database(d) = &e else { return map_err(e) };
    let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
    let constraint = d.constraint().unwrap_or_default().to_owned();
    let table = d.table().unwrap_or_default().to_owned();
    match code.as_str() {
        "23505" => unique_violation(&table, &constraint),
        "23503" if constraint == STREAM_OWNER_KEY => StoreError::ClientStreamOwned,
        "23514" => check_violation(&table, constraint),
        // A deadlock or serialization failure between writers of the same rows: decide again.
        "40P01" | "40001" => match EntityKind::of_table(&table).or(writing) {
            Some(entity) => StoreError::VersionConflict { entity },
            None => StoreError::Unavailable { message: d.message().to_owned() },
        },
        _ => map_err(e),
    }
}

fn unique_violation(table: &str, constraint: &str) -> StoreError {
    match table {
        IDEMPOTENCY_TABLE => StoreError::IdempotencyKeyTaken,
        CLIENT_ACTIONS_TABLE => StoreError::ClientSeqTaken,
        _ => match EntityKind::of_table(table) {
            Some(entity) => StoreError::AlreadyExists { entity },
            None => unknown_table(table, constraint),
        },
    }
}

fn check_violation(table: &str, constraint: String) -> StoreError {
    if let Some(kind) = constraint.strip_prefix(VERSION_GUARD) {
        return match EntityKind::parse(kind) {
            Some(entity) => StoreError::VersionConflict { entity },
            None => unknown_kind(kind),
        };
    }
    if let Some(kind) = constraint.strip_prefix(DELTA_GUARD).or_else(|| constraint.strip_prefix(TAKE_GUARD)) {
        return match EntityKind::parse(kind) {
            Some(entity) => StoreError::GuardFailed { entity, guard: constraint },
            None => unknown_kind(kind),
        };
    }
    match EntityKind::of_table(table) {
        Some(entity) if entity.decl().is_guard(&constraint) => StoreError::GuardFailed { entity, guard: constraint },
        _ => StoreError::Constraint { name: constraint },
    }
}

fn unknown_table(table: &str, constraint: &str) -> StoreError {
    StoreError::Backend { message: format!("unique key `{constraint}` of table `{table}`, which no entity declares") }
}

fn unknown_kind(kind: &str) -> StoreError {
    StoreError::Backend { message: format!("a guard names entity kind `{kind}`, which is not registered") }
}
