//! Retrieval quality on LoCoMo-format conversations: every turn becomes a
//! memory through the batch path, every answerable question (categories
//! 1-4) is searched the way `POST /v1/search` searches, and recall@k of the
//! evidence turns is reported.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use engram_core::NewMemory;
use engram_core::query::SearchRequest;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::bench::stats::Percentiles;
use crate::config::Config;

const KS: [usize; 4] = [1, 5, 10, 20];
const SEARCH_LIMIT: usize = 20;

#[derive(Deserialize)]
pub struct Sample {
    pub sample_id: String,
    pub conversation: Map<String, Value>,
    pub qa: Vec<Qa>,
}

#[derive(Deserialize)]
pub struct Qa {
    pub question: String,
    #[serde(default)]
    pub evidence: Vec<String>,
    pub category: u8,
}

impl Qa {
    /// Categories 1-4 have evidence turns; category 5 (adversarial) has
    /// none by design, and a question whose evidence list is empty cannot
    /// be scored either (recall is undefined), so both are left out.
    pub fn scorable(&self) -> bool {
        (1..=4).contains(&self.category) && !self.evidence.is_empty()
    }
}

#[derive(Deserialize)]
struct Turn {
    speaker: String,
    dia_id: String,
    text: String,
    #[serde(default)]
    blip_caption: Option<String>,
}

/// "1:56 pm on 8 May, 2023" (LoCoMo's session times, no zone: taken as UTC).
pub fn parse_session_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().to_uppercase();
    NaiveDateTime::parse_from_str(&s, "%I:%M %p ON %d %B, %Y")
        .ok()
        .map(|t| t.and_utc())
}

/// The memories of one conversation, in session order.
pub fn memories_of(conversation: &Map<String, Value>) -> anyhow::Result<Vec<NewMemory>> {
    let mut sessions: Vec<(u32, &str)> = conversation
        .keys()
        .filter_map(|k| {
            let n = k.strip_prefix("session_")?;
            n.parse::<u32>().ok().map(|n| (n, k.as_str()))
        })
        .collect();
    sessions.sort();
    let mut out = Vec::new();
    for (n, key) in sessions {
        let when = conversation
            .get(&format!("{key}_date_time"))
            .and_then(Value::as_str)
            .and_then(parse_session_time);
        let turns: Vec<Turn> = serde_json::from_value(conversation[key].clone())
            .with_context(|| format!("{key}: not a list of turns"))?;
        for t in turns {
            let mut content = format!("{}: {}", t.speaker, t.text);
            if let Some(c) = t.blip_caption.filter(|c| !c.is_empty()) {
                content.push_str(&format!(" [shares an image: {c}]"));
            }
            let mut metadata = Map::new();
            metadata.insert("dia_id".into(), Value::String(t.dia_id));
            out.push(NewMemory {
                content,
                session_id: Some(format!("session_{n}")),
                role: Some(t.speaker),
                metadata,
                occurred_at: when,
                ..Default::default()
            });
        }
    }
    Ok(out)
}

/// |evidence ∩ top-k| / |evidence| for each k.
pub fn recall_at(evidence: &[String], ranked: &[String]) -> [f64; 4] {
    let want: HashSet<&str> = evidence.iter().map(String::as_str).collect();
    let mut out = [0.0; 4];
    if want.is_empty() {
        return out;
    }
    for (i, k) in KS.iter().enumerate() {
        let got = ranked
            .iter()
            .take(*k)
            .map(String::as_str)
            .collect::<HashSet<_>>()
            .intersection(&want)
            .count();
        out[i] = got as f64 / want.len() as f64;
    }
    out
}

#[derive(Default)]
struct Sums {
    n: usize,
    recall: [f64; 4],
}

impl Sums {
    fn add(&mut self, r: [f64; 4]) {
        self.n += 1;
        for (s, x) in self.recall.iter_mut().zip(r) {
            *s += x;
        }
    }

    fn json(&self) -> Value {
        let mut m = Map::new();
        for (k, s) in KS.iter().zip(self.recall) {
            m.insert(k.to_string(), json!(round(s / self.n.max(1) as f64)));
        }
        Value::Object(m)
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn progress(label: &str, done: usize, total: usize) {
    let width = 30;
    let filled = done * width / total.max(1);
    eprint!(
        "\r{label:<12} [{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    let _ = std::io::stderr().flush();
}

/// The graph's part of a run (`--graph-depth`, `--graph-llm-sample`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GraphBench {
    pub depth: Option<u32>,
    pub llm_sample: usize,
}

/// One way of searching, scored.
#[derive(Default)]
struct Scored {
    total: Sums,
    by_category: BTreeMap<u8, Sums>,
    latencies: Vec<Duration>,
}

impl Scored {
    fn add(&mut self, category: u8, r: [f64; 4], took: Duration) {
        self.total.add(r);
        self.by_category.entry(category).or_default().add(r);
        self.latencies.push(took);
    }

    fn json(&self) -> Value {
        let p = Percentiles::new(&self.latencies);
        json!({
            "questions": self.total.n,
            "recall_at": self.total.json(),
            "by_category": self.by_category.iter().map(|(k, v)| (k.to_string(), json!({"questions": v.n, "recall_at": v.json()}))).collect::<Map<_, _>>(),
            "search_ms": p.json(),
        })
    }

    fn print(&self, title: &str) {
        println!(
            "\n{title}\n{:<10} {:>9} {:>7} {:>7} {:>7} {:>7}",
            "category", "questions", "R@1", "R@5", "R@10", "R@20"
        );
        let row = |name: &str, s: &Sums| {
            let r: Vec<f64> = s.recall.iter().map(|x| x / s.n.max(1) as f64).collect();
            println!(
                "{name:<10} {:>9} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
                s.n, r[0], r[1], r[2], r[3]
            );
        };
        for (cat, s) in &self.by_category {
            row(&cat.to_string(), s);
        }
        row("all", &self.total);
        let p = Percentiles::new(&self.latencies);
        println!(
            "search latency: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            p.at(50.0),
            p.at(95.0),
            p.at(99.0),
        );
    }
}

pub async fn run(c: &Config, data: &Path, graph: GraphBench, json_out: bool) -> anyhow::Result<()> {
    if let Some(d) = graph.depth {
        engram_core::graph::GraphExpansion { depth: Some(d) }.validate()?;
    }
    let text =
        std::fs::read_to_string(data).with_context(|| format!("reading {}", data.display()))?;
    let samples: Vec<Sample> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a LoCoMo-format file", data.display()))?;
    let (engine, _dir) = super::tenant_engine(c).await?;
    let tag = super::run_tag();

    let mut plain = Scored::default();
    let mut expanded = Scored::default();
    let mut ingested = 0usize;
    let mut ingest_time = Duration::ZERO;
    let mut link_time = Duration::ZERO;
    let mut llm_report = None;
    for (sample_no, s) in samples.iter().enumerate() {
        let tenant = engine
            .create_tenant(&format!("locomo-{}-{tag}", s.sample_id))
            .await?;
        let memories = memories_of(&s.conversation)?;
        let start = Instant::now();
        let n = memories.len();
        let mut ids_to_dia = std::collections::HashMap::new();
        for (i, chunk) in memories.chunks(engram_core::memory::MAX_BATCH).enumerate() {
            let dia: Vec<String> = chunk
                .iter()
                .map(|m| {
                    m.metadata["dia_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            let ids = engine.add_batch(&tenant.id, chunk.to_vec()).await?;
            ids_to_dia.extend(ids.into_iter().zip(dia));
            if !json_out {
                progress(
                    &s.sample_id,
                    (i * engram_core::memory::MAX_BATCH + chunk.len()).min(n),
                    n,
                );
            }
        }
        ingest_time += start.elapsed();
        ingested += n;
        if !json_out {
            eprintln!();
        }
        if graph.depth.is_some() {
            // The graph job's LLM-free pass, run here in order instead of
            // by the job workers, timed apart from the ingest.
            let t = Instant::now();
            let ids: Vec<String> = ids_to_dia.keys().cloned().collect();
            let mut records = engine.store().get_records(&tenant.id, &ids).await?;
            records.sort_by_key(|r| (r.memory.occurred_at, r.memory.id.clone()));
            let memories: Vec<_> = records.into_iter().map(|r| r.memory).collect();
            engine.link_mentions(&tenant.id, &memories).await?;
            link_time += t.elapsed();
        }
        if sample_no == 0 && graph.llm_sample > 0 {
            let mut ids: Vec<(&String, &String)> = ids_to_dia.iter().collect();
            ids.sort_by_key(|(_, dia)| dia_order(dia));
            let ids: Vec<String> = ids
                .into_iter()
                .take(graph.llm_sample)
                .map(|(id, _)| id.clone())
                .collect();
            let t = Instant::now();
            let x = engine.extract_graph(&tenant.id, None, &ids).await?;
            let secs = t.elapsed().as_secs_f64();
            let per = |n: u64| round(n as f64 / x.messages.max(1) as f64);
            llm_report = Some(json!({
                "messages": x.messages,
                "input_tokens_per_message": per(x.input_tokens),
                "output_tokens_per_message": per(x.output_tokens),
                "seconds_per_message": round(secs / x.messages.max(1) as f64),
                "entities": x.created.len(),
                "relations": x.relations.len(),
                "unparsed_calls": x.unparsed,
            }));
        }
        for qa in s.qa.iter().filter(|q| q.scorable()) {
            let mut req = SearchRequest {
                query: qa.question.clone(),
                limit: Some(SEARCH_LIMIT),
                ..Default::default()
            };
            let ranked = |resp: engram_core::query::SearchResponse| -> Vec<String> {
                resp.results
                    .iter()
                    .filter_map(|r| ids_to_dia.get(&r.memory.id).cloned())
                    .collect()
            };
            let t = Instant::now();
            let resp = engine.search(&tenant.id, &req).await?;
            plain.add(
                qa.category,
                recall_at(&qa.evidence, &ranked(resp)),
                t.elapsed(),
            );
            if let Some(depth) = graph.depth {
                req.graph = Some(engram_core::graph::GraphExpansion { depth: Some(depth) });
                let t = Instant::now();
                let resp = engine.search(&tenant.id, &req).await?;
                expanded.add(
                    qa.category,
                    recall_at(&qa.evidence, &ranked(resp)),
                    t.elapsed(),
                );
            }
        }
        engine.delete_tenant(&tenant.id).await?;
    }
    let ingest_per_s = ingested as f64 / ingest_time.as_secs_f64().max(1e-9);
    let mut summary = plain.json();
    summary["ingest_per_s"] = json!(ingest_per_s.round());
    if let Some(depth) = graph.depth {
        let mut g = expanded.json();
        g["depth"] = json!(depth);
        g["link_per_s"] = json!((ingested as f64 / link_time.as_secs_f64().max(1e-9)).round());
        summary["graph"] = g;
    }
    if let Some(r) = &llm_report {
        summary["graph_llm"] = r.clone();
    }
    if json_out {
        crate::bench::print_json(&summary);
    } else {
        plain.print("hybrid");
        println!("ingest {ingest_per_s:.0} memories/s");
        if let Some(depth) = graph.depth {
            expanded.print(&format!("hybrid + graph (depth {depth})"));
            println!(
                "graph linking (LLM-free pass) {:.0} memories/s",
                ingested as f64 / link_time.as_secs_f64().max(1e-9)
            );
        }
        if let Some(r) = &llm_report {
            println!("LLM graph extraction: {r}");
        }
    }
    Ok(())
}

/// "D3:12" as (3, 12), for conversation order.
fn dia_order(dia: &str) -> (u32, u32) {
    let mut parts = dia.trim_start_matches('D').split(':');
    let mut num = || {
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(u32::MAX)
    };
    (num(), num())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locomo_session_times() {
        let t = parse_session_time("1:56 pm on 8 May, 2023").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-05-08T13:56:00+00:00");
        assert!(parse_session_time("yesterday").is_none());
    }

    #[test]
    fn recall_counts_distinct_evidence_found_in_the_top_k() {
        let ev = vec!["D1:1".to_string(), "D1:5".to_string()];
        let ranked: Vec<String> = ["D1:9", "D1:5", "D1:2", "D1:1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(recall_at(&ev, &ranked), [0.0, 1.0, 1.0, 1.0]);
        assert_eq!(recall_at(&ev, &ranked[..2]), [0.0, 0.5, 0.5, 0.5]);
        assert_eq!(recall_at(&[], &ranked), [0.0; 4]);
    }

    #[test]
    fn only_answerable_questions_with_evidence_are_scored() {
        let qa = |category, evidence: &[&str]| Qa {
            question: "q".into(),
            evidence: evidence.iter().map(|s| s.to_string()).collect(),
            category,
        };
        assert!(qa(1, &["D1:1"]).scorable());
        assert!(qa(4, &["D1:1", "D2:2"]).scorable());
        assert!(!qa(5, &["D1:1"]).scorable(), "adversarial");
        assert!(!qa(3, &[]).scorable(), "no evidence to find");
        assert!(!qa(0, &["D1:1"]).scorable());
    }

    #[test]
    fn turns_become_memories_with_speaker_caption_time_and_dia_id() {
        let conv: Map<String, Value> = serde_json::from_value(json!({
            "speaker_a": "A", "speaker_b": "B",
            "session_2": [{"speaker": "B", "dia_id": "D2:1", "text": "later"}],
            "session_2_date_time": "10:00 am on 9 May, 2023",
            "session_1": [
                {"speaker": "A", "dia_id": "D1:1", "text": "hi"},
                {"speaker": "B", "dia_id": "D1:2", "text": "look", "img_url": ["x"], "blip_caption": "a dog"}
            ],
            "session_1_date_time": "1:56 pm on 8 May, 2023"
        }))
        .unwrap();
        let m = memories_of(&conv).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].content, "A: hi");
        assert_eq!(m[1].content, "B: look [shares an image: a dog]");
        assert_eq!(m[2].metadata["dia_id"], "D2:1");
        assert_eq!(m[2].session_id.as_deref(), Some("session_2"));
        assert_eq!(
            m[0].occurred_at.unwrap().to_rfc3339(),
            "2023-05-08T13:56:00+00:00"
        );
    }
}
