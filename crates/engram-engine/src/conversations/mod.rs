//! Conversations on the memory engine: a conversation is a row of its own
//! (title, label, folder, pin, archive), each of its messages a memory
//! (kind episodic, `session_id` = the conversation's id, `role` = the
//! message's role), so search, context and MCP see messages with no second
//! index. This module: the thread operations; `import/` the export formats
//! of ChatGPT, Claude and engram; `export.rs` JSON and Markdown.

pub mod export;
pub mod import;

use chrono::Utc;

use engram_core::conversation::{
    Conversation, ConversationPage, ConversationPatch, ConversationQuery, ConversationSearch,
    Folder, MAX_MESSAGES_PER_APPEND, Message, MessagePage, NewConversation, NewMessage,
    normalize_folder, validate_label,
};
use engram_core::memory::validate_id;
use engram_core::query::{
    Cursor, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, MAX_SEARCH_LIMIT, ScoredMemory, SearchResponse,
    validate_limit, validate_query,
};
use engram_core::{Code, Error, Filter, Memory, Result};
use engram_store::conversations::{MessageWrite, MessagesAdded};

use crate::Engine;
use crate::auth::new_id;
use crate::ingest::{idempotency, in_flight};

/// The filters of `GET /v1/conversations`, as sent.
#[derive(Debug, Clone, Default)]
pub struct ListConversations {
    pub label: Option<String>,
    pub folder: Option<String>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
    pub user_id: Option<String>,
    pub q: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Messages appended, and whether an earlier request with the same
/// idempotency key wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub messages: Vec<Message>,
    pub replayed: bool,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("conversation {id}"))
}

impl Engine {
    pub async fn create_conversation(
        &self,
        tenant: &str,
        new: NewConversation,
    ) -> Result<Conversation> {
        let c = new.into_conversation(new_id(), Utc::now())?;
        self.store.create_conversation(tenant, &c).await?;
        Ok(c)
    }

    pub async fn get_conversation(&self, tenant: &str, id: &str) -> Result<Conversation> {
        self.store
            .get_conversation(tenant, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn list_conversations(
        &self,
        tenant: &str,
        req: ListConversations,
    ) -> Result<ConversationPage> {
        let limit = req.limit.unwrap_or(DEFAULT_LIST_LIMIT);
        validate_limit(limit, MAX_LIST_LIMIT, "limit")?;
        if let Some(u) = &req.user_id {
            validate_id(u, "user_id")?;
        }
        if let Some(l) = &req.label {
            validate_label(l, "label")?;
        }
        let q = ConversationQuery {
            label: req.label,
            folder: req
                .folder
                .as_deref()
                .map(|f| normalize_folder(f, "folder"))
                .transpose()?,
            pinned: req.pinned,
            archived: req.archived,
            user_id: req.user_id,
            text: req.q.filter(|t| !t.trim().is_empty()),
            // One extra row tells whether another page exists.
            limit: limit + 1,
            after: req.cursor.as_deref().map(Cursor::decode).transpose()?,
        };
        let mut items = self.store.list_conversations(tenant, &q).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|c| {
                Cursor {
                    occurred_at_us: c.created_at.timestamp_micros(),
                    id: c.id.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(ConversationPage { items, next_cursor })
    }

    pub async fn update_conversation(
        &self,
        tenant: &str,
        id: &str,
        patch: ConversationPatch,
    ) -> Result<Conversation> {
        let mut c = self.get_conversation(tenant, id).await?;
        patch.apply(&mut c, Utc::now())?;
        if !self.store.update_conversation(tenant, &c).await? {
            return Err(not_found(id));
        }
        Ok(c)
    }

    /// Deletes the conversation and its messages' memories together;
    /// returns how many memories went.
    pub async fn delete_conversation(&self, tenant: &str, id: &str) -> Result<u64> {
        self.store
            .delete_conversation(tenant, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Appends up to [`MAX_MESSAGES_PER_APPEND`] messages, all or none.
    pub async fn append_messages(
        &self,
        tenant: &str,
        id: &str,
        items: Vec<NewMessage>,
        idempotency_key: Option<&str>,
    ) -> Result<Appended> {
        if items.is_empty() || items.len() > MAX_MESSAGES_PER_APPEND {
            return Err(Error::invalid(
                "items",
                format!("must hold 1 to {MAX_MESSAGES_PER_APPEND} messages"),
            ));
        }
        let mut c = self.get_conversation(tenant, id).await?;
        let idem = idempotency(idempotency_key, &[(id, &items)])?;
        if let Some(i) = &idem
            && let Some(done) = self.replay_append(tenant, &i.key, &i.fingerprint).await?
        {
            return Ok(done);
        }
        let news = items
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.into_memory(&c, &format!("items[{i}].")))
            .collect::<Result<Vec<_>>>()?;
        let ids = news.iter().map(|_| new_id()).collect();
        let records = self
            .prepare_with_ids(tenant, news, ids, |i| format!("items[{i}]."))
            .await?;
        c.updated_at = engram_core::memory::now();
        let messages: Vec<Message> = records
            .iter()
            .map(|r| Message::from_memory(r.memory.clone()))
            .collect();
        let written: Vec<Memory> = records.iter().map(|r| r.memory.clone()).collect();
        let write = MessageWrite {
            conversation: &c,
            create: false,
            records,
            idempotency: idem.clone(),
        };
        match self.store.add_messages(tenant, write).await? {
            MessagesAdded::Added(_) => {
                let written: Vec<&Memory> = written.iter().collect();
                self.queue_graph(tenant, None, &written).await?;
                Ok(Appended {
                    messages,
                    replayed: false,
                })
            }
            MessagesAdded::NoConversation => Err(not_found(id)),
            MessagesAdded::KeyTaken => {
                let idem = idem.ok_or_else(|| Error::internal("key taken without a key"))?;
                self.replay_append(tenant, &idem.key, &idem.fingerprint)
                    .await?
                    .ok_or_else(in_flight)
            }
        }
    }

    async fn replay_append(&self, tenant: &str, key: &str, fp: &str) -> Result<Option<Appended>> {
        let Some(ids) = self.earlier_ids(tenant, key, fp).await? else {
            return Ok(None);
        };
        let mut records = self.store.get_records(tenant, &ids).await?;
        if records.len() < ids.len() {
            return Err(Error::conflict(
                Code::IdempotencyKeySpent,
                "this Idempotency-Key wrote messages that have since been deleted; use a new key",
            ));
        }
        records.sort_by_key(|r| ids.iter().position(|id| *id == r.memory.id));
        Ok(Some(Appended {
            messages: records
                .into_iter()
                .map(|r| Message::from_memory(r.memory))
                .collect(),
            replayed: true,
        }))
    }

    pub async fn messages(
        &self,
        tenant: &str,
        id: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<MessagePage> {
        let limit = limit.unwrap_or(DEFAULT_LIST_LIMIT);
        validate_limit(limit, MAX_LIST_LIMIT, "limit")?;
        let after = cursor.map(Cursor::decode).transpose()?;
        self.get_conversation(tenant, id).await?;
        let mut items = self
            .store
            .messages(tenant, id, after.as_ref(), limit + 1)
            .await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|m| Cursor::after(m).encode())
        } else {
            None
        };
        Ok(MessagePage {
            items: items.into_iter().map(Message::from_memory).collect(),
            next_cursor,
        })
    }

    /// Every folder holding a conversation and every folder above one.
    pub async fn folders(&self, tenant: &str) -> Result<Vec<Folder>> {
        Ok(Folder::tree(&self.store.folder_counts(tenant).await?))
    }

    /// Hybrid search over the messages of one conversation, or of the
    /// conversations in a folder (and below) and/or with a label.
    pub async fn search_conversations(
        &self,
        tenant: &str,
        req: &ConversationSearch,
    ) -> Result<SearchResponse> {
        validate_query(&req.query)?;
        let limit = req
            .limit
            .unwrap_or(engram_core::query::DEFAULT_SEARCH_LIMIT);
        validate_limit(limit, MAX_SEARCH_LIMIT, "limit")?;
        let start = std::time::Instant::now();
        let mut filter = Filter::default();
        if let Some(id) = &req.conversation_id {
            self.get_conversation(tenant, id).await?;
            filter.session_id = Some(id.clone());
        }
        if req.folder.is_some() || req.label.is_some() {
            if let Some(l) = &req.label {
                validate_label(l, "label")?;
            }
            let q = ConversationQuery {
                label: req.label.clone(),
                folder: req
                    .folder
                    .as_deref()
                    .map(|f| normalize_folder(f, "folder"))
                    .transpose()?,
                limit: usize::MAX,
                ..Default::default()
            };
            let ids = self.store.list_conversations(tenant, &q).await?;
            filter.sessions = Some(ids.into_iter().map(|c| c.id).collect());
        }
        let ranked = self
            .retrieve(
                tenant,
                &req.query,
                req.mode,
                &filter,
                req.include_archived,
                limit,
                None,
            )
            .await?;
        Ok(SearchResponse {
            results: ranked
                .into_iter()
                .map(|r| ScoredMemory {
                    memory: r.record.memory,
                    score: r.score,
                    explain: None,
                })
                .collect(),
            took_ms: start.elapsed().as_secs_f64() * 1000.0,
        })
    }
}
