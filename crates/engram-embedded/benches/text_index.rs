//! Micro-benchmarks of the embedded store's BM25 text index: indexing one
//! memory (analysis, stemming, postings) and top-10 searches over 100,000
//! memories, unfiltered and restricted to one user's rows.
//! Run with `cargo bench -p engram-store`; figures in docs/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use engram_core::cancel::Cancel;
use engram_embedded::text::{TextIndex, Within};

const DOCS: i64 = 100_000;
const VOCABULARY: f64 = 5000.0;

/// A deterministic pseudo-random stream, so every run measures the same input.
fn lcg(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 11) as f64) / ((1u64 << 53) as f64)
}

/// Zipf-like words: a few very common, a long tail of rare ones.
fn word(seed: &mut u64) -> String {
    format!("word{}", VOCABULARY.powf(lcg(seed)) as usize)
}

fn text(seed: &mut u64, words: usize) -> String {
    (0..words).map(|_| word(seed)).collect::<Vec<_>>().join(" ")
}

fn index() -> TextIndex {
    let mut seed = 3;
    let mut index = TextIndex::default();
    for rowid in 0..DOCS {
        let len = 8 + (lcg(&mut seed) * 17.0) as usize;
        index.upsert(rowid, &text(&mut seed, len));
    }
    index
}

fn indexing(c: &mut Criterion) {
    let memory = "Melanie: Thanks, Caroline! I painted that lake sunrise last year while we \
                  were camping with the kids. It's special to me because painting helps me \
                  unwind after a long week at work, and the colours of that morning stayed \
                  with me for months. What about you, are you still going to the group?";
    let mut index = TextIndex::default();
    let mut rowid = 0;
    c.bench_function("text index: add a 55-word memory", |b| {
        b.iter(|| {
            rowid += 1;
            index.upsert(rowid, black_box(memory));
        })
    });
}

fn search(c: &mut Criterion) {
    let index = index();
    let common: Vec<String> = ["word1", "word2", "word3"].map(String::from).to_vec();
    let mut seed = 5;
    let queries: Vec<Vec<String>> = (0..64)
        .map(|_| (0..3).map(|_| word(&mut seed)).collect())
        .collect();
    let one_user: Vec<i64> = (0..DOCS).filter(|r| r % 1000 == 7).collect();
    let cancel = Cancel::new();
    let mut q = 0;
    c.bench_function("text index: top 10 of 100k, 3 Zipf words", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            index.search(black_box(&queries[q]), 10, Within::All, &cancel)
        })
    });
    c.bench_function("text index: top 10 of 100k, the 3 most common words", |b| {
        b.iter(|| index.search(black_box(&common), 10, Within::All, &cancel))
    });
    c.bench_function(
        "text index: top 10 of one user's 100 rows, 3 Zipf words",
        |b| {
            b.iter(|| {
                q = (q + 1) % queries.len();
                index.search(black_box(&queries[q]), 10, Within::Rows(&one_user), &cancel)
            })
        },
    );
}

criterion_group!(benches, indexing, search);
criterion_main!(benches);
