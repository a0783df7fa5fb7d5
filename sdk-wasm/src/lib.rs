//! hearth for JavaScript: the core's validation, the workflow's "what may I do now?" query and the
//! offline action queue, over wasm-bindgen. Thin by design — every rule is `hearth-core`'s; this
//! crate only converts values and errors (`hearth_core::client` is the surface it wraps).
//!
//! Errors thrown to JavaScript are `HearthError` instances (a subclass of `Error`) carrying the
//! stable `code` and the `fields` array; validation answers a tagged `{ ok, value | errors }` object.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use hearth_core::client;
use hearth_core::id::ClientId;
use hearth_core::offline;
use hearth_core::validate::{ValidationErrors, Violation};
use hearth_core::{Error, ErrorCode, Timestamp};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Stable machine codes (hearth_core::ErrorCode). */
export type ErrorCode =
  | "validation" | "unauthenticated" | "unauthorized" | "reauthentication_required" | "forbidden"
  | "not_found" | "conflict" | "invalid_transition" | "precondition_failed" | "idempotency_mismatch"
  | "rate_limited" | "insufficient_funds" | "capacity_exhausted" | "unavailable" | "dependency_rejected"
  | "internal" | "kyc_incomplete" | "cursor_expired";
/** One field's error: its path, a stable code, and the code's parameters (`min`, `max`, `expected`, …). */
export interface FieldError { field: string; code: string; [param: string]: unknown }
/** The error every hearth call throws. */
export declare class HearthError extends Error {
  readonly name: "HearthError";
  readonly code: ErrorCode;
  readonly fields: FieldError[];
}
export type InputType =
  | "service_request" | "profile" | "civilian_profile" | "hero_profile" | "interest" | "cancel" | "rating" | "action";
/** A validation answer: the cleaned value, or every field error at once. */
export type ValidationResult<T = unknown> = { ok: true; value: T } | { ok: false; errors: FieldError[] };
export type RequestStatus = "pending" | "assigned" | "active" | "completed" | "cancelled";
export type RequestAction =
  | "accept" | "choose_hero" | "express_interest" | "withdraw_interest" | "start" | "complete" | "cancel" | "rate";
/** What a client knows about a request and about the asking actor. */
export interface RequestFacts {
  status: RequestStatus; civilian_id: string; hero_id?: string | null; rated?: boolean;
  hero_ready?: boolean; own_interest?: "interested" | "selected" | "rejected" | "withdrawn" | null; open_interests?: number;
}
export type Actor = { kind: "anonymous" } | { kind: "system" } | { kind: "user"; user_id: string; roles: string[]; tenant_id?: string | null };
/** A queued domain action (see hearth_core::offline::Action). */
export type Action =
  | { type: "update_profile"; user_id: string; input: Record<string, unknown> }
  | { type: "update_civilian_profile"; user_id: string; input: Record<string, unknown> }
  | { type: "update_hero_profile"; user_id: string; input: Record<string, unknown> }
  | { type: "create_service_request"; id?: string; input: Record<string, unknown> }
  | { type: "service_request"; request_id: string; action: RequestAction; [arg: string]: unknown };
export interface Envelope { client_id: string; seq: number; action: Action; created_at: string; depends_on?: number[] }
export type Outcome = { status: "applied"; result: unknown } | { status: "rejected"; error: HearthErrorData };
export interface HearthErrorData { code: ErrorCode; message: string; fields?: FieldError[]; retry_after_ms?: number }
/** The server's answer for one envelope. */
export type ActionResult =
  | { status: "applied"; seq: number; result: unknown }
  | { status: "duplicate"; seq: number; original: Outcome }
  | { status: "rejected"; seq: number; error: HearthErrorData }
  | { status: "retry_later"; seq: number; error: HearthErrorData };
export interface AckReport { applied: number[]; rejected: number[]; retry_later: number[]; next_attempt_at: string | null; renumbered?: [number, number][] }
/** Where a client stream stands on the server (in every batch answer, and the status call's answer). */
export interface StreamStatus { last_seq: number; last_outcome?: Outcome }
/** The server's answer to a batch. */
export interface BatchAnswer { results: ActionResult[]; cursor: StreamStatus }
export interface RejectedAction { envelope: Envelope; error: HearthErrorData }
"#;

#[wasm_bindgen(inline_js = "export class HearthError extends Error {
  constructor(code, message, fields) { super(message); this.name = 'HearthError'; this.code = code; this.fields = fields; }
}
export function makeHearthError(code, message, fields) { return new HearthError(code, message, fields); }
export function hearthErrorClass() { return HearthError; }")]
extern "C" {
    #[wasm_bindgen(js_name = makeHearthError)]
    fn make_hearth_error(code: &str, message: &str, fields: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = hearthErrorClass)]
    fn hearth_error_class_js() -> JsValue;
}

/// The `HearthError` class, for `instanceof` checks (the package re-exports it as `HearthError`).
#[wasm_bindgen(js_name = hearthErrorClass, unchecked_return_type = "typeof HearthError")]
pub fn hearth_error_class() -> JsValue {
    hearth_error_class_js()
}

/// A value as JavaScript: JSON text, parsed by `JSON.parse` — one crossing of the boundary, where
/// building the object from wasm costs one per property (and the serialiser's code in the package).
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| throw(Error::internal(format!("encode: {e}"))))?;
    js_sys::JSON::parse(&text).map_err(|_| throw(Error::internal("encode: JSON.parse refused the text")))
}

fn throw(e: Error) -> JsValue {
    let fields = serde_json::to_string(&e.fields)
        .ok()
        .and_then(|text| js_sys::JSON::parse(&text).ok())
        .unwrap_or(JsValue::UNDEFINED);
    make_hearth_error(e.code.as_str(), &e.message, fields)
}

/// A JSON text from a string or any JSON-able value.
fn json_text(field: &str, value: &JsValue) -> Result<String, JsValue> {
    if let Some(s) = value.as_string() {
        return Ok(s);
    }
    match js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string()) {
        Some(s) => Ok(s),
        None => Err(throw(ValidationErrors::single(field, Violation::MalformedJson).into())),
    }
}

fn instant(field: &str, now: &str) -> Result<Timestamp, JsValue> {
    client::parse_instant(field, now).map_err(throw)
}

/// Validates `input` (an object or JSON text) as `inputType` at `now` (RFC 3339), with the server's
/// rules: `{ ok: true, value }` with the cleaned value, or `{ ok: false, errors }`.
#[wasm_bindgen(unchecked_return_type = "ValidationResult")]
pub fn validate(
    #[wasm_bindgen(js_name = inputType, unchecked_param_type = "InputType")] input_type: &str,
    #[wasm_bindgen(unchecked_param_type = "unknown")] input: JsValue,
    now: &str,
) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Answer {
        Valid { ok: bool, value: serde_json::Value },
        Invalid { ok: bool, errors: Vec<hearth_core::validate::FieldError> },
    }
    let now = instant("now", now)?;
    let answer = match client::validate_input(input_type, &json_text("input", &input)?, now) {
        Ok(value) => Answer::Valid { ok: true, value },
        Err(e) if e.code == ErrorCode::Validation => Answer::Invalid { ok: false, errors: e.fields },
        Err(e) => return Err(throw(e)),
    };
    to_js(&answer)
}

/// The actions `actor` may take on a request described by `facts`, in the table's order.
#[wasm_bindgen(js_name = availableActions, unchecked_return_type = "RequestAction[]")]
pub fn available_actions(
    #[wasm_bindgen(unchecked_param_type = "RequestFacts | string")] facts: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Actor | string")] actor: JsValue,
) -> Result<JsValue, JsValue> {
    let actions =
        client::available_actions(&json_text("facts", &facts)?, &json_text("actor", &actor)?).map_err(throw)?;
    to_js(&actions)
}

/// How long to wait (ms) after `failures` consecutive failures, given a jitter value.
#[wasm_bindgen(js_name = backoffDelayMs)]
pub fn backoff_delay_ms(failures: u32, jitter: u64) -> f64 {
    offline::backoff_delay_ms(failures, jitter) as f64
}

/// The jitter value after `state` (SplitMix64).
#[wasm_bindgen(js_name = nextJitter)]
pub fn next_jitter(state: u64) -> u64 {
    offline::next_jitter(state)
}

/// A client's offline action queue. Persist it with `export()` and restore it with `OfflineQueue.import`.
#[wasm_bindgen]
pub struct OfflineQueue {
    inner: offline::OfflineQueue,
}

#[wasm_bindgen]
impl OfflineQueue {
    /// An empty queue for one installation (`clientId`: a UUID, e.g. `crypto.randomUUID()`).
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(js_name = clientId)] client_id: &str) -> Result<OfflineQueue, JsValue> {
        let id: ClientId = hearth_core::validate::parse_json::<Wrapped>(&format!("{{\"id\":{}}}", quoted(client_id)))
            .map_err(|_| {
                throw(
                    ValidationErrors::single("client_id", Violation::InvalidFormat { expected: "uuid".into() }).into(),
                )
            })?
            .id;
        Ok(OfflineQueue { inner: offline::OfflineQueue::new(id) })
    }
    /// A queue from `export()`'s JSON.
    pub fn import(json: &str) -> Result<OfflineQueue, JsValue> {
        Ok(OfflineQueue { inner: offline::OfflineQueue::import(json).map_err(throw)? })
    }
    /// The queue as JSON, for the host to persist.
    pub fn export(&self) -> Result<String, JsValue> {
        self.inner.export().map_err(throw)
    }
    /// The client stream's id.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_string()
    }
    /// Validates and queues an action at `now`; its `seq`. Throws `HearthError` (`validation`) when invalid.
    pub fn enqueue(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Action | string")] action: JsValue,
        now: &str,
    ) -> Result<f64, JsValue> {
        let now = instant("now", now)?;
        let seq = self.inner.enqueue_json(&json_text("action", &action)?, now).map_err(throw)?;
        Ok(seq as f64)
    }
    /// The next batch to send (oldest first, at most `max`, at most 100).
    #[wasm_bindgen(unchecked_return_type = "Envelope[]")]
    pub fn peek(&self, max: u32) -> Result<JsValue, JsValue> {
        to_js(&self.inner.peek(max as usize))
    }
    /// Takes the server's answer at `now`, as the server sent it: the whole `BatchAnswer` (which
    /// also renumbers actions the server recorded no longer as theirs — a queue restored from an
    /// old export) or just its `ActionResult[]`.
    #[wasm_bindgen(unchecked_return_type = "AckReport")]
    pub fn acknowledge(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "BatchAnswer | ActionResult[] | string")] answer: JsValue,
        now: &str,
    ) -> Result<JsValue, JsValue> {
        let now = instant("now", now)?;
        to_js(&self.inner.acknowledge_json(&json_text("answer", &answer)?, now).map_err(throw)?)
    }
    /// Learns where the server's stream stands (the status call's `StreamStatus`): with nothing
    /// waiting, the next action is numbered after its `last_seq`.
    #[wasm_bindgen(js_name = adoptCursor)]
    pub fn adopt_cursor(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "StreamStatus | string")] status: JsValue,
    ) -> Result<(), JsValue> {
        self.inner.adopt_cursor_json(&json_text("status", &status)?).map_err(throw)
    }
    /// Records a failed attempt at `now` (network down); when the host's timer should fire (RFC 3339).
    #[wasm_bindgen(js_name = recordFailure)]
    pub fn record_failure(&mut self, now: &str) -> Result<String, JsValue> {
        let now = instant("now", now)?;
        Ok(rfc3339(self.inner.record_failure(now)))
    }
    /// When the next attempt is allowed, or `undefined` for now.
    #[wasm_bindgen(js_name = nextAttemptAt)]
    pub fn next_attempt_at(&self) -> Option<String> {
        self.inner.next_attempt_at().map(rfc3339)
    }
    /// True when something waits and no backoff holds it back at `now`.
    #[wasm_bindgen(js_name = isDue)]
    pub fn is_due(&self, now: &str) -> Result<bool, JsValue> {
        Ok(self.inner.is_due(instant("now", now)?))
    }
    /// How many actions wait.
    #[wasm_bindgen(getter, js_name = pendingCount)]
    pub fn pending_count(&self) -> u32 {
        u32::try_from(self.inner.pending_count()).unwrap_or(u32::MAX)
    }
    /// Consecutive failed attempts.
    #[wasm_bindgen(getter)]
    pub fn failures(&self) -> u32 {
        self.inner.failures()
    }
    /// The waiting actions, oldest first.
    #[wasm_bindgen(unchecked_return_type = "Envelope[]")]
    pub fn pending(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.pending())
    }
    /// The actions the server refused, oldest first.
    #[wasm_bindgen(unchecked_return_type = "RejectedAction[]")]
    pub fn rejected(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.rejected())
    }
    /// Forgets a rejected action once shown; false when there was none.
    #[wasm_bindgen(js_name = dismissRejected)]
    pub fn dismiss_rejected(&mut self, seq: f64) -> bool {
        seq >= 1.0 && seq.fract() == 0.0 && self.inner.dismiss_rejected(seq as u64)
    }
}

#[derive(serde::Deserialize)]
struct Wrapped {
    id: ClientId,
}

fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn rfc3339(t: Timestamp) -> String {
    serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
