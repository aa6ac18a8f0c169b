//! Reading rows back: every column through `try_get`, every value checked
//! against what engram writes.
//!
//! A row that fails (a column whose type was changed, a NULL where engram
//! never writes one, a `kind` or scope this build does not know, metadata
//! that is not a JSON object) was altered outside engram or written by a
//! bug. It is [`Error::inconsistent`] naming the table and the row's id,
//! never a default: a default would be served, and re-saved on the next
//! update, as if it were what was stored.

use std::fmt::Display;

use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use engram_core::temporal::Temporal;
use engram_core::{Error, Kind, Memory, Result};
use engram_store::{Hit, Record};

/// Column list matching [`memory`] (and `embedding` last, for [`record`]).
pub const COLUMNS: &str = "m.id, m.content, m.kind, m.user_id, m.agent_id, m.session_id, m.role, \
     m.labels, m.metadata, m.importance, m.occurred_at, m.created_at, m.updated_at, \
     m.valid_from, m.valid_to, m.sources, m.version, m.version_of";

/// One row being read, and the name it goes by in errors.
pub struct Stored<'r> {
    row: &'r Row,
    what: String,
}

impl<'r> Stored<'r> {
    /// A row of `table` whose id (a text column) is column `id`.
    pub fn new(row: &'r Row, table: &str, id: usize) -> Stored<'r> {
        let what = match row.try_get::<_, &str>(id) {
            Ok(id) => format!("{table} row {id}"),
            Err(_) => format!("{table} row with an unreadable id"),
        };
        Stored { row, what }
    }

    /// A row named `what` in errors, for rows without a text id column
    /// (e.g. "idempotency row of key k1").
    pub fn named(row: &'r Row, what: impl Into<String>) -> Stored<'r> {
        Stored {
            row,
            what: what.into(),
        }
    }

    /// Column `idx` as `T`.
    pub fn get<T: FromSql<'r>>(&self, idx: usize) -> Result<T> {
        self.row.try_get(idx).map_err(|e| {
            let cause = std::error::Error::source(&e).map_or(e.to_string(), |c| c.to_string());
            self.bad(idx, cause)
        })
    }

    /// Column `idx` read, then checked by `parse` (which says what is wrong).
    pub fn parse<T, U>(&self, idx: usize, parse: impl FnOnce(T) -> Result<U, String>) -> Result<U>
    where
        T: FromSql<'r>,
    {
        parse(self.get(idx)?).map_err(|reason| self.bad(idx, reason))
    }

    /// Column `idx` holds a value engram never writes.
    fn bad(&self, idx: usize, reason: impl Display) -> Error {
        let column = self.row.columns().get(idx).map_or("?", |c| c.name());
        Error::inconsistent(&self.what, format!("column {column}: {reason}"))
    }
}

pub fn memory(r: &Row) -> Result<Memory> {
    let s = Stored::new(r, "memories", 0);
    Ok(Memory {
        id: s.get(0)?,
        content: s.get(1)?,
        kind: s.parse(2, |k: &str| {
            Kind::parse(k).ok_or_else(|| format!("unknown kind '{k}'"))
        })?,
        user_id: s.get(3)?,
        agent_id: s.get(4)?,
        session_id: s.get(5)?,
        role: s.get(6)?,
        labels: s.get(7)?,
        metadata: s.parse(8, |v: serde_json::Value| match v {
            serde_json::Value::Object(m) => Ok(m),
            other => Err(format!(
                "metadata is a JSON {}, not an object",
                json_type(&other)
            )),
        })?,
        importance: s.get(9)?,
        occurred_at: s.get(10)?,
        created_at: s.get(11)?,
        updated_at: s.get(12)?,
        temporal: Temporal {
            valid_from: s.get(13)?,
            valid_to: s.get(14)?,
            sources: s.get(15)?,
            version: s.parse(16, |v: i32| {
                u32::try_from(v)
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| format!("version {v} is not one engram writes"))
            })?,
            version_of: s.get(17)?,
        },
    })
}

pub fn record(r: &Row) -> Result<Record> {
    let embedding: pgvector::Vector = Stored::new(r, "memories", 0).get(18)?;
    Ok(Record {
        memory: memory(r)?,
        embedding: embedding.to_vec(),
    })
}

/// A search hit: the memory's id and its score, as `float8`.
pub fn hit(r: &Row) -> Result<Hit> {
    let s = Stored::new(r, "memories", 0);
    Ok(Hit {
        id: s.get(0)?,
        score: s.get::<f64>(1)? as f32,
    })
}

/// Every row read by `read`; the first that fails fails the whole answer
/// (a partial list would hide the row).
pub fn all<T>(rows: &[Row], read: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(read).collect()
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}
