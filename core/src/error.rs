//! The public error: one small type with a stable machine [`ErrorCode`], field errors for
//! validation, and a human message that never carries personal data.
//!
//! Inside, modules keep rich errors ([`crate::store::StoreError`], [`crate::machine::TransitionError`],
//! [`ValidationErrors`]); each converts into [`Error`] once, here.

use crate::machine::{FireError, TransitionError};
use crate::store::StoreError;
use crate::validate::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The stable machine codes every SDK sees. Callers match on these; they never change meaning.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input is invalid; `fields` says where and why.
    Validation,
    /// The caller is not authenticated.
    Unauthenticated,
    /// A signed request (a webhook) whose signature does not verify.
    Unauthorized,
    /// A sensitive action needs a fresh sign-in first (fraud velocity rule).
    ReauthenticationRequired,
    /// The caller may not do this (or may not see the resource).
    Forbidden,
    /// The resource does not exist (or is invisible to the caller).
    NotFound,
    /// The resource changed concurrently, or the request clashes with existing state.
    Conflict,
    /// The action is not allowed in the resource's current state.
    InvalidTransition,
    /// Something must happen first (e.g. complete your profile).
    PreconditionFailed,
    /// An idempotency key was reused with a different request.
    IdempotencyMismatch,
    /// Too many requests in a window.
    RateLimited,
    /// Not enough funds.
    InsufficientFunds,
    /// No seat, bed or unit left (a slot is full).
    CapacityExhausted,
    /// The store is unreachable or busy; retrying later may succeed.
    Unavailable,
    /// An offline action depended on an earlier one that was rejected.
    DependencyRejected,
    /// A bug or a broken invariant; the message is generic.
    Internal,
    /// A resident-only action by someone who has not passed the KYC gate (Viramah §3: an approved
    /// submission, `kyc_complete` and the `resident` role).
    KycIncomplete,
    /// A change-feed cursor older than the feed's retention: events after it may have been
    /// deleted, so the subscriber must reload its state and resubscribe from the feed's head.
    CursorExpired,
}

impl ErrorCode {
    /// The wire name (`invalid_transition`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Validation => "validation",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ReauthenticationRequired => "reauthentication_required",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::IdempotencyMismatch => "idempotency_mismatch",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InsufficientFunds => "insufficient_funds",
            ErrorCode::CapacityExhausted => "capacity_exhausted",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::DependencyRejected => "dependency_rejected",
            ErrorCode::Internal => "internal",
            ErrorCode::KycIncomplete => "kyc_incomplete",
            ErrorCode::CursorExpired => "cursor_expired",
        }
    }
    /// Whether the same request may succeed if sent again later unchanged.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorCode::Unavailable)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error every public entry point returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// The stable machine code.
    pub code: ErrorCode,
    /// A lowercase human message without personal data.
    pub message: String,
    /// Field errors (for `validation`; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// For `rate_limited` (and other answers worth retrying): how long to wait before sending the
    /// same request again, in milliseconds. An offline queue backs off at least this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl Error {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), fields: Vec::new(), retry_after_ms: None }
    }
    /// `unauthenticated`.
    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "sign in first")
    }
    /// `forbidden`, with the authorization decision's reason.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, reason)
    }
    /// `not_found` for an entity kind (`service request`).
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    /// `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
    /// `precondition_failed`.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PreconditionFailed, message)
    }
    /// `rate_limited`: the window is full; sending again after `retry_after_ms` may succeed.
    pub fn rate_limited(message: impl Into<String>, retry_after_ms: u64) -> Self {
        Self { retry_after_ms: Some(retry_after_ms), ..Self::new(ErrorCode::RateLimited, message) }
    }
    /// `internal`: the detail is for logs, not for the caller.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        Self { code: ErrorCode::Validation, message: e.to_string(), fields: e.into_errors(), retry_after_ms: None }
    }
}

impl From<FireError> for Error {
    fn from(e: FireError) -> Self {
        match e {
            FireError::Invalid(t) => t.into(),
            FireError::Forbidden(reason) => Error::forbidden(reason),
        }
    }
}

impl From<TransitionError> for Error {
    fn from(e: TransitionError) -> Self {
        Self::new(ErrorCode::InvalidTransition, e.to_string())
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict { entity } => {
                Error::conflict(format!("the {entity} was changed concurrently; reload and try again"))
            }
            StoreError::AlreadyExists { entity } => Error::conflict(format!("the {entity} already exists")),
            StoreError::GuardFailed { entity, .. } => {
                Error::conflict(format!("the {} changed concurrently; try again", entity.human()))
            }
            StoreError::IdempotencyKeyTaken => {
                Error::conflict("a request with this idempotency key is already being applied")
            }
            StoreError::ClientSeqTaken => Error::conflict("this offline action was applied concurrently"),
            StoreError::Constraint { name } => {
                Error::conflict(format!("the change breaks the store constraint `{name}`"))
            }
            StoreError::Unavailable { .. } => {
                Error::new(ErrorCode::Unavailable, "the store is unavailable; try again later")
            }
            StoreError::ClientStreamOwned => Error::forbidden("this client stream belongs to another caller"),
            StoreError::LeaseLost { .. } => Error::conflict("the job was rescued, cancelled or finished meanwhile"),
            StoreError::CursorExpired { cursor, horizon } => Error::new(
                ErrorCode::CursorExpired,
                format!(
                    "feed cursor `{cursor}` is older than the retention horizon `{horizon}`; reload and resubscribe"
                ),
            ),
            StoreError::Corrupt { .. } | StoreError::Backend { .. } => Error::internal("internal store error"),
        }
    }
}
