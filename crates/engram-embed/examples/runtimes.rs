//! Compares inference runtimes on the embedding model engram ships: ONNX
//! Runtime (through engram's own `OnnxEmbedder`, the path the server uses)
//! and tract (pure Rust), on the same texts, tokenizer, batching and pooling.
//! The vectors of both are compared too, so a faster runtime that computes
//! something else cannot win; a runtime that cannot load the model is
//! reported as such (see docs/BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release -p engram-embed --features tract --example runtimes -- models 2000
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use engram_embed::{Embedder, OnnxEmbedder, normalize};
use tokenizers::{PaddingParams, Tokenizer};
use tract_onnx::prelude::*;

/// Texts per inference call, as `OnnxEmbedder` batches them.
const BATCH: usize = 32;
/// Tokens per text for tract's fixed shapes.
const SEQ: usize = 64;

fn texts(n: usize) -> Vec<String> {
    const SUBJECTS: &[&str] = &[
        "Caroline",
        "Melanie",
        "my sister",
        "the team",
        "our neighbour",
    ];
    const EVENTS: &[&str] = &[
        "went to a pottery class downtown",
        "talked about the support group meeting last Tuesday",
        "is planning a camping trip near the lake with the kids",
        "started a new job at the animal shelter and loves it",
        "ran a charity race to raise money for the local hospital",
    ];
    (0..n)
        .map(|i| {
            format!(
                "{} {} (note {i}).",
                SUBJECTS[i % SUBJECTS.len()],
                EVENTS[(i / SUBJECTS.len()) % EVENTS.len()]
            )
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let models = PathBuf::from(args.get(1).map_or("models", String::as_str));
    let n: usize = args.get(2).map_or(Ok(2000), |s| s.parse())?;
    let dir = models.join("bge-small-en-v1.5");
    let corpus = texts(n);
    let refs: Vec<&str> = corpus.iter().map(String::as_str).collect();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());

    let ort = OnnxEmbedder::load(
        &dir,
        &models.join("onnxruntime/libonnxruntime.so"),
        "bge-small-en-v1.5",
        "",
        threads,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    ort.embed_documents(&refs[..BATCH])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let start = Instant::now();
    let reference = ort
        .embed_documents(&refs)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ort_rate = n as f64 / start.elapsed().as_secs_f64();
    println!("onnxruntime (ort, load-dynamic): {ort_rate:.0} texts/s ({threads} threads)");

    match tract(&dir, &refs, &reference) {
        Ok((rate, worst)) => {
            println!("tract (pure Rust):               {rate:.0} texts/s");
            println!("lowest cosine between the two runtimes' vectors: {worst:.5}");
        }
        // A runtime that cannot load the model is a result too.
        Err(e) => println!("tract (pure Rust):               cannot run this model: {e}"),
    }
    Ok(())
}

/// tract's throughput on the same texts, and the lowest cosine between its
/// vectors and ONNX Runtime's.
fn tract(dir: &Path, refs: &[&str], reference: &[Vec<f32>]) -> anyhow::Result<(f64, f32)> {
    let n = refs.len();
    // tract cannot analyse this model with symbolic batch and sequence
    // dimensions (it fails on an Unsqueeze node), so it gets fixed shapes:
    // every batch padded to BATCH rows of SEQ tokens (the texts are shorter).
    let mut model = tract_onnx::onnx().model_for_path(dir.join("model.onnx"))?;
    for input in 0..3 {
        model.set_input_fact(input, i64::fact([BATCH, SEQ]).into())?;
    }
    let plan = model.into_optimized()?.into_runnable()?;
    let mut tokenizer =
        Tokenizer::from_file(dir.join("tokenizer.json")).map_err(anyhow::Error::msg)?;
    tokenizer.with_padding(Some(PaddingParams {
        strategy: tokenizers::PaddingStrategy::Fixed(SEQ),
        ..Default::default()
    }));
    let embed = |batch: &[&str]| -> anyhow::Result<Vec<Vec<f32>>> {
        let mut padded = batch.to_vec();
        padded.resize(BATCH, "");
        let enc = tokenizer
            .encode_batch_fast(padded, true)
            .map_err(anyhow::Error::msg)?;
        let (rows, cols) = (enc.len(), enc[0].len());
        let tensor = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<i64>| -> anyhow::Result<TValue> {
            let flat: Vec<i64> = enc.iter().flat_map(f).collect();
            Ok(tract_ndarray::Array2::from_shape_vec((rows, cols), flat)?
                .into_tensor()
                .into())
        };
        let out = plan.run(tvec![
            tensor(&|e| e.get_ids().iter().map(|&x| x as i64).collect())?,
            tensor(&|e| e.get_attention_mask().iter().map(|&x| x as i64).collect())?,
            tensor(&|e| e.get_type_ids().iter().map(|&x| x as i64).collect())?,
        ])?;
        let hidden = out[0].to_plain_array_view::<f32>()?;
        Ok((0..batch.len())
            .map(|r| {
                let mut v: Vec<f32> = hidden.slice(tract_ndarray::s![r, 0, ..]).to_vec();
                normalize(&mut v);
                v
            })
            .collect())
    };
    // The same length-sorted batches as OnnxEmbedder::embed_documents.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| refs[i].len());
    embed(&refs[..BATCH])?;
    let start = Instant::now();
    let mut worst = 1.0f32;
    for chunk in order.chunks(BATCH) {
        let batch: Vec<&str> = chunk.iter().map(|&i| refs[i]).collect();
        for (&i, v) in chunk.iter().zip(embed(&batch)?) {
            let cos: f32 = v.iter().zip(&reference[i]).map(|(a, b)| a * b).sum();
            worst = worst.min(cos);
        }
    }
    Ok((n as f64 / start.elapsed().as_secs_f64(), worst))
}
