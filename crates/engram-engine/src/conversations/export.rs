//! A conversation with its messages, for `GET
//! /v1/conversations/{id}/export` and `engram export`: JSON (which the
//! `jsonl` import reads back, one conversation a line) or Markdown.

use engram_core::Result;
use engram_core::conversation::{ExportedConversation, Message};
use engram_core::query::{Cursor, MAX_LIST_LIMIT};

use crate::Engine;

impl Engine {
    /// The conversation and every message, oldest first, read a page at
    /// a time.
    pub async fn export_conversation(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<ExportedConversation> {
        let conversation = self.get_conversation(tenant, id).await?;
        let mut messages: Vec<Message> = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = self
                .store
                .messages(tenant, id, after.as_ref(), MAX_LIST_LIMIT)
                .await?;
            let done = page.len() < MAX_LIST_LIMIT;
            after = page.last().map(Cursor::after);
            messages.extend(page.into_iter().map(Message::from_memory));
            if done {
                break;
            }
        }
        Ok(ExportedConversation {
            conversation,
            messages,
        })
    }
}
