//! Turning a question into lexical search terms.
//!
//! Both stores rank with BM25-like scores over stemmed tokens; what they need
//! from a query is the set of content-bearing words. Function words ("what",
//! "the", "did") match almost every memory and only add noise to BM25, so
//! they are dropped here, once, for every backend.

/// English function words. Kept short and general on purpose: a word that
/// carries meaning in some domain ("us", "it" as a topic) is not listed.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "d",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "ll",
    "m",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "ve",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

pub fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.binary_search(&w).is_ok()
}

/// Lower-cased alphanumeric words of `text`, in order, without stop words or
/// repeats. Returns the plain words when the text is *only* stop words, so a
/// query like "who is it" still searches for something.
pub fn terms(text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out: Vec<String> = Vec::new();
    for w in words.iter().filter(|w| !is_stop_word(w)) {
        if !out.contains(w) {
            out.push(w.clone());
        }
    }
    if out.is_empty() {
        for w in words {
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_word_list_is_sorted_for_binary_search() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn drops_function_words_and_repeats() {
        assert_eq!(
            terms("Where is Alice employed? Alice!"),
            vec!["alice".to_string(), "employed".to_string()]
        );
    }

    #[test]
    fn keeps_something_for_all_stop_word_queries() {
        assert_eq!(terms("who is it"), vec!["who", "is", "it"]);
        assert!(terms("  ?! ").is_empty());
    }

    #[test]
    fn handles_non_ascii_words() {
        assert_eq!(terms("Café in Zürich"), vec!["café", "zürich"]);
    }
}
