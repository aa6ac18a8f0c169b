//! Summaries and reflections (docs/FACTS.md). A summary condenses one
//! session, or one user's day, week or month, into a memory of kind
//! `summary` citing every memory it was made from; a refreshed summary is
//! a new version of the same memory, so its earlier states stay in its
//! history. A reflection is an insight across a user's recent memories,
//! stored as kind `reflection` citing them.

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use engram_core::query::MAX_LIST_LIMIT;
use engram_core::summary::{Period, SummaryRequest};
use engram_core::temporal::NewVersion;
use engram_core::{Error, Filter, Kind, Memory, NewMemory, Result};
use engram_llm::Prompt;
use engram_store::Listing;

use super::prompts::{
    INSIGHTS_SCHEMA, REFLECTION, REFLECTION_SYSTEM, REFLECTION_VERSION, SUMMARY, SUMMARY_SYSTEM,
    SUMMARY_VERSION, TEXT_SCHEMA,
};
use super::provenance;
use crate::Engine;

/// Memories one summary reads: a session longer than this is summarized
/// from its latest ones (with ~30 tokens a message, 200 fill ~6,000 prompt
/// tokens, a minute of prompt reading for the local model).
const MAX_INPUT: usize = 200;
const SUMMARY_TOKENS: u32 = 250;
const REFLECTION_TOKENS: u32 = 200;
/// Reflections stored per run, at most.
const MAX_INSIGHTS: usize = 3;

/// What a summary or reflection run wrote, kept as its job's result.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Written {
    pub prompt: String,
    /// The summary or reflections written (a refreshed summary keeps its id).
    pub ids: Vec<String>,
    pub sources: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

fn lines(memories: &[Memory]) -> String {
    memories
        .iter()
        .map(|m| {
            let who = m.role.as_deref().or(m.user_id.as_deref()).unwrap_or("-");
            format!(
                "[{}] {who}: {}",
                m.occurred_at.format("%Y-%m-%d %H:%M"),
                m.content
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Engine {
    /// The memories under `filter`, oldest first, the latest `max` of them.
    async fn gather(&self, tenant: &str, filter: &Filter, max: usize) -> Result<Vec<Memory>> {
        let listing = Listing {
            filter,
            limit: max.min(MAX_LIST_LIMIT),
            after: None,
        };
        let mut out = self.store.list(tenant, &listing).await?;
        out.reverse();
        Ok(out)
    }

    /// Writes (or refreshes) the summary `req` asks for. Nothing to
    /// summarize is a success that wrote nothing.
    pub async fn summarize(
        &self,
        tenant: &str,
        project: Option<&str>,
        req: &SummaryRequest,
    ) -> Result<Written> {
        req.validate()?;
        let label = req.label();
        let mut scope = Filter {
            session_id: req.session_id.clone(),
            user_id: req.user_id.clone(),
            agent_id: req.agent_id.clone(),
            ..Default::default()
        };
        let mut existing_filter = Filter {
            kind: Some(Kind::Summary),
            labels: vec![label.to_string()],
            ..scope.clone()
        };
        let mut occurred_at = None;
        let sources = match &req.period {
            None => {
                let mut all = self.gather(tenant, &scope, MAX_INPUT + 8).await?;
                all.retain(|m| m.kind != Kind::Summary && m.kind != Kind::Reflection);
                let skip = all.len().saturating_sub(MAX_INPUT);
                all.split_off(skip)
            }
            Some(period) => {
                let (start, end) = period.bounds(req.at.unwrap_or_else(Utc::now));
                scope.after = Some(start);
                scope.before = Some(end);
                existing_filter.after = Some(start);
                existing_filter.before = Some(end);
                occurred_at = Some(start);
                // A roll-up reads the summaries below it (a week its days,
                // a month its weeks) and, for a day, the messages too.
                let below = match period {
                    Period::Daily => None,
                    Period::Weekly => Some("daily"),
                    Period::Monthly => Some("weekly"),
                };
                let mut all = self.gather(tenant, &scope, MAX_INPUT).await?;
                all.retain(|m| match below {
                    None => m.kind != Kind::Summary && m.kind != Kind::Reflection,
                    Some(l) => m.kind == Kind::Summary && m.labels.iter().any(|x| x == l),
                });
                all
            }
        };
        let mut written = Written {
            prompt: format!("{SUMMARY}/{SUMMARY_VERSION}"),
            sources: sources.len(),
            ..Default::default()
        };
        if sources.is_empty() {
            return Ok(written);
        }
        let prompt = Prompt {
            name: SUMMARY,
            version: SUMMARY_VERSION,
            system: SUMMARY_SYSTEM,
            user: lines(&sources),
            schema: Some(&TEXT_SCHEMA),
            max_tokens: SUMMARY_TOKENS,
        };
        let reply = self.ask(tenant, project, &prompt).await?;
        written.input_tokens = reply.usage.input_tokens;
        written.output_tokens = reply.usage.output_tokens;
        let text = reply
            .json
            .as_ref()
            .and_then(|j| j["text"].as_str())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::unavailable(format!(
                    "the LLM answered no summary text ({} tokens); the job is retried",
                    reply.usage.output_tokens
                ))
            })?
            .to_string();
        let cites: Vec<String> = sources.iter().map(|m| m.id.clone()).collect();
        let existing = self.gather(tenant, &existing_filter, 1).await?.pop();
        let id = match existing {
            Some(old) => {
                let change = NewVersion {
                    content: text,
                    valid_from: None,
                    sources: cites,
                    importance: None,
                };
                self.new_version(tenant, &old.id, change).await?.id
            }
            None => {
                let metadata = provenance(&written.prompt, &reply);
                let new = NewMemory {
                    content: text,
                    kind: Kind::Summary,
                    user_id: req.user_id.clone().or_else(|| sources[0].user_id.clone()),
                    agent_id: req.agent_id.clone(),
                    session_id: req.session_id.clone(),
                    labels: vec![label.to_string()],
                    occurred_at,
                    sources: cites,
                    metadata,
                    ..Default::default()
                };
                self.add(tenant, new, None, None).await?.memory.id
            }
        };
        written.ids.push(id);
        Ok(written)
    }

    /// Up to three insights across the user's latest memories (at most
    /// 50), each stored as a reflection citing them.
    pub async fn reflect(
        &self,
        tenant: &str,
        project: Option<&str>,
        user_id: &str,
        agent_id: Option<&str>,
    ) -> Result<Written> {
        let filter = Filter {
            user_id: Some(user_id.to_string()),
            agent_id: agent_id.map(str::to_string),
            ..Default::default()
        };
        let mut sources = self.gather(tenant, &filter, 50).await?;
        sources.retain(|m| m.kind != Kind::Reflection);
        let mut written = Written {
            prompt: format!("{REFLECTION}/{REFLECTION_VERSION}"),
            sources: sources.len(),
            ..Default::default()
        };
        if sources.is_empty() {
            return Ok(written);
        }
        let prompt = Prompt {
            name: REFLECTION,
            version: REFLECTION_VERSION,
            system: REFLECTION_SYSTEM,
            user: lines(&sources),
            schema: Some(&INSIGHTS_SCHEMA),
            max_tokens: REFLECTION_TOKENS,
        };
        let reply = self.ask(tenant, project, &prompt).await?;
        written.input_tokens = reply.usage.input_tokens;
        written.output_tokens = reply.usage.output_tokens;
        let insights: Vec<String> = reply
            .json
            .as_ref()
            .and_then(|j| j["insights"].as_array())
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .take(MAX_INSIGHTS)
            .map(str::to_string)
            .collect();
        let cites: Vec<String> = sources.iter().map(|m| m.id.clone()).collect();
        let metadata = provenance(&written.prompt, &reply);
        let items: Vec<NewMemory> = insights
            .into_iter()
            .map(|content| NewMemory {
                content,
                kind: Kind::Reflection,
                user_id: Some(user_id.to_string()),
                agent_id: agent_id.map(str::to_string),
                sources: cites.clone(),
                metadata: metadata.clone(),
                ..Default::default()
            })
            .collect();
        if !items.is_empty() {
            written.ids = self.add_batch(tenant, items).await?;
        }
        Ok(written)
    }
}
