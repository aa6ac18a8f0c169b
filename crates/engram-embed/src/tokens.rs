//! Counting tokens the way the model family that reads the context will.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::EmbedError;

/// Counts tokens of a text with a Hugging Face tokenizer (no special tokens:
/// a context block is pasted inside a larger prompt).
pub struct TokenCounter {
    tokenizer: Tokenizer,
}

impl TokenCounter {
    pub fn from_file(path: &Path) -> Result<TokenCounter, EmbedError> {
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| {
            EmbedError::Setup(format!(
                "tokenizer {}: {e}; run scripts/fetch-model",
                path.display()
            ))
        })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| EmbedError::Setup(e.to_string()))?;
        Ok(TokenCounter { tokenizer })
    }

    pub fn count(&self, text: &str) -> usize {
        match self.tokenizer.encode_fast(text, false) {
            Ok(enc) => enc.len(),
            // Encoding only fails on pathological input; overestimating keeps
            // the budget promise.
            Err(_) => text.len(),
        }
    }
}
