//! What the engine does with an LLM (docs/FACTS.md): fact extraction,
//! summaries and reflections. Every call goes through
//! [`Engine::complete`](crate::Engine::complete), so it is metered and
//! budgeted, and none of it is on the search path.

pub mod extract;
pub(crate) mod handlers;
mod infer;
pub mod prompts;
pub mod summarize;

pub use extract::Extraction;

use engram_core::Result;
use engram_llm::{Prompt, Reply};
use serde_json::{Map, Value, json};

use crate::{Engine, Spend};

impl Engine {
    /// One call of `prompt` for the tenant, metered and budgeted under the
    /// prompt's name.
    pub(crate) async fn ask(
        &self,
        tenant: &str,
        project: Option<&str>,
        prompt: &Prompt<'_>,
    ) -> Result<Reply> {
        let spend = Spend {
            tenant_id: tenant,
            project,
            kind: prompt.name,
        };
        self.complete(&spend, prompt).await
    }
}

/// What a derived memory records of how it was made: the prompt (name and
/// version) and the model that answered.
pub(crate) fn provenance(prompt: &str, reply: &Reply) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("prompt".into(), json!(prompt));
    m.insert("model".into(), json!(reply.model));
    m
}
