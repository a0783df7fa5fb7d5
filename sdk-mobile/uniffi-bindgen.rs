//! The in-workspace `uniffi-bindgen`: `cargo run -p hearth-mobile --bin uniffi-bindgen -- generate --library …`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
