//! Mapping between SQLite rows and engine types, and filter clauses.
//!
//! A stored value that does not read back (a kind no engram writes, labels
//! or metadata that are not JSON, a time out of range) is an
//! [`Error::inconsistent`] naming the row, never a default: a default would
//! be served, exported and backed up as if it were what was stored.

use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::Value;

use engram_core::query::Condition;
use engram_core::temporal::Temporal;
use engram_core::{Error, Filter, Kind, Memory, Result};

use engram_store::Record;

/// Column list matching [`memory_from_row`] (and `embedding` last).
pub const COLUMNS: &str = "m.id, m.content, m.kind, m.user_id, m.agent_id, m.session_id, m.role, \
     m.labels, m.metadata, m.importance, m.occurred_at, m.created_at, m.updated_at, \
     m.valid_from, m.valid_to, m.sources, m.version, m.version_of";
/// The index of `m.embedding` when it follows [`COLUMNS`]; columns a query
/// selects after it come next.
pub const EMBEDDING: usize = 18;

/// The columns [`memory_values`] gives, in order, for INSERT and UPDATE.
pub const WRITTEN: [&str; 17] = [
    "content",
    "kind",
    "user_id",
    "agent_id",
    "session_id",
    "role",
    "labels",
    "metadata",
    "importance",
    "occurred_at",
    "created_at",
    "updated_at",
    "valid_from",
    "valid_to",
    "sources",
    "version",
    "version_of",
];

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Microseconds as stored, or why they are not a time.
pub fn time(us: i64) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| format!("time {us} µs is out of range"))
}

/// A stored value that does not read back, as the error of a row closure:
/// [`sql_err`] turns it back into the [`Error::inconsistent`] it carries.
/// `what` names the row (table and id, never its content).
pub fn inconsistent(what: impl Into<String>, reason: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Null,
        Box::new(Error::inconsistent(what, reason)),
    )
}

/// A column's value read back, or an error naming the row and column.
pub fn read_back<T>(
    row: &str,
    column: &str,
    value: std::result::Result<T, String>,
) -> rusqlite::Result<T> {
    value.map_err(|e| inconsistent(row, format!("{column}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> std::result::Result<T, String> {
    serde_json::from_str(s).map_err(|e| format!("not the JSON engram writes ({e})"))
}

pub fn memory_from_row(r: &Row<'_>) -> rusqlite::Result<Memory> {
    let id: String = r.get(0)?;
    let row = format!("memories row {id}");
    let kind: String = r.get(2)?;
    let labels: String = r.get(7)?;
    let metadata: String = r.get(8)?;
    let importance: f64 = r.get(9)?;
    let at = |i, column| read_back(&row, column, time(r.get(i)?));
    let maybe_at = |i, column| -> rusqlite::Result<Option<DateTime<Utc>>> {
        r.get::<_, Option<i64>>(i)?
            .map(|us| read_back(&row, column, time(us)))
            .transpose()
    };
    let sources: String = r.get(15)?;
    let version: i64 = r.get(16)?;
    let temporal = Temporal {
        valid_from: maybe_at(13, "valid_from")?,
        valid_to: maybe_at(14, "valid_to")?,
        sources: read_back(&row, "sources", json(&sources))?,
        version: read_back(
            &row,
            "version",
            u32::try_from(version)
                .ok()
                .filter(|v| *v >= 1)
                .ok_or("not a version engram writes".into()),
        )?,
        version_of: r.get(17)?,
    };
    Ok(Memory {
        content: r.get(1)?,
        kind: read_back(
            &row,
            "kind",
            Kind::parse(&kind).ok_or("not a kind engram writes".into()),
        )?,
        user_id: r.get(3)?,
        agent_id: r.get(4)?,
        session_id: r.get(5)?,
        role: r.get(6)?,
        labels: read_back(&row, "labels", json(&labels))?,
        metadata: read_back(&row, "metadata", json(&metadata))?,
        importance: read_back(
            &row,
            "importance",
            (importance.is_finite())
                .then_some(importance as f32)
                .ok_or("not a finite number".into()),
        )?,
        occurred_at: at(10, "occurred_at")?,
        created_at: at(11, "created_at")?,
        updated_at: at(12, "updated_at")?,
        temporal,
        id,
    })
}

pub fn record_from_row(r: &Row<'_>) -> rusqlite::Result<Record> {
    let memory = memory_from_row(r)?;
    let blob: Vec<u8> = r.get(EMBEDDING)?;
    if !blob.len().is_multiple_of(4) {
        return Err(inconsistent(
            format!("memories row {}", memory.id),
            format!("embedding: {} bytes, not whole 32-bit floats", blob.len()),
        ));
    }
    Ok(Record {
        memory,
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
        m.temporal
            .valid_from
            .map_or(Value::Null, |t| Value::Integer(micros(t))),
        m.temporal
            .valid_to
            .map_or(Value::Null, |t| Value::Integer(micros(t))),
        Value::Text(serde_json::to_string(&m.temporal.sources).map_err(Error::internal)?),
        Value::Integer(i64::from(m.temporal.version)),
        opt(&m.temporal.version_of),
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
        let (clause, values) = match c {
            Condition::ValidAt(t) => (
                " AND (m.valid_from IS NULL OR m.valid_from <= ?) \
                 AND (m.valid_to IS NULL OR m.valid_to > ?)"
                    .into(),
                vec![Value::Integer(micros(t)), Value::Integer(micros(t))],
            ),
            Condition::Equals(field, v) => (
                format!(" AND m.{} = ?", field.column()),
                vec![Value::Text(v.into())],
            ),
            Condition::HasLabel(l) => (
                " AND EXISTS (SELECT 1 FROM json_each(m.labels) WHERE json_each.value = ?)".into(),
                vec![Value::Text(l.into())],
            ),
            Condition::OccurredFrom(t) => (
                " AND m.occurred_at >= ?".into(),
                vec![Value::Integer(micros(t))],
            ),
            Condition::OccurredBefore(t) => (
                " AND m.occurred_at < ?".into(),
                vec![Value::Integer(micros(t))],
            ),
            Condition::OneOf(field, vs) => (
                format!(
                    " AND m.{} IN (SELECT value FROM json_each(?))",
                    field.column()
                ),
                vec![Value::Text(json_list(vs))],
            ),
            Condition::NoneOf(field, vs) => (
                format!(
                    " AND (m.{0} IS NULL OR m.{0} NOT IN (SELECT value FROM json_each(?)))",
                    field.column()
                ),
                vec![Value::Text(json_list(vs))],
            ),
        };
        sql.push_str(&clause);
        params.extend(values);
    }
    sql
}

/// A set of values as one parameter (a JSON array), so a statement's text
/// does not depend on how many there are and stays cached.
fn json_list(vs: &[String]) -> String {
    serde_json::to_string(vs).unwrap_or_else(|_| "[]".into())
}

pub fn sql_err(e: rusqlite::Error) -> Error {
    let e = match e {
        rusqlite::Error::FromSqlConversionFailure(i, t, e) => match e.downcast::<Error>() {
            Ok(e) => return *e,
            Err(e) => rusqlite::Error::FromSqlConversionFailure(i, t, e),
        },
        e => e,
    };
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Error::unavailable(format!("embedded store busy: {e}"))
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
            Error::unavailable("embedded store: disk full; free space in ENGRAM_DATA_DIR")
        }
        other => Error::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedding_follows_every_column() {
        assert_eq!(COLUMNS.split(',').count(), EMBEDDING);
    }

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
