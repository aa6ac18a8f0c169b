//! A cross-encoder that scores (query, passage) pairs.
//!
//! A bi-encoder embeds query and memory apart and compares vectors; a
//! cross-encoder reads both together and judges relevance far better, at
//! the price of one model run per pair. It is therefore only applied to the
//! few best candidates of the first stage.

use std::path::Path;

use crate::EmbedError;
use crate::onnx::OnnxModel;

/// A local ONNX cross-encoder (the ms-marco MiniLM family: one relevance
/// logit per pair).
pub struct Reranker {
    model: OnnxModel,
}

impl Reranker {
    /// Loads the model in `dir`; pairs longer than `max_tokens` are cut
    /// (chat memories are short, and cost grows with length).
    pub fn load(
        dir: &Path,
        runtime_lib: &Path,
        threads: usize,
        max_tokens: usize,
    ) -> Result<Reranker, EmbedError> {
        let model = OnnxModel::load(dir, runtime_lib, threads, max_tokens)?;
        let r = Reranker { model };
        r.score("probe", &["probe"])?;
        Ok(r)
    }

    /// Relevance of each passage to the query, higher is better; the scale
    /// is the model's own (logits), comparable within one call only.
    pub fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, EmbedError> {
        if passages.is_empty() {
            return Ok(Vec::new());
        }
        let pairs = passages.iter().map(|p| (query, *p).into()).collect();
        let out = self.model.run(pairs)?;
        if out.data.len() != passages.len() {
            return Err(EmbedError::Failed(format!(
                "reranker output has shape {:?}; expected [{}, 1]",
                out.shape,
                passages.len()
            )));
        }
        Ok(out.data)
    }
}
