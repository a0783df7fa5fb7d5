//! Replays the golden vectors (`vectors/*.json`) against the core's client API. The Node, Python
//! and Kotlin suites replay the same files through the WASM package and the UniFFI bindings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hearth_core::client::{available_actions, parse_instant, validate_input};
use hearth_core::id::ClientId;
use hearth_core::offline::{backoff_delay_ms, next_jitter, ActionResult, OfflineQueue};
use hearth_core::Error;
use serde_json::{json, Value};
use std::path::PathBuf;

fn load(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn error_json(e: &Error) -> Value {
    json!({"code": e.code, "fields": e.fields})
}

fn input_text(v: &Value) -> String {
    match v.get("input_raw") {
        Some(raw) => raw.as_str().unwrap().to_owned(),
        None => v["input"].to_string(),
    }
}

#[test]
fn validation_vectors() {
    let mut failures = Vec::new();
    let vectors = load("validate.json");
    for v in &vectors {
        let now = parse_instant("now", v["now"].as_str().unwrap()).unwrap();
        let got = match validate_input(v["input_type"].as_str().unwrap(), &input_text(v), now) {
            Ok(value) => json!({"valid": true, "value": value}),
            Err(e) if e.code == hearth_core::ErrorCode::Validation => json!({"valid": false, "errors": e.fields}),
            Err(e) => json!({"valid": false, "error": error_json(&e)}),
        };
        let expect = &v["expect"];
        let ok = got["valid"] == expect["valid"]
            && (expect.get("errors").is_none() || got["errors"] == expect["errors"])
            && (expect.get("value").is_none() || got["value"] == expect["value"]);
        if !ok {
            failures.push(format!("{}: expected {expect}, got {got}", v["name"]));
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), vectors.len(), failures.join("\n"));
    println!("vectors: validate.json {} passed", vectors.len());
}

#[test]
fn available_action_vectors() {
    let mut failures = Vec::new();
    let vectors = load("available.json");
    for v in &vectors {
        let got = match available_actions(&v["facts"].to_string(), &v["actor"].to_string()) {
            Ok(actions) => json!({"actions": actions}),
            Err(e) => json!({"error": error_json(&e)}),
        };
        if got != v["expect"] {
            failures.push(format!("{}: expected {}, got {got}", v["name"], v["expect"]));
        }
    }
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), vectors.len(), failures.join("\n"));
    println!("vectors: available.json {} passed", vectors.len());
}

/// Runs one queue scenario step by step; the first mismatch is returned.
fn run_queue(v: &Value) -> Result<(), String> {
    let client: ClientId = serde_json::from_value(v["client_id"].clone()).map_err(|e| e.to_string())?;
    let mut q = OfflineQueue::new(client);
    for (i, step) in v["steps"].as_array().unwrap().iter().enumerate() {
        let now = || parse_instant("now", step["now"].as_str().unwrap()).unwrap();
        let got = match step["op"].as_str().unwrap() {
            "enqueue" => match q.enqueue_json(&step["action"].to_string(), now()) {
                Ok(seq) => json!({"seq": seq}),
                Err(e) => json!({"error": error_json(&e)}),
            },
            "peek" => {
                let batch = q.peek(step["max"].as_u64().unwrap() as usize);
                json!(batch.iter().map(|e| json!({"seq": e.seq, "depends_on": e.depends_on})).collect::<Vec<_>>())
            }
            "acknowledge" => {
                let results: Vec<ActionResult> = serde_json::from_value(step["results"].clone()).unwrap();
                serde_json::to_value(q.acknowledge(&results, now())).unwrap()
            }
            "acknowledge_batch" => match q.acknowledge_json(&step["answer"].to_string(), now()) {
                Ok(report) => serde_json::to_value(report).unwrap(),
                Err(e) => json!({"error": error_json(&e)}),
            },
            "adopt_cursor" => match q.adopt_cursor_json(&step["status"].to_string()) {
                Ok(()) => json!(null),
                Err(e) => json!({"error": error_json(&e)}),
            },
            "rejected_fields" => json!(q
                .rejected()
                .iter()
                .map(|r| json!({
                    "seq": r.envelope.seq,
                    "code": r.error.code,
                    "fields": r.error.fields.iter().map(|f| f.field.clone()).collect::<Vec<_>>()
                }))
                .collect::<Vec<_>>()),
            "record_failure" => json!(q.record_failure(now())),
            "is_due" => json!(q.is_due(now())),
            "pending_count" => json!(q.pending_count()),
            "rejected" => {
                json!(q
                    .rejected()
                    .iter()
                    .map(|r| json!({"seq": r.envelope.seq, "code": r.error.code}))
                    .collect::<Vec<_>>())
            }
            "dismiss_rejected" => json!(q.dismiss_rejected(step["seq"].as_u64().unwrap())),
            "export_import" => {
                q = OfflineQueue::import(&q.export().unwrap()).unwrap();
                json!(null)
            }
            "import" => match OfflineQueue::import(step["json"].as_str().unwrap()) {
                Ok(_) => json!({"ok": true}),
                Err(e) => json!({"error": error_json(&e)}),
            },
            other => return Err(format!("unknown op {other}")),
        };
        if got != step["expect"] {
            return Err(format!("step {i} ({}): expected {}, got {got}", step["op"], step["expect"]));
        }
    }
    Ok(())
}

#[test]
fn queue_vectors() {
    let vectors = load("queue.json");
    let failures: Vec<String> =
        vectors.iter().filter_map(|v| run_queue(v).err().map(|e| format!("{}: {e}", v["name"]))).collect();
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), vectors.len(), failures.join("\n"));
    println!("vectors: queue.json {} passed", vectors.len());
}

#[test]
fn backoff_vectors() {
    let vectors = load("backoff.json");
    for v in &vectors {
        let seed: u64 = v["jitter"].as_str().unwrap().parse().unwrap();
        match v["kind"].as_str().unwrap() {
            "backoff" => assert_eq!(
                json!(backoff_delay_ms(v["failures"].as_u64().unwrap() as u32, seed)),
                v["expect_ms"],
                "{}",
                v["name"]
            ),
            "jitter" => assert_eq!(next_jitter(seed).to_string(), v["expect"].as_str().unwrap(), "{}", v["name"]),
            other => panic!("unknown kind {other}"),
        }
    }
    println!("vectors: backoff.json {} passed", vectors.len());
}
