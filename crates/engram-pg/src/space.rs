//! The embedding space (model id and dimension) the database's vectors
//! belong to, bound by the first replica to start and checked by every
//! later one.

use deadpool_postgres::GenericClient;

use engram_core::{Error, Result};

use crate::PgStore;
use crate::rows::Stored;
use crate::schema;
use crate::sql::db_err;

/// Graph degree and build effort, matching the embedded store's usearch
/// settings.
const HNSW_M: usize = 16;
const HNSW_EF_CONSTRUCTION: usize = 128;

pub async fn bind(store: &PgStore, model_id: &str, dimension: usize) -> Result<()> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_err)?;
    // Replicas starting together: one binds, the others then see it.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema::BIND_LOCK])
        .await
        .map_err(db_err)?;
    match read(&tx).await? {
        Some((m, d)) if m != model_id || d != dimension => {
            return Err(Error::internal(format!(
                "the database holds embeddings of model '{m}' ({d} dimensions), but the configured \
                 embedder is '{model_id}' ({dimension} dimensions). Configure the original model, or \
                 back up with `engram backup` and restore into a new database"
            )));
        }
        Some(_) => return Ok(()),
        None => {}
    }
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('embedding_model', $1), ('embedding_dimension', $2)",
        &[&model_id, &dimension.to_string()],
    )
    .await
    .map_err(db_err)?;
    // The HNSW index needs a fixed dimension, known only now.
    tx.batch_execute(&format!(
        "ALTER TABLE memories ALTER COLUMN embedding TYPE vector({dimension}); \
         CREATE INDEX memories_embedding ON memories USING hnsw (embedding vector_cosine_ops) \
         WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION});"
    ))
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// The bound space, if any. A half-bound space, or a dimension that is
/// not a number, is an error: read as unbound, it would let the next start
/// bind a second space over the stored vectors.
pub async fn read(c: &impl GenericClient) -> Result<Option<(String, usize)>> {
    let rows = c
        .query(
            "SELECT key, value FROM meta WHERE key IN ('embedding_model', 'embedding_dimension')",
            &[],
        )
        .await
        .map_err(db_err)?;
    let (mut model, mut dimension) = (None, None);
    for r in &rows {
        let s = Stored::new(r, "meta", 0);
        if s.get::<&str>(0)? == "embedding_model" {
            model = Some(s.get::<String>(1)?);
        } else {
            dimension = Some(s.parse(1, |d: &str| {
                d.parse::<usize>()
                    .map_err(|e| format!("dimension '{d}' is not a number ({e})"))
            })?);
        }
    }
    match (model, dimension) {
        (Some(m), Some(d)) => Ok(Some((m, d))),
        (None, None) => Ok(None),
        _ => Err(Error::inconsistent(
            "meta rows embedding_model and embedding_dimension",
            "only one of the two is present",
        )),
    }
}
