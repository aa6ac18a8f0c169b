//! Local BERT-style models run with ONNX Runtime.

use std::path::Path;
use std::sync::Mutex;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use crate::{EmbedError, Embedder, normalize};

/// Inputs are cut here; BERT position embeddings end at 512.
pub const MAX_TOKENS: usize = 512;
/// Texts per inference call: large enough to use both cores well, small
/// enough that one long text does not pad a huge batch.
const BATCH: usize = 32;

/// A tokenizer plus an ONNX session taking `input_ids`, `attention_mask` and
/// `token_type_ids`: the shape shared by BERT encoders and cross-encoders.
pub struct OnnxModel {
    tokenizer: Tokenizer,
    // `Session::run` needs `&mut`: one inference at a time per session, which
    // on a small machine is also the fastest way to use the cores.
    session: Mutex<Session>,
}

/// The output of one batch: a flat row-major tensor and its shape.
pub struct Output {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl OnnxModel {
    /// Loads `model.onnx` and `tokenizer.json` from `dir`; inputs longer
    /// than `max_tokens` are truncated.
    pub fn load(
        dir: &Path,
        runtime_lib: &Path,
        threads: usize,
        max_tokens: usize,
    ) -> Result<OnnxModel, EmbedError> {
        let env = crate::init_runtime(runtime_lib)?;
        let model = dir.join("model.onnx");
        if !model.exists() {
            return Err(EmbedError::Setup(format!(
                "{} not found: run scripts/fetch-model (or set ENGRAM_MODEL_DIR)",
                model.display()
            )));
        }
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| {
            EmbedError::Setup(format!("{}: {e}", dir.join("tokenizer.json").display()))
        })?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens.clamp(1, MAX_TOKENS),
                ..Default::default()
            }))
            .map_err(|e| EmbedError::Setup(e.to_string()))?;
        let setup = |e: ort::Error<_>| EmbedError::Setup(format!("{}: {e}", model.display()));
        let session = Session::builder(&env)
            .map_err(|e| EmbedError::Setup(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(setup)?
            .with_intra_threads(threads.max(1))
            .map_err(setup)?
            .commit_from_file(&model)
            .map_err(|e| EmbedError::Setup(format!("{}: {e}", model.display())))?;
        Ok(OnnxModel {
            tokenizer,
            session: Mutex::new(session),
        })
    }

    /// Runs one padded batch of texts (or text pairs) and returns the first
    /// output.
    pub fn run(&self, inputs: Vec<tokenizers::EncodeInput<'_>>) -> Result<Output, EmbedError> {
        let failed = |e: &dyn std::fmt::Display| EmbedError::Failed(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| failed(&e))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        let mut types = Vec::with_capacity(rows * cols);
        for e in &encodings {
            ids.extend(e.get_ids().iter().map(|&x| x as i64));
            mask.extend(e.get_attention_mask().iter().map(|&x| x as i64));
            types.extend(e.get_type_ids().iter().map(|&x| x as i64));
        }
        let shape = [rows, cols];
        let tensor = |v: Vec<i64>| Tensor::from_array((shape, v)).map_err(|e| failed(&e));
        let inputs = ort::inputs![
            "input_ids" => tensor(ids)?,
            "attention_mask" => tensor(mask)?,
            "token_type_ids" => tensor(types)?,
        ];
        let mut session = self
            .session
            .lock()
            .map_err(|_| EmbedError::Failed("model session poisoned by an earlier panic".into()))?;
        let outputs = session.run(inputs).map_err(|e| failed(&e))?;
        let (shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| failed(&e))?;
        Ok(Output {
            shape: shape.iter().map(|&d| d as usize).collect(),
            data: data.to_vec(),
        })
    }
}

/// A sentence-embedding model pooled by its `[CLS]` token (the BGE family).
pub struct OnnxEmbedder {
    model: OnnxModel,
    model_id: String,
    dimension: usize,
    /// Prepended to queries only: BGE models retrieve better when a question
    /// is marked as one.
    query_prefix: String,
}

impl OnnxEmbedder {
    pub fn load(
        dir: &Path,
        runtime_lib: &Path,
        model_id: &str,
        query_prefix: &str,
        threads: usize,
    ) -> Result<OnnxEmbedder, EmbedError> {
        let model = OnnxModel::load(dir, runtime_lib, threads, MAX_TOKENS)?;
        let mut e = OnnxEmbedder {
            model,
            model_id: model_id.to_string(),
            dimension: 0,
            query_prefix: query_prefix.to_string(),
        };
        e.dimension = e.embed_batch(&["dimension probe"])?[0].len();
        Ok(e)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let out = self
            .model
            .run(texts.iter().map(|t| (*t).into()).collect())?;
        let [rows, cols, dim] = out.shape[..] else {
            return Err(EmbedError::Failed(format!(
                "model output has shape {:?}; expected [batch, tokens, dim]",
                out.shape
            )));
        };
        Ok((0..rows)
            .map(|r| {
                let start = r * cols * dim;
                let mut v = out.data[start..start + dim].to_vec();
                normalize(&mut v);
                v
            })
            .collect())
    }
}

impl Embedder for OnnxEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed_documents(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Sorting by length keeps similar lengths in one batch, so little
        // compute is spent on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, v) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let q = format!("{}{}", self.query_prefix, text);
        Ok(self.embed_batch(&[&q])?.remove(0))
    }
}
