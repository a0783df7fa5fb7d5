#![doc = include_str!("../../README.md")]
//!
//! ## This crate
//!
//! Shared code of hearth's runnable examples: [`quickstart::run`] tells the HomeHeroes story against
//! any store; the `quickstart` binary runs it on an embedded SQLite file, or on Postgres when given a
//! database URL. [`viramah::Desk`] runs Viramah's residence lifecycle (the `residents` binary, and the
//! resident the `maintenance` binary starts from).

pub mod bench;
pub mod quickstart;
pub mod viramah;
