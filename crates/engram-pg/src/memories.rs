//! Memories: writes (with their idempotency keys), reads by id, listing,
//! export and deletion, each inside its tenant's transaction.

use pgvector::Vector;

use engram_core::{Code, Error, Filter, Memory, Result};
use engram_store::{Idempotency, IdempotentResult, InsertOutcome, Listing, Record};

use crate::rows::{self, COLUMNS, Stored, all};
use crate::sql::{
    MemoryRow, Param, conflict_on_unique, db_err, filter_sql, insert_memory_sql,
    is_foreign_key_violation, refs, time_from_micros, update_memory_sql,
};
use crate::{PgStore, set_tenant};

/// Records the idempotency key for `ids` in the caller's transaction;
/// false when another request holds it. A concurrent request with the
/// same key waits here for the first to commit, then finds the key taken
/// (and its transaction commits nothing).
pub async fn claim_key(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: &str,
    idem: Option<&Idempotency>,
    ids: &[&str],
) -> std::result::Result<bool, tokio_postgres::Error> {
    let Some(i) = idem else { return Ok(true) };
    let n = tx
        .execute(
            "INSERT INTO idempotency(tenant_id, key, fingerprint, ids, created_at) \
             VALUES ($1, $2, $3, $4, now()) ON CONFLICT DO NOTHING",
            &[&tenant_id, &i.key, &i.fingerprint, &ids],
        )
        .await?;
    Ok(n > 0)
}

/// Inserts the records in the caller's transaction; an id already taken
/// is a conflict, another database error goes through `other`.
pub async fn insert_rows<'r>(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: &str,
    records: impl Iterator<Item = &'r Record>,
    other: impl Fn(tokio_postgres::Error) -> Error + Copy,
) -> Result<()> {
    let stmt = tx
        .prepare_cached(&insert_memory_sql())
        .await
        .map_err(db_err)?;
    for r in records {
        let embedding = Vector::from(r.embedding.clone());
        tx.execute(
            &stmt,
            &MemoryRow::new(tenant_id, &r.memory).params(&embedding),
        )
        .await
        .map_err(|e| {
            conflict_on_unique(e, Code::MemoryIdTaken, other, || {
                format!("a memory with id {} already exists", r.memory.id)
            })
        })?;
    }
    Ok(())
}

pub async fn insert(
    store: &PgStore,
    tenant_id: &str,
    records: &[Record],
    idem: Option<&Idempotency>,
) -> Result<InsertOutcome> {
    let missing_tenant = |e: tokio_postgres::Error| {
        if is_foreign_key_violation(&e) {
            Error::not_found(format!("tenant {tenant_id}"))
        } else {
            db_err(e)
        }
    };
    store
        .with_tenant(tenant_id, async |tx| {
            let ids: Vec<&str> = records.iter().map(|r| r.memory.id.as_str()).collect();
            if !claim_key(tx, tenant_id, idem, &ids)
                .await
                .map_err(missing_tenant)?
            {
                return Ok(InsertOutcome::KeyTaken);
            }
            insert_rows(tx, tenant_id, records.iter(), missing_tenant).await?;
            Ok(InsertOutcome::Inserted)
        })
        .await
}

pub async fn idempotent_result(
    store: &PgStore,
    tenant_id: &str,
    key: &str,
) -> Result<Option<IdempotentResult>> {
    let rows = store
        .tenant_query(
            tenant_id,
            "SELECT fingerprint, ids FROM idempotency WHERE tenant_id = $1 AND key = $2",
            &[&tenant_id, &key],
        )
        .await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let s = Stored::named(r, format!("idempotency row of key {key}"));
    Ok(Some(IdempotentResult {
        fingerprint: s.get(0)?,
        ids: s.get(1)?,
    }))
}

pub async fn get(store: &PgStore, tenant_id: &str, id: &str) -> Result<Option<Memory>> {
    let row = store
        .with_tenant(tenant_id, async |tx| {
            let stmt = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = $1 AND m.id = $2"
                ))
                .await
                .map_err(db_err)?;
            tx.query_opt(&stmt, &[&tenant_id, &id])
                .await
                .map_err(db_err)
        })
        .await?;
    row.as_ref().map(rows::memory).transpose()
}

pub async fn get_records(store: &PgStore, tenant_id: &str, ids: &[String]) -> Result<Vec<Record>> {
    let rows = store
        .tenant_query(
            tenant_id,
            &format!(
                "SELECT {COLUMNS}, m.embedding FROM memories m \
                 WHERE m.tenant_id = $1 AND m.id = ANY($2)"
            ),
            &[&tenant_id, &ids],
        )
        .await?;
    all(&rows, rows::record)
}

pub async fn update(
    store: &PgStore,
    tenant_id: &str,
    m: &Memory,
    embedding: Option<Vec<f32>>,
) -> Result<bool> {
    let embedding = embedding.map(Vector::from);
    let n = store
        .tenant_execute(
            tenant_id,
            &update_memory_sql(),
            &MemoryRow::new(tenant_id, m).params(&embedding),
        )
        .await?;
    Ok(n > 0)
}

pub async fn delete(store: &PgStore, tenant_id: &str, id: &str) -> Result<bool> {
    let n = store
        .tenant_execute(
            tenant_id,
            "DELETE FROM memories WHERE tenant_id = $1 AND id = $2",
            &[&tenant_id, &id],
        )
        .await?;
    Ok(n > 0)
}

pub async fn list(store: &PgStore, tenant_id: &str, listing: &Listing<'_>) -> Result<Vec<Memory>> {
    let Listing {
        filter,
        limit,
        after,
    } = *listing;
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_string())];
    let mut sql = format!("SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = $1");
    sql.push_str(&filter_sql(filter, &mut params));
    if let Some(cur) = after {
        params.push(Box::new(time_from_micros(cur.occurred_at_us)?));
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
    let rows = store.tenant_query(tenant_id, &sql, &refs(&params)).await?;
    all(&rows, rows::memory)
}

pub async fn export_page(
    store: &PgStore,
    tenant_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Record>> {
    let rows = store
        .tenant_query(
            tenant_id,
            &format!(
                "SELECT {COLUMNS}, m.embedding FROM memories m \
                 WHERE m.tenant_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3"
            ),
            &[&tenant_id, &after.unwrap_or(""), &(limit as i64)],
        )
        .await?;
    all(&rows, rows::record)
}

pub async fn delete_where(store: &PgStore, tenant_id: &str, filter: &Filter) -> Result<u64> {
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_string())];
    let sql = format!(
        "DELETE FROM memories m WHERE m.tenant_id = $1{}",
        filter_sql(filter, &mut params)
    );
    store.tenant_execute(tenant_id, &sql, &refs(&params)).await
}

/// Sums the per-tenant counts, each read inside its own tenant: this
/// cross-tenant total (for `/metrics`) goes through row-level security
/// like everything else, in one transaction so it is one snapshot.
pub async fn count(store: &PgStore) -> Result<u64> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db_err)?;
    let tenants = tx
        .query("SELECT id FROM tenants", &[])
        .await
        .map_err(db_err)?;
    let mut total = 0u64;
    for t in &tenants {
        let tenant: &str = Stored::new(t, "tenants", 0).get(0)?;
        set_tenant(&tx, tenant).await?;
        let row = tx
            .query_one(
                "SELECT coalesce(sum(docs), 0)::bigint FROM lexical_stats WHERE tenant_id = $1",
                &[&tenant],
            )
            .await
            .map_err(db_err)?;
        let stats = Stored::named(&row, format!("lexical_stats row {tenant}"));
        total += stats.parse(0, |docs: i64| {
            u64::try_from(docs).map_err(|_| format!("a negative document count ({docs})"))
        })?;
    }
    tx.commit().await.map_err(db_err)?;
    Ok(total)
}
