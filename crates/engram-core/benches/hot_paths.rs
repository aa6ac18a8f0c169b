//! Micro-benchmarks of the per-search CPU work that does not touch a store:
//! ranking the union of two candidate lists (fusion, boosts, sort), turning
//! a query into lexical terms, and the cosine distance used for scoring,
//! near-duplicate removal and exact search.
//! Run with `cargo bench -p engram-core`; figures in docs/BENCHMARKS.md.

use std::hint::black_box;

use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use engram_core::SearchMode;
use engram_core::fusion::Fusion;
use engram_core::lexical::terms;
use engram_core::ranking::{Features, Ranking};
use engram_core::vector::cosine;

/// A deterministic pseudo-random stream, so every run measures the same input.
fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32) / ((1u64 << 24) as f32)
}

/// 100 candidates, the union of two top-50 lists with partial overlap, as
/// a default hybrid search produces them.
fn candidates() -> Vec<Features> {
    let mut seed = 7;
    let now = Utc::now();
    (0..100)
        .map(|i| Features {
            dense: Some(0.3 + 0.5 * lcg(&mut seed)),
            lexical: (i % 3 != 0).then(|| 12.0 * lcg(&mut seed)),
            importance: lcg(&mut seed),
            occurred_at: now - Duration::hours((1000.0 * lcg(&mut seed)) as i64),
            pinned: false,
        })
        .collect()
}

fn ranking(fusion: Fusion) -> Ranking {
    Ranking {
        mode: SearchMode::Hybrid,
        fusion,
        importance_weight: 0.2,
        recency_weight: 0.1,
        recency_half_life_days: 30.0,
        now: Utc::now(),
    }
}

fn fusion(c: &mut Criterion) {
    let cands = candidates();
    let zscore = ranking(Fusion::default());
    c.bench_function("rank z-score, 100 candidates", |b| {
        b.iter(|| zscore.rank(black_box(&cands)))
    });
    let rrf = ranking(Fusion::Rrf { k: 60.0 });
    c.bench_function("rank rrf, 100 candidates", |b| {
        b.iter(|| rrf.rank(black_box(&cands)))
    });
}

fn tokenization(c: &mut Criterion) {
    let query = "When did Caroline go to the LGBTQ support group, and what did she say about it?";
    let memory = "Melanie: Thanks, Caroline! I painted that lake sunrise last year while we \
                  were camping with the kids. It's special to me because painting helps me \
                  unwind after a long week at work, and the colours of that morning stayed \
                  with me for months. What about you, are you still going to the group?";
    c.bench_function("lexical terms of a 16-word query", |b| {
        b.iter(|| terms(black_box(query)))
    });
    c.bench_function("lexical terms of a 55-word memory", |b| {
        b.iter(|| terms(black_box(memory)))
    });
}

fn distance(c: &mut Criterion) {
    let mut seed = 11;
    let a: Vec<f32> = (0..384).map(|_| lcg(&mut seed) - 0.5).collect();
    let b: Vec<f32> = (0..384).map(|_| lcg(&mut seed) - 0.5).collect();
    c.bench_function("cosine, 384 dimensions", |bench| {
        bench.iter(|| cosine(black_box(&a), black_box(&b)))
    });
}

criterion_group!(hot_paths, fusion, tokenization, distance);
criterion_main!(hot_paths);
