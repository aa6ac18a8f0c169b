//! Conversations and import jobs in SQLite. A conversation's messages are
//! rows of `memories` (`session_id` = its id): adding messages and
//! deleting a conversation change both tables in one transaction, then
//! the indexes, as every memory write does.

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use engram_core::conversation::{Conversation, ConversationQuery, ImportJob};
use engram_core::query::Cursor;
use engram_core::{Error, Filter, Memory, Result};
use engram_store::Record;
use engram_store::conversations::{
    ConversationFlags, ConversationStore, MessageWrite, MessagesAdded,
};

use crate::memories::{claim_key, delete_rows, insert_rows, matching_rows};
use crate::rows::{COLUMNS, memory_from_row, micros, read_back, sql_err, time};
use crate::{EmbeddedStore, Inner, require_tenant};

const CONVERSATION_COLUMNS: &str = "c.id, c.title, c.user_id, c.agent_id, c.label, c.folder, \
     c.importance, c.pinned, c.archived, c.metadata, c.source, c.created_at, c.updated_at";

fn conversation_from_row(r: &Row<'_>) -> rusqlite::Result<Conversation> {
    let id: String = r.get(0)?;
    let row = format!("conversations row {id}");
    let metadata: String = r.get(9)?;
    let importance: i64 = r.get(6)?;
    let at = |i, column| read_back(&row, column, time(r.get(i)?));
    Ok(Conversation {
        title: r.get(1)?,
        user_id: r.get(2)?,
        agent_id: r.get(3)?,
        label: r.get(4)?,
        folder: r.get(5)?,
        importance: read_back(
            &row,
            "importance",
            u8::try_from(importance).map_err(|_| "not 1 to 10".to_string()),
        )?,
        pinned: r.get(7)?,
        archived: r.get(8)?,
        metadata: read_back(
            &row,
            "metadata",
            serde_json::from_str(&metadata).map_err(|e| e.to_string()),
        )?,
        source: r.get(10)?,
        created_at: at(11, "created_at")?,
        updated_at: at(12, "updated_at")?,
        id,
    })
}

fn conversation_values(c: &Conversation) -> Result<Vec<Value>> {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    Ok(vec![
        Value::Text(c.title.clone()),
        text(&c.user_id),
        text(&c.agent_id),
        text(&c.label),
        text(&c.folder),
        Value::Integer(c.importance.into()),
        Value::Integer(c.pinned.into()),
        Value::Integer(c.archived.into()),
        Value::Text(serde_json::to_string(&c.metadata).map_err(Error::internal)?),
        text(&c.source),
        Value::Integer(micros(c.created_at)),
        Value::Integer(micros(c.updated_at)),
    ])
}

fn insert_conversation(tx: &Connection, tenant_id: &str, c: &Conversation) -> Result<()> {
    let mut values = vec![
        Value::Text(tenant_id.to_string()),
        Value::Text(c.id.clone()),
    ];
    values.extend(conversation_values(c)?);
    tx.execute(
        "INSERT INTO conversations(tenant_id, id, title, user_id, agent_id, label, folder, importance, \
         pinned, archived, metadata, source, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params_from_iter(values),
    )
    .map_err(sql_err)?;
    Ok(())
}

fn conversation_exists(c: &Connection, tenant_id: &str, id: &str) -> Result<bool> {
    c.query_row(
        "SELECT 1 FROM conversations WHERE tenant_id = ? AND id = ?",
        params![tenant_id, id],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(sql_err)
}

/// `LIKE` text matching `s` literally, anywhere.
pub(crate) fn contains_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Inner {
    fn create_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<()> {
        self.write(|conn| {
            require_tenant(conn, tenant_id)?;
            insert_conversation(conn, tenant_id, c)
        })
    }

    fn get_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<Conversation>> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.tenant_id = ? AND c.id = ?"
                ),
                params![tenant_id, id],
                conversation_from_row,
            )
            .optional()
            .map_err(sql_err)
        })
    }

    fn list_conversations(
        &self,
        tenant_id: &str,
        q: &ConversationQuery,
    ) -> Result<Vec<Conversation>> {
        let mut sql =
            format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.tenant_id = ?");
        let mut params = vec![Value::Text(tenant_id.to_string())];
        if let Some(l) = &q.label {
            sql.push_str(" AND c.label = ?");
            params.push(Value::Text(l.clone()));
        }
        if let Some(f) = &q.folder {
            sql.push_str(" AND (c.folder = ? OR c.folder LIKE ? ESCAPE '\\')");
            params.push(Value::Text(f.clone()));
            let below = contains_pattern(&format!("{f}/"));
            params.push(Value::Text(below[1..].to_string()));
        }
        for (column, v) in [("pinned", q.pinned), ("archived", q.archived)] {
            if let Some(v) = v {
                sql.push_str(&format!(" AND c.{column} = ?"));
                params.push(Value::Integer(v.into()));
            }
        }
        if let Some(u) = &q.user_id {
            sql.push_str(" AND c.user_id = ?");
            params.push(Value::Text(u.clone()));
        }
        if let Some(t) = &q.text {
            sql.push_str(" AND c.title LIKE ? ESCAPE '\\'");
            params.push(Value::Text(contains_pattern(t)));
        }
        if let Some(cur) = &q.after {
            sql.push_str(" AND (c.created_at < ? OR (c.created_at = ? AND c.id < ?))");
            params.extend([
                Value::Integer(cur.occurred_at_us),
                Value::Integer(cur.occurred_at_us),
                Value::Text(cur.id.clone()),
            ]);
        }
        sql.push_str(" ORDER BY c.created_at DESC, c.id DESC LIMIT ?");
        params.push(Value::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX)));
        self.read(|c| {
            let mut stmt = c.prepare(&sql).map_err(sql_err)?;
            stmt.query_map(params_from_iter(params), conversation_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    fn update_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<bool> {
        self.write(|conn| {
            let mut values = conversation_values(c)?;
            values.extend([
                Value::Text(tenant_id.to_string()),
                Value::Text(c.id.clone()),
            ]);
            let n = conn
                .execute(
                    "UPDATE conversations SET title = ?, user_id = ?, agent_id = ?, label = ?, folder = ?, \
                     importance = ?, pinned = ?, archived = ?, metadata = ?, source = ?, created_at = ?, \
                     updated_at = ? WHERE tenant_id = ? AND id = ?",
                    params_from_iter(values),
                )
                .map_err(sql_err)?;
            Ok(n > 0)
        })
    }

    fn delete_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<u64>> {
        let indexes = self.indexes()?;
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            if !conversation_exists(&tx, tenant_id, id)? {
                return Ok(None);
            }
            let filter = Filter {
                session_id: Some(id.to_string()),
                ..Default::default()
            };
            let rows = matching_rows(&tx, tenant_id, &filter)?;
            delete_rows(&tx, seq, &rows)?;
            tx.execute(
                "DELETE FROM conversations WHERE tenant_id = ? AND id = ?",
                params![tenant_id, id],
            )
            .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
            for rowid in &rows {
                indexes.delete(seq, *rowid)?;
            }
            Ok(Some(rows.len() as u64))
        })
    }

    fn add_messages(&self, tenant_id: &str, w: MessageWrite<'_>) -> Result<MessagesAdded> {
        let indexes = self.indexes()?;
        for r in &w.records {
            indexes.vectors.fits(&r.embedding)?;
        }
        let c = w.conversation;
        self.write(|conn| {
            let seq = require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            if conversation_exists(&tx, tenant_id, &c.id)? {
                if !w.create {
                    tx.execute(
                        "UPDATE conversations SET updated_at = ? WHERE tenant_id = ? AND id = ?",
                        params![micros(c.updated_at), tenant_id, c.id],
                    )
                    .map_err(sql_err)?;
                }
            } else if w.create {
                insert_conversation(&tx, tenant_id, c)?;
            } else {
                return Ok(MessagesAdded::NoConversation);
            }
            let mut fresh: Vec<&Record> = Vec::with_capacity(w.records.len());
            {
                let mut known = tx
                    .prepare_cached("SELECT 1 FROM memories WHERE tenant_id = ? AND id = ?")
                    .map_err(sql_err)?;
                for r in &w.records {
                    if !known
                        .exists(params![tenant_id, r.memory.id])
                        .map_err(sql_err)?
                    {
                        fresh.push(r);
                    }
                }
            }
            let ids: Vec<&str> = fresh.iter().map(|r| r.memory.id.as_str()).collect();
            if !claim_key(&tx, tenant_id, w.idempotency.as_ref(), &ids)? {
                return Ok(MessagesAdded::KeyTaken);
            }
            let rows = insert_rows(&tx, seq, tenant_id, &fresh)?;
            tx.commit().map_err(sql_err)?;
            let rows: Vec<(i64, &Record)> = rows.into_iter().zip(fresh.iter().copied()).collect();
            indexes.upsert(seq, &rows)?;
            Ok(MessagesAdded::Added(
                ids.into_iter().map(str::to_string).collect(),
            ))
        })
    }

    fn messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Memory>> {
        let mut sql =
            format!("SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = ? AND m.session_id = ?");
        let mut params = vec![
            Value::Text(tenant_id.to_string()),
            Value::Text(conversation_id.to_string()),
        ];
        if let Some(cur) = after {
            sql.push_str(" AND (m.occurred_at > ? OR (m.occurred_at = ? AND m.id > ?))");
            params.extend([
                Value::Integer(cur.occurred_at_us),
                Value::Integer(cur.occurred_at_us),
                Value::Text(cur.id.clone()),
            ]);
        }
        sql.push_str(" ORDER BY m.occurred_at, m.id LIMIT ?");
        params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        self.read(|c| {
            let mut stmt = c.prepare(&sql).map_err(sql_err)?;
            stmt.query_map(params_from_iter(params), memory_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    fn conversation_flags(&self, tenant_id: &str) -> Result<ConversationFlags> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, archived, pinned FROM conversations \
                     WHERE tenant_id = ? AND (archived = 1 OR pinned = 1)",
                )
                .map_err(sql_err)?;
            let mut flags = ConversationFlags::default();
            let rows = stmt
                .query_map([tenant_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, bool>(1)?,
                        r.get::<_, bool>(2)?,
                    ))
                })
                .map_err(sql_err)?;
            for row in rows {
                let (id, archived, pinned) = row.map_err(sql_err)?;
                if archived {
                    flags.archived.push(id.clone());
                }
                if pinned {
                    flags.pinned.push(id);
                }
            }
            Ok(flags)
        })
    }

    fn folder_counts(&self, tenant_id: &str) -> Result<Vec<(String, u64)>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT folder, count(*) FROM conversations \
                     WHERE tenant_id = ? AND folder IS NOT NULL GROUP BY folder",
                )
                .map_err(sql_err)?;
            stmt.query_map([tenant_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql_err)
        })
    }

    fn save_import(&self, tenant_id: &str, job: &ImportJob) -> Result<()> {
        let text = serde_json::to_string(job).map_err(Error::internal)?;
        self.write(|conn| {
            require_tenant(conn, tenant_id)?;
            conn.execute(
                "INSERT INTO imports(tenant_id, id, job) VALUES (?, ?, ?) \
                 ON CONFLICT (tenant_id, id) DO UPDATE SET job = excluded.job",
                params![tenant_id, job.id, text],
            )
            .map_err(sql_err)?;
            Ok(())
        })
    }

    fn get_import(&self, tenant_id: &str, id: &str) -> Result<Option<ImportJob>> {
        let text: Option<String> = self.read(|c| {
            c.query_row(
                "SELECT job FROM imports WHERE tenant_id = ? AND id = ?",
                params![tenant_id, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)
        })?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| Error::inconsistent(format!("imports row {id}"), e))
        })
        .transpose()
    }
}

#[async_trait]
impl ConversationStore for EmbeddedStore {
    async fn create_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<()> {
        let (tenant_id, c) = (tenant_id.to_string(), c.clone());
        self.run(move |db| db.create_conversation(&tenant_id, &c))
            .await
    }

    async fn get_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<Conversation>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.get_conversation(&tenant_id, &id))
            .await
    }

    async fn list_conversations(
        &self,
        tenant_id: &str,
        q: &ConversationQuery,
    ) -> Result<Vec<Conversation>> {
        let (tenant_id, q) = (tenant_id.to_string(), q.clone());
        self.run(move |db| db.list_conversations(&tenant_id, &q))
            .await
    }

    async fn update_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<bool> {
        let (tenant_id, c) = (tenant_id.to_string(), c.clone());
        self.run(move |db| db.update_conversation(&tenant_id, &c))
            .await
    }

    async fn delete_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<u64>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.delete_conversation(&tenant_id, &id))
            .await
    }

    async fn add_messages(&self, tenant_id: &str, w: MessageWrite<'_>) -> Result<MessagesAdded> {
        let tenant_id = tenant_id.to_string();
        let conversation = w.conversation.clone();
        let (create, records, idempotency) = (w.create, w.records, w.idempotency);
        self.run(move |db| {
            db.add_messages(
                &tenant_id,
                MessageWrite {
                    conversation: &conversation,
                    create,
                    records,
                    idempotency,
                },
            )
        })
        .await
    }

    async fn messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Memory>> {
        let (tenant_id, id) = (tenant_id.to_string(), conversation_id.to_string());
        let after = after.cloned();
        self.run(move |db| db.messages(&tenant_id, &id, after.as_ref(), limit))
            .await
    }

    async fn conversation_flags(&self, tenant_id: &str) -> Result<ConversationFlags> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| db.conversation_flags(&tenant_id)).await
    }

    async fn folder_counts(&self, tenant_id: &str) -> Result<Vec<(String, u64)>> {
        let tenant_id = tenant_id.to_string();
        self.run(move |db| db.folder_counts(&tenant_id)).await
    }

    async fn save_import(&self, tenant_id: &str, job: &ImportJob) -> Result<()> {
        let (tenant_id, job) = (tenant_id.to_string(), job.clone());
        self.run(move |db| db.save_import(&tenant_id, &job)).await
    }

    async fn get_import(&self, tenant_id: &str, id: &str) -> Result<Option<ImportJob>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.get_import(&tenant_id, &id)).await
    }
}
