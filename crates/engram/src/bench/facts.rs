//! `engram bench facts`: fact extraction and session summaries with the
//! configured LLM on LoCoMo-format conversations, and whether they help
//! recall. `--limit N` takes the first N whole sessions (in conversation
//! order): at ~10 tokens/s a local model extracts a session in tens of
//! seconds, so only a small subset runs on a laptop.
//!
//! Reported: extraction throughput (messages/s over the extraction and
//! summary calls), LLM tokens per message, and recall@10 of the questions
//! whose evidence lies wholly in the ingested sessions, searched over the
//! raw turns alone and over the turns with the extracted facts and
//! summaries beside them. A derived memory in a result list stands for the
//! turns it cites (in order), and the ranked list is cut at 10 distinct
//! turns, so a summary citing a whole session cannot claim more than the 10
//! turns a list of raw turns could show.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use engram_core::query::{SearchMode, SearchRequest};
use engram_core::summary::SummaryRequest;
use engram_core::{Filter, Kind};
use serde_json::json;

use crate::bench::locomo::{Sample, memories_of, recall_at};
use crate::config::Config;

/// Turns shown per question: recall@10.
const K: usize = 10;

pub async fn run(c: &Config, file: &Path, limit: usize, json_out: bool) -> anyhow::Result<()> {
    if limit == 0 {
        bail!("--limit must be at least 1 (whole sessions)");
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let samples: Vec<Sample> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a LoCoMo-format file", file.display()))?;
    let (engine, _dir) = super::tenant_engine(c).await?;
    engine.require_llm()?;
    let tag = super::run_tag();
    let (mut messages, mut sessions_done) = (0usize, 0usize);
    let (mut llm_time, mut tokens_in, mut tokens_out) = (Duration::ZERO, 0u64, 0u64);
    let (mut facts, mut summaries, mut unparsed) = (0usize, 0usize, 0usize);
    let (mut raw_sum, mut with_sum, mut questions) = (0.0f64, 0.0f64, 0usize);
    for s in &samples {
        if sessions_done >= limit {
            break;
        }
        let tenant = engine
            .create_tenant(&format!("facts-{}-{tag}", s.sample_id))
            .await?;
        let all = memories_of(&s.conversation)?;
        // Whole sessions, in order, up to the limit.
        let mut order: Vec<String> = Vec::new();
        for m in &all {
            let sid = m.session_id.clone().unwrap_or_default();
            if !order.contains(&sid) {
                order.push(sid);
            }
        }
        let take: Vec<String> = order.into_iter().take(limit - sessions_done).collect();
        let memories: Vec<_> = all
            .into_iter()
            .filter(|m| take.contains(m.session_id.as_ref().unwrap_or(&String::new())))
            .collect();
        let dia: Vec<String> = memories
            .iter()
            .map(|m| {
                m.metadata["dia_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        let ids = engine.add_batch(&tenant.id, memories.clone()).await?;
        let mut turn_of: HashMap<String, String> =
            ids.iter().cloned().zip(dia.iter().cloned()).collect();
        for session in &take {
            let in_session: Vec<String> = ids
                .iter()
                .zip(&memories)
                .filter(|(_, m)| m.session_id.as_ref() == Some(session))
                .map(|(id, _)| id.clone())
                .collect();
            messages += in_session.len();
            let start = Instant::now();
            let x = engine
                .extract_facts(&tenant.id, None, &in_session, &format!("bench-{session}"))
                .await?;
            let req = SummaryRequest {
                session_id: Some(session.clone()),
                user_id: None,
                agent_id: None,
                period: None,
                at: None,
            };
            let w = engine.summarize(&tenant.id, None, &req).await?;
            llm_time += start.elapsed();
            tokens_in += x.input_tokens + w.input_tokens;
            tokens_out += x.output_tokens + w.output_tokens;
            facts += x.added.len() + x.versioned.len();
            unparsed += x.unparsed;
            summaries += w.ids.len();
            if !json_out {
                for a in &x.answers {
                    eprintln!("  answer: {a}");
                }
                eprintln!(
                    "{} {session}: {} messages, {} facts, {} summary, {:.1} s",
                    s.sample_id,
                    in_session.len(),
                    x.added.len() + x.versioned.len(),
                    w.ids.len(),
                    start.elapsed().as_secs_f64()
                );
            }
        }
        sessions_done += take.len();
        // Derived memories stand for the turns they cite.
        let mut cites: HashMap<String, Vec<String>> = HashMap::new();
        for kind in [Kind::Semantic, Kind::Summary] {
            let filter = Filter {
                kind: Some(kind),
                ..Default::default()
            };
            let page = engine.list(&tenant.id, &filter, Some(1000), None).await?;
            for m in page.items {
                let turns = m
                    .temporal
                    .sources
                    .iter()
                    .filter_map(|id| turn_of.get(id).cloned())
                    .collect();
                cites.insert(m.id, turns);
            }
        }
        let have: HashSet<&str> = dia.iter().map(String::as_str).collect();
        for qa in
            s.qa.iter()
                .filter(|q| q.scorable() && q.evidence.iter().all(|e| have.contains(e.as_str())))
        {
            let search = |kinds: Option<Kind>| SearchRequest {
                query: qa.question.clone(),
                limit: Some(2 * K),
                mode: SearchMode::Hybrid,
                filters: Filter {
                    kind: kinds,
                    ..Default::default()
                },
                ..Default::default()
            };
            let raw = engine
                .search(&tenant.id, &search(Some(Kind::Episodic)))
                .await?;
            let ranked: Vec<String> = raw
                .results
                .iter()
                .filter_map(|r| turn_of.get(&r.memory.id).cloned())
                .take(K)
                .collect();
            raw_sum += recall_at(&qa.evidence, &ranked)[2];
            let mixed = engine.search(&tenant.id, &search(None)).await?;
            let mut ranked: Vec<String> = Vec::new();
            for r in &mixed.results {
                let turns = match cites.get(&r.memory.id) {
                    Some(t) => t.clone(),
                    None => turn_of.get(&r.memory.id).cloned().into_iter().collect(),
                };
                for t in turns {
                    if ranked.len() < K && !ranked.contains(&t) {
                        ranked.push(t);
                    }
                }
            }
            with_sum += recall_at(&qa.evidence, &ranked)[2];
            questions += 1;
        }
        turn_of.clear();
        engine.delete_tenant(&tenant.id).await?;
    }
    let secs = llm_time.as_secs_f64().max(1e-9);
    let per = |x: u64| (x as f64 / messages.max(1) as f64 * 10.0).round() / 10.0;
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let summary = json!({
        "sessions": sessions_done,
        "messages": messages,
        "facts": facts,
        "summaries": summaries,
        "unparsed_answers": unparsed,
        "messages_per_s": round(messages as f64 / secs),
        "llm_seconds": round(secs),
        "input_tokens_per_message": per(tokens_in),
        "output_tokens_per_message": per(tokens_out),
        "questions": questions,
        "recall_at_10_raw": round(raw_sum / questions.max(1) as f64),
        "recall_at_10_with_facts_and_summaries": round(with_sum / questions.max(1) as f64),
    });
    if json_out {
        crate::bench::print_json(&summary);
    } else {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}
