//! The PostgreSQL + pgvector store: any number of stateless engram
//! replicas over one database.
//!
//! Everything a request needs lives in the database (memories, keys,
//! idempotency results, rate-limit buckets), so any replica can answer any
//! request. Dense search uses a pgvector HNSW index; lexical search ranks
//! with BM25 computed in SQL from the `tsvector` term frequencies and
//! per-tenant statistics (see [`lexical`]).
//!
//! Every tenant-scoped operation runs inside [`PgStore::with_tenant`], a
//! transaction that first sets `engram.tenant`; row-level security (see
//! [`schema`]) then hides every other tenant's rows even from a query that
//! forgot its tenant condition.
//!
//! Rows are read back through [`rows::Stored`]: a column that no longer
//! has the type or the values engram writes is [`Error::inconsistent`]
//! naming the row, never a panic and never a default.
//!
//! The [`Store`] implementation below only delegates, one file per
//! concern: [`tenants`] (tenants and keys), [`memories`], [`search`],
//! [`space`] (the embedding space) and [`limiter`].

mod conversations;
mod documents;
mod erasure;
mod facts;
mod graph;
mod jobs;
mod lexical;
mod lifecycle;
mod limiter;
mod memories;
mod metering;
mod rows;
mod schema;
mod search;
mod space;
mod sql;
mod tenants;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use engram_core::tenant::{ApiKey, Tenant};
use engram_core::{Error, Filter, Memory, Result};
use engram_store::{
    Hit, Idempotency, IdempotentResult, InsertOutcome, Listing, Record, Retrieval, Store, Throttle,
};

use sql::{db_err, pool_err};

/// How long a request waits for a pooled connection, and for a new one to
/// be made, before it is answered 503: short, so `/ready` reports an
/// unreachable database quickly instead of hanging.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects with a pool of at most `pool_size` connections and applies
    /// pending migrations (under an advisory lock, so replicas starting
    /// together take turns).
    pub async fn connect(url: &str, pool_size: usize) -> Result<PgStore> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            Error::internal(format!(
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
            .map_err(|e| Error::internal(format!("database pool: {e}")))?;
        let store = PgStore { pool };
        let mut client = store.client().await.map_err(|e| {
            Error::unavailable(format!(
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

    /// Runs `body` in a transaction confined to `tenant` and commits what
    /// it did; an error (or a panic) rolls everything back instead.
    async fn with_tenant<T>(
        &self,
        tenant: &str,
        body: impl AsyncFnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        set_tenant(&tx, tenant).await?;
        let out = body(&tx).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    /// One query inside `tenant`.
    async fn tenant_query(
        &self,
        tenant: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        self.with_tenant(tenant, async |tx| {
            tx.query(sql, params).await.map_err(db_err)
        })
        .await
    }

    /// One statement inside `tenant`; returns the number of rows it changed.
    async fn tenant_execute(
        &self,
        tenant: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64> {
        self.with_tenant(tenant, async |tx| {
            tx.execute(sql, params).await.map_err(db_err)
        })
        .await
    }
}

/// Confines the rest of the transaction to `tenant` (row-level security).
async fn set_tenant(tx: &Transaction<'_>, tenant: &str) -> Result<()> {
    tx.execute("SELECT set_config('engram.tenant', $1, true)", &[&tenant])
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn bind_embedding_space(&self, model_id: &str, dimension: usize) -> Result<()> {
        space::bind(self, model_id, dimension).await
    }

    async fn embedding_space(&self) -> Result<Option<(String, usize)>> {
        space::read(&self.client().await?).await
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
        tenants::create(self, t).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        tenants::list(self).await
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>> {
        tenants::get(self, id).await
    }

    async fn delete_tenant(&self, id: &str) -> Result<bool> {
        tenants::delete(self, id).await
    }

    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        tenants::create_key(self, key).await
    }

    async fn list_keys(&self, tenant_id: &str) -> Result<Vec<ApiKey>> {
        tenants::list_keys(self, tenant_id).await
    }

    async fn delete_key(&self, tenant_id: &str, key_id: &str) -> Result<bool> {
        tenants::delete_key(self, tenant_id, key_id).await
    }

    async fn find_key(&self, hash: &str) -> Result<Option<ApiKey>> {
        tenants::find_key(self, hash).await
    }

    async fn insert(
        &self,
        tenant_id: &str,
        records: Vec<Record>,
        idem: Option<Idempotency>,
    ) -> Result<InsertOutcome> {
        memories::insert(self, tenant_id, &records, idem.as_ref()).await
    }

    async fn idempotent_result(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<IdempotentResult>> {
        memories::idempotent_result(self, tenant_id, key).await
    }

    async fn get(&self, tenant_id: &str, id: &str) -> Result<Option<Memory>> {
        memories::get(self, tenant_id, id).await
    }

    async fn get_records(&self, tenant_id: &str, ids: &[String]) -> Result<Vec<Record>> {
        memories::get_records(self, tenant_id, ids).await
    }

    async fn update(
        &self,
        tenant_id: &str,
        m: &Memory,
        embedding: Option<Vec<f32>>,
    ) -> Result<bool> {
        memories::update(self, tenant_id, m, embedding).await
    }

    async fn delete(&self, tenant_id: &str, id: &str) -> Result<bool> {
        memories::delete(self, tenant_id, id).await
    }

    async fn list(&self, tenant_id: &str, listing: &Listing<'_>) -> Result<Vec<Memory>> {
        memories::list(self, tenant_id, listing).await
    }

    async fn export_page(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        memories::export_page(self, tenant_id, after, limit).await
    }

    async fn delete_where(&self, tenant_id: &str, filter: &Filter) -> Result<u64> {
        memories::delete_where(self, tenant_id, filter).await
    }

    async fn count_memories(&self) -> Result<u64> {
        memories::count(self).await
    }

    async fn lexical_search(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>> {
        search::lexical(self, tenant_id, q).await
    }

    async fn vector_search(&self, tenant_id: &str, q: &Retrieval<'_>) -> Result<Vec<Hit>> {
        search::vector(self, tenant_id, q).await
    }

    async fn take_token(&self, bucket: &str, per_second: f64, burst: f64) -> Result<Throttle> {
        limiter::take(&self.client().await?, bucket, per_second, burst).await
    }
}
