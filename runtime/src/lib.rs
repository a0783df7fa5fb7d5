//! hearth's runtime: the parts that need tasks, timers and connections around the pure rules of
//! `hearth-core` — job workers and schedules, the change-feed hub and its relay.
//!
//! Core decides (what a job is, when it may run again, who may receive an event); this crate only
//! drives: it claims, waits, wakes and forwards. It depends on the store adapters, never the reverse.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod jobs;

pub mod feed;
