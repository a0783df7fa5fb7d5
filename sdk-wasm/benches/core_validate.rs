//! Core's own time in `validate("service_request", …)`, natively, without the wasm boundary: the
//! whole `hearth_core::client::validate_input` and its steps (parse, rules, cleaned value as JSON),
//! on the same valid and invalid inputs as `sdk-wasm/bench/validate.mjs` (issue 11).
//!
//! `cargo bench -p hearth-wasm --bench core_validate [-- rounds iterations]` prints the median µs per
//! call of each step over `rounds` rounds (default 5 × 20,000 calls). Under callgrind, pass small
//! counts: `valgrind --tool=callgrind target/release/deps/core_validate-… 1 1000`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use hearth_core::client;
use hearth_core::homeheroes::input::ServiceRequestInput;
use hearth_core::validate::parse_json;
use hearth_core::Timestamp;
use std::hint::black_box;
use std::time::Instant;

const VALID: &str = r#"{"title":"Fix the kitchen sink","description":"The kitchen sink leaks under the cabinet.","category":"repairs","location":{"address":"12 Elm Street","city":"Springfield","state":"IL","zip_code":"62701","latitude":39.7817,"longitude":-89.6501},"scheduled_date":"2026-06-03T09:00:00Z","estimated_duration":2,"budget_range":{"min":50,"max":120,"currency":"USD"}}"#;
const INVALID: &str = r#"{"title":"Fix","description":"The kitchen sink leaks under the cabinet.","category":"plumbing","location":{"address":"12 Elm Street","city":"","state":"IL","zip_code":"62#01","latitude":95,"longitude":-89.6501},"scheduled_date":"2026-05-01T09:00:00Z","estimated_duration":30,"budget_range":{"min":120,"max":50,"currency":"USD"}}"#;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time(rounds: usize, iters: usize, mut f: impl FnMut()) -> (f64, Vec<f64>) {
    for _ in 0..iters / 10 + 1 {
        f();
    }
    let runs: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / iters as f64
        })
        .collect();
    (median(runs.clone()), runs)
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rounds = args.first().copied().unwrap_or(5);
    let iters = args.get(1).copied().unwrap_or(20_000);
    let now = Timestamp::parse_rfc3339("2026-06-01T12:00:00Z").expect("now");
    let report = |name: &str, (m, runs): (f64, Vec<f64>)| {
        let runs: Vec<String> = runs.iter().map(|r| format!("{r:.2}")).collect();
        println!("{name:<42} median {m:>7.2} µs  ({})", runs.join(" "));
    };
    println!("core validate (native, release), {rounds} rounds × {iters} calls");
    let input: ServiceRequestInput = parse_json(VALID).expect("parses");
    let checked = input.validate(now).expect("valid");
    report(
        "valid: validate_input (all of it)",
        time(rounds, iters, || {
            black_box(client::validate_input("service_request", black_box(VALID), now).is_ok());
        }),
    );
    report(
        "valid: parse_json::<ServiceRequestInput>",
        time(rounds, iters, || {
            black_box(parse_json::<ServiceRequestInput>(black_box(VALID)).is_ok());
        }),
    );
    report(
        "valid: ServiceRequestInput::validate",
        time(rounds, iters, || {
            black_box(black_box(&input).validate(now).is_ok());
        }),
    );
    report(
        "valid: serde_json::to_value(checked)",
        time(rounds, iters, || {
            black_box(serde_json::to_value(black_box(&checked)).is_ok());
        }),
    );
    let bad: ServiceRequestInput = parse_json(INVALID).expect("parses");
    report(
        "invalid: validate_input (all of it)",
        time(rounds, iters, || {
            black_box(client::validate_input("service_request", black_box(INVALID), now).is_err());
        }),
    );
    report(
        "invalid: ServiceRequestInput::validate",
        time(rounds, iters, || {
            black_box(black_box(&bad).validate(now).is_err());
        }),
    );
    report(
        "now: Timestamp::parse_rfc3339",
        time(rounds, iters, || {
            black_box(Timestamp::parse_rfc3339(black_box("2026-06-01T12:00:00Z")).is_some());
        }),
    );
}
