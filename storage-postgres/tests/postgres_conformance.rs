//! The store conformance suite on a real Postgres: every case of `hearth_core::testing` as its own
//! test, each on a fresh store in its own schema.
//!
//! The server comes from `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`.
//! `scripts/test.sh` finds or starts one; when none can be reached these tests FAIL — never skip.

mod common;

fn main() -> std::process::ExitCode {
    hearth_core::testing::run_conformance(|| async { common::fresh().await })
}
