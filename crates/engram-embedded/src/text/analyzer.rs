//! Words to index terms: the same analysis for memories and for queries, so
//! "running" in a question finds "runs" in a memory.

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longer "words" are hashes, URLs or base64: never typed in a question, and
/// not worth a posting list.
const MAX_TERM_CHARS: usize = 64;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Lower-cased, accent-free, stemmed alphanumeric words of `text`, in order
/// and with repeats (term frequency counts them).
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().count() <= MAX_TERM_CHARS)
        .map(|w| {
            let folded: String = if w.is_ascii() {
                w.to_ascii_lowercase()
            } else {
                w.nfd()
                    .filter(|c| !is_combining_mark(*c))
                    .flat_map(char::to_lowercase)
                    .collect()
            };
            stemmer().stem(&folded).into_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<String> {
        terms(text).collect()
    }

    #[test]
    fn stems_and_lowercases() {
        assert_eq!(all("Running RUNS"), vec!["run", "run"]);
        assert_eq!(all("adoption, adopted"), vec!["adopt", "adopt"]);
    }

    #[test]
    fn folds_accents_and_splits_on_punctuation() {
        assert_eq!(all("Café—Zürich!"), vec!["cafe", "zurich"]);
    }

    #[test]
    fn skips_overlong_tokens() {
        let long = "x".repeat(MAX_TERM_CHARS + 1);
        assert_eq!(all(&format!("a {long} b")), vec!["a", "b"]);
    }
}
