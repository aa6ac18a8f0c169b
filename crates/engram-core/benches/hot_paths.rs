//! Micro-benchmarks of the per-search CPU work that does not touch a store:
//! fusing two candidate lists, turning a query into lexical terms, and the
//! cosine distance used for near-duplicate removal and exact search.
//! Run with `cargo bench -p engram-core`; figures in docs/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use engram_core::fusion::{Candidate, Fusion, cosine, fuse};
use engram_core::lexical::terms;

/// A deterministic pseudo-random stream, so every run measures the same input.
fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32) / ((1u64 << 24) as f32)
}

/// 100 candidates, the union of two top-50 lists with partial overlap, as
/// a default hybrid search produces them.
fn candidates() -> Vec<Candidate> {
    let mut seed = 7;
    (0..100)
        .map(|i| Candidate {
            id: format!("m{i}"),
            dense: (i % 4 != 3).then(|| 0.3 + 0.5 * lcg(&mut seed)),
            lexical: (i % 3 != 0).then(|| 12.0 * lcg(&mut seed)),
        })
        .collect()
}

fn fusion(c: &mut Criterion) {
    let cands = candidates();
    c.bench_function("fuse z-score, 100 candidates", |b| {
        b.iter(|| fuse(black_box(&cands), Fusion::default()))
    });
    c.bench_function("fuse rrf, 100 candidates", |b| {
        b.iter(|| fuse(black_box(&cands), Fusion::Rrf { k: 60.0 }))
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
