//! The embedded store translates a filter twice (to SQL for listing, to the
//! catalog's posting lists for searching); both must pick exactly what the
//! filter matches.

use engram_embedded::EmbeddedStore;

#[tokio::test]
async fn sql_and_catalog_pick_exactly_what_the_filter_matches() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    engram_store::testing::filters_pick_exactly_what_they_match(&store).await;
}
