//! The OS-backed clock and id source — the only place hearth-core reads the system clock or
//! randomness. Behind the `system` feature; services never call these directly, they are handed in.

use crate::id::IdSource;
use crate::time::{Clock, Timestamp};

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

/// Time-ordered random UUIDs (version 7): unique, and index-friendly in B-trees.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_uuid(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}
