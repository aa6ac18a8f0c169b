//! `POST /v1/answer`: a question answered by the LLM from the tenant's own
//! memories (the `/v1/context` block), citing them. Not a search: the
//! search path never waits for an LLM; this is a separate call a client
//! makes when it wants the answer written for it.

use engram_core::query::{ContextRequest, ContextResponse};
use engram_core::{Error, Result};
use engram_llm::{Prompt, Usage};

use crate::{Engine, Spend};

/// Bumped whenever the wording below changes.
const VERSION: u32 = 1;
const SYSTEM: &str = "You answer a question about a user from numbered memories of them. \
Use only those memories. Answer in one or two sentences and cite the numbers you used, like [1]. \
If the memories do not say, answer that you do not know.";

/// Default and largest `max_tokens` of an answer.
pub const DEFAULT_ANSWER_TOKENS: u32 = 200;
pub const MAX_ANSWER_TOKENS: u32 = 2000;

#[derive(Debug, Clone)]
pub struct Answer {
    pub answer: String,
    pub model: String,
    /// As the LLM counted them; what `/v1/usage` records for the call.
    pub usage: Usage,
    /// The memories the answer was written from.
    pub context: ContextResponse,
}

impl Engine {
    pub async fn answer(
        &self,
        tenant: &str,
        project: Option<&str>,
        req: &ContextRequest,
        max_tokens: Option<u32>,
    ) -> Result<Answer> {
        let max_tokens = max_tokens.unwrap_or(DEFAULT_ANSWER_TOKENS);
        if !(1..=MAX_ANSWER_TOKENS).contains(&max_tokens) {
            return Err(Error::invalid(
                "max_tokens",
                format!("must be between 1 and {MAX_ANSWER_TOKENS}"),
            ));
        }
        // Refused before any retrieval when there is no LLM.
        self.require_llm()?;
        let context = self.context(tenant, req).await?;
        let prompt = Prompt {
            name: "answer",
            version: VERSION,
            system: SYSTEM,
            user: format!("Memories:\n{}\n\nQuestion: {}", context.context, req.query),
            schema: None,
            max_tokens,
        };
        let spend = Spend {
            tenant_id: tenant,
            project,
            kind: "answer",
        };
        let reply = self.complete(&spend, &prompt).await?;
        Ok(Answer {
            answer: reply.text.trim().to_string(),
            model: reply.model,
            usage: reply.usage,
            context,
        })
    }
}
