//! Conversations and import jobs on PostgreSQL, each statement inside its
//! tenant's transaction (row-level security). A conversation's messages
//! are rows of `memories` (`session_id` = its id): adding messages and
//! deleting a conversation change both tables in one transaction.

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use engram_core::conversation::{Conversation, ConversationQuery, ImportJob};
use engram_core::query::Cursor;
use engram_core::{Error, Memory, Result};
use engram_store::Record;
use engram_store::conversations::{
    ConversationFlags, ConversationStore, MessageWrite, MessagesAdded,
};

use crate::PgStore;
use crate::memories::{claim_key, insert_rows};
use crate::rows::{self, COLUMNS, Stored, all};
use crate::sql::{Param, db_err, is_foreign_key_violation, refs, time_from_micros};

const CONVERSATION_COLUMNS: &str = "c.id, c.title, c.user_id, c.agent_id, c.label, c.folder, \
     c.importance, c.pinned, c.archived, c.metadata, c.source, c.created_at, c.updated_at";

fn conversation(r: &Row) -> Result<Conversation> {
    let s = Stored::new(r, "conversations", 0);
    Ok(Conversation {
        id: s.get(0)?,
        title: s.get(1)?,
        user_id: s.get(2)?,
        agent_id: s.get(3)?,
        label: s.get(4)?,
        folder: s.get(5)?,
        importance: s.parse(6, |i: i16| {
            u8::try_from(i).map_err(|_| format!("importance {i} is not 1 to 10"))
        })?,
        pinned: s.get(7)?,
        archived: s.get(8)?,
        metadata: s.parse(9, |v: serde_json::Value| match v {
            serde_json::Value::Object(m) => Ok(m),
            _ => Err("metadata is not a JSON object".to_string()),
        })?,
        source: s.get(10)?,
        created_at: s.get(11)?,
        updated_at: s.get(12)?,
    })
}

/// `$3..$14` after `$1` tenant and `$2` id.
fn conversation_params(tenant_id: &str, c: &Conversation) -> Vec<Param> {
    vec![
        Box::new(tenant_id.to_string()),
        Box::new(c.id.clone()),
        Box::new(c.title.clone()),
        Box::new(c.user_id.clone()),
        Box::new(c.agent_id.clone()),
        Box::new(c.label.clone()),
        Box::new(c.folder.clone()),
        Box::new(i16::from(c.importance)),
        Box::new(c.pinned),
        Box::new(c.archived),
        Box::new(Json(c.metadata.clone())),
        Box::new(c.source.clone()),
        Box::new(c.created_at),
        Box::new(c.updated_at),
    ]
}

const INSERT_CONVERSATION: &str = "INSERT INTO conversations(tenant_id, id, title, user_id, agent_id, \
     label, folder, importance, pinned, archived, metadata, source, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// `LIKE` text matching `s` literally (backslash escapes).
pub(crate) fn literal_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn missing_tenant(tenant_id: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| {
        if is_foreign_key_violation(&e) {
            Error::not_found(format!("tenant {tenant_id}"))
        } else {
            db_err(e)
        }
    }
}

#[async_trait]
impl ConversationStore for PgStore {
    async fn create_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<()> {
        let params = conversation_params(tenant_id, c);
        self.with_tenant(tenant_id, async |tx| {
            tx.execute(INSERT_CONVERSATION, &refs(&params))
                .await
                .map_err(missing_tenant(tenant_id))
        })
        .await?;
        Ok(())
    }

    async fn get_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<Conversation>> {
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations c \
                     WHERE c.tenant_id = $1 AND c.id = $2"
                ),
                &[&tenant_id, &id],
            )
            .await?;
        rows.first().map(conversation).transpose()
    }

    async fn list_conversations(
        &self,
        tenant_id: &str,
        q: &ConversationQuery,
    ) -> Result<Vec<Conversation>> {
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_string())];
        let mut sql =
            format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.tenant_id = $1");
        let mut push = |sql: &mut String, clause: &str, p: Param| {
            params.push(p);
            sql.push_str(&clause.replace('?', &format!("${}", params.len())));
        };
        if let Some(l) = &q.label {
            push(&mut sql, " AND c.label = ?", Box::new(l.clone()));
        }
        if let Some(f) = &q.folder {
            push(&mut sql, " AND (c.folder = ?", Box::new(f.clone()));
            push(
                &mut sql,
                " OR c.folder LIKE ?)",
                Box::new(format!("{}/%", literal_like(f))),
            );
        }
        if let Some(p) = q.pinned {
            push(&mut sql, " AND c.pinned = ?", Box::new(p));
        }
        if let Some(a) = q.archived {
            push(&mut sql, " AND c.archived = ?", Box::new(a));
        }
        if let Some(u) = &q.user_id {
            push(&mut sql, " AND c.user_id = ?", Box::new(u.clone()));
        }
        if let Some(t) = &q.text {
            push(
                &mut sql,
                " AND c.title ILIKE ?",
                Box::new(format!("%{}%", literal_like(t))),
            );
        }
        if let Some(cur) = &q.after {
            push(
                &mut sql,
                " AND (c.created_at, c.id) < (?",
                Box::new(time_from_micros(cur.occurred_at_us)?),
            );
            push(&mut sql, ", ?)", Box::new(cur.id.clone()));
        }
        push(
            &mut sql,
            " ORDER BY c.created_at DESC, c.id DESC LIMIT ?",
            Box::new(i64::try_from(q.limit).unwrap_or(i64::MAX)),
        );
        let rows = self.tenant_query(tenant_id, &sql, &refs(&params)).await?;
        all(&rows, conversation)
    }

    async fn update_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<bool> {
        let params = conversation_params(tenant_id, c);
        let n = self
            .tenant_execute(
                tenant_id,
                "UPDATE conversations SET (title, user_id, agent_id, label, folder, importance, pinned, \
                 archived, metadata, source, created_at, updated_at) = \
                 ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 WHERE tenant_id = $1 AND id = $2",
                &refs(&params),
            )
            .await?;
        Ok(n > 0)
    }

    async fn delete_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<u64>> {
        self.with_tenant(tenant_id, async |tx| {
            let n = tx
                .execute(
                    "DELETE FROM conversations WHERE tenant_id = $1 AND id = $2",
                    &[&tenant_id, &id],
                )
                .await
                .map_err(db_err)?;
            if n == 0 {
                return Ok(None);
            }
            let memories = tx
                .execute(
                    "DELETE FROM memories WHERE tenant_id = $1 AND session_id = $2",
                    &[&tenant_id, &id],
                )
                .await
                .map_err(db_err)?;
            Ok(Some(memories))
        })
        .await
    }

    async fn add_messages(&self, tenant_id: &str, w: MessageWrite<'_>) -> Result<MessagesAdded> {
        let c = w.conversation;
        self.with_tenant(tenant_id, async |tx| {
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM conversations WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
                    &[&tenant_id, &c.id],
                )
                .await
                .map_err(db_err)?
                .is_some();
            if exists {
                if !w.create {
                    tx.execute(
                        "UPDATE conversations SET updated_at = $3 WHERE tenant_id = $1 AND id = $2",
                        &[&tenant_id, &c.id, &c.updated_at],
                    )
                    .await
                    .map_err(db_err)?;
                }
            } else if w.create {
                let params = conversation_params(tenant_id, c);
                tx.execute(INSERT_CONVERSATION, &refs(&params))
                    .await
                    .map_err(missing_tenant(tenant_id))?;
            } else {
                return Ok(MessagesAdded::NoConversation);
            }
            let ids: Vec<&str> = w.records.iter().map(|r| r.memory.id.as_str()).collect();
            let known: Vec<String> = tx
                .query(
                    "SELECT id FROM memories WHERE tenant_id = $1 AND id = ANY($2)",
                    &[&tenant_id, &ids],
                )
                .await
                .map_err(db_err)?
                .iter()
                .map(|r| Stored::new(r, "memories", 0).get(0))
                .collect::<Result<_>>()?;
            let fresh: Vec<&Record> = w
                .records
                .iter()
                .filter(|r| !known.contains(&r.memory.id))
                .collect();
            let fresh_ids: Vec<&str> = fresh.iter().map(|r| r.memory.id.as_str()).collect();
            if !claim_key(tx, tenant_id, w.idempotency.as_ref(), &fresh_ids)
                .await
                .map_err(db_err)?
            {
                return Ok(MessagesAdded::KeyTaken);
            }
            insert_rows(tx, tenant_id, fresh.iter().copied(), db_err).await?;
            Ok(MessagesAdded::Added(
                fresh_ids.into_iter().map(str::to_string).collect(),
            ))
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match after {
            Some(cur) => {
                let at = time_from_micros(cur.occurred_at_us)?;
                self.tenant_query(
                    tenant_id,
                    &format!(
                        "SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = $1 AND m.session_id = $2 \
                         AND (m.occurred_at, m.id) > ($3, $4) ORDER BY m.occurred_at, m.id LIMIT $5"
                    ),
                    &[&tenant_id, &conversation_id, &at, &cur.id, &limit],
                )
                .await?
            }
            None => {
                self.tenant_query(
                    tenant_id,
                    &format!(
                        "SELECT {COLUMNS} FROM memories m WHERE m.tenant_id = $1 AND m.session_id = $2 \
                         ORDER BY m.occurred_at, m.id LIMIT $3"
                    ),
                    &[&tenant_id, &conversation_id, &limit],
                )
                .await?
            }
        };
        all(&rows, rows::memory)
    }

    async fn conversation_flags(&self, tenant_id: &str) -> Result<ConversationFlags> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT id, archived, pinned FROM conversations \
                 WHERE tenant_id = $1 AND (archived OR pinned)",
                &[&tenant_id],
            )
            .await?;
        let mut flags = ConversationFlags::default();
        for r in &rows {
            let s = Stored::new(r, "conversations", 0);
            let id: String = s.get(0)?;
            if s.get(1)? {
                flags.archived.push(id.clone());
            }
            if s.get(2)? {
                flags.pinned.push(id);
            }
        }
        Ok(flags)
    }

    async fn folder_counts(&self, tenant_id: &str) -> Result<Vec<(String, u64)>> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT folder, count(*) FROM conversations \
                 WHERE tenant_id = $1 AND folder IS NOT NULL GROUP BY folder",
                &[&tenant_id],
            )
            .await?;
        all(&rows, |r| {
            let s = Stored::named(r, "conversations folder count");
            Ok((s.get(0)?, s.get::<i64>(1)? as u64))
        })
    }

    async fn save_import(&self, tenant_id: &str, job: &ImportJob) -> Result<()> {
        let value = serde_json::to_value(job).map_err(Error::internal)?;
        self.with_tenant(tenant_id, async |tx| {
            tx.execute(
                "INSERT INTO imports(tenant_id, id, job) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, id) DO UPDATE SET job = excluded.job",
                &[&tenant_id, &job.id, &Json(&value)],
            )
            .await
            .map_err(missing_tenant(tenant_id))
        })
        .await?;
        Ok(())
    }

    async fn get_import(&self, tenant_id: &str, id: &str) -> Result<Option<ImportJob>> {
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT job FROM imports WHERE tenant_id = $1 AND id = $2",
                &[&tenant_id, &id],
            )
            .await?;
        rows.first()
            .map(|r| {
                let s = Stored::named(r, format!("imports row {id}"));
                s.parse(0, |v: serde_json::Value| {
                    serde_json::from_value(v).map_err(|e| e.to_string())
                })
            })
            .transpose()
    }
}
