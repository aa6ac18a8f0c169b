//! Micro-benchmarks of the embedded store's partitioned vector index over
//! 100,000 clustered 384-dimensional unit vectors: placing a batch of 1,000
//! (then taking it out again, so every iteration meets the same index), a
//! top-10 search, and an exact top 10 among 1,000 rows (a selective filter).
//! Run with `cargo bench -p engram-store`; figures in docs/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use engram_core::cancel::Cancel;
use engram_embedded::vectors::Partitions;

const DIM: usize = 384;
const VECTORS: usize = 100_000;
const CLUSTERS: usize = 256;

/// A deterministic pseudo-random stream, so every run measures the same input.
fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32) / ((1u64 << 24) as f32) - 0.5
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// Vectors around random centres, as far from their centre as the
/// centres are from each other (the shape of `engram bench scale`).
fn vectors(n: usize, seed: &mut u64) -> Vec<Vec<f32>> {
    let mut centres_seed = 7;
    let centres: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| unit((0..DIM).map(|_| lcg(&mut centres_seed)).collect()))
        .collect();
    (0..n)
        .map(|i| {
            let noise = unit((0..DIM).map(|_| lcg(seed)).collect());
            let c = &centres[(i * 7919) % CLUSTERS];
            unit(c.iter().zip(&noise).map(|(c, e)| c + e).collect())
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut seed = 3;
    let stored = vectors(VECTORS, &mut seed);
    let mut index = Partitions::new(DIM);
    for (start, batch) in stored.chunks(1000).enumerate() {
        let rows: Vec<(i64, &[f32])> = batch
            .iter()
            .enumerate()
            .map(|(i, v)| ((start * 1000 + i) as i64, v.as_slice()))
            .collect();
        index.insert(&rows, 2);
        index.rebalance_if_due(2);
    }
    let extra = vectors(1000, &mut seed);
    let queries = vectors(64, &mut seed);
    let rows: Vec<i64> = (0..1000).map(|i| i * 97).collect();

    let mut group = c.benchmark_group("vector_index_100k");
    group.bench_function("insert_and_remove_1000", |b| {
        let batch: Vec<(i64, &[f32])> = extra
            .iter()
            .enumerate()
            .map(|(i, v)| ((VECTORS + i) as i64, v.as_slice()))
            .collect();
        b.iter(|| {
            index.insert(black_box(&batch), 2);
            for (id, _) in &batch {
                index.remove(*id);
            }
        })
    });
    let cancel = Cancel::new();
    let mut q = 0;
    group.bench_function("search_top10", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            black_box(index.search(&queries[q], 10, None, &cancel))
        })
    });
    group.bench_function("exact_top10_of_1000", |b| {
        b.iter(|| {
            q = (q + 1) % queries.len();
            black_box(index.exact(&queries[q], &rows, 10, &cancel))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
