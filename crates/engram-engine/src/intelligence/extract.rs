//! Fact extraction (docs/FACTS.md): from new memories, atomic facts of
//! kind `semantic`, each reconciled with the nearest facts already known
//! in the same scope (user and agent): added, written as a new version of
//! a fact it refines, or added while the fact it contradicts is
//! invalidated from the time of the message. Never a delete.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use engram_core::memory::MAX_CONTENT_CHARS;
use engram_core::query::SearchMode;
use engram_core::temporal::NewVersion;
use engram_core::{Error, Filter, Kind, Memory, MemoryPatch, NewMemory, Result};
use engram_llm::Prompt;
use engram_store::{Idempotency, InsertOutcome};

use super::prompts::{FACTS, FACTS_SCHEMA, FACTS_SYSTEM, FACTS_VERSION};
use super::provenance;
use crate::Engine;

/// Known facts shown to the LLM beside the new messages: the nearest few
/// are the ones a new fact can repeat, refine or contradict, and each costs
/// prompt tokens (~10) on a model that reads ~100 tokens/s.
const KNOWN: usize = 8;
/// Facts one call may produce: a message rarely states more, and each is
/// ~20 output tokens, ~2 s at 10 tokens/s.
const MAX_FACTS: usize = 12;
pub(crate) const MAX_TOKENS: u32 = 400;
/// Messages one call reads. A whole LoCoMo session (18 turns) in one call
/// gave no fact at all (~470 output tokens over it and the summary: the
/// facts answer most likely reached its 400 and was cut off mid-JSON).
/// Six messages rarely state more than ~12 facts, ~250 tokens.
pub(crate) const MESSAGES_PER_CALL: usize = 6;

/// What one extraction did, kept as its job's result.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Extraction {
    pub prompt: String,
    pub added: Vec<String>,
    pub versioned: Vec<String>,
    pub invalidated: Vec<String>,
    pub known: usize,
    /// Proposals dropped: an action naming no known fact, an empty or
    /// oversized fact, more than [`MAX_FACTS`].
    pub ignored: usize,
    /// Calls whose answer held no JSON object (cut off at the output
    /// budget, or not JSON): their tokens were spent for nothing.
    pub unparsed: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The LLM's answers as it gave them, one per scope: what the counts
    /// above were decided from.
    pub answers: Vec<Value>,
}

/// One proposal of the LLM, checked.
enum Proposal {
    Add(String),
    Version(usize, String),
    Replace(usize, String),
    Known,
}

fn proposals(json: Option<&Value>, known: usize) -> (Vec<Proposal>, usize) {
    let items = json
        .and_then(|j| j.get("facts"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut ignored = items.len().saturating_sub(MAX_FACTS);
    let mut out = Vec::new();
    for item in items.into_iter().take(MAX_FACTS) {
        let fact = item["fact"].as_str().unwrap_or("").trim().to_string();
        let target = item["target"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=known).contains(n))
            .map(|n| n - 1);
        let ok = !fact.is_empty() && fact.chars().count() <= MAX_CONTENT_CHARS;
        let p = match (item["action"].as_str(), target) {
            (Some("known"), Some(_)) => Some(Proposal::Known),
            (Some("update"), Some(t)) if ok => Some(Proposal::Version(t, fact)),
            (Some("replace"), Some(t)) if ok => Some(Proposal::Replace(t, fact)),
            // An action on no known fact is an addition.
            (Some("add" | "update" | "replace"), _) if ok => Some(Proposal::Add(fact)),
            _ => None,
        };
        match p {
            Some(p) => out.push(p),
            None => ignored += 1,
        }
    }
    (out, ignored)
}

/// What the proposals do, decided together: the LLM may name one known
/// fact in several proposals (a 1.5B model answered `replace 1` with the
/// old fact's own text beside `update 1` with the new one).
#[derive(Debug, Default, PartialEq)]
struct Plan {
    adds: Vec<String>,
    /// (known fact, its new text)
    versions: Vec<(usize, String)>,
    invalidate: Vec<usize>,
    known: usize,
}

/// Facts compared as written, ignoring case, spacing and a final period.
fn same(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('.').trim().to_lowercase();
    norm(a) == norm(b)
}

/// A fact some proposal replaces is invalidated, and every text proposed
/// for it that is not its own is added; a fact only refined gets its first
/// new text as a new version. A text already known (or already planned)
/// is not written again.
fn plan(proposals: Vec<Proposal>, known: &[Memory]) -> Plan {
    let mut plan = Plan::default();
    let mut by_target: Vec<(usize, bool, Vec<String>)> = Vec::new();
    for p in proposals {
        let (t, replaces, text) = match p {
            Proposal::Known => {
                plan.known += 1;
                continue;
            }
            Proposal::Add(text) => {
                if known.iter().any(|k| same(&k.content, &text))
                    || plan.adds.iter().any(|a| same(a, &text))
                {
                    plan.known += 1;
                } else {
                    plan.adds.push(text);
                }
                continue;
            }
            Proposal::Replace(t, text) => (t, true, text),
            Proposal::Version(t, text) => (t, false, text),
        };
        match by_target.iter_mut().find(|(k, ..)| *k == t) {
            Some(entry) => {
                entry.1 |= replaces;
                entry.2.push(text);
            }
            None => by_target.push((t, replaces, vec![text])),
        }
    }
    for (t, replaces, texts) in by_target {
        let mut new: Vec<String> = Vec::new();
        for text in texts {
            if same(&known[t].content, &text) || new.iter().any(|n| same(n, &text)) {
                plan.known += 1;
            } else {
                new.push(text);
            }
        }
        if replaces {
            plan.invalidate.push(t);
            for text in new {
                if !plan.adds.iter().any(|a| same(a, &text)) {
                    plan.adds.push(text);
                }
            }
        } else if let Some(first) = new.first() {
            plan.versions.push((t, first.clone()));
            plan.known += new.len() - 1;
        }
    }
    plan
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl Engine {
    /// Extracts facts from the memories `ids` (those that still exist)
    /// for one job, `job_id` keeping a repeated run from adding them twice.
    pub async fn extract_facts(
        &self,
        tenant: &str,
        project: Option<&str>,
        ids: &[String],
        job_id: &str,
    ) -> Result<Extraction> {
        let mut sources: Vec<Memory> = self
            .store
            .get_records(tenant, ids)
            .await?
            .into_iter()
            .map(|r| r.memory)
            .collect();
        sources.sort_by_key(|m| (m.occurred_at, m.id.clone()));
        let mut report = Extraction {
            prompt: format!("{FACTS}/{FACTS_VERSION}"),
            ..Default::default()
        };
        // One call per scope: a batch may carry several users' messages,
        // and a fact is reconciled with its own user's facts only.
        let mut scopes: HashMap<(Option<String>, Option<String>), Vec<Memory>> = HashMap::new();
        for m in sources {
            scopes
                .entry((m.user_id.clone(), m.agent_id.clone()))
                .or_default()
                .push(m);
        }
        let mut scopes: Vec<_> = scopes.into_iter().collect();
        scopes.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, ((user, agent), messages)) in scopes.into_iter().enumerate() {
            // A few messages a call, in order, so each call's answer fits
            // its output budget and later messages are reconciled with the
            // facts the earlier ones gave.
            for (j, chunk) in messages.chunks(MESSAGES_PER_CALL).enumerate() {
                let key = format!("facts:{job_id}:{i}:{j}");
                self.extract_scope(
                    tenant,
                    project,
                    user.clone(),
                    agent.clone(),
                    chunk,
                    &key,
                    &mut report,
                )
                .await?;
            }
        }
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    async fn extract_scope(
        &self,
        tenant: &str,
        project: Option<&str>,
        user: Option<String>,
        agent: Option<String>,
        messages: &[Memory],
        key: &str,
        report: &mut Extraction,
    ) -> Result<()> {
        let Some(last) = messages.last() else {
            return Ok(());
        };
        let at = last.occurred_at;
        let text: Vec<String> = messages
            .iter()
            .map(|m| {
                let who = m.role.as_deref().or(m.user_id.as_deref()).unwrap_or("user");
                format!("[{}] {who}: {}", day(m.occurred_at), m.content)
            })
            .collect();
        let filter = Filter {
            user_id: user.clone(),
            agent_id: agent.clone(),
            kind: Some(Kind::Semantic),
            ..Default::default()
        };
        let known: Vec<Memory> = self
            .retrieve(
                tenant,
                &text.join("\n"),
                SearchMode::Hybrid,
                &crate::facts::valid_at(&filter, Some(at)),
                // Facts stand apart from the conversations they came from:
                // an archived chat's facts still hold.
                true,
                KNOWN,
                None,
            )
            .await?
            .into_iter()
            .map(|r| r.record.memory)
            .collect();
        let listed: Vec<String> = known
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{}. {}", i + 1, f.content))
            .collect();
        let user_msg = format!(
            "Person: {}\nKnown facts:\n{}\n\nNew messages:\n{}",
            user.as_deref().unwrap_or("the user"),
            if listed.is_empty() {
                "(none)".to_string()
            } else {
                listed.join("\n")
            },
            text.join("\n")
        );
        let prompt = Prompt {
            name: FACTS,
            version: FACTS_VERSION,
            system: FACTS_SYSTEM,
            user: user_msg,
            schema: Some(&FACTS_SCHEMA),
            max_tokens: MAX_TOKENS,
        };
        let reply = self.ask(tenant, project, &prompt).await?;
        report.input_tokens += reply.usage.input_tokens;
        report.output_tokens += reply.usage.output_tokens;
        report.unparsed += usize::from(reply.json.is_none());
        let (proposals, ignored) = proposals(reply.json.as_ref(), known.len());
        report
            .answers
            .push(reply.json.clone().unwrap_or_else(|| json!(reply.text)));
        report.ignored += ignored;
        let cites: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
        let metadata = provenance(&report.prompt, &reply);
        let new_fact = |content: String| NewMemory {
            content,
            kind: Kind::Semantic,
            user_id: user.clone(),
            agent_id: agent.clone(),
            occurred_at: Some(at),
            valid_from: Some(at),
            sources: cites.clone(),
            metadata: metadata.clone(),
            ..Default::default()
        };
        let plan = plan(proposals, &known);
        report.known += plan.known;
        for t in plan.invalidate {
            let old = &known[t];
            // Ends where the new one starts; a fact already ended (a
            // repeated run) or starting later is left as it is.
            if old.temporal.valid_to.is_none() && old.temporal.valid_from.is_none_or(|f| f < at) {
                let end = MemoryPatch {
                    valid_to: Some(at),
                    ..Default::default()
                };
                self.update(tenant, &old.id, end).await?;
                report.invalidated.push(old.id.clone());
            }
        }
        for (t, fact) in plan.versions {
            let old = &known[t];
            if old.temporal.valid_from.is_some_and(|f| f >= at) {
                report.known += 1;
                continue;
            }
            let change = NewVersion {
                content: fact,
                valid_from: Some(at),
                sources: cites.clone(),
                importance: None,
            };
            let m = self.new_version(tenant, &old.id, change).await?;
            report.versioned.push(m.id);
        }
        let adds: Vec<NewMemory> = plan.adds.into_iter().map(new_fact).collect();
        if adds.is_empty() {
            return Ok(());
        }
        let records = self
            .prepare(tenant, adds, |i| format!("facts[{i}]."))
            .await?;
        let ids: Vec<String> = records.iter().map(|r| r.memory.id.clone()).collect();
        let idem = Idempotency {
            key: key.to_string(),
            fingerprint: key.to_string(),
        };
        match self.store.insert(tenant, records, Some(idem)).await? {
            InsertOutcome::Inserted => report.added.extend(ids),
            // A repeated run (the worker died after writing): the facts of
            // the first are there already.
            InsertOutcome::KeyTaken => {
                let done = self.store.idempotent_result(tenant, key).await?;
                report.added.extend(done.map(|d| d.ids).unwrap_or_default());
            }
        }
        Ok(())
    }
}

/// The memories a job of kind [`FACTS`] extracts from, from its payload.
pub fn payload_ids(payload: &Value) -> Result<Vec<String>> {
    payload["ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| Error::internal("a facts job's payload has no ids"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_checked_against_the_known_facts() {
        let j = json!({ "facts": [
            { "fact": "A lives in Porto.", "action": "replace", "target": 1 },
            { "fact": "A is a nurse.", "action": "update", "target": 9 },
            { "fact": "", "action": "add", "target": null },
            { "fact": "A likes tea.", "action": "known", "target": 2 },
            { "fact": "A has a cat.", "action": "add", "target": null },
            { "fact": "x", "action": "delete", "target": 1 },
        ]});
        let (p, ignored) = proposals(Some(&j), 2);
        assert_eq!(ignored, 2, "the empty fact and the unknown action");
        assert!(matches!(&p[0], Proposal::Replace(0, f) if f == "A lives in Porto."));
        assert!(
            matches!(&p[1], Proposal::Add(f) if f == "A is a nurse."),
            "an update of no known fact adds"
        );
        assert!(matches!(p[2], Proposal::Known));
        assert!(matches!(&p[3], Proposal::Add(_)));
        assert_eq!(proposals(None, 3).0.len(), 0);
    }

    fn fact(text: &str) -> Memory {
        Memory::from_new(
            text.into(),
            NewMemory {
                content: text.into(),
                ..Default::default()
            },
            Utc::now(),
        )
    }

    #[test]
    fn a_replaced_fact_ends_and_the_new_texts_for_it_are_added() {
        let known = [fact("Alice lives in Lisbon."), fact("Alice is a nurse.")];
        // What the local model answered for "I moved to Porto last week!".
        let p = plan(
            vec![
                Proposal::Replace(0, "Alice lives in Lisbon.".into()),
                Proposal::Version(0, "Alice moved to Porto last week!".into()),
                Proposal::Version(1, "alice is a nurse".into()),
                Proposal::Add("Alice likes tea.".into()),
                Proposal::Add("Alice likes tea".into()),
            ],
            &known,
        );
        assert_eq!(
            p,
            Plan {
                adds: vec![
                    "Alice likes tea.".into(),
                    "Alice moved to Porto last week!".into()
                ],
                versions: vec![],
                invalidate: vec![0],
                known: 3,
            }
        );
        let p = plan(
            vec![
                Proposal::Version(1, "Alice is a nurse in Porto.".into()),
                Proposal::Version(1, "Alice is a night nurse.".into()),
            ],
            &known,
        );
        assert_eq!(
            p.versions,
            vec![(1, "Alice is a nurse in Porto.".to_string())]
        );
        assert_eq!((p.adds.len(), p.known), (0, 1));
    }
}
