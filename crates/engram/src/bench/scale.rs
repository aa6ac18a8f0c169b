//! Speed at scale: N synthetic memories with client-supplied, clustered
//! vectors in one tenant, spread over ~1,000 users; ingest rate, hybrid
//! search latency (with and without query embedding), ANN recall against
//! exact search (filtered queries included), memory, disk and reopen time.

use std::path::Path;
use std::time::{Duration, Instant};

use engram_core::cancel::Cancel;
use engram_core::query::SearchRequest;
use engram_core::ranking::Ranking;
use engram_core::vector::dot;
use engram_core::{Filter, NewMemory, SearchMode};
use engram_embedded::EmbeddedStore;
use engram_store::{Retrieval, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::bench::stats::Percentiles;
use crate::config::Config;
use crate::progress::{Progress, Unit};

const USERS: usize = 1000;
const CLUSTERS: usize = 256;
const VOCABULARY: usize = 5000;
const BATCH: usize = 1000;
const RECALL_QUERIES: usize = 100;
const SEED: u64 = 0x5eed;

/// Deterministic synthetic data: memory `i` is regenerated on demand, so
/// exact search needs no copy of a million vectors in memory.
struct Corpus {
    dim: usize,
    words: Vec<String>,
    centers: Vec<Vec<f32>>,
}

fn normal(rng: &mut StdRng) -> f32 {
    // Box-Muller.
    let (u, v): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    engram_embed::normalize(&mut v);
    v
}

impl Corpus {
    fn new(dim: usize) -> Corpus {
        let mut rng = StdRng::seed_from_u64(SEED);
        const SYL: &[&str] = &[
            "ka", "lo", "mi", "ran", "te", "su", "vo", "pel", "dor", "in", "ba", "que", "ti",
            "ston", "ar", "um",
        ];
        let words = (0..VOCABULARY)
            .map(|i| {
                let n = 2 + i % 3;
                (0..n)
                    .map(|j| SYL[(i * 7 + j * 13 + i / 16) % SYL.len()])
                    .collect::<String>()
                    + &format!("{}", i % 97)
            })
            .collect();
        let centers = (0..CLUSTERS)
            .map(|_| unit((0..dim).map(|_| normal(&mut rng)).collect()))
            .collect();
        Corpus {
            dim,
            words,
            centers,
        }
    }

    /// Zipf-like word choice: frequent words are frequent, the tail is long.
    fn word(&self, rng: &mut StdRng) -> &str {
        let x: f64 = rng.random();
        &self.words[((VOCABULARY as f64).powf(x) as usize).min(VOCABULARY - 1)]
    }

    fn near(&self, rng: &mut StdRng, cluster: usize, spread: f32) -> Vec<f32> {
        unit(
            self.centers[cluster]
                .iter()
                .map(|c| c + spread * normal(rng) / (self.dim as f32).sqrt())
                .collect(),
        )
    }

    fn memory(&self, i: usize) -> NewMemory {
        let mut rng = StdRng::seed_from_u64(SEED ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let len = rng.random_range(8..25);
        let content = (0..len)
            .map(|_| self.word(&mut rng))
            .collect::<Vec<_>>()
            .join(" ");
        let cluster = rng.random_range(0..CLUSTERS);
        NewMemory {
            content,
            user_id: Some(format!("user-{}", i % USERS)),
            embedding: Some(self.near(&mut rng, cluster, 1.0)),
            ..Default::default()
        }
    }

    fn query(&self, q: usize) -> (String, Vec<f32>, Option<String>) {
        let mut rng = StdRng::seed_from_u64(!SEED ^ q as u64);
        let text = (0..3)
            .map(|_| self.word(&mut rng))
            .collect::<Vec<_>>()
            .join(" ");
        let cluster = rng.random_range(0..CLUSTERS);
        let user = q
            .is_multiple_of(3)
            .then(|| format!("user-{}", rng.random_range(0..USERS)));
        (text, self.near(&mut rng, cluster, 1.0), user)
    }
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_mb(p: &Path) -> f64 {
    fn walk(p: &Path) -> u64 {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => walk(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(p) as f64 / (1024.0 * 1024.0)
}

pub async fn run(
    c: &Config,
    memories: usize,
    queries: usize,
    json_out: bool,
) -> anyhow::Result<()> {
    let (engine, dir) = super::scratch_engine(c).await?;
    let corpus = Corpus::new(engine.embedder().dimension());
    let tenant = engine.create_tenant("bench-scale").await?;

    let mut ingest_time = Duration::ZERO;
    let mut ids_by_index: Vec<String> = Vec::with_capacity(memories);
    let mut progress =
        Progress::new("ingesting", Unit::Items("memories"), Some(memories as u64)).hidden(json_out);
    for start in (0..memories).step_by(BATCH) {
        let batch: Vec<NewMemory> = (start..(start + BATCH).min(memories))
            .map(|i| corpus.memory(i))
            .collect();
        let t = Instant::now();
        let n = batch.len() as u64;
        ids_by_index.extend(engine.add_batch(&tenant.id, batch).await?);
        ingest_time += t.elapsed();
        progress.advance(n);
    }
    progress.finish();
    let ingest_per_s = memories as f64 / ingest_time.as_secs_f64().max(1e-9);

    let search = |q: usize, with_vector: bool| {
        let (text, vector, user) = corpus.query(q);
        SearchRequest {
            query: text,
            limit: Some(10),
            mode: SearchMode::Hybrid,
            filters: Filter {
                user_id: user,
                ..Default::default()
            },
            embedding: with_vector.then_some(vector),
            as_of: None,
            include_archived: false,
            explain: false,
            graph: None,
        }
    };
    let mut lat = Vec::with_capacity(queries);
    for q in 0..queries {
        let req = search(q, true);
        let t = Instant::now();
        engine.search(&tenant.id, &req).await?;
        lat.push(t.elapsed());
    }
    let mut lat_embed = Vec::new();
    for q in 0..(queries / 10).max(10) {
        let req = search(q, false);
        let t = Instant::now();
        engine.search(&tenant.id, &req).await?;
        lat_embed.push(t.elapsed());
    }

    // ANN recall@10 against exact search over the regenerated vectors: one
    // pass over the corpus keeps every sample query's true top 10.
    let samples: Vec<(Vec<f32>, Option<String>)> = (0..RECALL_QUERIES)
        .map(|q| {
            let (_, vector, user) = corpus.query(q);
            (vector, user)
        })
        .collect();
    let mut exact: Vec<Vec<(f32, usize)>> = vec![Vec::new(); RECALL_QUERIES];
    for i in 0..memories {
        let m = corpus.memory(i);
        let v = m.embedding.as_deref().unwrap_or_default();
        for ((query, user), best) in samples.iter().zip(&mut exact) {
            if user.as_ref().is_some_and(|u| Some(u) != m.user_id.as_ref()) {
                continue;
            }
            let score = dot(query, v);
            if best.len() < 10 || score > best[best.len() - 1].0 {
                let at = best.partition_point(|(s, _)| *s >= score);
                best.insert(at, (score, i));
                best.truncate(10);
            }
        }
    }
    let mut recall_sum = 0.0;
    let (ranking, cancel) = (Ranking::plain(SearchMode::Vector), Cancel::new());
    for ((vector, user), best) in samples.iter().zip(&exact) {
        let filter = Filter {
            user_id: user.clone(),
            ..Default::default()
        };
        let search = Retrieval {
            terms: &[],
            vector: Some(vector),
            filter: &filter,
            limit: 10,
            ranking: &ranking,
            keep: 10,
            cancel: &cancel,
            pinned: &[],
        };
        let got = engine.store().vector_search(&tenant.id, &search).await?;
        let truth: std::collections::HashSet<&str> = best
            .iter()
            .map(|(_, i)| ids_by_index[*i].as_str())
            .collect();
        let hit = got.iter().filter(|h| truth.contains(h.id.as_str())).count();
        recall_sum += hit as f64 / truth.len().max(1) as f64;
    }
    let ann_recall = recall_sum / RECALL_QUERIES as f64;

    engine.flush().await?;
    let rss = rss_mb();
    let model = engine.embedder().model_id().to_string();
    let dim = engine.embedder().dimension();
    drop(engine);
    let disk = dir_mb(dir.path());
    let t = Instant::now();
    let store = EmbeddedStore::open(dir.path())?;
    store.bind_embedding_space(&model, dim).await?;
    let reopen_s = t.elapsed().as_secs_f64();

    let (p, pe) = (Percentiles::new(&lat), Percentiles::new(&lat_embed));
    let summary = json!({
        "memories": memories,
        "ingest_per_s": ingest_per_s.round(),
        "search_ms": p.json(),
        "search_with_embedding_ms": pe.json(),
        "ann_recall_at_10": (ann_recall * 1000.0).round() / 1000.0,
        "rss_mb": rss.round(),
        "disk_mb": disk.round(),
        "reopen_s": (reopen_s * 1000.0).round() / 1000.0,
    });
    if json_out {
        crate::bench::print_json(&summary);
    } else {
        println!("memories            {memories}");
        println!(
            "ingest              {ingest_per_s:.0} memories/s (vectors supplied, batches of {BATCH})"
        );
        println!(
            "hybrid search       p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  ({queries} queries, 1/3 filtered by user)",
            p.at(50.0),
            p.at(95.0),
            p.at(99.0)
        );
        println!(
            "  with embedding    p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms",
            pe.at(50.0),
            pe.at(95.0),
            pe.at(99.0)
        );
        println!("ANN recall@10       {ann_recall:.3} ({RECALL_QUERIES} queries, 1/3 filtered)");
        println!("peak RSS            {rss:.0} MB");
        println!("disk                {disk:.0} MB");
        println!("reopen              {reopen_s:.3} s");
    }
    Ok(())
}
