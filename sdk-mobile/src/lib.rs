//! hearth on iOS and Android: the core's validation, the workflow's "what may I do now?" query and
//! the offline action queue, over UniFFI (proc-macros, library mode → Kotlin, Swift, Python).
//! Thin by design: every rule is `hearth-core`'s (`hearth_core::client` is the surface wrapped);
//! this crate converts values and errors only.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use hearth_core::client;
use hearth_core::id::ClientId;
use hearth_core::offline;
use hearth_core::validate::{parse_json, FieldError as CoreFieldError, ValidationErrors, Violation};
use hearth_core::{Error, ErrorCode, Timestamp};
use std::sync::Mutex;

uniffi::setup_scaffolding!();

/// One field's error: its path, a stable code, and the code's parameters as a JSON object
/// (`{"min":5}`), exactly as the server and the golden vectors spell them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldError {
    /// The field's path (`location.latitude`, `skills[2]`).
    pub field: String,
    /// The stable code (`too_short`).
    pub code: String,
    /// The code's parameters, a JSON object (`{}` when none).
    pub params_json: String,
    /// A human message.
    pub message: String,
}

impl From<&CoreFieldError> for FieldError {
    fn from(e: &CoreFieldError) -> Self {
        let mut params = serde_json::to_value(e).unwrap_or_default();
        if let Some(map) = params.as_object_mut() {
            map.remove("field");
            map.remove("code");
        }
        FieldError {
            field: e.field.clone(),
            code: e.violation.code().to_owned(),
            params_json: params.to_string(),
            message: e.violation.to_string(),
        }
    }
}

/// Every error hearth raises to Kotlin, Swift and Python.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum HearthError {
    /// Invalid input: every field error.
    #[error("validation: {detail}")]
    Validation {
        /// Summary (named `detail`: `message` is the exception's own property in Kotlin and Swift).
        detail: String,
        /// Where and why.
        fields: Vec<FieldError>,
    },
    /// Any other refusal, with its stable code (`not_found`, `conflict`, …).
    #[error("{code}: {detail}")]
    Refused {
        /// The stable machine code.
        code: String,
        /// Summary.
        detail: String,
    },
}

impl From<Error> for HearthError {
    fn from(e: Error) -> Self {
        match e.code {
            ErrorCode::Validation => {
                HearthError::Validation { detail: e.message, fields: e.fields.iter().map(FieldError::from).collect() }
            }
            code => HearthError::Refused { code: code.as_str().to_owned(), detail: e.message },
        }
    }
}

impl From<ValidationErrors> for HearthError {
    fn from(e: ValidationErrors) -> Self {
        Error::from(e).into()
    }
}

fn instant(now: &str) -> Result<Timestamp, HearthError> {
    Ok(client::parse_instant("now", now)?)
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, HearthError> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("encode: {e}")).into())
}

/// Validates `input_json` as `input_type` at `now` (RFC 3339) with the server's rules: the cleaned
/// value as JSON, or `HearthError::Validation` with every field error.
#[uniffi::export]
pub fn validate(input_type: String, input_json: String, now: String) -> Result<String, HearthError> {
    json(&client::validate_input(&input_type, &input_json, instant(&now)?)?)
}

/// The actions an actor (`actor_json`) may take on a request (`facts_json`), in the table's order.
#[uniffi::export]
pub fn available_actions(facts_json: String, actor_json: String) -> Result<Vec<String>, HearthError> {
    Ok(client::available_actions(&facts_json, &actor_json)?.into_iter().map(|a| a.to_string()).collect())
}

/// How long to wait (ms) after `failures` consecutive failures, given a jitter value.
#[uniffi::export]
pub fn backoff_delay_ms(failures: u32, jitter: u64) -> u64 {
    offline::backoff_delay_ms(failures, jitter)
}

/// The jitter value after `state` (SplitMix64).
#[uniffi::export]
pub fn next_jitter(state: u64) -> u64 {
    offline::next_jitter(state)
}

/// A client's offline action queue (thread-safe). Persist `export_json()`; restore with `import_json`.
#[derive(uniffi::Object)]
pub struct OfflineQueue {
    inner: Mutex<offline::OfflineQueue>,
}

#[derive(serde::Deserialize)]
struct Wrapped<T> {
    v: T,
}

impl OfflineQueue {
    fn with<T>(&self, f: impl FnOnce(&mut offline::OfflineQueue) -> T) -> Result<T, HearthError> {
        let mut q = self.inner.lock().map_err(|_| Error::internal("queue lock poisoned"))?;
        Ok(f(&mut q))
    }
}

#[uniffi::export]
impl OfflineQueue {
    /// An empty queue for one installation (`client_id`: a UUID).
    #[uniffi::constructor]
    pub fn new(client_id: String) -> Result<Self, HearthError> {
        let text = format!("{{\"v\":{}}}", serde_json::Value::String(client_id));
        let id = parse_json::<Wrapped<ClientId>>(&text)
            .map_err(|_| ValidationErrors::single("client_id", Violation::InvalidFormat { expected: "uuid".into() }))?
            .v;
        Ok(Self { inner: Mutex::new(offline::OfflineQueue::new(id)) })
    }
    /// A queue from `export_json()`'s JSON.
    #[uniffi::constructor]
    pub fn import_json(json: String) -> Result<Self, HearthError> {
        Ok(Self { inner: Mutex::new(offline::OfflineQueue::import(&json)?) })
    }
    /// The queue as JSON, for the host to persist.
    pub fn export_json(&self) -> Result<String, HearthError> {
        Ok(self.with(|q| q.export())??)
    }
    /// The client stream's id.
    pub fn client_id(&self) -> Result<String, HearthError> {
        self.with(|q| q.client_id().to_string())
    }
    /// Validates and queues an action (JSON) at `now`; its `seq`.
    pub fn enqueue(&self, action_json: String, now: String) -> Result<u64, HearthError> {
        let now = instant(&now)?;
        Ok(self.with(|q| q.enqueue_json(&action_json, now))??)
    }
    /// The next batch to send, as a JSON array of envelopes (at most `max`, at most 100).
    pub fn peek(&self, max: u32) -> Result<String, HearthError> {
        json(&self.with(|q| q.peek(max as usize))?)
    }
    /// Takes the server's answer at `now` (JSON: the whole batch answer `{"results", "cursor"}`,
    /// which also renumbers actions a restored old queue reused, or just the array of results);
    /// the report as JSON.
    pub fn acknowledge(&self, answer_json: String, now: String) -> Result<String, HearthError> {
        let now = instant(&now)?;
        json(&self.with(|q| q.acknowledge_json(&answer_json, now))??)
    }
    /// Learns where the server's stream stands (the status call's JSON `{"last_seq", …}`): with
    /// nothing waiting, the next action is numbered after its `last_seq`.
    pub fn adopt_cursor(&self, status_json: String) -> Result<(), HearthError> {
        Ok(self.with(|q| q.adopt_cursor_json(&status_json))??)
    }
    /// Records a failed attempt at `now`; when the host's timer should fire (RFC 3339).
    pub fn record_failure(&self, now: String) -> Result<String, HearthError> {
        let now = instant(&now)?;
        let at = self.with(|q| q.record_failure(now))?;
        Ok(json(&at)?.trim_matches('"').to_owned())
    }
    /// When the next attempt is allowed (RFC 3339), or none for now.
    pub fn next_attempt_at(&self) -> Result<Option<String>, HearthError> {
        let at = self.with(|q| q.next_attempt_at())?;
        at.map(|t| json(&t).map(|s| s.trim_matches('"').to_owned())).transpose()
    }
    /// True when something waits and no backoff holds it back at `now`.
    pub fn is_due(&self, now: String) -> Result<bool, HearthError> {
        let now = instant(&now)?;
        self.with(|q| q.is_due(now))
    }
    /// How many actions wait.
    pub fn pending_count(&self) -> Result<u64, HearthError> {
        self.with(|q| q.pending_count() as u64)
    }
    /// The actions the server refused, as JSON (`[{"envelope": …, "error": …}]`).
    pub fn rejected_json(&self) -> Result<String, HearthError> {
        json(&self.with(|q| q.rejected().to_vec())?)
    }
    /// Forgets a rejected action once shown; false when there was none.
    pub fn dismiss_rejected(&self, seq: u64) -> Result<bool, HearthError> {
        self.with(|q| q.dismiss_rejected(seq))
    }
}
