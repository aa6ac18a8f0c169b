//! Where conversations live. Their messages are memories (the `Store`'s
//! rows, `session_id` = the conversation's id); this trait keeps the
//! conversation rows and the writes that must change both in one
//! transaction: messages added with their conversation, a conversation
//! deleted with its memories.

use async_trait::async_trait;
use engram_core::Result;
use engram_core::conversation::{Conversation, ConversationQuery, ImportJob};
use engram_core::memory::Memory;
use engram_core::query::Cursor;

use crate::{Idempotency, Record};

/// Messages to add to a conversation, in one transaction.
pub struct MessageWrite<'a> {
    pub conversation: &'a Conversation,
    /// Create the conversation when it does not exist (an import); without
    /// it a missing conversation writes nothing.
    pub create: bool,
    /// Records whose id already exists are skipped, not refused: an
    /// import's ids are derived from the source, so a second import of the
    /// same file finds them all.
    pub records: Vec<Record>,
    pub idempotency: Option<Idempotency>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MessagesAdded {
    /// The ids written (those not already there), in order.
    Added(Vec<String>),
    /// The conversation does not exist and was not to be created.
    NoConversation,
    /// Another request already used the idempotency key; nothing written.
    KeyTaken,
}

/// The conversations whose state changes what searches see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationFlags {
    pub archived: Vec<String>,
    pub pinned: Vec<String>,
}

#[async_trait]
pub trait ConversationStore: Send + Sync {
    async fn create_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<()>;
    async fn get_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<Conversation>>;
    /// Newest first by `created_at`, then id; at most `q.limit`.
    async fn list_conversations(
        &self,
        tenant_id: &str,
        q: &ConversationQuery,
    ) -> Result<Vec<Conversation>>;
    /// Replaces the conversation's fields; false when it does not exist.
    async fn update_conversation(&self, tenant_id: &str, c: &Conversation) -> Result<bool>;
    /// Deletes the conversation and its memories in one transaction: the
    /// number of memories deleted, `None` when it does not exist.
    async fn delete_conversation(&self, tenant_id: &str, id: &str) -> Result<Option<u64>>;
    /// Adds messages (see [`MessageWrite`]); a conversation that exists
    /// gets `updated_at` from `w.conversation`.
    async fn add_messages(&self, tenant_id: &str, w: MessageWrite<'_>) -> Result<MessagesAdded>;
    /// The conversation's messages oldest first (`occurred_at`, then id),
    /// after `after`.
    async fn messages(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Memory>>;
    /// Ids of the archived and of the pinned conversations.
    async fn conversation_flags(&self, tenant_id: &str) -> Result<ConversationFlags>;
    /// Conversations per folder (those filed in one).
    async fn folder_counts(&self, tenant_id: &str) -> Result<Vec<(String, u64)>>;
    /// Writes the job's row (created or replaced).
    async fn save_import(&self, tenant_id: &str, job: &ImportJob) -> Result<()>;
    async fn get_import(&self, tenant_id: &str, id: &str) -> Result<Option<ImportJob>>;
}
