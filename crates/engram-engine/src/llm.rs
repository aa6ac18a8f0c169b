//! The one door to the LLM: every call is checked against the tenant's
//! budgets and metered here, so no feature can spend without it.

use std::sync::Arc;

use engram_core::{Code, Error, Result};
use engram_llm::{Llm, Prompt, Reply};

use crate::Engine;

/// Who a call spends for, and on what.
#[derive(Debug, Clone, Copy)]
pub struct Spend<'a> {
    pub tenant_id: &'a str,
    /// The caller's `X-Project-ID`, budgeted and metered within the tenant.
    pub project: Option<&'a str>,
    /// What the tokens were for: "facts", "summary", "reflection", ...
    pub kind: &'static str,
}

impl Engine {
    /// Adds the LLM the intelligence features use (none: they answer
    /// `llm_not_configured`).
    pub fn with_llm(mut self, llm: Arc<dyn Llm>) -> Engine {
        self.llm = Some(llm);
        self
    }

    pub fn llm(&self) -> Option<&Arc<dyn Llm>> {
        self.llm.as_ref()
    }

    /// Fails with `llm_not_configured` when there is no LLM, so an endpoint
    /// can refuse before it queues work that could never run.
    pub fn require_llm(&self) -> Result<&Arc<dyn Llm>> {
        self.llm.as_ref().ok_or_else(|| {
            Error::user(
                Code::LlmNotConfigured,
                "this needs an LLM and none is configured: set ENGRAM_LLM_URL (an OpenAI-compatible \
                 API such as Ollama's http://127.0.0.1:11434/v1) and ENGRAM_LLM_MODEL, then restart \
                 (docs/LLM.md)",
            )
        })
    }

    /// One LLM call for `spend`: refused with `budget_exceeded` (402)
    /// before anything is spent when a hard budget is used up, metered
    /// after (tokens as the LLM counted them, cost, duration).
    pub async fn complete(&self, spend: &Spend<'_>, prompt: &Prompt<'_>) -> Result<Reply> {
        let llm = self.require_llm()?;
        self.check_budgets(spend).await?;
        let reply = llm.complete(prompt).await;
        match &reply {
            Ok(r) => {
                metrics::histogram!("engram_llm_duration_seconds", "kind" => spend.kind, "prompt" => prompt.name)
                    .record(r.duration.as_secs_f64());
                metrics::counter!("engram_llm_tokens_total", "kind" => spend.kind, "direction" => "input")
                    .increment(r.usage.input_tokens);
                metrics::counter!("engram_llm_tokens_total", "kind" => spend.kind, "direction" => "output")
                    .increment(r.usage.output_tokens);
            }
            Err(_) => {
                metrics::counter!("engram_llm_failures_total", "kind" => spend.kind, "prompt" => prompt.name)
                    .increment(1)
            }
        }
        let reply = reply?;
        // Priced and recorded under the configured model, the price table's
        // key (a response may name a dated variant of it). The tokens are
        // spent: a failure to record them fails the call too, so budgets
        // never fall behind what was spent.
        self.record_llm_usage(spend, llm.model(), reply.usage, reply.duration)
            .await?;
        Ok(reply)
    }
}
