//! PostgreSQL against the definitions every backend shares: the filter
//! translation picks exactly what `Filter::matches` picks, and the BM25
//! SQL computes what `engram_core::bm25` computes.

#[allow(dead_code)]
#[path = "../../engram/tests/common/pg.rs"]
mod pg;

use engram_core::bm25;
use engram_pg::PgStore;

#[tokio::test]
async fn filters_pick_exactly_what_they_match() {
    let db = pg::Database::new();
    let store = PgStore::connect(&db.url, 2).await.expect("connecting");
    engram_store::testing::filters_pick_exactly_what_they_match(&store).await;
}

#[tokio::test]
async fn the_job_queue_meets_the_contract() {
    let db = pg::Database::new();
    let store = PgStore::connect(&db.url, 2).await.expect("connecting");
    engram_store::jobs_conformance::job_queue_contract(&store).await;
}

#[tokio::test]
async fn metering_meets_the_contract() {
    let db = pg::Database::new();
    let store = PgStore::connect(&db.url, 2).await.expect("connecting");
    engram_store::metering_conformance::metering_contract(&store).await;
}

#[tokio::test]
async fn leases_and_run_records_meet_the_contract() {
    let db = pg::Database::new();
    let store = PgStore::connect(&db.url, 2).await.expect("connecting");
    engram_store::lease_conformance::lease_contract(&store).await;
}

#[tokio::test]
async fn the_graph_meets_the_contract() {
    let db = pg::Database::new();
    let store = PgStore::connect(&db.url, 2).await.expect("connecting");
    engram_store::graph_conformance::graph_contract(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_graph_makes_one_entity_of_a_name_resolved_concurrently() {
    let db = pg::Database::new();
    let store = PgStore::connect(&db.url, 4).await.expect("connecting");
    engram_store::graph_resolution_conformance::concurrent_resolution_contract(
        std::sync::Arc::new(store),
    )
    .await;
}

#[tokio::test]
async fn bm25_in_sql_is_the_engine_formula() {
    let db = pg::Database::new();
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connecting");
    tokio::spawn(connection);
    for (docs, df, tf, len, avg) in [
        (10.0, 1.0, 1.0, 5.0, 7.5),
        (1000.0, 990.0, 3.0, 40.0, 12.0),
        (1.0, 1.0, 2.0, 1.0, 1.0),
    ] {
        let sql = format!(
            "SELECT ({idf})::float8, ({tf_part})::float8 FROM (SELECT $1::float8 AS docs, \
             $2::float8 AS df, $3::float8 AS tf, $4::float8 AS len, $5::float8 AS avg) v",
            idf = bm25::idf_sql("v.docs", "v.df"),
            tf_part = bm25::tf_part_sql("v.tf", "v.len", "v.avg"),
        );
        let row = client
            .query_one(&sql, &[&docs, &df, &tf, &len, &avg])
            .await
            .unwrap();
        let (idf, tf_part): (f64, f64) = (row.get(0), row.get(1));
        let (d, n, t, l, a) = (docs as f32, df as f32, tf as f32, len as f32, avg as f32);
        assert!((idf as f32 - bm25::idf(d, n)).abs() < 1e-5, "idf {idf}");
        assert!(
            (tf_part as f32 - bm25::tf_part(t, l, a)).abs() < 1e-5,
            "tf part {tf_part}"
        );
    }
}
