//! The embedded store's job queue, metering, leases and knowledge graph against the contracts
//! every backend meets.

use engram_embedded::EmbeddedStore;

#[tokio::test]
async fn the_job_queue_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    engram_store::jobs_conformance::job_queue_contract(&store).await;
}

#[tokio::test]
async fn metering_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    engram_store::metering_conformance::metering_contract(&store).await;
}

#[tokio::test]
async fn leases_and_run_records_meet_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    engram_store::lease_conformance::lease_contract(&store).await;
}

#[tokio::test]
async fn the_graph_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    engram_store::graph_conformance::graph_contract(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_graph_makes_one_entity_of_a_name_resolved_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    engram_store::graph_resolution_conformance::concurrent_resolution_contract(
        std::sync::Arc::new(store),
    )
    .await;
}
