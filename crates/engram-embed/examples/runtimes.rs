//! Compares inference runtimes on the embedding model engram ships: ONNX
//! Runtime (through engram's own `OnnxEmbedder`, the path the server uses)
//! and tract (pure Rust), on the same texts, tokenizer, batching and pooling.
//! The vectors of both are compared too, so a faster runtime that computes
//! something else cannot win.
//!
//! ```sh
//! cargo run --release -p engram-embed --features tract --example runtimes -- models 2000
//! ```

use std::path::PathBuf;
use std::time::Instant;

use engram_embed::{Embedder, OnnxEmbedder, normalize};
use tokenizers::{PaddingParams, Tokenizer};
use tract_onnx::prelude::*;

/// Texts per inference call, as `OnnxEmbedder` batches them.
const BATCH: usize = 32;

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

    let mut model = tract_onnx::onnx().model_for_path(dir.join("model.onnx"))?;
    let (b, s) = (model.symbols.sym("B"), model.symbols.sym("S"));
    for input in 0..3 {
        model.set_input_fact(input, i64::fact([b.to_dim(), s.to_dim()]).into())?;
    }
    let plan = model.into_optimized()?.into_runnable()?;
    let mut tokenizer =
        Tokenizer::from_file(dir.join("tokenizer.json")).map_err(anyhow::Error::msg)?;
    tokenizer.with_padding(Some(PaddingParams::default()));
    let embed = |batch: &[&str]| -> anyhow::Result<Vec<Vec<f32>>> {
        let enc = tokenizer
            .encode_batch_fast(batch.to_vec(), true)
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
        let hidden = out[0].to_array_view::<f32>()?;
        Ok((0..rows)
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
    let tract_rate = n as f64 / start.elapsed().as_secs_f64();
    println!("tract (pure Rust):               {tract_rate:.0} texts/s (single-threaded kernels)");
    println!("lowest cosine between the two runtimes' vectors: {worst:.5}");
    Ok(())
}
