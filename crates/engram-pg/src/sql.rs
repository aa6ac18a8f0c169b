//! Mapping between PostgreSQL rows and engine types, filter clauses and
//! error classification.

use chrono::{DateTime, Utc};
use deadpool_postgres::PoolError;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use engram_core::{Error, Filter, Kind, Memory};
use engram_store::Record;

/// Column list matching [`memory_from_row`] (and `embedding` last).
pub const COLUMNS: &str = "m.id, m.content, m.kind, m.user_id, m.agent_id, m.session_id, m.role, \
     m.labels, m.metadata, m.importance, m.occurred_at, m.created_at, m.updated_at";

/// A query parameter of any type.
pub type Param = Box<dyn ToSql + Sync + Send>;

pub fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

pub fn memory_from_row(r: &Row) -> Memory {
    let kind: String = r.get(2);
    let metadata: serde_json::Value = r.get(8);
    Memory {
        id: r.get(0),
        content: r.get(1),
        kind: Kind::parse(&kind).unwrap_or_default(),
        user_id: r.get(3),
        agent_id: r.get(4),
        session_id: r.get(5),
        role: r.get(6),
        labels: r.get(7),
        metadata: match metadata {
            serde_json::Value::Object(m) => m,
            _ => Default::default(),
        },
        importance: r.get(9),
        occurred_at: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
    }
}

pub fn record_from_row(r: &Row) -> Record {
    let embedding: pgvector::Vector = r.get(13);
    Record {
        memory: memory_from_row(r),
        embedding: embedding.to_vec(),
    }
}

/// `AND ...` conditions on alias `m` for `f`, numbering parameters after
/// those already in `params`.
pub fn filter_sql(f: &Filter, params: &mut Vec<Param>) -> String {
    let mut sql = String::new();
    let mut push = |sql: &mut String, cond: &str, p: Param| {
        params.push(p);
        sql.push_str(&cond.replace('?', &format!("${}", params.len())));
    };
    for (col, v) in [
        ("user_id", &f.user_id),
        ("agent_id", &f.agent_id),
        ("session_id", &f.session_id),
    ] {
        if let Some(v) = v {
            push(&mut sql, &format!(" AND m.{col} = ?"), Box::new(v.clone()));
        }
    }
    if let Some(k) = f.kind {
        push(
            &mut sql,
            " AND m.kind = ?",
            Box::new(k.as_str().to_string()),
        );
    }
    if !f.labels.is_empty() {
        push(&mut sql, " AND m.labels @> ?", Box::new(f.labels.clone()));
    }
    if let Some(a) = f.after {
        push(&mut sql, " AND m.occurred_at >= ?", Box::new(a));
    }
    if let Some(b) = f.before {
        push(&mut sql, " AND m.occurred_at < ?", Box::new(b));
    }
    sql
}

pub fn time_from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Connection trouble is `Unavailable` (503, retry later; `/ready` turns
/// red); a statement cancelled (a search past its deadline) is the
/// cancellation error; constraint violations are the caller's conflict;
/// the rest is a bug worth a 500 and a log line.
pub fn db_err(e: tokio_postgres::Error) -> Error {
    match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => engram_core::cancel::cancelled(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => Error::Conflict(
            e.as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string()),
        ),
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => {
            Error::Unavailable(format!("database unavailable: {e}"))
        }
        Some(_) => Error::Internal(format!("database: {}", detail(&e))),
        None => Error::Unavailable(format!("database unavailable: {e}")),
    }
}

fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

pub fn pool_err(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => db_err(e),
        other => Error::Unavailable(format!("database unavailable: {other}")),
    }
}

pub fn is_foreign_key_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}
