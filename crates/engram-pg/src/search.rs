//! The two ranked retrievers: BM25 over the `tsvector` index (see
//! [`crate::lexical`]) and cosine similarity over pgvector's HNSW index.
//! Ranking their candidates together is the default
//! [`engram_store::Store::retrieve`], which reads the winners' records by
//! id.

use pgvector::Vector;

use deadpool_postgres::Transaction;

use engram_core::Result;
use engram_core::cancel::Cancel;
use engram_store::{Hit, Retrieval};

use crate::PgStore;
use crate::lexical;
use crate::rows::{self, all};
use crate::sql::{Param, db_err, filter_sql, refs};

/// pgvector's HNSW search breadth: at least this many candidates, more
/// when more results are asked for. Iterative scans keep walking the graph
/// when filters reject candidates, so filtered searches still fill up.
const EF_SEARCH_MIN: usize = 100;

pub async fn lexical(store: &PgStore, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>> {
    let (terms, filter, limit, cancel) = (q.terms, q.filter, q.limit, q.cancel);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Param> = vec![
        Box::new(tenant_id.to_string()),
        Box::new(terms.join(" ")),
        Box::new(terms.join(" or ")),
    ];
    let filters = filter_sql(filter, &mut params);
    params.push(Box::new(limit as i64));
    let sql = lexical::bm25_sql(&filters, params.len());
    let rows = store
        .with_tenant(tenant_id, async |tx| {
            bound_by(tx, cancel).await?;
            tx.query(&sql, &refs(&params)).await.map_err(db_err)
        })
        .await?;
    all(&rows, rows::hit)
}

pub async fn vector(store: &PgStore, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>> {
    let (filter, limit, cancel) = (q.filter, q.limit, q.cancel);
    let Some(query) = q.vector else {
        return Ok(Vec::new());
    };
    let mut params: Vec<Param> = vec![
        Box::new(tenant_id.to_string()),
        Box::new(Vector::from(query.to_vec())),
    ];
    let filters = filter_sql(filter, &mut params);
    params.push(Box::new(limit as i64));
    let sql = format!(
        "SELECT m.id, (1 - (m.embedding <=> $2))::float8 FROM memories m \
         WHERE m.tenant_id = $1{filters} ORDER BY m.embedding <=> $2 LIMIT ${}",
        params.len()
    );
    let rows = store
        .with_tenant(tenant_id, async |tx| {
            bound_by(tx, cancel).await?;
            tx.execute(
                "SELECT set_config('hnsw.ef_search', $1, true), \
                 set_config('hnsw.iterative_scan', 'strict_order', true)",
                &[&limit.max(EF_SEARCH_MIN).to_string()],
            )
            .await
            .map_err(db_err)?;
            tx.query(&sql, &refs(&params)).await.map_err(db_err)
        })
        .await?;
    all(&rows, rows::hit)
}

/// Makes the server cancel the transaction's statements when the search's
/// deadline passes: dropping the future that waits for a statement does
/// not stop it on the server.
async fn bound_by(tx: &Transaction<'_>, cancel: &Cancel) -> Result<()> {
    if let Some(left) = cancel.remaining()? {
        let ms = left.as_millis().max(1).to_string();
        tx.execute("SELECT set_config('statement_timeout', $1, true)", &[&ms])
            .await
            .map_err(db_err)?;
    }
    Ok(())
}
