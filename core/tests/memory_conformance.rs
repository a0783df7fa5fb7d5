//! The store conformance suite on the memory store: the same cases every store runs.

use hearth_core::kernel::memory::MemoryStore;

fn main() -> std::process::ExitCode {
    hearth_core::testing::run_conformance(|| async { MemoryStore::new() })
}
