//! Writing engine types as query parameters, filter clauses and error
//! classification (reading rows back is [`crate::rows`]).

use chrono::{DateTime, Utc};
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};

use engram_core::query::Condition;
use engram_core::{Code, Error, Filter, Memory, Result};

/// A query parameter of any type.
pub type Param = Box<dyn ToSql + Sync + Send>;

pub fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The memory columns a write sets, bound by [`MemoryRow::params`] to
/// `$3`..`$19` (after `$1` tenant and `$2` id; `$20` is the embedding).
const WRITTEN: &str = "content, kind, user_id, agent_id, session_id, role, labels, metadata, \
     importance, occurred_at, created_at, updated_at, valid_from, valid_to, sources, version, \
     version_of";
const WRITTEN_PARAMS: &str =
    "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19";

/// Inserts one memory ([`MemoryRow::params`]).
pub fn insert_memory_sql() -> String {
    format!(
        "INSERT INTO memories(tenant_id, id, {WRITTEN}, embedding) \
         VALUES ($1, $2, {WRITTEN_PARAMS}, $20)"
    )
}

/// Replaces one memory ([`MemoryRow::params`]); a NULL embedding keeps the
/// stored one.
pub fn update_memory_sql() -> String {
    format!(
        "UPDATE memories SET ({WRITTEN}, embedding) = ({WRITTEN_PARAMS}, coalesce($20, embedding)) \
         WHERE tenant_id = $1 AND id = $2"
    )
}

/// A memory's column values, bound the same way by INSERT and UPDATE.
pub struct MemoryRow<'m> {
    tenant: &'m str,
    m: &'m Memory,
    kind: &'static str,
    metadata: Json<&'m serde_json::Map<String, serde_json::Value>>,
    version: i32,
}

impl<'m> MemoryRow<'m> {
    pub fn new(tenant: &'m str, m: &'m Memory) -> MemoryRow<'m> {
        MemoryRow {
            tenant,
            m,
            kind: m.kind.as_str(),
            metadata: Json(&m.metadata),
            // At most u32::MAX by type; a fact is versioned by people and
            // by its extractor, far below i32::MAX times.
            version: i32::try_from(m.temporal.version).unwrap_or(i32::MAX),
        }
    }

    /// `$1`..`$20` of [`insert_memory_sql`] and [`update_memory_sql`].
    pub fn params<'a>(&'a self, embedding: &'a (dyn ToSql + Sync)) -> [&'a (dyn ToSql + Sync); 20] {
        let m = self.m;
        [
            &self.tenant,
            &m.id,
            &m.content,
            &self.kind,
            &m.user_id,
            &m.agent_id,
            &m.session_id,
            &m.role,
            &m.labels,
            &self.metadata,
            &m.importance,
            &m.occurred_at,
            &m.created_at,
            &m.updated_at,
            &m.temporal.valid_from,
            &m.temporal.valid_to,
            &m.temporal.sources,
            &self.version,
            &m.temporal.version_of,
            embedding,
        ]
    }
}

/// `AND ...` conditions on alias `m` for `f`, numbering their parameters
/// after those already in `params`: the PostgreSQL translation of
/// [`Condition`], nothing more.
pub fn filter_sql(f: &Filter, params: &mut Vec<Param>) -> String {
    let mut sql = String::new();
    for c in f.conditions() {
        let (clause, value): (String, Param) = match c {
            Condition::Equals(field, v) => (
                format!(" AND m.{} = ?", field.column()),
                Box::new(v.to_string()),
            ),
            Condition::HasLabel(l) => (" AND m.labels @> ?".into(), Box::new(vec![l.to_string()])),
            Condition::OccurredFrom(t) => (" AND m.occurred_at >= ?".into(), Box::new(t)),
            Condition::OccurredBefore(t) => (" AND m.occurred_at < ?".into(), Box::new(t)),
            Condition::ValidAt(t) => (
                " AND (m.valid_from IS NULL OR m.valid_from <= ?) \
                 AND (m.valid_to IS NULL OR m.valid_to > ?)"
                    .into(),
                Box::new(t),
            ),
        };
        params.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", params.len())));
    }
    sql
}

/// A cursor's time; one outside the representable range (about 262,000
/// years either side of 1970) was never issued by this server.
pub fn time_from_micros(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::invalid("cursor", "is not a cursor returned by this server"))
}

/// Connection trouble is `Unavailable` (503, retry later; `/ready` turns
/// red); a statement cancelled (a search past its deadline) is the
/// cancellation error; constraint violations the caller expects it names
/// itself ([`conflict_on_unique`]); the rest is a bug worth a 500 and a
/// log line.
pub fn db_err(e: tokio_postgres::Error) -> Error {
    match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => engram_core::cancel::cancelled(),
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => {
            Error::unavailable(format!("database unavailable: {e}"))
        }
        Some(_) => Error::internal(format!("database: {}", detail(&e))),
        None => Error::unavailable(format!("database unavailable: {e}")),
    }
}

/// A write into a tenant table whose tenant is gone (its foreign key,
/// named `<table>_tenant_id_fkey`, violated) as the tenant not found.
pub fn tenant_missing(tenant_id: &str) -> impl FnOnce(Error) -> Error + '_ {
    move |e| {
        if e.to_string().contains("_tenant_id_fkey") {
            Error::not_found(format!("tenant {tenant_id}"))
        } else {
            e
        }
    }
}

fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

/// A unique violation as the conflict `code` (the constraint the caller
/// expects: a taken name or id), any other error as `other` maps it.
pub fn conflict_on_unique(
    e: tokio_postgres::Error,
    code: Code,
    other: impl FnOnce(tokio_postgres::Error) -> Error,
    message: impl FnOnce() -> String,
) -> Error {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        Error::conflict(code, message())
    } else {
        other(e)
    }
}

pub fn pool_err(e: PoolError) -> Error {
    match e {
        PoolError::Backend(e) => db_err(e),
        other => Error::unavailable(format!("database unavailable: {other}")),
    }
}

pub fn is_foreign_key_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}
