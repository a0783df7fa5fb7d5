//! Every cell of the residents access matrix (Viramah §3, §4, §5, §6, §11, §14 B) against the real
//! commands and reads, on the memory store: 178 cells, each with its exact answer. The conformance
//! suite runs a sample of the same cells on every store (`residents::residents_access_matrix_sample`).

use hearth_core::kernel::memory::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_residents_access_matrix() {
    hearth_core::testing::residents_access::every_cell(MemoryStore::new()).await;
}
