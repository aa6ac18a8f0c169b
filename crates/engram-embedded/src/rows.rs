//! Mapping between SQLite rows and engine types, and filter clauses.

use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::Value;

use engram_core::query::Condition;
use engram_core::{Error, Filter, Kind, Memory, Result};

use engram_store::Record;

/// Column list matching [`memory_from_row`] (and `embedding` last).
pub const COLUMNS: &str = "m.id, m.content, m.kind, m.user_id, m.agent_id, m.session_id, m.role, \
     m.labels, m.metadata, m.importance, m.occurred_at, m.created_at, m.updated_at";

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Microseconds as stored; out of range reads as the epoch.
pub fn time(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn memory_from_row(r: &Row<'_>) -> rusqlite::Result<Memory> {
    let kind: String = r.get(2)?;
    let labels: String = r.get(7)?;
    let metadata: String = r.get(8)?;
    Ok(Memory {
        id: r.get(0)?,
        content: r.get(1)?,
        kind: Kind::parse(&kind).unwrap_or_default(),
        user_id: r.get(3)?,
        agent_id: r.get(4)?,
        session_id: r.get(5)?,
        role: r.get(6)?,
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        importance: r.get::<_, f64>(9)? as f32,
        occurred_at: time(r.get(10)?),
        created_at: time(r.get(11)?),
        updated_at: time(r.get(12)?),
    })
}

pub fn record_from_row(r: &Row<'_>) -> rusqlite::Result<Record> {
    let blob: Vec<u8> = r.get(13)?;
    Ok(Record {
        memory: memory_from_row(r)?,
        embedding: vector_from_blob(&blob),
    })
}

/// Vectors are stored as little-endian f32 bytes: compact, and exact.
pub fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn vector_from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The values of a memory's columns, in `INSERT` order after `tenant_id`.
pub fn memory_values(m: &Memory) -> Result<Vec<Value>> {
    Ok(vec![
        Value::Text(m.content.clone()),
        Value::Text(m.kind.as_str().into()),
        opt(&m.user_id),
        opt(&m.agent_id),
        opt(&m.session_id),
        opt(&m.role),
        Value::Text(serde_json::to_string(&m.labels).map_err(Error::internal)?),
        Value::Text(serde_json::to_string(&m.metadata).map_err(Error::internal)?),
        Value::Real(m.importance as f64),
        Value::Integer(micros(m.occurred_at)),
        Value::Integer(micros(m.created_at)),
        Value::Integer(micros(m.updated_at)),
    ])
}

fn opt(v: &Option<String>) -> Value {
    v.clone().map_or(Value::Null, Value::Text)
}

/// `AND ...` conditions on alias `m` for `f`, pushing their parameters:
/// the SQLite translation of [`Condition`], nothing more.
pub fn filter_sql(f: &Filter, params: &mut Vec<Value>) -> String {
    let mut sql = String::new();
    for c in f.conditions() {
        let (clause, value) = match c {
            Condition::Equals(field, v) => (
                format!(" AND m.{} = ?", field.column()),
                Value::Text(v.into()),
            ),
            Condition::HasLabel(l) => (
                " AND EXISTS (SELECT 1 FROM json_each(m.labels) WHERE json_each.value = ?)".into(),
                Value::Text(l.into()),
            ),
            Condition::OccurredFrom(t) => {
                (" AND m.occurred_at >= ?".into(), Value::Integer(micros(t)))
            }
            Condition::OccurredBefore(t) => {
                (" AND m.occurred_at < ?".into(), Value::Integer(micros(t)))
            }
        };
        sql.push_str(&clause);
        params.push(value);
    }
    sql
}

pub fn sql_err(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Error::Unavailable(format!("embedded store busy: {e}"))
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
            Error::Unavailable("embedded store: disk full; free space in ENGRAM_DATA_DIR".into())
        }
        other => Error::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_blobs() {
        let v = vec![0.25, -1.5, f32::MIN_POSITIVE];
        assert_eq!(vector_from_blob(&vector_to_blob(&v)), v);
    }

    #[test]
    fn filter_sql_binds_every_condition() {
        let f = Filter {
            user_id: Some("u".into()),
            labels: vec!["x".into(), "y".into()],
            ..Default::default()
        };
        let mut p = Vec::new();
        let sql = filter_sql(&f, &mut p);
        assert_eq!(sql.matches('?').count(), p.len());
        assert_eq!(p.len(), 3);
    }
}
