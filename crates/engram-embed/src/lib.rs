//! Text to vectors, and text to token counts.
//!
//! The engine only sees the [`Embedder`] trait, so a deployment can swap the
//! local ONNX model for an HTTP service (OpenAI-compatible or Ollama) by
//! configuration alone. Token counting lives here too because the budget of
//! a context block must be counted with the tokenizer of the model family
//! that will read it, not guessed from characters.

mod http;
mod onnx;
mod rerank;
mod runtime;
mod tokens;

pub use engram_core::vector::normalize;
pub use http::{HttpEmbedder, HttpFlavor};
pub use onnx::{MAX_TOKENS, OnnxEmbedder, OnnxModel};
pub use rerank::Reranker;
pub use runtime::init_runtime;
pub use tokens::TokenCounter;

/// Why an embedding could not be produced. Kept apart from the engine's
/// error so this crate stays usable on its own.
#[derive(Debug)]
pub enum EmbedError {
    /// The model or runtime is missing or broken: fix the installation.
    Setup(String),
    /// A request-time failure (remote service down, bad response).
    Failed(String),
}

/// Turns text into unit-length vectors in one fixed space.
///
/// Calls block (model inference or a network round trip): async callers run
/// them on a blocking thread.
pub trait Embedder: Send + Sync {
    /// Identifies the vector space; stores remember it so that vectors from
    /// two different models are never mixed in one index.
    fn model_id(&self) -> &str;
    fn dimension(&self) -> usize;
    /// Embeds texts to be stored.
    fn embed_documents(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Embeds a search query (some models embed questions differently from
    /// passages).
    fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError>;
}

impl std::fmt::Display for EmbedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmbedError::Setup(m) => write!(f, "embedding model setup: {m}"),
            EmbedError::Failed(m) => write!(f, "embedding failed: {m}"),
        }
    }
}

impl std::error::Error for EmbedError {}
