//! The embedded store's job queue against the contract every backend meets.

use engram_embedded::EmbeddedStore;

#[tokio::test]
async fn the_job_queue_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    engram_store::jobs_conformance::job_queue_contract(&store).await;
}
