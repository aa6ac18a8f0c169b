//! Chat completions from any OpenAI-compatible LLM (Ollama, llama.cpp,
//! vLLM, a cloud API), for the work engram does beside search: fact
//! extraction, summaries, reflections. The LLM is optional and never on the
//! search path: the engine holds an `Option<Arc<dyn Llm>>` and every call
//! goes through `Engine::complete`, which meters it and checks budgets.
//!
//! [`Prompt`]s carry a name and a version, so a change of wording is a new
//! version the usage records and the logs can tell apart; the prompts
//! themselves live with the code that uses them.

mod backoff;
mod client;
mod parse;

use std::time::Duration;

use async_trait::async_trait;

pub use backoff::Backoff;
pub use client::{OpenAiLlm, OpenAiLlmConfig};
pub use parse::json_object;

/// One request to the LLM: a system and a user message, and optionally a
/// JSON schema the answer must follow.
#[derive(Debug, Clone)]
pub struct Prompt<'a> {
    /// Stable name of the prompt ("facts", "summary", ...), for logs.
    pub name: &'static str,
    /// Bumped whenever the wording changes, so results of two wordings can
    /// be told apart.
    pub version: u32,
    pub system: &'a str,
    pub user: String,
    /// Sent as `response_format: json_schema` (strict); the answer is then
    /// also parsed into [`Reply::json`].
    pub schema: Option<&'a serde_json::Value>,
    /// Most tokens the answer may have (`max_tokens`).
    pub max_tokens: u32,
}

/// Tokens counted by the LLM itself (the response's `usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The LLM's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: String,
    /// With a schema: the JSON object in the answer (see [`json_object`]),
    /// `None` when the model answered none. The tokens are spent either
    /// way, so this is not an error: the caller decides.
    pub json: Option<serde_json::Value>,
    pub usage: Usage,
    /// Wall time of the call, retries included.
    pub duration: Duration,
    /// The model that answered, as the response names it.
    pub model: String,
}

#[async_trait]
pub trait Llm: Send + Sync {
    /// The configured model name (metering's price table is keyed by it).
    fn model(&self) -> &str;
    /// One chat completion. Transient failures (connection, 429, 5xx) are
    /// retried with backoff; what is left is `unavailable` (503).
    async fn complete(&self, prompt: &Prompt<'_>) -> engram_core::Result<Reply>;
}
