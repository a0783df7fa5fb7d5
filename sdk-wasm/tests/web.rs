//! The bindings themselves, compiled to wasm32 and run under Node by wasm-bindgen-test-runner.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use hearth_wasm::{available_actions, validate, OfflineQueue};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const NOW: &str = "2026-06-01T12:00:00Z";

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

#[wasm_bindgen_test]
fn validation_answers_a_tagged_object_with_field_errors() {
    let r = validate("rating", JsValue::from_str(r#"{"score": 9}"#), NOW).unwrap();
    assert_eq!(get(&r, "ok"), JsValue::FALSE);
    let errors: js_sys::Array = get(&r, "errors").dyn_into().unwrap();
    assert_eq!(get(&errors.get(0), "field").as_string().unwrap(), "score");
    assert_eq!(get(&errors.get(0), "code").as_string().unwrap(), "out_of_range");
    assert_eq!(get(&errors.get(0), "max").as_f64().unwrap(), 5.0);
    let ok = validate("rating", JsValue::from_str(r#"{"score": 4}"#), NOW).unwrap();
    assert_eq!(get(&ok, "value").as_f64().unwrap(), 4.0);
}

#[wasm_bindgen_test]
fn errors_are_hearth_error_instances_with_code_and_fields() {
    let err = validate("rating", JsValue::from_str("{}"), "yesterday").unwrap_err();
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&err, "name").as_string().unwrap(), "HearthError");
    assert_eq!(get(&err, "code").as_string().unwrap(), "validation");
    let fields: js_sys::Array = get(&err, "fields").dyn_into().unwrap();
    assert_eq!(get(&fields.get(0), "field").as_string().unwrap(), "now");
    let class = hearth_wasm::hearth_error_class();
    assert!(js_sys::Reflect::get_prototype_of(&err).unwrap() == get(&class, "prototype").into());
}

#[wasm_bindgen_test]
fn available_actions_accept_objects_and_json_text() {
    let facts =
        js_sys::JSON::parse(r#"{"status":"pending","civilian_id":"0190f1a2-0000-7000-8000-00000000c1c1"}"#).unwrap();
    let actor = r#"{"kind":"user","user_id":"0190f1a2-0000-7000-8000-00000000c1c1","roles":["civilian"]}"#;
    let actions: js_sys::Array = available_actions(facts, JsValue::from_str(actor)).unwrap().dyn_into().unwrap();
    assert_eq!(actions.length(), 1);
    assert_eq!(actions.get(0).as_string().unwrap(), "cancel");
}

#[wasm_bindgen_test]
fn the_queue_survives_export_and_import() {
    let mut q = OfflineQueue::new("0190f1a2-0000-7000-8000-0000000c1e01").unwrap();
    let action =
        r#"{"type":"update_profile","user_id":"0190f1a2-0000-7000-8000-00000000c1c1","input":{"full_name":"Ada"}}"#;
    assert_eq!(q.enqueue(JsValue::from_str(action), NOW).unwrap(), 1.0);
    let bad = q.enqueue(JsValue::from_str(r#"{"type":"nope"}"#), NOW).unwrap_err();
    assert_eq!(get(&bad, "code").as_string().unwrap(), "validation");
    let restored = OfflineQueue::import(&q.export().unwrap()).unwrap();
    assert_eq!(restored.pending_count(), 1);
    assert!(OfflineQueue::new("not-a-uuid").is_err());
}
