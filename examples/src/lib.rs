#![doc = include_str!("../../README.md")]
//!
//! ## This crate
//!
//! Shared code of hearth's runnable examples: [`quickstart::run`] tells the HomeHeroes story against
//! any store; the `quickstart` binary runs it on an embedded SQLite file, or on Postgres when given a
//! database URL.

pub mod bench;
pub mod quickstart;
