//! The PostgreSQL + pgvector store: any number of stateless engram
//! replicas over one database.
//!
//! Everything a request needs lives in the database (memories, keys,
//! idempotency results, rate-limit buckets), so any replica can answer any
//! request. Dense search uses a pgvector HNSW index; lexical search ranks
//! with BM25 computed in SQL from the `tsvector` term frequencies and
//! per-tenant statistics (see [`lexical`]).
//!
//! Every tenant-scoped operation runs in a transaction that first sets
//! `engram.tenant`; row-level security (see [`schema`]) then hides every
//! other tenant's rows even from a query that forgot its tenant condition.

mod lexical;
mod limiter;
mod schema;
mod sql;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
use pgvector::Vector;
use tokio_postgres::NoTls;

use engram_core::cancel::Cancel;
use engram_core::query::Cursor;
use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Error, Filter, Memory, Result};
use engram_store::{Hit, Idempotency, IdempotentResult, InsertOutcome, Record, Store, Throttle};

use sql::{
    COLUMNS, Param, db_err, filter_sql, is_foreign_key_violation, memory_from_row, pool_err,
    record_from_row, refs, time_from_micros,
};

/// How long a request waits for a pooled connection, and for a new one to
/// be made, before it is answered 503: short, so `/ready` reports an
/// unreachable database quickly instead of hanging.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// pgvector's HNSW search breadth: at least this many candidates, more
/// when more results are asked for. Iterative scans keep walking the graph
/// when filters reject candidates, so filtered searches still fill up.
const EF_SEARCH_MIN: usize = 100;

/// Graph degree and build effort, matching the embedded store's usearch
/// settings.
const HNSW_M: usize = 16;
const HNSW_EF_CONSTRUCTION: usize = 128;

pub struct PgStore {
    pool: Pool,
}

const KEY_COLUMNS: &str = "id, tenant_id, name, scopes, hash, created_at";

fn key_from_row(r: &tokio_postgres::Row) -> ApiKey {
    let scopes: Vec<String> = r.get(3);
    ApiKey {
        id: r.get(0),
        tenant_id: r.get(1),
        name: r.get(2),
        scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
        hash: r.get(4),
        created_at: r.get(5),
    }
}

fn tenant_from_row(r: &tokio_postgres::Row) -> Tenant {
    Tenant {
        id: r.get(0),
        name: r.get(1),
        created_at: r.get(2),
    }
}

/// Confines the rest of the transaction to `tenant` (row-level security).
async fn set_tenant(tx: &Transaction<'_>, tenant: &str) -> Result<()> {
    tx.execute("SELECT set_config('engram.tenant', $1, true)", &[&tenant])
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Opens a transaction confined to `tenant`.
async fn tenant_tx<'a>(client: &'a mut Object, tenant: &str) -> Result<Transaction<'a>> {
    let tx = client.transaction().await.map_err(db_err)?;
    set_tenant(&tx, tenant).await?;
    Ok(tx)
}

/// Opens a search's transaction confined to `tenant`, whose statements
/// the server cancels when the search's deadline passes: dropping the
/// future that waits for a statement does not stop it on the server.
async fn search_tx<'a>(
    client: &'a mut Object,
    tenant: &str,
    cancel: &Cancel,
) -> Result<Transaction<'a>> {
    let remaining = cancel.remaining()?;
    let tx = tenant_tx(client, tenant).await?;
    if let Some(left) = remaining {
        let ms = left.as_millis().max(1).to_string();
        tx.execute("SELECT set_config('statement_timeout', $1, true)", &[&ms])
            .await
            .map_err(db_err)?;
    }
    Ok(tx)
}

impl PgStore {
    /// Connects with a pool of at most `pool_size` connections and applies
    /// pending migrations (under an advisory lock, so replicas starting
    /// together take turns).
    pub async fn connect(url: &str, pool_size: usize) -> Result<PgStore> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            Error::Internal(format!(
                "DATABASE_URL is not a PostgreSQL URL ({e}); expected postgres://user:password@host:5432/database"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("engram");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Internal(format!("database pool: {e}")))?;
        let store = PgStore { pool };
        let mut client = store.client().await.map_err(|e| {
            Error::Unavailable(format!(
                "cannot connect to DATABASE_URL: {e}; check that PostgreSQL runs and the URL's host, \
                 user and password are right"
            ))
        })?;
        let ran = schema::migrate(&mut client).await?;
        if ran > 0 {
            tracing::info!(ran, "database schema migrated");
        }
        Ok(store)
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(pool_err)
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn bind_embedding_space(&self, model_id: &str, dimension: usize) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        // Replicas starting together: one binds, the others then see it.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&schema::BIND_LOCK])
            .await
            .map_err(db_err)?;
        let stored = space(&tx).await?;
        match stored {
            Some((m, d)) if m != model_id || d != dimension => {
                return Err(Error::Internal(format!(
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

    async fn embedding_space(&self) -> Result<Option<(String, usize)>> {
        let client = self.client().await?;
        space(&client).await
    }

    async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        client.query_one("SELECT 1", &[]).await.map_err(db_err)?;
        Ok(())
    }

    /// Nothing is kept in memory (every write is durable at commit); the
    /// periodic call runs the shared upkeep instead, which one replica at a
    /// time claims.
    async fn flush(&self) -> Result<()> {
        limiter::upkeep(&self.client().await?).await
    }

    async fn create_tenant(&self, t: &Tenant) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO tenants(id, name, created_at) VALUES ($1, $2, $3)",
                &[&t.id, &t.name, &t.created_at],
            )
            .await
            .map_err(|e| match db_err(e) {
                Error::Conflict(_) => {
                    Error::Conflict(format!("a tenant named '{}' already exists", t.name))
                }
                other => other,
            })?;
        Ok(())
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT id, name, created_at FROM tenants ORDER BY seq", &[])
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(tenant_from_row).collect())
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id, name, created_at FROM tenants WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(db_err)?;
        Ok(row.as_ref().map(tenant_from_row))
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, id).await?;
        for table in ["memories", "idempotency", "lexical_stats"] {
            tx.execute(&format!("DELETE FROM {table} WHERE tenant_id = $1"), &[&id])
                .await
                .map_err(db_err)?;
        }
        // Keys go with the tenant row (ON DELETE CASCADE).
        let n = tx
            .execute("DELETE FROM tenants WHERE id = $1", &[&id])
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        let client = self.client().await?;
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        client
            .execute(
                &format!("INSERT INTO api_keys({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                &[
                    &key.id,
                    &key.tenant_id,
                    &key.name,
                    &scopes,
                    &key.hash,
                    &key.created_at,
                ],
            )
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    Error::NotFound(format!("tenant {}", key.tenant_id))
                } else {
                    db_err(e)
                }
            })?;
        Ok(())
    }

    async fn list_keys(&self, tenant_id: &str) -> Result<Vec<ApiKey>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id"
                ),
                &[&tenant_id],
            )
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    async fn delete_key(&self, tenant_id: &str, key_id: &str) -> Result<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2",
                &[&tenant_id, &key_id],
            )
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn find_key(&self, hash: &str) -> Result<Option<ApiKey>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"
            ))
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&hash]).await.map_err(db_err)?;
        Ok(row.as_ref().map(key_from_row))
    }

    async fn insert(
        &self,
        tenant_id: &str,
        records: Vec<Record>,
        idem: Option<Idempotency>,
    ) -> Result<InsertOutcome> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let missing_tenant = |e: tokio_postgres::Error| {
            if is_foreign_key_violation(&e) {
                Error::NotFound(format!("tenant {tenant_id}"))
            } else {
                db_err(e)
            }
        };
        if let Some(i) = &idem {
            let ids: Vec<&str> = records.iter().map(|r| r.memory.id.as_str()).collect();
            // A concurrent request with the same key waits here for the
            // first to commit, then finds the key taken.
            let n = tx
                .execute(
                    "INSERT INTO idempotency(tenant_id, key, fingerprint, ids, created_at) \
                     VALUES ($1, $2, $3, $4, now()) ON CONFLICT DO NOTHING",
                    &[&tenant_id, &i.key, &i.fingerprint, &ids],
                )
                .await
                .map_err(missing_tenant)?;
            if n == 0 {
                return Ok(InsertOutcome::KeyTaken);
            }
        }
        let stmt = tx
            .prepare_cached(
                "INSERT INTO memories(tenant_id, id, content, kind, user_id, agent_id, session_id, role, \
                 labels, metadata, importance, occurred_at, created_at, updated_at, embedding) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .await
            .map_err(db_err)?;
        for r in &records {
            let m = &r.memory;
            let metadata = serde_json::Value::Object(m.metadata.clone());
            tx.execute(
                &stmt,
                &[
                    &tenant_id,
                    &m.id,
                    &m.content,
                    &m.kind.as_str(),
                    &m.user_id,
                    &m.agent_id,
                    &m.session_id,
                    &m.role,
                    &m.labels,
                    &metadata,
                    &m.importance,
                    &m.occurred_at,
                    &m.created_at,
                    &m.updated_at,
                    &Vector::from(r.embedding.clone()),
                ],
            )
            .await
            .map_err(|e| match missing_tenant(e) {
                Error::Conflict(_) => {
                    Error::Conflict(format!("a memory with id {} already exists", m.id))
                }
                other => other,
            })?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(InsertOutcome::Inserted)
    }

    async fn idempotent_result(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<IdempotentResult>> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let row = tx
            .query_opt(
                "SELECT fingerprint, ids FROM idempotency WHERE tenant_id = $1 AND key = $2",
                &[&tenant_id, &key],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.map(|r| IdempotentResult {
            fingerprint: r.get(0),
            ids: r.get(1),
        }))
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<Memory>> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = $1 AND m.id = $2"
            ))
            .await
            .map_err(db_err)?;
        let row = tx
            .query_opt(&stmt, &[&tenant_id, &id])
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(row.as_ref().map(memory_from_row))
    }

    async fn get_records(&self, tenant_id: &str, ids: &[String]) -> Result<Vec<Record>> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS}, m.embedding FROM memories m \
                     WHERE m.tenant_id = $1 AND m.id = ANY($2)"
                ),
                &[&tenant_id, &ids],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(rows.iter().map(record_from_row).collect())
    }

    async fn update(
        &self,
        tenant_id: &str,
        m: &Memory,
        embedding: Option<Vec<f32>>,
    ) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let metadata = serde_json::Value::Object(m.metadata.clone());
        let embedding = embedding.map(Vector::from);
        let n = tx
            .execute(
                "UPDATE memories SET content = $3, kind = $4, user_id = $5, agent_id = $6, \
                 session_id = $7, role = $8, labels = $9, metadata = $10, importance = $11, \
                 occurred_at = $12, created_at = $13, updated_at = $14, \
                 embedding = coalesce($15, embedding) \
                 WHERE tenant_id = $1 AND id = $2",
                &[
                    &tenant_id,
                    &m.id,
                    &m.content,
                    &m.kind.as_str(),
                    &m.user_id,
                    &m.agent_id,
                    &m.session_id,
                    &m.role,
                    &m.labels,
                    &metadata,
                    &m.importance,
                    &m.occurred_at,
                    &m.created_at,
                    &m.updated_at,
                    &embedding,
                ],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn delete(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let n = tx
            .execute(
                "DELETE FROM memories WHERE tenant_id = $1 AND id = $2",
                &[&tenant_id, &id],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn list(
        &self,
        tenant_id: &str,
        filter: &Filter,
        limit: usize,
        after: Option<&Cursor>,
    ) -> Result<Vec<Memory>> {
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_string())];
        let mut sql = format!("SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = $1");
        sql.push_str(&filter_sql(filter, &mut params));
        if let Some(cur) = after {
            params.push(Box::new(time_from_micros(cur.occurred_at_us)));
            params.push(Box::new(cur.id.clone()));
            sql.push_str(&format!(
                " AND (m.occurred_at, m.id) < (${}, ${})",
                params.len() - 1,
                params.len()
            ));
        }
        params.push(Box::new(limit as i64));
        sql.push_str(&format!(
            " ORDER BY m.occurred_at DESC, m.id DESC LIMIT ${}",
            params.len()
        ));
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let rows = tx.query(&sql, &refs(&params)).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(rows.iter().map(memory_from_row).collect())
    }

    async fn export_page(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {COLUMNS}, m.embedding FROM memories m \
                     WHERE m.tenant_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3"
                ),
                &[&tenant_id, &after.unwrap_or(""), &(limit as i64)],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(rows.iter().map(record_from_row).collect())
    }

    async fn delete_where(&self, tenant_id: &str, filter: &Filter) -> Result<u64> {
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_string())];
        let sql = format!(
            "DELETE FROM memories m WHERE m.tenant_id = $1{}",
            filter_sql(filter, &mut params)
        );
        let mut client = self.client().await?;
        let tx = tenant_tx(&mut client, tenant_id).await?;
        let n = tx.execute(&sql, &refs(&params)).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }

    /// Sums the per-tenant counts, each read inside its own tenant: this
    /// cross-tenant total (for `/metrics`) goes through row-level security
    /// like everything else.
    async fn count_memories(&self) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let tenants: Vec<String> = tx
            .query("SELECT id FROM tenants", &[])
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut total = 0i64;
        for t in tenants {
            set_tenant(&tx, &t).await?;
            let row = tx
                .query_one(
                    "SELECT coalesce(sum(docs), 0)::bigint FROM lexical_stats WHERE tenant_id = $1",
                    &[&t],
                )
                .await
                .map_err(db_err)?;
            total += row.get::<_, i64>(0);
        }
        tx.commit().await.map_err(db_err)?;
        Ok(total.max(0) as u64)
    }

    async fn lexical_search(
        &self,
        tenant_id: &str,
        terms: &[String],
        filter: &Filter,
        limit: usize,
        cancel: &Cancel,
    ) -> Result<Vec<Hit>> {
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
        let mut client = self.client().await?;
        let tx = search_tx(&mut client, tenant_id, cancel).await?;
        let rows = tx.query(&sql, &refs(&params)).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| Hit {
                id: r.get(0),
                score: r.get::<_, f64>(1) as f32,
            })
            .collect())
    }

    async fn vector_search(
        &self,
        tenant_id: &str,
        query: &[f32],
        filter: &Filter,
        limit: usize,
        cancel: &Cancel,
    ) -> Result<Vec<Hit>> {
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
        let mut client = self.client().await?;
        let tx = search_tx(&mut client, tenant_id, cancel).await?;
        tx.execute(
            "SELECT set_config('hnsw.ef_search', $1, true), \
             set_config('hnsw.iterative_scan', 'strict_order', true)",
            &[&limit.max(EF_SEARCH_MIN).to_string()],
        )
        .await
        .map_err(db_err)?;
        let rows = tx.query(&sql, &refs(&params)).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| Hit {
                id: r.get(0),
                score: r.get::<_, f64>(1) as f32,
            })
            .collect())
    }

    async fn take_token(&self, bucket: &str, per_second: f64, burst: f64) -> Result<Throttle> {
        let client = self.client().await?;
        limiter::take(&client, bucket, per_second, burst).await
    }
}

async fn space(c: &impl GenericClient) -> Result<Option<(String, usize)>> {
    let row = c
        .query_opt(
            "SELECT m.value, d.value FROM meta m, meta d \
             WHERE m.key = 'embedding_model' AND d.key = 'embedding_dimension'",
            &[],
        )
        .await
        .map_err(db_err)?;
    Ok(row.and_then(|r| {
        let d: String = r.get(1);
        Some((r.get(0), d.parse().ok()?))
    }))
}
