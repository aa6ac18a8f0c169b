//! Embedding throughput of the configured embedder: documents in batches
//! (the ingest path) and single queries (the search path).

use std::time::{Duration, Instant};

use crate::bench::stats::Percentiles;
use crate::components;
use crate::config::Config;

/// Sentences of chat-like length and variety.
fn texts(n: usize) -> Vec<String> {
    const SUBJECTS: &[&str] = &[
        "Caroline",
        "Melanie",
        "my sister",
        "the team",
        "our neighbour",
        "Jon",
    ];
    const VERBS: &[&str] = &[
        "visited",
        "painted",
        "talked about",
        "signed up for",
        "cooked",
        "wrote about",
    ];
    const OBJECTS: &[&str] = &[
        "a pottery class downtown",
        "the LGBTQ support group meeting",
        "a camping trip near the lake",
        "her new job at the animal shelter",
        "a charity race last weekend",
        "the book she finished reading",
    ];
    (0..n)
        .map(|i| {
            format!(
                "{} {} {} on day {} and felt {} about it.",
                SUBJECTS[i % SUBJECTS.len()],
                VERBS[(i / 6) % VERBS.len()],
                OBJECTS[(i / 36) % OBJECTS.len()],
                i,
                ["great", "tired", "proud", "curious"][i % 4]
            )
        })
        .collect()
}

pub fn run(c: &Config, docs: usize, queries: usize, json: bool) -> anyhow::Result<()> {
    let embedder = components::load_embedder(c)?;
    let corpus = texts(docs);
    let refs: Vec<&str> = corpus.iter().map(String::as_str).collect();
    embedder.embed_documents(&refs[..refs.len().min(32)])?; // warm-up
    let start = Instant::now();
    embedder.embed_documents(&refs)?;
    let docs_per_s = docs as f64 / start.elapsed().as_secs_f64();

    let mut lat: Vec<Duration> = Vec::with_capacity(queries);
    let start = Instant::now();
    for q in corpus.iter().cycle().take(queries) {
        let t = Instant::now();
        embedder.embed_query(q)?;
        lat.push(t.elapsed());
    }
    let queries_per_s = queries as f64 / start.elapsed().as_secs_f64();
    let p = Percentiles::new(&lat);
    if json {
        crate::bench::print_json(&serde_json::json!({
            "model": embedder.model_id(),
            "dimension": embedder.dimension(),
            "documents_per_s": docs_per_s.round(),
            "queries_per_s": queries_per_s.round(),
            "query_ms": p.json(),
        }));
    } else {
        println!(
            "model {} ({} dimensions)",
            embedder.model_id(),
            embedder.dimension()
        );
        println!("documents (batched): {docs_per_s:.0} texts/s over {docs}");
        println!(
            "queries (one at a time): {queries_per_s:.0}/s, p50 {:.2} ms, p95 {:.2} ms",
            p.at(50.0),
            p.at(95.0)
        );
    }
    Ok(())
}
